"""Probe 49 R1 findings 3, 4, 5, 7, 8, 9, 10: open_stac's scalings and advice, ECOSTRESS
folders at the antimeridian, open_cog's folder advice, traced models' weights_hash."""

from __future__ import annotations

import copy
import glob
import io
import os
import pathlib
import re
import warnings

import numpy as np
import pytest
import xarray as xr
from helpers import utm33_cog_item
from test_ecostress import _write_scene
from test_io48 import DN, FULL, N, _files

import xlstsr
from xlstsr.errors import XlstsrError

# -- open_stac (findings 3, 5, 9) ------------------------------------------------------------

def _items(paths, band, assets=("LST",)):
    items = []
    for i, p in enumerate(paths):
        it = utm33_cog_item(i, p, N, dict(band), [14, 49.2, 14.5, 49.6])
        for k in assets[1:]:  # a second asset of the same files (LST_Night beside LST_Day)
            a = it.assets["LST"].clone()
            a.extra_fields = copy.deepcopy(a.extra_fields)
            it.add_asset(k, a)
        items.append(it)
    return items


def _open(items, assets="LST", **kw):
    from xlstsr.io import open_stac

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return open_stac(items, assets, **kw)


def _advice(msg: str, **names) -> object:
    """The modifier the message advises, as written (``modifier=lambda it: ...``)."""
    code = re.search(r"`modifier=(lambda it: [^`]*)`", msg)
    assert code is not None, msg
    return eval(code.group(1), dict(names))


def test_items_scale_against_the_header_reads_the_plausible_one_and_says_so(tmp_path):
    """Items' scale 1.0 over files whose header says 0.02 (MOD11A1 DNs came out as ~13,700
    'K'): the header's reading, the only plausible Kelvin, is taken, with a warning naming
    both; lazy."""
    from xlstsr.io import open_stac

    paths = _files(tmp_path)
    with pytest.warns(UserWarning, match=r"scale 1\b.*scale 0\.02"):
        got = open_stac(_items(paths, {**FULL, "scale": 1.0}), "LST")
    assert hasattr(got.data, "dask")
    assert got.attrs["units"] == "K"
    assert 269 < float(got.min()) and float(got.max()) < 280
    # the items' plausible scale over a header of another one: the items', said as well
    with pytest.warns(UserWarning, match="read as the items say"):
        got = open_stac(_items(_files(tmp_path, scale=0.01, name="h"), FULL), "LST")
    assert 269 < float(got.min()) and float(got.max()) < 280


