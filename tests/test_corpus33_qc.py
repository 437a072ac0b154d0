"""Thirty-third round, QC bits: a QC GeoTIFF declaring NoData=0 (best quality masked to NaN),
MOD21 QC layouts (MOD21A2's reversed accuracy classes in bits 6-7, MOD21A1D's 16-bit QC mapped
to its LST_1KM), signed-byte QC flagged _Unsigned, and the transform of the QC outputs."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import xarray as xr
from rasterio.transform import from_origin

from xlstsr.errors import XlstsrError
from xlstsr.io import open_cog, open_modis
from xlstsr.qc import lst_error_k, modland, modland_mask

N = 8
PIX = 926.625433055833


def _struct(grid: str) -> str:
    ulx, uly = -4447802.078667, 0.0
    return (f'GROUP=GridStructure\n\tGROUP=GRID_1\n\t\tGridName="{grid}"\n\t\tXDim={N}\n'
            f"\t\tYDim={N}\n\t\tUpperLeftPointMtrs=({ulx:.6f},{uly:.6f})\n"
            f"\t\tLowerRightMtrs=({ulx + N * PIX:.6f},{uly - N * PIX:.6f})\n"
            "\t\tProjection=GCTP_SNSOID\n\tEND_GROUP=GRID_1\nEND_GROUP=GridStructure\nEND\n")


def _granule(path, grid: str, layers: dict[str, tuple[np.ndarray, dict]]) -> str:
    SD = pytest.importorskip("pyhdf.SD")
    out = SD.SD(str(path), SD.SDC.WRITE | SD.SDC.CREATE)
    out.attr("StructMetadata.0").set(SD.SDC.CHAR8, _struct(grid))
    types = {np.dtype(np.uint8): SD.SDC.UINT8, np.dtype(np.uint16): SD.SDC.UINT16}
    for name, (values, attrs) in layers.items():
        s = out.create(name, types[values.dtype], values.shape)
        s[:] = values
        for k, v in attrs.items():
            if isinstance(v, str):
                s.attr(k).set(SD.SDC.CHAR8, v)
            else:
                s.attr(k).set(SD.SDC.FLOAT64 if isinstance(v, float) else types[values.dtype], v)
        s.endaccess()
    out.end()
    return str(path)


def _lst() -> tuple[np.ndarray, dict]:
    return (np.full((N, N), 15000, np.uint16),
            {"scale_factor": 0.02, "_FillValue": 0, "units": "K"})


def test_qc_geotiff_with_nodata_0_keeps_the_good_pixels(tmp_path):
    rng = np.random.default_rng(0)
    qc = rng.choice(np.array([0, 0, 0, 1, 2, 3, 65, 129], np.uint8), size=(12, 10))
    tif = tmp_path / "MOD11A1.A2019305.h14v09.061_QC_Day.tif"
    with rasterio.open(tif, "w", driver="GTiff", width=10, height=12, count=1, dtype="uint8",
                       crs="EPSG:32633", nodata=0, transform=from_origin(0, 0, 1000, 1000)) as ds:
        ds.write(qc, 1)
    q = open_cog(tif)  # masked: QC == 0 read as NaN
    assert np.isnan(q.values).any()
    # the NaN may be the fill 0 (the best quality) or pixels padded since: refused, not
    # silently dropped as "not produced" (nor kept as good: review33a/02)
    with pytest.raises(XlstsrError, match=r"masked=False.*fillna\(0\)"):
        modland_mask(q).compute()
    # the advice followed: read unmasked, or the NaN filled with the stored fill
    for good in (open_cog(tif, masked=False), q.fillna(0)):
        np.testing.assert_array_equal(modland(good).values, qc & 3)
        np.testing.assert_array_equal(modland_mask(good).values, (qc & 3) == 0)
        assert np.all(lst_error_k(good).values[qc == 0] == 1.0)
    # a NaN without a recorded fill still reads "not produced"
    bare = xr.DataArray(np.array([[np.nan, 0.0]]), dims=("y", "x"))
    assert modland(bare).values.tolist() == [[3, 0]]


def test_mod21a2_qc_day_decoded_with_its_accuracy_classes(tmp_path):
    # MOD21A2 QC_Day: 240 = MODLAND 00, LST accuracy 11 (< 1 K); 1 = MODLAND 01, accuracy 00
    # (> 2 K); 0x81 = MODLAND 01, accuracy 10 (1-1.5 K)
    qc = np.tile(np.array([240, 1, 0x81, 0x41], np.uint8), (N, N // 4))
    path = _granule(tmp_path / "MYD21A2.A2018089.h14v09.061.2021322144902.hdf",
                    "MODIS_Grid_8Day_1km_LST21",
                    {"LST_Day_1KM": _lst(), "QC_Day": (qc, {"scale_factor": "n/a"})})
    q = open_modis(path, "QC_Day")
    assert q.dtype == np.uint8
    err = lst_error_k(q).values
    assert err[0, :4].tolist() == [1.0, np.inf, 1.5, 2.0]
    keep = modland_mask(q, accept_other_quality=True, max_error_k=2).values
    assert keep[0, :4].tolist() == [True, False, True, True]
    # by QA_Legend alone (a renamed file) and by product=
    legend = xr.DataArray(qc, dims=("y", "x"), attrs={
        "QA_Legend": "[6 - 7]: LST accuracy 00: >2K (Poor performance) 11: < 1K (Excellent)"})
    np.testing.assert_array_equal(lst_error_k(legend).values, err)
    np.testing.assert_array_equal(lst_error_k(qc, product="MYD21A2"), err)
    # MOD11 meanings stay for MOD11
    assert lst_error_k(np.array([240, 0], np.uint8)).tolist() == [np.inf, 1.0]


def test_mod21a1d_lst_masked_by_its_16bit_qc(tmp_path):
    good = np.arange(N)[None, :] < N // 2
    qc = np.where(good, 0xC000, 0x0001).repeat(N, 0).astype(np.uint16)
    path = _granule(tmp_path / "MOD21A1D.A2019305.h14v09.061.2020345123456.hdf",
                    "MODIS_Grid_Daily_1km_LST21", {"LST_1KM": _lst(), "QC": (qc, {})})
    lst = open_modis(path, max_modland=0)
    assert lst.attrs["qc"].startswith("QC ")
    np.testing.assert_array_equal(np.isfinite(lst.values), good.repeat(N, 0))
    forced = open_modis(path, "LST_1KM", qc="QC", max_modland=0)
    np.testing.assert_array_equal(np.isfinite(forced.values), good.repeat(N, 0))
    q = open_modis(path, "QC")
    assert lst_error_k(q).values[0, 0] == 1.0 and lst_error_k(q).values[0, -1] == np.inf
    # a bare 16-bit array is refused, naming product= (not QC_Day)
    with pytest.raises(XlstsrError, match="product='MOD21A1'"):
        modland(qc)
    assert modland(qc, product="MOD21A1D").tolist() == (qc & 3).tolist()


def test_signed_byte_qc_unsigned_honoured_or_advice_names_astype():
    q = np.array([[0, 145, 65, 2]], np.uint8)
    signed = xr.DataArray(q.view(np.int8), dims=("y", "x"), attrs={"_Unsigned": "true"})
    np.testing.assert_array_equal(modland_mask(signed).values, (q & 3) == 0)
    np.testing.assert_array_equal(lst_error_k(signed).values, lst_error_k(q))
    with pytest.raises(XlstsrError, match=r"qc\.astype\('uint8'\)") as err:
        modland(q.view(np.int8))
    assert "QC_Day" not in str(err.value).split("Reinterpret")[1]
    np.testing.assert_array_equal(modland(q.view(np.int8).astype("uint8")), q & 3)


def test_qc_outputs_keep_the_transform_of_a_one_row_strip():
    t = from_origin(-4169814.4, -648637.8, PIX, PIX)
    q = xr.DataArray(np.array([[0, 1, 2, 65]], np.uint8), dims=("y", "x"),
                     coords={"y": [t.f + t.e * 0.5], "x": t.c + t.a * (np.arange(4) + 0.5)})
    q = q.rio.write_crs("EPSG:32633").rio.write_transform(t)
    for out in (modland(q), modland_mask(q), lst_error_k(q)):
        assert tuple(out.rio.transform())[:6] == pytest.approx(tuple(t)[:6])
        assert out.rio.crs == q.rio.crs
