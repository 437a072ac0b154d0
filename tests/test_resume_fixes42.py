"""Round 42 (probe42r): resume of a store that lost coordinate files, the zarr requirement,
the command line's words for a refused resume's options, the advice for a subset of the
store's steps, and a remote fsspec mapper as the store."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import uuid
from pathlib import Path

import fsspec
import numpy as np
import pytest
import xarray as xr
import zarr
from packaging.requirements import Requirement

import xlstsr
from xlstsr.cli import main
from xlstsr.engine import to_zarr as tz
from xlstsr.errors import XlstsrError
from xlstsr.io.zarr import COMPLETE, STATUS_ATTR

KW = dict(factor=2, method="bicubic", progress=False, regions_in_flight=1, time_chunk=1)


class _Stop(Exception):
    """The simulated interruption."""


def _lst(n=4):
    return xlstsr.datasets.sample_scene(n_times=n, size=32)["lst_1km"].load()


def _interrupted(monkeypatch, lst, store, at=2, **kw):
    """A run stopped while writing the region of step ``at`` (regions before it finished)."""
    orig = tz._store_block

    def stop(block, target, offset, block_info=None):
        if offset and offset[0] >= at:
            raise _Stop("simulated")
        return orig(block, target, offset, block_info)

    with monkeypatch.context() as mp:
        mp.setattr(tz, "_store_block", stop)
        with pytest.raises(_Stop):
            xlstsr.upscale_to_zarr(lst, store, **{**KW, **kw})


@pytest.mark.parametrize("lost", ["time/c/0", "x/c/0", "spatial_ref", "time"])
def test_resume_writes_lost_coordinates_again(monkeypatch, tmp_path, lost):
    """A copy that lost a coordinate's chunk (or its folder, or the grid mapping's) was
    resumed to 'complete' with every date the first one, NaN x or no CRS."""
    lst, store = _lst(), str(tmp_path / "sr.zarr")
    _interrupted(monkeypatch, lst, store)
    path = os.path.join(store, lost)
    shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    with pytest.warns(UserWarning, match="written again from the input"):
        xlstsr.upscale_to_zarr(lst, store, mode="resume", **KW)
    out = xr.open_zarr(store, consolidated=False, decode_coords="all")
    assert out.attrs[STATUS_ATTR] == COMPLETE and "xlstsr_fingerprint" in out.attrs
    np.testing.assert_array_equal(out["time"].values, lst["time"].values)
    assert np.isfinite(out["x"].values).all() and np.isfinite(out["y"].values).all()
    assert out.rio.crs == lst.rio.crs


@pytest.mark.parametrize("kind", ["seconds", "stacked", "dict"])
def test_resume_of_a_valid_store_warns_nothing(monkeypatch, tmp_path, kind):
    """A valid store resumed without a word: dates in seconds read back in ns, a stacked
    store's spatial_ref equal to zarr's fill value (its chunk not written), a dict store (whose
    chunks zarr cannot list) were told their coordinates were lost (review 42h)."""
    import warnings

    lst = _lst()
    store: object = str(tmp_path / "sr.zarr")
    if kind == "seconds":
        lst = lst.assign_coords(time=lst["time"].values.astype("datetime64[s]"))
    elif kind == "stacked":
        cube = xr.concat([lst, lst - 12], dim=xr.DataArray(["day", "night"], dims="overpass",
                                                            name="overpass"))
        lst = cube.stack(t=("time", "overpass")).transpose("t", "y", "x")
    else:
        store = {}
    _interrupted(monkeypatch, lst, store)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        out = xlstsr.upscale_to_zarr(lst, store, mode="resume", **KW)
    assert out.sizes == {**{d: n * (2 if d in "yx" else 1) for d, n in lst.sizes.items()}}


def test_zarr_requirement_writes_every_chunk():
    """zarr 3.0 leaves all-NaN chunks unwritten, which a resume counts as lost."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    meta = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    req = next(Requirement(r) for r in meta["project"]["dependencies"]
               if Requirement(r).name == "zarr")
    assert not req.specifier.contains("3.0.10") and req.specifier.contains(zarr.__version__)


