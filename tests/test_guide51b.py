"""Probe 51 R2 finding 8 (remainder): an NDVI guide with an undeclared constant 0 border (a warp
without -dstnodata) was used as guide data by upscale(method='disr'): the guide checks now name
it as an undeclared fill, and the advice (mask it, or declare it and read masked) runs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rioxarray
import torch
import xarray as xr

import xlstsr
from xlstsr.errors import UndeclaredFillError


@pytest.fixture(scope="module")
def pair001(shared_data):
    """Pair 001's MODIS LST (1 km) and NDVI (250 m), a 32 x 32 LST crop and the NDVI over it."""
    d = shared_data / "modis_aster"
    lst = rioxarray.open_rasterio(d / "001_modis_lst_1km.tif", mask_and_scale=True)
    ndvi = rioxarray.open_rasterio(d / "001_modis_ndvi_250m.tif", mask_and_scale=True)
    lst = lst.squeeze("band", drop=True)[16:48, 16:48]
    ndvi = ndvi.squeeze("band", drop=True)[64:192, 64:192]
    return lst, ndvi


def _bordered(ndvi: xr.DataArray) -> xr.DataArray:
    """The NDVI as a warp without -dstnodata writes it: 0 on the top 6 rows and a 5 x 10 block
    at the bottom-left corner."""
    a = ndvi.copy(deep=True)
    a.values[:6, :] = 0
    a.values[-5:, :10] = 0
    return a


def _disr(lst: xr.DataArray, guide: xr.DataArray) -> xr.DataArray:
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xlstsr.upscale(lst, 4, method="disr", guide=guide)


def test_disr_refuses_undeclared_zero_border(pair001):
    lst, ndvi = pair001
    with pytest.raises(UndeclaredFillError, match="constant band along its edge") as err:
        _disr(lst, _bordered(ndvi))
    msg = str(err.value)
    assert "the top 6 rows" in msg
    assert "guide.where(guide != 0)" in msg and "gdalwarp -dstnodata 0" in msg


def test_border_advice_followed_runs(pair001, tmp_path):
    lst, ndvi = pair001
    clean = _disr(lst, ndvi)
    bad = _bordered(ndvi)
    # the advice as written: mask it
    guide = bad
    guide = guide.where(guide != 0)
    masked = _disr(lst, guide)
    # or declare it where the file is made and read it masked
    path = tmp_path / "ndvi_border.tif"
    raw = bad.copy()
    raw.encoding, raw.attrs = {}, {}
    raw.rio.write_nodata(0, inplace=True)
    raw.rio.to_raster(path)
    declared = rioxarray.open_rasterio(path, masked=True).squeeze("band", drop=True)
    from_file = _disr(lst, declared)
    np.testing.assert_allclose(from_file.values, masked.values, atol=1e-4)
    # away from the border, as the clean guide gives (the border used as data: up to 3.2 K)
    away = np.abs(clean.values - masked.values)[12:-12, 12:]
    assert float(np.nanmax(away)) < 0.5
    assert np.isfinite(masked.values).all()


def test_clean_guide_and_class_map_edge_not_refused(pair001):
    lst, ndvi = pair001
    out = _disr(lst, ndvi)
    assert np.isfinite(out.values).all()
    # a class map (water mask, land cover) may fill whole edge rows with one class: data
    classes = (ndvi > 0.3).astype(np.float32) + (ndvi > 0.6)
    classes.values[:6, :] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xlstsr.upscale(lst, 4, method="tsharp", guide=classes)
