"""Calibration provenance by overpass coordinates, NDVI decoding on apply, and the scale
correction of a calibrated field (probe 42c)."""

import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr.calibration import Calibration, apply_calibration, fit_calibration
from xlstsr.correction import apply_scale_correction, calibrate_detail_gain
from xlstsr.errors import XlstsrError
from xlstsr.steps import _day_night


@pytest.fixture(scope="module")
def scene():
    return xlstsr.datasets.sample_scene(n_times=2, size=64, seed=1)


def _shift(out, sr):
    """The calibrated field minus the field, over its valid pixels (cloud gaps are NaN)."""
    d = np.asarray(out - sr, float)
    return d[np.isfinite(d)]


def _stack(lst):
    """A (overpass, ...) stack of a day field and a night one, named as the day field."""
    stack = xr.concat([lst, lst - 15.0],
                      dim=xr.DataArray(["day", "night"], dims="overpass", name="overpass"))
    stack.name = "LST_Day_1km"
    return stack


def test_upscale_calibration_reads_scalar_overpass_coordinate(scene):
    night = _stack(scene["lst_1km"]).sel(overpass="night")  # name and attrs say 'day'
    cal = Calibration(slope=1.0, offset=0.5, method="bicubic", factor=4, day_night="night")
    out = xlstsr.upscale(night, 4, "bicubic", calibration=cal)
    ref = apply_calibration(xlstsr.upscale(night, 4, "bicubic"), cal)
    xr.testing.assert_allclose(out, ref)
    day_cal = Calibration(slope=1.0, offset=0.5, method="bicubic", factor=4, day_night="day")
    with pytest.raises(XlstsrError, match="overpass"):
        xlstsr.upscale(night, 4, "bicubic", calibration=day_cal)


def test_apply_calibration_refuses_both_overpasses_along_a_dim(scene):
    sr = xlstsr.upscale(_stack(scene["lst_1km"].isel(time=0)), 4, "bicubic")
    cal = Calibration(slope=1.0, offset=2.0, method="bicubic", factor=4, day_night="day")
    with pytest.raises(XlstsrError, match=r"both overpasses.*sel\(overpass='day'\)"):
        apply_calibration(sr, cal)
    with pytest.raises(XlstsrError, match="both overpasses"):
        xlstsr.upscale(_stack(scene["lst_1km"].isel(time=0)), 4, "bicubic", calibration=cal)
    out = apply_calibration(sr.sel(overpass="day"), cal)  # per overpass, as advised
    np.testing.assert_allclose(_shift(out, sr.sel(overpass="day")), 2.0, atol=1e-4)
    assert apply_calibration(sr, cal, check=False).shape == sr.shape


def test_overpass_coordinate_along_time(scene):
    lst = scene["lst_1km"].copy()
    lst[1] = lst[1] - 15.0
    lst = lst.assign_coords(overpass=("time", ["day", "night"]))
    lst.name = "LST_Day_1km"  # the series kept its first field's name
    sr = xlstsr.upscale(lst, 4, "bicubic")
    assert _day_night(sr)[0] is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert fit_calibration(sr, sr + 1.0).day_night is None  # a mixed fit: no overpass
    day_cal = Calibration(offset=2.0, method="bicubic", factor=4, day_night="day")
    with pytest.raises(XlstsrError, match=r"both overpasses.*where\(sr.overpass == 'day'"):
        apply_calibration(sr, day_cal)
    day = sr.where(sr.overpass == "day", drop=True)  # the advice: every step 'day'
    assert _day_night(day)[0] == "day"
    np.testing.assert_allclose(_shift(apply_calibration(day, day_cal), day), 2.0, atol=1e-4)
    with pytest.raises(XlstsrError, match="overpass"):
        apply_calibration(sr.where(sr.overpass == "night", drop=True), day_cal)


def test_apply_calibration_decodes_the_ndvi_as_the_fit_does(scene):
    sr = xlstsr.upscale(scene["lst_1km"].isel(time=0), 4, "bicubic")
    ndvi = scene["ndvi_250m"].isel(time=0) if "time" in scene["ndvi_250m"].dims \
        else scene["ndvi_250m"]
    ndvi = ndvi.astype("float32").assign_coords({d: sr[d] for d in ("x", "y") if d in sr.coords})
    cal = Calibration(slope=1.0, offset=1.0, ndvi=-3.0, method="bicubic", factor=4)
    raw = ndvi.copy()
    raw[:10, :10] = -1.0
    raw.attrs["_FillValue"] = -1.0  # declared as rioxarray opens it, not masked
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = apply_calibration(sr, cal, ndvi=raw)
        ref = apply_calibration(sr, cal, ndvi=raw.where(raw != -1.0).drop_attrs())
    xr.testing.assert_allclose(got, ref)  # fill pixels at the mean NDVI, not at -1
    dn = (ndvi * 10000).round().astype("int16").assign_attrs(scale_factor=0.0001)
    xr.testing.assert_allclose(apply_calibration(sr, cal, ndvi=dn),
                               apply_calibration(sr, cal, ndvi=ndvi), atol=1e-3)


def test_scale_correction_refuses_a_calibrated_sr(scene):
    lst = scene["lst_1km"]
    cal = Calibration(slope=1.0, offset=2.0, method="bicubic", factor=4)
    sr = xlstsr.upscale(lst, 4, "bicubic", calibration=cal)
    with pytest.raises(XlstsrError, match="correct before calibrating"):
        apply_scale_correction(sr, lst, None, 4, mode=0.8)
    with pytest.raises(XlstsrError, match="correct before calibrating"):
        calibrate_detail_gain(sr, lst, sr, 4)
    plain = xlstsr.upscale(lst, 4, "bicubic")  # the input sensor's: still taken
    assert calibrate_detail_gain(plain, lst, plain, 4) == pytest.approx(1.0, abs=1e-3)
    assert apply_scale_correction(plain, lst, None, 4).shape == plain.shape


def test_scale_correction_of_an_sr_of_a_calibrated_lst_is_taken():
    """An LST calibrated before upscaling: its sr carries the same product label, and the
    correction against that LST undoes nothing (it was refused as 'correct before')."""
    from xlstsr.correction import apply_scale_correction

    lst = xlstsr.datasets.sample_scene(n_times=1, size=64)["lst_1km"].fillna(300.0)
    lst = lst.assign_attrs(xlstsr_product="calibrated to ASTER")
    sr = xlstsr.upscale(lst, 4, method="bicubic")
    assert sr.attrs["xlstsr_product"] == "calibrated to ASTER"
    out = apply_scale_correction(sr, lst, None, 4, mode=0.8)
    assert out.shape == sr.shape
