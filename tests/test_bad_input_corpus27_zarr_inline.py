"""Twenty-seventh round of bad inputs, Zarr inputs read inline: an input opened with
``inline_array=True`` (``xr.open_dataset(..., engine="zarr", chunks={}, inline_array=True)``) or
with ``dask.array.from_zarr`` was not recognised as the store it reads (xlstsr.io.zarr.files_read
only looked at dask's ``original-*`` layers, and a bare ``zarr.Array`` was no backend array):
``mode="w"`` over its own input deleted the user's store (an AllNaNError, or with a new day
concatenated a Zstd crash and an incomplete store), and an unfinished store was streamed on as
if its unwritten steps were cloud."""

from __future__ import annotations

import warnings

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
import zarr

import xlstsr
from xlstsr.errors import XlstsrError
from xlstsr.io.zarr import files_read, urls_read


@pytest.fixture(scope="module")
def lst():
    return xlstsr.datasets.sample_scene(n_times=2, size=32)["lst_1km"]


def _store(lst, path) -> str:
    p = str(path / "in.zarr")
    lst.chunk({"time": 1}).to_dataset(name="lst").to_zarr(p, zarr_format=3, consolidated=False)
    return p


def _inline(p, var="lst"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xr.open_dataset(p, engine="zarr", chunks={}, consolidated=False,
                               inline_array=True, decode_coords="all")[var]


def _from_zarr(p, lst):
    return xr.DataArray(dsa.from_zarr(p, component="lst"), dims=lst.dims, coords=lst.coords)


def _intact(p, lst) -> None:
    back = xr.open_zarr(p, consolidated=False)["lst"].values
    np.testing.assert_allclose(back, lst.values, equal_nan=True)


@pytest.mark.parametrize("opener", ["inline", "from_zarr"])
def test_an_input_read_inline_is_its_store(lst, tmp_path, opener):
    """files_read found nothing; mode='w' deleted the store and then blamed its all-NaN input."""
    p = _store(lst, tmp_path)
    src = _inline(p) if opener == "inline" else _from_zarr(p, lst)
    assert files_read(src) == {tmp_path.joinpath("in.zarr").resolve()}
    with pytest.raises(XlstsrError, match="is the source being read"):
        xlstsr.upscale_to_zarr(src, p, factor=2, mode="w", progress=False)
    _intact(p, lst)


def test_an_inline_input_with_a_new_day_written_over_its_store(lst, tmp_path):
    """The store's days read inline plus one new day in memory, written back over the store:
    the store was deleted before its days were read (a Zstd crash, an incomplete store)."""
    p = _store(lst, tmp_path)
    new = (lst.isel(time=[0]) + 1.0).assign_coords(time=[np.datetime64("2020-07-03")])
    both = xr.concat([new.rename("lst"), _inline(p)], "time")
    with pytest.raises(XlstsrError, match="is the source being read"):
        xlstsr.upscale_to_zarr(both, p, factor=2, mode="w", time_chunk=1, progress=False)
    _intact(p, lst)


def test_arrays_held_in_tasks_are_found_without_materialising(tmp_path):
    """An inlined array sits in a Blockwise layer's template (read without building its tasks),
    and in a legacy tuple task of a hand-built graph."""
    from dask.array.core import getter

    z = zarr.create_array(str(tmp_path / "big.zarr"), shape=(5000, 4), chunks=(1, 4), dtype="f4")
    a = dsa.from_array(z, chunks=(1, 4), inline_array=True)
    assert files_read(xr.DataArray(a + 1, dims=("t", "x"))) == {(tmp_path / "big.zarr").resolve()}
    assert not any(layer.is_materialized() for layer in a.__dask_graph__().layers.values()
                   if type(layer).__name__ == "Blockwise")
    legacy = dsa.Array({("legacy", 0): (getter, z, (slice(0, 1), slice(0, 4)))}, "legacy",
                       chunks=((1,), (4,)), dtype="f4")
    assert files_read(xr.DataArray(legacy, dims=("t", "x"))) == {(tmp_path / "big.zarr").resolve()}


@pytest.mark.parametrize("inline", [False, True])
def test_a_remote_input_read_by_from_zarr_is_its_url(inline):
    """A zarr.Array over an fsspec store (memory://) was no backend array: urls_read missed it,
    and its path was no local file either."""
    z = zarr.create_array("memory://c27-inline.zarr", shape=(4,), chunks=(2,), dtype="f4",
                          overwrite=True)
    da = xr.DataArray(dsa.from_zarr(z, inline_array=inline), dims=("t",))
    assert urls_read(da) == {"memory://c27-inline.zarr"}
    assert files_read(da) == set()


def _interrupt(store, regions):
    """A store as an interrupted run leaves it: regions unmarked, their chunks unwritten."""
    done = zarr.open_array(store, path="xlstsr_progress/done", mode="r+")
    for i in regions:
        done[i] = 0
    zarr.open_array(store, path="lst_1km", mode="r+")[list(regions)] = np.nan
    zarr.open_group(store, mode="r+").attrs["xlstsr_status"] = "incomplete: interrupted"


@pytest.mark.parametrize("opener", ["inline", "from_zarr", "array_path"])
def test_an_unfinished_store_read_inline_is_refused(tmp_path, opener):
    """Opened inline, the unfinished store's unwritten steps were streamed on as cloud and the
    new store marked complete."""
    lst = xlstsr.datasets.sample_scene(n_times=4, size=32)["lst_1km"]
    first = str(tmp_path / "stage1.zarr")
    xlstsr.upscale_to_zarr(lst.chunk({"time": 1}), first, factor=2, time_chunk=1,
                           progress=False)
    _interrupt(first, [2, 3])
    if opener == "inline":
        src = _inline(first, "lst_1km")
    else:  # dask.array.from_zarr of the store's array, or of the array opened at its own path
        z = (zarr.open_array(first, path="lst_1km", mode="r") if opener == "from_zarr"
             else zarr.open_array(f"{first}/lst_1km", mode="r"))
        ref = xr.open_zarr(first, consolidated=False)["lst_1km"]
        src = xr.DataArray(dsa.from_zarr(z), dims=ref.dims, coords=ref.coords, attrs=ref.attrs)
    with pytest.raises(XlstsrError, match="did not finish"):
        xlstsr.upscale_to_zarr(src, str(tmp_path / "stage2.zarr"), factor=2, progress=False)
