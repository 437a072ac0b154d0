"""Readers (corpus 35q): open_stac's QC fill record, stackstac's rescale, loader keywords that
open_stac sets, items on different grids; open_modis / open_cog stacks of several MODIS
products; xlstsr.qc with a fill of MODLAND 11; a MODIS field scaled twice named as such."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pystac
import pytest
import rasterio
import xarray as xr
from affine import Affine
from helpers import dated_granule_copy
from pyproj import CRS

import xlstsr
from xlstsr.errors import XlstsrError
from xlstsr.grid import MODIS_SINUSOIDAL
from xlstsr.io import open_cog, open_stac
from xlstsr.qc import lst_error_k, modland, modland_mask

PIX = 926.625433055833
WKT = CRS.from_user_input(MODIS_SINUSOIDAL).to_wkt()


def _tif(path, data, transform, *, nodata=None, crs=WKT):
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0],
                       count=1, dtype=data.dtype, crs=rasterio.crs.CRS.from_user_input(crs),
                       transform=transform, nodata=nodata) as dst:
        dst.write(data, 1)
    return path


def _item(path, key, transform, shape, *, day=1, bands=None, crs_fields=None, item_id=None):
    it = pystac.Item(item_id or f"MOD11A1.A20200{day:02d}.h18v04.061", None, None,
                     dt.datetime(2020, 1, day, 10, 30, tzinfo=dt.timezone.utc),
                     properties={**(crs_fields or {"proj:wkt2": WKT}),
                                 "proj:shape": list(shape), "proj:transform": list(transform)[:6]})
    it.stac_extensions = ["https://stac-extensions.github.io/projection/v2.0.0/schema.json",
                          "https://stac-extensions.github.io/raster/v1.1.0/schema.json"]
    extra = {"raster:bands": [bands]} if bands is not None else {}
    it.add_asset(key, pystac.Asset(str(path), media_type="image/tiff; application=geotiff",
                                   roles=["data"], extra_fields=extra))
    return it


@pytest.fixture
def qc_file(tmp_path):
    """A MODIS QC layer (uint8 flags, a quarter of them 0: the best quality) in a GeoTIFF whose
    nodata tag is 0."""
    rng = np.random.default_rng(35)
    q = rng.choice(np.array([0, 1, 2, 3, 65, 129, 193], np.uint8), size=(40, 40))
    t = Affine(PIX, 0.0, 0.0, 0.0, -PIX, 5559752.598833)
    return _tif(tmp_path / "MOD11A1.A2020001.h18v04.061_QC_Day.tif", q, t, nodata=0), q, t


@pytest.mark.parametrize("bands", [{"data_type": "uint8", "nodata": 0}, {"data_type": "uint8"}],
                         ids=["raster-bands-nodata", "file-nodata-only"])
def test_open_stac_qc_keeps_the_fill_record_so_qc_does_not_drop_the_best_pixels(qc_file, bands):
    """A QC asset with nodata 0 (the best quality) was masked and its fill dropped: modland_mask
    read every QC == 0 as 'not produced' and kept none. Now refused as open_cog's masked read
    of the same file is; decode=False (the advice) keeps the numpy count."""
    path, q, t = qc_file
    items = [_item(path, "QC_Day", t, q.shape, bands=bands)]
    qc = open_stac(items, "QC_Day")
    assert qc.encoding.get("_FillValue") == 0
    with pytest.raises(XlstsrError, match=r"records the fill value 0.*decode=False"):
        modland_mask(qc).compute()
    with pytest.raises(XlstsrError, match="records the fill value 0"):  # as open_cog's
        modland_mask(open_cog(path)).compute()
    raw = open_stac(items, "QC_Day", decode=False)
    assert int(modland_mask(raw).values.sum()) == int(((q & 3) == 0).sum())


def test_open_stac_refuses_rescale_that_would_scale_twice(tmp_path):
    """engine='stackstac', rescale=True: stackstac applied raster:bands' 0.02, then open_stac
    again (5.5 'K')."""
    dn = np.full((8, 8), 14000, np.uint16)
    t = Affine(1000.0, 0, 500000.0, 0, -1000.0, 5000000.0)
    path = _tif(tmp_path / "lst.tif", dn, t, nodata=0, crs="EPSG:32632")
    item = _item(path, "lst", t, dn.shape, bands={"nodata": 0, "scale": 0.02, "unit": "K"},
                 crs_fields={"proj:code": "EPSG:32632"})
    for engine in ("stackstac", "odc"):
        with pytest.raises(XlstsrError, match=r"rescale=True.*second time.*Drop rescale="):
            open_stac([item], "lst", engine=engine, rescale=True)
    kelvin = open_stac([item], "lst", engine="stackstac", rescale=False)
    np.testing.assert_allclose(float(kelvin.mean()), 14000 * 0.02, rtol=1e-6)


def _field(values, units="K"):
    n = values.shape[0]
    return xr.DataArray(values.astype(np.float32), dims=("y", "x"),
                        coords={"y": 5e6 - 1000.0 * np.arange(n), "x": 1000.0 * np.arange(n)},
                        attrs={"units": units}).rio.write_crs("EPSG:32632")


def test_a_modis_field_scaled_twice_is_told_so_not_celsius():
    """DN x 0.02 x 0.02 (5.5 'K') was told 'degrees Celsius', which gave a 5 K-wrong field."""
    rng = np.random.default_rng(2)
    dn = rng.integers(13000, 14500, (32, 32)).astype(np.float64)
    with pytest.raises(XlstsrError, match=r"scaled twice \(median 2\d\d\.\d K with one scale\)"
                       r".*da / 0\.02"):
        xlstsr.upscale(_field(dn * 0.02 * 0.02), factor=2).compute()
    # Celsius labelled K, continuous or on a 0.01 / 0.02 grid, keeps the Celsius advice
    for celsius in (rng.normal(5.0, 3.0, (32, 32)), dn * 0.02 - 273.15,
                    np.round(rng.normal(5.0, 3.0, (32, 32)), 2)):
        with pytest.raises(XlstsrError, match="look like degrees Celsius") as err:
            xlstsr.upscale(_field(celsius), factor=2).compute()
        assert "scaled twice" not in str(err.value)


def test_open_stac_refuses_loader_keywords_it_sets_itself(tmp_path):
    """odc's bands=, stackstac's bounds= / chunksize= / fill_value= / xy_coords= / epsg=
    crashed with Python's 'dict() got multiple values for keyword argument'."""
    a = np.full((8, 8), 300.0, np.float32)
    t = Affine(1000.0, 0, 500000.0, 0, -1000.0, 5000000.0)
    path = _tif(tmp_path / "lst.tif", a, t, crs="EPSG:32632")
    items = [_item(path, "lst", t, a.shape, crs_fields={"proj:code": "EPSG:32632"})]
    box = (500000.0, 4994000.0, 504000.0, 5000000.0)
    with pytest.raises(XlstsrError, match=r"bands=.*assets=.*`assets=\['lst'\]`"):
        open_stac(items, bands=["lst"])
    with pytest.raises(XlstsrError, match=r"x= and y= with bbox=.*give the area once"):
        open_stac(items, "lst", bbox=box, x=(0, 1), y=(0, 1))
    cases = [(dict(bounds=box), r"bounds=.*`bbox=\(500000\.0, "),
             (dict(chunksize=256), r"chunksize=.*`chunks=\{'time': 1, 'y': 256, 'x': 256\}`"),
             (dict(epsg=32632), r"epsg=.*`crs='EPSG:32632'`"),
             (dict(fill_value=0), r"fill_value=.*NaN itself"),
             (dict(xy_coords="topleft"), r"xy_coords=.*centres")]
    for kw, msg in cases:
        with pytest.raises(XlstsrError, match=msg):
            open_stac(items, "lst", engine="stackstac", **kw)


