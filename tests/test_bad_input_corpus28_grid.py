"""Twenty-eighth round of bad inputs (grid): a window of a GeoTIFF (``isel``, ``rio.isel_window``)
degraded and upscaled got labels 3.6e-12 m off its own (its labels are the file's, computed from
the file's edge, not the window's), so ``sr - truth`` silently kept 35-65 % of the pixels; and
lon/lat labels stored as float32 came back a float32 step off (``sr - truth`` kept 2915 of 4096
pixels, ``metrics.rmse`` refused them as "not on the same grid").
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rioxarray
import xarray as xr
from affine import Affine
from rasterio.windows import Window

import xlstsr
from xlstsr.grid import MODIS_250M, MODIS_SINUSOIDAL, coarse_grid, fine_grid, same_axis

#: A MODIS 250 m tile's corner (h18v04) as a script computes it: its x edge is 0.0018 m, small
#: beside the labels, and neither edge is a round number.
_X0 = -20015109.354 + 18 * 1111950.5197665
_Y0 = 10007554.677 - 4 * 1111950.5197665


def _geotiff(tmp_path, n: int = 96) -> xr.DataArray:
    """A field written to a GeoTIFF on the tile's grid and read back with rioxarray."""
    rng = np.random.default_rng(0)
    da = xr.DataArray((300 + rng.random((n, n))).astype(np.float32), dims=("y", "x"),
                      attrs={"units": "K"})
    da = da.rio.write_crs(MODIS_SINUSOIDAL)
    da = da.rio.write_transform(Affine(MODIS_250M, 0, _X0, 0, -MODIS_250M, _Y0))
    path = tmp_path / "lst.tif"
    da.rio.to_raster(path)
    return rioxarray.open_rasterio(path).squeeze("band", drop=True).load()


def _same_labels(a: xr.DataArray, b: xr.DataArray) -> None:
    for d in ("y", "x"):
        assert a[d].dtype == b[d].dtype
        np.testing.assert_array_equal(a[d].values, b[d].values, strict=True)


