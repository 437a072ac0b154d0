"""Fixes of round 39 in the engine and the Zarr reader: a resume of the same cube whose dates
come back in another datetime64 unit, chunk writes after a failed run returned (fewer regions
than regions_in_flight), xarray.to_zarr keywords blamed on the method, and a store whose arrays
zarr skips (GDAL 3.10's Zarr v3) opened as an empty Dataset."""

from __future__ import annotations

import json
import os
import re
import threading
import time

import dask
import numpy as np
import pytest
import xarray as xr
import zarr

import xlstsr
from xlstsr.engine import to_zarr as tz
from xlstsr.errors import XlstsrError


def _cube(n: int = 2, size: int = 32) -> xr.DataArray:
    return xlstsr.datasets.sample_scene(n_times=n, size=size)["lst_1km"].compute()


# --- R1: dates in another datetime64 unit ------------------------------------------------------


def test_resume_accepts_dates_in_another_datetime_unit(tmp_path):
    """A store written on the cube read from its file (dates in [ns]) resumes on the same cube
    in memory, whose dates a date array leaves in [s] (the coordinate's bytes differed)."""
    lst = _cube(3)
    days = np.array(["2020-07-01", "2020-07-02", "2020-07-03"], dtype="datetime64[D]")
    ns = lst.assign_coords(time=days.astype("datetime64[ns]"))
    s = lst.assign_coords(time=days.astype("datetime64[s]"))
    assert s.time.dtype == np.dtype("datetime64[s]")
    store = tmp_path / "sr.zarr"
    xlstsr.upscale_to_zarr(ns, store, 4, "bicubic", progress=False, regions_in_flight=1)
    out = xlstsr.upscale_to_zarr(s, store, 4, "bicubic", progress=False, mode="resume",
                                 regions_in_flight=1)
    assert out.sizes["time"] == 3
    assert tz.array_fingerprint(s) == tz.array_fingerprint(ns)


def test_store_written_before_from_second_dates_still_resumes(tmp_path, monkeypatch):
    """A store started before dates were put in [ns] (its fingerprint of the [s] bytes, as
    written with _ns_dates doing nothing) resumes on the same [s] cube (review 39c)."""
    days = np.array(["2020-07-01", "2020-07-02", "2020-07-03"], dtype="datetime64[s]")
    s = _cube(3).assign_coords(time=days)
    store = tmp_path / "sr.zarr"
    with monkeypatch.context() as m:
        m.setattr(tz, "_ns_dates", lambda v: v)
        before = tz.array_fingerprint(s)
        xlstsr.upscale_to_zarr(s, store, 4, "bicubic", progress=False, regions_in_flight=1)
    assert before != tz.array_fingerprint(s)  # today's differs: the one of before is kept too
    assert before in tz._array_fingerprints(s)
    out = xlstsr.upscale_to_zarr(s, store, 4, "bicubic", progress=False, mode="resume",
                                 regions_in_flight=1)
    assert out.sizes["time"] == 3


def test_ns_dates_kept_as_they_are():
    """[ns] coordinates are hashed as before (the stores written before still resume); dates
    out of the [ns] range keep their unit (no silent wrap)."""
    v = np.array(["2020-01-01", "NaT"], dtype="datetime64[ns]")
    assert tz._ns_dates(v) is v
    far = np.array(["3000-01-01"], dtype="datetime64[D]")
    assert tz._ns_dates(far).dtype == far.dtype
    d = np.array([1, 2], dtype="timedelta64[D]")
    assert tz._ns_dates(d).dtype == np.dtype("timedelta64[ns]")


def test_refused_resume_names_the_part_of_the_input_that_differs(tmp_path):
    lst = _cube(2)
    store = tmp_path / "sr.zarr"
    xlstsr.upscale_to_zarr(lst, store, 4, "bicubic", progress=False, regions_in_flight=1)
    other = lst.copy()
    other.attrs = {**lst.attrs, "title": "another product"}
    with pytest.raises(XlstsrError, match="differ in \\['input'\\]") as e:
        xlstsr.upscale_to_zarr(other, store, 4, "bicubic", progress=False, mode="resume",
                               regions_in_flight=1)
    assert "the input's attributes differ" in str(e.value)
    assert "values" not in str(e.value).split("the input's")[1].split(";")[0]
    warmer = lst + 1.0
    warmer.attrs = lst.attrs
    with pytest.raises(XlstsrError, match="the input's values differ"):
        xlstsr.upscale_to_zarr(warmer, store, 4, "bicubic", progress=False, mode="resume",
                               regions_in_flight=1)


