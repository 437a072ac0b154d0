"""Twenty-third round of bad inputs, readers: STAC nodata, offsets and grids, dated COG stacks."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pystac
import pytest
import rasterio
from rasterio.transform import from_origin

from xlstsr import errors
from xlstsr.io import open_cog, open_stac

#: a Landsat-like 30 m UTM grid whose edges lie at odd multiples of 15 m, as USGS grids do
_T = from_origin(452475.0, 3408645.0, 30.0, 30.0)
_SHAPE = (20, 24)
_FILL_ROWS = 3


def _tif(path, nodata, *, transform=_T, value=15000) -> str:
    """A uint16 GeoTIFF of ``value`` whose first rows hold the fill (``nodata``, else 0)."""
    a = np.full(_SHAPE, value, np.uint16)
    a[:_FILL_ROWS] = 0 if nodata is None else nodata
    with rasterio.open(path, "w", driver="GTiff", width=_SHAPE[1], height=_SHAPE[0], count=1,
                       dtype="uint16", crs="EPSG:32616", transform=transform,
                       nodata=nodata) as dst:
        dst.write(a, 1)
    return str(path)


def _item(href, bands=None, when="2020-01-01T10:30:00Z", transform=_T) -> pystac.Item:
    it = pystac.Item.from_dict({
        "type": "Feature", "stac_version": "1.1.0", "id": "lst", "geometry": None, "links": [],
        "properties": {"datetime": when, "proj:code": "EPSG:32616",
                       "proj:transform": list(transform)[:6], "proj:shape": list(_SHAPE)},
        "stac_extensions": ["https://stac-extensions.github.io/projection/v2.0.0/schema.json",
                            "https://stac-extensions.github.io/raster/v1.1.0/schema.json"],
        "assets": {}})
    extra = {} if bands is None else {"raster:bands": bands}
    it.add_asset("lst", pystac.Asset(href, media_type="image/tiff", roles=["data"],
                                     extra_fields=extra))
    return it


#: raster:bands with a scale and a unit but no nodata, as catalogues relying on the file's tag
_SCALED = [{"scale": 0.02, "unit": "K", "data_type": "uint16"}]


def test_open_stac_masks_the_nodata_passed_when_raster_bands_has_none(tmp_path):
    """raster:bands without "nodata": the nodata=0 passed on to odc-stac was ignored and the
    fill DN 0 came out as 0.0 K (decode=False dropped it from the attributes too)."""
    item = _item(_tif(tmp_path / "lst.tif", None), _SCALED)  # no nodata tag in the file
    lst = open_stac([item], "lst", nodata=0).values
    assert lst.shape == (1, *_SHAPE) and not (lst == 0).any()
    assert np.isnan(lst[0, :_FILL_ROWS]).all() and np.allclose(lst[0, _FILL_ROWS:], 300.0)
    raw = open_stac([item], "lst", nodata=0, decode=False)
    assert raw.attrs["_FillValue"] == 0 and raw.attrs["scale_factor"] == 0.02


@pytest.mark.parametrize("engine", ["odc", "stackstac"])
def test_open_stac_masks_the_files_own_nodata_tag(tmp_path, engine):
    """Without nodata anywhere but in the file's tag (65535), the fill came out as 1310.7 K and
    pixels beyond the file (odc-stac's fill 0) as 0.0 K."""
    item = _item(_tif(tmp_path / "lst.tif", 65535), _SCALED)
    north = 4  # rows of the bbox beyond the file's top edge
    bbox = (_T.c, _T.f - 600, _T.c + 300, _T.f + north * 30)
    lst = open_stac([item], "lst", bbox=bbox, engine=engine)
    v = lst.values[0]
    assert lst.attrs["units"] == "K" and v.shape == (north + 20, 10)
    assert np.isnan(v[:north + _FILL_ROWS]).all() and np.allclose(v[north + _FILL_ROWS:], 300.0)
    raw = open_stac([item], "lst", bbox=bbox, engine=engine, decode=False)
    assert raw.attrs["_FillValue"] == 65535


@pytest.mark.parametrize("engine", ["odc", "stackstac"])
@pytest.mark.parametrize(("when", "utc"), [
    ("2020-01-01T12:30:00+02:00", "2020-01-01T10:30:00"),
    ("2020-01-02T01:00:00+03:00", "2020-01-01T22:00:00"),  # the offset changes the day
])
def test_open_stac_labels_steps_with_utc_times(tmp_path, engine, when, utc):
    """An item dated with a UTC offset was labelled with its local wall clock (12:30 for
    10:30 UTC) by odc-stac: xlstsr's labels are naive UTC."""
    item = _item(_tif(tmp_path / "lst.tif", 0), [{"nodata": 0, **_SCALED[0]}], when=when)
    lst = open_stac([item], "lst", engine=engine)
    assert lst.time.values[0] == np.datetime64(utc, "ns")
    assert item.datetime.utcoffset() != dt.timedelta(0)  # the caller's item is not changed


def test_open_stac_fuses_no_items_by_their_local_clock(tmp_path):
    """Two tiles of one overpass written with different offsets are one instant: one step."""
    href = _tif(tmp_path / "lst.tif", 0)
    a = _item(href, [{"nodata": 0, **_SCALED[0]}], when="2020-01-01T10:30:00Z")
    b = _item(href, [{"nodata": 0, **_SCALED[0]}], when="2020-01-01T11:30:00+01:00")
    b.id = "lst-b"
    lst = open_stac([a, b], "lst", groupby="id")
    assert (lst.time.values == np.datetime64("2020-01-01T10:30:00", "ns")).all()


def test_open_cog_refuses_terra_and_aqua_files_of_the_same_dates(tmp_path):
    """MOD11A1 and MYD11A1 COGs of the same days were stacked as undated steps 0..3 in the
    order given (two overpasses interleaved, dates lost) without a word."""
    files = {}
    for doy in ("002", "001"):
        for prod in ("MYD11A1", "MOD11A1"):
            name = f"{prod}.A2020{doy}.h18v04.061_LST_Day_1km.tif"
            files[name] = _tif(tmp_path / name, 0, value=14000 + int(doy))
    with pytest.raises(errors.XlstsrError,
                       match=r"share the date\(s\) \['2020-01-01', '2020-01-02'\].*Terra and "
                             r"Aqua.*separately.*times="):
        open_cog(list(files.values()))
    terra = open_cog([p for n, p in files.items() if n.startswith("MOD")])  # one product: dated
    assert terra.time.values.tolist() == np.array(
        ["2020-01-01", "2020-01-02"], "datetime64[ns]").tolist()
    own = open_cog(list(files.values()), times=["2020-01-02T13:30", "2020-01-02T10:30",
                                                "2020-01-01T13:30", "2020-01-01T10:30"])
    assert own.sizes["time"] == 4


def test_stackstac_engine_keeps_the_items_pixel_grid(tmp_path):
    """engine="stackstac" snapped the bounds to multiples of 30 m: the scene came out on a grid
    15 m west and north of its own pixels (origin 452460 for 452475)."""
    item = _item(_tif(tmp_path / "lst.tif", 0), [{"nodata": 0, **_SCALED[0]}])
    full = open_stac([item], "lst", engine="stackstac")
    assert tuple(full.rio.transform())[:6] == tuple(_T)[:6] and full.shape == (1, *_SHAPE)
    for bbox in [(_T.c + 40, _T.f - 500, _T.c + 500, _T.f + 100),
                 (_T.c + 30, _T.f - 300, _T.c + 330, _T.f - 30),  # on the pixel edges
                 (_T.c + 7.5, _T.f - 95.5, _T.c + 102, _T.f - 7)]:
        odc = open_stac([item], "lst", bbox=bbox)
        stk = open_stac([item], "lst", bbox=bbox, engine="stackstac")
        assert tuple(stk.rio.transform())[:6] == tuple(odc.rio.transform())[:6], bbox
        np.testing.assert_array_equal(stk.values, odc.values)
    # a lon/lat box is put on the items' grid too
    stk = open_stac([item], "lst", engine="stackstac",
                    bounds_latlon=(-87.495, 30.805, -87.49, 30.809))
    t = stk.rio.transform()
    assert ((t.c - _T.c) / 30) % 1 == 0 and ((t.f - _T.f) / 30) % 1 == 0
