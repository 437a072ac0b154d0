"""Review 50h findings 1-3 (open_stac, bd6b5e2): an asset with no unit anywhere whose items'
offset meets a header's scale / offset 0 is still judged by its readings (MOD11A1 items
0.02 / +273.15 over 0.02 / 0 read 578 K silently); the refusal's header rewrite is a
rasterio command over every file, shell-quoted, that works when run (gdal_edit.py is not
installed with xlstsr), the unit route on a unit clash; a file's GDAL unit is kept where
the items give none."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from test_readers49b import KELVIN, _items, _tif, _v2
from test_stac50b import DN, HOT, LS_OFFSET, LS_SCALE, _open, _refusal

from xlstsr.validate import temperature_units

# -- finding 1: no unit on the items or the header ---------------------------------------------


@pytest.mark.parametrize("v2", [False, True])
@pytest.mark.parametrize("offset", [273.15, -273.15])
def test_unitless_items_offset_over_a_header_offset_0_reads_the_header(tmp_path, v2, offset):
    """MOD11A1-like DNs, header 0.02 / 0, items 0.02 / +-273.15, no unit anywhere: the
    header's reading is the only plausible temperature, taken with a warning (read 547-556 K
    or -3..5 silently)."""
    paths = [_tif(tmp_path / f"d_{i}.tif", DN, scale=0.02) for i in range(2)]
    band = {"nodata": 0, "data_type": "uint16", "scale": 0.02, "offset": offset}
    items = _items(paths, band)
    da, said = _open(_v2(items) if v2 else items)
    np.testing.assert_allclose(da.values, DN * 0.02, rtol=1e-6)
    assert len(said) == 1 and "read as the header says" in said[0], said


@pytest.mark.parametrize("values", [KELVIN, HOT])
def test_unitless_landsat_items_over_a_header_offset_0_read_silently(tmp_path, values):
    """Landsat ST 0.00341802 / 149 without a unit over a header 0.00341802 / 0: the items'
    reading is a plausible temperature, read silently at 270-278 K and at 302-310 K (where
    the header's 153-161 K is 'plausible' too)."""
    dn = np.round((values - LS_OFFSET) / LS_SCALE)
    paths = [_tif(tmp_path / f"ls_{i}.tif", dn, scale=LS_SCALE) for i in range(2)]
    band = {"nodata": 0, "data_type": "uint16", "scale": LS_SCALE, "offset": LS_OFFSET}
    da, said = _open(_items(paths, band))
    np.testing.assert_allclose(da.values, dn * LS_SCALE + LS_OFFSET, rtol=1e-6)
    assert said == []


def test_unitless_items_offset_where_no_reading_is_a_temperature_or_reflectance_is_refused(
        tmp_path):
    """Items' offset 100 without a unit over a header 0.2 / 0: 2,740 K by the header, 2,840
    by the items, neither a temperature nor a reflectance: refused with both medians (read
    2,840 silently)."""
    paths = [_tif(tmp_path / f"m_{i}.tif", DN, scale=0.2) for i in range(2)]
    band = {"nodata": 0, "data_type": "uint16", "offset": 100.0}
    msg = _refusal(_items(paths, band))
    assert "by the items" in msg and "by the header" in msg, msg


# -- finding 2: the header rewrite, run as written ----------------------------------------------


def _run(command: str) -> None:
    """``command`` run by bash with this Python first on PATH as ``python``."""
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep
               + os.environ.get("PATH", ""))
    subprocess.run(["bash", "-c", command], check=True, env=env)


def _rewrite(msg: str) -> str:
    """The refusal's rasterio command (the items-are-right route), checked to name rasterio."""
    cmd = re.search(r"if the items are right: `(for p in [^`]*)`", msg)
    assert cmd is not None, msg
    assert "rasterio.open" in cmd.group(1) and "gdal_edit" not in cmd.group(1), msg
    return cmd.group(1)


@pytest.mark.parametrize("v2", [False, True])
def test_refusal_header_rewrite_runs_over_every_file_with_quoted_paths(tmp_path, v2):
    """Three files in a folder with a space and a quote, items' offset 100 (K) over a header
    0.2 / 0: the refusal's command rewrites every file (was a gdal_edit.py of the first
    file only, unquoted, not installed with xlstsr) to the items' 0.2 / 100; the items then
    open silently, read as they say, every file (only the first header is read). The message says it changes the files in place and that copies need the
    items' hrefs repointed."""
    folder = tmp_path / "my files' dir"
    folder.mkdir()
    paths = [_tif(folder / f"m {i}.tif", DN, scale=0.2) for i in range(3)]
    band = {"nodata": 0, "data_type": "uint16", "offset": 100.0, "unit": "K"}
    make = (lambda: _v2(_items(paths, band))) if v2 else (lambda: _items(paths, band))
    msg = _refusal(make())
    assert "in place" in msg and "hrefs" in msg, msg
    _run(_rewrite(msg))
    import rasterio

    for p in paths:
        with rasterio.open(p) as f:
            assert f.scales == (0.2,) and f.offsets == (100.0,), p
    for i in range(3):
        from xlstsr.io import open_stac

        da = open_stac(make(), "LST").isel(time=i).load()
        np.testing.assert_allclose(da.values, DN * 0.2 + 100.0, rtol=1e-6)
    _, said = _open(make())
    assert said == []


