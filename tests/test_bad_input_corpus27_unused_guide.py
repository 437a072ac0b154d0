"""Corpus 27: a guide that neither the method nor ``scale_correction`` reads.

Kept for every correction mode, such a guide was prepared and reprojected, its dates could
refuse the whole run (GuideTimeError), and the "ignored" warning was skipped, though the result
was bit-identical without it (sisr with a fixed gain or "law-lst", bicubic with any law).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import xlstsr
from xlstsr import errors


@pytest.fixture(scope="module")
def scene():
    return xlstsr.datasets.sample_scene(n_times=2, size=64)


def _run(*args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = xlstsr.upscale(*args, **kwargs)
    return out, [str(w.message) for w in caught]


@pytest.mark.parametrize(("method", "correction"),
                         [("sisr", 0.5), ("sisr", "law-lst"), ("bicubic", "auto"),
                          ("bicubic", "law")])
def test_a_guide_the_correction_does_not_read_is_reported_ignored(scene, method, correction):
    lst, ndvi = scene["lst_1km"], scene["ndvi_250m"]
    without, _ = _run(lst, 4, method, scale_correction=correction)
    with_guide, told = _run(lst, 4, method, guide=ndvi, scale_correction=correction)
    np.testing.assert_array_equal(with_guide.values, without.values)
    assert any("does not use a guide; it is ignored" in m for m in told), told


def test_a_guide_the_correction_does_not_read_is_not_prepared(scene):
    """Its dates (other than the LST's) no longer refuse the run; a law that reads it still
    matches them."""
    lst, ndvi = scene["lst_1km"], scene["ndvi_250m"]
    other = ndvi.expand_dims(time=[pd.Timestamp(lst.time.values[0]) - pd.Timedelta("6D")])
    out, told = _run(lst, 4, "sisr", guide=other, scale_correction=0.5)
    assert out.shape[-2:] == (lst.shape[-2] * 4, lst.shape[-1] * 4)
    assert any("it is ignored" in m for m in told), told
    with pytest.raises(errors.GuideTimeError):  # "auto" shifts its law with the guide
        xlstsr.upscale(lst, 4, "sisr", guide=other, scale_correction="auto")


@pytest.mark.parametrize("correction", ["auto", "law", "law-lst"])
def test_bicubic_left_as_it_is_by_the_correction_says_so(scene, correction):
    """The docstring promised a warning for an output with no detail of its own; none came."""
    lst = scene["lst_1km"]
    plain, _ = _run(lst, 4, "bicubic")
    corrected, told = _run(lst, 4, "bicubic", scale_correction=correction)
    np.testing.assert_array_equal(corrected.values, plain.values)
    assert any("leaves method 'bicubic'" in m and "no within-block detail" in m
               for m in told), told
