"""Attributes kept (probe 44): open_modis drops MOD11's per-layer decoding formula once decoded,
and coarsen keeps the input's long_name as ``source_long_name``, as upscale does."""

from __future__ import annotations

import warnings

import pytest

import xlstsr
from xlstsr.errors import OverpassWarning
from xlstsr.io import open_modis
from xlstsr.steps import _day_night

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def granule(shared_data):
    return next((shared_data / "mod11a1_hdf").glob("MOD11A1*.hdf"))


def _formulas(attrs):
    return {k: v for k, v in attrs.items() if "scale_factor" in str(v) or "add_offset" in str(v)}


@pytest.mark.parametrize("layer", ["LST_Day_1km", "Emis_31", "Clear_day_cov", "Day_view_angl"])
def test_open_modis_decoded_drops_the_layer_formula(granule, layer):
    # regression probe 44-01: LST='LST data * scale_factor' rode on the Kelvin field (the formula
    # attribute is named after the layer: 'LST', 'Emis_31', 'day clear_sky_cov', 'View_angle')
    da = open_modis(granule, layer, qc=None)
    assert _formulas(da.attrs) == {}
    assert "long_name" in da.attrs  # the file's other attributes are still kept


def test_open_modis_raw_keeps_the_layer_formula(granule):
    # the stored integers: the formula still describes them
    raw = open_modis(granule, "LST_Day_1km", decode=False)
    assert raw.attrs["LST"] == "LST data * scale_factor"
    assert "scale_factor" in raw.attrs


def test_upscale_of_open_modis_has_no_storage_formula(granule):
    lst = open_modis(granule).isel(y=slice(0, 32), x=slice(0, 32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sr = lst.lstsr.upscale(2, method="bicubic", output_check=False)
    assert _formulas(sr.attrs) == {}


def _night_and_day():
    s = xlstsr.datasets.sample_scene(n_times=1, size=64, seed=3)["lst_250m"].isel(time=0)
    night = s.rename("LST").assign_attrs(long_name="MOD11A1 v061 nighttime LST")
    day = (s + 15).rename("LST").assign_attrs(long_name="MOD11A1 v061 daytime LST")
    return night, day


def test_coarsen_keeps_long_name_as_source_long_name():
    # regression probe 44-02: coarsen dropped the long_name, the field's only overpass record
    night, _ = _night_and_day()
    c = night.lstsr.coarsen(2)
    assert c.attrs["source_long_name"] == "MOD11A1 v061 nighttime LST"
    assert c.attrs["long_name"] != night.attrs["long_name"]  # coarsen's own description
    assert _day_night(c)[0] == "night"
    # coarsened again (its long_name coarsen's own): the first input's passes on
    cc = c.lstsr.coarsen(2)
    assert cc.attrs["source_long_name"] == "MOD11A1 v061 nighttime LST"


def test_upscale_of_a_coarsened_field_keeps_the_first_long_name():
    # coarsen's own long_name was taken for the source's: 'nighttime' lost on upscaling
    night, _ = _night_and_day()
    up = night.lstsr.coarsen(2).lstsr.upscale(2, method="bicubic")
    assert up.attrs["source_long_name"] == "MOD11A1 v061 nighttime LST"
    assert _day_night(up)[0] == "night"


def test_coarsen_without_long_name_sets_none():
    bare, _ = _night_and_day()
    bare.attrs = {"units": "K", "source_long_name": 5}  # an earlier one, not text
    assert "source_long_name" not in bare.lstsr.coarsen(2).attrs


def test_coarsened_night_scored_against_coarsened_day_warns():
    night, day = _night_and_day()
    c_night, c_day = night.lstsr.coarsen(2), day.lstsr.coarsen(2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        xlstsr.evaluate(c_night, c_day)
    assert any(issubclass(w.category, OverpassWarning) for w in caught)


def test_ecostress_scene_on_a_metric_grid_keeps_its_crs_attribute(shared_data):
    """open_ecostress_scene's docstring promises ``crs`` in attrs; rio.write_crs removed it
    from a result on the common (UTM) grid."""
    if not (shared_data / "ecostress_la").is_dir():
        pytest.skip("no ecostress_la in the real data folder")
    lst = xlstsr.datasets.open_ecostress_scene("2023219014701", resolution=560,
                                               root=shared_data)
    assert lst.attrs["crs"] == lst.rio.crs
