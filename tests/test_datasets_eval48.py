"""Probe 48D findings 2-4, 48R2 findings 1, 4, 10 and 48R3 finding 5: a pair's MODIS LST /
NDVI stored as digital numbers without a scale tag is refused with advice that works; an
ECOSTRESS box across the antimeridian is refused; a scene asked by a date lists that day's
scenes; evaluate's gap-ring check runs at any erode; the documented ASTER truth mask erodes
around its 230 K gaps; evaluate's attrs name clear's erosion only when it acts."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr

import xlstsr
from xlstsr.datasets import aster_truth_mask, open_modis_aster_pair
from xlstsr.datasets.ecostress import ecostress_crs, ecostress_grid, open_ecostress_scene
from xlstsr.datasets.sample import SAMPLE_DIR
from xlstsr.errors import GuideScaleError, PhysicalRangeError, XlstsrError
from xlstsr.evaluate import decode_reference, reference_mask

RING = "reference pixels kept next to its gaps"


# -- 48D/4: MODIS digital numbers without a scale tag ------------------------------------------


def _pair_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "modis_aster"
    shutil.copytree(SAMPLE_DIR / "modis_aster", folder)
    return folder


def _write_dn(path: Path, scale: float, fill: int, dtype: str) -> None:
    """Rewrite a float band as untagged integers value / scale, fill where NaN."""
    with rasterio.open(path) as src:
        a, prof = src.read(1), src.profile
    prof.update(dtype=dtype, nodata=None)
    with rasterio.open(path, "w", **prof) as dst:
        dst.write(np.where(np.isfinite(a), np.round(a / scale), fill).astype(dtype), 1)


def _follow_rasterio_advice(message: str, path: Path) -> None:
    """Run the message's `with rasterio.open(...)` line as written."""
    code = message.split("in Python `", 1)[1].split("`", 1)[0]
    assert str(path) in code
    exec(code.replace(": f.", ":\n    f.").replace("; f.", "\n    f."), {"rasterio": rasterio})


def test_untagged_modis_lst_dn_refused_and_the_advice_works(tmp_path):
    folder = _pair_copy(tmp_path)
    lst0, _, _ = open_modis_aster_pair("002", root=SAMPLE_DIR)
    path = folder / "002_modis_lst_1km.tif"
    _write_dn(path, 0.02, 0, "uint16")
    with pytest.raises(PhysicalRangeError) as err:
        open_modis_aster_pair("002", root=tmp_path)
    msg = str(err.value)
    assert "not in Kelvin" in msg and "0.02" in msg and "gdal_edit.py -scale 0.02" in msg
    _follow_rasterio_advice(msg, path)
    lst, _, _ = open_modis_aster_pair("002", root=tmp_path)
    assert lst.attrs["units"] == "K"
    np.testing.assert_allclose(lst.values, lst0.values, atol=0.011)


def test_untagged_modis_ndvi_dn_refused_and_the_advice_works(tmp_path):
    folder = _pair_copy(tmp_path)
    _, ndvi0, _ = open_modis_aster_pair("002", root=SAMPLE_DIR)
    path = folder / "002_modis_ndvi_250m.tif"
    _write_dn(path, 0.0001, -3000, "int16")
    with pytest.raises(GuideScaleError) as err:
        open_modis_aster_pair("002", root=tmp_path)
    msg = str(err.value)
    assert "NDVI" in msg and "0.0001" in msg and "-3000" in msg
    _follow_rasterio_advice(msg, path)
    _, ndvi, _ = open_modis_aster_pair("002", root=tmp_path)
    np.testing.assert_allclose(ndvi.values, ndvi0.values, atol=1e-4)


def test_lst_of_no_known_coding_names_its_tags(tmp_path):
    folder = _pair_copy(tmp_path)
    path = folder / "002_modis_lst_1km.tif"
    with rasterio.open(path, "r+") as f:
        f.write((f.read(1) - 273.15).astype("float32"), 1)  # degC, no tag: not DN x 0.02
    with pytest.raises(PhysicalRangeError, match=r"declare its scale / offset"):
        open_modis_aster_pair("002", root=tmp_path)


