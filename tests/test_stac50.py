"""Probe 50 R1 findings 1-2: open_stac compares the items' offset with a header that declares a
scale (its offset 0 included), and the unit comes with the scaling applied (a header's
Kelvin offset under the items' degC, or the reverse, is never mixed silently)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from test_readers49b import KELVIN, _items, _tif, _v2

from xlstsr.validate import temperature_units

DN = np.round(KELVIN / 0.02)  # MOD11A1-like digital numbers, 13,500-13,900
C100 = np.round((KELVIN - 273.15) * 100)  # degC x 100 (int16)


def _open(items):
    """open_stac of asset 'LST', with the UserWarnings it gave."""
    from xlstsr.io import open_stac

    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        da = open_stac(items, "LST").isel(time=0).load()
    return da, [str(w.message) for w in got if issubclass(w.category, UserWarning)]


def _kelvin(da):
    """The values in Kelvin as their ``units`` attribute labels them."""
    kind = temperature_units(da.attrs.get("units"))
    assert kind is not None, da.attrs
    return da.values + (273.15 if kind == "C" else 0.0)


# -- finding 1: a header's offset 0 beside its scale is a declaration -------------------------

@pytest.mark.parametrize("v2", [False, True])
@pytest.mark.parametrize("extra", [273.15, -273.15])
def test_items_offset_over_a_header_scale_with_offset_0_is_checked(tmp_path, v2, extra):
    """MOD11A1 files (header 0.02 / 0, K) under items with an extra offset: read by the header
    (309 K) with a warning naming both (read 579 K / 36 K silently)."""
    paths = [_tif(tmp_path / f"m_{i}.tif", DN, scale=0.02, units="K") for i in range(2)]
    band = {"nodata": 0, "data_type": "uint16", "scale": 0.02, "offset": extra, "unit": "K"}
    items = _items(paths, band)
    da, said = _open(_v2(items) if v2 else items)
    np.testing.assert_allclose(da.values, DN * 0.02, rtol=1e-6)
    assert da.attrs["units"] == "K"
    assert len(said) == 1 and "read as the header says" in said[0], said
    assert f"offset {extra:g}" in said[0] and "offset 0" in said[0], said


def test_items_scale_alone_over_a_header_of_another_scale_and_offset(tmp_path):
    """Items giving scale 0.02 alone over a header 1 / 273.15: the header is contradicted, so
    its offset is not merged in (579 K silently); the items' fields alone are read, warned."""
    paths = [_tif(tmp_path / f"m_{i}.tif", DN, scale=1.0, offset=273.15, units="K")
             for i in range(2)]
    band = {"nodata": 0, "data_type": "uint16", "scale": 0.02, "unit": "K"}
    da, said = _open(_items(paths, band))
    np.testing.assert_allclose(da.values, DN * 0.02, rtol=1e-6)
    assert len(said) == 1 and "none of the header's fields" in said[0], said


def test_landsat_items_over_a_header_of_no_scaling_still_merge(tmp_path):
    """Landsat C2 ST (its scaling in the MTL, the header 1 / 0): the items' 0.00341802 / 149
    are read, no warning (kept from 1798a0c)."""
    dn = np.round((KELVIN - 149.0) / 0.00341802)
    paths = [_tif(tmp_path / f"ls_{i}.tif", dn) for i in range(2)]
    band = {"nodata": 0, "data_type": "uint16", "scale": 0.00341802, "offset": 149.0,
            "unit": "K"}
    da, said = _open(_items(paths, band))
    np.testing.assert_allclose(da.values, dn * 0.00341802 + 149.0, rtol=1e-6)
    assert said == []


# -- finding 2: the unit travels with the scaling applied -------------------------------------

def test_header_kelvin_offset_under_items_degc_is_labelled_by_its_unit(tmp_path):
    """degC x 100 files whose header says 0.01 / 273.15 K under items giving scale 0.01 and
    degC (both right): Kelvin values were labelled degC (306 'degC'); now the values and
    their unit give the same temperature, with no warning (the two readings agree)."""
    paths = [_tif(tmp_path / f"c_{i}.tif", C100, dtype="int16", scale=0.01, offset=273.15,
                  units="K", nodata=-32768) for i in range(2)]
    band = {"nodata": -32768, "data_type": "int16", "scale": 0.01, "unit": "degC"}
    da, said = _open(_items(paths, band))
    np.testing.assert_allclose(_kelvin(da), C100 * 0.01 + 273.15, atol=1e-3)
    assert said == []


@pytest.mark.parametrize("given", [{}, {"scale": 0.01}])
def test_items_kelvin_over_a_degc_header_is_read_in_degc_and_warned(tmp_path, given):
    """degC x 100 files, header 0.01 / 0 degC, items labelling them K: read 33 'K' silently;
    now the header's reading with its unit degC, warned naming both units."""
    paths = [_tif(tmp_path / f"c_{i}.tif", C100, dtype="int16", scale=0.01, units="degC",
                  nodata=-32768) for i in range(2)]
    band = {"nodata": -32768, "data_type": "int16", "unit": "K", **given}
    da, said = _open(_items(paths, band))
    assert temperature_units(da.attrs["units"]) == "C"
    np.testing.assert_allclose(_kelvin(da), C100 * 0.01 + 273.15, atol=1e-3)
    assert len(said) == 1 and "read as the header says" in said[0], said
    assert "unit 'K'" in said[0] and "unit 'degC'" in said[0], said


def test_items_and_header_of_one_temperature_in_two_units_agree_silently(tmp_path):
    """Header 0.01 / 0 degC, items 0.01 / 273.15 K: the same temperatures, read as the items
    say, no warning."""
    paths = [_tif(tmp_path / f"c_{i}.tif", C100, dtype="int16", scale=0.01, units="degC",
                  nodata=-32768) for i in range(2)]
    band = {"nodata": -32768, "data_type": "int16", "scale": 0.01, "offset": 273.15,
            "unit": "K"}
    da, said = _open(_items(paths, band))
    assert da.attrs["units"] == "K"
    np.testing.assert_allclose(da.values, C100 * 0.01 + 273.15, atol=1e-3)
    assert said == []


def test_units_clash_with_no_plausible_reading_is_refused_naming_both(tmp_path):
    """Neither the items' K nor the header's 0.2 degC read a temperature: refused, the units
    named, and the advised modifier sets the header's unit with its scaling."""
    from xlstsr.errors import XlstsrError
    from xlstsr.io import open_stac

    paths = [_tif(tmp_path / f"c_{i}.tif", DN, scale=0.2, units="degC") for i in range(2)]
    band = {"nodata": 0, "data_type": "uint16", "unit": "K"}
    with pytest.raises(XlstsrError, match="contradicts the files' own") as e:
        open_stac(_items(paths, band), "LST")
    msg = str(e.value)
    assert "unit 'K'" in msg and "unit 'degC'" in msg, msg
    assert "unit='degC'" in msg and "scale=0.2" in msg, msg
