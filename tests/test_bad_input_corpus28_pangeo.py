"""Twenty-eighth round of bad inputs, Pangeo-style workflows: a list of files with variable=, a
Dataset's global attributes and history, a stacked (time, overpass) cube written as COGs, and the
advice to read two stores together."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import rasterio
import xarray as xr
import zarr
from rasterio.transform import from_origin

import xlstsr
from xlstsr import errors
from xlstsr.cli import main
from xlstsr.io import open_cog, to_cogs

GLOBALS = {"title": "MOD11A1 v061 subset", "Conventions": "CF-1.8",
           "source": "MOD11A1 v061 via AppEEARS", "institution": "NASA LP DAAC",
           "history": "2024-01-01 ncks -d time,0,2 in.nc out.nc"}


def _cube(n: int = 3, size: int = 16, name: str = "lst_day") -> xr.DataArray:
    """A (time, y, x) Kelvin cube with some texture on a small UTM grid."""
    t = from_origin(500000.0, 4200000.0, 1000.0, 1000.0)
    rng = np.random.default_rng(0)
    da = xr.DataArray(
        290.0 + rng.normal(0, 2, (n, size, size)).astype("float32"),
        dims=("time", "y", "x"),
        coords={"time": np.datetime64("2020-01-05", "ns") + np.arange(n) * np.timedelta64(7, "D"),
                "y": t.f + t.e * (np.arange(size) + 0.5),
                "x": t.c + t.a * (np.arange(size) + 0.5)},
        name=name, attrs={"units": "K", "long_name": "LST"},
    )
    return da.rio.write_crs("EPSG:32634").rio.write_transform(t)


def _dataset() -> xr.Dataset:
    day = _cube()
    ds = xr.Dataset({"lst_day": day, "lst_night": (day - 10).assign_attrs(day.attrs)})
    return ds.assign_attrs(GLOBALS)


# 1. a list of files with variable=


def test_to_zarr_list_of_files_with_variable_is_named_not_a_pathlib_typeerror(tmp_path):
    paths = [str(tmp_path / "MOD11A1.A2020001.LST_Night_1km.tif"),
             str(tmp_path / "MOD11A1.A2020002.LST_Night_1km.tif")]
    for kw in ({}, {"variable": "LST_Night_1km"}):
        with pytest.raises(errors.InputTypeError, match="open_cog"):
            xlstsr.upscale_to_zarr(paths, str(tmp_path / "sr.zarr"), 4, progress=False, **kw)


# 2. a Dataset's global attributes and history


def _kept(attrs: dict, line: str = "xlstsr") -> None:
    for k in ("title", "source", "institution", "Conventions"):
        assert attrs.get(k) == GLOBALS[k], k
    hist = str(attrs.get("history", "")).splitlines()
    assert hist[0] == GLOBALS["history"] and line in hist[-1] and len(hist) == 2


def test_dataset_upscale_keeps_global_attrs_and_appends_to_history():
    ds = _dataset()
    sr = ds.lstsr.upscale(2, variable="lst_day")
    _kept(sr.attrs)
    assert sr.attrs["units"] == "K" and sr.attrs["long_name"] != GLOBALS["title"]
    # the variable's own win over the file's; storage attributes of the file are not carried
    ds2 = ds.assign_attrs(source="file", scale_factor=0.02)
    ds2["lst_day"].attrs["source"] = "variable"
    out = xlstsr.upscale(ds2, 2, variable="lst_day")
    assert out.attrs["source"] == "variable" and "scale_factor" not in out.attrs
    # the function's own DataArray input is as it was
    assert "title" not in xlstsr.upscale(ds["lst_day"], 2).attrs


def test_upscale_to_zarr_writes_dataset_global_attrs_as_the_store_root(tmp_path):
    store = str(tmp_path / "sr.zarr")
    xlstsr.upscale_to_zarr(_dataset(), store, 2, variable="lst_day", progress=False)
    root = dict(zarr.open_group(store, mode="r").attrs)
    _kept(root)
    assert root["xlstsr_status"] == "complete" and "xlstsr_fingerprint" in root
    back = xr.open_zarr(store, consolidated=False, decode_coords="all")
    _kept(back["lst_day"].attrs)
    # the store as the next input: its history is not repeated, its bookkeeping not carried
    back["lst_day"].attrs.pop("xlstsr_method")  # (upscaled again on purpose)
    again = xlstsr.upscale(back, 2, variable="lst_day")
    hist = again.attrs["history"].splitlines()
    assert hist[0] == GLOBALS["history"] and len(hist) == 3
    assert "xlstsr_fingerprint" not in again.attrs and "xlstsr_status" not in again.attrs
    # a resume of the store (its fingerprint of the variable's own attributes) runs
    xlstsr.upscale_to_zarr(_dataset(), store, 2, variable="lst_day", progress=False,
                           mode="resume")


def test_cli_upscale_netcdf_and_zarr_keep_the_input_global_attrs(tmp_path, capsys):
    src = tmp_path / "in.nc"
    _dataset().to_netcdf(src)
    for out in ("out.nc", "out.zarr"):
        assert main(["upscale", str(src), str(tmp_path / out), "--factor", "2",
                     "--variable", "lst_day", "--quiet"]) == 0
    with xr.open_dataset(tmp_path / "out.nc") as o:
        _kept(dict(o.attrs))
        _kept(dict(o["lst_day"].attrs))
    _kept(dict(zarr.open_group(str(tmp_path / "out.zarr"), mode="r").attrs))
    assert main(["upscale", str(src), str(tmp_path / "out.zarr"), "--factor", "2",
                 "--variable", "lst_day", "--quiet", "--resume"]) == 0


# 3. a stacked (time, overpass) cube written as COGs


def _stacked() -> xr.DataArray:
    ds = _dataset()
    cube = xr.concat([ds.lst_day, ds.lst_night],
                     dim=xr.DataArray(["day", "night"], dims="overpass", name="overpass"))
    return cube.transpose("time", "overpass", "y", "x").rename("lst").stack(
        t=("time", "overpass")).transpose("t", "y", "x")


def _check_stacked_files(paths, st):
    assert [p.name for p in paths[:2]] == ["lst_2020-01-05_day.tif", "lst_2020-01-05_night.tif"]
    with rasterio.open(paths[1]) as f:
        assert f.tags()["time"].startswith("2020-01-05")
    one = open_cog(paths[1])  # one file: its date and overpass
    assert one["time"].values == st["time"].values[1] and str(one["overpass"].values) == "night"
    back = open_cog(paths)  # all: the stack as written, dates and overpasses
    assert back.dims[0] == "t" and list(back.indexes["t"].names) == ["time", "overpass"]
    np.testing.assert_array_equal(back["time"].values, st["time"].values)
    assert list(back["overpass"].values) == list(st["overpass"].values)
    np.testing.assert_allclose(back.values, st.transpose("t", "y", "x").values, atol=1e-4)
    day = open_cog([p for p in paths if p.name.endswith("_day.tif")])  # one overpass: dated
    np.testing.assert_array_equal(day["time"].values, np.unique(st["time"].values))


def test_to_cogs_of_a_stacked_cube_names_and_tags_each_step_and_reads_back(tmp_path):
    st = _stacked()
    _check_stacked_files(to_cogs(st, tmp_path / "a"), st)
    # its levels as coordinates along the dim (the store upscale_to_zarr writes, reopened)
    plain = st.reset_index("t")
    _check_stacked_files(to_cogs(plain, tmp_path / "b"), st)


def test_to_cogs_of_a_stack_without_dates_keeps_numbered_names(tmp_path):
    st = _stacked()
    st = xr.DataArray(st.values, dims=st.dims, coords={
        "scene": ("t", np.arange(6) // 2), "overpass": ("t", ["day", "night"] * 3),
        "y": st.y, "x": st.x, "spatial_ref": st.spatial_ref}, name="lst").rio.write_crs(
        st.rio.crs)
    paths = to_cogs(st, tmp_path)
    assert [p.name for p in paths[:2]] == ["lst_0.tif", "lst_1.tif"]


def test_to_cogs_of_upscale_to_zarr_stacked_output(tmp_path):
    st = _stacked()
    r = xlstsr.upscale_to_zarr(st, str(tmp_path / "sr.zarr"), 2, progress=False)
    reopened = xr.open_zarr(str(tmp_path / "sr.zarr"), consolidated=False,
                            decode_coords="all")["lst"]
    for i, arr in enumerate((r, reopened)):
        paths = to_cogs(arr, tmp_path / f"c{i}")
        assert paths[0].name == "lst_2020-01-05_day.tif"
        back = open_cog(paths)
        np.testing.assert_array_equal(back["time"].values, st["time"].values)


# 4. reading an old and a new store together; to_cogs of a Dataset


def test_extend_advice_reads_both_stores_with_their_crs(tmp_path):
    lst = _cube(n=5)
    a, b = str(tmp_path / "a.zarr"), str(tmp_path / "b.zarr")
    xlstsr.upscale_to_zarr(lst.isel(time=slice(0, 3)), a, 2, progress=False)
    with pytest.raises(errors.XlstsrError) as err:
        xlstsr.upscale_to_zarr(lst, a, 2, progress=False, mode="resume")
    hint = re.search(r"`(xr\.open_mfdataset\(\[old, new\][^`]*)`", str(err.value))
    assert hint and "decode_coords='all'" in hint.group(1)
    xlstsr.upscale_to_zarr(lst.isel(time=slice(3, 5)), b, 2, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no consolidated-metadata warning either
        m = eval(hint.group(1).replace("[old, new]", "[a, b]"), {"xr": xr, "a": a, "b": b})
    assert m["lst_day"].rio.crs is not None and m.sizes["time"] == 5
    assert m["spatial_ref"].dims == ()
    assert len(to_cogs(m["lst_day"], tmp_path / "cogs")) == 5


def test_to_cogs_of_a_dataset_names_its_rasters_and_the_crs_variable(tmp_path):
    ds = _dataset()
    with pytest.raises(errors.InputTypeError) as err:
        to_cogs(ds, tmp_path)
    msg = str(err.value)
    assert "ds['lst_day']" in msg and "'LST'" not in msg and "decode_coords" not in msg
    # the CRS read as a data variable (xarray's default decode_coords): named, not a raster
    ds.to_zarr(tmp_path / "in.zarr", consolidated=False)
    raw = xr.open_zarr(tmp_path / "in.zarr", consolidated=False, decode_coords=False)
    with pytest.raises(errors.InputTypeError) as err:
        to_cogs(raw, tmp_path / "c")
    msg = str(err.value)
    assert "lst_day" in msg and "lst_night" in msg and "decode_coords='all'" in msg
    assert "rasters ['spatial_ref'" not in msg and ", 'spatial_ref'" not in msg
