"""Fixes of probe 43x: a renamed MODIS granule dated by its name against its own CoreMetadata
(01), and a float STAC asset decoded with its catalogue's integer scale (03)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from helpers import GRANULE, utm33_cog_item

from xlstsr.errors import XlstsrError

# -- 01: the granule's recorded date --------------------------------------------------------

def test_renamed_granule_contradicting_its_metadata_is_refused(real_granule, tmp_path):
    """The 2019-11-01 granule saved as A2019306 was stacked as a second date, a duplicate
    field under a wrong date, without a word."""
    from xlstsr.io import open_modis

    a = tmp_path / GRANULE
    b = tmp_path / "MOD11A1.A2019306.h14v09.006.2019307084028.hdf"
    shutil.copy(real_granule, a)
    shutil.copy(real_granule, b)
    match = r"named for 2019-11-02 but the granule records 2019-11-01.*Rename.*\.A2019305\."
    with pytest.raises(XlstsrError, match=match):
        open_modis([a, b])
    with pytest.raises(XlstsrError, match=match):
        open_modis(b)


def test_renamed_granule_refused_by_the_cli(real_granule, tmp_path, capsys):
    from xlstsr import cli

    b = tmp_path / "MOD11A1.A2019306.h14v09.006.2019307084028.hdf"
    shutil.copy(real_granule, b)
    rc = cli.main(["upscale", str(b), str(tmp_path / "o.nc"), "--factor", "2", "--quiet",
                   "--variable", "LST_Day_1km"])
    assert rc != 0
    assert "records 2019-11-01" in capsys.readouterr().err
    assert not (tmp_path / "o.nc").exists()


def test_real_granule_and_undated_name_take_the_recorded_date(real_granule, tmp_path):
    """The real granule opens as before; a copy whose name has no date is dated by its
    metadata (it had no time coordinate)."""
    from xlstsr.io import open_modis

    assert str(open_modis(real_granule).time.values)[:10] == "2019-11-01"
    plain = tmp_path / "lst.hdf"
    shutil.copy(real_granule, plain)
    got = open_modis(plain)
    assert "time" in got.coords and str(got.time.values)[:10] == "2019-11-01"


def _with_range(src, dst, begin: str, end: str):
    """A copy of granule ``src`` whose CoreMetadata records the days ``begin`` to ``end``."""
    import re

    from pyhdf.SD import SD, SDC

    shutil.copy(src, dst)
    sd = SD(str(dst), SDC.WRITE)
    try:
        for key, text in sd.attributes().items():
            if key.startswith("CoreMetadata"):
                for field, day in (("BEGINNING", begin), ("ENDING", end)):
                    # (\b: not inside END_OBJECT = RANGE...DATE)
                    text = re.sub(rf'(\bOBJECT\s*=\s*RANGE{field}DATE\b.*?VALUE\s*=\s*")'
                                  r"\d{4}-\d{2}-\d{2}", rf"\g<1>{day}", text, count=1,
                                  flags=re.S)
                sd.attr(key).set(SDC.CHAR, text)
    finally:
        sd.end()
    return dst


def test_composite_named_for_a_day_inside_its_window_opens(real_granule, tmp_path):
    """A composite named for a day inside its window (MCD43 names its middle day) is no
    renamed copy: it keeps its name's date; a name outside the window is refused naming it."""
    from xlstsr.io import open_modis

    inside = _with_range(real_granule, tmp_path / GRANULE, "2019-10-24", "2019-11-08")
    assert str(open_modis(inside).time.values)[:10] == "2019-11-01"
    outside = _with_range(real_granule, tmp_path / GRANULE.replace("A2019305", "A2019313"),
                          "2019-10-24", "2019-11-08")
    with pytest.raises(XlstsrError, match="records 2019-10-24 to 2019-11-08"):
        open_modis(outside)


def test_copies_of_one_composite_under_two_names_are_refused(real_granule, tmp_path):
    """An 8-day granule (1-8 November) saved again as .A2019306.: each name lies in its window,
    so the copy was stacked as a second, duplicated step."""
    from xlstsr.io import open_modis

    first = _with_range(real_granule, tmp_path / GRANULE, "2019-11-01", "2019-11-08")
    again = _with_range(real_granule, tmp_path / GRANULE.replace("A2019305", "A2019306"),
                        "2019-11-01", "2019-11-08")
    with pytest.raises(XlstsrError, match=r"both record the days 2019-11-01 to 2019-11-08"):
        open_modis([first, again])
    # windows of their own (MCD43's slide by a day): a series
    other = _with_range(real_granule, tmp_path / GRANULE.replace("A2019305", "A2019307"),
                        "2019-10-30", "2019-11-14")
    assert open_modis([first, other]).sizes["time"] == 2


def test_undated_name_of_a_longer_window_stays_undated(real_granule, tmp_path):
    """Which day names a window of several is the product's convention: a granule without a
    date in its name is dated only by a one-day range."""
    from xlstsr.io import open_modis

    plain = _with_range(real_granule, tmp_path / "lst.hdf", "2019-10-24", "2019-11-08")
    assert "time" not in open_modis(plain).coords


