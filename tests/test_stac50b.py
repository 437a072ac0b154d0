"""Review 50c findings 1-4 (open_stac, 3b84888): GDAL writes offset 0 beside any scale, so a
header's offset 0 beside the items' own scale is weak evidence (a hot Landsat ST scene and
reflectance offsets were refused); a GDAL unit alone is no other scaling between collections;
a header of no scaling is compared on its temperature unit; each refusal's advice, followed,
reads the file."""

from __future__ import annotations

import re
import shutil
import warnings

import numpy as np
import pytest
from test_readers49b import KELVIN, _items, _tif, _v2

from xlstsr.validate import temperature_units

LS_SCALE, LS_OFFSET = 0.00341802, 149.0
HOT = KELVIN + 32.0  # 302-310 K: the header-only reading (K - 149) is 153-161 K, 'plausible'
DN = np.round(KELVIN / 0.02)  # MOD11A1-like digital numbers


def _open(items, **kw):
    """open_stac of asset 'LST' (its first step, loaded), with the UserWarnings it gave."""
    from xlstsr.io import open_stac

    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        da = open_stac(items, "LST", **kw).isel(time=0).load()
    return da, [str(w.message) for w in got if issubclass(w.category, UserWarning)]


def _refusal(items):
    """The XlstsrError open_stac of asset 'LST' raises, as text."""
    from xlstsr.errors import XlstsrError
    from xlstsr.io import open_stac

    with pytest.raises(XlstsrError) as e:
        open_stac(items, "LST")
    return str(e.value)


# -- finding 1: Landsat ST items over a header of its scale with offset 0 ----------------------

@pytest.mark.parametrize("v2", [False, True])
@pytest.mark.parametrize("file_unit", [None, "K"])
def test_hot_landsat_scene_over_a_header_scale_with_offset_0_reads_the_items(tmp_path, v2,
                                                                              file_unit):
    """A 302-310 K scene under items 0.00341802 / 149 and a header 0.00341802 / 0 (the header
    reading 153-161 K counts as plausible too): read by the items, no warning (was refused)."""
    dn = np.round((HOT - LS_OFFSET) / LS_SCALE)
    paths = [_tif(tmp_path / f"ls_{i}.tif", dn, scale=LS_SCALE, units=file_unit)
             for i in range(2)]
    band = {"nodata": 0, "data_type": "uint16", "scale": LS_SCALE, "offset": LS_OFFSET,
            "unit": "kelvin"}
    items = _items(paths, band)
    da, said = _open(_v2(items) if v2 else items)
    np.testing.assert_allclose(da.values, dn * LS_SCALE + LS_OFFSET, rtol=1e-6)
    assert temperature_units(da.attrs["units"]) == "K"
    assert said == []


def test_items_offset_alone_over_a_hot_landsat_header_merges_its_scale(tmp_path):
    """Items giving the offset 149 alone over the header 0.00341802 / 0: the header's scale
    and the items' offset, silently."""
    dn = np.round((HOT - LS_OFFSET) / LS_SCALE)
    paths = [_tif(tmp_path / f"ls_{i}.tif", dn, scale=LS_SCALE) for i in range(2)]
    band = {"nodata": 0, "data_type": "uint16", "offset": LS_OFFSET, "unit": "K"}
    da, said = _open(_items(paths, band))
    np.testing.assert_allclose(da.values, dn * LS_SCALE + LS_OFFSET, rtol=1e-5)
    assert said == []


# -- finding 2: reflectance offsets over a header's scale with offset 0 ------------------------

@pytest.mark.parametrize("scale, offset, given", [
    (0.0001, -0.1, ("scale", "offset")),  # Sentinel-2 L2A, processing baseline >= 04.00
    (0.0001, -0.1, ("offset",)),
    (2.75e-05, -0.2, ("scale", "offset")),  # Landsat C2 L2 SR
])
def test_reflectance_items_offset_over_a_header_scale_with_offset_0_is_read(tmp_path, scale,
                                                                             offset, given):
    """No temperature to judge by: the items' offset is read beside the header's scale, as
    the catalogue declares, no warning (was refused; its modifier advice, followed, read
    0.1 / 0.2 too high)."""
    refl = 0.02 + (KELVIN - 270.0) / 80.0  # 0.02-0.12
    dn = np.round((refl - offset) / scale)
    paths = [_tif(tmp_path / f"r_{i}.tif", dn, scale=scale) for i in range(2)]
    coding = {"scale": scale, "offset": offset}
    band = {"nodata": 0, "data_type": "uint16", **{k: coding[k] for k in given}}
    da, said = _open(_items(paths, band))
    np.testing.assert_allclose(da.values, dn * scale + offset, rtol=1e-5, atol=1e-7)
    assert said == []


# -- finding 3: a GDAL unit alone is no different scaling between collections ------------------

