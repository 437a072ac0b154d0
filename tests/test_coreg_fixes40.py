"""An estimate_offset Dataset is applied in the CRS its shifts are in (its attrs['crs']).

evaluate(coregister=<estimate>, coarse=lst) read the estimate's shifts in coarse's CRS axes
(and in the estimate's own CRS only without coarse=): an estimate made against a sinusoidal
MODIS LST, scored with a UTM coarse=, moved the truth elsewhere (at Los Angeles a sinusoidal
+200 m y is ~200 m N and ~228 m W), so adding coarse= changed every score."""
import warnings

import numpy as np
import pytest
import rioxarray  # noqa: F401
import xarray as xr
from pyproj import CRS

import xlstsr
from xlstsr.coregister import apply_offset
from xlstsr.guide import check_alignment

SINU = CRS.from_proj4("+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs")
UTM = "EPSG:32611"


@pytest.fixture(scope="module")
def pair():
    """A smooth 70 m truth over Los Angeles (UTM 11N), its 280 m LST and a bicubic result."""
    rng = np.random.default_rng(0)
    n = 128
    k = np.fft.fftfreq(n)
    amp = 1 / np.maximum(np.hypot(*np.meshgrid(k, k)), 1 / n) ** 1.6
    f = np.real(np.fft.ifft2(amp * np.exp(2j * np.pi * rng.random((n, n)))))
    f = 300 + 4 * f / f.std()
    y = 3_760_000 - 35 - 70 * np.arange(n)
    x = 380_000 + 35 + 70 * np.arange(n)
    ref = xr.DataArray(f, dims=("y", "x"), coords={"y": y, "x": x},
                       attrs={"units": "K"}).rio.write_crs(UTM)
    lst = xlstsr.coarsen(ref, 4)
    return ref, lst, xlstsr.upscale(lst, 4, method="bicubic")


def _estimate(crs, sx=0.0, sy=200.0):
    attrs = {} if crs is None else {"crs": CRS.from_user_input(crs).to_wkt()}
    return xr.Dataset({"shift_x": sx, "shift_y": sy, "psf_sigma": 300.0, "reliable": True},
                      attrs=attrs)


def test_evaluate_applies_an_estimate_in_its_own_crs_with_coarse(pair):
    ref, lst, sr = pair
    est = _estimate(SINU)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = xlstsr.evaluate(sr, ref, coregister=est)
        b = xlstsr.evaluate(sr, ref, coregister=est, coarse=lst)
    for v in ("rmse", "bias", "n_valid", "ssim"):
        assert float(a[v]) == pytest.approx(float(b[v]), rel=1e-12), v


def test_apply_offset_converts_from_the_estimates_crs(pair):
    """Given the LST's (UTM) crs, a sinusoidal estimate still moves as in its own axes."""
    ref = pair[0]
    est = _estimate(SINU)
    moved = apply_offset(ref, est, UTM)
    dx, dy = float(moved.x[0] - ref.x[0]), float(moved.y[0] - ref.y[0])
    assert dx < -200 and 190 < dy < 215, (dx, dy)  # ~228 m W, ~202 m N: not 0 / 200
    own = apply_offset(ref, est, SINU)
    np.testing.assert_array_equal(moved.x.values, own.x.values)
    np.testing.assert_array_equal(moved.y.values, own.y.values)


def test_guide_offset_dataset_is_applied_in_the_estimates_crs(pair):
    ref, lst, _ = pair
    est = _estimate(SINU)
    moved = check_alignment(ref, lst, est)
    own = apply_offset(ref, est, SINU)
    np.testing.assert_array_equal(moved.x.values, own.x.values)
    np.testing.assert_array_equal(moved.y.values, own.y.values)


@pytest.mark.parametrize("crs", [UTM, None])
def test_an_estimate_in_the_lsts_crs_is_unchanged(pair, crs):
    """Same CRS (or none recorded, as older estimates): the shift as it is, bit for bit."""
    ref, lst, sr = pair
    est = _estimate(crs, sx=-57.5, sy=123.25)
    moved = apply_offset(ref, est, UTM)
    np.testing.assert_array_equal(moved.x.values, ref.x.values + -57.5)
    np.testing.assert_array_equal(moved.y.values, ref.y.values + 123.25)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = xlstsr.evaluate(sr, ref, coregister=est, coarse=lst)
        b = xlstsr.evaluate(sr, ref.assign_coords(x=ref.x - 57.5, y=ref.y + 123.25),
                            coregister=False)
    assert float(a.rmse) == float(b.rmse) and float(a.n_valid) == float(b.n_valid)


def test_an_estimate_in_degrees_is_converted_not_refused(pair):
    """An EPSG:4326-recorded estimate applied with the LST's UTM crs was refused ("Estimate it
    against this LST") though its recorded CRS says how to read it: it moves the field as
    applying it with its own CRS does (0.002 degrees north: ~222 m north, not 0.002 m)."""
    ref = pair[0]
    est = _estimate("EPSG:4326", sx=0.0, sy=0.002)
    moved = apply_offset(ref, est, UTM)
    own = apply_offset(ref, est, "EPSG:4326")
    np.testing.assert_array_equal(moved.x.values, own.x.values)
    np.testing.assert_array_equal(moved.y.values, own.y.values)
    assert 215 < float(moved.y[0] - ref.y[0]) < 230