# --- R2: no chunk write after the failed run returned ------------------------------------------


def test_no_chunk_write_after_a_failed_run_returned(tmp_path, monkeypatch):
    """Fewer regions than regions_in_flight: one region's write fails while another's is
    running; the call returns only once that write ended, so the store it removed is not
    recreated by it (a corrected rerun was refused as "a folder of other files")."""
    lst = _cube(2)
    store = tmp_path / "sr.zarr"
    orig = tz._store_block
    returned = threading.Event()
    late: list[tuple] = []

    def slow_or_failing(block, target, offset, block_info=None):
        if offset == (0,):
            raise XlstsrError("simulated problem found in one tile while computing")
        time.sleep(1.0)  # a slow disk: this write is in flight when the other fails
        r = orig(block, target, offset, block_info=block_info)
        if returned.is_set():
            late.append(offset)
        return r

    monkeypatch.setattr(tz, "_store_block", slow_or_failing)
    with dask.config.set(num_workers=4), pytest.raises(XlstsrError, match="simulated"):
        xlstsr.upscale_to_zarr(lst, store, 4, "bicubic", progress=False, time_chunk=1,
                               regions_in_flight=4)
    returned.set()
    time.sleep(1.5)
    assert late == []
    assert not store.exists()
    monkeypatch.setattr(tz, "_store_block", orig)
    out = xlstsr.upscale_to_zarr(lst, store, 4, "bicubic", progress=False, time_chunk=1,
                                 regions_in_flight=4)
    ref = xlstsr.upscale_to_zarr(lst, tmp_path / "one.zarr", 4, "bicubic", progress=False,
                                 time_chunk=1, regions_in_flight=1)
    np.testing.assert_array_equal(out.values, ref.values)


# --- Z1: to_zarr keywords ----------------------------------------------------------------------


@pytest.mark.parametrize("kw, advice", [
    ({"storage_options": {"anon": False}}, "FsspecStore.from_url"),
    ({"zarr_format": 2}, "consolidate_metadata"),
    ({"consolidated": True}, "consolidate_metadata"),
    ({"encoding": {"lst": {"dtype": "float32"}}}, "compressors="),
    ({"append_dim": "time"}, "cannot be extended"),
    ({"region": {"time": slice(0, 1)}}, "cannot be extended"),
])
def test_to_zarr_keywords_get_advice_not_blamed_on_method(tmp_path, kw, advice):
    lst = _cube(2, 16)
    with pytest.raises(XlstsrError) as e:
        xlstsr.upscale_to_zarr(lst, tmp_path / "o.zarr", 4, "bicubic", progress=False, **kw)
    msg = str(e.value)
    assert not msg.startswith("method "), msg
    assert advice in msg and f"no argument {next(iter(kw))!r}" in msg


def test_consolidate_advice_leaves_a_readable_store(tmp_path):
    """What the zarr_format / consolidated advice says works on a store upscale_to_zarr wrote."""
    store = tmp_path / "o.zarr"
    xlstsr.upscale_to_zarr(_cube(2, 16), store, 4, "bicubic", progress=False)
    zarr.consolidate_metadata(str(store))
    assert "lst_1km" in xlstsr.io.open_zarr(store).data_vars


def test_zarr_v2_copy_advice_runs(tmp_path):
    """The zarr_format advice's copy to Zarr v2, run as written (without drop_encoding the
    store's v3 codecs failed the v2 write, review 39c)."""
    store, other = tmp_path / "o.zarr", tmp_path / "v2.zarr"
    lst = _cube(2, 16)
    with pytest.raises(XlstsrError) as e:
        xlstsr.upscale_to_zarr(lst, store, 4, "bicubic", progress=False, zarr_format=2)
    xlstsr.upscale_to_zarr(lst, store, 4, "bicubic", progress=False)
    code = re.search(r"`(xr\.open_zarr\(store[^`]*)`", str(e.value))[1]
    eval(code, {"xr": xr, "store": str(store), "other": str(other)})
    assert "lst_1km" in xlstsr.io.open_zarr(other).data_vars


