"""The memory plan's buffer colouring: the lowest-numbered free buffer, as a plain scan
over every buffer would choose, however many values there are."""

from types import SimpleNamespace

import numpy as np
import pytest

import symgraph as sg
from symgraph.codegen.llvm.plan import Program, Storage


def scan_colouring(intervals):
    """The reference: for each value by producer, the first buffer free before it."""
    free_after, numbers = [], []
    for producer, last in intervals:
        for number, busy_until in enumerate(free_after):
            if busy_until < producer:
                free_after[number] = max(last, producer)
                numbers.append(number)
                break
        else:
            numbers.append(len(free_after))
            free_after.append(max(last, producer))
    return numbers, len(free_after)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("n", [0, 1, 2, 50, 400])
def test_buffers_match_the_scan_over_every_buffer(seed, n):
    rng = np.random.default_rng(seed)
    producers = np.sort(rng.integers(0, max(n, 1), size=n))
    intervals = [(int(p), int(p + rng.integers(-1, 30))) for p in producers]
    x = sg.dscalar("x")
    storages = [Storage("arena", x, p, last=last) for p, last in intervals]
    fake = SimpleNamespace(storage={k: s for k, s in enumerate(storages)})
    count = Program._assign_buffers(fake)  # type: ignore[arg-type]
    numbers, want = scan_colouring(intervals)
    assert count == want
    assert [s.buffer for s in storages] == numbers
