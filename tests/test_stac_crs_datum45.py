"""open_stac (review 45a): a CRS on another datum was taken for the items' own (pyproj moves
nothing between WGS 84 and ETRS89 or NAD83, so the mapping test passed): items in EPSG:32631
asked for crs="EPSG:25831" gave a cube labelled EPSG:32631, and items in both were counted as
one CRS (no "items are in 2 CRSs" warning). Counting the CRSs of a worldwide UTM catalogue
also built a transformation per pair of zones (seconds): CRSs with different EPSG codes,
ellipsoids or methods are now told apart by definition."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pystac
import pytest
import rasterio
from affine import Affine
from pyproj import CRS

from tests.test_stac_crs_spelling45 import GDAL_SINU, ITEMS_WKT, SR_ORG_6842
from xlstsr.grid import MODIS_SINUSOIDAL
from xlstsr.io import open_stac
from xlstsr.io.stac import _crs_counts, _crs_facts, _differ_by_definition

T = Affine(1000.0, 0.0, 500000.0, 0.0, -1000.0, 5000000.0)
N = 20


def _item(tmp_path, name: str, code: str, day: int = 1) -> pystac.Item:
    """A uint16 item (DN x 0.02 = K, nodata 0) of N x N 1 km pixels near 3E 45N, its file and
    proj:code in ``code`` (a UTM zone 31N)."""
    path = tmp_path / f"{name}.tif"
    data = 14000 + np.random.default_rng(day).integers(0, 1000, (N, N)).astype(np.uint16)
    with rasterio.open(path, "w", driver="GTiff", width=N, height=N, count=1, dtype="uint16",
                       crs=code, transform=T, nodata=0) as dst:
        dst.write(data, 1)
    it = pystac.Item(name, {"type": "Point", "coordinates": [3.0, 45.1]}, [2.9, 45.0, 3.3, 45.2],
                     dt.datetime(2020, 1, day, tzinfo=dt.timezone.utc),
                     {"proj:code": code, "proj:transform": list(T)[:6], "proj:shape": [N, N]})
    band = {"nodata": 0, "scale": 0.02, "offset": 0.0, "unit": "K", "data_type": "uint16"}
    it.add_asset("lst", pystac.Asset(str(path), media_type="image/tiff", roles=["data"],
                                     extra_fields={"raster:bands": [band]}))
    it.stac_extensions = ["https://stac-extensions.github.io/projection/v2.0.0/schema.json"]
    return it


@pytest.mark.parametrize("asked", ["EPSG:25831", "+proj=utm +zone=31 +ellps=GRS80 +units=m"])
def test_crs_on_another_datum_is_kept(tmp_path, asked):
    """ETRS89 (GRS 80) asked of WGS 84 items: the cube carries the CRS asked for."""
    it = _item(tmp_path, "a", "EPSG:32631")
    native = open_stac([it], "lst")
    da = open_stac([it], "lst", crs=asked, resolution=1000)
    got = CRS.from_user_input(da.rio.crs.to_wkt())
    assert got.to_epsg() != 32631
    assert got.ellipsoid.inverse_flattening == pytest.approx(298.257222101, abs=1e-9)
    # no datum shift: the same ground, the same values
    np.testing.assert_allclose(da.sel(y=native.y, x=native.x).values, native.values)


def test_items_on_two_datums_are_two_crss(tmp_path):
    items = [_item(tmp_path, "a", "EPSG:32631", 1), _item(tmp_path, "b", "EPSG:32631", 2),
             _item(tmp_path, "c", "EPSG:25831", 3)]
    assert _crs_counts(items) == [("EPSG:32631", 2), ("EPSG:25831", 1)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        open_stac(items, "lst")
    assert [w for w in caught if "the items are in 2 CRSs" in str(w.message)]


@pytest.mark.parametrize("a, b", [
    ("EPSG:32631", "EPSG:32632"),  # EPSG codes
    ("EPSG:32631", "EPSG:25831"),  # ellipsoid: GRS 80 vs WGS 84
    ("EPSG:32631", "+proj=utm +zone=31 +ellps=GRS80"),
    ("EPSG:32611", "EPSG:26911"),  # NAD83 UTM
    ("EPSG:25831", "+proj=utm +zone=31 +datum=NAD83"),  # datum (one ellipsoid)
    ("EPSG:4326", "EPSG:32631"),  # geographic vs projected
    ("EPSG:32631", "+proj=tmerc +lon_0=3 +k=0.9996 +x_0=500000 +datum=WGS84 +pm=paris"),
    (ITEMS_WKT, "+proj=eqc +R=6371007.181"),  # projection method
    (ITEMS_WKT, "+proj=sinu +R=6378137"),  # sphere radius
])
def test_told_apart_by_definition(a, b):
    assert _differ_by_definition(CRS.from_user_input(a), CRS.from_user_input(b))
    assert _differ_by_definition(CRS.from_user_input(b), CRS.from_user_input(a))


@pytest.mark.parametrize("a, b", [
    (ITEMS_WKT, GDAL_SINU),  # the spellings 4ebd339 took as the items' (left to the mapping)
    (ITEMS_WKT, SR_ORG_6842),
    (ITEMS_WKT, MODIS_SINUSOIDAL),
    ("EPSG:32631", "+proj=utm +zone=31 +datum=WGS84"),
    ("EPSG:32631", CRS.from_epsg(32631).to_wkt("WKT1_ESRI")),
    ("EPSG:32631", CRS.from_epsg(32631).to_wkt("WKT1_GDAL")),
    ("EPSG:4326", "OGC:CRS84"),
    ("EPSG:4326", "+proj=longlat +datum=WGS84"),
])
def test_not_told_apart_by_definition(a, b):
    assert not _differ_by_definition(CRS.from_user_input(a), CRS.from_user_input(b))
    assert not _differ_by_definition(CRS.from_user_input(b), CRS.from_user_input(a))


def test_utm_zones_are_told_apart_without_a_transformation():
    """Every pair of 60 UTM zones (N and S) differs by definition: _crs_counts builds no
    transformation for them (it did one per pair: 4.5 s for 60 zones x 10 items)."""
    zones = [_crs_facts(CRS.from_epsg(c)) for z in range(1, 61) for c in (32600 + z, 32700 + z)]
    assert all(_differ_by_definition(a, b)
               for i, a in enumerate(zones) for b in zones[i + 1:])
