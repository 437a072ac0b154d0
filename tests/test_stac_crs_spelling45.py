"""open_stac (probe 45w): crs= in GDAL's spelling of MODIS sinusoidal (or the SR-ORG:6842 ESRI
WKT) was "another CRS" than the items' WKT, though the same mapping: the cube lost the files'
exact grid and items half a pixel apart loaded resampled without a word; items in two spellings
of one CRS were told to be in two. Items with proj:* fields but no projection extension in
stac_extensions were refused as lacking exactly those fields."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pystac
import pytest
import rasterio
import xarray as xr
from affine import Affine
from pyproj import Transformer

from xlstsr.errors import XlstsrError
from xlstsr.grid import MODIS_SINUSOIDAL
from xlstsr.io import open_cog, open_stac

#: MOD11A1's pixel and tile h18v04's corner, as Planetary Computer's items give them
R = 926.6254331391667
TOP = 5559752.598833
N = 48
GDAL_SINU = "+proj=sinu +R=6371007.181 +nadgrids=@null +wktext"
SR_ORG_6842 = (
    'PROJCS["Sinusoidal",GEOGCS["GCS_Undefined",DATUM["Undefined",SPHEROID["User_Defined_'
    'Spheroid",6371007.181,0.0]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],'
    'PROJECTION["Sinusoidal"],PARAMETER["False_Easting",0.0],PARAMETER["False_Northing",0.0],'
    'PARAMETER["Central_Meridian",0.0],UNIT["Meter",1.0]]')
#: Planetary Computer's MOD11A1 proj:wkt2 (not == to the two above for pyproj)
ITEMS_WKT = (
    'PROJCRS["unnamed",BASEGEOGCRS["Unknown datum based upon the custom spheroid",DATUM["Not '
    'specified (based on custom spheroid)",ELLIPSOID["Custom spheroid",6371007.181,0,LENGTHUNIT'
    '["metre",1,ID["EPSG",9001]]]],PRIMEM["Greenwich",0,ANGLEUNIT["degree",0.0174532925199433,'
    'ID["EPSG",9122]]]],CONVERSION["unnamed",METHOD["Sinusoidal"],PARAMETER["Longitude of '
    'natural origin",0,ANGLEUNIT["degree",0.0174532925199433],ID["EPSG",8802]],PARAMETER["False '
    'easting",0,LENGTHUNIT["metre",1],ID["EPSG",8806]],PARAMETER["False northing",0,LENGTHUNIT'
    '["metre",1],ID["EPSG",8807]]],CS[Cartesian,2],AXIS["easting",east,ORDER[1],LENGTHUNIT'
    '["metre",1,ID["EPSG",9001]]],AXIS["northing",north,ORDER[2],LENGTHUNIT["metre",1,ID'
    '["EPSG",9001]]]]')
#: a bbox inside the files, off their pixel edges
BBOX = (960 * R + 3000.0, TOP - 40000.0, 960 * R + 30000.0, TOP - 5000.0)


def _item(tmp_path, name: str, day: int, shift: float = 0.0, wkt: str = ITEMS_WKT
          ) -> pystac.Item:
    """A uint16 sinusoidal item (DN x 0.02 = K, nodata 0) of N x N pixels at column 960 of
    tile h18v04, its corner moved ``shift`` pixel east, its CRS written as ``wkt``."""
    transform = Affine(R, 0.0, (960 + shift) * R, 0.0, -R, TOP)
    path = tmp_path / f"{name}.tif"
    data = 14000 + np.random.default_rng(day).integers(0, 1000, (N, N)).astype(np.uint16)
    with rasterio.open(path, "w", driver="GTiff", width=N, height=N, count=1, dtype="uint16",
                       crs=MODIS_SINUSOIDAL, transform=transform, nodata=0) as dst:
        dst.write(data, 1)
    w, s, e, n = Transformer.from_crs(MODIS_SINUSOIDAL, 4326, always_xy=True).transform_bounds(
        transform.c, TOP - N * R, transform.c + N * R, TOP, densify_pts=21)
    geom = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
    it = pystac.Item(name, geom, [w, s, e, n],
                     dt.datetime(2020, 1, day, 10, 30, tzinfo=dt.timezone.utc),
                     {"proj:wkt2": wkt, "proj:transform": list(transform)[:6],
                      "proj:shape": [N, N]})
    band = {"nodata": 0, "scale": 0.02, "offset": 0.0, "unit": "K", "data_type": "uint16"}
    it.add_asset("lst", pystac.Asset(str(path), media_type="image/tiff", roles=["data"],
                                     extra_fields={"raster:bands": [band]}))
    it.stac_extensions = ["https://stac-extensions.github.io/projection/v2.0.0/schema.json",
                          "https://stac-extensions.github.io/raster/v1.1.0/schema.json"]
    return it


@pytest.mark.parametrize("spelling", [GDAL_SINU, SR_ORG_6842])
def test_other_spelling_of_the_items_crs_keeps_their_grid(tmp_path, spelling):
    """crs= in GDAL's spelling: labels 2e-6 m off the files' pixel centres, and an inner
    alignment with open_cog of the same file kept no row."""
    it = _item(tmp_path, "a", 1)
    native = open_stac([it], "lst", bbox=BBOX)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rasterio's about the ESRI WKT, if any
        da = open_stac([it], "lst", bbox=BBOX, crs=spelling)
    assert np.array_equal(da.y.values, native.y.values)
    assert np.array_equal(da.x.values, native.x.values)
    assert da.rio.transform() == native.rio.transform()
    cog = open_cog(it.assets["lst"].href)
    aligned, _ = xr.align(da.isel(time=0), cog, join="inner")
    assert aligned.shape == da.isel(time=0).shape
    # the file holds DN (no scale tag): x 0.02 = K, as the items' raster:bands say
    np.testing.assert_allclose(aligned.values, cog.sel(y=da.y, x=da.x).values * 0.02, rtol=1e-6)


def test_other_spelling_still_refuses_items_half_a_pixel_apart(tmp_path):
    """Refused with crs=None, but loaded (resampled without a word) with GDAL's spelling."""
    items = [_item(tmp_path, "a", 1), _item(tmp_path, "b", 2, shift=0.5)]
    with pytest.raises(XlstsrError, match="different pixel grids"):
        open_stac(items, "lst", bbox=BBOX)
    with pytest.raises(XlstsrError, match="different pixel grids"):
        open_stac(items, "lst", bbox=BBOX, crs=GDAL_SINU)