def test_open_stac_refuses_items_on_sub_pixel_shifted_grids(tmp_path):
    """Items whose grids lie half a pixel apart were nearest-resampled onto the first one's
    (values 463 m off) without a word; tiles of one grid (whole pixels apart) still load, and
    resampling= accepts the resampling."""
    a = np.arange(64, dtype=np.float32).reshape(8, 8) + 280
    t0 = Affine(PIX, 0.0, 0.0, 0.0, -PIX, 5559752.598833)
    t1 = Affine(PIX, 0.0, PIX / 2, 0.0, -PIX, 5559752.598833 - PIX / 2)
    t2 = Affine(PIX, 0.0, 8 * PIX, 0.0, -PIX, 5559752.598833)  # the next window of one grid
    t3 = Affine(PIX / 2, 0.0, 0.0, 0.0, -PIX / 2, 5559752.598833)  # another pixel size
    items = [_item(_tif(tmp_path / f"g{i}.tif", a, t), "lst", t, a.shape, day=i + 1)
             for i, t in enumerate((t0, t1, t2, t3))]
    with pytest.raises(XlstsrError, match=r"'MOD11A1.A2020001.*different pixel grids \(corners "
                       r"0\.5 pixel apart\).*resampling='nearest'"):
        open_stac(items[:2], "lst")
    with pytest.raises(XlstsrError, match="different pixel grids \\(different pixel sizes\\)"):
        open_stac([items[0], items[3]], "lst")
    tiles = open_stac([items[0], items[2]], "lst")
    assert tiles.sizes["x"] == 16
    np.testing.assert_array_equal(tiles.isel(time=1, x=slice(8, 16)).values, a)
    assert open_stac(items[:2], "lst", resampling="nearest").sizes["time"] == 2


