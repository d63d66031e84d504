"""Theano's legacy flags: accepted (read, assigned, set through SYMGRAPH_FLAGS), doing
nothing, and listed in the flag docs as such."""

from __future__ import annotations

import pytest

import symgraph as sg
from symgraph.config import LEGACY_NOTE, Config


def test_warn_flags_are_accepted_in_any_number():
    config = Config({})
    assert config.warn.subtensor_merge_bug is True
    config.warn.subtensor_merge_bug = False
    config.warn.some_flag_of_a_later_theano = True
    assert config.warn.subtensor_merge_bug is False
    assert config.warn.some_flag_of_a_later_theano is True
    with pytest.raises(AttributeError, match="warn.never_set"):
        config.warn.never_set  # noqa: B018 - reading is the test


def test_other_legacy_flags():
    config = Config({})
    assert config.exception_verbosity == "low"
    config.exception_verbosity = "high"
    config.device = "cuda0"
    config.scan.allow_gc = True
    config.dnn.conv.algo_fwd = "time_once"
    config.gcc.cxxflags = "-O3"
    assert (config.exception_verbosity, config.device, config.scan.allow_gc) == (
        "high", "cuda0", True)
    assert config.dnn.conv.algo_fwd == "time_once"
    with pytest.raises(AttributeError, match="unknown symgraph config flag 'no_such_flag'"):
        config.no_such_flag = 1
    assert "exception_verbosity" not in repr(config)  # the real flags only


def test_legacy_flags_from_the_environment():
    config = Config({"SYMGRAPH_FLAGS": "warn.round=False,exception_verbosity=high,"
                                       "traceback.limit=20,optimizer=None"})
    assert config.warn.round is False
    assert config.exception_verbosity == "high"
    assert config.traceback.limit == 20
    assert config.optimizer is None


def test_legacy_flags_are_documented_as_doing_nothing():
    docs = Config.flags()
    assert docs["warn.subtensor_merge_bug"] == LEGACY_NOTE
    assert "does nothing" in docs["exception_verbosity"]
    assert "does nothing" not in docs["on_unused_input"]  # a real flag now
    assert "does nothing" not in docs["optimizer"]


def test_change_flags_restores_legacy_flags():
    with sg.config.change_flags(**{"warn.round": False, "exception_verbosity": "high"}):
        assert sg.config.warn.round is False
    assert sg.config.warn.round is True and sg.config.exception_verbosity == "low"
