"""open_stac / open_modis (probe 39w): stackstac time labels of items with ``datetime: null``,
a thin box with ``resolution=``, a granule path holding ``[..]``, numpy-scalar resolutions, the
pixel cap over a ``lon=``/``lat=`` area, ``latitude``/``longitude`` chunks on a projected
output, and raster extension v2 (STAC 1.1) codings."""

from __future__ import annotations

import datetime as dt
import os
import shutil

import numpy as np
import pystac
import pytest
import rasterio
from affine import Affine

from xlstsr.errors import XlstsrError
from xlstsr.io import open_modis, open_stac
from xlstsr.io.stac import BandCoding, band_coding

EXTENSIONS = ["https://stac-extensions.github.io/projection/v2.0.0/schema.json",
              "https://stac-extensions.github.io/raster/v1.1.0/schema.json"]
V1_BAND = {"nodata": 0, "scale": 0.02, "offset": 0.0, "unit": "K", "data_type": "uint16"}

# an 8 x 8 pixel UTM 33N file, 1 km pixels, top-left corner (500 km, 5000 km)
UTM = "EPSG:32633"
UTM_T = Affine(1000.0, 0, 500000.0, 0, -1000.0, 5000000.0)


def _tif(path, crs=UTM, transform=UTM_T, shape=(8, 8), nodata=0):
    """A uint16 file of DN 15000 + row * 8 + col, its first column fill (0)."""
    data = (15000 + np.arange(shape[0] * shape[1]).reshape(shape)).astype(np.uint16)
    data[:, 0] = 0
    with rasterio.open(path, "w", driver="GTiff", width=shape[1], height=shape[0], count=1,
                       dtype="uint16", crs=crs, transform=transform, nodata=nodata) as dst:
        dst.write(data, 1)
    return data


def _items(tmp_path, n=1, *, crs=UTM, transform=UTM_T, shape=(8, 8), fields=None,
           nodata=0, bbox=None):
    """``n`` items one day apart over one file; ``fields``: the asset's extra fields (default
    raster v1 ``raster:bands``); ``bbox``: the items' WGS84 bbox (default the file's)."""
    from rasterio.warp import transform_bounds

    path = tmp_path / "lst.tif"
    _tif(path, crs, transform, shape, nodata)
    with rasterio.open(path) as src:
        box = bbox or list(transform_bounds(src.crs, "EPSG:4326", *src.bounds))
    w, s, e, n_ = box
    geom = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n_], [w, n_], [w, s]]]}
    out = []
    for k in range(n):
        when = dt.datetime(2020, 1, 1 + k, 10, 30, tzinfo=dt.timezone.utc)
        props = {"proj:code": crs, "proj:transform": list(transform)[:6],
                 "proj:shape": list(shape)}
        it = pystac.Item(f"item{k}", geom, list(box), when, props)
        ef = {"raster:bands": [dict(V1_BAND)]} if fields is None else dict(fields)
        it.add_asset("lst", pystac.Asset(str(path), media_type="image/tiff", roles=["data"],
                                         extra_fields=ef))
        it.stac_extensions = list(EXTENSIONS)
        out.append(it)
    return out


# the file's area less half a pixel on each side, in its CRS
BBOX = (500500.0, 4992500.0, 507500.0, 4999500.0)


# 01 -------------------------------------------------------------------------------------------

def test_stackstac_labels_items_without_datetime_by_their_start(tmp_path):
    """Items with ``datetime: null`` and a span (start/end_datetime) were labelled NaT by
    stackstac (it reads ``datetime`` only); odc-stac labels them by their start. The caller's
    items keep their null datetime."""
    items = _items(tmp_path, 2)
    for it in items:
        day = it.datetime
        it.datetime = None
        it.common_metadata.start_datetime = day.replace(hour=0, minute=0)
        it.common_metadata.end_datetime = day.replace(hour=23, minute=59)
    st = open_stac(items, "lst", bbox=BBOX, engine="stackstac")
    odc = open_stac(items, "lst", bbox=BBOX)
    want = np.array(["2020-01-01T00:00", "2020-01-02T00:00"], dtype="datetime64[ns]")
    np.testing.assert_array_equal(st.time.values, want)
    np.testing.assert_array_equal(odc.time.values, want)
    np.testing.assert_allclose(st.values, odc.values, equal_nan=True)
    assert all(it.datetime is None for it in items)
    assert all(it.properties.get("datetime") is None for it in items)


