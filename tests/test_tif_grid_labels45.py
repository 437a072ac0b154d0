"""A result written to .tif (the CLI's `xlstsr upscale in.nc out.tif`, xlstsr.io.to_cogs) keeps
its exact GeoTransform and reopens (open_cog) with the result's own labels (probe 45s/01: a
0.01 degree grid's .tif had top 45.199999999999996, 11 of 40 rows and 17 of 60 columns an ulp
off the result's, and xr.align / arithmetic with the result dropped them)."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import xarray as xr

import xlstsr
from xlstsr.cli import main
from xlstsr.grid import MODIS_1KM, MODIS_SINUSOIDAL
from xlstsr.io.cog import LABELS_TAG, open_cog


def _field(grid: str) -> xr.DataArray:
    """A 2-date coarse field on a lat/lon 0.01 degree, MODIS sinusoidal 1 km or UTM 60 m grid,
    labelled as a NetCDF (lat/lon) or rioxarray (projected) labels it."""
    ny, nx = 20, 30
    if grid == "latlon":
        dims, crs = ("lat", "lon"), "EPSG:4326"
        y = 45 + 0.01 * (np.arange(ny)[::-1] + 0.5)
        x = 10 + 0.01 * (np.arange(nx) + 0.5)
    else:
        dims = ("y", "x")
        if grid == "sinusoidal":  # h18v04's corner, rioxarray's first centre + i pixels
            crs, a, x0, y0 = MODIS_SINUSOIDAL, MODIS_1KM, -1111950.519667, 5559752.598333
        else:
            crs, a, x0, y0 = "EPSG:32630", 60.0, 500000.0, 4500000.0
        y = (y0 - a / 2) - np.arange(ny) * a
        x = (x0 + a / 2) + np.arange(nx) * a
    v = (300 + np.random.default_rng(0).normal(0, 2, (2, ny, nx))).astype("float32")
    return xr.DataArray(
        v, dims=("time", *dims), name="LST", attrs={"units": "K"},
        coords={"time": np.array(["2020-07-01", "2020-07-02"], "datetime64[ns]"),
                dims[0]: y, dims[1]: x}).rio.write_crs(crs)


def _check(tif, ref: xr.DataArray, ydim: str, xdim: str) -> None:
    gt = [float(v) for v in ref.spatial_ref.attrs["GeoTransform"].split()]
    with rasterio.open(tif) as f:
        assert f.transform.to_gdal() == tuple(gt)  # exact, not recomputed from the labels
    back = open_cog(tif)
    assert LABELS_TAG not in back.attrs
    assert np.array_equal(back.y.values, ref[ydim].values)
    assert np.array_equal(back.x.values, ref[xdim].values)
    a, _ = xr.align(back.rename(y=ydim, x=xdim), ref, join="inner")
    assert (a.sizes[ydim], a.sizes[xdim]) == (ref.sizes[ydim], ref.sizes[xdim])


@pytest.mark.parametrize("grid", ["latlon", "sinusoidal", "utm"])
def test_tif_reopens_with_result_labels(tmp_path, grid):
    da = _field(grid)
    factor = 4 if grid == "sinusoidal" else 2  # 231.656 m; 0.005 degree; 30 m
    ydim, xdim = da.dims[1:]
    ref = xlstsr.upscale(da, factor)
    da.to_dataset().to_netcdf(tmp_path / "in.nc")
    out = tmp_path / "out.tif"
    assert main(["upscale", str(tmp_path / "in.nc"), str(out), "--factor", str(factor),
                 "--quiet"]) == 0
    _check(out, ref, ydim, xdim)
    paths = xlstsr.io.to_cogs(ref, tmp_path / "cogs")
    _check(paths[0], ref.isel(time=0), ydim, xdim)
    # its values and dates are those of the result
    back = open_cog(out)
    np.testing.assert_allclose(back.values, ref.values, rtol=1e-6)
    assert np.array_equal(back.time.values, ref.time.values)


@pytest.mark.filterwarnings("ignore:the LST is already super-resolved")
def test_written_tif_reupscales_with_the_same_labels(tmp_path):
    """A tagged .tif read back and upscaled again keeps to the grid of the result's labels (the
    tag is not carried to the new file from the input's attributes)."""
    ref = xlstsr.upscale(_field("latlon"), 2)
    path = xlstsr.io.to_cogs(ref, tmp_path / "cogs")[0]
    with rasterio.open(path) as f:
        assert LABELS_TAG in f.tags()  # its lat labels are not rioxarray's
    again = xlstsr.upscale(open_cog(path), 2)
    assert np.array_equal(again.y.values,
                          xlstsr.upscale(ref.isel(time=0), 2).lat.values)
