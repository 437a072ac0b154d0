"""Bad-input corpus 29 (engine, STAC): a dask.distributed client with chunks persisted on it
(a lazy static guide, ``lst.persist()``); a failed run's fresh store of no finished region;
open_stac's lon/lat and geopolygon beside every item, ``lon=`` without ``lat=``, and
``groupby='id'`` on items newest first."""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pytest
from helpers import restore_method_registry

import xlstsr
from xlstsr.errors import NoOverlapError, XlstsrError
from xlstsr.methods import get_method
from xlstsr.methods.base import UpscaleMethod, register_method

# -- engine: a dask.distributed client ---------------------------------------------------------


@contextlib.contextmanager
def _client():
    """One in-process worker thread: the regions are shipped to it as under any cluster."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=1,
                                  dashboard_address=None, silence_logs=50) as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def series():
    s = xlstsr.datasets.sample_scene(n_times=2, size=64, seed=1)
    return s["lst_1km"].chunk({"time": 1}), s["ndvi_250m"]


def test_client_lazy_static_guide_writes_the_threaded_store(tmp_path, series):
    """A lazy guide without time (an NDVI COG opened with chunks) is read once and persisted:
    under a client every region failed with dask's raw "Missing dependency"."""
    lst, ndvi = series
    guide = ndvi.chunk(32)
    ref = xlstsr.upscale_to_zarr(lst, tmp_path / "ref.zarr", 4, "tsharp", guide=guide,
                                 progress=False).values
    with _client():
        out = xlstsr.upscale_to_zarr(lst, tmp_path / "cl.zarr", 4, "tsharp", guide=guide,
                                     progress=False)
        np.testing.assert_array_equal(out.values, ref)


def test_client_lst_persisted_on_the_cluster(tmp_path, series):
    """An LST the user persisted on the cluster (`lst.persist()`) failed alike."""
    lst, _ = series
    ref = xlstsr.upscale(lst.compute(), 4, "bicubic")
    with _client():
        out = xlstsr.upscale_to_zarr(lst.persist(), tmp_path / "p.zarr", 4, "bicubic",
                                     progress=False)
    np.testing.assert_allclose(out.values, ref.values, rtol=1e-6, equal_nan=True)


class _Failing(UpscaleMethod):
    """A method whose every block fails with a non-xlstsr error (a bug, a lost worker)."""

    def upscale_block(self, lst, valid, guide, factor):
        raise RuntimeError("corpus29 block failure")


def test_failed_run_removes_its_fresh_store_of_no_region(tmp_path, series):
    """Any error on a store this call started, before a region finished, removes it: an
    "incomplete" store of no region was left behind, and the plain rerun was refused
    ("exists; pass mode='w'")."""
    lst, _ = series
    p = tmp_path / "sr.zarr"
    with restore_method_registry():
        register_method("corpus29_failing")(_Failing)
        with pytest.raises(RuntimeError, match="corpus29 block failure") as info:
            xlstsr.upscale_to_zarr(lst, p, 4, "corpus29_failing", progress=False)
    assert not p.exists()
    assert any("removed" in n for n in getattr(info.value, "__notes__", []))
    out = xlstsr.upscale_to_zarr(lst, p, 4, "bicubic", progress=False)  # default mode="w-"
    assert out.sizes["time"] == lst.sizes["time"]


def test_failed_run_keeps_a_store_with_finished_regions(tmp_path, series):
    """A store with finished regions stays (mode='resume' completes it): only the first
    region succeeds here."""
    lst = series[0].copy()
    lst[1] = lst[1] - 40.0  # the second step colder than any pixel of the first: told apart
    cut = float(lst[0].min() + lst[1].max()) / 2

    class FailsSecond(UpscaleMethod):
        def upscale_block(self, lst_b, valid, guide, factor):
            if float(np.nanmax(lst_b)) < cut:
                raise RuntimeError("corpus29 second region")
            return get_method("bicubic").upscale_block(lst_b, valid, guide, factor)

    p = tmp_path / "sr.zarr"
    with restore_method_registry():
        register_method("corpus29_fails_second")(FailsSecond)
        with pytest.raises(RuntimeError) as info:
            xlstsr.upscale_to_zarr(lst, p, 4, "corpus29_fails_second", progress=False,
                                   regions_in_flight=1)
    assert p.exists()
    assert any("mode='resume'" in n for n in getattr(info.value, "__notes__", []))


