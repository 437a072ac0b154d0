"""Thirtieth round of bad inputs (grid, validate, scaling): labels written without their
GeoTransform (a CF NetCDF of CDO, NCO, AppEEARS read back) coarsened / upscaled to labels 1 ulp
off rioxarray's of the derived grid (``coarsen(truth) - lst`` silently dropped rows and
columns); a Dataset with several LST variables was told to run ``upscale`` whatever method was
called; a swath's integer index coordinates were taken as 1 m pixels; scaling_stats' warning
of a guide with a gap spoke of upscale's methods.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rioxarray
import xarray as xr
from affine import Affine
from rioxarray.rioxarray import _generate_spatial_coords

import xlstsr
from xlstsr import errors
from xlstsr.grid import MODIS_250M, MODIS_SINUSOIDAL, align_guide, coarse_grid, fine_grid
from xlstsr.scaling import pixel_size
from xlstsr.validate import select_variable


def _rio_labels(t: Affine, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(y, x) labels rioxarray computes for ``n`` x ``n`` pixels of transform ``t``."""
    g = _generate_spatial_coords(affine=t, width=n, height=n)
    return np.asarray(g["y"].values), np.asarray(g["x"].values)


def _bare(t: Affine, n: int, crs: str) -> xr.DataArray:
    """A field on ``t``'s grid whose GeoTransform is not written: its labels only, as a CF
    NetCDF without GDAL's GeoTransform reads back."""
    y, x = _rio_labels(t, n)
    da = xr.DataArray(np.full((n, n), 295.0, np.float32), dims=("y", "x"),
                      coords={"y": y, "x": x}, attrs={"units": "K"})
    return da.rio.write_crs(crs)


#: grids whose labels the transform recomputed from them does not give: a MODIS 250 m tile's
#: windows (sinusoidal; the pixel GDAL reads for x and y differs in the last digits) and the
#: 30 arcsec lon/lat grid
_TILE = [Affine(231.65635826395834, 0, 884695.6322100569, 0, -231.65635826375006, 4967638.946610855),
         Affine(231.65635826395834, 0, 748250.0371925854, 0, -231.65635826375006, 5042000.637613519),
         Affine(MODIS_250M, 0, -20015109.354 + 18 * 1111950.5197665 + 37 * MODIS_250M, 0,
                -MODIS_250M, 10007554.677 - 4 * 1111950.5197665 - 91 * MODIS_250M)]
_LONLAT = Affine(1 / 120, 0, -3.0, 0, -1 / 120, 50.0)


@pytest.mark.parametrize("t", _TILE)
def test_bare_labels_coarse_grid_is_rioxarrays_of_the_coarse_grid(t):
    da = _bare(t, 128, MODIS_SINUSOIDAL)
    y, x, _ = coarse_grid(da, 4)
    ry, rx = _rio_labels(t * Affine.scale(4), 32)
    np.testing.assert_array_equal(y, ry)
    np.testing.assert_array_equal(x, rx)
    # and as with the transform written
    wy, wx, _ = coarse_grid(da.rio.write_transform(t), 4)
    np.testing.assert_array_equal(wy, ry)
    np.testing.assert_array_equal(wx, rx)


def test_bare_labels_coarsen_aligns_with_the_coarse_grid():
    t = _TILE[0]
    fine = _bare(t, 64, MODIS_SINUSOIDAL)
    ry, rx = _rio_labels(t * Affine.scale(4), 16)
    lst = xr.DataArray(np.full((16, 16), 295.0, np.float32), dims=("y", "x"),
                       coords={"y": ry, "x": rx})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        diff = fine.lstsr.coarsen(4) - lst
    assert (diff.sizes["y"], diff.sizes["x"]) == (16, 16)


@pytest.mark.parametrize("t, crs", [(_LONLAT, "EPSG:4326"), (_TILE[1] * Affine.scale(4), MODIS_SINUSOIDAL)])
def test_bare_labels_fine_grid_is_rioxarrays_of_the_fine_grid(t, crs):
    da = _bare(t, 64, crs)
    y, x, _ = fine_grid(da, 4)
    ry, rx = _rio_labels(t * Affine.scale(0.25), 256)
    np.testing.assert_array_equal(y, ry)
    np.testing.assert_array_equal(x, rx)
    # they give the input's labels back
    back = xr.DataArray(np.zeros((256, 256)), dims=("y", "x"), coords={"y": y, "x": x}).rio.write_crs(crs)
    cy, cx, _ = coarse_grid(back, 4)
    np.testing.assert_array_equal(cy, da.y.values)
    np.testing.assert_array_equal(cx, da.x.values)