def test_ndvi_in_percent_is_not_told_mod13_scale(tmp_path):
    folder = _pair_copy(tmp_path)
    path = folder / "002_modis_ndvi_250m.tif"
    with rasterio.open(path, "r+") as f:
        f.write((f.read(1) * 100).astype("float32"), 1)
    with pytest.raises(GuideScaleError, match=r"declare its scale / offset") as err:
        open_modis_aster_pair("002", root=tmp_path)
    assert "0.0001" not in str(err.value)


# -- 48D/2: an ECOSTRESS box across the antimeridian -------------------------------------------


def test_antimeridian_box_refused_and_the_split_boxes_work():
    box = (179.5, -18.0, -179.5, -17.0)  # Fiji: west > east
    for call in (lambda: ecostress_crs(box), lambda: ecostress_grid(8960, box)):
        with pytest.raises(XlstsrError, match="antimeridian") as err:
            call()
    msg = str(err.value)
    assert "(179.5, -18, 180, -17)" in msg and "(-180, -18, -179.5, -17)" in msg
    assert ecostress_crs((179.5, -18, 180, -17)) == "EPSG:32760"
    assert ecostress_crs((-180, -18, -179.5, -17)) == "EPSG:32701"
    x, y = ecostress_grid(8960, (179.5, -18, 180, -17))
    assert (x.max() - x.min()) < 200e3 and (y.max() - y.min()) < 200e3


# -- 48D/3: a scene asked by its date ----------------------------------------------------------


def test_scene_by_date_lists_that_days_scenes(shared_data):
    with pytest.raises(KeyError) as err:
        open_ecostress_scene("2023-06-21", shared_data)
    msg = str(err.value)
    assert "'2023-06-21'" in msg and "2023172000000" not in msg
    assert "2023172202153 (20:21:53 UTC)" in msg
    key = msg.split("are ", 1)[1].split(" ", 1)[0]
    assert open_ecostress_scene(key, shared_data).attrs["key"] == key  # the advice works
    with pytest.raises(KeyError, match="no scene of 2023-06-22"):
        open_ecostress_scene("2023-06-22", shared_data)


# -- 48R2/4, 48R3/5: the gap-ring check at any erode -------------------------------------------


def _grid(values: np.ndarray, res: float = 250.0) -> xr.DataArray:
    ny, nx = values.shape
    da = xr.DataArray(values, dims=("y", "x"),
                      coords={"y": 5_000_000.0 - res * (np.arange(ny) + 0.5),
                              "x": 500_000.0 + res * (np.arange(nx) + 0.5)})
    return da.rio.write_crs("EPSG:32631")


