"""Twenty-fourth round of bad inputs, the Zarr writer: in-memory stores under dask's processes
scheduler, mode="w" over a store given as an object, distributed regions still running after a
failure, the writer stamp of a failed run, the fingerprint of the same file opened two ways."""

from __future__ import annotations

import json
import time
import warnings

import dask
import fsspec
import numpy as np
import pytest
import xarray as xr
import zarr

import xlstsr
import xlstsr.engine.to_zarr as tz
from xlstsr.engine.regions import run_regions
from xlstsr.errors import XlstsrError
from xlstsr.io.zarr import STATUS_ATTR, WRITER_ATTR


@pytest.fixture(scope="module")
def lst():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xlstsr.datasets.sample_scene(n_times=4, size=16)["lst_1km"].load()


def _flaky(monkeypatch, at=(2,), err=None):
    """Make the write of the region starting at time index ``at`` fail (an unreadable chunk)."""
    orig = tz._store_block

    def flaky(block, target, offset, block_info=None):
        if offset == at:
            raise err or OSError(5, "Input/output error", "/nowhere/in.zarr/c/2/0/0")
        return orig(block, target, offset, block_info)

    monkeypatch.setattr(tz, "_store_block", flaky)


# -- an in-memory store under dask's processes scheduler ---------------------------------------

@pytest.mark.parametrize("kind", ["MemoryStore", "dict", "memory://"])
def test_memory_store_refused_under_processes_scheduler(lst, kind):
    """Every chunk was written by a worker process into its own copy of the store: the store
    returned held only NaN, marked complete, and no error was raised."""
    store = {"MemoryStore": zarr.storage.MemoryStore(), "dict": {},
             "memory://": f"memory://corpus24-{time.time_ns()}.zarr"}[kind]
    with dask.config.set(scheduler="processes", num_workers=2), \
            pytest.raises(XlstsrError, match="threads") as info:
        xlstsr.upscale_to_zarr(lst, store, factor=2, time_chunk=1, progress=False)
    assert "processes" in str(info.value) and "path" in str(info.value)


def test_memory_store_still_written_under_threads_and_sync(lst):
    for sched in ("threads", "sync"):
        with dask.config.set(scheduler=sched):
            out = xlstsr.upscale_to_zarr(lst, zarr.storage.MemoryStore(), factor=2,
                                         time_chunk=1, progress=False)
        assert float(out.notnull().mean()) > 0


# -- mode="w" over a local store given as an object --------------------------------------------

@pytest.mark.parametrize("as_object", [zarr.storage.LocalStore, fsspec.get_mapper],
                         ids=["LocalStore", "fsspec-mapper"])
def test_mode_w_store_object_keeps_earlier_result_when_refused(lst, tmp_path, as_object):
    """Given as a LocalStore (or an fsspec local mapper), the folder was not set aside: the
    complete earlier result was deleted at once, and a run refused while computing left an
    empty, incomplete store."""
    path = str(tmp_path / "out.zarr")
    xlstsr.upscale_to_zarr(lst, path, factor=2, time_chunk=1, progress=False)
    before = xr.open_zarr(path, consolidated=False)["lst_1km"].load()
    bad = (lst - 273.15).chunk({"time": 1})  # degrees C: refused while computing
    with pytest.raises(XlstsrError) as info:
        xlstsr.upscale_to_zarr(bad, as_object(path), factor=2, time_chunk=1, progress=False,
                               mode="w")
    assert "kept as it was" in " ".join(getattr(info.value, "__notes__", []))
    after = xr.open_zarr(path, consolidated=False)
    assert after.attrs[STATUS_ATTR] == "complete"
    xr.testing.assert_identical(after["lst_1km"].load(), before)
    assert not list(tmp_path.glob(".out.zarr.replaced-*"))  # nothing left aside


def test_mode_w_store_object_replaces_once_written(lst, tmp_path):
    path = str(tmp_path / "out.zarr")
    xlstsr.upscale_to_zarr(lst, path, factor=2, time_chunk=1, progress=False)
    out = xlstsr.upscale_to_zarr(lst + 1.0, zarr.storage.LocalStore(path), factor=2,
                                 time_chunk=1, progress=False, mode="w")
    ref = xlstsr.upscale_to_zarr(lst + 1.0, str(tmp_path / "ref.zarr"), factor=2,
                                 time_chunk=1, progress=False)
    np.testing.assert_array_equal(out.values, ref.values)
    assert not list(tmp_path.glob(".out.zarr.replaced-*"))


# -- distributed: the regions in flight are stopped before the error is raised -----------------

def test_distributed_run_regions_waits_for_running_regions(tmp_path):
    """run_regions raised at the first failed region while the others kept running on the
    workers: they wrote into the store after upscale_to_zarr had put the earlier one back."""
    distributed = pytest.importorskip("distributed")
    marker = tmp_path / "region-1-finished"

    def region(i):
        if i == 0:
            raise ValueError("region 0 refused")
        time.sleep(1.0)  # a larger region, still running when region 0 fails
        marker.write_text("written")
        return True

    def write(i):
        return dask.delayed(region)(i)

    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        with pytest.raises(ValueError, match="region 0"):
            run_regions([0, 1], write, lambda i, res: None, 2)
        # region 1 ended before the error reached the caller
        assert marker.exists()


# -- a failed run's writer stamp ---------------------------------------------------------------

