"""A guide step of one value on a clear LST day is said (session 26): a whole guide of one value
is refused (tests/test_bad_input_corpus26_guide.py) and a repeated value far from the others is
an undeclared fill, but one date of one value inside the others' range ran unguided silently."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from xlstsr.upscale import _warn_guide_gaps


def _inputs(second_step: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    lst = 300 + rng.normal(0, 2, (2, 16, 16))
    guide = rng.uniform(0.2, 0.8, (2, 1, 64, 64))  # (time, band, y, x), as upscale passes it
    guide[1, 0] = second_step
    return guide, lst


def test_a_guide_step_of_one_value_is_said():
    guide, lst = _inputs(0.5)
    guide[1, 0, :4] = np.nan  # its gaps do not hide it
    with pytest.warns(UserWarning, match=r"one value over all its valid pixels at step\(s\) \[1\]"):
        _warn_guide_gaps(guide, lst)


def test_guide_steps_with_detail_or_under_cloud_are_not_said():
    guide, lst = _inputs(np.random.default_rng(1).uniform(0.2, 0.8, (64, 64)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _warn_guide_gaps(guide, lst)
    guide, lst = _inputs(0.5)
    lst[1] = np.nan  # no LST on that date: nothing runs unguided
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _warn_guide_gaps(guide, lst)


def test_an_empty_guide_step_keeps_its_own_message():
    guide, lst = _inputs(np.nan)
    with pytest.warns(UserWarning, match="no valid pixel at step") as rec:
        _warn_guide_gaps(guide, lst)
    assert not any("one value" in str(w.message) for w in rec)


def test_a_flat_band_beside_one_with_detail_is_not_said_here():
    """(The guide's own check names the flat band: the step is still guided by the other.)"""
    rng = np.random.default_rng(0)
    lst = 300 + rng.normal(0, 2, (2, 16, 16))
    guide = np.stack([rng.uniform(0.2, 0.8, (2, 64, 64)), np.zeros((2, 64, 64))], axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _warn_guide_gaps(guide, lst)