def test_shared_catalog_layout_opens_as_before_without_a_word(tmp_path):
    """Guard: items and header agree (the shared catalog): the same cube, lazy, no warning."""
    from xlstsr.io import open_stac

    paths = _files(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        got = open_stac(_items(paths, FULL), "LST")
    assert hasattr(got.data, "dask")
    np.testing.assert_allclose(got.isel(time=0).values, DN * 0.02, rtol=1e-6)


def test_items_scale_against_the_header_undecidable_is_refused_and_the_advice_works(tmp_path):
    """A reflectance (no temperature to judge by): items' scale 1 over a header of 1e-4 is
    refused naming both; the advised modifier, written with the user's own first, opens the
    header's reading."""
    paths = _files(tmp_path, scale=0.0001, units=None)
    band = {"nodata": 0, "data_type": "uint16", "scale": 1.0, "offset": 0.0}
    called = []

    def add_tag(it):
        called.append(it.id)

    with pytest.raises(XlstsrError, match=r"items give scale 1.*header.*scale 0\.0001") as err:
        _open(_items(paths, band), modifier=add_tag)
    msg = str(err.value)
    assert "add_tag(it)" in msg
    called.clear()
    got = _open(_items(paths, band), modifier=_advice(msg, add_tag=add_tag))
    assert called  # the user's modifier still runs
    np.testing.assert_allclose(got.isel(time=0).values, DN * 0.0001, rtol=1e-5)


def test_remote_assets_without_scale_get_one_advice_for_all(tmp_path):
    """Two remote assets without a scale: one refusal naming both, one modifier fixing both
    (each advice fixed one and dropped the other's fix: an endless loop), composed with the
    user's modifier."""
    paths = _files(tmp_path)
    band = {k: v for k, v in FULL.items() if k != "scale"}
    remote = _items(paths, band, assets=("LST", "LST_Night"))
    for it in remote:
        for a in it.assets.values():
            a.href = "https://example.invalid/" + pathlib.Path(a.href).name

    def sign(it):
        it.properties["signed"] = True

    with pytest.raises(XlstsrError, match=r"'LST'.*'LST_Night'") as err:
        _open(remote, ["LST", "LST_Night"], modifier=sign)
    msg = str(err.value)
    assert "sign(it)" in msg
    fix = _advice(msg, sign=sign)
    got = _open(remote, ["LST", "LST_Night"], modifier=fix)  # lazy: no file is read
    assert set(got.data_vars) == {"LST", "LST_Night"}
    assert all(got[k].attrs["units"] == "K" for k in got.data_vars)
    # the same modifier on the local items: Kelvin in both
    local = _open(_items(paths, band, assets=("LST", "LST_Night")), ["LST", "LST_Night"],
                  modifier=fix)
    assert all(269 < float(local[k].min()) < float(local[k].max()) < 280
               for k in local.data_vars)


def test_integer_asset_with_nan_nodata_is_named_and_the_advice_works(tmp_path):
    """raster:bands nodata "nan" on a uint16 asset: odc-stac's "cannot convert float NaN to
    integer" was blamed on crs=/resolution=/bbox=/chunks=."""
    paths = _files(tmp_path)
    items = _items(paths, {**FULL, "nodata": "nan"})
    with pytest.raises(XlstsrError, match=r"NaN.*uint16.*'LST'|'LST'.*uint16.*nodata nan") as e:
        _open(items)
    msg = str(e.value)
    assert "crs=, resolution=" not in msg
    got = _open(items, modifier=_advice(msg))
    assert 269 < float(got.min()) and float(got.max()) < 280


# -- ECOSTRESS at the antimeridian (findings 4, 7) ---------------------------------------------

def _eco_folder(folder, placements, shape=(300, 300)):
    rng = np.random.default_rng(0)
    rows = []
    for i, (key, lon, lat) in enumerate(placements):
        names = _write_scene(folder, key, lon, lat,
                             (295 + rng.normal(0, 1.5, shape)).astype(np.float32))
        rows.append(f"{names['LST']},{names['cloud_mask']},{names['water_mask']},"
                    f"2024-01-0{i + 1}T12:00:00Z,night,{key}")
    (folder / "scenes.csv").write_text(
        "file,cloud_mask,water_mask,datetime_utc,day_night,overpass\n" + "\n".join(rows) + "\n")
    return folder


def _boxes(msg):
    return [tuple(float(v) for v in b.split(","))
            for b in re.findall(r"box=\(([-\d., ]+)\)", msg)]


def test_scene_reaching_past_180_is_named_and_the_split_boxes_open_it(tmp_path):
    """A scene's GeoTIFF from 179.9 E to 180.09: its folder's box was refused as a user's box,
    advising the very call that failed."""
    from xlstsr.datasets.ecostress import ecostress_box, open_ecostress_scene

    key = "2024010101000"
    _eco_folder(tmp_path, [(key, 179.9, -17.0)])
    with pytest.raises(XlstsrError, match="antimeridian") as err:
        ecostress_box(tmp_path)
    msg = str(err.value)
    assert key in msg and "ecostress_box() (all scenes" not in msg
    boxes = _boxes(msg)
    assert len(boxes) == 2
    for box in boxes:  # each side opens its part of the scene on the common grid
        da = open_ecostress_scene(key, tmp_path, resolution=70, box=box)
        assert int(da.count()) > 0
    assert open_ecostress_scene(key, tmp_path).shape == (300, 300)  # resolution=None


def test_scenes_on_both_sides_of_180_are_one_place_across_it(tmp_path):
    """Scenes 20-30 km apart across 180: one group told as lying across the antimeridian
    (each side's box opens its scenes), not a scene 38,233 km away."""
    from xlstsr.datasets.ecostress import ecostress_apart, ecostress_box, open_ecostress_scene

    keys = ("2024010101000", "2024010111000", "2024010121000")
    _eco_folder(tmp_path, [(keys[0], 179.75, -17.0), (keys[1], 179.78, -17.05),
                           (keys[2], -179.99, -17.0)], shape=(150, 150))
    assert ecostress_apart(tmp_path) == {}
    with pytest.raises(XlstsrError, match="antimeridian") as err:
        ecostress_box(tmp_path)
    east, west = _boxes(str(err.value))
    assert east[2] == 180 and west[0] == -180
    assert int(open_ecostress_scene(keys[0], tmp_path, resolution=70, box=east).count()) > 0
    assert int(open_ecostress_scene(keys[2], tmp_path, resolution=70, box=west).count()) > 0


def test_far_scene_distance_is_the_great_circle(tmp_path):
    """A scene at 170 E beside Los Angeles' was said 29,925 km away (raw longitude gap)."""
    from pyproj import Geod

    from xlstsr.datasets.ecostress import ecostress_apart

    _eco_folder(tmp_path, [("2024010101000", -118.5, 34.2), ("2024010111000", -118.45, 34.2),
                           ("2024010121000", 170.5, 9.7)], shape=(60, 80))
    why = ecostress_apart(tmp_path)["2024010121000"]
    km = float(re.search(r"(\d+) km from", why).group(1))
    d = 0.00063  # the scenes' pixel (degrees): their centres
    c = [(lon + 40 * d, lat - 30 * d) for lon, lat in ((-118.5, 34.2), (-118.45, 34.2),
                                                       (170.5, 9.7))]
    main = ((c[0][0] + c[1][0]) / 2, c[0][1])
    want = Geod(ellps="WGS84").inv(main[0], main[1], *c[2])[2] / 1000
    assert km == pytest.approx(want, rel=0.01)  # a sphere against the ellipsoid


# -- open_cog's folder / wildcard advice (finding 8) -------------------------------------------

def test_folder_and_wildcard_advice_runs_as_written_and_picks_one_series(tmp_path):
    from xlstsr.io import open_cog, to_cogs

    ny = nx = 12
    lst = xr.DataArray(
        (290 + np.random.default_rng(0).normal(0, 2, (3, ny, nx))).astype("float32"),
        dims=("time", "y", "x"),
        coords={"time": np.array(["2020-01-01", "2020-01-02", "2020-01-03"], "datetime64[ns]"),
                "y": 4e6 - 1000 * np.arange(ny) - 500, "x": 5e5 + 1000 * np.arange(nx) + 500},
        attrs={"units": "K"}, name="lst").rio.write_crs("EPSG:32633")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        to_cogs(xlstsr.upscale(lst, factor=2, method="bicubic"), tmp_path, prefix="sr")
        to_cogs(xlstsr.upscale(lst, factor=2, method="nearest"), tmp_path, prefix="sr_nearest")
    for arg in (tmp_path, str(tmp_path / "sr_*.tif")):
        with pytest.raises(XlstsrError) as err:
            open_cog(arg)
        msg = str(err.value)
        assert "times=..." not in msg and r"sr_nearest_\d+" in msg
        code = re.search(r"`(open_cog\(.*?\))`", msg).group(1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            da = eval(code, {"open_cog": open_cog, "pathlib": pathlib, "re": re,
                             "glob": glob, "os": os})
        assert da.sizes["time"] == 3


# -- weights_hash of traced models (finding 10) ------------------------------------------------

def test_traced_model_hash_survives_save_load_and_serialize():
    torch = pytest.importorskip("torch")
    from torch import nn

    from xlstsr.nn.runtime import deserialize_model, serialize_model, weights_hash

    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(1, 4, 3, padding=1)
            self.l = nn.Conv2d(4, 1, 1)

        def forward(self, x):
            return self.l(torch.relu(self.c(x)))

    class Wrap(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x)

    net = Net()
    t = torch.jit.trace(net, torch.randn(1, 1, 8, 8))
    buf = io.BytesIO()
    torch.jit.save(t, buf)
    buf.seek(0)
    loaded = torch.jit.load(buf)
    h = weights_hash(t)
    assert weights_hash(loaded) == h
    assert weights_hash(deserialize_model(serialize_model(t), "cpu")) == h
    w = Wrap(t)
    assert weights_hash(deserialize_model(serialize_model(w), "cpu")) == weights_hash(w)
    assert type(w.inner) is type(t)  # the user's model is left as it is
    # other weights, another hash still
    with torch.no_grad():
        net.l.bias += 1
    assert weights_hash(torch.jit.trace(net, torch.randn(1, 1, 8, 8))) != h