def _dated_copies(src, tmp_path, names):
    # copies dated as their names say (a renamed granule is refused)
    return [dated_granule_copy(src, tmp_path / name) for name in names]


def test_open_modis_refuses_granules_of_several_products(shared_data, tmp_path):
    """MOD11A1, MYD11A1 and MOD11A2 granules of one tile on different dates were stacked as
    one date-ordered series."""
    pytest.importorskip("pyhdf", reason="pyhdf is not installed: no HDF4 reader")
    from xlstsr.io import open_modis

    src = next((shared_data / "mod11a1_hdf").glob("MOD11A1*.hdf"))
    _dated_copies(src, tmp_path, ["MOD11A1.A2019305.h14v09.006.2019306084028.hdf",
                               "MYD11A1.A2019306.h14v09.006.2019307084028.hdf",
                               "MOD11A2.A2019313.h14v09.006.2019322084028.hdf"])
    with pytest.raises(XlstsrError, match=r"3 products \(MOD11A1: 1.*MOD11A2: 1.*MYD11A1: 1"
                       r".*Open each product separately"):
        open_modis(str(tmp_path / "*.hdf"), "LST_Day_1km")
    assert open_modis(str(tmp_path / "MOD11A1.*.hdf"), "LST_Day_1km").sizes["time"] == 1


def test_open_cog_refuses_modis_named_files_of_several_products(tmp_path):
    a = np.full((4, 4), 300.0, np.float32)
    t = Affine(PIX, 0.0, 0.0, 0.0, -PIX, 5559752.598833)
    paths = [_tif(tmp_path / n, a, t) for n in ("MOD11A1.A2020001.h18v04.061_LST_Day_1km.tif",
                                                "MYD11A1.A2020002.h18v04.061_LST_Day_1km.tif")]
    with pytest.raises(XlstsrError, match=r"files are of 2 products.*MYD11A1.*open_cog"):
        open_cog(paths)
    assert open_cog(paths, times=["2020-01-01", "2020-01-02"]).sizes["time"] == 2  # told


def test_qc_fill_255_with_nan_padding_is_read_as_not_produced(tmp_path):
    """A fill of 255 (MODLAND 11) reads 'not produced' as the fill or as no QC alike: a padded
    masked read was refused needlessly. A fill of 0 is still refused."""
    q = np.array([[0, 1, 255, 65], [129, 255, 2, 0]], np.uint8)
    t = Affine(PIX, 0.0, 0.0, 0.0, -PIX, 5559752.598833)
    qc = open_cog(_tif(tmp_path / "qc255.tif", q, t, nodata=255))
    b = qc.rio.bounds()
    padded = qc.rio.pad_box(b[0] - 2 * PIX, b[1], b[2], b[3])
    assert int(np.isnan(padded.values).sum()) == 2 + 2 * 2
    for fn in (modland, modland_mask, lst_error_k):
        np.testing.assert_array_equal(fn(padded).values, fn(padded.fillna(255)).values)
        np.testing.assert_array_equal(fn(padded).values, fn(padded.fillna(3)).values)
    zero = open_cog(_tif(tmp_path / "qc0.tif", q, t, nodata=0))
    with pytest.raises(XlstsrError, match="records the fill value 0"):
        modland_mask(zero).compute()
