"""upscale_to_zarr's regions on a dask.distributed client (review 33b): the data scattered to the
cluster is released as the regions no longer read it, also after a failed run, and a client that
is dask's scheduler without being distributed's default client runs the regions. In-process
clusters (``processes=False``); small scenes with a lowered scatter threshold."""

from __future__ import annotations

import gc
import time
import warnings

import dask
import numpy as np
import pytest
import xarray as xr

import xlstsr
import xlstsr.engine.regions as regions
import xlstsr.engine.to_zarr as to_zarr

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def scene():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xlstsr.datasets.sample_scene(n_times=6, size=128, seed=3)


@pytest.fixture
def small_scatter(monkeypatch):
    """Each 4 KiB input step and the 64 KiB guide scattered (as 1 MiB steps are)."""
    monkeypatch.setattr(regions, "SCATTER_BYTES", 1024)


def _cluster():
    return distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                    dashboard_address=None, silence_logs=50)


def _held(cluster) -> int:
    return sum(ws.nbytes for ws in cluster.scheduler.workers.values())


def _tsharp(scene, store, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xlstsr.upscale_to_zarr(scene["lst_1km"], store, 4, "tsharp", guide=scene["ndvi_250m"],
                               guide_offset="ignore", time_chunk=1, progress=False, **kw)
    return xr.open_zarr(store)


def test_scattered_data_released_once_no_region_reads_it(scene, small_scatter, tmp_path,
                                                         monkeypatch):
    """Every scattered input step stayed on the workers until the run ended (the workers held
    the whole in-memory cube); the guide, read by every region, is still scattered once."""
    scattered: list[tuple[int, ...]] = []
    orig_scatter = distributed.Client.scatter

    def scatter(self, data, **kw):
        scattered.append(np.shape(data))
        return orig_scatter(self, data, **kw)

    monkeypatch.setattr(distributed.Client, "scatter", scatter)
    held_after: list[int] = []
    orig_run = to_zarr.run_regions

    with _cluster() as cluster, distributed.Client(cluster):
        def spy(todo, write, mark, k):
            def marked(i, res):
                mark(i, res)
                held_after.append(_held(cluster))
            return orig_run(todo, write, marked, k)

        monkeypatch.setattr(to_zarr, "run_regions", spy)
        out = _tsharp(scene, str(tmp_path / "d.zarr"), regions_in_flight=1).load()
    monkeypatch.undo()
    with dask.config.set(scheduler="sync"):
        ref = _tsharp(scene, str(tmp_path / "s.zarr")).load()

    n = scene["lst_1km"].sizes["time"]
    step = scene["lst_1km"].isel(time=0).nbytes
    guide = scene["ndvi_250m"].nbytes
    assert len(held_after) == n
    # after each region: at most the guide, the finished region's step and the next one's
    assert max(held_after) <= guide + 2 * step + 1024, held_after
    guide_scatters = [s for s in scattered if int(np.prod(s)) == scene["ndvi_250m"].size]
    assert len(guide_scatters) == 1, scattered
    assert len(scattered) == n + 1, scattered  # each input step once, not again
    for v in ref.data_vars:
        np.testing.assert_array_equal(out[v].values, ref[v].values)


#: the state of _failing_second (module level: a task's function is pickled by reference)
_FAILING: dict = {}


def _failing_second(region, held=None):
    """_compute_region whose second call fails (a bad tile, a worker's error)."""
    _FAILING["calls"] += 1
    if _FAILING["calls"] == 2:
        raise RuntimeError("injected region failure")
    return _FAILING["orig"](region, held)


def test_failed_run_releases_scattered_data(scene, small_scatter, tmp_path, monkeypatch):
    """A failed run's scattered guide and steps stayed on the workers as long as its error
    lived (its traceback kept run_regions' frame): each failed try added a copy."""
    _FAILING.update(calls=0, orig=regions._compute_region)
    monkeypatch.setattr(regions, "_compute_region", _failing_second)
    with _cluster() as cluster, distributed.Client(cluster):
        with pytest.raises(RuntimeError, match="injected") as err:
            _tsharp(scene, str(tmp_path / "f.zarr"), regions_in_flight=1)
        gc.collect()
        deadline = time.monotonic() + 5
        while (cluster.scheduler.tasks or _held(cluster)) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = {str(k): ts.state for k, ts in cluster.scheduler.tasks.items()}
        assert _held(cluster) == 0 and not left, left
        assert err.value is not None  # the error (and its traceback) still alive


def test_nondefault_client_as_dask_scheduler_runs_regions(scene, small_scatter, tmp_path):
    """dask.config.set(scheduler=client) with a client made with set_as_default=False: the run
    failed with distributed's "No clients found" (as_completed / wait ask for the default
    client)."""
    with _cluster() as cluster:
        client = distributed.Client(cluster, set_as_default=False)
        try:
            with dask.config.set(scheduler=client):
                assert regions.active_client() is client
                out = _tsharp(scene, str(tmp_path / "d.zarr"), regions_in_flight=2).load()
        finally:
            client.close()
    with dask.config.set(scheduler="sync"):
        ref = _tsharp(scene, str(tmp_path / "s.zarr")).load()
    for v in ref.data_vars:
        np.testing.assert_array_equal(out[v].values, ref[v].values)


def test_nondefault_client_stop_waits_for_running_regions(tmp_path):
    """The stop path of a run on a non-default client (distributed's wait asked for the default
    client): a region still running when another fails ends before the error is raised."""
    marker = tmp_path / "region-1-finished"

    def region(i):
        if i == 0:
            raise ValueError("region 0 refused")
        time.sleep(1.0)  # still running when region 0 fails
        marker.write_text("written")
        return True

    with _cluster() as cluster:
        client = distributed.Client(cluster, set_as_default=False)
        try:
            with dask.config.set(scheduler=client), pytest.raises(ValueError, match="region 0"):
                regions.run_regions([0, 1], lambda i: dask.delayed(region)(i),
                                    lambda i, res: None, 2)
            assert marker.exists()
        finally:
            client.close()