@pytest.mark.parametrize("band", [
    {"nodata": 0, "data_type": "uint16", "scale": 0.02, "offset": 0.0},
    {"nodata": 0, "data_type": "uint16"},
])
def test_collections_whose_headers_differ_only_by_a_unit_open(tmp_path, band):
    """Headers 0.02 / 0 with GDAL unit 'K' in one collection and none in the other: one
    scaling, opened (was refused as 'different scalings' printing nothing different)."""
    a = _tif(tmp_path / "a.tif", DN, scale=0.02, units="K")
    b = _tif(tmp_path / "b.tif", DN, scale=0.02)
    items = _items([a], band, collection="mod11a1") + _items([b], band, first=1,
                                                             collection="myd11a1")
    da, said = _open(items)
    np.testing.assert_allclose(da.values, DN * 0.02, rtol=1e-6)
    assert said == []
    if "scale" not in band:  # the unit one collection's files give
        assert da.attrs["units"] == "K"


def test_collections_whose_headers_give_two_temperature_units_are_refused_naming_them(
        tmp_path):
    """Headers 0.02 / 0 'K' and 0.02 / 0 'degC' under items without a unit: one coding
    cannot serve both; the refusal prints the units (the scalings alone are the same)."""
    a = _tif(tmp_path / "a.tif", DN, scale=0.02, units="K")
    b = _tif(tmp_path / "b.tif", DN, scale=0.02, units="degC")
    band = {"nodata": 0, "data_type": "uint16"}
    items = _items([a], band, collection="c1") + _items([b], band, first=1, collection="c2")
    msg = _refusal(items)
    assert "declare different scalings" in msg, msg
    assert "unit 'K'" in msg and "unit 'degC'" in msg, msg


# -- finding 4: a header without a scaling is compared on its temperature unit -----------------

@pytest.mark.parametrize("file_unit, item_unit, values, kind", [
    ("K", "degC", KELVIN, "K"),  # float Kelvin was labelled 272 'degC'
    ("Kelvin", "celsius", KELVIN, "K"),
    ("degC", "K", KELVIN - 273.15 + 30.0, "C"),  # float degC was labelled 29 'K'
])
def test_unit_of_a_header_without_scaling_against_the_items(tmp_path, file_unit, item_unit,
                                                             values, kind):
    """Float files of scale 1 / offset 0 tagged with a GDAL temperature unit under items
    of the other unit: the plausible reading's unit, warned naming both."""
    paths = [_tif(tmp_path / f"f_{i}.tif", values, dtype="float32", units=file_unit,
                  nodata=-9999) for i in range(2)]
    band = {"nodata": -9999, "data_type": "float32", "unit": item_unit}
    da, said = _open(_items(paths, band))
    np.testing.assert_allclose(da.values, values, rtol=1e-6)
    assert temperature_units(da.attrs["units"]) == kind
    assert len(said) == 1 and "read as the header says" in said[0], said
    assert f"unit {item_unit!r}" in said[0] and f"unit {file_unit!r}" in said[0], said


# -- advice: each way a refusal gives works when followed ---------------------------------------

def test_refusal_advice_followed_reads_the_file(tmp_path):
    """Items' offset 100 alone over a header 0.2 / 0: neither reading plausible (2,700 K /
    2,800 K), refused with both medians; its modifier, followed, reads the header's values;
    its gdal_edit command (done with rasterio on a copy), the items' (was `-scale 1 -offset
    0`: DNs + 100); decode=False, refused the same way, is not offered."""
    import rasterio

    from xlstsr.errors import XlstsrError
    from xlstsr.io import open_stac

    paths = [_tif(tmp_path / f"m_{i}.tif", DN, scale=0.2) for i in range(2)]
    band = {"nodata": 0, "data_type": "uint16", "offset": 100.0, "unit": "K"}
    msg = _refusal(_items(paths, band))
    assert "by the items" in msg and "by the header" in msg, msg
    assert "decode=False" not in msg, msg
    with pytest.raises(XlstsrError):
        open_stac(_items(paths, band), "LST", decode=False)
    modifier = eval(re.search(r"`modifier=(lambda it: [^`]*)`", msg).group(1))
    da, _ = _open(_items(paths, band), modifier=modifier)
    np.testing.assert_allclose(da.values, DN * 0.2, rtol=1e-6)
    edit = re.search(r"`gdal_edit\.py -scale (\S+) -offset (\S+) (\S+)`", msg)
    assert edit is not None and edit.group(3) in map(str, paths), msg
    copies = [shutil.copy(p, tmp_path / f"edited_{i}.tif") for i, p in enumerate(paths)]
    for c in copies:
        with rasterio.open(c, "r+") as d:
            d.scales, d.offsets = (float(edit.group(1)),), (float(edit.group(2)),)
    da, said = _open(_items(copies, band))
    np.testing.assert_allclose(da.values, DN * 0.2 + 100.0, rtol=1e-6)
    assert said == []
