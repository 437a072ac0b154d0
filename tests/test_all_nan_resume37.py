"""Round 37: an all-NaN input interrupted, then resumed, was marked a 'complete' store of NaN
(the all-NaN refusal counted the resuming run's regions only). Each region's flag now records
whether it held a valid pixel."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
import zarr

import xlstsr
from xlstsr.engine import to_zarr as tz
from xlstsr.errors import AllNaNError, XlstsrError
from xlstsr.io.zarr import COMPLETE, STATUS_ATTR

KW = dict(factor=2, method="bicubic", progress=False, regions_in_flight=1, time_chunk=1)


def _lst(valid_steps=()):
    lst = xlstsr.datasets.sample_scene(n_times=4, size=32)["lst_1km"].load()
    keep = np.isin(np.arange(lst.sizes["time"]), list(valid_steps))
    return lst.where(xr.DataArray(keep, dims="time"))


def _interrupted(monkeypatch, lst, store, at=2):
    """A run that dies while writing the region of step ``at`` (a failing disk)."""
    orig = tz._store_block

    def flaky(block, target, offset, block_info=None):
        if offset == (at,):
            raise OSError(5, "Input/output error", "/nowhere/c/2/0/0")
        return orig(block, target, offset, block_info)

    with monkeypatch.context() as mp:
        mp.setattr(tz, "_store_block", flaky)
        with pytest.raises(XlstsrError):
            xlstsr.upscale_to_zarr(lst, store, **KW)
    assert zarr.open_group(store, mode="r").attrs[STATUS_ATTR] != COMPLETE


def test_all_nan_input_resumed_is_refused_and_never_complete(monkeypatch, tmp_path):
    lst, store = _lst(), str(tmp_path / "sr.zarr")
    _interrupted(monkeypatch, lst, store)
    done = zarr.open_array(store, path="xlstsr_progress/done", mode="r")[:]
    assert list(done) == [tz.NO_DATA, tz.NO_DATA, 0, 0]  # written, without a valid pixel
    with pytest.raises(AllNaNError, match="stays incomplete"):
        xlstsr.upscale_to_zarr(lst, store, mode="resume", **KW)
    root = zarr.open_group(store, mode="r")
    assert root.attrs[STATUS_ATTR] != COMPLETE and tz.WRITER_ATTR not in root.attrs
    with pytest.raises(AllNaNError):  # a second resume: the same refusal, not a 'complete'
        xlstsr.upscale_to_zarr(lst, store, mode="resume", **KW)


@pytest.mark.parametrize("valid", [(0,), (3,)])
def test_data_in_a_region_of_either_run_completes_the_resume(monkeypatch, tmp_path, valid):
    """Data written by the interrupted run only (step 0), or by the resume only (step 3)."""
    lst, store = _lst(valid), str(tmp_path / "sr.zarr")
    _interrupted(monkeypatch, lst, store)
    out = xlstsr.upscale_to_zarr(lst, store, mode="resume", **KW)
    assert zarr.open_group(store, mode="r").attrs[STATUS_ATTR] == COMPLETE
    ref = xlstsr.upscale_to_zarr(lst, str(tmp_path / "ref.zarr"), **KW)
    np.testing.assert_array_equal(out.values, ref.values)


def test_a_refused_all_nan_store_is_not_told_to_resume(monkeypatch, tmp_path):
    """Its readers said "complete it with mode='resume'", which refused it again (review 37b)."""
    from xlstsr.io import open_zarr

    lst, store = _lst(), str(tmp_path / "sr.zarr")
    _interrupted(monkeypatch, lst, store)
    with pytest.raises(AllNaNError):
        xlstsr.upscale_to_zarr(lst, store, mode="resume", **KW)
    with pytest.raises(XlstsrError, match="holds NaN only") as info:
        open_zarr(store)
    assert "mode='resume'" not in str(info.value)


def test_a_failed_claim_leaves_no_folder(monkeypatch, tmp_path):
    """A claim that could not create the store's zarr.json (a full disk) left the folder it
    made (review 37b)."""
    import errno
    import os

    real_open = os.open

    def full_disk(path, flags, *a):
        if str(path).endswith("zarr.json") and flags & os.O_EXCL:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_open(path, flags, *a)

    monkeypatch.setattr(os, "open", full_disk)
    with pytest.raises(XlstsrError, match="No space left"):
        xlstsr.upscale_to_zarr(_lst((0,)), str(tmp_path / "sr.zarr"), **KW)
    assert not (tmp_path / "sr.zarr").exists()
