"""Fixes of probes 48r1 (findings 2, 5) and 48d (finding 1) in xlstsr.io.

- to_cogs' leftover warning took another series whose prefix begins with this run's
  (``sr_bicubic_*`` beside ``sr_*``) for an earlier run's files, and its advice, followed,
  deleted that series.
- The advice's glob did not escape the prefix (``lst[1km]``): followed, it removed nothing.
- open_stac labelled digital numbers 'K' when raster:bands gave a unit but no scale while the
  files declare scale 0.02.
"""

from __future__ import annotations

import pathlib
import re
import warnings

import numpy as np
import pytest
import xarray as xr
from helpers import utm33_cog_item
from test_cog_overwrite47 import LEFT, _caught, _sr

import xlstsr
from xlstsr.errors import XlstsrError
from xlstsr.io import open_cog, to_cogs


@pytest.fixture(scope="module")
def lst():
    return xlstsr.datasets.sample_scene(n_times=4, size=16)["lst_1km"].load()


def _follow(msg, paths):
    """Run the removal the warning advises, as it spells it (with its imports where it names
    them; the modules it uses otherwise)."""
    code = [c for c in re.findall(r"`([^`]*)`", msg)
            if c.startswith(("import ", "[p.unlink()"))]
    assert code and code[-1].startswith("[p.unlink()"), msg
    scope = {"keep": set(paths)}  # `keep = set(paths)`, as the advice says
    if len(code) == 1:
        exec("import re, pathlib, rasterio", scope)
    for c in code:
        exec(c, scope)


def _names(folder):
    return sorted(p.name for p in pathlib.Path(folder).glob("*.tif"))


# -- 48r1/2: another series whose prefix begins with this run's ------------------------------

def test_series_of_a_longer_prefix_is_no_leftover(lst, tmp_path):
    """A bicubic baseline written as sr_bicubic_* beside the method's sr_*: no warning (it was
    told as leftovers of the sr run, and removed by the advice)."""
    to_cogs(_sr(lst, "bicubic"), tmp_path, prefix="sr_bicubic")
    _, msgs = _caught(to_cogs, _sr(lst, "nearest"), tmp_path, prefix="sr")
    assert not [m for m in msgs if LEFT in m], msgs
    assert len(_names(tmp_path)) == 8


def test_leftovers_beside_a_longer_prefix_advice_keeps_that_series(lst, tmp_path):
    """Real leftovers (an earlier sr run of another method, 4 dates) beside an sr_bicubic
    series: only the leftovers are told, and the advice removes only them."""
    base = to_cogs(_sr(lst, "bicubic"), tmp_path, prefix="sr_bicubic")
    to_cogs(_sr(lst, "bicubic"), tmp_path, prefix="sr")
    paths, msgs = _caught(to_cogs, _sr(lst, "nearest", slice(0, 2)), tmp_path, prefix="sr",
                          overwrite=True)
    msg = [m for m in msgs if LEFT in m]
    assert len(msg) == 1, msgs
    assert "2 files" in msg[0] and "sr_bicubic" not in msg[0].split("(")[0]
    assert not [p.name for p in base if p.name in msg[0]]
    _follow(msg[0], paths)
    assert all(p.exists() for p in base)
    assert _names(tmp_path) == sorted([p.name for p in base] + [p.name for p in paths])
    back, _ = _caught(open_cog, sorted(str(p) for p in tmp_path.glob("sr_2*.tif")))
    assert back.sizes["time"] == 2 and back.attrs["xlstsr_method"] == "nearest"


def test_reverse_order_the_shorter_prefix_series_is_kept(lst, tmp_path):
    """Guard (passes on the old tree too: sr_bicubic_*.tif never matched sr_2020...): sr
    first, then sr_bicubic reruns by another method; the advice keeps every sr_* file."""
    sr = to_cogs(_sr(lst, "nearest"), tmp_path, prefix="sr")
    to_cogs(_sr(lst, "nearest"), tmp_path, prefix="sr_bicubic")
    paths, msgs = _caught(to_cogs, _sr(lst, "bicubic", slice(0, 2)), tmp_path,
                          prefix="sr_bicubic", overwrite=True)
    msg = [m for m in msgs if LEFT in m]
    assert len(msg) == 1 and "2 files" in msg[0], msgs
    assert not [p.name for p in sr if p.name in msg[0]]
    _follow(msg[0], paths)
    assert all(p.exists() for p in sr)
    assert _names(tmp_path) == sorted([p.name for p in sr] + [p.name for p in paths])


