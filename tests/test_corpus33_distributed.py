"""upscale_to_zarr under a dask.distributed client (corpus 33e): what each region task carries,
and which scheduler runs the regions. In-process clusters (``processes=False``): fast to start;
the sizes are measured by pickling each region task's arguments, as a worker process gets them."""

from __future__ import annotations

import os
import pickle

import dask
import numpy as np
import pytest
import xarray as xr
import zarr

import xlstsr
from xlstsr.engine.regions import active_client

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None, silence_logs=40) as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.fixture
def region_args(monkeypatch):
    """The pickled size (bytes) of each region task's arguments given to Client.submit."""
    sizes: list[int] = []
    orig = distributed.Client.submit

    def submit(self, fn, *args, **kw):
        sizes.append(len(pickle.dumps(args, protocol=5)))
        return orig(self, fn, *args, **kw)

    monkeypatch.setattr(distributed.Client, "submit", submit)
    return sizes


def _written(store) -> np.ndarray:
    ds = xr.open_zarr(store, consolidated=False)
    return max(ds.data_vars.values(), key=lambda v: v.ndim).values  # the upscaled LST


def _same_as_sync(lst, tmp_path, got, *args, **kw) -> None:
    ref = tmp_path / "sync.zarr"
    with dask.config.set(scheduler="sync"):
        xlstsr.upscale_to_zarr(lst, ref, *args, progress=False, **kw)
    np.testing.assert_array_equal(_written(got), _written(ref))  # NaN where NaN, bit for bit


@pytest.mark.parametrize("chunked", [False, True], ids=["numpy", "numpy.chunk"])
def test_inmemory_lst_region_carries_its_own_steps_only(client, region_args, tmp_path, chunked):
    lst = xlstsr.datasets.sample_scene(n_times=4, size=1024, seed=2)["lst_1km"]  # 4 x 256^2
    arr = lst.chunk({"time": 1}) if chunked else lst
    store = tmp_path / "dist.zarr"
    xlstsr.upscale_to_zarr(arr, store, 2, "bicubic", time_chunk=1, progress=False)
    assert len(region_args) == 4
    # each carried the whole cube before (4 x its share)
    assert max(region_args) < 0.5 * lst.nbytes, (region_args, lst.nbytes)
    _same_as_sync(lst, tmp_path, store, 2, "bicubic", time_chunk=1)


def test_inmemory_static_guide_sent_once_not_per_region(client, region_args, tmp_path):
    scene = xlstsr.datasets.sample_scene(n_times=3, size=512, seed=2)
    cube, ndvi = scene["lst_1km"].chunk({"time": 1}), scene["ndvi_250m"]  # guide in memory
    store = tmp_path / "dist.zarr"
    xlstsr.upscale_to_zarr(cube, store, 4, "tsharp", guide=ndvi, guide_offset="ignore",
                           time_chunk=1, progress=False)
    assert len(region_args) == 3
    assert max(region_args) < 0.5 * ndvi.nbytes, (region_args, ndvi.nbytes)
    _same_as_sync(cube, tmp_path, store, 4, "tsharp", guide=ndvi, guide_offset="ignore",
                  time_chunk=1)


def test_method_weights_scattered_once_not_per_region(client, region_args, tmp_path):
    lst = xlstsr.datasets.modis_sample()["lst_day"].isel(time=slice(0, 3))
    wfile = os.path.join(os.path.dirname(xlstsr.__file__), "weights", "sisr_rescnn_cube_x4.pt")
    store = tmp_path / "dist.zarr"
    xlstsr.upscale_to_zarr(lst, store, 4, "sisr", time_chunk=1, progress=False)
    assert len(region_args) == 3
    # (docs/index.md: "models are shipped once and cached per worker")
    assert max(region_args) < 0.5 * os.path.getsize(wfile), region_args
    _same_as_sync(lst, tmp_path, store, 4, "sisr", time_chunk=1)


def test_explicit_scheduler_wins_over_an_alive_client(client, region_args, tmp_path):
    lst = xlstsr.datasets.sample_scene(n_times=2, size=64, seed=2)["lst_1km"]
    assert active_client() is client
    with dask.config.set(scheduler="sync"):
        assert active_client() is None  # dask itself would not use the client
        xlstsr.upscale_to_zarr(lst, tmp_path / "a.zarr", 4, progress=False)
        assert region_args == []  # no region went to the cluster
        mem = zarr.storage.MemoryStore()  # refused before: "a dask.distributed client is active"
        xlstsr.upscale_to_zarr(lst, mem, 4, progress=False)
    with dask.config.set(scheduler="threads"):
        assert active_client() is None
    np.testing.assert_array_equal(_written(mem), _written(tmp_path / "a.zarr"))
    xlstsr.upscale_to_zarr(lst, tmp_path / "b.zarr", 4, progress=False)  # the client again
    assert len(region_args) == 2
    np.testing.assert_array_equal(_written(tmp_path / "b.zarr"), _written(tmp_path / "a.zarr"))


def test_cuda_checked_here_when_the_alive_client_is_not_the_scheduler(client):
    """A deep method's device check is left to the workers only when the client is dask's
    scheduler; under ``scheduler="sync"`` the device is this process's (CUDA refused now)."""
    pytest.importorskip("torch")
    import torch

    from xlstsr.errors import DeviceError
    from xlstsr.methods.torch_model import check_device

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here: nothing to refuse")
    assert check_device("cuda") == "cuda"  # the client's workers may have GPUs
    with dask.config.set(scheduler="sync"), pytest.raises(DeviceError):
        check_device("cuda")


def test_warnings_of_worker_tasks_reach_the_client_once():
    """xlstsr's warnings raised in a task on a worker process reach the client (through
    ``distributed.warn``): they stayed in the worker's log, so a notebook user never learnt
    that a cloudy date was upscaled without its guide."""
    import time
    import warnings

    from xlstsr.errors import warn

    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=40) as cluster, \
            distributed.Client(cluster) as c, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # a task that made the worker its own client (get_client, a nested compute): that
        # client is not a user's, the worker's warnings are still sent (they were lost)
        assert c.submit(lambda: distributed.get_client() is not None, pure=False).result()
        assert c.submit(lambda: warn("sharpened without the guide", UserWarning) or 1,
                        pure=False).result() == 1
        for _ in range(100):  # the warning comes as an event, after the result
            if caught:
                break
            time.sleep(0.05)
    assert [str(w.message) for w in caught] == ["sharpened without the guide"]


def test_warnings_of_an_in_process_worker_are_shown_once(client, monkeypatch):
    """A worker in the client's own process (processes=False) warns there already: sent to
    the client too, each warning was shown twice."""
    import warnings

    from xlstsr.errors import warn

    sent: list[str] = []
    monkeypatch.setattr(distributed, "warn", lambda m, c=None, stacklevel=1: sent.append(m))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert client.submit(lambda: warn("once", UserWarning) or 1, pure=False).result() == 1
    assert sent == [] and [str(w.message) for w in caught] == ["once"]
