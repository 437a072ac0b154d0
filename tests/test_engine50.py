"""Streaming engine (probe 50U): a lazy NetCDF computed once before a dask.distributed client
started crashed upscale_to_zarr on it ("Missing dependency"); the log's ETA counted regions
starting at once in free slots as a later wave; mode='a' got no advice; an unfinished store's
written steps were refused while its unwritten ones, loaded into memory, were exported as
all-NaN COGs."""

import heapq
import itertools
import re
import warnings

import numpy as np
import pytest
import xarray as xr
from helpers import unfinished_store

import xlstsr
from xlstsr.engine.to_zarr import _eta
from xlstsr.errors import XlstsrError
from xlstsr.io import to_cogs


def _scene(n: int = 3) -> xr.DataArray:
    return xlstsr.datasets.sample_scene(n_times=n, size=16)["lst_1km"]


# -- 1. a lazy file read computed before the client started ------------------------------------


def test_distributed_run_of_a_netcdf_computed_before_the_client(tmp_path):
    distributed = pytest.importorskip("distributed")
    path = tmp_path / "lst.nc"
    # 4 steps: more than one region (a region of every step reads the whole graph, uncut)
    xlstsr.datasets.sample_scene(n_times=4, size=64)["lst_1km"].to_netcdf(path)
    lst = xr.open_dataset(path, decode_coords="all", chunks={"time": 1})["lst_1km"]
    expected = xlstsr.upscale(lst.copy().load(), 4).values
    # computed here once: its file-reading layer (a Blockwise) holds its keys from now on
    assert lst.values.size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                      dashboard_address=None) as cluster, \
                distributed.Client(cluster):
            # before: ValueError "Missing dependency ('open_dataset-lst_1km-...', 0, 0, 0)"
            out = xlstsr.upscale_to_zarr(lst, tmp_path / "sr.zarr", 4, progress=False)
            got = out.values
    np.testing.assert_array_equal(got, expected)


# -- 2. the log's ETA ---------------------------------------------------------------------------


def _eta_simulated(walls, running, left, k):
    """Each queued region in the first slot to free, one at a time."""
    mean = sum(walls) / len(walls)
    ends = sorted(max(0.0, mean - t) for t in running)[:left]
    slots = ends + [0.0] * max(0, k - len(ends))
    heapq.heapify(slots)
    for _ in range(left - len(ends)):
        heapq.heappush(slots, heapq.heappop(slots) + mean)
    return max(slots)


def test_eta_starts_queued_regions_in_free_slots():
    # probe 50U's log: 4 regions of 3 s, 2 in flight; one just started, one queued: 3 s left
    assert _eta([3.0, 3.0], [0.0], 2, 2) == 3.0  # before: 6.0
    assert _eta([6.0], [6.0, 6.0], 3, 3) == 6.0
    assert _eta([8.0], [8.0], 3, 2) == 8.0
    for walls, running, left, k in itertools.product(
            ([2.0], [1.0, 5.0]), ([], [0.5], [0.0, 2.5], [1.0, 1.0, 3.0]), range(1, 9),
            range(1, 5)):
        if len(running) > left:
            continue
        assert _eta(walls, running, left, k) == pytest.approx(
            _eta_simulated(walls, running, left, k)), (walls, running, left, k)


# -- 3. mode='a' ----------------------------------------------------------------------------------