# -- open_stac on the real MOD11A1 catalog ------------------------------------------------------


@pytest.fixture(scope="module")
def items(request):
    pystac = pytest.importorskip("pystac")
    pytest.importorskip("odc.stac")
    shared = request.getfixturevalue("shared_data")
    cat = pystac.Catalog.from_file(str(shared / "modis_h18v04_2020" / "catalog.json"))
    return [i for i in cat.get_items(recursive=True)
            if i.collection_id.startswith("modis-11A1") and 231 in i.properties["subset:windows"]]


@pytest.fixture(scope="module")
def window(request):
    import pandas as pd

    shared = request.getfixturevalue("shared_data")
    return pd.read_csv(shared / "modis_h18v04_2020" / "windows.csv").set_index("window").loc[231]


_ATLANTIC = {"type": "Polygon", "coordinates": [[[-30, 10], [-29, 10], [-29, 11], [-30, 11],
                                                 [-30, 10]]]}


@pytest.mark.parametrize("kw", [
    {"lon": (-30, -29), "lat": (10, 11)},
    {"lon": (-30, -29), "lat": (10, 11), "crs": "EPSG:4326", "resolution": 0.01},
    {"geopolygon": _ATLANTIC},
])
def test_open_stac_lonlat_beside_every_item_is_refused(items, kw):
    """lon=/lat= or geopolygon= beside every item loaded a cube of NaN only, without a word
    (bbox= is refused)."""
    from xlstsr.io.stac import open_stac

    with pytest.raises(NoOverlapError, match="meets none of the 3 items"):
        open_stac(items[:3], "LST_Day_1km", **kw)


def test_open_stac_lonlat_over_the_items_loads(items, window):
    """The same keywords over the items load the window (not refused)."""
    from xlstsr.io.stac import open_stac

    lon, lat = float(window.lon_center), float(window.lat_center)
    da = open_stac(items[:1], "LST_Day_1km", lon=(lon - 0.05, lon + 0.05),
                   lat=(lat - 0.05, lat + 0.05))
    assert np.isfinite(da.values).any()
    poly = {"type": "Polygon", "coordinates": [[[lon - .05, lat - .05], [lon + .05, lat - .05],
                                                [lon + .05, lat + .05], [lon - .05, lat + .05],
                                                [lon - .05, lat - .05]]]}
    assert open_stac(items[:1], "LST_Day_1km", geopolygon=poly).sizes["time"] == 1


def test_open_stac_lon_without_lat_names_the_argument(items):
    """odc-stac's "Need to supply both lon= and lat=" was wrapped in advice about the
    projection extension."""
    from xlstsr.io.stac import open_stac

    with pytest.raises(XlstsrError, match="lat=") as info:
        open_stac(items[:1], "LST_Day_1km", lon=(11.1, 11.6))
    assert "projection extension" not in str(info.value)


def test_open_stac_groupby_id_time_ascending(items, window):
    """groupby='id' followed the items' order: newest first gave a descending axis, on which
    `.sel(time=slice(...))` raised KeyError. Sorted stably: a reprocessed granule of one date
    stays beside the original, after it."""
    from xlstsr.io.stac import open_stac

    bbox = (window.xmin, window.ymin, window.xmax, window.ymax)
    sel = items[:3]
    newest_first = sorted(sel, key=lambda i: i.datetime, reverse=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = open_stac(newest_first, "LST_Day_1km", bbox=bbox, groupby="id")
    assert b.indexes["time"].is_monotonic_increasing
    first, last = b.time.values[0], b.time.values[-1]
    assert b.sel(time=slice(first, last)).sizes["time"] == len(sel)
    dup = sel[0].clone()
    dup.id += "-reprocessed"
    c = open_stac([*sel, dup], "LST_Day_1km", bbox=bbox, groupby="id")
    assert c.indexes["time"].is_monotonic_increasing
    assert c.sizes["time"] == len(sel) + 1
    assert int((c.time == np.datetime64(sel[0].datetime.replace(tzinfo=None))).sum()) == 2
