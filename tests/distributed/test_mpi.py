"""``sg.distributed`` on two ranks: each test launches ``mpiexec -n 2`` (from the ``[mpi]``
extra) on a script of this folder and checks that every rank finished; skipped when the extra
is not installed."""

import re

import pytest

from tests.distributed.launch import run_ranks


def test_collectives_match_numpy_on_two_ranks():
    output = run_ranks("rank_collectives.py")
    assert len(re.findall(r"rank \d of 2: ok, \d+ checks", output)) == 2, output


def test_data_parallel_digits_on_two_ranks(capsys):
    pytest.importorskip("sklearn", reason="the digits come with scikit-learn (test extra)")
    output = run_ranks("rank_training.py")
    assert len(re.findall(r"rank \d of 2: ok", output)) == 2, output
    # The figures (2 ranks with batch B against 1 rank with 2B after 20 steps; 1-bit SGD
    # against full precision), shown with -s and in the report of a failure.
    with capsys.disabled():
        print("\n" + "\n".join(line for line in output.splitlines() if "RESULT" in line))
