"""Fixes of probe 43s: an LST band of a multi-band GeoTIFF whose bands have their own scales
(rioxarray's per-band ``scales``/``offsets``, read with ``mask_and_scale=False``) is decoded with
its own entry, and the upscaled Kelvin keeps none of those storage attributes (written as the
output's band scale, readers saw K x 0.02); ``xlstsr upscale in.nc out.tif`` of a variable that
says night by its name only tags the .tif with it."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import rasterio
import rioxarray
import xarray as xr

import xlstsr  # noqa: F401  (the accessor)
from xlstsr.attrs import storage_attr
from xlstsr.cli import main
from xlstsr.errors import ScaledIntegerError
from xlstsr.io import open_cog
from xlstsr.steps import _day_night
from xlstsr.validate import decode_lst


def _kelvin(n: int = 32) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.round((300 + rng.normal(0, 3, (n, n))) / 0.02) * 0.02  # on the 0.02 K steps


@pytest.fixture
def two_band_tif(tmp_path):
    """Band 1: LST as K / 0.02 (uint16, fill 0); band 2: another quantity, scale 1."""
    k = _kelvin()
    dn = np.stack([np.round(k / 0.02), np.full_like(k, 7)]).astype("uint16")
    y = 4.9e6 - 1000 * (np.arange(32) + 0.5)
    x = 5e4 + 1000 * (np.arange(32) + 0.5)
    da = xr.DataArray(dn, dims=("band", "y", "x"), coords={"band": [1, 2], "y": y, "x": x})
    da = da.rio.write_crs("EPSG:32632").rio.write_nodata(0)
    path = tmp_path / "stack.tif"
    da.rio.to_raster(path)
    with rasterio.open(path, "r+") as f:
        f.scales = (0.02, 1.0)
        f.offsets = (0.0, 0.0)
    return path, k


def _open(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rioxarray: "Scales differ across bands"
        return rioxarray.open_rasterio(path, mask_and_scale=False)


def test_band_with_its_own_scale_decodes_to_kelvin(two_band_tif):
    path, k = two_band_tif
    band = _open(path).sel(band=1)
    assert "scales" in band.attrs and "scale_factor" not in band.attrs
    kelvin = decode_lst(band)  # was: ScaledIntegerError 'no scale metadata'
    np.testing.assert_allclose(kelvin.values, k, atol=1e-3)
    # band 2 is given its own entry (1.0), not band 1's nor the first one
    from xlstsr.validate import _lst_band_scales

    assert _lst_band_scales(_open(path).sel(band=2)).attrs["scale_factor"] == 1.0
    # a dim of one band, labelled: its number places it too
    np.testing.assert_allclose(decode_lst(_open(path).sel(band=[1])).values[0], k, atol=1e-3)


def test_band_offset_beside_a_shared_scale_is_applied(tmp_path):
    """Bands of one scale (rioxarray writes scale_factor) and their own offsets (a tuple): the
    band's offset was dropped, and the LST refused as 'degrees Fahrenheit' (review 43d)."""
    k = _kelvin()
    dn = np.stack([np.round((k - 150) / 0.02), np.full_like(k, 7)]).astype("uint16")
    y = 4.9e6 - 1000 * (np.arange(32) + 0.5)
    x = 5e4 + 1000 * (np.arange(32) + 0.5)
    da = xr.DataArray(dn, dims=("band", "y", "x"), coords={"band": [1, 2], "y": y, "x": x})
    path = tmp_path / "offsets.tif"
    da.rio.write_crs("EPSG:32632").rio.write_nodata(0).rio.to_raster(path)
    with rasterio.open(path, "r+") as f:
        f.scales = (0.02, 0.02)
        f.offsets = (150.0, 0.0)
    band = _open(path).sel(band=1)
    assert band.attrs.get("scale_factor") == 0.02 and "offsets" in band.attrs
    np.testing.assert_allclose(decode_lst(band).values, k, atol=1e-3)