def test_items_in_two_spellings_of_one_crs(tmp_path):
    """Items whose proj:wkt2 spell one CRS two ways are on one grid: the half-pixel check
    judges them together, and no "items are in 2 CRSs" warning is given."""
    shifted = [_item(tmp_path, "a", 1), _item(tmp_path, "b", 2, shift=0.5, wkt=SR_ORG_6842)]
    with pytest.raises(XlstsrError, match="different pixel grids"):
        open_stac(shifted, "lst", bbox=BBOX)
    items = [_item(tmp_path, "a", 1), _item(tmp_path, "c", 2, wkt=SR_ORG_6842)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        da = open_stac(items, "lst", bbox=BBOX)
    assert not [w for w in caught if "CRSs" in str(w.message)]
    native = open_stac(items[:1], "lst", bbox=BBOX)
    assert np.array_equal(da.y.values, native.y.values)
    assert np.array_equal(da.x.values, native.x.values)


def test_undeclared_projection_extension_loads_on_a_copy(tmp_path):
    """proj:* fields without the extension's URI in stac_extensions: odc-stac's "Failed to
    auto-guess CRS/resolution" was told to add exactly the fields the item has."""
    declared = _item(tmp_path, "a", 1)
    bare = declared.clone()
    bare.stac_extensions = []
    da = open_stac([bare], "lst", bbox=BBOX)
    assert bare.stac_extensions == []  # the user's item is not changed
    ref = open_stac([declared], "lst", bbox=BBOX)
    xr.testing.assert_identical(da, ref)
