"""Fixes of review 40: Landsat C2 L2 NDVI outside USGS's valid reflectance range, and the input's
long_name kept (as source_long_name) by upscale and the files written from its output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from affine import Affine

import xlstsr
from xlstsr.cli import main
from xlstsr.errors import ResampledInputWarning
from xlstsr.io import open_landsat_c2l2

PRODUCT = "LC08_L2SP_044034_20230815_20230822_02_T1_"
SHAPE = (12, 16)
SR_MULT, SR_ADD = 2.75e-5, -0.2


def _write(path: Path, values: np.ndarray) -> None:
    import rasterio

    t = Affine(30.0, 0, 500_000.0, 0, -30.0, 4_200_000.0)
    with rasterio.open(path, "w", driver="GTiff", height=values.shape[0], width=values.shape[1],
                       count=1, dtype="uint16", crs="EPSG:32611", transform=t) as dst:
        dst.write(values.astype("uint16"), 1)


def _dn(reflectance: float) -> int:
    return round((reflectance + 0.2) / SR_MULT)


def test_ndvi_is_nan_where_a_reflectance_is_outside_usgs_valid_range(tmp_path: Path) -> None:
    """Red -0.01 under NIR 0.35 gave NDVI 1.06, red -0.15 gave 7.0: DN outside 7273-43636
    (reflectance outside 0-1) is NaN in ndvi, the range's own ends are kept, lst untouched."""
    folder = tmp_path / "scene"
    folder.mkdir()
    red = np.full(SHAPE, _dn(0.05), np.int64)
    nir = np.full(SHAPE, _dn(0.35), np.int64)
    red[2, 2], red[2, 3] = _dn(-0.01), _dn(-0.15)  # over-corrected dark red: DN 6909, 1818
    red[3, 2] = 7272  # one DN below the valid range (reflectance -2e-5)
    red[3, 3] = 7273  # the valid range's lower end: reflectance ~0, NDVI ~1
    nir[4, 2] = 43637  # one DN above the valid range (reflectance 1.00002)
    nir[4, 3] = 43636  # the upper end, kept
    _write(folder / f"{PRODUCT}SR_B4.TIF", red)
    _write(folder / f"{PRODUCT}SR_B5.TIF", nir)
    _write(folder / f"{PRODUCT}ST_B10.TIF", np.full(SHAPE, round((300.0 - 149.0) / 0.00341802)))
    _write(folder / f"{PRODUCT}QA_PIXEL.TIF", np.full(SHAPE, 1 << 6))  # clear
    ds = open_landsat_c2l2(folder)
    ndvi, lst = ds["ndvi"].values, ds["lst"].values
    outside = np.zeros(SHAPE, bool)
    outside[2, 2] = outside[2, 3] = outside[3, 2] = outside[4, 2] = True
    assert np.array_equal(np.isnan(ndvi), outside)
    assert np.nanmax(np.abs(ndvi)) <= 1.0
    assert ndvi[3, 3] == pytest.approx(1.0, abs=1e-3) and ndvi[4, 3] == pytest.approx(0.905, abs=1e-3)
    assert ndvi[0, 0] == pytest.approx((0.35 - 0.05) / 0.40, abs=2e-4)
    assert np.isfinite(lst).all()  # a reflectance says nothing of the surface temperature


def _night() -> xr.DataArray:
    lst = xlstsr.datasets.sample_scene(n_times=1, size=32)["lst_1km"]
    return lst.assign_attrs(long_name="MOD11A1 v061 nighttime LST").rename("LST")


GENERIC = "land surface temperature (super-resolved)"


def test_upscale_keeps_the_input_long_name_as_source_long_name() -> None:
    """'MOD11A1 v061 nighttime LST' became 'land surface temperature (super-resolved)' (day and
    night outputs alike), then was kept as the long_name ('LST at 1 km (super-resolved)' of a
    250 m field, '(degC)' of one converted to K): the long_name is xlstsr's generic one, the
    input's text is kept as source_long_name (once; absent when the input has none)."""
    night = _night()
    sr = xlstsr.upscale(night, 4)
    assert sr.attrs["long_name"] == GENERIC
    assert sr.attrs["source_long_name"] == "MOD11A1 v061 nighttime LST"
    day = xlstsr.upscale(night.assign_attrs(long_name="MOD11A1 v061 daytime LST"), 4)
    assert day.attrs["source_long_name"] != sr.attrs["source_long_name"]
    celsius = (night - 273.15).assign_attrs(long_name="Land surface temperature (degC)",
                                            units="degC")
    out = xlstsr.upscale(celsius, 4)
    assert out.attrs["long_name"] == GENERIC and out.attrs["units"] == "K"
    assert out.attrs["source_long_name"] == "Land surface temperature (degC)"
    # a second upscale passes the source on as it is
    with pytest.warns(ResampledInputWarning, match="already super-resolved"):
        again = xlstsr.upscale(sr, 2)
    assert again.attrs["long_name"] == GENERIC
    assert again.attrs["source_long_name"] == "MOD11A1 v061 nighttime LST"
    # no input text (or keep_attrs=False): the generic name, no source_long_name
    bare = night.copy()
    del bare.attrs["long_name"]
    for out in (xlstsr.upscale(bare, 4), xlstsr.upscale(night, 4, keep_attrs=False)):
        assert out.attrs["long_name"] == GENERIC and "source_long_name" not in out.attrs


def test_written_outputs_keep_the_input_long_name(tmp_path: Path) -> None:
    """The Zarr store of upscale_to_zarr, the CLI's COG (its tags) and a NetCDF say night."""
    import rasterio

    night = _night()
    out = xlstsr.upscale_to_zarr(night, tmp_path / "a.zarr", 4)
    stored = xr.open_zarr(tmp_path / "a.zarr", consolidated=False)
    source = "MOD11A1 v061 nighttime LST"
    for da in (out, stored["LST"]):
        assert da.attrs["long_name"] == GENERIC and da.attrs["source_long_name"] == source
    night.isel(time=0).to_dataset().to_netcdf(tmp_path / "in.nc")
    assert main(["upscale", str(tmp_path / "in.nc"), str(tmp_path / "out.tif"), "--quiet"]) == 0
    with rasterio.open(tmp_path / "out.tif") as f:
        assert f.tags()["source_long_name"] == source and f.descriptions == (GENERIC,)
    assert main(["upscale", str(tmp_path / "in.nc"), str(tmp_path / "out.nc"), "--quiet"]) == 0
    with xr.open_dataset(tmp_path / "out.nc") as ds:
        found = [v for v in ds.data_vars if ds[v].attrs.get("source_long_name") == source]
        assert found and all(ds[v].attrs["long_name"] == GENERIC for v in found)