@pytest.mark.parametrize("how", ["isel", "isel_window"])
@pytest.mark.parametrize("factor", [2, 4])
def test_window_of_a_geotiff_gets_its_labels_back(tmp_path, how, factor):
    """upscale(coarsen(truth)) of a window of a rioxarray-read GeoTIFF has the window's labels,
    bit for bit: ``sr - truth`` keeps every pixel (it kept 35-39 %)."""
    r = _geotiff(tmp_path)
    truth = (r.isel(y=slice(5, 77), x=slice(5, 77)) if how == "isel"
             else r.rio.isel_window(Window(5, 5, 72, 72)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lst = xlstsr.coarsen(truth, factor)
        sr = xlstsr.upscale(lst, factor)
        back = xlstsr.coarsen(sr, factor)
    _same_labels(sr, truth)
    assert (sr - truth).shape == truth.shape
    _same_labels(back, lst)


def test_window_of_a_coarse_file_upscales_to_the_window_of_its_fine_grid(tmp_path):
    """fine_grid of a window of a coarse file (its transform left written by ``isel``) is the
    window of the file's fine grid; coarse_grid of that gives the window back."""
    r = _geotiff(tmp_path)
    fy, fx, _ = fine_grid(r, 4)
    win = r.isel(y=slice(7, 30), x=slice(11, 40))
    wy, wx, _ = fine_grid(win, 4)
    np.testing.assert_array_equal(wy, fy[28:120])
    np.testing.assert_array_equal(wx, fx[44:160])
    fine = xlstsr.grid.with_grid(np.zeros((wy.size, wx.size), np.float32), win, wy, wx,
                                 fine_grid(win, 4)[2], ("y", "x"))
    cy, cx, _ = coarse_grid(fine, 4)
    np.testing.assert_array_equal(cy, win.y.values)
    np.testing.assert_array_equal(cx, win.x.values)


def test_window_of_the_real_mod11a1_cog_gets_its_labels_back(shared_data):
    """The real MOD11A1 COG's window (a 4 km -> 1 km degraded pair, as sisr is trained): `sr -
    lst` kept 65 % of the pixels."""
    path = (shared_data / "modis_h18v04_2020/cogs/"
            "MOD11A1.A2020005.h18v04.061_LST_Day_1km.tif")
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    lst = rioxarray.open_rasterio(path, mask_and_scale=True).squeeze("band", drop=True)
    lst = lst.isel(y=slice(515, 571), x=slice(6, 62)).load()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sr = xlstsr.upscale(xlstsr.coarsen(lst, 4, min_valid=0.5), 4)
    _same_labels(sr, lst)
    assert (sr - lst).shape == lst.shape


def _float32_truth(edge_y: float, edge_x: float, px: float, n: int = 64) -> xr.DataArray:
    """A lon/lat field whose labels are stored as float32 (a NetCDF's, a Zarr's), no
    transform written."""
    lat = np.linspace(edge_y - px / 2, edge_y - px / 2 - px * (n - 1), n, dtype="float32")
    lon = np.linspace(edge_x + px / 2, edge_x + px / 2 + px * (n - 1), n, dtype="float32")
    rng = np.random.default_rng(1)
    return xr.DataArray((300 + 3 * rng.standard_normal((n, n))).astype("float32"),
                        dims=("y", "x"), coords={"y": lat, "x": lon},
                        attrs={"units": "K"}).rio.write_crs("EPSG:4326")


@pytest.mark.parametrize(("edges", "px"), [((45.0, 10.0), 0.0025), ((-33.337, 151.2071), 0.00731)])
def test_float32_lonlat_labels_round_trip(edges, px):
    """Float32 labels of a round (0.0025 degree) and of an unround grid: the round trips keep
    them in float32, exactly; metrics.rmse scores sr against the truth."""
    truth = _float32_truth(*edges, px)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lst = xlstsr.coarsen(truth, 4)
        sr = xlstsr.upscale(lst, 4)
        back = xlstsr.coarsen(xlstsr.upscale(lst, 4), 4)
    assert lst.y.dtype == sr.y.dtype == back.x.dtype == np.float32
    _same_labels(back, lst)
    assert (back - lst).shape == lst.shape
    assert np.isfinite(float(xlstsr.metrics.rmse(sr, truth)))
    if px == 0.0025:  # a round grid: its labels are found again
        _same_labels(sr, truth)
        assert (sr - truth).shape == truth.shape


def test_same_axis_allows_a_few_steps_of_float32_labels():
    """One float32 step at 45 degrees is 1.5e-3 of a 0.0025-degree pixel: the same axis; a
    tenth of a pixel is not; float64 labels keep the 1e-3-pixel tolerance."""
    lat = np.linspace(45 - 0.00125, 45 - 0.00125 - 0.0025 * 63, 64, dtype="float32")
    step = np.spacing(np.float32(45))
    assert same_axis(lat, lat + step) and same_axis(lat.astype(np.float64), lat + 2 * step)
    assert not same_axis(lat, lat + np.float32(0.00025))
    lat64 = lat.astype(np.float64)
    assert not same_axis(lat64, lat64 + 0.0025 * 2e-3)
    assert same_axis(lat64, lat64 + 0.0025 * 5e-4)


@pytest.mark.parametrize("store", ["nc", "zarr"])
def test_window_round_trip_through_a_store_keeps_its_labels(tmp_path, store):
    """The coarse result of a window written to NetCDF / Zarr and read back (as a fresh process
    does): upscale gets the window's labels from the coordinates' xlstsr_fine_origin (an
    in-process memo gave 4096/4096 there but 928/4096 in a fresh process); without the attribute
    (a coarse field labelled by hand) the labels are still those searched for."""
    r = _geotiff(tmp_path, 128)
    truth = r.isel(y=slice(5, 69), x=slice(7, 71))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lst = xlstsr.coarsen(truth, 4)
        assert xlstsr.grid.FINE_ORIGIN in lst.x.attrs
        if store == "nc":
            lst.to_netcdf(tmp_path / "c.nc")
            back = xr.open_dataarray(tmp_path / "c.nc", decode_coords="all").load()
        else:
            lst.to_dataset(name="lst").to_zarr(tmp_path / "c.zarr")
            back = xr.open_zarr(tmp_path / "c.zarr", decode_coords="all")["lst"].load()
        _same_labels(back, lst)
        sr = xlstsr.upscale(back, 4)
        _same_labels(sr, truth)
        assert (sr - truth).shape == truth.shape
        _same_labels(xlstsr.coarsen(sr, 4), lst)  # sr's labels carry their origin on
        bare = back.copy()
        for d in ("y", "x"):
            bare[d].attrs.pop(xlstsr.grid.FINE_ORIGIN, None)
        assert xlstsr.grid.FINE_ORIGIN not in bare.x.attrs
        fy, fx, _ = fine_grid(bare, 4)
        assert fy.size == fx.size == 64
        # an attribute that does not give the labels (shifted) is ignored
        shifted = back.assign_coords(x=back.x + 4 * MODIS_250M)
        shifted.x.attrs.update(back.x.attrs)
        np.testing.assert_array_equal(fine_grid(shifted, 4)[1], fine_grid(
            shifted.assign_coords(x=shifted.x.values), 4)[1])


def test_same_axis_float32_tolerance_is_capped():
    """Float32 labels at a northing of 5e6 m (a float32 step is 0.5 m): a 10 m grid shifted
    1.9 m is another grid (4 steps made it the same); one step off still the same."""
    y = (5e6 - 5 - 10 * np.arange(64)).astype(np.float32)
    step = float(np.spacing(np.float32(5e6)))
    assert same_axis(y, y.astype(np.float64) + step)
    assert not same_axis(y, y.astype(np.float64) + 1.9)
    assert not same_axis(y, y.astype(np.float64) + 3 * step)
