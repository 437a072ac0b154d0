"""Shared fixtures: the real data folder, sample scenes, a counting dask scheduler."""

from __future__ import annotations

import os
from pathlib import Path

import dask
import numpy as np
import pytest
import xarray as xr

import xlstsr

SHARED_DATA = Path(os.environ.get("XLSTSR_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder (../shared/data beside the repository); skip when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (set XLSTSR_DATA to its path)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def scene() -> dict[str, xr.DataArray]:
    """The embedded synthetic sample scene (3 time steps, 64x64 at 1 km, 256x256 at 250 m)."""
    return xlstsr.datasets.sample_scene()


@pytest.fixture(scope="session")
def small_scene() -> dict[str, xr.DataArray]:
    """A smaller synthetic scene for fast tests (2 steps, 32x32 at 1 km)."""
    return xlstsr.datasets.sample_scene(n_times=2, size=128, seed=3)


class CountingScheduler:
    """A dask scheduler that counts how many times a graph is computed."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, dsk, keys, **kwargs):
        self.count += 1
        return dask.get(dsk, keys, **kwargs)


@pytest.fixture
def count_computes():
    """Use as ``with count_computes() as c: ...; assert c.count == 0``."""
    from contextlib import contextmanager

    @contextmanager
    def _ctx():
        sched = CountingScheduler()
        with dask.config.set(scheduler=sched):
            yield sched

    return _ctx


def make_lst(values: np.ndarray, res: float = 1000.0, crs: str = "EPSG:32631", **attrs) -> xr.DataArray:
    """A georeferenced (.., y, x) DataArray for tests."""
    ny, nx = values.shape[-2:]
    dims = ("time", "y", "x")[-values.ndim:] if values.ndim <= 3 else None
    da = xr.DataArray(values, dims=dims, attrs=attrs)
    da = da.assign_coords(y=500_000.0 - (np.arange(ny) + 0.5) * res, x=400_000.0 + (np.arange(nx) + 0.5) * res)
    return da.rio.write_crs(crs)
