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

import os
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


def test_lazy_input_from_an_interrupted_store_is_refused(interrupted, tmp_path):
    lazy = xr.open_zarr(interrupted, consolidated=False, decode_coords="all")["lst_1km"]
    with pytest.raises(errors.XlstsrError, match=r"did not finish \(1 of 2 time blocks"):
        _run(lazy, tmp_path / "stage2.zarr", factor=2)  # streamed on its NaN steps before
    assert not (tmp_path / "stage2.zarr").exists()


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
        with pytest.raises(errors.XlstsrError, match="each worker would write"):
            _run(s["lst_1km"], zarr.storage.MemoryStore())  # was returned all NaN
        # fsspec's memory:// is shared with workers in this process
        assert bool(_run(s["lst_1km"], "memory://a5r_dist.zarr").notnull().any())


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


def test_resume_of_a_store_stopped_before_its_progress_record(s, tmp_path):
    import shutil

    store = tmp_path / "g.zarr"
    _run(s["lst_1km"].isel(time=[0]).chunk(), store)
    zarr.open_group(store, mode="r+").attrs["xlstsr_status"] = xlstsr.io.zarr.INCOMPLETE
    shutil.rmtree(store / "xlstsr_progress")  # as if killed between the template and the record
    with pytest.raises(errors.XlstsrError, match="stopped before its progress record"):
        _run(s["lst_1km"].isel(time=[0]).chunk(), store, mode="resume")  # was "not written by"


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


# -- to_cogs, open_cog, open_stac options ----------------------------------------------------------


def test_to_cogs_block_size_checked_before_gdal(sr, tmp_path):
    # blocksize=0 aborted the interpreter (GDAL's std::bad_alloc); 100 was GDAL's TIFF error
    for size in (0, 100, "x"):
        with pytest.raises(errors.XlstsrError, match="whole multiple of 16"):
            xlstsr.io.to_cogs(sr, tmp_path, blocksize=size)
    assert len(xlstsr.io.to_cogs(sr, tmp_path, blocksize=32)) == 2


@pytest.mark.parametrize("kw, match", [
    ({"dtype": "uint16"}, "cannot hold float values"),
    ({"driver": "GTiff"}, "driver='GTiff'"),
])
def test_to_cogs_options_that_would_write_something_else(sr, tmp_path, kw, match):
    with pytest.raises(errors.XlstsrError, match=match):
        xlstsr.io.to_cogs(sr, tmp_path, **kw)
    assert not list(tmp_path.iterdir())


