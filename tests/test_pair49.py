"""Probe 49R1 findings 1, 2, 6 and 49R3 finding 1: a pair's MODIS LST with an undeclared 0
fill is refused with its fill named (it opened as 0 K); aster_truth_mask refuses the ASTER
field as stored (K x 10: it kept the 200 K border ring); a float NDVI whose undeclared -9999
covers most of the image is told its fill, not a scale; estimate_offset's advice for raw ASTER
takes its border threshold above the 200 K ring (followed, the documented truth's shift)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rioxarray
import xarray as xr

from xlstsr.coregister import estimate_offset
from xlstsr.datasets import aster_truth_mask, modis_aster_arrays, open_modis_aster_pair
from xlstsr.datasets.sample import SAMPLE_DIR
from xlstsr.errors import (
    PhysicalRangeError,
    ScaledIntegerError,
    UndeclaredFillError,
    XlstsrError,
)
from xlstsr.evaluate import reference_mask

PAIR = "002"


def _pair_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "modis_aster"
    shutil.copytree(SAMPLE_DIR / "modis_aster", folder)
    return folder


def _follow_rasterio_advice(message: str, path: Path) -> None:
    """Run the message's `with rasterio.open(...)` line as written."""
    code = message.split("in Python `", 1)[1].split("`", 1)[0]
    assert str(path) in code
    exec(code.replace(": f.", ":\n    f.").replace("; f.", "\n    f."), {"rasterio": rasterio})


def _rewrite(path: Path, values: np.ndarray, dtype: str, scale: float | None = None) -> None:
    """Rewrite the band as ``values`` of ``dtype``, no nodata, with a scale tag if given."""
    with rasterio.open(path) as src:
        prof = src.profile
    prof.update(dtype=dtype, nodata=None)
    with rasterio.open(path, "w", **prof) as dst:
        dst.write(values.astype(dtype), 1)
        if scale is not None:
            dst.scales = (scale,)


