"""Twenty-fourth round of bad inputs (grid): x/y labels stored as float32 (a NetCDF's) given
labels 0.1 m off the file's, a field stored south-up (or east-to-west) coarsened onto labels
1e-9 m off the north-up field's (xarray's arithmetic then dropped most pixels), and results
keeping the storage encoding of the input's coordinates (a Zarr v2 ``compressors``, which a
Zarr v3 store refused).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr.grid import coarse_grid, fine_grid, with_grid
from xlstsr.validate import _written_transform


def _float32_netcdf(tmp_path) -> tuple[xr.DataArray, xr.DataArray]:
    """The real MOD11A1 sample, and the same read from a NetCDF holding its x/y as float32
    (its GeoTransform written exactly beside them)."""
    lst = xlstsr.datasets.modis_sample()["lst_day"].isel(time=slice(0, 2)).load()
    path = tmp_path / "lst_f32coords.nc"
    lst.to_dataset(name="lst").to_netcdf(
        path, encoding={"x": {"dtype": "float32"}, "y": {"dtype": "float32"}})
    with xr.open_dataset(path, decode_coords="all") as f:
        lst32 = f["lst"].load()
    return lst, lst32


def _grid_field(template: xr.DataArray, y: np.ndarray, x: np.ndarray, t) -> xr.DataArray:
    """A field on the grid (y, x, t) as xlstsr writes its results."""
    lead = tuple(d for d in template.dims if d not in ("y", "x"))
    shape = (*(template.sizes[d] for d in lead), y.size, x.size)
    return with_grid(np.zeros(shape, np.float32), template, y, x, t, (*lead, "y", "x"))


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_float32_labels_give_the_files_grid_in_float32(tmp_path, factor):
    """The file's exact GeoTransform was refused (the float32 labels miss it by 0.1 m, over
    the 1e-9 tolerance) and the grids came from the transform recomputed from the rounded
    labels, in float64: ``coarsen(upscale(lst)) - lst`` kept 2 x 2 of 64 x 64 pixels."""
    lst, lst32 = _float32_netcdf(tmp_path)
    assert lst32.y.dtype == lst32.x.dtype == np.float32
    assert _written_transform(lst32) == _written_transform(lst)
    fy, fx, ft = fine_grid(lst32, factor)
    ry, rx, rt = fine_grid(lst, factor)  # the float64 field's grid, on the same transform
    assert fy.dtype == fx.dtype == np.float32 and ft == rt
    np.testing.assert_array_equal(fy, ry.astype(np.float32))
    np.testing.assert_array_equal(fx, rx.astype(np.float32))
    cy, cx, _ = coarse_grid(_grid_field(lst32, fy, fx, ft), factor)  # coarsen(upscale(lst))
    np.testing.assert_array_equal(cy, lst32.y.values)
    np.testing.assert_array_equal(cx, lst32.x.values)
    n = 64 // factor * factor
    t = lst32.isel(y=slice(0, n), x=slice(0, n))
    cy, cx, ct = coarse_grid(t, factor)  # upscale(coarsen(t))
    assert cy.dtype == np.float32
    by, bx, _ = fine_grid(_grid_field(t, cy, cx, ct), factor)
    np.testing.assert_array_equal(by, t.y.values)
    np.testing.assert_array_equal(bx, t.x.values)


def test_coarsen_of_float32_labels_gives_the_coarse_files_labels(tmp_path):
    """xlstsr.coarsen of the float32-labelled field: the float32 labels of the float64
    field's coarse grid, which xarray joins with those of a float32 1 km file."""
    lst, lst32 = _float32_netcdf(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c32, c64 = xlstsr.coarsen(lst32, 2), xlstsr.coarsen(lst, 2)
    for d in ("y", "x"):
        assert c32[d].dtype == np.float32
        np.testing.assert_array_equal(c32[d].values, c64[d].values.astype(np.float32))
    assert (c32 - c64.assign_coords(y=c64.y.astype(np.float32),
                                    x=c64.x.astype(np.float32))).shape == c32.shape


@pytest.mark.parametrize("flip", [("y",), ("x",), ("y", "x")])
def test_coarsen_of_a_flipped_field_gives_the_north_up_labels(flip):
    """A field stored south-up (NetCDF latitude ascending) kept the north-up GeoTransform of
    the field it was flipped from; it was refused for both axes, and the labels recomputed
    came 1e-9 m off: ``coarse_truth - lst_1km`` kept 4 x 10 of 16 x 16 pixels."""
    s = xlstsr.datasets.sample_scene(n_times=1, size=64)
    truth, lst_1km = s["lst_250m"], s["lst_1km"]
    real = xlstsr.datasets.modis_sample()["lst_day"].isel(time=0).load()
    rev = {d: slice(None, None, -1) for d in flip}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for field, factor, coarse in ((truth, 4, lst_1km), (real, 2, xlstsr.coarsen(real, 2))):
            flipped = field.isel(rev)
            cy, cx, _ = coarse_grid(flipped, factor)
            ny, nx, _ = coarse_grid(field, factor)
            np.testing.assert_array_equal(cy, ny[::-1] if "y" in flip else ny)
            np.testing.assert_array_equal(cx, nx[::-1] if "x" in flip else nx)
            out = xlstsr.coarsen(flipped, factor)
            for d in ("y", "x"):
                np.testing.assert_array_equal(np.sort(out[d].values), np.sort(coarse[d].values))
            assert (out - coarse).shape[-2:] == coarse.shape[-2:]


def test_results_drop_the_storage_encoding_of_the_input_coordinates(tmp_path):
    """upscale's result kept ``time``'s Zarr v2 encoding (``compressors``: numcodecs Blosc):
    writing it to a Zarr v3 store raised zarr's "Expected a BytesBytesCodec"."""
    pytest.importorskip("zarr")
    scene = xlstsr.datasets.sample_scene(n_times=2, size=64)["lst_1km"]
    src = tmp_path / "lst_v2.zarr"
    scene.to_dataset(name="lst").to_zarr(src, zarr_format=2, consolidated=True)
    cube = xr.open_zarr(src, decode_coords="all")["lst"]
    storage = {"compressors", "compressor", "filters", "chunks", "preferred_chunks"}
    assert storage & set(cube.time.encoding)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = {"upscale": xlstsr.upscale(cube, 4), "coarsen": xlstsr.coarsen(cube, 2)}
    for name, out in results.items():
        assert not storage & set(out.time.encoding), name
        # what the values mean is kept
        assert out.time.encoding.get("units") == cube.time.encoding["units"]
        out.load().to_dataset(name="lst").to_zarr(tmp_path / f"{name}.zarr", zarr_format=3,
                                                 consolidated=False)
        with xr.open_zarr(tmp_path / f"{name}.zarr") as back:
            np.testing.assert_array_equal(back.time.values, cube.time.values)
    assert storage & set(cube.time.encoding)  # the input's own encoding is untouched


def test_round_trips_of_a_file_with_float32_labels_keep_every_pixel(tmp_path):
    """The real MOD11A1 sample in a NetCDF with float32 x/y: `coarsen(upscale(lst)) - lst` kept
    2 x 2 of 64 x 64 pixels and `upscale(coarsen(t)) - t` 0 x 0 (decoding recomputed the file's
    exact transform from the rounded labels; xarray joins on exact labels)."""
    lst = xlstsr.datasets.modis_sample()["lst_day"].isel(time=slice(0, 2)).load()
    path = tmp_path / "lst.nc"
    lst.to_dataset(name="lst").to_netcdf(
        path, encoding={"x": {"dtype": "float32"}, "y": {"dtype": "float32"}})
    lst32 = xr.open_dataset(path, decode_coords="all")["lst"].load()
    assert lst32.y.dtype == np.float32
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = xlstsr.coarsen(xlstsr.upscale(lst32, 4), 4)
        t = lst32.isel(y=slice(0, 64), x=slice(0, 64))
        sr = xlstsr.upscale(xlstsr.coarsen(t, 4), 4)
    assert (back - lst32).shape[-2:] == lst32.shape[-2:]
    assert (sr - t).shape[-2:] == t.shape[-2:]


def test_results_keep_a_float_time_encoding(tmp_path):
    """An input whose time is stored as float days (overpass times, 10:30): results dropped
    the float dtype with the store's codecs, and every write of them warned "Times can't be
    serialized faithfully to int64" (found in the review of session 23)."""
    lst = xlstsr.datasets.modis_sample()["lst_day"].isel(time=slice(0, 2)).load()
    lst = lst.assign_coords(time=np.array(["2020-07-01T10:30", "2020-07-02T10:40"],
                                          dtype="datetime64[ns]"))
    lst.time.encoding = {"units": "days since 2000-01-01", "dtype": "float64"}
    lst.to_dataset(name="lst").to_netcdf(tmp_path / "in.nc")
    cube = xr.open_dataset(tmp_path / "in.nc", decode_coords="all")["lst"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sr = xlstsr.upscale(cube, 4)
    assert sr.time.encoding.get("dtype") == np.float64
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no serialisation warning
        sr.to_dataset(name="lst").to_netcdf(tmp_path / "out.nc")
    back = xr.open_dataset(tmp_path / "out.nc")
    np.testing.assert_array_equal(back.time.values, lst.time.values)
