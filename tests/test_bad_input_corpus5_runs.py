"""Bad inputs, fifth round (outputs and long runs): each case was found by probing
``upscale_to_zarr``, the readers/writers of ``xlstsr.io`` and the command line (notes:
audit5_runs.md) and, before its fix, gave a silent wrong result (the store of an interrupted run
read as a finished one, its unwritten steps NaN; a remote store overwritten by mode "w-" or
restarted by "resume"; an in-memory store under a dask.distributed client returned all NaN;
COGs for 's3://...' written into a local folder named 's3:'), a crash (GDAL's std::bad_alloc
on ``blocksize=0``) or a raw error (ImportError, ArrayNotFoundError, KeyError, TypeError,
rasterio's) instead of a message naming the problem and the fix.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
import zarr

import xlstsr
from xlstsr import errors
from xlstsr.io import open_path, open_zarr


def _run(lst, store, **kw):
    kw.setdefault("progress", False)
    return xlstsr.upscale_to_zarr(lst, store, **kw)


# -- an interrupted run's store must not look finished ----------------------------------------


@pytest.fixture()
def interrupted(s, tmp_path):
    """A store whose run stopped after its first region (the second time step is Celsius
    labelled K: refused while computing, after the first region was written)."""
    lst = s["lst_1km"].copy()
    lst[1] = lst[1] - 273.15
    store = tmp_path / "sr.zarr"
    with pytest.raises(errors.PhysicalRangeError):
        _run(lst.chunk({"time": 1}), store, time_chunk=1, regions_in_flight=1)
    return store


def test_interrupted_store_is_refused_by_the_readers(interrupted):
    assert xr.open_zarr(interrupted, consolidated=False).attrs["xlstsr_status"].startswith(
        "incomplete")
    for reader in (open_zarr, open_path):
        with pytest.raises(errors.XlstsrError, match=r"incomplete: 1 of its 2 time blocks.*"
                                                     r"mode='resume'.*--resume"):
            reader(interrupted)


def test_resumed_store_reads_as_complete(s, interrupted):
    _run(s["lst_1km"].chunk({"time": 1}), interrupted, time_chunk=1, mode="w")
    ds = open_zarr(interrupted)
    assert ds.attrs["xlstsr_status"] == "complete"
    assert bool(ds["lst_1km"].notnull().any(("y", "x")).all())


# -- stores named by URL, in memory, in a zip archive, of the wrong type ------------------------


def test_remote_store_is_not_overwritten_by_default_mode(s):
    store = "memory://a5r_exists.zarr"
    _run(s["lst_1km"], store)
    with pytest.raises(errors.XlstsrError, match="exists; pass mode='w'"):
        _run(s["lst_1km"], store)


def test_in_memory_store_refused_under_a_distributed_client(s):
    distributed = pytest.importorskip("distributed")
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                            dashboard_address=None):
        for store in (zarr.storage.MemoryStore(), "memory://a5r_dist.zarr"):
            with pytest.raises(errors.XlstsrError, match="each worker would write"):
                _run(s["lst_1km"], store)


def test_file_url_and_home_paths_are_local(s, tmp_path, monkeypatch):
    out = _run(s["lst_1km"], f"file://{tmp_path}/u.zarr")
    assert (tmp_path / "u.zarr" / "zarr.json").exists() and out.shape == (2, 64, 64)
    monkeypatch.setenv("HOME", str(tmp_path))
    _run(s["lst_1km"], "~/h.zarr")
    assert (tmp_path / "h.zarr" / "zarr.json").exists()


@pytest.mark.parametrize("store", ["new.zip", "zip://sr.zarr::a.zip"])
def test_zip_store_paths_refused(s, tmp_path, store):
    with pytest.raises(errors.XlstsrError, match=r"zip entry cannot be rewritten.*zip -r -0"):
        _run(s["lst_1km"], store.replace("a.zip", str(tmp_path / "a.zip"))
             if "::" in store else tmp_path / store)
    assert not (tmp_path / "new.zip").exists()


def test_zip_store_object_refused(s, tmp_path):
    with pytest.raises(errors.XlstsrError, match="zip entry cannot be rewritten"):
        _run(s["lst_1km"], zarr.storage.ZipStore(tmp_path / "a.zip", mode="w"))


@pytest.mark.parametrize("store, match", [
    ("foo://x.zarr", "not a protocol fsspec knows"),
    ("http://example.invalid/x.zarr", "HTTP.S. is read only"),
])
def test_url_stores_that_cannot_be_written(s, store, match):
    with pytest.raises(errors.XlstsrError, match=match):
        _run(s["lst_1km"], store)


def test_url_store_without_its_fsspec_package(s):
    try:
        import s3fs  # noqa: F401
        pytest.skip("s3fs is installed")
    except ImportError:
        pass
    with pytest.raises(errors.XlstsrError, match="pip install s3fs"):
        _run(s["lst_1km"], "s3://bucket/x.zarr")


@pytest.mark.parametrize("store", [b"out.zarr", 123, ""])
def test_store_of_the_wrong_type(s, store):
    with pytest.raises(errors.XlstsrError, match=r"store (must be a path|is an empty path)"):
        _run(s["lst_1km"], store)


# -- options -------------------------------------------------------------------------------------


def test_compressors_refused_with_the_v3_codecs(s, tmp_path):
    import numcodecs

    for spec in ("zstd", 123, ["x"], numcodecs.Blosc()):
        with pytest.raises(errors.XlstsrError, match=r"zarr\.codecs\.ZstdCodec"):
            _run(s["lst_1km"], tmp_path / "c.zarr", compressors=spec)
    from zarr.codecs import ZstdCodec

    _run(s["lst_1km"], tmp_path / "c.zarr", compressors=ZstdCodec())  # one codec, no tuple


def test_progress_string_refused(s, tmp_path):
    with pytest.raises(errors.XlstsrError, match="progress must be True or False"):
        _run(s["lst_1km"], tmp_path / "p.zarr", progress="no")


def test_time_chunk_longer_than_the_series(s, tmp_path):
    out = _run(s["lst_1km"], tmp_path / "t.zarr", time_chunk=10**12)  # was a MemoryError
    assert out.shape == (2, 64, 64)


@pytest.mark.parametrize("name", ["a/b", "", "time", "spatial_ref", "xlstsr_progress"])
def test_input_names_the_store_cannot_take(s, tmp_path, name):
    with pytest.raises(errors.XlstsrError, match="rename it first"):
        _run(s["lst_1km"].rename(name), tmp_path / "n.zarr")


def test_attributes_zarr_cannot_hold_are_written_as_text(s, tmp_path):
    lst = s["lst_1km"].assign_attrs(acquired=np.datetime64("2020-07-01"), tags={1, 2})
    out = _run(lst, tmp_path / "a.zarr")
    assert out.attrs["acquired"] == "2020-07-01" and out.attrs["tags"] == "{1, 2}"


def test_resume_of_a_store_without_its_array(s, tmp_path):
    store = tmp_path / "d.zarr"
    _run(s["lst_1km"], store)
    import shutil

    shutil.rmtree(store / "lst_1km")
    with pytest.raises(errors.XlstsrError, match=r"no array 'lst_1km'.*mode='w'"):
        _run(s["lst_1km"], store, mode="resume")


def test_resume_with_new_time_steps_says_a_store_is_not_extended(s, tmp_path):
    store = tmp_path / "e.zarr"
    lst = s["lst_1km"]
    _run(lst, store)
    later = lst.assign_coords(time=lst.time + np.timedelta64(2, "D"))
    with pytest.raises(errors.XlstsrError, match="cannot be extended with new steps"):
        _run(later, store, mode="resume")


def test_tiny_spatial_chunks_warn(s, tmp_path):
    lst = s["lst_250m"].isel(time=[0])  # 64 x 64: 256 chunks of 4 px
    with pytest.warns(UserWarning, match="spatial chunks are tiny"):
        _run(lst.chunk({"y": 4, "x": 4}), tmp_path / "w.zarr", factor=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        _run(s["lst_1km"].chunk({"y": 8, "x": 8}), tmp_path / "w2.zarr")  # 4 chunks: no warning


# -- readers -------------------------------------------------------------------------------------


def test_open_zarr_of_an_array_inside_a_store(s, tmp_path):
    store = tmp_path / "in.zarr"
    s["lst_1km"].to_dataset(name="LST").to_zarr(store, zarr_format=3, consolidated=False)
    with pytest.raises(errors.XlstsrError, match=r"array inside the Zarr store .*--variable LST"):
        open_zarr(store / "LST")


def test_open_zarr_expands_home(s, tmp_path, monkeypatch):
    s["lst_1km"].to_dataset(name="LST").to_zarr(tmp_path / "h.zarr", zarr_format=3,
                                                consolidated=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert "LST" in open_zarr("~/h.zarr") and "LST" in open_path("~/h.zarr")
