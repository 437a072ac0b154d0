"""Corpus 33 (open_stac): item dicts with relative hrefs when one of their assets is loaded
(odc-stac resolved every asset's href), a lon/lat bbox on sinusoidal items refused without
saying how to give an area in degrees, and a partial ``chunks=`` dict that made the dims it
omitted whole-grid chunks."""

from __future__ import annotations

import glob
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from xlstsr.errors import NoOverlapError, XlstsrError
from xlstsr.io import open_stac

D = Path("/work/shared/data/modis_h18v04_2020")
pytestmark = pytest.mark.skipif(not (D / "items").is_dir(),
                                reason="shared MODIS STAC items (/work/shared/data) absent")


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture()
def dicts():
    """Two MOD11A1 items read as dicts: no location, hrefs '../cogs/...' (two assets each)."""
    files = sorted(glob.glob(str(D / "items" / "MOD11A1*.json")))[:2]
    out = [json.load(open(f)) for f in files]
    assert all(len(d["assets"]) == 2 for d in out)
    return out


@pytest.fixture()
def items():
    """The same two items opened from their files (their hrefs resolve against them)."""
    import pystac

    files = sorted(glob.glob(str(D / "items" / "MOD11A1*.json")))[:2]
    return [pystac.Item.from_file(f) for f in files]


# -- 1. relative hrefs: one asset of two loaded -------------------------------------------------


def test_relative_hrefs_from_cwd_load_one_asset(dicts, monkeypatch):
    """From the folder where the relative hrefs resolve one asset loads as both do (the other
    asset's href was left relative and odc-stac failed on it, blaming the projection)."""
    monkeypatch.chdir(D / "items")
    one = open_stac(dicts, "LST_Day_1km")
    both = open_stac(dicts, ["LST_Day_1km", "LST_Night_1km"])
    win = dict(time=0, y=slice(0, 32), x=slice(1088, 1120))
    np.testing.assert_array_equal(one.isel(**win).values,
                                  both["LST_Day_1km"].isel(**win).values)
    assert dicts[0]["assets"]["LST_Night_1km"]["href"].startswith("..")  # caller's kept


def test_modifier_fixing_only_the_loaded_asset_loads(dicts, monkeypatch, tmp_path):
    """The refusal's own advice (make the href absolute with modifier=) applied to the loaded
    asset only, from a folder where the other asset's href does not resolve."""
    monkeypatch.chdir(tmp_path)

    def fix_day(it):
        a = it.assets["LST_Day_1km"]
        a.href = os.path.normpath(os.path.join(D / "items", a.href))

    one = open_stac(dicts, "LST_Day_1km", modifier=fix_day)
    assert one.sizes["time"] == 2 and one.name == "LST_Day_1km"


def test_loader_relative_href_failure_names_relative_href(dicts, monkeypatch):
    """odc-stac's "Can not determine absolute path" is a relative-href problem, not one of the
    projection extension: the message says so and how to rewrite every asset's href."""
    import odc.stac

    def fail(*a, **k):
        raise ValueError("Can not determine absolute path for asset: LST_Night_1km")

    monkeypatch.chdir(D / "items")
    monkeypatch.setattr(odc.stac, "load", fail)
    with pytest.raises(XlstsrError) as e:
        open_stac(dicts, "LST_Day_1km")
    msg = str(e.value)
    assert "relative" in msg and "modifier=" in msg and "item.assets.values()" in msg
    assert "projection extension" not in msg


# -- 2. a lon/lat bbox on sinusoidal items ------------------------------------------------------


def test_lonlat_bbox_refusal_says_how_to_give_degrees(items):
    box = (13.0, 49.3, 13.9, 49.9)
    meets = sum(b[0] < box[2] and box[0] < b[2] and b[1] < box[3] and box[1] < b[3]
                for b in (it.bbox for it in items))
    assert meets
    with pytest.raises(NoOverlapError) as e:
        open_stac(items, "LST_Day_1km", bbox=box)
    msg = str(e.value)
    assert "lon=(13, 13.9), lat=(49.3, 49.9)" in msg and f"meets {meets} of the items" in msg
    with pytest.raises(NoOverlapError, match=r"bounds_latlon=\(13, 49.3, 13.9, 49.9\)"):
        open_stac(items, "LST_Day_1km", bbox=(13.0, 49.3, 13.9, 49.9), engine="stackstac")
    # the advice's own call loads
    a = open_stac(items, "LST_Day_1km", lon=(13.0, 13.9), lat=(49.3, 49.9))
    assert a.sizes["x"] > 0 and a.sizes["y"] > 0


def test_metre_bbox_refusal_has_no_degree_advice(items):
    """A bbox in metres beside the items is not taken for degrees."""
    with pytest.raises(NoOverlapError) as e:
        open_stac(items, "LST_Day_1km", bbox=(5e6, 5e6, 5.1e6, 5.1e6))
    assert "lon=" not in str(e.value)


# -- 3. partial chunks dicts --------------------------------------------------------------------


@pytest.mark.parametrize("chunks, want", [
    ({"time": 2}, (2, 1024, 1024)),
    ({"y": 256}, (1, 256, 1024)),
    ({"x": -1}, (1, 1024, 1200)),
])
def test_partial_chunks_keep_the_default_of_dims_not_named(items, chunks, want):
    """The 1200 x 1200 tile: a dim not named keeps 1 step / 1024 px (was the whole grid)."""
    a = open_stac(items, "LST_Day_1km", chunks=chunks)
    assert a.sizes["y"] == a.sizes["x"] == 1200
    assert tuple(max(c) for c in a.chunks) == want


def test_partial_chunks_geographic_dims(items):
    """With a lon/lat output CRS, latitude= stands for y and longitude keeps the default."""
    a = open_stac(items, "LST_Day_1km", crs="EPSG:4326", resolution=0.002,
                  chunks={"latitude": 64})
    dims = dict(zip(a.dims, a.chunks))
    lon = "longitude" if "longitude" in dims else "x"
    lat = "latitude" if "latitude" in dims else "y"
    assert a.sizes[lon] > 1024
    assert max(dims[lat]) == 64 and max(dims[lon]) == 1024 and max(dims["time"]) == 1