def _fails(i):
    raise ValueError(f"region {i} failed")


def test_interrupt_while_waiting_leaves_no_stop_flag(monkeypatch):
    """A second Ctrl-C while the run waited for its running writes left the stop flag set in
    this thread: every later run here stopped at once (review 39c)."""
    from xlstsr.engine import regions

    def interrupted(self, *a, **k):
        ThreadPool.shutdown(self, *a, **k)
        raise KeyboardInterrupt

    from concurrent.futures import ThreadPoolExecutor as ThreadPool

    monkeypatch.setattr(regions._ContextThreadPool, "shutdown", interrupted)
    with pytest.raises(KeyboardInterrupt), dask.config.set(scheduler="threads"):
        regions._run_local([0], lambda i: dask.delayed(_fails)(i), lambda i, r: None, 4,
                           "threads")
    flag = regions._CANCEL.get()
    assert flag is None or not flag.is_set()


# --- Z4: arrays zarr skips ---------------------------------------------------------------------


def _store_without_codecs(tmp_path):
    """A Zarr v3 store whose array lacks the required "codecs", as GDAL 3.10 writes them."""
    p = tmp_path / "gdal_v3.zarr"
    xr.Dataset({"band": (("Y", "X"), np.full((8, 8), 290.0, "float32"))}).to_zarr(
        p, zarr_format=3, consolidated=False)
    meta = json.loads((p / "band" / "zarr.json").read_text())
    del meta["codecs"]
    (p / "band" / "zarr.json").write_text(json.dumps(meta))
    return p


@pytest.mark.filterwarnings("ignore")
def test_store_with_unreadable_arrays_is_refused_with_their_names(tmp_path):
    p = _store_without_codecs(tmp_path)
    for call in (lambda: xlstsr.io.open_zarr(p),
                 lambda: xlstsr.io.open_zarr(p, variable="band")):
        with pytest.raises(XlstsrError) as e:
            call()
        msg = str(e.value)
        assert "'band'" in msg and "codecs" in msg and "ZARR_V2" in msg, msg
        assert "it has []" not in msg


def test_readable_store_still_opens(tmp_path):
    p = tmp_path / "ok.zarr"
    xr.Dataset({"band": (("y", "x"), np.ones((4, 4), "float32"))}).to_zarr(
        p, zarr_format=3, consolidated=False)
    assert list(xlstsr.io.open_zarr(os.fspath(p)).data_vars) == ["band"]


def test_dataset_global_attrs_kept_as_they_are_in_the_store(tmp_path):
    """A Dataset input's global booleans and lists came back from the store as JSON text
    ('true', '["Terra", "Aqua"]'): converted for NetCDF, which a Zarr store does not need;
    values JSON cannot hold (a date) are still written as text."""
    lst = xlstsr.datasets.sample_scene(n_times=2, size=16)["lst_1km"]
    ds = lst.to_dataset(name="lst").assign_attrs(
        qc_applied=True, platforms=["Terra", "Aqua"], made=np.datetime64("2020-01-01"))
    store = tmp_path / "out.zarr"
    xlstsr.upscale_to_zarr(ds, store, 2, "bicubic", variable="lst")
    back = xr.open_zarr(store)
    for attrs in (back.attrs, back["lst"].attrs):
        assert attrs["qc_applied"] is True
        assert attrs["platforms"] == ["Terra", "Aqua"]
        assert isinstance(attrs["made"], str) and attrs["made"].startswith("2020-01-01")


def test_grouped_store_still_told_its_groups(tmp_path):
    """The check for arrays zarr could not read skips group folders: a store whose fields are
    in groups (day/, night/) opened with a bare variable name is told the groups, not refused
    as unreadable."""
    from xlstsr.io.zarr import open_zarr

    lst = xlstsr.datasets.sample_scene(n_times=1, size=8)["lst_1km"].rename("LST")
    store = tmp_path / "g.zarr"
    for g in ("day", "night"):
        lst.to_dataset().to_zarr(store, group=g, mode="a", consolidated=False)
    with pytest.raises(xlstsr.errors.VariableNotFoundError, match=r"day/LST"):
        open_zarr(store, variable="LST")
