"""Corpus 33 (split by position): a split reused in another mode or at another factor. The
window of CubeDataModule counts LST pixels in the degraded modes (sisr, degraded_disr) and
output pixels (the LST's / factor) in the target-scale ones (sif, supervised); the split now
records the pixels its window counts (its origin and pixel_size), so its 'r{row}c{col}' ids
no longer name other ground without a word. The "positions the split does not name" message
lists a few ids, not every one."""

from __future__ import annotations

import logging
import re
import warnings

import numpy as np
import pytest
import torch
import xarray as xr
from scipy import ndimage

from xlstsr import errors
from xlstsr.train import CubeDataModule

F = 4


@pytest.fixture(autouse=True)
def _quiet():
    torch.set_num_threads(1)
    logging.getLogger("xlstsr").setLevel(logging.ERROR)
    yield


def _inputs(size=32, f=F):
    """A 1 km LST cube with coordinates and an NDVI f times finer on its grid."""
    rng = np.random.default_rng(0)
    a = 300 + ndimage.gaussian_filter(rng.normal(0, 6, (2, size, size)), (0, 2, 2))
    lst = xr.DataArray(a.astype("float32"), dims=("time", "y", "x"),
                       coords={"time": [0, 1], "y": 1e5 - 500 - 1000.0 * np.arange(size),
                               "x": 500 + 1000.0 * np.arange(size)}, attrs={"units": "K"})
    fine = 1000.0 / f
    ndvi = np.clip(0.5 + ndimage.gaussian_filter(rng.normal(0, .3, (size * f, size * f)), 3),
                   -0.2, 0.95).astype("float32")
    guide = xr.DataArray(ndvi, dims=("y", "x"),
                         coords={"y": 1e5 - fine / 2 - fine * np.arange(size * f),
                                 "x": fine / 2 + fine * np.arange(size * f)})
    return lst, guide


def _ground(ids, lst_px):
    """The LST pixels (row, col) the window ids name, windows of lst_px LST pixels."""
    out = set()
    for pid in ids:
        i, j = map(int, re.fullmatch(r"r(\d+)c(\d+)", str(pid)).groups())
        out |= {(r, c) for r in range(i * lst_px, (i + 1) * lst_px)
                for c in range(j * lst_px, (j + 1) * lst_px)}
    return out


def _sif_split():
    lst, guide = _inputs()
    dm = CubeDataModule(lst, guide=guide, mode="sif", factor=F, patch=16, window=32,
                        val_fraction=0.25)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dm.setup("fit")
    return lst, guide, dm


def test_the_split_records_the_pixels_its_window_counts():
    lst, _, sif = _sif_split()
    rec = sif.split.as_dict()
    assert rec["window"] == 32
    # output pixels of the sif run: the LST's / 4, from the upper-left output pixel centre
    assert rec["pixel_size"] == pytest.approx([250.0, -250.0])
    assert rec["origin"] == pytest.approx([125.0, 1e5 - 125.0])
    sisr = CubeDataModule(lst, mode="sisr", factor=F, patch=16, window=32)
    sisr.setup("fit")
    assert sisr.split.as_dict()["pixel_size"] == pytest.approx([1000.0, -1000.0])


def test_a_sif_split_reused_in_sisr_mode_is_refused():
    lst, _, sif = _sif_split()
    rec = sif.split.as_dict()
    # before: accepted, its 'r0c1' window 4 x larger (32 LST px, not 8): validation on ground
    # the sif run trained on
    with pytest.raises(errors.GridError, match=r"output pixels of a run at factor 4.*mode "
                       r"'sisr', factor 4\) windows of 32 count LST pixels.*other ground"
                       r".*window=8.*drop split="):
        CubeDataModule(lst, mode="sisr", factor=F, patch=16, split=rec).setup("fit")
    # the same ground in LST pixels (window=8) is the split, re-expressed in this run's pixels
    same = CubeDataModule(lst, mode="sisr", factor=F, patch=8, window=8, split=rec)
    same.setup("fit")
    assert same.split.val == sif.split.val and same.split.window == 8
    assert _ground(same.split.val, same.window) == _ground(sif.split.val, 32 // F)
    assert same.split.as_dict()["pixel_size"] == pytest.approx([1000.0, -1000.0])


def test_a_sif_split_reused_at_another_factor_is_refused():
    lst, guide, sif = _sif_split()
    rec = sif.split.as_dict()
    half = guide.coarsen(y=2, x=2).mean()
    with pytest.raises(errors.GridError, match=r"factor 4.*mode 'sif', factor 2\) windows of 32 "
                       r"count output pixels of a run at factor 2.*window=16"):
        CubeDataModule(lst, guide=half, mode="sif", factor=2, patch=16, split=rec).setup("fit")
    same = CubeDataModule(lst, guide=half, mode="sif", factor=2, patch=16, window=16, split=rec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same.setup("fit")
    assert same.split.val == sif.split.val
    assert _ground(same.split.val, 16 // 2) == _ground(sif.split.val, 32 // F)


def test_a_split_of_the_same_mode_and_factor_is_taken_back():
    lst, guide, sif = _sif_split()
    again = CubeDataModule(lst, guide=guide, mode="sif", factor=F, patch=16,
                           split={"by": "window position", **sif.split.as_dict()})
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no warning about the split
        warnings.filterwarnings("ignore", message=".*gain.*")
        again.setup("fit")
    assert again.split == sif.split


def test_an_older_sif_split_recording_the_lsts_pixels_is_taken_as_before():
    lst, guide, sif = _sif_split()
    old = {**sif.split.as_dict(), "origin": [500.0, 1e5 - 500.0],
           "pixel_size": [1000.0, -1000.0]}  # as recorded before: the LST's grid
    again = CubeDataModule(lst, guide=guide, mode="sif", factor=F, patch=16, split=old)
    with pytest.warns(UserWarning, match="records the LST's pixels"):
        again.setup("fit")
    assert again.split.val == sif.split.val
    assert again.split.as_dict()["pixel_size"] == pytest.approx([250.0, -250.0])
    # a checkpoint of such a run resumes (its split recorded the LST's grid)
    state = {**sif.state_dict(), "split": old}
    fresh = CubeDataModule(lst, guide=guide, mode="sif", factor=F, patch=16, window=32,
                           val_fraction=0.25)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fresh.setup("fit")
    fresh.load_state_dict(state)


def test_a_sisr_split_reused_in_sif_mode_names_the_cause_in_a_short_message():
    lst, guide = _inputs(size=64)
    sisr = CubeDataModule(lst, mode="sisr", factor=F, patch=16, window=32)
    sisr.setup("fit")
    with pytest.raises(errors.GridError) as info:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            CubeDataModule(lst, guide=guide, mode="sif", factor=F, patch=16,
                           split=sisr.split.as_dict()).setup("fit")
    msg = str(info.value)
    # before: 1158 characters listing all 64 ids, advising to edit the split by hand
    assert len(msg) < 800, msg
    assert "in all" in msg and "r7c7" not in msg
    assert "another mode or at another factor" in msg and "output pixels" in msg