def _scene(n: int = 128, mixed: int = 3, cloud: bool = False):
    """(stored K x 10, 0 outside a diamond scene whose ``mixed`` outer pixels are 20 % fill;
    ``cloud``: a 180 K cloud whose 2 px rim is 260 K; sr in K on the same grid)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:n, 0:n] / n
    t = 310 + 6 * np.sin(6 * x) * np.cos(4 * y) + rng.normal(0, 1.0, (n, n))
    truth = t.copy()
    yy, xx = np.mgrid[0:n, 0:n] - (n - 1) / 2
    r = np.abs(xx) + np.abs(yy)
    inside = r < 0.62 * n
    border = inside & (r >= 0.62 * n - mixed)
    stored = np.where(border, 0.8 * t, t)
    if cloud:
        d = np.hypot(yy - 10, xx + 10)
        stored = np.where(d < 8, 180.0, np.where(d < 10, 260.0, stored))
    stored = np.where(inside, stored, 0.0) * 10
    ref = _grid(np.round(stored).astype("int16"))
    sr = _grid(truth + rng.normal(0, 1.0, t.shape))
    sr.attrs["units"] = "K"
    return ref, sr


def _evaluate(sr, ref, **kw):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        ds = xlstsr.evaluate(sr, ref, **kw)
    return ds, [str(w.message) for w in rec if RING in str(w.message)]


ASTER = {"reference_scale": 0.1, "reference_nodata": 0, "valid_min": 230}


def test_erode_too_small_for_the_mixed_border_warns_and_the_advice_works():
    ref, sr = _scene(mixed=3)
    ds1, ring = _evaluate(sr, ref, erode=1, clear=True, **ASTER)
    assert len(ring) == 1 and "erode=1 leaves them" in ring[0] and "erode=3" in ring[0], ring
    ds3, ring3 = _evaluate(sr, ref, erode=3, clear=True, **ASTER)  # as advised
    assert not ring3 and float(ds3.rmse) < 0.5 * float(ds1.rmse)


def test_undeclared_fill_removed_by_valid_min_warns_and_the_advice_works():
    # 48R3/5: the CLI's --reference-nodata 0 left out: erode acts on no gap, valid_min drops
    # the 0 fill and keeps its mixed border
    ref, sr = _scene(mixed=2)
    ds, ring = _evaluate(sr, ref, reference_scale=0.1, erode=3, valid_min=230)
    assert len(ring) == 1 and "reference_nodata=0" in ring[0] and "clear=True" in ring[0]
    ds2, ring2 = _evaluate(sr, ref, erode=3, clear=True, **ASTER)
    assert not ring2 and float(ds2.rmse) < 0.5 * float(ds.rmse)


def test_cloud_rim_beside_threshold_gaps_warns_without_clear():
    ref, sr = _scene(mixed=2, cloud=True)
    ds, ring = _evaluate(sr, ref, erode=3, **ASTER)
    assert len(ring) == 1 and "clear=True" in ring[0], ring
    ds2, ring2 = _evaluate(sr, ref, erode=3, clear=True, **ASTER)
    assert not ring2 and float(ds2.rmse) < float(ds.rmse)


def test_clean_gaps_at_erode_3_do_not_warn():
    ref, sr = _scene(mixed=0)  # a sharp scene border: nothing mixed
    _, ring = _evaluate(sr, ref, erode=3, **ASTER)
    assert not ring


# -- 48R2/1: the documented ASTER truth mask -----------------------------------------------------


def test_truth_mask_erodes_around_its_230_k_gaps_and_clear_false_keeps_the_old_mask():
    ref, _ = _scene(mixed=2, cloud=True)
    aster = decode_reference(ref, scale=0.1, nodata=0, valid_min=230)
    new = aster_truth_mask(aster)
    assert new.equals(reference_mask(aster, erode=3, valid_min=230, clear=True))
    old = aster_truth_mask(aster, clear=False)
    assert old.equals(reference_mask(aster, erode=3, valid_min=230))
    assert int(old.sum()) > int(new.sum()) and not bool((new & ~old).any())


def test_real_truth_mask_leaves_no_ring(shared_data):
    # pair 075: the old mask scored its fill-mixed ring (RMSE 2.59 for 0.99 K, probe 48R2/1)
    lst, ndvi, aster = open_modis_aster_pair("075", shared_data, truth_mask=True)
    sr = lst.interp(y=ndvi.y, x=ndvi.x, method="linear").rio.write_crs(lst.rio.crs)
    sr.attrs = {"units": "K"}
    ds, ring = _evaluate(sr, aster)
    assert not ring and float(ds.rmse) == pytest.approx(0.99, abs=0.01)
    _, _, raw = open_modis_aster_pair("075", shared_data)
    ds_old, ring_old = _evaluate(sr, raw.where(aster_truth_mask(raw, clear=False)))
    assert ring_old and float(ds_old.rmse) == pytest.approx(2.59, abs=0.01)


# -- 48R2/10: clear's erosion named only when a threshold is given ------------------------------


def test_clear_without_threshold_not_named_in_attrs():
    ref, sr = _scene(mixed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = xlstsr.evaluate(sr, ref, reference_scale=0.1, reference_nodata=0, erode=3,
                             clear=True)
        ds2 = xlstsr.evaluate(sr, ref, erode=3, clear=True, **ASTER)
    assert "clear-sky erosion" not in ds.attrs["reference_mask"]
    assert "clear-sky erosion" in ds2.attrs["reference_mask"]