def test_failed_run_removes_its_writer_stamp(lst, tmp_path, monkeypatch):
    """The stamp stayed while the process lived (a notebook): the resume the error advised,
    from a terminal, was refused as 'being written now by another run ... kill N'."""
    store = str(tmp_path / "out.zarr")
    _flaky(monkeypatch)
    with pytest.raises(XlstsrError, match="mode='resume'"):
        xlstsr.upscale_to_zarr(lst.chunk({"time": 2}), store, factor=2, time_chunk=2,
                               progress=False, regions_in_flight=1)
    attrs = dict(zarr.open_group(store, mode="r").attrs)
    assert attrs[STATUS_ATTR] != "complete"
    assert WRITER_ATTR not in attrs
    monkeypatch.undo()
    out = xlstsr.upscale_to_zarr(lst, store, factor=2, mode="resume", progress=False)
    assert float(out.notnull().mean()) > 0


# -- the fingerprint of the same file opened two ways ------------------------------------------

def test_fingerprint_ignores_cf_encoding_attributes(lst):
    """'grid_mapping' is an attribute under xarray's default decode_coords and an encoding
    under decode_coords="all": the same file opened two ways could not resume a store."""
    plain = lst.copy()
    plain.attrs.pop("grid_mapping", None)
    cf = plain.copy()
    cf.attrs.update(grid_mapping="spatial_ref", coordinates="time")
    assert tz.array_fingerprint(cf) == tz.array_fingerprint(plain)
    other = plain.copy()
    other.attrs["units"] = "degC"  # another attribute still counts
    assert tz.array_fingerprint(other) != tz.array_fingerprint(plain)
    # a declared fill value changes what an undecoded input decodes to: a resume with one
    # mixed pixels kept as temperatures with the same pixels masked (review of session 23)
    filled = plain.copy()
    filled.attrs["_FillValue"] = -999.0
    assert tz.array_fingerprint(filled) != tz.array_fingerprint(plain)


@pytest.mark.parametrize("reopened", ["as_then", "decode_coords_all"])
def test_store_fingerprinted_with_grid_mapping_attribute_still_resumes(lst, tmp_path,
                                                                        monkeypatch, reopened):
    """A store started before the CF encoding attributes were left out recorded the input's
    fingerprint with them: it still resumes, opened as then (grid_mapping an attribute) or
    with decode_coords="all" (grid_mapping in the encoding)."""
    cf = lst.copy()
    cf.attrs["grid_mapping"] = "spatial_ref"
    cf.encoding.pop("grid_mapping", None)
    store = str(tmp_path / "out.zarr")
    _flaky(monkeypatch)
    with pytest.raises(XlstsrError):
        xlstsr.upscale_to_zarr(cf.chunk({"time": 2}), store, factor=2, time_chunk=2,
                               progress=False, regions_in_flight=1)
    monkeypatch.undo()
    # as the earlier version recorded it: all attributes hashed
    new, before, *_ = tz._array_fingerprints(cf.chunk({"time": 2}))
    assert new != before
    root = zarr.open_group(store, mode="r+")
    args = json.loads(root.attrs["xlstsr_arguments"])
    assert args["input"] == new
    args["input"] = before
    root.attrs["xlstsr_arguments"] = json.dumps(args, sort_keys=True)
    root.attrs["xlstsr_fingerprint"] = "0" * 32  # the earlier version's own hash
    again = cf.copy()
    if reopened == "decode_coords_all":
        again.attrs.pop("grid_mapping")
        again.encoding["grid_mapping"] = "spatial_ref"
    out = xlstsr.upscale_to_zarr(again, store, factor=2, mode="resume", progress=False)
    assert dict(zarr.open_group(store, mode="r").attrs)[STATUS_ATTR] == "complete"
    ref = xlstsr.upscale_to_zarr(cf, str(tmp_path / "ref.zarr"), factor=2, time_chunk=2,
                                 progress=False)
    np.testing.assert_array_equal(out.values, ref.values)


def test_store_of_other_input_still_refused_on_resume(lst, tmp_path, monkeypatch):
    store = str(tmp_path / "out.zarr")
    _flaky(monkeypatch)
    with pytest.raises(XlstsrError):
        xlstsr.upscale_to_zarr(lst.chunk({"time": 2}), store, factor=2, time_chunk=2,
                               progress=False, regions_in_flight=1)
    monkeypatch.undo()
    other = lst.copy()
    other.attrs["source"] = "re-processed"
    with pytest.raises(XlstsrError, match="'input'"):
        xlstsr.upscale_to_zarr(other, store, factor=2, mode="resume", progress=False)


def test_guide_fingerprints_keep_the_earlier_ones(lst):
    """The guide's fingerprint leaves the CF encoding attributes out too; the one recorded
    before (all attributes) is given beside it, in the guide's structure, for the resume."""
    g = lst.isel(time=0, drop=True).copy()
    g.attrs["grid_mapping"] = "spatial_ref"
    plain = g.copy()
    plain.attrs.pop("grid_mapping")
    new, before, *_ = tz._guide_fingerprints({"ndvi": g, "other": [g, None]})
    # a dict guide in its order (session 41: the order of its bands reaches the method)
    assert new == [["ndvi", tz.array_fingerprint(plain)],
                   ["other", [tz.array_fingerprint(plain), None]]]
    assert before == [["ndvi", tz._array_fingerprints(g)[1]],
                      ["other", [tz._array_fingerprints(g)[1], None]]]
    assert before != new
