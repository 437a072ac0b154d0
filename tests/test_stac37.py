"""open_stac (probe 37w): the user's nodata= masked, nodata= the stored dtype cannot hold named,
Terra and Aqua items refused as one series, date advice that keeps whole days, and stackstac's
keywords (bbox= with bounds_latlon=, odc-stac's or mistyped keywords) named."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pystac
import pytest
import rasterio
from affine import Affine

from xlstsr.errors import XlstsrError
from xlstsr.io import open_stac

RES = 0.01
X0, Y0 = 10.0, 45.2  # top-left corner of the 20 x 20 pixel file


def _items(tmp_path, n=2, *, ids=None, platforms=None, hours=None):
    """``n`` EPSG:4326 items over one uint16 file (DN x 0.02 = K, nodata 0; its left column
    is fill), one day apart at 10:30 UTC unless ``hours`` says otherwise."""
    data = np.full((20, 20), 15000, np.uint16)
    data[:, 0] = 0
    path = tmp_path / "lst.tif"
    transform = Affine(RES, 0, X0, 0, -RES, Y0)
    with rasterio.open(path, "w", driver="GTiff", width=20, height=20, count=1,
                       dtype="uint16", crs="EPSG:4326", transform=transform, nodata=0) as dst:
        dst.write(data, 1)
    left, bottom, right, top = X0, Y0 - 20 * RES, X0 + 20 * RES, Y0
    geom = {"type": "Polygon", "coordinates": [[[left, bottom], [right, bottom], [right, top],
                                                [left, top], [left, bottom]]]}
    out = []
    for k in range(n):
        when = dt.datetime(2020, 1, 1 + k, 10, 30, tzinfo=dt.timezone.utc)
        if hours is not None:
            when = when.replace(hour=hours[k])
        props = {"proj:code": "EPSG:4326", "proj:transform": list(transform)[:6],
                 "proj:shape": [20, 20]}
        if platforms is not None:
            props["platform"] = platforms[k]
        it = pystac.Item(ids[k] if ids else f"item{k}", geom, [left, bottom, right, top], when,
                         props)
        band = {"nodata": 0, "scale": 0.02, "offset": 0.0, "unit": "K", "data_type": "uint16"}
        it.add_asset("lst", pystac.Asset(str(path), media_type="image/tiff", roles=["data"],
                                         extra_fields={"raster:bands": [band]}))
        it.stac_extensions = [
            "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
            "https://stac-extensions.github.io/raster/v1.1.0/schema.json"]
        out.append(it)
    return out


# a box 5 pixels beyond the file's top edge (no file there) over its fill column
BBOX = (X0 + 0.0001, Y0 - 10 * RES + 0.0001, X0 + 5 * RES - 0.0001, Y0 + 5 * RES - 0.0001)


def test_user_nodata_is_what_is_masked(tmp_path):
    """nodata=65535 passed to odc-stac fills the uncovered pixels and the files' fill with
    65535; only the catalogue's 0 was masked, so they decoded to 1310.7 K. Without a catalogue
    nodata the user's is masked; one that differs from the catalogue's is refused (a file
    without a nodata tag keeps the catalogue's 0: two fill values, 0 DN decoded to 0.0 K)."""
    items = _items(tmp_path, 1)
    ref = open_stac(items, "lst", bbox=BBOX)
    assert int(np.isnan(ref.values).sum()) > 0
    np.testing.assert_array_equal(open_stac(items, "lst", bbox=BBOX, nodata=0).values,
                                  ref.values)
    with pytest.raises(XlstsrError, match=r"differs from the nodata the catalogue declares"):
        open_stac(items, "lst", bbox=BBOX, nodata=65535)
    for it in items:  # a catalogue that declares no nodata: the user's says it
        del it.assets["lst"].extra_fields["raster:bands"][0]["nodata"]
    got = open_stac(items, "lst", bbox=BBOX, nodata=65535)
    np.testing.assert_array_equal(np.isnan(got.values), np.isnan(ref.values))
    assert float(np.nanmax(got.values)) == pytest.approx(300.0)
    raw = open_stac(items, "lst", bbox=BBOX, nodata=65535, decode=False)
    assert raw.attrs["_FillValue"] == 65535
    assert not (raw.values == 0).any()  # every fill pixel holds the recorded one


@pytest.mark.parametrize("nodata", [np.nan, -1, 70000, 1.5, "zero"])
def test_nodata_the_stored_dtype_cannot_hold_is_named(tmp_path, nodata):
    """NaN was reported as missing projection metadata, -1 as numpy's bare OverflowError."""
    items = _items(tmp_path, 1)
    with pytest.raises(XlstsrError) as info:
        open_stac(items, "lst", bbox=BBOX, nodata=nodata)
    msg = str(info.value)
    assert "projection extension" not in msg
    assert "nodata=" in msg and ("0..65535" in msg or "not a number" in msg)


def test_odc_errors_not_about_projection_are_not_blamed_on_it(tmp_path):
    """Only odc-stac's errors about projection metadata advise the projection extension."""
    items = _items(tmp_path, 1)
    with pytest.raises(XlstsrError) as info:
        open_stac(items, "lst", bbox=BBOX, driver="no-such-driver")
    assert "projection extension" not in str(info.value)
    assert "driver='no-such-driver'" in str(info.value)
    bare = _items(tmp_path, 1)
    for key in ("proj:code", "proj:transform", "proj:shape"):
        bare[0].properties.pop(key)
    with pytest.raises(XlstsrError, match="projection extension"):
        open_stac(bare, "lst")


@pytest.mark.parametrize("mark", ["ids", "platforms"])
def test_terra_and_aqua_items_are_not_one_series(tmp_path, mark):
    """MOD11A1 and MYD11A1 items of distinct times were stacked into one series silently."""
    kw = (dict(ids=["MOD11A1.A2020001.h18v04.061.1", "MYD11A1.A2020001.h18v04.061.1"])
          if mark == "ids" else dict(platforms=["terra", "aqua"]))
    items = _items(tmp_path, 2, hours=[10, 13], **kw)
    with pytest.raises(XlstsrError, match="one series is one product") as info:
        open_stac(items, "lst", bbox=BBOX)
    assert ("startswith('MOD11A1.')" if mark == "ids" else "== 'terra'") in str(info.value)
    with pytest.raises(XlstsrError, match="one series is one product"):  # one step per item:
        open_stac(items, "lst", bbox=BBOX, groupby="id")  # still a mixed series
    # one product of one platform passes; other platforms are not judged
    assert open_stac(_items(tmp_path, 2, platforms=["terra", "terra"]), "lst",
                     bbox=BBOX).sizes["time"] == 2
    assert open_stac(_items(tmp_path, 2, platforms=["landsat-8", "landsat-9"]), "lst",
                     bbox=BBOX).sizes["time"] == 2


@pytest.mark.parametrize("value, want", [
    (dt.date(2020, 1, 2), ["2020-01-02"]),
    ("2020-1-2", ["2020-01-02"]),
    (dt.datetime(2020, 1, 2), ["2020-01-02"]),
    ((dt.date(2020, 1, 1), dt.date(2020, 1, 2)), ["2020-01-01", "2020-01-02"]),
    ("2020-01-02T10:00:00Z/2020-01-03T00:00:00Z", ["2020-01-02"]),
])
def test_date_advice_keeps_whole_days(tmp_path, value, want):
    """A date object or unpadded day became midnight: the advised slice kept nothing of a day
    whose items are at 10:30, and a (date, date) range dropped its last day."""
    items = _items(tmp_path, 3)
    full = open_stac(items, "lst", bbox=BBOX)
    with pytest.raises(XlstsrError) as info:
        open_stac(items, "lst", bbox=BBOX, datetime=value)
    m = re.search(r"\.sel\(time=slice\('([^']*)', '([^']*)'\)\)", str(info.value))
    kept = full.sel(time=slice(m.group(1), m.group(2)))
    assert [str(t)[:10] for t in kept.time.values] == want


def test_stackstac_bbox_with_bounds_latlon_is_refused_by_name(tmp_path):
    """stackstac's "Cannot give both" was blamed on proj:epsg metadata."""
    pytest.importorskip("stackstac")
    with pytest.raises(XlstsrError, match="bounds_latlon= with bbox=") as info:
        open_stac(_items(tmp_path), "lst", bbox=BBOX, bounds_latlon=BBOX, engine="stackstac")
    assert "proj:epsg" not in str(info.value)


@pytest.mark.parametrize("kw, names", [
    (dict(groupby="solar_day"), ["groupby=", "engine='odc'"]),
    (dict(resolutoin=0.01), ["resolutoin=", "resolution="]),
    (dict(lon=(10.0, 10.05), lat=(45.0, 45.1)), ["lon=", "bounds_latlon="]),
])
def test_stackstac_unknown_keywords_are_named(tmp_path, kw, names):
    """They escaped as Python's bare "stack() got an unexpected keyword argument"."""
    pytest.importorskip("stackstac")
    with pytest.raises(XlstsrError) as info:
        open_stac(_items(tmp_path), "lst", engine="stackstac", **kw)
    for n in names:
        assert n in str(info.value)


@pytest.mark.parametrize("drop", ["proj:shape", "proj:code"])
def test_items_missing_projection_fields_are_told_so(tmp_path, drop):
    """odc-stac's "The asset must have the following fields (from the projection extension)"
    (proj:code missing) was told to check the options' values instead."""
    items = _items(tmp_path, 1)
    items[0].properties.pop(drop)
    with pytest.raises(XlstsrError, match="Items need the projection extension"):
        open_stac(items, "lst")


@pytest.mark.parametrize("key, own", [("chunksize", "chunks="), ("epsg", "crs="),
                                      ("bounds", "bbox=")])
def test_stackstac_names_of_own_arguments_name_them_on_odc(tmp_path, key, own):
    """chunksize= on the default engine was told to choose an area with bbox= (probe 37k)."""
    items = _items(tmp_path, 1)
    with pytest.raises(XlstsrError) as info:
        open_stac(items, "lst", **{key: 64})
    msg = str(info.value)
    assert f"open_stac's own {own}" in msg
    assert "Choose the area" not in msg
    if key == "chunksize":  # the user's size, not a generic one (review 37d)
        assert "'y': 64" in msg


def test_fill_value_on_odc_is_not_sent_to_stackstac(tmp_path):
    """fill_value= on odc was told to use engine='stackstac', which refused it (review 37d)."""
    items = _items(tmp_path, 1)
    with pytest.raises(XlstsrError, match="which it sets itself") as info:
        open_stac(items, "lst", fill_value=0)
    assert "engine='stackstac'" not in str(info.value)