def test_upscaled_band_keeps_no_per_band_storage_attrs(two_band_tif, tmp_path):
    path, k = two_band_tif
    sr = _open(path).sel(band=1).lstsr.upscale(2)
    for key in ("scales", "offsets", "nodatavals", "scale_factor", "add_offset"):
        assert key not in sr.attrs
    assert abs(float(sr.mean()) - k.mean()) < 0.5
    out = tmp_path / "sr.tif"
    sr.rio.to_raster(out)  # was: 'One scale for each band is required'
    back = rioxarray.open_rasterio(out, mask_and_scale=True)
    assert abs(float(back.mean()) - float(sr.mean())) < 1e-3


def test_coarsen_and_upscale_drop_per_band_attrs():
    assert all(storage_attr(key) for key in ("scales", "offsets", "nodatavals"))
    # a float Kelvin field that kept the tuples (a band decoded by hand): not carried either
    k = _kelvin()
    da = xr.DataArray(k.astype("float32"), dims=("y", "x"),
                      coords={"y": 4.9e6 - 1000 * (np.arange(32) + 0.5),
                              "x": 5e4 + 1000 * (np.arange(32) + 0.5)},
                      attrs={"scales": (0.02, 1.0), "offsets": (0.0, 0.0),
                             "nodatavals": (0, 0), "units": "K"}).rio.write_crs("EPSG:32632")
    coarse = da.lstsr.coarsen(2)
    assert not {"scales", "offsets", "nodatavals"} & set(coarse.attrs)
    sr = da.lstsr.upscale(2)
    assert not {"scales", "offsets", "nodatavals"} & set(sr.attrs)


def test_stack_of_differently_scaled_bands_refused_with_advice(two_band_tif):
    path, _ = two_band_tif
    with pytest.raises(ScaledIntegerError, match=r"sel\(band=1\).*mask_and_scale=True"):
        decode_lst(_open(path))


def test_band_without_number_refused_with_advice(two_band_tif):
    path, _ = two_band_tif
    band = _open(path).isel(band=0, drop=True)  # no band coordinate: which band is unknown
    with pytest.raises(ScaledIntegerError, match="cannot be told"):
        decode_lst(band)


def test_cli_tif_of_variable_named_night_tags_day_night(tmp_path):
    y = 4.9e6 - 1000 * (np.arange(32) + 0.5)
    x = 5e4 + 1000 * (np.arange(32) + 0.5)
    v = 290 + np.random.default_rng(0).normal(0, 2, (2, 32, 32)).astype("float32")
    ds = xr.Dataset({"LST_Night_1km": (("time", "y", "x"), v, {"units": "K", "long_name": "LST"})},
                    coords={"time": pd.date_range("2020-06-01", periods=2), "y": y, "x": x})
    src, out = tmp_path / "night.nc", tmp_path / "night_sr.tif"
    ds.rio.write_crs("EPSG:32632").to_netcdf(src)
    assert main(["upscale", str(src), str(out), "--factor", "2", "--quiet"]) == 0
    with rasterio.open(out) as f:
        assert f.tags().get("day_night") == "night"
    assert _day_night(open_cog(str(out)))[0] == "night"


def test_cli_tif_of_plain_variable_has_no_day_night(tmp_path):
    y = 4.9e6 - 1000 * (np.arange(16) + 0.5)
    x = 5e4 + 1000 * (np.arange(16) + 0.5)
    v = 290 + np.random.default_rng(1).normal(0, 2, (16, 16)).astype("float32")
    ds = xr.Dataset({"lst": (("y", "x"), v, {"units": "K"})}, coords={"y": y, "x": x})
    src, out = tmp_path / "plain.nc", tmp_path / "plain_sr.tif"
    ds.rio.write_crs("EPSG:32632").to_netcdf(src)
    assert main(["upscale", str(src), str(out), "--factor", "2", "--quiet"]) == 0
    with rasterio.open(out) as f:
        assert "day_night" not in f.tags()
