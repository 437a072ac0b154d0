"""Review 33a of the round's fixes: a resampled degC x 10 product refused as 'scaled twice',
LST names / labels refused as other layers, a NoData=0 QC's NaN added by padding read as good
quality, a MOD21A2 QC from STAC decoded with MOD11's layout, and 'multiply by 0.0001' advised
for an NDVI x 10000 guide whose fill is declared in attrs."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pytest
import rasterio
import xarray as xr
from rasterio.transform import from_origin

import xlstsr
from xlstsr import errors
from xlstsr.validate import _refuse_other_quantity, decode_lst

# --- 01: degC x 10 averaged while still in digital numbers ----------------------------------


@pytest.mark.parametrize("lo,hi", [(18.0, 42.0), (-6.0, 6.0)])
def test_resampled_celsius_x10_digital_numbers_are_decoded(lo, hi):
    rng = np.random.default_rng(0)
    dn = np.round(rng.uniform(lo, hi, (64, 64)) * 10).astype("float32")  # degC x 10, as floats
    da = xr.DataArray(dn, dims=("y", "x"),
                      attrs={"scale_factor": 0.1, "add_offset": 0.0, "units": "degC"})
    co = da.coarsen(x=2, y=2).mean()  # non-whole digital numbers
    co.attrs = dict(da.attrs)
    assert not np.allclose(co.values, np.round(co.values))
    np.testing.assert_allclose(decode_lst(co).values, co.values * 0.1 + 273.15, atol=1e-3)


def test_collapsed_celsius_field_keeping_its_scale_is_still_refused():
    rng = np.random.default_rng(1)
    c = rng.uniform(18.0, 42.0, (32, 32))  # degC, decoded by hand, scale 0.02 kept
    da = xr.DataArray(c.astype("float32"), dims=("y", "x"),
                      attrs={"scale_factor": 0.02, "units": "degC"})
    with pytest.raises(errors.UnitsError, match="applied them a second time"):
        decode_lst(da).compute()


# --- 03: LST names and labels ---------------------------------------------------------------


@pytest.mark.parametrize("name,long_name", [
    ("lst", "Quality-controlled mean of daily land surface temperature"),
    ("lst", "QC-filtered composite of MODIS LST"),
    ("Tskin_qc", None),
    ("T_emis_corrected", None),
    ("lst_viewangle_corrected", None),
])
def test_lst_names_and_labels_with_other_words_are_lsts(name, long_name):
    attrs = {"long_name": long_name} if long_name else {}
    _refuse_other_quantity(xr.DataArray([300.0], dims="x", name=name, attrs=attrs), "LST")


@pytest.mark.parametrize("name,long_name,hit", [
    ("x", "Quality control for daytime LST and emissivity", "quality"),
    ("x", "View zenith angle of daytime Land-surface Temperature", "view angle"),
    ("x", "Time of daytime Land-surface Temperature observation", "view time"),
    ("QC", None, "quality"), ("QC_Day", None, "quality"), ("Emis_29", None, "emissivity"),
    ("Night_view_time", None, "view time"), ("Day_view_angl", None, "view angle"),
    ("Clear_night_cov", None, "coverage"), ("View_Angle_Day", None, "view angle"),
])
def test_mod11_mod21_other_layers_still_refused(name, long_name, hit):
    attrs = {"long_name": long_name} if long_name else {}
    with pytest.raises(errors.UnitsError, match=rf"\({hit}\), not a land surface"):
        _refuse_other_quantity(xr.DataArray([1.0], dims="x", name=name, attrs=attrs), "LST")


# --- 02: a NoData=0 QC padded onto a larger grid ---------------------------------------------


def _qc_tif(tmp_path):
    qc = np.full((12, 10), 2, np.uint8)
    qc[:, :3] = 0  # 36 good pixels, the rest cloud
    tif = tmp_path / "MOD11A1.A2019305.h14v09.061_QC_Day.tif"
    with rasterio.open(tif, "w", driver="GTiff", width=10, height=12, count=1, dtype="uint8",
                       crs="EPSG:32633", nodata=0, transform=from_origin(0, 0, 1000, 1000)) as ds:
        ds.write(qc, 1)
    return tif


def test_masked_qc_padded_is_refused_not_read_as_good(tmp_path):
    from xlstsr.io import open_cog
    from xlstsr.qc import modland_mask

    tif = _qc_tif(tmp_path)
    q = open_cog(tif)
    lst = xr.DataArray(np.full((12, 16), 300.0, np.float32), dims=("y", "x"),
                       coords={"y": q.y.values, "x": q.x.values[0] + 1000 * np.arange(16)}
                       ).rio.write_crs(q.rio.crs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for padded in (q.rio.pad_box(*lst.rio.bounds()), xr.align(q, lst, join="outer")[0]):
            with pytest.raises(errors.XlstsrError, match=r"masked=False.*write_nodata\(3\)"):
                modland_mask(padded).compute()
        # the advice followed: read unmasked, nodata 'not produced', then padded; or the NaN
        # of a masked read filled with the stored fill before any padding
        u = open_cog(tif, masked=False).rio.write_nodata(3)
        for padded in (u.rio.pad_box(*lst.rio.bounds()), u.rio.reproject_match(lst), q.fillna(0)):
            assert int(modland_mask(padded).sum()) == 36


# --- 07: MOD21A2 QC through open_stac ---------------------------------------------------------


def test_mod21a2_qc_from_stac_gets_its_layout(tmp_path):
    pystac = pytest.importorskip("pystac")
    pytest.importorskip("odc.stac")
    from xlstsr.io import open_stac
    from xlstsr.qc import lst_error_k

    qc = np.tile(np.array([0xC0, 0x80, 0x40, 0x00], np.uint8), (8, 2))
    f = tmp_path / "MOD21A2.A2020209.h18v04.061.2021001000000_QC_Day.tif"
    t = from_origin(0, 5559752.598833, 926.625433, 926.625433)
    crs = "+proj=sinu +R=6371007.181 +units=m +no_defs"
    with rasterio.open(f, "w", driver="GTiff", width=8, height=8, count=1, dtype="uint8",
                       crs=crs, transform=t) as ds:
        ds.write(qc, 1)
    item = pystac.Item("MOD21A2.A2020209.h18v04.061.2021001000000",
                       {"type": "Polygon", "coordinates": [[[0, 49.934], [0.1037, 49.934],
                                                            [0.1037, 50.0], [0, 50.0],
                                                            [0, 49.934]]]},
                       [0, 49.934, 0.1037, 50.0], dt.datetime(2020, 7, 27, 10, 30), {},
                       collection="modis-21A2-061")
    item.properties.update({"proj:wkt2": rasterio.crs.CRS.from_string(crs).to_wkt(),
                            "proj:shape": [8, 8], "proj:transform": list(t)[:6]})
    item.add_asset("QC_Day", pystac.Asset(str(f), media_type="image/tiff; application=geotiff",
                                          extra_fields={"raster:bands": [{"data_type": "uint8"}]}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = open_stac([item], "QC_Day", dtype="uint8", decode=False, crs=crs,
                      resolution=926.625433)
    assert q.attrs["product"] == "modis-21A2-061"
    q = q.isel(time=0) if "time" in q.dims else q
    assert lst_error_k(q).values[0, :4].tolist() == [1.0, 1.5, 2.0, np.inf]


# --- 05: NDVI x 10000 guide with its fill declared --------------------------------------------


def test_ndvi_x10000_guide_with_declared_fill_is_told_to_declare_the_scale():
    sc = xlstsr.datasets.sample_scene(n_times=1, size=64, seed=3)
    lst, ndvi = sc["lst_1km"], sc["ndvi_250m"]
    stored = (ndvi * 10000).round().astype("int16")
    stored.values[:6, :] = -3000
    stored.attrs = {"_FillValue": -3000}  # declared
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(errors.GuideScaleError) as info:
            xlstsr.upscale(lst, 4, method="tsharp", guide=stored)
        msg = str(info.value)
        assert "attrs['scale_factor'] = 0.0001" in msg and "multiply by" not in msg
        right = xlstsr.upscale(lst, 4, method="tsharp", guide=ndvi.where(stored != -3000))
        followed = stored.copy()
        followed.attrs["scale_factor"] = 0.0001  # the advice, followed
        sr = xlstsr.upscale(lst, 4, method="tsharp", guide=followed)
        assert float(abs(sr - right).max()) < 0.05
