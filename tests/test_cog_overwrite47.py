"""Probe 47i/1: to_cogs(overwrite=True) of a shorter rerun left the earlier run's other files in the
folder without a word, and open_cog of the sorted glob stacked both runs, dropping the differing
``xlstsr_method`` attribute silently."""
import pathlib
import warnings

import pytest
import rasterio

import xlstsr
from xlstsr.io import open_cog, to_cogs

LEFT = "this run did not write"
MIXED = "made by different methods"


@pytest.fixture(scope="module")
def lst():
    return xlstsr.datasets.sample_scene(n_times=4, size=16)["lst_1km"].load()


def _sr(lst, method, steps=slice(None)):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lst.isel(time=steps).lstsr.upscale(4, method)


def _caught(fn, *args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(*args, **kwargs)
    return out, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def _glob(folder):
    return sorted(pathlib.Path(folder).glob("lst_*.tif"))


def test_rerun_of_other_method_warns_of_leftovers_and_removing_them_works(lst, tmp_path):
    to_cogs(_sr(lst, "bicubic"), tmp_path, prefix="lst")  # 4 dates
    paths, msgs = _caught(to_cogs, _sr(lst, "nearest", slice(0, 2)), tmp_path, prefix="lst",
                          overwrite=True)
    left = [p for p in _glob(tmp_path) if p not in set(paths)]
    assert len(left) == 2
    msg = [m for m in msgs if LEFT in m]
    assert len(msg) == 1, msgs
    assert "2 files" in msg[0] and all(p.name in msg[0] for p in left)
    assert "'bicubic'" in msg[0] and "'nearest'" in msg[0]
    assert "empty folder" in msg[0]
    # the files are kept (batches of one series share a folder)
    assert all(p.exists() for p in left)
    # the advice followed, as the message spells it
    keep = set(paths)
    [p.unlink() for p in pathlib.Path(str(tmp_path)).glob("lst_*.tif") if p not in keep]
    back, msgs = _caught(open_cog, [str(p) for p in _glob(tmp_path)])
    assert back.sizes["time"] == 2 and back.attrs["xlstsr_method"] == "nearest"
    assert not [m for m in msgs if MIXED in m], msgs


def test_rerun_of_one_batch_with_overwrite_stays_silent(lst, tmp_path):
    # a month rewritten with overwrite=True among the year's other batches: not stale files
    # (it was warned of as an earlier run's, review 47f; a same-method rerun is not told apart)
    to_cogs(_sr(lst, "bicubic", slice(0, 2)), tmp_path, prefix="lst")
    to_cogs(_sr(lst, "bicubic", slice(2, 4)), tmp_path, prefix="lst")
    _, msgs = _caught(to_cogs, _sr(lst, "bicubic", slice(2, 4)), tmp_path, prefix="lst",
                      overwrite=True)
    assert not [m for m in msgs if LEFT in m], msgs


def test_batches_of_one_series_stay_silent(lst, tmp_path):
    # guard (passes on the old tree too): a long series written in batches into one folder
    _, first = _caught(to_cogs, _sr(lst, "bicubic", slice(0, 2)), tmp_path, prefix="lst")
    _, second = _caught(to_cogs, _sr(lst, "bicubic", slice(2, 4)), tmp_path, prefix="lst")
    # overwrite=True replacing nothing (a batch script that always passes it)
    _, third = _caught(to_cogs, _sr(lst, "bicubic", slice(2, 4)), tmp_path / "c", prefix="lst",
                       overwrite=True)
    assert not [m for m in first + second + third if LEFT in m]
    back, msgs = _caught(open_cog, [str(p) for p in _glob(tmp_path)])
    assert back.sizes["time"] == 4 and back.attrs["xlstsr_method"] == "bicubic"
    assert not [m for m in msgs if MIXED in m], msgs


def test_batch_of_another_method_warns_without_overwrite(lst, tmp_path):
    to_cogs(_sr(lst, "bicubic", slice(0, 2)), tmp_path, prefix="lst")
    _, msgs = _caught(to_cogs, _sr(lst, "nearest", slice(2, 4)), tmp_path, prefix="lst")
    msg = [m for m in msgs if LEFT in m]
    assert len(msg) == 1 and "'bicubic'" in msg[0], msgs


def test_open_cog_warns_of_files_of_different_methods_and_one_method_is_silent(lst, tmp_path):
    a = to_cogs(_sr(lst, "bicubic", slice(0, 2)), tmp_path / "a", prefix="lst")
    b = to_cogs(_sr(lst, "nearest", slice(2, 4)), tmp_path / "b", prefix="lst")
    paths = [str(p) for p in a + b]
    back, msgs = _caught(open_cog, paths)
    msg = [m for m in msgs if MIXED in m]
    assert len(msg) == 1, msgs
    assert "bicubic (2 files" in msg[0] and "nearest (2 files" in msg[0]
    assert all(pathlib.Path(p).name in msg[0] for p in paths)
    assert back.sizes["time"] == 4
    # the advice followed: the files of one run
    one = [p for p in paths if rasterio.open(p).tags().get("xlstsr_method") == "bicubic"]
    back, msgs = _caught(open_cog, one)
    assert back.attrs["xlstsr_method"] == "bicubic" and back.sizes["time"] == 2
    assert not [m for m in msgs if MIXED in m], msgs
