"""Review 53 (fix A2): the all-NaN advice of upscale and scaling_stats, calibrations recording a
law mode on bicubic or nearest fields, and what scaling_stats calls its LST.

1. The all-NaN advice named a lead dim of size 1: a one-band GeoTIFF read without squeezing
   was told `src.dropna('band', how='all')`, which left 0 steps ("the LST is empty"); a lead
   dim of size 1 before a longer one was named instead of it.
2. scaling_stats kept its own copy of the old advice, `da.dropna('time', how='all')`, which
   fails on a 2-D image: it gives upscale's advice now (validate.all_nan_advice).
3. Calibrations fitted on bicubic or nearest fields that recorded scale_correction 'auto'
   (before upscale recorded 'none' for them) were refused for today's 'none'.
4. scaling_stats refused an unfinished store's LST as "the source".
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import xarray as xr
from helpers import make_lst, unfinished_store

import xlstsr
from xlstsr.calibration import Calibration, apply_calibration, fit_calibration
from xlstsr.errors import AllNaNError, XlstsrError


def _lst(ny: int = 32, nx: int = 32, seed: int = 0) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    return make_lst(290 + rng.normal(0, 3, (ny, nx)), units="K")


def _quiet(f, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(*args, **kw)


def _skip_advice(text: str, da: xr.DataArray) -> None:
    """The advice is to skip the image, with a test that does skip it (no dropna of a lead dim
    of size 1, which leaves nothing)."""
    assert "dropna" not in text and "skip it" in text, text
    code = re.search(r"`(bool\(da\.notnull\(\)\.any\(\)\))`", text)
    assert code and eval(code.group(1), {"da": da}) is False


# -- 1. upscale: a lead dim of size 1 is one image ----------------------------------------------


@pytest.mark.parametrize("lead", [("band",), ("time",), ("band", "time")])
def test_all_nan_image_with_size_one_lead_dims_is_told_to_skip_it(lead):
    img = _lst().copy(data=np.full((32, 32), np.nan))
    for d in lead:
        img = img.expand_dims({d: 1})
    with pytest.raises(AllNaNError) as err:
        _quiet(xlstsr.upscale, img, 4, "bicubic")
    _skip_advice(str(err.value), img)


def test_all_nan_advice_names_the_lead_dim_with_steps_not_a_size_one_band():
    lst = _lst()
    gap = lst.copy(data=np.full((32, 32), np.nan))
    src = xr.concat([gap, gap, lst], dim="time").assign_coords(time=np.arange(3))
    src = src.expand_dims(band=[1], axis=0)  # (band=1, time, y, x): an unsqueezed stack
    with pytest.raises(AllNaNError) as err:
        _quiet(xlstsr.upscale, src.isel(time=[0, 1]), 4, "bicubic")
    code = re.search(r"`(src\.dropna\('time', how='all'\))`", str(err.value))
    assert code, str(err.value)
    kept = eval(code.group(1), {"src": src})  # followed on the cube they come from
    assert _quiet(xlstsr.upscale, kept, 4, "bicubic").sizes == {"band": 1, "time": 1, "y": 128,
                                                                "x": 128}


# -- 2. scaling_stats gives the same advice ----------------------------------------------------


def test_scaling_stats_of_an_all_nan_image_is_told_to_skip_it():
    img = _lst().copy(data=np.full((32, 32), np.nan))
    with pytest.raises(AllNaNError) as err:
        _quiet(xlstsr.scaling_stats, img)
    _skip_advice(str(err.value), img)  # before: `da.dropna('time', how='all')`, no such dim


def test_scaling_stats_all_nan_advice_names_its_date_dim_and_works():
    lst = _lst()
    gap = lst.copy(data=np.full((32, 32), np.nan))
    src = xr.concat([gap, gap, lst], dim="date").assign_coords(
        date=np.array(["2020-07-01", "2020-07-02", "2020-07-03"], "M8[ns]"))
    with pytest.raises(AllNaNError) as err:
        _quiet(xlstsr.scaling_stats, src.isel(date=[0, 1]))
    code = re.search(r"`(src\.dropna\('date', how='all'\))`", str(err.value))
    assert code, str(err.value)
    st = _quiet(xlstsr.scaling_stats, eval(code.group(1), {"src": src}))
    assert st.sizes["date"] == 1 and np.isfinite(st.hurst).all()


# -- 3. a law mode recorded on bicubic or nearest fields is 'none' ------------------------------


@pytest.mark.parametrize("method", ["bicubic", "nearest"])
def test_calibration_recording_a_law_on_a_method_without_detail_still_applies(method):
    # as fit_calibration recorded it on such fields before upscale recorded 'none' for them
    cal = Calibration(slope=1.0, offset=0.5, method=method, factor=4, scale_correction="auto")
    lst = _lst()
    for sc in ("auto", None):
        out = _quiet(xlstsr.upscale, lst, 4, method, scale_correction=sc, calibration=cal)
        assert out.attrs["xlstsr_scale_correction"] == "none"  # before: refused ('auto')
    # and a field written then (recording 'auto') takes a calibration fitted now ('none')
    sr = _quiet(xlstsr.upscale, lst, 4, method)
    old = sr.assign_attrs(xlstsr_scale_correction="law")
    new_cal = Calibration(slope=1.0, offset=0.5, method=method, factor=4,
                          scale_correction="none")
    np.testing.assert_allclose(apply_calibration(old, new_cal).values, old.values + 0.5)


def test_fit_on_old_bicubic_fields_recording_auto_records_none():
    sr = _quiet(xlstsr.upscale, _lst(), 4, "bicubic")
    old = sr.assign_attrs(xlstsr_scale_correction="auto")
    cal = fit_calibration(old, old + 0.9 + 0.02 * (old - 300))
    assert cal.scale_correction == "none"  # before: 'auto', refused by today's bicubic fields
    # a method with detail of its own keeps its law: 'auto' and 'none' fields still differ
    detail = old.assign_attrs(xlstsr_method="tsharp")
    cal = fit_calibration(detail, detail + 0.9)
    assert cal.scale_correction == "auto"
    with pytest.raises(XlstsrError, match=r"\) 'none' \(fitted on 'auto'\)"):
        apply_calibration(detail.assign_attrs(xlstsr_scale_correction="none"), cal)


# -- 4. scaling_stats calls its input the LST ----------------------------------------------------


def test_scaling_stats_calls_an_unfinished_stores_variable_the_lst(tmp_path):
    rng = np.random.default_rng(0)
    b = 290 + rng.standard_normal((16, 16)).cumsum(0) / 6
    cube = make_lst(np.stack([b + 0.05 * i for i in range(4)]).astype("float32"),
                    units="K").assign_coords(time=np.arange(4))
    store = unfinished_store(cube.chunk(time=1), tmp_path / "u.zarr")
    ds = xr.open_zarr(store, consolidated=False, decode_coords="all")
    lst = next(v for v in ds.data_vars.values() if v.ndim == 3)
    for f in (xlstsr.scaling_stats, lambda a: xlstsr.upscale(a, 2)):
        with pytest.raises(XlstsrError, match="did not finish") as err:
            f(lst)
        assert str(err.value).startswith("the LST is read from"), str(err.value)[:80]