def test_day_night_leftovers_of_the_prefix_are_still_told(lst, tmp_path):
    """Guard: files of an earlier run named with an overpass (lst_<date>_day.tif) are of this
    prefix's form and still told when another method wrote them."""
    x = _sr(lst, "bicubic", slice(2, 3))
    both = xr.concat([x, x], "time").assign_coords(overpass=("time", ["day", "night"]))
    to_cogs(both, tmp_path, prefix="lst")
    assert _names(tmp_path) == [f"lst_{str(x.time.values[0])[:10]}_{o}.tif"
                                for o in ("day", "night")]
    paths, msgs = _caught(to_cogs, _sr(lst, "nearest", slice(0, 2)), tmp_path, prefix="lst")
    msg = [m for m in msgs if LEFT in m]
    assert len(msg) == 1 and "2 files" in msg[0], msgs
    _follow(msg[0], paths)
    assert _names(tmp_path) == sorted(p.name for p in paths)


# -- 48r1/5: a prefix holding glob characters ------------------------------------------------

def test_advice_for_a_prefix_with_glob_characters_removes_the_files(lst, tmp_path):
    prefix = "lst[1km]"
    to_cogs(_sr(lst, "bicubic"), tmp_path, prefix=prefix)  # 4 dates
    paths, msgs = _caught(to_cogs, _sr(lst, "nearest", slice(0, 2)), tmp_path, prefix=prefix,
                          overwrite=True)
    msg = [m for m in msgs if LEFT in m]
    assert len(msg) == 1, msgs
    _follow(msg[0], paths)
    assert _names(tmp_path) == sorted(p.name for p in paths)
    back, later = _caught(open_cog, [str(p) for p in sorted(paths)])
    assert back.sizes["time"] == 2 and back.attrs["xlstsr_method"] == "nearest"
    assert not [m for m in later if "different methods" in m], later


# -- 48d/1: open_stac and the files' own scale -----------------------------------------------

N = 32
DN = 13500 + np.arange(N * N, dtype=np.uint16).reshape(N, N) % 400  # 270.0-278.0 K x 0.02


def _files(tmp_path, n=2, scale=0.02, offset=0.0, units="K", name="lst"):
    """``n`` uint16 GeoTIFFs of DN with GDAL scale/offset/units metadata (as MOD11A1 COGs)."""
    import rasterio
    from rasterio.transform import from_origin

    out = []
    for i in range(n):
        p = tmp_path / f"{name}_{i}.tif"
        with rasterio.open(p, "w", driver="GTiff", height=N, width=N, count=1, dtype="uint16",
                           crs="EPSG:32633", nodata=0,
                           transform=from_origin(1000000, 5500000, 1000, 1000)) as d:
            d.write((DN + i)[None])
            d.scales, d.offsets = (scale,), (offset,)
            if units:
                d.units = (units,)
        out.append(p)
    return out


def _items(paths, band):
    items = []
    for i, p in enumerate(paths):
        it = utm33_cog_item(i, p, N, dict(band or {}), [14, 49.2, 14.5, 49.6])
        if band is None:
            del it.assets["LST"].extra_fields["raster:bands"]
        items.append(it)
    return items


def _open(items, **kw):
    from xlstsr.io import open_stac

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return open_stac(items, "LST", **kw)


FULL = {"nodata": 0, "data_type": "uint16", "scale": 0.02, "offset": 0.0, "unit": "K"}