def test_unit_clash_refusal_rewrite_sets_the_unit(tmp_path):
    """DNs under a header 0.02 / 0 'K' (274 K) and items 0.001 / 0 'degC' (13.7 degC): both
    plausible, they disagree, refused on scale and unit; the command writes the items'
    scale and unit (set_band_unit) and the items then open as they say, silently."""
    paths = [_tif(tmp_path / f"u_{i}.tif", DN, scale=0.02, units="K") for i in range(2)]
    band = {"nodata": 0, "data_type": "uint16", "scale": 0.001, "unit": "degC"}
    msg = _refusal(_items(paths, band))
    cmd = _rewrite(msg)
    assert "set_band_unit(1, \"degC\")" in cmd, msg
    _run(cmd)
    da, said = _open(_items(paths, band))
    np.testing.assert_allclose(da.values, DN * 0.001, rtol=1e-6)
    assert temperature_units(da.attrs["units"]) == "C" and said == []


def test_unit_only_clash_refusal_rewrites_the_unit_alone(tmp_path):
    """DNs under a header 1 / 0 'K' and items 'degC' without a scale: no reading plausible,
    refused on the unit; its command sets the unit, not a scale (the text named a
    gdal_edit.py it did not give)."""
    import rasterio

    paths = [_tif(tmp_path / f"k_{i}.tif", DN, units="K") for i in range(2)]
    band = {"nodata": 0, "data_type": "uint16", "unit": "degC"}
    msg = _refusal(_items(paths, band))
    cmd = _rewrite(msg)
    assert "f.scales" not in cmd and "gdal_edit" not in msg, msg
    _run(cmd)
    for p in paths:
        with rasterio.open(p) as f:
            assert f.units == ("degC",) and f.scales == (1.0,), p


def test_unit_warning_names_the_unit_route(tmp_path):
    """Float Kelvin tagged 'K' under items' degC: read as the header says, warned; the fix
    offered for the files sets their unit (was a gdal_edit.py -scale / -offset)."""
    paths = [_tif(tmp_path / f"f_{i}.tif", KELVIN, dtype="float32", units="K", nodata=-9999)
             for i in range(2)]
    band = {"nodata": -9999, "data_type": "float32", "unit": "degC"}
    _, said = _open(_items(paths, band))
    assert len(said) == 1 and "set_band_unit" in said[0] and "gdal_edit" not in said[0], said


# -- finding 3: a file's GDAL unit where the items give none ------------------------------------


@pytest.mark.parametrize("band", [
    {"nodata": 0, "data_type": "uint16", "scale": 0.02, "offset": 0.0},
    {"nodata": 0, "data_type": "uint16", "scale": 0.02},
])
def test_file_unit_kept_where_the_reading_is_the_items_own(tmp_path, band):
    """Files 0.02 / 0 'K' (the shared MOD11A1 COGs' header) under unitless items of the
    same scaling: labelled 'K' (were unlabelled), and decode_lst takes it as decoded."""
    from xlstsr.validate import decode_lst

    paths = [_tif(tmp_path / f"c_{i}.tif", DN, scale=0.02, units="K") for i in range(2)]
    da, said = _open(_items(paths, band))
    np.testing.assert_allclose(da.values, DN * 0.02, rtol=1e-6)
    assert da.attrs["units"] == "K" and said == []
    out = decode_lst(da)
    np.testing.assert_allclose(out.values, DN * 0.02, rtol=1e-6)


def test_refusal_rewrite_takes_the_items_alone_where_only_that_reading_is_plausible(tmp_path):
    """Float Kelvin with a leftover header 0.02 / 0 under items' offset -273.15 degC alone:
    merged with the header's scale the items read -267.6 degC, alone 1 degC; refused (the
    header's 5.5 degC is plausible too), the rewrite writes the items alone, 1 / -273.15
    (was 0.02 / -273.15, a reading the message showed impossible); followed, the files
    open as the items say, silently."""
    paths = [_tif(tmp_path / f"e_{i}.tif", KELVIN, dtype="float32", scale=0.02, nodata=-9999)
             for i in range(2)]
    band = {"nodata": -9999, "data_type": "float32", "offset": -273.15, "unit": "degC"}
    msg = _refusal(_items(paths, band))
    cmd = _rewrite(msg)
    assert "f.scales = (1.0,); f.offsets = (-273.15,)" in cmd, msg
    _run(cmd)
    da, said = _open(_items(paths, band))
    np.testing.assert_allclose(da.values, KELVIN - 273.15, rtol=1e-5, atol=1e-4)
    assert temperature_units(da.attrs["units"]) == "C" and said == []