def test_real_250m_file_read_back_without_transform_coarsens_to_rioxarrays_labels(shared_data):
    nd = rioxarray.open_rasterio(shared_data / "modis_aster" / "002_modis_ndvi_250m.tif")
    nd = nd.squeeze("band", drop=True)
    t = nd.rio.transform()
    bare = xr.DataArray(np.asarray(nd.values, np.float32), dims=("y", "x"),
                        coords={"y": nd.y.values, "x": nd.x.values}).rio.write_crs(nd.rio.crs)
    y, x, _ = coarse_grid(bare, 4)
    ry, rx = _rio_labels(t * Affine.scale(4), nd.sizes["x"] // 4)
    np.testing.assert_array_equal(x, rx)
    np.testing.assert_array_equal(y, ry[: nd.sizes["y"] // 4])


# --- 2: the refusal's advice names the operation asked for -----------------------------------

def _two_lst_dataset(scene) -> xr.Dataset:
    lst = scene["lst_1km"]
    return xr.Dataset({"LST_Day_1km": lst, "LST_Night_1km": lst - 10})


@pytest.mark.parametrize("call", [
    lambda ds, s: ds.lstsr.coarsen(2),
    lambda ds, s: ds.lstsr.evaluate(s["lst_250m"]),
    lambda ds, s: xlstsr.coarsen(ds, 2),
])
def test_ambiguous_dataset_advice_names_no_other_method(scene, call):
    ds = _two_lst_dataset(scene)
    with pytest.raises(errors.VariableNotFoundError, match="variable='LST_Day_1km'") as info:
        call(ds, scene)
    assert "upscale" not in str(info.value)


@pytest.mark.parametrize("call", [lambda ds: ds.lstsr.scaling_stats(),
                                  lambda ds: xlstsr.scaling_stats(ds)])
def test_ambiguous_dataset_scaling_stats_advice_runs_scaling_stats(scene, call):
    ds = _two_lst_dataset(scene)
    with pytest.raises(errors.VariableNotFoundError,
                       match=r"ds\.lstsr\.scaling_stats\(\.\.\., variable='LST_Day_1km'\)") as info:
        call(ds)
    assert "upscale" not in str(info.value)


def test_select_variable_names_the_operation_given(scene):
    ds = _two_lst_dataset(scene)
    with pytest.raises(errors.VariableNotFoundError, match=r"ds\.lstsr\.coarsen\(\.\.\., variable="):
        select_variable(ds, None, operation="coarsen")


# --- 3: a swath's index coordinates are pixels, not metres -----------------------------------

def _swath(n: int = 32) -> xr.DataArray:
    rng = np.random.default_rng(0)
    lat = np.linspace(45, 44.7, n)[:, None] + np.zeros((1, n))
    lon = np.linspace(5, 5.4, n)[None, :] + 0.01 * np.arange(n)[:, None]
    return xr.DataArray((295 + rng.random((n, n))).astype(np.float32), dims=("y", "x"),
                        coords={"lat": (("y", "x"), lat), "lon": (("y", "x"), lon)},
                        attrs={"units": "K"})


def test_swath_index_coordinates_are_pixels():
    sw = _swath().assign_coords(y=np.arange(32), x=np.arange(32))
    assert pixel_size(sw)[1] == "pixel"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        st = xlstsr.scaling_stats(sw)
    assert st.scale_m.attrs["units"] == "pixel"
    # float coordinates beside 2-D lat/lon, no unit: a curvilinear grid's numbering too
    assert pixel_size(_swath().assign_coords(y=np.arange(32) * 1.0, x=np.arange(32) * 1.0))[1] == "pixel"


def test_integer_index_coordinates_alone_are_pixels():
    da = _swath().drop_vars(["lat", "lon"]).assign_coords(y=np.arange(32), x=np.arange(32))
    assert pixel_size(da)[1] == "pixel"


def test_other_unlabelled_coordinates_stay_metres():
    da = _swath().drop_vars(["lat", "lon"])
    da = da.assign_coords(y=1000.0 - 250.0 * np.arange(32), x=250.0 * np.arange(32))
    assert pixel_size(da) == (250.0, "m")
    # integers that do not number the pixels (a 30 m grid in whole metres)
    da = da.assign_coords(y=np.arange(32)[::-1] * 30, x=np.arange(32) * 30)
    assert pixel_size(da) == (30.0, "m")


# --- 4: scaling_stats' warning of a guide's gap says what it does to the statistics ----------

def _gap_guide(scene) -> tuple[xr.DataArray, xr.DataArray]:
    lst = scene["lst_1km"].isel(time=0)
    ndvi = scene["ndvi_250m"].isel(time=0) if "time" in scene["ndvi_250m"].dims else scene["ndvi_250m"]
    return lst, ndvi.isel(x=slice(3, None))  # nests, 3 fine columns short of the LST's extent


def _gap_messages(record) -> list[str]:
    return [str(w.message) for w in record if "misses" in str(w.message)]


def test_scaling_stats_gap_warning_speaks_of_the_statistics(scene):
    lst, guide = _gap_guide(scene)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        xlstsr.scaling_stats(lst, guide)
    msgs = _gap_messages(rec)
    assert msgs, "no warning of the guide's gap"
    assert "scaling_stats" in msgs[0] and "guide_correlation" in msgs[0]
    assert "tsharp" not in msgs[0] and "bicubic" not in msgs[0]


def test_align_guide_gap_sentence_from_its_caller(scene):
    lst, guide = _gap_guide(scene)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        align_guide(guide, lst, 4, gap_effect="CALLER'S SENTENCE.")
        align_guide(guide, lst, 4)  # the guided methods' text where none is given
    msgs = _gap_messages(rec)
    assert "CALLER'S SENTENCE." in msgs[0]
    assert "tsharp" in msgs[1] and "CALLER'S" not in msgs[1]