def test_open_stac_takes_the_files_scale_where_raster_bands_gives_none(tmp_path):
    """raster:bands with nodata, unit K and offset but no scale (probe 48d p20): Kelvin, not
    the digital numbers 13,500-13,900 labelled K; the same cube as with the full coding."""
    paths = _files(tmp_path)
    full = _open(_items(paths, FULL))
    band = {k: v for k, v in FULL.items() if k != "scale"}
    got = _open(_items(paths, band))
    assert got.attrs["units"] == "K"
    assert hasattr(got.data, "dask")  # lazy: nothing computed at open
    assert 269 < float(got.min()) and float(got.max()) < 280
    np.testing.assert_array_equal(got.values, full.values)
    assert got.dtype == full.dtype and got.chunks == full.chunks
    # decode=False: the stored values with the files' scale for xlstsr.upscale
    raw = _open(_items(paths, band), decode=False)
    assert raw.attrs["scale_factor"] == pytest.approx(0.02) and raw.attrs["units"] == "K"


def test_open_stac_without_raster_bands_takes_the_files_coding(tmp_path):
    """No raster:bands at all (p19): the files' scale and unit (DN came back without units)."""
    paths = _files(tmp_path)
    got = _open(_items(paths, None))
    assert got.attrs.get("units") == "K"
    assert 269 < float(got.min()) and float(got.max()) < 280


def test_open_stac_keeps_the_items_scale_and_files_without_one(tmp_path):
    """Guard: a scale the items give wins over the file's; a file that declares none (integer
    Kelvin) is read as it is."""
    paths = _files(tmp_path, scale=0.01)
    got = _open(_items(paths, FULL))
    assert 269 < float(got.min()) and float(got.max()) < 280
    plain = _files(tmp_path, scale=1.0, units=None, name="plain")
    got = _open(_items(plain, {k: v for k, v in FULL.items() if k != "scale"}))
    assert float(got.min()) >= 13500


def test_open_stac_offset_only_from_the_file(tmp_path):
    """The items give a scale but no offset: the file's offset is added (Landsat-like)."""
    paths = _files(tmp_path, scale=0.00341802, offset=149.0)
    band = {"nodata": 0, "data_type": "uint16", "scale": 0.00341802, "unit": "K"}
    got = _open(_items(paths, band))
    exp = DN.astype(np.float64) * 0.00341802 + 149.0
    np.testing.assert_allclose(got.isel(time=0).values, exp, rtol=1e-6)


def test_open_stac_remote_files_without_scale_are_refused_and_the_advice_works(tmp_path):
    """Files that cannot be read (remote) under unit K, uint16, no scale: refused (DN would be
    labelled K); the advised modifier, followed, opens them scaled."""
    paths = _files(tmp_path)
    band = {k: v for k, v in FULL.items() if k != "scale"}
    remote = _items(paths, band)
    for it in remote:
        it.assets["LST"].href = "https://example.invalid/" + pathlib.Path(
            it.assets["LST"].href).name
    with pytest.raises(XlstsrError, match="labelled 'K'") as err:
        _open(remote)
    msg = str(err.value)
    code = re.search(r"`modifier=(lambda it: [^`]*)`", msg)
    assert code is not None, msg
    modifier = eval(code.group(1))
    got = _open(remote, modifier=modifier)  # lazy: no file is read
    assert got.attrs["units"] == "K"
    # the same modifier on the local items: Kelvin
    got = _open(_items(paths, band), modifier=modifier)
    assert 269 < float(got.min()) and float(got.max()) < 280


def test_open_stac_collections_whose_files_disagree_are_refused(tmp_path):
    a = _items(_files(tmp_path, name="a"), {"nodata": 0, "data_type": "uint16", "unit": "K"})
    b = _items(_files(tmp_path, n=1, scale=0.01, name="b"),
               {"nodata": 0, "data_type": "uint16", "unit": "K"})
    b[0].id, b[0].datetime = "other", b[0].datetime.replace(day=9)
    for it in a:
        it.collection_id = "c1"
    b[0].collection_id = "c2"
    with pytest.raises(XlstsrError, match="declare different scalings"):
        _open(a + b)