def test_recorded_date_reads_its_own_field_only():
    from xlstsr.io.modis import _recorded_date

    core = ("OBJECT = RANGEBEGINNINGDATE\n NUM_VAL = 1\n END_OBJECT = RANGEBEGINNINGDATE\n"
            'OBJECT = PRODUCTIONDATETIME\n VALUE = "2019-11-02T08:40:28.000Z"\n'
            "END_OBJECT = PRODUCTIONDATETIME\n")
    assert _recorded_date(core) is None
    assert str(_recorded_date(core.replace("NUM_VAL = 1", 'VALUE = "2019-11-01"', 1)))[:10] \
        == "2019-11-01"


# -- 03: float assets under an integer coding ------------------------------------------------

def _items(tmp_path, data, dtype, band):
    import rasterio
    from rasterio.transform import from_origin

    items = []
    for i in range(len(data)):
        p = tmp_path / f"lst_{i}.tif"
        with rasterio.open(p, "w", driver="GTiff", height=16, width=16, count=1, dtype=dtype,
                           crs="EPSG:32633",
                           transform=from_origin(1000000, 5500000, 1000, 1000)) as d:
            d.write(data[i][None].astype(dtype))
        it = utm33_cog_item(i, p, 16, band, [14, 49, 14.3, 49.2])
        items.append(it)
    return items


TRUTH = 300 + np.random.default_rng(0).normal(0, 2, (2, 16, 16))
CODED = {"scale": 0.02, "offset": 0, "nodata": 0, "data_type": "uint16", "unit": "K"}


def test_float_kelvin_asset_with_integer_scale_is_refused(tmp_path):
    """A float32 Kelvin COG whose item kept its source's raster:bands (uint16, scale 0.02) came
    back at ~6 K; the range refusal advised units='degC' (~279 K, accepted)."""
    pytest.importorskip("odc.stac")
    from xlstsr.io import open_stac

    items = _items(tmp_path, TRUTH, "float32", dict(CODED))
    match = r"'LST'.*float32 file.*data_type uint16 with scale 0\.02.*second time.*modifier="
    with pytest.raises(XlstsrError, match=match):
        open_stac(items, "LST")
    with pytest.raises(XlstsrError, match=match):  # its CF attributes would scale it again too
        open_stac(items, "LST", decode=False)

    def fix(item):  # the advice followed: the coding corrected on each item
        band = item.assets["LST"].extra_fields["raster:bands"][0]
        band.update(data_type="float32")
        band.pop("scale", None)
        band.pop("offset", None)

    lst = open_stac(items, "LST", modifier=fix)
    np.testing.assert_allclose(lst.values, TRUTH, atol=1e-3)
    assert lst.attrs["units"] == "K"


def test_float_kelvin_series_with_a_first_file_of_gaps_is_refused(tmp_path):
    """The first file's window all NaN (a cloudy day) told nothing; the series was scaled a
    second time (~6 K) without a word."""
    pytest.importorskip("odc.stac")
    from xlstsr.io import open_stac

    data = TRUTH.copy()
    data[0] = np.nan
    items = _items(tmp_path, data, "float32", {**CODED, "nodata": "nan"})
    with pytest.raises(XlstsrError, match=r"'it1' is a float32 file of decoded values"):
        open_stac(items, "LST")


def test_valid_codings_open_unchanged(tmp_path):
    """Integer assets with a scale and float assets without one still open, in Kelvin."""
    pytest.importorskip("odc.stac")
    from xlstsr.io import open_stac

    (tmp_path / "int").mkdir()
    (tmp_path / "float").mkdir()
    dn = np.round(TRUTH / 0.02)
    lst = open_stac(_items(tmp_path / "int", dn, "uint16", dict(CODED)), "LST")
    np.testing.assert_allclose(lst.values, TRUTH, atol=0.011)
    plain = {"nodata": 0, "data_type": "float32", "unit": "K"}
    lst = open_stac(_items(tmp_path / "float", TRUTH, "float32", plain), "LST")
    np.testing.assert_allclose(lst.values, TRUTH, atol=1e-3)
    # stored integers kept in a float file (whole numbers) decode as declared, as before
    (tmp_path / "whole").mkdir()
    lst = open_stac(_items(tmp_path / "whole", dn, "float32", dict(CODED)), "LST")
    np.testing.assert_allclose(lst.values, TRUTH, atol=0.011)


def test_shared_modis_stac_cube_opens(shared_data):
    pytest.importorskip("odc.stac")
    import pystac

    from xlstsr.io import open_stac

    cat = shared_data / "modis_h18v04_2020" / "catalog.json"
    if not cat.is_file():
        pytest.skip(f"{cat} is absent from the real data folder")
    items = [i for i in pystac.Catalog.from_file(str(cat)).get_items(recursive=True)
             if i.collection_id.startswith("modis-11A1")][:2]
    lst = open_stac(items, "LST_Day_1km")
    med = float(np.nanmedian(lst.isel(time=0).values))
    assert 200 < med < 340 and lst.attrs["units"] == "K"
