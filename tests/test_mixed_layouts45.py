"""Probe 45c: arrays given beside a DataArray, in its layout (fit_calibration,
calibrate_detail_gain), and apply_scale_correction's guide_time_tolerance."""

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr.calibration import fit_calibration
from xlstsr.correction import apply_scale_correction, calibrate_detail_gain
from xlstsr.errors import GuideTimeError
from xlstsr.kernels.aggregate import block_mean
from xlstsr.kernels.correction import split_detail

TIMES = np.array(["2020-01-01", "2020-02-01", "2020-03-01"], "datetime64[ns]")


def _stack():
    rng = np.random.default_rng(0)
    yy = np.mgrid[0:40, 0:40][0]
    # three dates of different means, a north-south gradient in each: a mirror image differs
    return np.stack([m + 0.15 * yy + rng.standard_normal((40, 40)) for m in (285.0, 300.0, 315.0)])


def _south_up(t, dims=("time", "y", "x")):
    coords = {"time": TIMES, "y": np.arange(40) + 0.5, "x": np.arange(40) + 0.5}
    return xr.DataArray(t, dims=dims, coords={d: coords[d] for d in dims})


def test_fit_numpy_truth_beside_south_up_sr():
    t = _stack()
    cal = fit_calibration(_south_up(t), 0.95 * t + 16.0)
    assert cal.slope == pytest.approx(0.95, abs=1e-6)
    assert cal.offset == pytest.approx(16.0, abs=1e-3)


def test_fit_numpy_truth_beside_transposed_sr():
    # sr stored (x, y, time): a numpy truth in that layout is transposed as sr is
    t = _stack().transpose(2, 1, 0)
    sr = _south_up(t, dims=("x", "y", "time"))
    cal = fit_calibration(sr, 0.95 * t + 16.0)
    assert cal.slope == pytest.approx(0.95, abs=1e-6)
    assert cal.offset == pytest.approx(16.0, abs=1e-3)


def test_fit_truth_dataarray_without_coordinates_beside_south_up_sr():
    t = _stack()
    truth = xr.DataArray(0.95 * t + 16.0, dims=("time", "y", "x"), coords={"time": TIMES})
    cal = fit_calibration(_south_up(t), truth)
    assert cal.slope == pytest.approx(0.95, abs=1e-6)


def test_fit_numpy_ndvi_beside_south_up_sr():
    r = np.random.default_rng(1)
    yy, xx = np.mgrid[0:40, 0:40]
    nd = 0.2 + 0.6 * yy / 40 + 0.05 * r.standard_normal((40, 40))
    t = 300 + 3 * np.sin(xx / 6) + 2 * r.standard_normal((40, 40))
    sr = xr.DataArray(t, dims=("y", "x"),
                      coords={"y": np.arange(40) + 0.5, "x": np.arange(40) + 0.5})
    cal = fit_calibration(sr, sr.copy(data=t + 1.0 - 2.0 * nd), nd)
    assert cal.ndvi == pytest.approx(-2.0, abs=1e-6)


def _gain_case():
    rng = np.random.default_rng(0)
    yy = np.mgrid[0:40, 0:40][0]
    tr = 300 + 3 * np.sin(yy / 5.0) + rng.standard_normal((40, 40))
    lst = block_mean(tr, 4)
    b, m, d = split_detail(tr, lst, 4)
    return b + m + 2 * d, lst, tr  # twice the true detail: the gain is 0.5


@pytest.mark.parametrize("dims", [("y", "x"), ("x", "y")])
def test_detail_gain_numpy_lst_truth_beside_dataarray_sr(dims):
    s, lst, tr = _gain_case()
    if dims == ("x", "y"):  # every field given in sr's (x, y) layout
        s, lst, tr = s.T, lst.T, tr.T
    srd = xr.DataArray(s, dims=dims, coords={"y": np.arange(40) + 0.5,   # y ascending
                                             "x": np.arange(40) + 0.5})
    assert calibrate_detail_gain(srd, lst, tr, 4) == pytest.approx(0.5, abs=1e-6)


@pytest.mark.filterwarnings("ignore")
def test_apply_scale_correction_takes_guide_time_tolerance():
    sc = xlstsr.datasets.sample_scene(n_times=2)
    lst, ndvi = sc["lst_1km"], sc["ndvi_250m"]
    g = ndvi.expand_dims(time=np.array(["2020-06-25"], "datetime64[ns]"))  # 16-day composite
    kw = dict(method="tsharp", guide=g, guide_time_tolerance="15D", guide_offset=None)
    sr = xlstsr.upscale(lst, 4, **kw)
    with pytest.raises(GuideTimeError, match="guide_time_tolerance"):
        apply_scale_correction(sr, lst, g, 4, "law")  # the advice names the parameter
    out = apply_scale_correction(sr, lst, g, 4, "law", guide_time_tolerance="15D")
    want = xlstsr.upscale(lst, 4, scale_correction="law", **kw)
    np.testing.assert_allclose(out, want.transpose(*sr.dims).values, atol=1e-3)
    with pytest.raises(GuideTimeError, match="calendar month"):
        apply_scale_correction(sr, lst, g, 4, "law", guide_time_tolerance="1MS")