# 02 -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ["odc", "stackstac"])
def test_thin_box_with_resolution_loads(tmp_path, engine):
    """A 6 km x 500 m strip (a transect) at resolution=1000 was refused as "a single pixel"
    (the resolution was compared with the shorter side): it is a row of pixels."""
    items = _items(tmp_path)
    strip = (500500.0, 4996000.0, 506500.0, 4996500.0)
    da = open_stac(items, "lst", bbox=strip, resolution=1000, engine=engine)
    assert da.sizes["x"] >= 6 and da.sizes["y"] >= 1
    assert np.isfinite(da.values).any()


def test_box_smaller_than_a_pixel_still_refused(tmp_path):
    items = _items(tmp_path)
    with pytest.raises(XlstsrError, match="single pixel"):
        open_stac(items, "lst", bbox=(500500.0, 4996000.0, 501000.0, 4996500.0),
                  resolution=1000)


# 03 -------------------------------------------------------------------------------------------

GRANULE = "/work/shared/data/mod11a1_hdf/MOD11A1.A2019305.h14v09.006.2019306084028.hdf"


@pytest.mark.skipif(not os.path.exists(GRANULE), reason="shared MOD11A1 HDF granule absent")
def test_open_modis_existing_path_with_brackets(tmp_path):
    """A granule in a folder named "run[1]" was globbed ("[1]" matches "1") and refused as
    "no MODIS granule matches"; an existing path is a plain path. open_path does the same."""
    pytest.importorskip("pyhdf")
    from xlstsr.io import open_path

    folder = tmp_path / "run[1]"
    folder.mkdir()
    path = folder / os.path.basename(GRANULE)
    shutil.copy(GRANULE, path)
    ref = open_modis(GRANULE)
    da = open_modis(str(path))
    assert da.shape == ref.shape
    assert open_modis(path).shape == ref.shape
    opened = open_path(str(path))
    assert opened.name == ref.name and dict(opened.sizes) == dict(ref.sizes)


# 04 -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("res", [np.int64(1000), np.int32(1000), np.float32(1000)])
def test_numpy_scalar_resolution(tmp_path, res):
    """odc-stac refused a numpy int64/int32/float32 resolution; it is a number like 1000."""
    items = _items(tmp_path)
    ref = open_stac(items, "lst", bbox=BBOX, resolution=1000)
    da = open_stac(items, "lst", bbox=BBOX, resolution=res)
    assert dict(da.sizes) == dict(ref.sizes)
    np.testing.assert_allclose(da.values, ref.values, equal_nan=True)


# 05 -------------------------------------------------------------------------------------------

def _wide_items(tmp_path):
    """Items over a 20 x 20 degree lon/lat file (1 degree pixels, lon 5..25, lat 35..55): at
    30 m in UTM 33N their whole extent is billions of pixels."""
    t = Affine(1.0, 0, 5.0, 0, -1.0, 55.0)
    return _items(tmp_path, crs="EPSG:4326", transform=t, shape=(20, 20))


@pytest.mark.parametrize("area", [
    dict(lon=(14.95, 15.05), lat=(44.95, 45.05)),
    dict(geopolygon={"type": "Polygon", "coordinates": [[[14.95, 44.95], [15.05, 44.95],
                                                         [15.05, 45.05], [14.95, 45.05],
                                                         [14.95, 44.95]]]}),
])
def test_pixel_cap_judges_the_lonlat_area(tmp_path, area):
    """A 0.1 degree area given as lon=/lat= (or geopolygon=) at 30 m (~260 x 370 px) was
    refused as billions of pixels: the cap measured the items' whole extent."""
    items = _wide_items(tmp_path)
    da = open_stac(items, "lst", crs=UTM, resolution=30, **area)
    assert 200 < da.sizes["x"] < 400 and 300 < da.sizes["y"] < 450


