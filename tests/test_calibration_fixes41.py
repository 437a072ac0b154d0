"""Calibration provenance (method, factor, overpass) checked where applied; Calibration.parse of
a calibrated netCDF; apply_scale_correction of a 2-D field (probe 41c)."""

import json
import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr.calibration import Calibration, apply_calibration, fit_calibration
from xlstsr.correction import apply_scale_correction
from xlstsr.errors import XlstsrError


@pytest.fixture(scope="module")
def modis():
    ds = xlstsr.datasets.modis_sample()
    crop = {"time": [0], "y": slice(0, 32), "x": slice(0, 32)}
    return ds["lst_day"].isel(crop).compute(), ds["lst_night"].isel(crop).compute()


@pytest.fixture(scope="module")
def day_cal(modis):
    day, _ = modis
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sr = xlstsr.upscale(day, 4, "bicubic")
    return fit_calibration(sr, sr * 1.01 - 2.0, fitted_on="day bicubic x4")


def _upscale(lst, factor, method):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xlstsr.upscale(lst, factor, method)


# 1: a mapping fitted on daytime bicubic x4 SR moved night LST upscaled x2 'nearest' by +12 K
def test_fit_records_method_factor_and_overpass(day_cal):
    assert (day_cal.method, day_cal.factor, day_cal.day_night) == ("bicubic", 4, "day")