def test_cli_resume_refusal_names_the_flags(monkeypatch, tmp_path):
    scene = xlstsr.datasets.sample_scene(n_times=4, size=32)
    scene["lst_1km"].to_netcdf(tmp_path / "lst.nc")
    scene["ndvi_250m"].to_netcdf(tmp_path / "ndvi.nc")
    args = ["upscale", str(tmp_path / "lst.nc"), str(tmp_path / "out.zarr"), "--method",
            "tsharp", "--guide", str(tmp_path / "ndvi.nc"), "--quiet", "--chunks", "time=1"]
    orig = tz._store_block

    def stop(block, target, offset, block_info=None):
        if offset and offset[0] >= 2:
            raise _Stop("simulated")
        return orig(block, target, offset, block_info)

    with monkeypatch.context() as mp:
        mp.setattr(tz, "_store_block", stop)
        with pytest.raises(_Stop):
            main([*args, "--method-option", "min_samples=5", "--guide-offset", "check"])
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main([*args, "--resume", "--guide-offset", "ignore"])
    msg = err.getvalue()
    assert rc == 2, msg
    assert "--method-option min_samples=5 there" in msg and "method_options[" not in msg
    assert "--guide-offset check there, --guide-offset ignore here" in msg


@pytest.mark.parametrize("order", [[0, 1, 2], [0, 1, 3, 2]])
def test_subset_or_reorder_is_told_to_select_the_stores_steps(monkeypatch, tmp_path, order):
    lst, store = _lst(), str(tmp_path / "sr.zarr")
    _interrupted(monkeypatch, lst, store)
    with pytest.raises(XlstsrError) as e:
        xlstsr.upscale_to_zarr(lst.isel(time=order), store, mode="resume", **KW)
    msg = str(e.value)
    assert "cannot be extended with new steps" not in msg
    assert "none of its steps is new" in msg and "lst.sel(time=store['time'])" in msg


def test_new_steps_still_told_to_write_a_store_of_their_own(monkeypatch, tmp_path):
    lst, store = _lst(6), str(tmp_path / "sr.zarr")
    _interrupted(monkeypatch, lst.isel(time=slice(0, 4)), store)
    with pytest.raises(XlstsrError, match="cannot be extended with new steps"):
        xlstsr.upscale_to_zarr(lst, store, mode="resume", **KW)


def test_remote_fsspec_mapper_writes_and_resumes(monkeypatch):
    """A non-local mapper (as get_mapper('s3://...')): zarr refused path= into it after the
    template was written, and a resume failed the same way."""
    lst = _lst()
    url = f"memory://resume42-{uuid.uuid4().hex}/sr.zarr"
    try:
        _interrupted(monkeypatch, lst, fsspec.get_mapper(url))
        out = xlstsr.upscale_to_zarr(lst, fsspec.get_mapper(url), mode="resume", **KW)
        ref = xlstsr.upscale_to_zarr(lst, zarr.storage.MemoryStore(), **KW)
        np.testing.assert_array_equal(out.values, ref.values)
        again = xr.open_zarr(url, consolidated=False)
        assert again.attrs[STATUS_ATTR] == COMPLETE
        np.testing.assert_array_equal(again["time"].values, lst["time"].values)
    finally:
        fs = fsspec.filesystem("memory")
        root = url.split("://", 1)[1].split("/", 1)[0]
        if fs.exists(f"/{root}"):
            fs.rm(f"/{root}", recursive=True)


def test_resume_of_a_one_step_cftime_store_warns_nothing(monkeypatch, tmp_path):
    """Its one date is stored as 0, zarr's fill value, so its chunk is not written: read back
    as datetime64, it was compared unequal to the input's cftime date (review 42i)."""
    import warnings

    lst = _lst(1).convert_calendar("standard", use_cftime=True)
    store = str(tmp_path / "sr.zarr")
    # a killed run (no clean-up of the store it started)
    monkeypatch.setattr(tz, "_remove_new_store", lambda *a: False)
    _interrupted(monkeypatch, lst, store, at=0)
    assert os.path.isdir(store)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        xlstsr.upscale_to_zarr(lst, store, mode="resume", **KW)
