"""Review 49d findings 1-8 of 355b66d: open_stac's merged and per-collection scalings, its
modifier advice followed (a user's modifier, twice in a row, raster v2 ``bands``), stackstac
with a NaN nodata, ECOSTRESS scenes in 0..360 longitudes, open_cog's series advice."""

from __future__ import annotations

import glob
import os
import re
import sys
import warnings

import numpy as np
import pytest
import xarray as xr
from helpers import utm33_cog_item
from test_readers49 import _eco_folder

from xlstsr.errors import XlstsrError

N = 32
KELVIN = 270.0 + (np.arange(N * N).reshape(N, N) % 400) * 0.02  # 270-278 K


def _tif(path, values, dtype="uint16", scale=1.0, offset=0.0, units=None, nodata=0):
    """An N x N GeoTIFF (EPSG:32633, 1 km) of ``values`` with GDAL scale/offset/units."""
    import rasterio
    from rasterio.transform import from_origin

    with rasterio.open(path, "w", driver="GTiff", height=N, width=N, count=1, dtype=dtype,
                       crs="EPSG:32633", nodata=nodata,
                       transform=from_origin(1000000, 5500000, 1000, 1000)) as d:
        d.write(np.asarray(values).astype(dtype)[None])
        d.scales, d.offsets = (scale,), (offset,)
        if units:
            d.units = (units,)
    return path


def _items(paths, band, first=0, collection=None):
    out = []
    for i, p in enumerate(paths):
        it = utm33_cog_item(first + i, p, N, dict(band), [14, 49.2, 14.5, 49.6])
        it.collection_id = collection
        out.append(it)
    return out


def _v2(items):
    """The items in raster v2 (STAC 1.1) form: the coding in the asset's one ``bands``
    entry (v2 names), which overrides the asset's own fields."""
    names = {"nodata": "nodata", "scale": "raster:scale", "offset": "raster:offset",
             "unit": "unit", "data_type": "data_type"}
    for it in items:
        a = it.assets["LST"]
        band = a.extra_fields.pop("raster:bands")[0]
        a.extra_fields["bands"] = [{names[k]: v for k, v in band.items()}]
        it.stac_extensions = [u for u in it.stac_extensions if "raster" not in u]
    return items


def _open(items, **kw):
    from xlstsr.io import open_stac

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return open_stac(items, "LST", **kw)


def _code(msg: str) -> str:
    code = re.search(r"`modifier=(lambda it: [^`]*)`", msg)
    assert code is not None, msg
    return code.group(1)


# -- finding 1: a header's default offset 0 / scale 1 is no word ------------------------------

def test_items_offset_beside_header_scale_merge_as_landsat(tmp_path):
    """Items giving only offset 149 beside a header giving only scale 0.00341802 (Landsat C2
    ST): the parts merge, 274 K, no warning (refused, and the advice gave 125 K)."""
    dn = np.round((KELVIN - 149.0) / 0.00341802)
    paths = [_tif(tmp_path / f"ls_{i}.tif", dn, scale=0.00341802) for i in range(2)]
    band = {"nodata": 0, "data_type": "uint16", "offset": 149.0, "unit": "K"}
    from xlstsr.io import open_stac

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        got = open_stac(_items(paths, band), "LST")
    np.testing.assert_allclose(got.isel(time=0).values, dn * 0.00341802 + 149.0, rtol=1e-6)


def test_degc_items_over_a_header_of_the_same_scale_do_not_warn(tmp_path):
    """Items 0.02 / -273.15 degC over a header 0.02 / 0: the header gives no offset, so
    nothing is contradicted (warned 'read as the items say')."""
    dn = np.round(KELVIN / 0.02)
    paths = [_tif(tmp_path / f"c_{i}.tif", dn, scale=0.02) for i in range(2)]
    band = {"nodata": 0, "data_type": "uint16", "scale": 0.02, "offset": -273.15,
            "unit": "degC"}
    from xlstsr.io import open_stac

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        got = open_stac(_items(paths, band), "LST")
    np.testing.assert_allclose(got.isel(time=0).values, dn * 0.02 - 273.15, rtol=1e-5)


