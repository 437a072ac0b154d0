"""A MODIS night LST read with open_cog or open_stac is recognised as night (probe42a #1):
the pairing checks warn when it is scored against a day field, as the docs promise."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr.errors import OverpassWarning
from xlstsr.io import cog as cog_module
from xlstsr.io import open_cog, open_stac, to_cogs
from xlstsr.io.modis import _day_night as modis_day_night
from xlstsr.steps import _day_night

DATA = Path("/work/shared/data/modis_h18v04_2020")
COG = str(DATA / "cogs" / "MOD11A1.A2020001.h18v04.061_LST_{}_1km.tif")
WIN = dict(y=slice(0, 16), x=slice(1088, 1104))
needs_data = pytest.mark.skipif(not (DATA / "catalog.json").exists(),
                                reason=f"shared MODIS data not found at {DATA}")


def _overpass_warnings(sr: xr.DataArray, ref: xr.DataArray) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        xlstsr.evaluate(sr, ref)
    return [str(w.message) for w in caught if issubclass(w.category, OverpassWarning)]


def _field(name=None, **attrs) -> xr.DataArray:
    rng = np.random.default_rng(0)
    da = xr.DataArray(rng.normal(290, 3, (8, 8)).astype("float32"), dims=("y", "x"),
                      coords={"y": 5e6 - 1000.0 * np.arange(8), "x": 1000.0 * np.arange(8)},
                      name=name, attrs={"units": "K", **attrs})
    return da.rio.write_crs("EPSG:32631")


@pytest.mark.parametrize("attrs, expected", [
    ({"long_name": "LST_Night_1km"}, "night"),
    ({"source_subdataset": "LST_Day_1km"}, "day"),
    ({"source_subdataset": 'HDF4_EOS:EOS_GRID:"a.hdf":MODIS_Grid_Daily_1km_LST:LST_Night_1km'},
     "night"),
    ({"long_name": "super-resolved", "source_long_name": "MOD11A1 v061 nighttime LST"}, "night"),
    ({"long_name": "super-resolved", "source_long_name": "LST_Day_1km"}, "day"),
])
def test_layer_named_in_attrs_is_read(attrs, expected):
    dn, how = _day_night(_field(**attrs))
    assert dn == expected
    assert any(k in how for k in attrs)


@pytest.mark.parametrize("attrs", [
    {"long_name": "day_of_year"}, {"long_name": "Emis_31"}, {"source_subdataset": "QC_Day"},
    {"long_name": "land surface temperature", "source_long_name": "lst daily mean"},
    {"source_long_name": "LST_Day_1km minus LST_Night_1km"},
])
def test_other_names_are_not_labelled(attrs):
    assert _day_night(_field(**attrs)) == (None, "")


def test_night_by_source_long_name_warns_against_day():
    night = _field(long_name="sr", source_long_name="MOD11A1 nighttime LST")
    day = _field(long_name="truth", source_subdataset="LST_Day_1km")
    msgs = _overpass_warnings(night, day)
    assert msgs and "a night one" in msgs[0] and "source_long_name" in msgs[0]


def test_tagged_day_night_modis_layers_only():
    _tagged_day_night = cog_module._tagged_day_night
    assert _tagged_day_night({"long_name": "LST_Night_1km"}) == "night"
    assert _tagged_day_night({"source_subdataset": "QC_Day", "long_name": "x"}) == "day"
    for attrs in ({"long_name": "day_of_year"}, {"long_name": "Emis_31"},
                  {"long_name": ("LST_Day_1km", "LST_Night_1km")}, {}):
        assert _tagged_day_night(attrs) is None


def test_modis_helper_ignores_day_of_year_layers():
    # open_stac reuses it on asset keys: MOD13's date layer is of no overpass
    assert modis_day_night(Path("MOD13A2.A2020001.h18v04.061.hdf"),
                           "composite_day_of_the_year") is None
    assert modis_day_night(Path("MOD11A1.A2020001.h18v04.061.hdf"), "Day_view_time") == "day"


@needs_data
def test_open_cog_day_and_night_files_labelled_and_warned():
    night = open_cog(COG.format("Night")).isel(WIN)
    day = open_cog(COG.format("Day")).isel(WIN)
    assert night.attrs["day_night"] == "night"
    assert day.attrs["day_night"] == "day"
    assert _overpass_warnings(night, day)
    # upscale replaces long_name: the label stays
    msgs = _overpass_warnings(night.lstsr.upscale(2), day.lstsr.upscale(2))
    assert msgs and "a night one" in msgs[0]
    assert not _overpass_warnings(day.lstsr.upscale(2), day.lstsr.upscale(2))


@needs_data
def test_open_cog_stack_of_one_layer_keeps_label():
    paths = sorted(str(p) for p in (DATA / "cogs").glob("MOD11A1.*_LST_Night_1km.tif"))[:2]
    if len(paths) < 2:
        pytest.skip("fewer than two night COGs in the shared data")
    assert open_cog(paths).attrs["day_night"] == "night"


@needs_data
def test_open_stac_labels_assets_and_round_trip(tmp_path):
    pystac = pytest.importorskip("pystac")
    cat = pystac.Catalog.from_file(str(DATA / "catalog.json"))
    items = [it for it in cat.get_items(recursive=True)
             if it.collection_id.startswith("modis-11A1")
             and 17 in it.properties["subset:windows"]][:1]
    if not items:
        pytest.skip("no MOD11A1 item of window 17 in the shared catalog")
    ds = open_stac(items, ["LST_Day_1km", "LST_Night_1km"],
                   bbox=(1008169, 5500449, 1008169 + 16 * 926.6, 5500449 + 16 * 926.6))
    assert ds["LST_Night_1km"].attrs["day_night"] == "night"
    assert ds["LST_Day_1km"].attrs["day_night"] == "day"
    night = ds["LST_Night_1km"].compute().lstsr.upscale(2)
    day = ds["LST_Day_1km"].compute().lstsr.upscale(2)
    back = open_cog(to_cogs(night, str(tmp_path / "cogs")))
    back.name = None  # a COG keeps no variable name: the label must come from elsewhere
    msgs = _overpass_warnings(back, day)
    assert msgs and "a night one" in msgs[0]


def test_sample_night_after_to_cogs_warns(tmp_path):
    smp = xlstsr.datasets.modis_sample().isel(time=[0], y=slice(0, 16), x=slice(0, 16))
    night = open_cog(to_cogs(smp["lst_night"].lstsr.upscale(2), str(tmp_path / "smp")))
    msgs = _overpass_warnings(night, smp["lst_day"].lstsr.upscale(2))
    assert msgs and "a night one" in msgs[0]


def test_tag_naming_both_overpasses_gets_no_label():
    # 'LST_Day_1km - LST_Night_1km' (a difference of the two): of no one overpass
    assert cog_module._tagged_day_night({"long_name": "LST_Day_1km - LST_Night_1km"}) is None
    assert cog_module._tagged_day_night({"long_name": "LST_Night_1km"}) == "night"


# -- probe 42q: stacks by label, the overpass coordinate, MOD21A2 QC by source_granule ---------
def _cog(path, value, **tags):
    import rasterio
    from rasterio.transform import from_origin

    with rasterio.open(path, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32",
                       crs="EPSG:32631", transform=from_origin(0, 400, 100, 100)) as f:
        f.write(np.full((1, 4, 4), value, np.float32))
        f.update_tags(units="K", **tags)
    return str(path)


@pytest.mark.parametrize("tag", ["LST_{}_1km", "MOD11A1 {}time land surface temperature"])
def test_open_cog_refuses_a_stack_of_day_and_night_labelled_by_tags(tmp_path, tag):
    day = _cog(tmp_path / "s0.tif", 300.0, long_name=tag.format("Day"))
    night = _cog(tmp_path / "s1.tif", 285.0, long_name=tag.format("Night"))
    with pytest.raises(xlstsr.errors.XlstsrError, match="different layers"):
        open_cog([day, night])
    assert open_cog([day, _cog(tmp_path / "s2.tif", 301.0,
                               long_name=tag.format("Day"))]).sizes["time"] == 2


def test_overpass_coordinate_labels_a_field_of_a_stack():
    day = _field("lst_day", day_night="day")
    night = _field("lst_night", day_night="night")
    cube = xr.concat([day, night], dim="overpass").assign_coords(overpass=["day", "night"])
    assert cube.attrs["day_night"] == "day"  # xarray kept the first field's attributes
    assert _day_night(cube.sel(overpass="night"))[0] == "night"
    assert _day_night(cube.sel(overpass="day"))[0] == "day"
    assert _day_night(cube)[0] is None  # both overpasses
    assert _overpass_warnings(cube.sel(overpass="night"), day)
    assert not _overpass_warnings(cube.sel(overpass="night"), night)


def test_mod21a2_qc_read_by_its_source_granule(tmp_path):
    from xlstsr.qc import _product_of

    qc = xr.DataArray(np.zeros((2, 2), np.uint8), dims=("y", "x"),
                      attrs={"source": "/data/h18v04_QC_Day.tif",
                             "source_granule": "MOD21A2.A2020001.h18v04.061.2021003092415.hdf"})
    assert _product_of(qc) == "MOD21A2"
    qc.attrs.pop("source_granule")
    assert _product_of(qc) == "MOD11"


def test_overpass_dim_of_one_keeps_its_label():
    night = _field("lst_night", day_night="night").expand_dims(overpass=["night"])
    assert _day_night(night)[0] == "night"


# -- probe 42z: stacks of day and night through to_cogs / open_cog -----------------------------
def _stacked_cube():
    lst = xlstsr.datasets.sample_scene(n_times=2, size=16)["lst_1km"].fillna(290.0)
    cube = xr.concat([lst, lst - 12], dim=xr.DataArray(["day", "night"], dims="overpass",
                                                        name="overpass"))
    return cube.assign_attrs(day_night="day")  # concat kept the day field's attrs


def test_to_cogs_of_a_day_night_stack_reads_back_with_each_files_overpass(tmp_path):
    cube = _stacked_cube()
    st = cube.stack(t=("time", "overpass")).transpose("t", "y", "x")
    files = to_cogs(st, tmp_path, prefix="lst")
    back = open_cog(sorted(str(f) for f in files))
    assert back.sizes["t"] == 4
    np.testing.assert_allclose(back.unstack("t").transpose("time", "overpass", "y", "x").values,
                               cube.transpose("time", "overpass", "y", "x").values, atol=1e-4)
    night = next(f for f in files if "night" in Path(f).name)
    assert open_cog(night).attrs["day_night"] == "night"


def _described_stack(path, descriptions):
    import rasterio
    from rasterio.transform import from_origin

    with rasterio.open(path, "w", driver="GTiff", width=4, height=4,
                       count=len(descriptions), dtype="float32", crs="EPSG:32631",
                       transform=from_origin(0, 400, 100, 100)) as f:
        f.write(np.stack([np.full((4, 4), 290.0 + i, np.float32)
                          for i in range(len(descriptions))]))
        for i, t in enumerate(descriptions, 1):
            f.set_band_description(i, t)
    return str(path)


def test_band_of_a_day_and_night_export_keeps_its_date(tmp_path):
    p = _described_stack(tmp_path / "ee.tif", [
        "2020_07_02_LST_Day_1km", "2020_07_02_LST_Night_1km", "2020_08_02_LST_Day_1km"])
    assert str(open_cog(p, band=3)["time"].values)[:10] == "2020-08-02"


def test_whole_stack_described_as_one_overpass_is_labelled(tmp_path):
    p = _described_stack(tmp_path / "n.tif", ["LST_Night_1km_2020_07_01",
                                              "LST_Night_1km_2020_07_02"])
    assert open_cog(p).attrs["day_night"] == "night"
    q = _described_stack(tmp_path / "d.tif", ["LST_Day_1km_2020_07_03",
                                              "LST_Day_1km_2020_07_04"])
    with pytest.raises(xlstsr.errors.XlstsrError, match="different layers"):
        open_cog([q, p])


def test_files_repeating_tagged_dates_are_refused(tmp_path):
    lst = xlstsr.datasets.sample_scene(n_times=1, size=16)["lst_1km"]
    a = to_cogs(lst, tmp_path / "terra", prefix="lst")
    b = to_cogs(lst + 1, tmp_path / "aqua", prefix="lst")
    with pytest.raises(xlstsr.errors.XlstsrError, match="repeat dates"):
        open_cog([str(a[0]), str(b[0])])


# -- review 42g --------------------------------------------------------------------------------
def test_files_of_a_stack_read_across_dates_are_refused(tmp_path):
    st = _stacked_cube().stack(t=("time", "overpass")).transpose("t", "y", "x")
    files = sorted(str(f) for f in to_cogs(st, tmp_path, prefix="lst"))
    day1 = next(f for f in files if "01_day" in f)
    night2 = next(f for f in files if "02_night" in f)
    with pytest.raises(xlstsr.errors.XlstsrError, match="different layers"):
        open_cog([day1, night2])


def test_undated_runs_read_together_are_numbered(tmp_path):
    lst = xlstsr.datasets.sample_scene(n_times=2, size=16)["lst_1km"]
    lst = lst.assign_coords(time=[0, 1])
    a = to_cogs(lst, tmp_path / "a", prefix="lst")
    b = to_cogs(lst + 1, tmp_path / "b", prefix="lst")
    assert open_cog([str(p) for p in (*a, *b)]).sizes["time"] == 4


def test_descriptions_of_two_kinds_give_no_overpass(tmp_path):
    p = _described_stack(tmp_path / "g.tif", ["NDVI", "LST_Day_1km"])
    assert "day_night" not in open_cog(p).attrs


def test_stac_product_of_mod21_granules_under_a_generic_collection():
    from types import SimpleNamespace

    from xlstsr.io.stac import _product_name

    def items(collection):
        return [SimpleNamespace(id=f"MOD21A2.A20202{d}.h18v04.061.2021001000000",
                                collection_id=collection) for d in ("09", "17")]

    assert _product_name(items("my-lst")) == "MOD21A2"  # read as MOD11 QC before
    assert _product_name(items("modis-21A2-061")) == "modis-21A2-061"
    mod11 = [SimpleNamespace(id="MOD11A1.A2020209.h18v04.061.2021001000000",
                             collection_id="my-lst")]
    assert _product_name(mod11) == "my-lst"  # unchanged where the layout is MOD11's anyway


def test_stac_product_of_mixed_mod21_granules_of_one_layout():
    from types import SimpleNamespace

    from xlstsr.io.stac import _product_name

    def item(name):
        return SimpleNamespace(id=f"{name}.A2020209.h18v04.061.2021001000000",
                               collection_id="my-lst")

    assert _product_name([item("MOD21A1D"), item("MOD21A1N")]) == "MOD21A1D"
    assert _product_name([item("MOD21A2"), item("MYD21A2")]) == "MOD21A2"
    assert _product_name([item("MOD21A1D"), item("MOD21A2")]) == "my-lst"  # two layouts
