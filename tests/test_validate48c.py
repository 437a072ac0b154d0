"""A fill advice beside a fill already declared (regression probe 48, F2).

An int16 degC x 100 cube declaring ``_FillValue=-32768`` with one date stored all 0 was
advised ``da.attrs['_FillValue'] = 0`` / ``rio.write_nodata(0)`` / ``--nodata 0``: followed,
the -32768 was no longer declared and was refused, and that refusal's advice undeclared the 0
(a loop). Every advice given is followed here.
"""

import re

import numpy as np
import pytest
import xarray as xr

import xlstsr  # registers .lstsr; the advice calls xlstsr.validate
from xlstsr.datasets import modis_sample
from xlstsr.errors import PhysicalRangeError, UndeclaredFillError


@pytest.fixture(scope="module")
def lst():
    da = modis_sample()["lst_day"].isel(time=slice(0, 3)).load().copy()
    da[0, :3, :3] = np.nan  # gaps of the first date: stored as the declared fill
    return da


def _celsius_x100(lst, declared: bool) -> xr.DataArray:
    """degC x 100 in int16, the middle date stored all 0 (a missing date); with ``declared``,
    gaps stored as -32768 and declared so."""
    src = lst if declared else lst.fillna(float(lst.mean()))
    a = ((src - 273.15) * 100).round().fillna(-32768).astype("int16").copy()
    a[1] = 0
    a.attrs = {"scale_factor": 0.01, "add_offset": 273.15, "units": "K"}
    if declared:
        a.attrs["_FillValue"] = -32768
    return a


def _codes(message: str) -> list[str]:
    return re.findall(r"`([^`]+)`", message)


def _follow(code: str, da: xr.DataArray) -> xr.DataArray:
    env = {"da": da, "np": np, "xlstsr": xlstsr}
    exec(code, env)  # the advice as written
    return env["da"]


def _check_followed(da: xr.DataArray, ref: xr.DataArray) -> None:
    sr = da.lstsr.upscale(2).load()
    if sr.sizes["time"] == 3:
        kept = sr.sel(time=ref.time)
        if bool(sr.isel(time=1).isnull().all()):
            np.testing.assert_allclose(kept.values, ref.values, equal_nan=True)
        else:  # decoded without the fill check: the date read as 0 degC
            assert float(sr.isel(time=1).mean()) == pytest.approx(273.15, abs=0.01)
    else:
        np.testing.assert_allclose(sr.values, ref.values, equal_nan=True)
    xlstsr.scaling_stats(da)  # the other route that decodes the cube


@pytest.mark.filterwarnings("ignore:steps time=2020-04-10 of the field are constant")
def test_zero_date_beside_declared_fill_keeps_it(lst):
    da = _celsius_x100(lst, declared=True)
    assert int((da == -32768).sum()) == 9
    with pytest.raises(UndeclaredFillError) as e:
        da.lstsr.upscale(2).load()
    msg = str(e.value)
    # never a second declaration that replaces -32768
    assert "_FillValue'] = 0" not in msg and "write_nodata(0)" not in msg
    assert "--nodata 0" not in msg
    assert "declared fill (-32768)" in msg
    codes = [c for c in _codes(msg) if "da" in c and "=" in c]
    assert "da.attrs['missing_value'] = [-32768, 0]" in codes
    assert "da = da.where(da != 0)" in codes
    assert any("drop_sel" in c for c in codes)
    ref = da.isel(time=[0, 2]).lstsr.upscale(2).load()
    for code in codes:
        _check_followed(_follow(code, _celsius_x100(lst, declared=True)), ref)


@pytest.mark.filterwarnings("ignore:steps time=2020-04-10 of the field are constant")
def test_zero_date_without_declared_fill_unchanged(lst):
    da = _celsius_x100(lst, declared=False)
    with pytest.raises(UndeclaredFillError) as e:
        da.lstsr.upscale(2).load()
    msg = str(e.value)
    codes = [c for c in _codes(msg) if "da" in c and "=" in c]
    assert "da.attrs['_FillValue'] = 0" in codes
    assert "da = da.rio.write_nodata(0)" in codes
    assert "`--nodata 0` on the command line" in msg
    assert "missing_value" not in msg
    ref = da.isel(time=[0, 2]).lstsr.upscale(2).load()
    for code in codes:
        _check_followed(_follow(code, _celsius_x100(lst, declared=False)), ref)


def test_zero_step_out_of_range_beside_declared_fill(lst):
    # uint16 K x 0.02 declaring 1 as its fill, a date stored all 0 (0 K): the step advice
    # declared `_FillValue = 0`, replacing the declared 1
    a = (lst / 0.02).round().fillna(1).astype("uint16").copy()
    a[1] = 0
    a.attrs = {"scale_factor": 0.02, "_FillValue": 1, "units": "K"}
    with pytest.raises(PhysicalRangeError) as e:
        a.lstsr.upscale(2).load()
    msg = str(e.value)
    assert "--nodata 0" not in msg
    codes = [c for c in _codes(msg) if "da" in c and "=" in c]
    # the new fill declared together with the old one kept (followed as one advice)
    assert "da.attrs['_FillValue'] = 0" in codes and "da.attrs['missing_value'] = [1]" in codes
    codes = [c for c in codes if "attrs" not in c]
    codes.append("da.attrs['_FillValue'] = 0; da.attrs['missing_value'] = [1]")
    ref = a.isel(time=[0, 2]).lstsr.upscale(2).load()
    for code in codes:
        followed = _follow(code, a.copy())
        sr = followed.lstsr.upscale(2).load()
        np.testing.assert_allclose(sr.sel(time=ref.time).values, ref.values, equal_nan=True)
        if sr.sizes["time"] == 3:
            assert bool(sr.isel(time=1).isnull().all())


def test_few_fill_pixels_out_of_range_beside_declared_fill(lst):
    # a few pixels of int16's 32767 (600.82 K) beside the declared -32768: the advice declared
    # `_FillValue = 32767` (replacing -32768), and its mask was not assigned (a no-op pasted)
    a = ((lst - 273.15) * 100).round().fillna(-32768).astype("int16").copy()
    a[2, 20:22, 20:22] = 32767
    a.attrs = {"scale_factor": 0.01, "add_offset": 273.15, "units": "K", "_FillValue": -32768}
    with pytest.raises(UndeclaredFillError) as e:
        a.lstsr.upscale(2).load()
    msg = str(e.value)
    assert "_FillValue'] = 32767" not in msg and "--nodata 32767" not in msg
    codes = [c for c in _codes(msg) if "da" in c and "=" in c]
    assert "da.attrs['missing_value'] = [-32768, 32767]" in codes
    assert "da = da.where(da != 32767)" in codes
    for code in codes:
        sr = _follow(code, a.copy()).lstsr.upscale(2).load()
        assert float(sr.max()) < 400 and bool(sr.isel(time=0)[:6, :6].isnull().any())