def test_to_cogs_url_folder_and_boolean_arrays(sr, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(errors.XlstsrError, match="local folder"):
        xlstsr.io.to_cogs(sr, "s3://bucket/cogs")
    assert not (tmp_path / "s3:").exists()  # was written there
    with pytest.raises(errors.XlstsrError, match=r"astype\('uint8'\)"):
        xlstsr.io.to_cogs(sr.notnull(), tmp_path / "m")


def test_open_cog_time_chunks_masked_and_times(sr, tmp_path):
    paths = xlstsr.io.to_cogs(sr, tmp_path)
    da = xlstsr.io.open_cog(paths, chunks={"time": 2, "y": 32, "x": 32},
                            times=(t for t in sr.time.values))
    assert da.chunks == ((2,), (32, 32), (32, 32)) and da.sizes["time"] == 2
    assert xlstsr.io.open_cog(paths[0], chunks={"time": 1}).ndim == 2
    with pytest.raises(errors.XlstsrError, match="masked must be True or False"):
        xlstsr.io.open_cog(paths[0], masked="no")
    with pytest.raises(errors.XlstsrError, match=r"chunks names \['t'\]"):
        xlstsr.io.open_cog(paths[0], chunks={"t": 1})


@pytest.fixture(scope="module")
def stac_items(shared_data):
    pystac = pytest.importorskip("pystac")
    cat = pystac.Catalog.from_file(str(shared_data / "modis_h18v04_2020/catalog.json"))
    return [i for i in cat.get_items(recursive=True)
            if i.collection_id.startswith("modis-11A1")][:4]


BBOX = (889594.0, 4781186.0, 948898.0, 4840490.0)


def test_open_stac_groupby_that_would_merge_every_date(stac_items):
    assert xlstsr.io.open_stac(stac_items, "LST_Day_1km", bbox=BBOX,
                               groupby="solar_day").sizes["time"] == 4
    with pytest.raises(errors.XlstsrError, match="merge every item into one time step"):
        xlstsr.io.open_stac(stac_items, "LST_Day_1km", bbox=BBOX, groupby="bogus")


def test_open_stac_crs_and_modifier_checked(stac_items):
    with pytest.raises(errors.XlstsrError, match="is not a CRS"):
        xlstsr.io.open_stac(stac_items, "LST_Day_1km", bbox=BBOX, crs="bogus")
    with pytest.raises(errors.XlstsrError, match="modifier returned str"):
        xlstsr.io.open_stac(stac_items, "LST_Day_1km", bbox=BBOX, modifier=lambda it: "x")


# -- the command line ----------------------------------------------------------------------------


def _cli(capsys, *argv):
    from xlstsr.cli import main

    rc = main([str(a) for a in argv])
    return rc, capsys.readouterr().err


@pytest.fixture()
def files(s, tmp_path):
    """A Zarr input store and a GeoTIFF input."""
    store = tmp_path / "in.zarr"
    s["lst_1km"].to_dataset(name="LST").to_zarr(store, zarr_format=3, consolidated=False)
    tif = tmp_path / "in.tif"
    s["lst_1km"].isel(time=0).rio.to_raster(tif)
    return store, tif


def test_cli_output_inside_an_input_store(files, capsys):
    store, _ = files
    rc, err = _cli(capsys, "upscale", store, store / "sub.tif", "--quiet")
    assert rc == 2 and "lies inside the input" in err
    assert not (store / "sub.tif").exists()


def test_cli_resume_of_a_file_output_and_a_folder_named_like_a_file(files, tmp_path, capsys):
    _, tif = files
    rc, err = _cli(capsys, "upscale", tif, tmp_path / "o.nc", "--resume", "--quiet")
    assert rc == 2 and "--resume completes an interrupted .zarr output" in err
    (tmp_path / "d.tif").mkdir()
    rc, err = _cli(capsys, "upscale", tif, tmp_path / "d.tif", "--overwrite", "--quiet")
    assert rc == 2 and "is a folder, not a cog file" in err  # was rasterio's traceback


def test_cli_chunks_below_one_or_twice(files, tmp_path, capsys):
    store, _ = files
    rc, err = _cli(capsys, "upscale", store, tmp_path / "o.zarr", "--chunks", "y=-2", "--quiet")
    assert rc == 2 and "--chunks['y'] must be a whole number >= 1" in err
    rc, err = _cli(capsys, "upscale", store, tmp_path / "o.zarr", "--chunks", "x=4,x=8",
                   "--quiet")
    assert rc == 2 and "names 'x' twice" in err


def test_cli_zarr_suffix_in_capitals(files, tmp_path, capsys):
    _, tif = files
    rc, _ = _cli(capsys, "upscale", tif, tmp_path / "o.Zarr", "--quiet")
    assert rc == 0 and (tmp_path / "o.Zarr" / "zarr.json").exists()  # was "cannot tell"


def test_cli_evaluate_against_itself_and_table_suffix_first(files, tmp_path, capsys):
    _, tif = files
    rc, err = _cli(capsys, "evaluate", tif, tif, tmp_path / "e.csv")
    assert rc == 2 and "is the super-resolved file itself" in err
    (tmp_path / "adir").mkdir()
    rc, err = _cli(capsys, "evaluate", tif, tmp_path / "in.zarr", tmp_path / "adir")
    assert rc == 2 and "use .csv or .nc" in err  # was "exists; pass --overwrite"


def test_cli_demo_output_that_is_a_file_or_a_store(files, tmp_path, capsys):
    store, tif = files
    rc, err = _cli(capsys, "demo", "--output", tif)
    assert rc == 2 and "is a file" in err  # was FileExistsError's traceback
    rc, err = _cli(capsys, "demo", "--output", store)
    assert rc == 2 and "is a Zarr store" in err
    assert sorted(p.name for p in store.iterdir()) == sorted(
        ["LST", "spatial_ref", "time", "x", "y", "zarr.json"])


@pytest.mark.parametrize("suffix", [".tif", ".nc"])
def test_cli_interrupted_file_output_leaves_no_partial_file(files, tmp_path, capsys,
                                                            monkeypatch, suffix):
    import rioxarray  # noqa: F401  (the .rio accessor)

    _, tif = files
    out = tmp_path / f"o{suffix}"

    def half_written(self, path, *a, **k):
        with open(path, "wb") as f:
            f.write(b"II*\x00partial")
        raise KeyboardInterrupt

    if suffix == ".tif":
        monkeypatch.setattr(type(xr.DataArray([0]).rio), "to_raster", half_written)
    else:
        monkeypatch.setattr(xr.DataArray, "to_netcdf", half_written)
    rc, err = _cli(capsys, "upscale", tif, out, "--quiet")
    assert rc == 130 and f"interrupted: {out} was not written" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.tif", "in.zarr"]


def test_cli_interrupted_zarr_output_says_resume(files, tmp_path, capsys, monkeypatch):
    import xlstsr.engine.to_zarr as to_zarr

    store, _ = files

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(to_zarr, "run_regions", interrupted)
    rc, err = _cli(capsys, "upscale", store, tmp_path / "o.zarr", "--quiet")
    assert rc == 130 and "o.zarr is incomplete" in err and "--resume" in err
    monkeypatch.undo()
    rc, err = _cli(capsys, "evaluate", tmp_path / "o.zarr", store, tmp_path / "e.csv")
    assert rc == 2 and "is incomplete: 0 of its 1 time blocks" in err
    rc, err = _cli(capsys, "upscale", store, tmp_path / "o.zarr", "--quiet", "--resume")
    assert rc == 0
    assert open_zarr(tmp_path / "o.zarr").attrs["xlstsr_status"] == "complete"


# -- a full disk, a read-only folder ---------------------------------------------------------------


def _no_space(*args, **kwargs):
    import errno

    raise OSError(errno.ENOSPC, "No space left on device")


def test_full_disk_while_streaming_says_resume(s, tmp_path, monkeypatch):
    import xlstsr.engine.to_zarr as to_zarr

    monkeypatch.setattr(to_zarr, "_store_block", _no_space)
    store = tmp_path / "f.zarr"
    with pytest.raises(errors.XlstsrError, match=r"No space left on device \(0 of the 2 time "
                                                 r"blocks .*mode='resume'"):
        _run(s["lst_1km"], store, time_chunk=1)
    assert store.exists()  # kept for the resume


def test_cli_full_disk_on_a_file_output(files, tmp_path, capsys, monkeypatch):
    _, tif = files
    monkeypatch.setattr(xr.DataArray, "to_netcdf", _no_space)
    rc, err = _cli(capsys, "upscale", tif, tmp_path / "o.nc", "--quiet")  # was OSError's traceback
    assert rc == 2 and "No space left on device" in err and "nothing was written" in err
    assert not (tmp_path / "o.nc").exists()


@pytest.fixture()
def locked(tmp_path):
    """A folder no file can be created in (root: immutable with chattr, when it can)."""
    import subprocess

    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    immutable = os.geteuid() == 0 and subprocess.run(
        ["chattr", "+i", str(folder)], capture_output=True).returncode == 0
    try:
        (folder / "t").touch()
        (folder / "t").unlink()
        writable = True
    except OSError:
        writable = False
    yield None if writable else folder
    if immutable:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    folder.chmod(0o755)


def test_unwritable_folders_named_before_any_work(sr, files, locked, capsys):
    if locked is None:
        pytest.skip("cannot make a folder read-only here")
    with pytest.raises(errors.XlstsrError, match=r"cannot write into .*permissions"):
        xlstsr.io.to_cogs(sr, locked / "cogs")  # was pathlib's PermissionError
    _, tif = files
    rc, err = _cli(capsys, "upscale", tif, locked / "o.tif", "--quiet")  # was rasterio's
    assert rc == 2 and "Choose a folder you can write to" in err


def test_resume_takes_the_store_time_chunk_and_names_another_version(s, tmp_path):
    import json

    lst = s["lst_1km"]
    store = tmp_path / "v.zarr"
    _run(lst.chunk({"time": 1}), store)
    zarr.open_array(store, path="xlstsr_progress/done", mode="r+")[1] = 0
    # the same input in one time chunk: was refused as "differ in ['time_chunk']"
    out = _run(lst.chunk(), store, mode="resume")
    np.testing.assert_array_equal(out.values, xlstsr.upscale(lst, 4).values)
    with pytest.raises(errors.XlstsrError, match=r"time_chunk: 1 there, 2 here"):
        _run(lst, store, mode="resume", time_chunk=2)
    root = zarr.open_group(store, mode="r+")
    args = json.loads(root.attrs["xlstsr_arguments"])
    root.attrs["xlstsr_arguments"] = json.dumps({**args, "xlstsr_version": "0.0.9"})
    root.attrs["xlstsr_fingerprint"] = "older"
    with pytest.raises(errors.XlstsrError, match=r"started by xlstsr 0\.0\.9.*pip install"):
        _run(lst.chunk({"time": 1}), store, mode="resume")