def test_pixel_cap_still_refuses_a_huge_lonlat_area(tmp_path):
    items = _wide_items(tmp_path)
    with pytest.raises(XlstsrError, match="pixels per time step"):
        open_stac(items, "lst", crs=UTM, resolution=0.001, lon=(14.95, 15.05),
                  lat=(44.95, 45.05))


# 06 -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ["odc", "stackstac"])
def test_latitude_longitude_chunks_on_projected_output(tmp_path, engine):
    """chunks={'latitude': 4, 'longitude': 2} on a UTM output: odc-stac ignored them (one chunk
    of the whole grid); they are the y / x chunks, as stackstac reads them."""
    items = _items(tmp_path, 2)
    da = open_stac(items, "lst", bbox=BBOX, chunks={"latitude": 4, "longitude": 2},
                   engine=engine)
    assert max(da.chunksizes["y"]) == 4
    assert max(da.chunksizes["x"]) == 2
    assert max(da.chunksizes["time"]) == 1


def test_two_sizes_for_one_dim_refused(tmp_path):
    items = _items(tmp_path)
    with pytest.raises(XlstsrError, match="two names of one dim"):
        open_stac(items, "lst", bbox=BBOX, chunks={"y": 4, "latitude": 2})


# 07 -------------------------------------------------------------------------------------------

V2_ASSET = {"nodata": 0, "data_type": "uint16", "raster:scale": 0.02, "raster:offset": 0.0,
            "unit": "K"}


@pytest.mark.parametrize("fields", [
    V2_ASSET,
    {"bands": [dict(V2_ASSET)]},
    {"data_type": "uint16", "unit": "K", "bands": [{"nodata": 0, "raster:scale": 0.02}]},
], ids=["asset", "bands", "mixed"])
def test_raster_v2_coding_decoded(tmp_path, fields):
    """STAC 1.1 / raster v2 items (nodata, raster:scale, raster:offset, unit on the asset or in
    its bands) were loaded as DN (~15000) without units: decoded as raster:bands are."""
    for sub in ("v1", "v2"):
        (tmp_path / sub).mkdir()
    v1 = open_stac(_items(tmp_path / "v1"), "lst", bbox=BBOX)
    items = _items(tmp_path / "v2", fields=fields)
    assert band_coding(items, "lst") == BandCoding(nodata=0.0, scale=0.02, offset=0.0,
                                                   unit="K")
    da = open_stac(items, "lst", bbox=BBOX)
    assert da.attrs["units"] == "K"
    np.testing.assert_allclose(da.values, v1.values, equal_nan=True)
    assert 299 < float(da.mean()) < 305
    assert np.isnan(da.values[..., 0]).all()  # the fill column


def test_raster_v2_scale_kept_with_the_files_nodata(tmp_path):
    """A v2 coding without nodata takes the file's tag (as raster:bands do) and keeps its
    scale; decode=False gives the CF attributes."""
    fields = {k: v for k, v in V2_ASSET.items() if k != "nodata"}
    items = _items(tmp_path, fields=fields)
    da = open_stac(items, "lst", bbox=BBOX)
    assert da.attrs["units"] == "K"
    assert np.isnan(da.values[..., 0]).all()
    assert 299 < float(da.mean()) < 305
    raw = open_stac(items, "lst", bbox=BBOX, decode=False)
    assert raw.attrs["scale_factor"] == 0.02 and raw.attrs["_FillValue"] == 0
    assert "nodata" not in items[0].assets["lst"].extra_fields  # the caller's item unchanged


def test_raster_v2_bad_scale_named(tmp_path):
    items = _items(tmp_path, fields={**V2_ASSET, "raster:scale": "x"})
    with pytest.raises(XlstsrError, match="raster:scale of asset 'lst'"):
        open_stac(items, "lst", bbox=BBOX)
