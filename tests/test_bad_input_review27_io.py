"""Review of session 27, io: the graph scan of files_read built every task of a map_overlap
(rolling) layer; to_cogs' hidden partial files, left by a run killed hard, ended in .tif and
were read as steps by the library's own advice for a folder; open_stac's refusal of
``bounds_latlon=`` advised engine='stackstac' for MODIS sinusoidal items, which it cannot
load."""

from __future__ import annotations

import datetime
import time
import warnings
from pathlib import Path

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
import zarr

import xlstsr
from xlstsr import errors
from xlstsr.io import cog, open_cog, to_cogs
from xlstsr.io.zarr import files_read

DATA = Path("/work/shared/data/modis_h18v04_2020")


# --- 1. files_read looks at no task of an unmaterialised overlap layer ----------------------

def _overlap_layers(a):
    return [layer for layer in a.__dask_graph__().layers.values()
            if type(layer).__name__ == "ArrayOverlapLayer"]


def test_a_map_overlap_graph_is_scanned_without_materialising(tmp_path):
    """files_read took one task of every layer: an ArrayOverlapLayer built all its tasks for
    that (4.9 s, +200 MiB on a 730-step cube). The store read inline is still found."""
    z = zarr.create_array(str(tmp_path / "cube.zarr"), shape=(60, 64, 64), chunks=(1, 16, 16),
                          dtype="f4")
    a = dsa.from_array(z, chunks=(1, 16, 16), inline_array=True)
    smooth = a.map_overlap(lambda b: b, depth={0: 1, 1: 0, 2: 0}, boundary="none")
    rolled = xr.DataArray(a, dims=("time", "y", "x")).rolling(time=3, center=True,
                                                               min_periods=1).mean()
    for arr in (smooth, rolled.data):
        assert _overlap_layers(arr)
        t0 = time.perf_counter()
        found = files_read(xr.DataArray(arr, dims=("time", "y", "x")))
        assert time.perf_counter() - t0 < 3.0  # generous: ~0.01 s here
        assert found == {(tmp_path / "cube.zarr").resolve()}
        assert not any(layer.is_materialized() for layer in _overlap_layers(arr))


# --- 2. to_cogs' partial files match no *.tif and are removed by the next run ----------------

class _Killed(BaseException):
    """A hard kill: nothing after it runs (no clean-up)."""


def _kill_at(monkeypatch, step: int) -> None:
    """to_cogs killed when it comes to write its ``step``-th file: the steps written so far
    stay as they are, its clean-up never runs."""
    state = {"calls": 0, "dead": False}
    write, unlink = cog._write_cog, Path.unlink

    def dying_write(*args, **kwargs):
        if state["calls"] == step:
            state["dead"] = True
            raise _Killed
        state["calls"] += 1
        return write(*args, **kwargs)

    def unlink_unless_dead(self, *args, **kwargs):
        if not state["dead"]:
            return unlink(self, *args, **kwargs)
        return None

    monkeypatch.setattr(cog, "_write_cog", dying_write)
    monkeypatch.setattr(Path, "unlink", unlink_unless_dead)


def test_partial_cogs_left_by_a_kill_are_no_steps(tmp_path, monkeypatch):
    """`open_cog(sorted(Path(d).glob('*.tif')))`, open_cog's advice for a folder, read the
    hidden `.lst_<date>.partial.tif` files of a killed run as more steps (5 instead of 3)."""
    s = xlstsr.datasets.sample_scene(n_times=3, size=32, seed=0)["lst_1km"]
    first = to_cogs(s, tmp_path, prefix="lst")
    _kill_at(monkeypatch, 2)
    with pytest.raises(_Killed):
        to_cogs(s + 1.0, tmp_path, prefix="lst", overwrite=True)
    monkeypatch.undo()
    hidden = sorted(p.name for p in tmp_path.iterdir() if p not in first)
    assert len(hidden) == 2  # the two steps written before the kill
    assert sorted(tmp_path.glob("*.tif")) == sorted(first)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = open_cog(sorted(tmp_path.glob("*.tif")))
    assert back.sizes["time"] == 3
    np.testing.assert_allclose(back.values, s.values, equal_nan=True)  # the old files, whole

    # a next run killed before its first file: the stale partials of its names are gone
    _kill_at(monkeypatch, 0)
    with pytest.raises(_Killed):
        to_cogs(s + 2.0, tmp_path, prefix="lst", overwrite=True)
    monkeypatch.undo()
    assert sorted(tmp_path.iterdir()) == sorted(first)


# --- 3. open_stac advises engine='stackstac' only for items it can load ----------------------

@pytest.fixture(scope="module")
def modis_items():
    if not (DATA / "catalog.json").exists():
        pytest.skip(f"the shared MODIS catalog ({DATA}) is absent")
    pystac = pytest.importorskip("pystac")
    pytest.importorskip("odc.stac")
    pytest.importorskip("stackstac")
    cat = pystac.Catalog.from_file(str(DATA / "catalog.json"))
    found = [i for i in cat.get_items(recursive=True)
             if i.collection_id.startswith("modis-11A1")]
    if not found:
        pytest.skip("the shared catalog holds no MOD11A1 items")
    return found[:2]


def test_bounds_latlon_on_sinusoidal_items_advises_no_stackstac(modis_items):
    """The refusal told to pass engine='stackstac', which fails on MODIS sinusoidal items
    ("Cannot pick a common CRS"); the lon=/lat= advice stays."""
    with pytest.raises(errors.XlstsrError, match="bounds_latlon=") as err:
        xlstsr.io.open_stac(modis_items, "LST_Day_1km", bounds_latlon=modis_items[0].bbox)
    msg = str(err.value)
    assert "pass engine='stackstac'" not in msg
    assert "cannot load these items" in msg and "no EPSG code" in msg
    assert "lon=(min, max), lat=(min, max)" in msg


def _utm_item():
    pystac = pytest.importorskip("pystac")
    pytest.importorskip("odc.stac")
    pytest.importorskip("stackstac")
    item = pystac.Item("utm", geometry=None, bbox=None,
                       datetime=datetime.datetime(2020, 7, 1, tzinfo=datetime.timezone.utc),
                       properties={"proj:code": "EPSG:32632", "proj:shape": [10, 10],
                                   "proj:transform": [30.0, 0.0, 600000.0, 0.0, -30.0,
                                                      5000000.0]})
    item.add_asset("lst", pystac.Asset("lst.tif", media_type=pystac.MediaType.COG,
                                       roles=["data"]))
    return item


def test_bounds_latlon_on_epsg_items_still_advises_stackstac():
    """Items with an EPSG code: engine='stackstac' takes bounds_latlon=, as advised before;
    into a CRS without one it is not advised."""
    item = _utm_item()
    with pytest.raises(errors.XlstsrError, match="pass engine='stackstac'"):
        xlstsr.io.open_stac([item], "lst", bounds_latlon=(9.0, 45.0, 9.1, 45.1))
    with pytest.raises(errors.XlstsrError, match=r"crs=.*has no EPSG code") as err:
        xlstsr.io.open_stac([item], "lst", bounds_latlon=(9.0, 45.0, 9.1, 45.1),
                            crs=xlstsr.grid.MODIS_SINUSOIDAL)
    assert "pass engine='stackstac'" not in str(err.value)
