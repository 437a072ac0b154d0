"""probe36: an output's metadata says what it is. Stale grid attributes (resolution, ACDD's
geospatial_*_resolution) dropped from results and written files; the result's NaN gaps declared
as its nodata; a .tif of one date's (overpass, y, x) field keeps the date and the dim; evaluate
names only the out-of-range reference pixels its mask would score."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
import xarray as xr

import xlstsr
from xlstsr.attrs import global_attrs, grid_attr, with_global_attrs
from xlstsr.cli import main
from xlstsr.errors import PhysicalRangeWarning

_STALE = {"resolution": "926.625 m", "spatial_resolution": "1 km",
          "geospatial_lat_resolution": "0.00833 degrees", "geospatial_x_resolution": "926.6 m",
          "GeoTransform": "0 926.6 0 0 0 -926.6"}
_TEMPORAL = {"temporal_resolution": "daily", "time_coverage_resolution": "P1D"}


@pytest.fixture(scope="module")
def lst():
    return xlstsr.datasets.sample_scene(n_times=1, size=64)["lst_1km"]


def test_grid_attr_names_spatial_resolution_not_temporal():
    assert all(grid_attr(k) for k in _STALE)
    assert not any(grid_attr(k) for k in (*_TEMPORAL, "title", "source"))


def test_upscale_drops_the_inputs_resolution_attrs_keeps_temporal(lst):
    sr = xlstsr.upscale(lst.assign_attrs({**_STALE, **_TEMPORAL, "source": "MOD11A1"}), 2)
    assert not set(_STALE) & set(sr.attrs)
    assert {k: sr.attrs[k] for k in (*_TEMPORAL, "source")} == {**_TEMPORAL, "source": "MOD11A1"}


def test_coarsen_drops_the_inputs_resolution_attrs_keeps_temporal(lst):
    fine = xlstsr.upscale(lst, 2, "nearest").assign_attrs({**_STALE, **_TEMPORAL})
    coarse = xlstsr.coarsen(fine, 2)
    assert not set(_STALE) & set(coarse.attrs)
    assert {k: coarse.attrs[k] for k in _TEMPORAL} == _TEMPORAL


def test_file_attrs_carried_without_the_grids(lst):
    glob = {**_STALE, **_TEMPORAL, "title": "t"}
    assert global_attrs(glob) == {**_TEMPORAL, "title": "t"}
    assert not set(_STALE) & set(with_global_attrs(lst, glob).attrs)


def test_cli_netcdf_output_has_no_stale_resolution(lst, tmp_path):
    src, out = tmp_path / "in.nc", tmp_path / "out.nc"
    ds = lst.rename("lst").to_dataset().assign_attrs({**_STALE, **_TEMPORAL, "title": "t"})
    ds["lst"].attrs["spatial_resolution"] = "1 km"
    ds.to_netcdf(src)
    assert main(["upscale", str(src), str(out), "--factor", "2", "--quiet"]) == 0
    with xr.open_dataset(out) as back:
        assert not set(_STALE) & (set(back.attrs) | set(back["lst"].attrs))
        assert back.attrs["title"] == "t" and back.attrs["temporal_resolution"] == "daily"


def test_upscale_declares_its_nan_gaps_as_nodata(lst, tmp_path):
    gappy = lst.copy()
    gappy[:, :4, :4] = np.nan
    sr = xlstsr.upscale(gappy, 2)
    gaps = int(sr.isnull().sum())
    assert np.isnan(sr.rio.nodata) and gaps >= 64
    p = tmp_path / "sr.tif"
    sr.isel(time=0).rio.to_raster(p)  # rioxarray's own writer: the gaps masked on read
    with rasterio.open(p) as f:
        assert np.isnan(f.nodata) and int(f.read(1, masked=True).mask.sum()) == gaps
    # a user's own encoding still replaces it (a _FillValue attribute made xarray refuse it)
    named = sr.rename("lst")
    named.to_netcdf(tmp_path / "i.nc", encoding={"lst": {"dtype": "int16", "scale_factor": 0.01,
                                                         "_FillValue": -32768}})
    named.to_zarr(tmp_path / "u.zarr", encoding={"lst": {"_FillValue": -9999.0}})
    with xr.open_dataset(tmp_path / "i.nc") as back:
        assert int(back["lst"].isnull().sum()) == gaps
    lazy = xlstsr.upscale(gappy.chunk(), 2)
    assert np.isnan(lazy.rio.nodata)
    lazy.rename("lst").to_netcdf(tmp_path / "lazy.nc")
    with xr.open_dataset(tmp_path / "lazy.nc") as back:
        np.testing.assert_array_equal(back["lst"].values, sr.values)


def test_upscale_to_zarr_and_cli_tif_keep_nan_gaps(lst, tmp_path):
    gappy = lst.copy()
    gappy[:, :4, :4] = np.nan
    gaps = int(xlstsr.upscale(gappy, 2).isnull().sum())
    store = tmp_path / "sr.zarr"
    xlstsr.upscale_to_zarr(gappy, store, 2, progress=False)
    # (decode_coords="all": else spatial_ref is a data variable too, listed in the store's
    # directory order, which the first data variable was taken from)
    ds = xr.open_zarr(store, consolidated=False, decode_coords="all")
    assert list(ds.data_vars) == [gappy.name] and int(ds[gappy.name].isnull().sum()) == gaps
    src = tmp_path / "in.nc"
    gappy.rename("lst").to_dataset().to_netcdf(src)
    assert main(["upscale", str(src), str(tmp_path / "o.tif"), "--factor", "2", "--quiet"]) == 0
    with rasterio.open(tmp_path / "o.tif") as f:
        assert np.isnan(f.nodata) and int(f.read(1, masked=True).mask.sum()) == gaps


def _overpass_field(lst):
    one = lst.isel(time=0)
    return xr.concat([one, one - 10], dim="overpass").assign_coords(
        overpass=["day", "night"]).rename("lst")


def test_cli_tif_of_one_dates_overpass_field_keeps_date_and_dim(lst, tmp_path):
    src, out = tmp_path / "ov.nc", tmp_path / "ov.tif"
    field = _overpass_field(lst)
    field.to_dataset().to_netcdf(src)
    assert main(["upscale", str(src), str(out), "--factor", "2", "--quiet"]) == 0
    back = xlstsr.io.open_cog(out)
    assert back.dims == ("overpass", "y", "x")
    assert back["overpass"].values.tolist() == ["day", "night"]
    assert back["time"].values[()] == lst["time"].values[0]
    assert not {"band_dim", "time", "time_per_band"} & set(back.attrs)
    picked = xlstsr.io.open_cog(out, band=2)  # one band: its label and the date
    assert picked["overpass"].values[()] == "night" and picked["time"].values[()] == lst[
        "time"].values[0]


def test_tifs_of_several_dates_overpass_fields_stack_along_time(lst, tmp_path):
    from xlstsr.cli import _to_raster

    scene = xlstsr.datasets.sample_scene(n_times=2, size=64)["lst_1km"]
    files = []
    for i in range(2):
        files.append(tmp_path / f"f{i}.tif")
        _to_raster(_overpass_field(scene.isel(time=[i])), files[-1])
    back = xlstsr.io.open_cog(files)
    assert back.dims == ("time", "overpass", "y", "x")
    np.testing.assert_array_equal(back["time"].values, scene["time"].values)
    # a dated cube along time reads back as before
    _to_raster(scene, tmp_path / "t.tif")
    timed = xlstsr.io.open_cog(tmp_path / "t.tif")
    assert timed.dims == ("time", "y", "x")
    np.testing.assert_array_equal(timed["time"].values, scene["time"].values)


def _reference(*, inside: bool):
    """The fine truth as ASTER stores it (K x 10, fill 0 on a 4-pixel border), with 4 pixels
    at 118-139 K: fill-mixed pixels next to the fill, or (``inside``) in the valid region."""
    truth = xlstsr.datasets.sample_scene(n_times=1, size=64, cloud_fraction=0.0)["lst_250m"].isel(
        time=0)
    stored = np.round(truth.values * 10).astype(np.int16)
    stored[:4], stored[-4:], stored[:, :4], stored[:, -4:] = 0, 0, 0, 0
    row = 30 if inside else 4
    stored[row, 20:24] = [1186, 1190, 1300, 1386]
    ref = truth.copy(data=stored)
    ref.attrs = {}
    return ref


@pytest.mark.parametrize("inside", [False, True])
def test_range_warning_only_for_pixels_the_mask_scores(lst, inside):
    sr = xlstsr.upscale(lst, 4).isel(time=0)
    ref = _reference(inside=inside)
    for erode, named in ((0, True), (3, inside)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            xlstsr.evaluate(sr, ref, reference_scale=0.1, reference_nodata=0, erode=erode)
        said = [str(w.message) for w in caught if issubclass(w.category, PhysicalRangeWarning)]
        assert bool(said) == named, (erode, said)
        if named:
            assert len(said) == 1 and said[0].startswith("4 reference pixel(s)")
