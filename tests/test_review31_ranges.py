"""Thirty-first round, extremes (corpus31e 02): upscale hands back values up to
OUTPUT_MARGIN_K beyond 150-400 K (bicubic overshoots a 396 K front), and coarsen / evaluate
refused that output as "a field in other units or scale". A result of upscale is now read with
the range its output check allows; other fields keep 150-400 K.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import xlstsr
from xlstsr import errors
from xlstsr.validate import OUTPUT_MARGIN_K, PHYSICAL_RANGE_K


def _front():
    base = xlstsr.datasets.sample_scene(n_times=1, size=64, seed=3, cloud_fraction=0)["lst_1km"]
    rng = np.random.default_rng(0)
    v = 300 + 0.3 * rng.standard_normal(base.shape)
    v[..., 8:] = 396 + 0.3 * rng.standard_normal(v[..., 8:].shape)  # a lava or fire front
    return base.copy(data=np.clip(v, 150, 399.9).astype(np.float32))


def test_upscale_output_beyond_the_range_is_read_back_by_coarsen_and_evaluate():
    sr = xlstsr.upscale(_front(), 4, "bicubic")
    hot = float(sr.max())
    assert PHYSICAL_RANGE_K[1] < hot < PHYSICAL_RANGE_K[1] + OUTPUT_MARGIN_K  # the overshoot
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = xlstsr.coarsen(sr, 4)
        scores = xlstsr.evaluate(sr, sr)
    assert float(back.max()) <= hot
    assert float(scores["rmse"].max()) == 0.0


def test_a_field_that_is_no_upscale_result_keeps_the_physical_range():
    sr = xlstsr.upscale(_front(), 4, "bicubic")
    plain = sr.copy()
    plain.attrs = {"units": "K"}  # the same values, not marked as an xlstsr result
    with pytest.raises(errors.PhysicalRangeError):
        xlstsr.coarsen(plain, 4)


def _two_level():
    base = xlstsr.datasets.sample_scene(n_times=1, size=128, seed=3, cloud_fraction=0)["lst_1km"]
    m = np.random.default_rng(1).random(base.shape)
    return base.copy(data=np.where(m < 0.5, 280.0, 320.0).astype(np.float32))


def test_a_plausible_repeated_value_beside_a_declared_fill_is_data():
    # corpus31e 04: a field of few values (a lake at one value of a whole-Kelvin product) was
    # refused as an undeclared fill, with advice that deleted half of it and no way round
    da = _two_level()
    with pytest.raises(errors.UndeclaredFillError) as err:
        xlstsr.upscale(da, 4)
    assert "_FillValue'] = np.nan" in str(err.value)  # the way to say it is data
    da.attrs["_FillValue"] = np.nan
    sr = xlstsr.upscale(da, 4)
    assert float(sr.min()) < 290 < float(sr.max())


def test_a_declared_fill_does_not_hide_an_implausible_repeated_value():
    da = _two_level()
    da = da.where(da > 300, 100.0)  # 100 K: no temperature, whatever fill is declared
    da.attrs["_FillValue"] = -9999.0
    with pytest.raises(errors.XlstsrError):
        xlstsr.upscale(da, 4)


def test_tsharp_extrapolation_refusal_names_the_guide_and_its_advice_runs():
    # corpus31e 03: a regression sharpener's implausible output was blamed on "a custom model
    # not in Kelvin"; it is the fitted line extrapolated to water pixels of the fine guide
    from xlstsr.kernels.aggregate import radiometric_mean

    sc = xlstsr.datasets.sample_scene(n_times=1, size=128, seed=3, cloud_fraction=0)
    yy, xx = np.mgrid[0:128, 0:128] / 128
    nd = 0.35 + 0.05 * np.sin(2 * np.pi * yy * 2) * np.cos(2 * np.pi * xx * 3)
    rng = np.random.default_rng(3)
    water = rng.random(nd.shape) < 0.01
    t = np.where(water, 290.0, 310 - 150 * (nd - 0.35) + 0.2 * rng.standard_normal(nd.shape))
    lst = sc["lst_1km"].copy(data=radiometric_mean(t[None], 4, min_valid=1.0).astype(np.float32))
    guide = sc["ndvi_250m"].copy(data=np.where(water, -0.3, nd).astype(np.float32))
    with pytest.raises(errors.ImplausibleOutputError) as err:
        xlstsr.upscale(lst, 4, "tsharp", guide=guide, guide_offset="ignore")
    msg = str(err.value)
    assert "custom model" not in msg and "extrapolate" in msg
    advice = re.search(r"`(guide\.where\([^`]*)`", msg).group(1)
    out = xlstsr.upscale(lst, 4, "tsharp", guide=eval(advice, {"guide": guide}),
                         guide_offset="ignore")
    assert float(out.max()) < t.max() + 15


def test_a_fill_far_below_the_scene_is_refused_whatever_fill_is_declared():
    # review31d 04: SEVIRI's -80 degC (193.15 K) over half a scene, saved with nodata NaN
    # (rioxarray then declares _FillValue=nan): taken as data by the first escape
    da = _two_level()
    da = (da.where(da > 300, 193.15) - 20.0 * (da > 300)).assign_attrs(da.attrs)
    da.attrs["_FillValue"] = np.nan
    with pytest.raises(errors.UndeclaredFillError) as err:
        xlstsr.upscale(da, 4)
    assert "kept as data" not in str(err.value)  # the escape is not offered for it
