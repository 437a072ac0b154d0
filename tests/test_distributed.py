"""dask.distributed: same result as the threaded scheduler; a worker killed mid-run."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch
import xarray as xr
from helpers import local_cluster_client, restore_method_registry

import xlstsr
from xlstsr.methods import TorchModelMethod, get_method
from xlstsr.methods.base import UpscaleMethod, register_method

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.slow  # a local cluster of two worker processes


def _model() -> torch.nn.Module:
    """A tiny SISR CNN from torch's own modules (its pickle needs no test module on workers)."""
    torch.manual_seed(1)
    m = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(4, 4, 3, padding=1),
        torch.nn.PixelShuffle(2),
    )
    with torch.no_grad():  # plausible temperatures (300 K + small detail): the output check passes
        m[2].weight.mul_(0.01)
        m[2].bias.fill_(300.0)
    m.factor, m.n_guide, m.receptive_field = 2, 0, 2
    return m


class SleepyBicubic(UpscaleMethod):
    def upscale_block(self, lst, valid, guide, factor):
        time.sleep(0.4)
        return get_method("bicubic").upscale_block(lst, valid, guide, factor)


@pytest.fixture(scope="module", autouse=True)
def _sleepy_bicubic():
    """``method="sleepy_bicubic"`` for this module only (the registry is restored after it)."""
    with restore_method_registry():
        register_method("sleepy_bicubic")(SleepyBicubic)
        yield


@pytest.fixture(scope="module")
def client():
    yield from local_cluster_client(2)


@pytest.fixture(scope="module")
def cube():
    scene = xlstsr.datasets.sample_scene(n_times=2, size=64, seed=2)
    return scene["lst_1km"].chunk({"time": 1, "y": 8, "x": 8})


def test_distributed_equals_threaded(client, cube):
    m = TorchModelMethod(_model(), device="cpu")
    lazy = xlstsr.upscale(cube, 2, m)
    ref = lazy.compute(scheduler="threads")
    got = client.compute(lazy).result()
    xr.testing.assert_allclose(got, ref, atol=1e-4)
    np.testing.assert_array_equal(np.isnan(got.values), np.isnan(ref.values))
    # the model was shipped once and cached in each worker process, not pickled per task
    cached = client.run(
        lambda: len(
            __import__("xlstsr.nn.runtime", fromlist=["model_cache"]).model_cache()
        )
    )
    # (a worker the scheduler gave no task holds none: 8 small tasks may all land on one)
    assert all(n <= 1 for n in cached.values()) and 1 in cached.values(), cached
    bic = xlstsr.upscale(cube, 2)
    xr.testing.assert_identical(client.compute(bic).result(), bic.compute(scheduler="threads"))


def test_worker_killed_mid_run_output_intact_and_resume_completes(client, tmp_path):
    """Dask reschedules a lost worker's tasks (whole Zarr chunks are rewritten, idempotently); the
    Nanny restarts the worker. The store is complete and equal to the reference."""
    store = tmp_path / "d.zarr"
    cube = xlstsr.datasets.sample_scene(n_times=6, size=32, seed=4)["lst_1km"].chunk({"time": 1})
    err: list[BaseException] = []

    def run():
        try:
            xlstsr.upscale_to_zarr(
                cube, store, 2, method="sleepy_bicubic", time_chunk=1, progress=False
            )
        except BaseException as e:
            err.append(e)

    t = threading.Thread(target=run)
    t.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (store / "xlstsr_progress" / "done" / "c").exists():
        time.sleep(0.05)
    nanny = next(iter(client.cluster.workers.values()))
    nanny.process.process.kill()  # SIGKILL the worker process mid-run
    t.join(120)
    if err:  # the scheduler gave up on a task (allowed-failures): resuming completes the store
        xlstsr.upscale_to_zarr(
            cube, store, 2, method="sleepy_bicubic", time_chunk=1, mode="resume", progress=False
        )
    out = xr.open_zarr(store, consolidated=False, decode_coords="all")
    ref = xlstsr.upscale(cube, 2).compute(scheduler="threads")
    np.testing.assert_array_equal(out[cube.name].values, ref.values)


def test_upscale_to_zarr_sends_each_region_as_one_task(client, cube, tmp_path):
    """On a cluster each region is one task (its tiles computed on that worker), and the store
    equals the threaded result."""
    m = TorchModelMethod(_model(), device="cpu")
    with distributed.get_task_stream(client) as ts:
        out = xlstsr.upscale_to_zarr(cube, tmp_path / "r.zarr", 2, m, time_chunk=1,
                                     progress=False)
    keys = [str(t["key"]) for t in ts.data]
    assert sum(k.startswith("xlstsr-region-") for k in keys) == cube.sizes["time"]
    assert not any(k.startswith("('xlstsr-torch") for k in keys)  # no tile task on its own
    ref = xlstsr.upscale(cube, 2, m).compute(scheduler="threads")
    np.testing.assert_allclose(out.values, ref.values, rtol=0, atol=1e-4)


def test_relative_paths_reach_workers_started_in_another_folder(client, tmp_path, monkeypatch):
    """Batch-cluster workers start elsewhere: a relative store got every region written in
    the workers' folder (the client's store marked complete, all NaN); a relative input was
    "No such file" on the workers."""
    import os

    home, nb = tmp_path / "home", tmp_path / "nb"
    home.mkdir()
    nb.mkdir()
    before = client.run(os.getcwd)
    client.run(os.chdir, str(home))
    monkeypatch.chdir(nb)
    try:
        lst = xlstsr.datasets.sample_scene(n_times=1, size=32, seed=5)["lst_1km"].isel(time=0)
        lst.rio.to_raster("in.tif")
        out = xlstsr.upscale_to_zarr("in.tif", "sr.zarr", 2, progress=False)
        ref = xlstsr.upscale(lst, 2)
        np.testing.assert_allclose(out.values, ref.values, atol=1e-4)
        assert not (home / "sr.zarr").exists()
        lazy = xlstsr.io.open_cog("in.tif").lstsr.upscale(2)
        np.testing.assert_allclose(client.compute(lazy).result().values, ref.values, atol=1e-4)
    finally:
        for addr, cwd in before.items():
            client.run(os.chdir, cwd, workers=[addr])