# -- finding 2: each collection's header ------------------------------------------------------

def test_collections_read_differently_are_refused_and_each_opens_alone(tmp_path):
    """One asset, items scale 1 everywhere: collection A holds MOD11 DNs (header 0.02), B
    float Kelvin (header none). A's header was applied to B (5.48 K): refused, and the
    advised selection by collection opens each in Kelvin."""
    band = {"nodata": 0, "data_type": "uint16", "scale": 1.0, "offset": 0.0, "unit": "K"}
    a = _items([_tif(tmp_path / f"a_{i}.tif", np.round(KELVIN / 0.02), scale=0.02)
                for i in range(2)], band, collection="cA")
    b = _items([_tif(tmp_path / f"b_{i}.tif", KELVIN, dtype="float32") for i in range(2)],
               {**band, "data_type": "float32"}, first=2, collection="cB")
    items = a + b
    with pytest.raises(XlstsrError, match="declare different scalings") as err:
        _open(items)
    msg = str(err.value)
    assert "'cA'" in msg and "'cB'" in msg
    pick = re.search(r"`(\[it for it in items if [^`]*\])`", msg).group(1)
    got = _open(eval(pick, {"items": items}))
    assert 269 < float(got.min()) and float(got.max()) < 280
    other = _open([it for it in items if it.collection_id == "cB"])
    assert 269 < float(other.min()) and float(other.max()) < 280


# -- findings 3, 4: the advice with the user's modifier, twice, raster v2 bands ---------------

def _two_problem_items(tmp_path, v2=False):
    """uint16 items declaring nodata 'nan' (refused first) and scale 1 over a header of 1e-4
    with no unit (no temperature to judge by: refused second)."""
    dn = 1000 + np.arange(N * N).reshape(N, N) % 400
    paths = [_tif(tmp_path / f"r_{i}.tif", dn, scale=0.0001) for i in range(2)]
    band = {"nodata": "nan", "data_type": "uint16", "scale": 1.0, "offset": 0.0}
    items = _items(paths, band)
    return (_v2(items) if v2 else items), dn