def test_append_mode_gets_the_extend_advice_which_works(tmp_path):
    lst = _scene(3)
    old, new = tmp_path / "old.zarr", tmp_path / "new.zarr"
    xlstsr.upscale_to_zarr(lst.isel(time=[0, 1]), old, 4, progress=False)
    for mode in ("a", "a-", "r+"):
        # before: "mode must be one of ('w-', 'w', 'resume'), got 'a'" alone
        with pytest.raises(XlstsrError, match=r"cannot be extended.*open_mfdataset.*"
                                              r"mode='resume' completes"):
            xlstsr.upscale_to_zarr(lst.isel(time=[2]), old, 4, progress=False, mode=mode)
    with pytest.raises(XlstsrError) as err:
        xlstsr.upscale_to_zarr(lst.isel(time=[2]), old, 4, progress=False, mode="a")
    call = re.search(r"`(xr\.open_mfdataset\(.*?\))`", str(err.value)).group(1)
    # followed: the new steps in a store of their own, both read together
    xlstsr.upscale_to_zarr(lst.isel(time=[2]), new, 4, progress=False)
    both = eval(call, {"xr": xr, "old": str(old), "new": str(new)})["lst_1km"]
    np.testing.assert_allclose(both.values, xlstsr.upscale(lst, 4).values, rtol=0, atol=1e-6)
    assert both.rio.crs is not None


# -- 4. an unfinished store: written steps pass, unwritten ones are refused, loaded or not ------


@pytest.fixture()
def unfinished(tmp_path):
    """A store of 3 one-step regions whose run stopped after 2 were written."""
    return unfinished_store(_scene(3).chunk({"time": 1}), tmp_path / "out.zarr")


def _opened(store):
    return xr.open_zarr(store, consolidated=False, decode_coords="all")["lst_1km"]


def test_written_steps_of_an_unfinished_store_are_exported(unfinished, tmp_path):
    sr = _opened(unfinished)
    # the reader's refusal advises xr.open_zarr to look at the part written
    with pytest.raises(XlstsrError, match=r"open it with `xr\.open_zarr`"):
        xlstsr.io.open_zarr(unfinished)
    # before: refused, "the others read as NaN"
    files = to_cogs(sr.isel(time=[0, 1]), tmp_path / "cogs")
    assert len(files) == 2
    with warnings.catch_warnings():  # (upscaling an upscaled result is warned of)
        warnings.simplefilter("ignore")
        assert xlstsr.upscale(sr.isel(time=slice(0, 2)), 2).notnull().any(("y", "x")).all()


def test_unwritten_steps_of_an_unfinished_store_are_refused_with_working_advice(unfinished,
                                                                                 tmp_path):
    sr = _opened(unfinished)
    for part in (sr, sr.isel(time=[1, 2]), sr.isel(time=2)):
        with pytest.raises(XlstsrError, match=r"did not finish \(2 of 3 time blocks"):
            to_cogs(part, tmp_path / "cogs")
    with pytest.raises(XlstsrError, match=r"1 of the 2 steps selected") as err:
        to_cogs(sr.isel(time=[1, 2]), tmp_path / "cogs")
    assert not (tmp_path / "cogs").exists()
    call = re.search(r"select them: `(xr\.open_zarr\(.*?\))`", str(err.value)).group(1)
    assert len(to_cogs(eval(call, {"xr": xr}), tmp_path / "cogs")) == 2


def test_a_loaded_copy_of_an_unfinished_store_is_refused(unfinished, tmp_path):
    loaded = _opened(unfinished).load()
    # before: 3 files written, the unwritten date's all NaN, without a word
    with pytest.raises(XlstsrError, match=r"did not finish.*no valid pixel at 1 of its 3 steps"
                                          r".*dropna\('time', how='all'\)"):
        to_cogs(loaded, tmp_path / "cogs")
    assert not (tmp_path / "cogs").exists()
    with pytest.raises(XlstsrError, match="no valid pixel"):
        to_cogs(loaded.isel(time=2), tmp_path / "cogs")
    with pytest.raises(XlstsrError, match="no valid pixel"):
        xlstsr.upscale(loaded.chunk({"time": 1}), 2)
    # followed: the written steps only
    assert len(to_cogs(loaded.dropna("time", how="all"), tmp_path / "cogs")) == 2
    # completed, the store's variable no longer carries the status: a loaded copy exports
    xlstsr.upscale_to_zarr(_scene(3), unfinished, 4, progress=False, mode="resume")
    done = _opened(unfinished).load()
    assert "xlstsr_status" not in done.attrs
    assert len(to_cogs(done, tmp_path / "all")) == 3
