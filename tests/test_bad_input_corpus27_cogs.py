"""Twenty-seventh round of bad inputs, COG writing: a failed overwrite, a float's declared fill,
an array name holding folders."""

from __future__ import annotations

import os

import dask.array as dsa
import numpy as np
import pytest
import rasterio
import rioxarray
import xarray as xr
from rasterio.transform import from_origin

import xlstsr
from xlstsr import errors
from xlstsr.io import open_cog, to_cogs


def _series(value: float, n: int = 4, size: int = 16) -> xr.DataArray:
    """A (time, y, x) float64 Kelvin series of ``value`` on a small UTM grid."""
    t = from_origin(500000.0, 4200000.0, 1000.0, 1000.0)
    da = xr.DataArray(
        np.full((n, size, size), value),
        dims=("time", "y", "x"),
        coords={"time": np.datetime64("2020-07-01") + np.arange(n).astype("timedelta64[D]"),
                "y": t.f + t.e * (np.arange(size) + 0.5),
                "x": t.c + t.a * (np.arange(size) + 0.5)},
        name="lst", attrs={"units": "K"},
    )
    return da.rio.write_crs("EPSG:32634").rio.write_transform(t)


def _means(paths) -> list[float]:
    return [float(rioxarray.open_rasterio(p, mask_and_scale=True).mean()) for p in paths]


def _listing(folder) -> dict[str, int]:
    return {f: os.stat(os.path.join(folder, f)).st_mtime_ns for f in sorted(os.listdir(folder))}


# ---- 1. a failed to_cogs(overwrite=True) leaves the old series whole ----------------------

def test_failed_overwrite_leaves_old_series_untouched(tmp_path):
    old = _series(290.0)
    paths = to_cogs(old, tmp_path)
    before = _listing(tmp_path)

    def boom(block, block_info=None):
        if block_info[0]["chunk-location"][0] == 2:
            raise RuntimeError("simulated failure at step 3")
        return block * 0 + 310.0

    lazy = old.chunk({"time": 1})
    new = lazy.copy(data=dsa.map_blocks(boom, lazy.data, dtype="float64"))
    with pytest.raises(RuntimeError, match="step 3"):
        to_cogs(new, tmp_path, overwrite=True)
    # steps 1-2 were computed and written: none of them replaced its old file
    assert _means(paths) == [290.0] * len(paths)
    assert _listing(tmp_path) == before  # no hidden partial file left, no file touched


def test_gdal_failure_while_overwriting_keeps_the_old_file_whole(tmp_path, monkeypatch):
    old = _series(290.0, n=2)
    paths = to_cogs(old, tmp_path)
    sizes = [os.path.getsize(p) for p in paths]
    real = rioxarray.raster_array.RasterArray.to_raster
    calls = []

    def fails_second(self, path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:  # GDAL stops half way: a truncated file where it wrote
            with open(path, "wb") as f:
                f.write(b"II*\x00")
            raise rasterio.errors.RasterioError("simulated write failure")
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(rioxarray.raster_array.RasterArray, "to_raster", fails_second)
    with pytest.raises(errors.XlstsrError, match="could not write"):
        to_cogs(_series(310.0, n=2), tmp_path, overwrite=True)
    monkeypatch.undo()
    assert [os.path.getsize(p) for p in paths] == sizes
    assert _means(paths) == [290.0, 290.0]
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in paths)


def test_successful_overwrite_replaces_every_file_and_leaves_no_partial(tmp_path):
    paths = to_cogs(_series(290.0), tmp_path)
    again = to_cogs(_series(310.0).chunk({"time": 1}), tmp_path, overwrite=True)
    assert again == paths
    assert _means(paths) == [310.0] * len(paths)
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in paths)


# ---- 2. a float array's declared fill is written as nodata ---------------------------------

def _celsius_with_fill() -> tuple[xr.DataArray, np.ndarray]:
    da = _series(0.0, n=2).astype("float32")
    rng = np.random.default_rng(0)
    vals = rng.uniform(20.0, 45.0, da.shape).astype("float32")
    fill = rng.random(da.shape) < 0.2
    vals[fill] = -80.0
    return da.copy(data=vals).assign_attrs(units="degC"), fill


@pytest.mark.parametrize("declare", ["write_nodata", "_FillValue", "missing_value", "lazy"])
def test_float_declared_fill_round_trips_as_missing(tmp_path, declare):
    da, fill = _celsius_with_fill()
    if declare == "write_nodata":
        da = da.rio.write_nodata(-80)
    elif declare == "lazy":
        da = da.rio.write_nodata(-80).chunk({"time": 1})
    else:
        da = da.assign_attrs({declare: -80.0})
    paths = to_cogs(da, tmp_path)
    for i, p in enumerate(paths):
        back = rioxarray.open_rasterio(p, mask_and_scale=True).squeeze("band", drop=True)
        assert not bool((back == -80).any())
        np.testing.assert_array_equal(np.isnan(back.values), fill[i])
        np.testing.assert_array_equal(back.values[~fill[i]], da.values[i][~fill[i]])
    read = open_cog(paths)
    assert read.attrs.get("units") == "degC"
    assert np.isnan(read.values[fill]).all()
    np.testing.assert_array_equal(read.values[~fill], da.values[~fill])


def test_float_without_fill_written_unchanged(tmp_path):
    da, _ = _celsius_with_fill()  # -80 here is data the array does not declare as fill
    back = open_cog(to_cogs(da, tmp_path))
    np.testing.assert_array_equal(back.values, da.values)


# ---- 3. a prefix taken from da.name is checked like an explicit one ------------------------

@pytest.mark.parametrize("name", ["LST 1km/250m", "../lst", ".."])
def test_name_holding_folders_is_refused_before_writing(tmp_path, name):
    out = tmp_path / "out"
    with pytest.raises(errors.XlstsrError, match="prefix") as err:
        to_cogs(_series(290.0, n=2).rename(name), out)
    assert "free space" not in str(err.value)
    assert not any(p.suffix == ".tif" for p in tmp_path.rglob("*"))


def test_name_holding_folders_written_with_explicit_prefix(tmp_path):
    paths = to_cogs(_series(290.0, n=2).rename("LST 1km/250m"), tmp_path, prefix="lst")
    assert [p.parent for p in paths] == [tmp_path, tmp_path]
    assert [p.name for p in paths] == ["lst_2020-07-01.tif", "lst_2020-07-02.tif"]


def test_sample_scene_written_under_its_name(tmp_path):
    lst = xlstsr.datasets.sample_scene(n_times=2, size=32)["lst_1km"]
    paths = to_cogs(lst, tmp_path)
    assert all(p.name.startswith("lst_1km_") and p.parent == tmp_path for p in paths)
