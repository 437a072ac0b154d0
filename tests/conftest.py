"""Shared fixtures: the real data folder, sample scenes, a method registry restored after a test.

Builders and the raising dask scheduler used by several modules are in ``helpers.py``.
"""

from __future__ import annotations

import gc
import logging
import os
from pathlib import Path

import pytest
import xarray as xr
from helpers import GRANULE, restore_method_registry

import xlstsr

SHARED_DATA = Path(
    os.environ.get("XLSTSR_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
)


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session):
    """Collection without the cyclic garbage collector, then what it left frozen.

    Collecting the ~6000 tests (their modules' asserts rewritten) grows the heap to ~640 000
    objects: each full collection during it scanned them all, half of the collection's time;
    after it each full collection in a test (``train.cube``'s, the automatic ones) took 0.6 s
    scanning objects that live as long as the session anyway (6 % of a sample's time).
    """
    gc.disable()
    try:
        return (yield)
    finally:
        gc.enable()
        import torch  # noqa: F401  (imported by most tests: its objects frozen too)

        gc.collect()
        gc.freeze()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that takes the ``shared_data`` fixture reads real data: mark it ``realdata``."""
    for item in items:
        if "shared_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.realdata)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder (../shared/data beside the repository); skip when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (set XLSTSR_DATA to its path)")
    return SHARED_DATA


@pytest.fixture
def real_granule(shared_data: Path) -> Path:
    """The real MOD11A1 granule ``helpers.GRANULE``; skip without pyhdf or the file."""

    pytest.importorskip("pyhdf", reason="pyhdf is not installed: no HDF4 reader")
    path = shared_data / "mod11a1_hdf" / GRANULE
    if not path.is_file():
        pytest.skip(f"{path} is absent from the real data folder")
    return path


@pytest.fixture(scope="session")
def scene() -> dict[str, xr.DataArray]:
    """The embedded synthetic sample scene (3 time steps, 64x64 at 1 km, 256x256 at 250 m)."""
    return xlstsr.datasets.sample_scene()


@pytest.fixture(scope="session")
def small_scene() -> dict[str, xr.DataArray]:
    """A smaller synthetic scene for fast tests (2 steps, 32x32 at 1 km)."""
    return xlstsr.datasets.sample_scene(n_times=2, size=128, seed=3)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Torch on one thread for a module's tests: backward passes (adaptation, training) on 2
    torch threads crawl on a loaded 2-core machine (20x here). Use it with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(autouse=True)
def _xlstsr_log_level_restored():
    """The xlstsr logger's level put back after each test: modules quieting it (ERROR) for
    their own tests left it so for the next tests of the worker, whose caplog then missed the
    warnings they check (an order-dependent failure)."""
    logger = logging.getLogger("xlstsr")
    before = logger.level
    yield
    logger.setLevel(before)


@pytest.fixture
def threads():
    """Torch's thread count put back after a test (benchmarks' main functions set it)."""
    torch = pytest.importorskip("torch")
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture
def method_registry():
    """Methods a test registers are removed after it (and any it replaced are put back)."""
    with restore_method_registry():
        yield


@pytest.fixture(autouse=True)
def _no_method_registry_leak():
    """Fail a test that leaves a method registered (use the ``method_registry`` fixture)."""
    before = set(xlstsr.available_methods())
    yield
    leaked = set(xlstsr.available_methods()) - before
    assert not leaked, f"test left methods {sorted(leaked)} registered; use method_registry"


@pytest.fixture(scope="module")
def s():
    """The bad-input corpora's scene: a 16 x 16 LST (2 dates), its 64 x 64 NDVI guide and 250 m
    truth (``xlstsr.datasets.sample_scene(n_times=2, size=64)``)."""
    return xlstsr.datasets.sample_scene(n_times=2, size=64)


@pytest.fixture(scope="module")
def sr(s):
    """``s``'s LST upscaled x4 by bicubic: a valid super-resolved field."""
    return xlstsr.upscale(s["lst_1km"], 4)