@pytest.mark.parametrize("v2", [False, True])
def test_advice_with_an_importable_modifier_runs_as_written_twice(tmp_path, monkeypatch, v2):
    """The user's modifier from a module (planetary_computer.sign_inplace's case) was named
    bare (NameError after `import planetary_computer`); a second refusal called the first
    advice `your_modifier(it)` (NameError); v2 items' advice edited the asset's field, which
    their bands[0] overrides (refused again)."""
    (tmp_path / "usermod49b.py").write_text(
        "CALLS = []\n\ndef tag(it):\n    CALLS.append(it.id)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import usermod49b

    items, dn = _two_problem_items(tmp_path, v2)
    with pytest.raises(XlstsrError, match="NaN") as err:
        _open(items, modifier=usermod49b.tag)
    first = eval(_code(str(err.value)), {})  # nothing imported where it is run
    if v2:
        assert "['bands'][0]" in str(err.value)
    with pytest.raises(XlstsrError, match=r"scale 1.*scale 0\.0001") as err:
        _open(items, modifier=first)
    second = eval(_code(str(err.value)), {})
    usermod49b.CALLS.clear()
    got = _open(items, modifier=second)
    assert usermod49b.CALLS  # the user's modifier still runs
    np.testing.assert_allclose(got.isel(time=0).values, dn * 0.0001, rtol=1e-5)
    sys.modules.pop("usermod49b", None)


def test_advice_with_a_lambda_names_the_place_to_put_it_twice(tmp_path):
    """A lambda has no name to write (was `your_modifier(it)` unexplained): the message says
    to put it in place of `your_modifier`, which runs, twice in a row."""
    calls = []
    user = lambda it: calls.append(it.id)  # noqa: E731
    items, dn = _two_problem_items(tmp_path)
    with pytest.raises(XlstsrError) as err:
        _open(items, modifier=user)
    assert "in place of `your_modifier`" in str(err.value)
    first = eval(_code(str(err.value)), {"your_modifier": user})
    with pytest.raises(XlstsrError, match=r"scale 0\.0001") as err:
        _open(items, modifier=first)
    assert "in place of `your_modifier`" in str(err.value)
    second = eval(_code(str(err.value)), {"your_modifier": user})
    calls.clear()
    got = _open(items, modifier=second)
    assert calls
    np.testing.assert_allclose(got.isel(time=0).values, dn * 0.0001, rtol=1e-5)



def test_advice_with_a_bound_method_names_the_place_to_put_it(tmp_path):
    """A bound method (signer.sign_it) was written as the bare `sign_it(it)`: a NameError in
    the user's script, or another function of that name called."""
    class Signer:
        def __init__(self):
            self.calls = []

        def sign_it(self, it):
            self.calls.append(it.id)

    signer = Signer()
    items, _ = _two_problem_items(tmp_path)
    with pytest.raises(XlstsrError) as err:
        _open(items, modifier=signer.sign_it)
    assert "sign_it(it)" not in str(err.value)
    assert "in place of `your_modifier`" in str(err.value)
    first = eval(_code(str(err.value)), {"your_modifier": signer.sign_it})
    with pytest.raises(XlstsrError, match=r"scale 0\.0001"):
        _open(items, modifier=first)
    assert signer.calls

# -- finding 5: stackstac opens a NaN nodata of an integer asset ------------------------------

def test_integer_asset_with_nan_nodata_opens_with_stackstac(tmp_path):
    pytest.importorskip("stackstac")
    dn = np.round(KELVIN / 0.02)
    paths = [_tif(tmp_path / f"s_{i}.tif", dn, scale=0.02) for i in range(2)]
    band = {"nodata": "nan", "data_type": "uint16", "unit": "K"}
    got = _open(_items(paths, band), engine="stackstac")
    assert got.attrs["units"] == "K"
    assert 269 < float(got.min()) and float(got.max()) < 280


# -- finding 6: ECOSTRESS scenes written in 0..360 longitudes ---------------------------------

def test_scenes_written_past_180_get_a_wrapped_box_that_opens_them(tmp_path):
    """Scenes at 180.5 and 180.6 E (179.5 W): a zero-width box (180, s, 180, n) was refused,
    advising ecostress_box() again."""
    from xlstsr.datasets.ecostress import ecostress_apart, ecostress_box, open_ecostress_scene

    keys = ("2024010101000", "2024010111000")
    _eco_folder(tmp_path, [(keys[0], 180.5, -17.0), (keys[1], 180.6, -17.1)])
    box = ecostress_box(tmp_path)
    assert -180 <= box[0] < box[2] <= 180 and box[0] == pytest.approx(-179.5)
    assert ecostress_apart(tmp_path) == {}
    for key in keys:
        da = open_ecostress_scene(key, tmp_path, resolution=70)
        assert str(da.rio.crs) == "EPSG:32701"  # 179.5 W's zone
        own = int(open_ecostress_scene(key, tmp_path).count())  # the scene's own grid
        assert own * 0.7 < int(da.count()) < own * 1.3  # the whole scene on the grid


# -- findings 7, 8: open_cog's series advice ---------------------------------------------------

def _lst(n_steps=3):
    ny = nx = 12
    return xr.DataArray(
        (290 + np.random.default_rng(0).normal(0, 2, (n_steps, ny, nx))).astype("float32"),
        dims=("time", "y", "x"),
        coords={"time": np.array([f"2020-01-0{i + 1}" for i in range(n_steps)],
                                 "datetime64[ns]"),
                "y": 4e6 - 1000 * np.arange(ny) - 500, "x": 5e5 + 1000 * np.arange(nx) + 500},
        attrs={"units": "K"}, name="lst").rio.write_crs("EPSG:32633")


def test_series_advice_reads_exactly_the_files_it_counts(tmp_path):
    """glob's [0-9]* is one digit then anything: the advised 'sr_[0-9]*-[0-9]*-[0-9]*.tif'
    also read sr_2_2020-..., sr_..._mask.tif and sr_..._v2.tif and was refused."""
    import pathlib
    import shutil

    from xlstsr.io import open_cog, to_cogs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        to_cogs(_lst(4), tmp_path, prefix="sr")
        to_cogs(_lst(), tmp_path, prefix="sr_2")
    shutil.copy(tmp_path / "sr_2020-01-04.tif", tmp_path / "sr_2020-01-04_mask.tif")
    shutil.copy(tmp_path / "sr_2020-01-04.tif", tmp_path / "sr_2020-01-04_v2.tif")
    for arg in (tmp_path, str(tmp_path / "sr_2020*.tif")):
        with pytest.raises(XlstsrError) as err:
            open_cog(arg)
        msg = str(err.value)
        code = re.search(r"`(open_cog\(.*?\))`", msg).group(1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            da = eval(code, {"open_cog": open_cog, "pathlib": pathlib, "re": re, "glob": glob,
                             "os": os})
        assert re.search(r"sr_\\d\+-\\d\+-\\d\+\\\.tif'?: 4 file", msg), msg
        assert [str(t)[:10] for t in da["time"].values] == [
            "2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04"]


def test_wildcard_series_advice_keeps_the_users_wildcard(tmp_path):
    """The advice listed the whole folder and filtered by the series alone: for sr_2020*.tif
    it read sr_2021-01-01.tif too (5 steps where it counted 4)."""
    import shutil

    from xlstsr.io import open_cog, to_cogs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        to_cogs(_lst(4), tmp_path, prefix="sr")
        to_cogs(_lst(), tmp_path, prefix="sr_2")
    shutil.copy(tmp_path / "sr_2020-01-04.tif", tmp_path / "sr_2021-01-01.tif")
    with pytest.raises(XlstsrError) as err:
        open_cog(str(tmp_path / "sr_2020*.tif"))
    code = re.search(r"`(open_cog\(.*?\))`", str(err.value)).group(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        da = eval(code, {"open_cog": open_cog, "re": re, "glob": glob, "os": os})
    assert [str(t)[:10] for t in da["time"].values] == [
        "2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04"]

def test_series_advice_says_what_dates_the_files(tmp_path):
    """LST2006_01_01.LST_Day_1km.tif names (no time tag): the advice said times= was needed
    'only if the files carry no date in their tags or names', and its code, run, gave
    steps 0, 1, 2: it now says what open_cog dates files by, and that such files need
    times=."""
    import pathlib

    from xlstsr.io import open_cog

    for i in range(3):
        _tif(tmp_path / f"LST2006_01_0{i + 1}.LST_Day_1km.tif", np.round(KELVIN / 0.02))
    with pytest.raises(XlstsrError) as err:
        open_cog(tmp_path)
    msg = str(err.value)
    assert "no date in their tags or names" not in msg
    assert ".AYYYYDDD." in msg and "time tags" in msg and "add times=" in msg
    code = re.search(r"`(open_cog\(.*?\))`", msg).group(1)
    da = eval(code, {"open_cog": open_cog, "pathlib": pathlib, "re": re})
    assert list(da["time"].values) == [0, 1, 2]  # as the message says: numbered
    times = ["2006-01-01", "2006-01-02", "2006-01-03"]
    dated = eval(code[:-1] + f", times={times!r})",
                 {"open_cog": open_cog, "pathlib": pathlib, "re": re})
    assert str(dated["time"].values[2])[:10] == "2006-01-03"
