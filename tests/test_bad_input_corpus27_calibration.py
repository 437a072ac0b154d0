"""Corpus 27 (calibration): numpy scalars in a Calibration, a band=1 NDVI in fit_calibration,
and a composite NDVI matched with ``time_tolerance=`` in apply_calibration / fit_calibration."""

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xlstsr
from xlstsr.calibration import Calibration, apply_calibration, fit_calibration
from xlstsr.errors import GuideTimeError, XlstsrError


@pytest.fixture(scope="module")
def scene():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xlstsr.datasets.sample_scene(n_times=3, size=32)


def _truth(sr, ndvi):
    noise = 0.05 * np.random.default_rng(0).standard_normal(sr.shape)
    return 1.01 * sr - 3.0 - 1.5 * ndvi + noise


def _composite(ndvi):
    """A 16-day composite NDVI labelled by the first day of its period (before every LST date)."""
    return ndvi.expand_dims(time=[pd.Timestamp("2020-06-25")])


def test_calibration_numpy_scalars_are_stored_as_plain_numbers(scene):
    sr = scene["lst_250m"]
    cal = Calibration(slope=np.float64(1.0), offset=np.float32(0.9), ndvi=np.float32(0.0),
                      n=np.int64(1000), rmse_before=np.float32(1.2), rmse_after=np.float64(0.4))
    for name in ("slope", "offset", "ndvi", "rmse_before", "rmse_after"):
        assert type(getattr(cal, name)) is float, name
    assert type(cal.n) is int
    back = Calibration.from_json(cal.to_json())  # raised TypeError: float32 not JSON serializable
    assert back == cal
    out = apply_calibration(sr, cal)
    assert json.loads(out.attrs["xlstsr_calibration"])["n"] == 1000
    np.testing.assert_allclose(out.values, sr.values + float(np.float32(0.9)), rtol=1e-6)


def test_fit_calibration_takes_a_band1_ndvi_on_the_sr_grid(scene):
    sr = scene["lst_250m"].isel(time=0, drop=True)
    ndvi = scene["ndvi_250m"]
    truth = _truth(sr, ndvi)
    want = fit_calibration(sr, truth, ndvi)
    band = ndvi.expand_dims(band=[1])  # rioxarray.open_rasterio's (band, y, x)
    got = fit_calibration(sr, truth, band)  # refused: "not on the sr grid"
    assert got == want
    got_np = fit_calibration(sr.values, truth.values, band.values)  # numpy (1, y, x) too
    assert got_np.ndvi == pytest.approx(want.ndvi) and got_np.slope == pytest.approx(want.slope)
    with pytest.raises(XlstsrError, match="not on the sr grid"):  # a real other grid still is
        fit_calibration(sr, truth, band.isel(x=slice(0, 16)).values)


def test_apply_calibration_matches_a_composite_ndvi_with_time_tolerance(scene):
    sr, ndvi = scene["lst_250m"], scene["ndvi_250m"]
    comp = _composite(ndvi)
    cal = Calibration(offset=0.3, ndvi=-1.0)
    per_date = ndvi.expand_dims(time=sr["time"].values)  # the composite on each LST date
    want = apply_calibration(sr, cal, ndvi=per_date)
    got = apply_calibration(sr, cal, ndvi=comp, time_tolerance="16D")
    xr.testing.assert_identical(got, want)
    # one composite selected (a scalar date) serves every date of its period as well
    xr.testing.assert_identical(
        apply_calibration(sr, cal, ndvi=comp.isel(time=0), time_tolerance="16D"), want)
    got_dask = apply_calibration(sr.chunk({"time": 1}), cal, ndvi=comp.chunk(),
                                 time_tolerance="16D")
    np.testing.assert_allclose(got_dask.values, want.values)
    with pytest.raises(GuideTimeError, match="time_tolerance='3D'") as err:  # too short: named
        apply_calibration(sr, cal, ndvi=comp, time_tolerance="3D")
    assert "guide_time_tolerance" not in str(err.value)


def test_composite_ndvi_refusal_names_time_tolerance_and_a_selection_that_works(scene):
    sr, ndvi = scene["lst_250m"], scene["ndvi_250m"]
    comp = _composite(ndvi)
    cal = Calibration(offset=0.3, ndvi=-1.0)
    with pytest.raises(XlstsrError, match="time_tolerance=") as err:
        apply_calibration(sr, cal, ndvi=comp)
    code = re.search(r"`(ndvi = ndvi\.[^`]*)`", str(err.value)).group(1)
    ns = {"ndvi": comp, "da": sr}
    exec(code, {}, ns)  # the advice, verbatim
    xr.testing.assert_identical(apply_calibration(sr, cal, ndvi=ns["ndvi"]),
                                apply_calibration(sr, cal, ndvi=comp, time_tolerance="16D"))


def test_fit_calibration_matches_a_composite_ndvi_with_time_tolerance(scene):
    sr, ndvi = scene["lst_250m"], scene["ndvi_250m"]
    truth = _truth(sr, ndvi)
    comp = _composite(ndvi)
    want = fit_calibration(sr, truth, ndvi.expand_dims(time=sr["time"].values))
    with pytest.raises(XlstsrError, match="time_tolerance="):
        fit_calibration(sr, truth, comp)
    got = fit_calibration(sr, truth, comp, time_tolerance="16D")
    assert got == want
    # the tolerance is the NDVI's: a truth of other dates is still refused
    shifted = truth.assign_coords(time=truth["time"].values - np.timedelta64(2, "D"))
    with pytest.raises(XlstsrError, match="truth"):
        fit_calibration(sr, shifted, comp, time_tolerance="16D")


def test_bad_time_tolerance_is_named_as_the_keyword_given(scene):
    sr = scene["lst_250m"]
    for fn in (lambda t: apply_calibration(sr, Calibration(offset=0.3), time_tolerance=t),
               lambda t: fit_calibration(sr, sr + 1.0, time_tolerance=t)):
        with pytest.raises(GuideTimeError, match="time_tolerance") as err:
            fn("1MS")
        assert "guide_time_tolerance" not in str(err.value)
