"""dask.distributed (probe 41d2): a local store the workers do not see is refused before any
region; a worker's warning is shown once (by the client), not also on the worker."""

from __future__ import annotations

import os
import time
import warnings

import numpy as np
import pytest
import xarray as xr
from helpers import local_cluster_client

import xlstsr
from xlstsr.errors import PhysicalRangeWarning, XlstsrError

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.slow  # a local cluster of one worker process


@pytest.fixture(scope="module")
def client():
    yield from local_cluster_client(1)


@pytest.mark.skipif(not os.path.isdir("/proc/self/cwd"), reason="needs Linux's /proc/self/cwd")
def test_local_store_the_workers_do_not_see_is_refused_before_any_region(
        client, tmp_path, monkeypatch):
    """Workers on other machines (dask-gateway, a hub) write a local path on their own disk:
    the client's store was marked complete, all NaN. Simulated with a folder that is each
    process's own: a link to /proc/self/cwd, with the worker started in another folder."""
    mine, theirs = tmp_path / "client", tmp_path / "worker"
    mine.mkdir()
    theirs.mkdir()
    (tmp_path / "view").symlink_to("/proc/self/cwd")  # the client's or the worker's folder
    before = client.run(os.getcwd)
    client.run(os.chdir, str(theirs))
    monkeypatch.chdir(mine)
    lst = xlstsr.datasets.sample_scene(n_times=2, size=32, seed=3)["lst_1km"].chunk({"time": 1})
    store = tmp_path / "view" / "sr.zarr"
    try:
        with pytest.raises(XlstsrError, match="do not see") as info:
            xlstsr.upscale_to_zarr(lst, store, 2, progress=False)
    finally:
        for addr, cwd in before.items():
            client.run(os.chdir, cwd, workers=[addr])
    msg = str(info.value)
    assert all(addr in msg for addr in before)  # the worker named
    assert "shared" in msg and "s3://" in msg  # and the fix
    assert not (theirs / "sr.zarr").exists()  # no region written elsewhere
    assert not (mine / "sr.zarr").exists()  # the store this call started removed


def test_local_store_the_workers_see_is_written(client, tmp_path):
    """The check asks the workers once and lets a shared folder through, whole."""
    lst = xlstsr.datasets.sample_scene(n_times=2, size=32, seed=3)["lst_1km"].chunk({"time": 1})
    out = xlstsr.upscale_to_zarr(lst, tmp_path / "sr.zarr", 2, progress=False)
    ref = xlstsr.upscale(lst, 2).compute(scheduler="threads")
    np.testing.assert_allclose(out.values, ref.values, atol=1e-4)
    ds = xr.open_zarr(tmp_path / "sr.zarr", consolidated=False)
    assert ds.attrs["xlstsr_status"] == "complete"


def test_worker_warning_is_shown_by_the_client_only(client):
    """distributed.warn also warns on the worker, whose stderr is a LocalCluster script's
    terminal: the warning was shown twice there (once attributed to dask's _task_spec.py)."""

    def on_worker() -> int:  # (a local function: pickled by value, no test module on workers)
        import warnings as w

        from xlstsr.errors import PhysicalRangeWarning as P
        from xlstsr.errors import warn

        with w.catch_warnings(record=True) as here:
            w.simplefilter("always")
            warn("a hot spot above 400 K", P)
        return len(here)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert client.submit(on_worker, pure=False).result() == 0  # not warned on the worker
        for _ in range(100):  # the warning comes as an event, after the result
            if caught:
                break
            time.sleep(0.05)
        time.sleep(0.2)  # (a second copy would come now)
    got = [(w.category, str(w.message)) for w in caught]
    assert got == [(PhysicalRangeWarning, "a hot spot above 400 K")]