def _holes(shape: tuple[int, int], share: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(shape) < share


# -- 49R1/1: MODIS LST with an undeclared 0 fill ------------------------------------------------


@pytest.mark.parametrize("coding", ["dn_scale_tag", "float_kelvin"])
def test_lst_undeclared_zero_fill_refused_and_the_advice_works(tmp_path, coding):
    folder = _pair_copy(tmp_path)
    lst0, _, _ = open_modis_aster_pair(PAIR, root=SAMPLE_DIR)
    path = folder / f"{PAIR}_modis_lst_1km.tif"
    with rasterio.open(path) as src:
        a = src.read(1).astype(np.float64)
    holes = _holes(a.shape, 0.1) | ~np.isfinite(a)
    if coding == "dn_scale_tag":  # MOD11A1 DNs with the scale tag, nodata left out
        _rewrite(path, np.where(holes, 0, np.round(a / 0.02)), "uint16", scale=0.02)
    else:
        _rewrite(path, np.where(holes, 0.0, a), "float32")
    with pytest.raises(UndeclaredFillError) as err:
        open_modis_aster_pair(PAIR, root=tmp_path)
    msg = str(err.value)
    assert "0 K" in msg and "-a_nodata 0 " in msg and str(path) in msg
    # the training arrays were handed 0 K silently
    with pytest.raises(UndeclaredFillError):
        modis_aster_arrays([PAIR], root=tmp_path)
    _follow_rasterio_advice(msg, path)
    lst, _, _ = open_modis_aster_pair(PAIR, root=tmp_path)
    expect = lst0.where(~xr.DataArray(holes, dims=lst0.dims, coords=lst0.coords))
    assert int(lst.isnull().sum()) == int(holes.sum())
    np.testing.assert_allclose(lst.values, expect.values, atol=0.011, equal_nan=True)


def test_shared_pair_opens_unchanged():
    lst, _, _ = open_modis_aster_pair(PAIR, root=SAMPLE_DIR)
    with rasterio.open(SAMPLE_DIR / "modis_aster" / f"{PAIR}_modis_lst_1km.tif") as src:
        a = src.read(1, masked=True).filled(np.nan)
    np.testing.assert_array_equal(lst.values, a.astype(np.float32))
    assert float(lst.min()) > 150


# -- 49R1/6: float NDVI with an undeclared -9999 over most of the image ------------------------


@pytest.mark.parametrize("share", [0.3, 0.6, 0.9])
def test_ndvi_fill_named_whatever_its_share(tmp_path, share):
    folder = _pair_copy(tmp_path)
    _, ndvi0, _ = open_modis_aster_pair(PAIR, root=SAMPLE_DIR)
    path = folder / f"{PAIR}_modis_ndvi_250m.tif"
    with rasterio.open(path) as src:
        a = src.read(1)
    holes = _holes(a.shape, share, seed=1) | ~np.isfinite(a)
    _rewrite(path, np.where(holes, -9999.0, a), "float32")
    with pytest.raises(UndeclaredFillError) as err:
        open_modis_aster_pair(PAIR, root=tmp_path)
    msg = str(err.value)
    assert "at -9999" in msg and "-a_nodata -9999 " in msg and "scale / offset" not in msg
    _follow_rasterio_advice(msg, path)
    _, ndvi, _ = open_modis_aster_pair(PAIR, root=tmp_path)
    expect = ndvi0.where(~xr.DataArray(holes, dims=ndvi0.dims, coords=ndvi0.coords))
    np.testing.assert_array_equal(ndvi.values, expect.values)


def test_ndvi_digital_numbers_still_told_their_scale(tmp_path):
    # MOD13's int16 DNs with the -3000 fill, no tags: the scale, not a fill (unchanged)
    folder = _pair_copy(tmp_path)
    path = folder / f"{PAIR}_modis_ndvi_250m.tif"
    with rasterio.open(path) as src:
        a = src.read(1)
    _rewrite(path, np.where(np.isfinite(a), np.round(a / 1e-4), -3000), "int16")
    with pytest.raises(XlstsrError, match=r"-scale 0.0001 -a_nodata -3000"):
        open_modis_aster_pair(PAIR, root=tmp_path)


# -- 49R1/2: aster_truth_mask of the ASTER field as stored -------------------------------------


def _raw_aster() -> xr.DataArray:
    path = SAMPLE_DIR / "modis_aster" / f"{PAIR}_aster_lst_250m.tif"
    return rioxarray.open_rasterio(path).squeeze("band", drop=True)


def test_truth_mask_refuses_stored_kelvin_x10_and_the_advice_works():
    aster = _raw_aster()
    with pytest.raises(PhysicalRangeError) as err:
        aster_truth_mask(aster)
    msg = str(err.value)
    assert "Kelvin x 10" in msg and "open_modis_aster_pair" in msg
    code = re.search(r"`(aster = [^`]*)`", msg).group(1)
    scope = {"aster": aster}
    exec(code, scope)
    _, _, decoded = open_modis_aster_pair(PAIR, root=SAMPLE_DIR)
    np.testing.assert_array_equal(aster_truth_mask(scope["aster"]).values,
                                  aster_truth_mask(decoded).values)
    # nothing of the 200 K ring kept
    assert float(decoded.where(aster_truth_mask(decoded)).min()) >= 230


def test_truth_mask_refuses_other_units():
    _, _, decoded = open_modis_aster_pair(PAIR, root=SAMPLE_DIR)
    with pytest.raises(PhysicalRangeError, match="outside 150-400 K"):
        aster_truth_mask(decoded - 273.15)


# -- 49R3/1: estimate_offset's border advice for raw ASTER --------------------------------------


def _lst() -> xr.DataArray:
    path = SAMPLE_DIR / "modis_aster" / f"{PAIR}_modis_lst_1km.tif"
    return rioxarray.open_rasterio(path, masked=True).squeeze("band", drop=True)


def _documented_shift(lst: xr.DataArray) -> tuple[float, float]:
    _, _, aster = open_modis_aster_pair(PAIR, root=SAMPLE_DIR, truth_mask=True)
    e = estimate_offset(aster, lst)
    return float(e["shift_x"]), float(e["shift_y"])


@pytest.mark.parametrize("zero_masked", [False, True])
def test_raw_aster_border_advice_followed_gives_the_documented_shift(zero_masked):
    lst = _lst()
    fine = _raw_aster()
    if zero_masked:  # the 0 already NaN, still K x 10: the border advice was left out
        fine = fine.where(fine != 0)
    with pytest.raises(ScaledIntegerError if zero_masked else UndeclaredFillError) as err:
        estimate_offset(fine, lst)
    msg = str(err.value)
    assert "200 K ring" in msg
    vmin = int(re.search(r"valid_min=(\d+)", msg).group(1))
    assert vmin > 205  # above the ring (188-189 was advised: the ring's own percentile)
    scope = {"fine": fine, "reference_mask": reference_mask}
    for code in re.findall(r"`(fine = [^`]*)`", msg):
        exec(code, scope)
    e = estimate_offset(scope["fine"], lst)
    sx, sy = _documented_shift(lst)
    assert abs(float(e["shift_x"]) - sx) < 3 and abs(float(e["shift_y"]) - sy) < 3