def test_other_method_factor_overpass_refused_naming_them(modis, day_cal):
    _, night = modis
    sr = _upscale(night, 2, "nearest")
    with pytest.raises(XlstsrError) as err:
        apply_calibration(sr, day_cal)
    msg = str(err.value)
    for word in ("'nearest'", "'bicubic'", "factor", "'night'", "'day'", "day bicubic x4",
                 "check=False"):
        assert word in msg
    with pytest.raises(XlstsrError, match="'night'"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            xlstsr.upscale(night, 2, "nearest", calibration=day_cal)


def test_check_false_and_matching_fields_apply(modis, day_cal):
    day, night = modis
    sr = _upscale(night, 2, "nearest")
    out = apply_calibration(sr, day_cal, check=False)
    np.testing.assert_allclose(out.values, sr.values * day_cal.slope + day_cal.offset,
                               rtol=1e-6, equal_nan=True)
    ok = _upscale(day, 4, "bicubic")
    assert apply_calibration(ok, day_cal).attrs["xlstsr_product"] == "calibrated to ASTER"
    with pytest.raises(XlstsrError, match="True or False"):
        apply_calibration(ok, day_cal, check="no")


def test_provenance_round_trips_and_old_calibrations_still_apply(tmp_path, modis, day_cal):
    day, night = modis
    assert Calibration.from_json(day_cal.to_json()) == day_cal
    out = apply_calibration(_upscale(day, 4, "bicubic"), day_cal)
    path = tmp_path / "cal.nc"
    out.to_dataset(name="lst").to_netcdf(path)
    with xr.open_dataset(path) as back:
        assert Calibration.parse(back["lst"].attrs["xlstsr_calibration"]) == day_cal
    assert Calibration.parse(path) == day_cal
    # a calibration saved before these fields: loads and applies, nothing to check
    old = {k: v for k, v in day_cal.to_dict().items()
           if k not in ("method", "factor", "day_night")}
    sr = _upscale(night, 2, "nearest")
    assert apply_calibration(sr, json.dumps(old)).attrs["xlstsr_product"] == "calibrated to ASTER"


def test_mixed_fields_record_nothing_of_what_differs(modis):
    day, night = modis
    a, b = _upscale(day, 4, "bicubic"), _upscale(night, 4, "bicubic")
    cal = fit_calibration([a, b], [a + 1.0, b + 1.0])
    assert (cal.method, cal.factor, cal.day_night) == ("bicubic", 4, None)


# 3: a calibrated netCDF's path gave a raw UnicodeDecodeError
def test_parse_netcdf_path_reads_its_attribute(tmp_path):
    sr = xlstsr.datasets.sample_scene(n_times=1)["lst_250m"]
    cal = Calibration(offset=0.9)
    path = tmp_path / "calibrated.nc"
    apply_calibration(sr, cal).to_netcdf(path)
    assert Calibration.parse(str(path)) == cal
    assert Calibration.parse(path) == cal
    plain = tmp_path / "plain.nc"
    sr.to_netcdf(plain)
    with pytest.raises(XlstsrError, match="no `xlstsr_calibration` attribute"):
        Calibration.parse(str(plain))
    junk = tmp_path / "junk.cal"
    junk.write_bytes(b"\x89\xff\x00binary")
    with pytest.raises(XlstsrError, match="JSON file written with"):
        Calibration.parse(str(junk))


# 4: upscale's own 2-D output was refused as "not the coarse stack upscaled by factor 4"
def test_scale_correction_takes_a_2d_field():
    s = xlstsr.datasets.sample_scene(n_times=1)
    lst, ndvi = s["lst_1km"].squeeze(drop=True), s["ndvi_250m"].squeeze(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sr = xlstsr.upscale(lst, 4, "tsharp", guide=ndvi)
        ref = xlstsr.upscale(lst, 4, "tsharp", guide=ndvi, scale_correction="auto")
        out = apply_scale_correction(sr, lst, ndvi, 4, "auto")
        arr = apply_scale_correction(sr.values, lst.values, ndvi.values, 4, "auto")
    assert out.shape == arr.shape == sr.shape
    np.testing.assert_array_equal(out, ref.values)
    np.testing.assert_array_equal(arr, ref.values)


# review 41d: upscale(calibration=) refuses before the work; the command line reads a
# calibrated field's file

def test_upscale_refuses_a_calibration_of_another_kind_before_running_the_method():
    from xlstsr.methods import UpscaleMethod, register_method, unregister_method

    ran = []

    @register_method("counting_nearest41")
    class CountingNearest(UpscaleMethod):
        def halo(self, factor):
            return 0

        def upscale_block(self, lst, valid, guide, factor):
            ran.append(1)
            return lst.repeat(factor, -2).repeat(factor, -1)

    try:
        lst = xlstsr.datasets.sample_scene(n_times=1, size=16)["lst_1km"]
        cal = Calibration(offset=1.0, method="bicubic", factor=4)
        with pytest.raises(XlstsrError, match="method"):
            xlstsr.upscale(lst, 4, "counting_nearest41", calibration=cal)
        assert ran == []  # refused before the method ran (after the whole upscale before)
        out = xlstsr.upscale(lst, 4, "counting_nearest41",
                             calibration=Calibration(offset=1.0, method="counting_nearest41"))
        assert ran and float(out.mean()) == pytest.approx(float(lst.mean()) + 1.0, abs=1e-3)
    finally:
        unregister_method("counting_nearest41")


def test_cli_calibration_from_a_calibrated_netcdf(tmp_path):
    import subprocess
    import sys

    lst = xlstsr.datasets.sample_scene(n_times=1, size=16)["lst_1km"]
    cal = Calibration(offset=1.0)
    sr = apply_calibration(xlstsr.upscale(lst, 4, "bicubic"), cal)
    sr.to_dataset(name="lst").to_netcdf(tmp_path / "calibrated.nc")
    lst.to_dataset(name="lst").to_netcdf(tmp_path / "lst.nc")
    r = subprocess.run([sys.executable, "-m", "xlstsr", "upscale", str(tmp_path / "lst.nc"),
                        str(tmp_path / "out.nc"), "--factor", "4", "--method", "bicubic",
                        "--calibration", str(tmp_path / "calibrated.nc")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-500:]


def test_upscale_calibration_with_keep_attrs_false_as_the_two_steps():
    # review 41e: the early check read the input's overpass, which keep_attrs=False drops from
    # the result: refused, where apply_calibration(upscale(..., keep_attrs=False)) applied
    lst = xlstsr.datasets.sample_scene(n_times=1, size=16)["lst_1km"].assign_attrs(
        day_night="night")
    cal = Calibration(offset=1.0, method="bicubic", factor=4, day_night="day")
    two = apply_calibration(xlstsr.upscale(lst, 4, "bicubic", keep_attrs=False), cal)
    one = xlstsr.upscale(lst, 4, "bicubic", keep_attrs=False, calibration=cal)
    np.testing.assert_array_equal(one.values, two.values)
    with pytest.raises(XlstsrError, match="overpass"):
        xlstsr.upscale(lst, 4, "bicubic", calibration=cal)
