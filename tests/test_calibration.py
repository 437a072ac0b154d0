"""The opt-in sensor calibration (:mod:`xlstsr.calibration`): off by default, exactly the learned
mapping when on, the mapping recovered from synthetic pairs, serialisable, lazy, and errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import raise_if_computed

import xlstsr
from xlstsr.calibration import INPUT_PRODUCT, Calibration, apply_calibration, fit_calibration
from xlstsr.errors import XlstsrError


@pytest.fixture(scope="module")
def lst():
    return xlstsr.datasets.sample_scene(n_times=2, size=64, seed=2)["lst_1km"]


def test_off_by_default_bit_identical(lst):
    plain = xlstsr.upscale(lst, 4, "bicubic")
    off = xlstsr.upscale(lst, 4, "bicubic", calibration=None)
    np.testing.assert_array_equal(plain.values, off.values)
    assert plain.attrs == off.attrs
    assert plain.attrs["xlstsr_product"] == INPUT_PRODUCT
    assert "xlstsr_calibration" not in plain.attrs
    # the default product keeps the input's radiance: with conserve=True its aggregate gives
    # the input back (a calibrated one would not)
    from xlstsr.kernels.aggregate import radiometric_mean

    kept = xlstsr.upscale(lst, 4, "sisr", conserve=True)
    assert kept.attrs["xlstsr_product"] == INPUT_PRODUCT
    back = radiometric_mean(kept.values.astype(np.float64), 4)
    assert np.nanmax(np.abs(back - lst.values)) < 1e-3


@pytest.mark.parametrize("method", ["bicubic", "sisr"])
def test_on_is_exactly_the_learned_mapping(lst, method):
    cal = Calibration(slope=0.97, offset=9.8, target="ASTER", fitted_on="test")
    sr = xlstsr.upscale(lst, 4, method)
    direct = xlstsr.upscale(lst, 4, method, calibration=cal)
    np.testing.assert_array_equal(apply_calibration(sr, cal).values, direct.values)
    np.testing.assert_allclose(direct.values, 0.97 * sr.values + 9.8, rtol=0, atol=1e-4)
    assert direct.attrs["xlstsr_product"] == "calibrated to ASTER"
    assert Calibration.parse(direct.attrs["xlstsr_calibration"]) == cal
    assert direct.dtype == sr.dtype
    assert direct.rio.crs == sr.rio.crs and direct.rio.transform() == sr.rio.transform()
    # given as a dict or as JSON text: the same
    np.testing.assert_array_equal(
        xlstsr.upscale(lst, 4, method, calibration=cal.to_json()).values, direct.values)


def test_fit_recovers_a_known_affine():
    rng = np.random.default_rng(0)
    fields = [285 + 15 * rng.random((40, 40)) for _ in range(3)]
    truth = [0.93 * f + 21.5 + rng.normal(0, 0.05, f.shape) for f in fields]
    truth[0][:5] = np.nan  # gaps are ignored
    cal = fit_calibration(fields, truth, fitted_on="synthetic")
    assert cal.slope == pytest.approx(0.93, abs=2e-3)
    assert cal.offset == pytest.approx(21.5, abs=0.6)
    assert abs(cal.slope * 300 + cal.offset - (0.93 * 300 + 21.5)) < 0.01  # the map at 300 K
    assert cal.rmse_after < 0.06 < cal.rmse_before
    assert cal.n == 3 * 1600 - 200
    # with an NDVI term
    ndvi = [rng.random(f.shape) for f in fields]
    t2 = [1.0 * f + 0.9 - 2.0 * g for f, g in zip(fields, ndvi)]
    c2 = fit_calibration(fields, t2, ndvi)
    assert (c2.slope, c2.offset, c2.ndvi) == pytest.approx((1.0, 0.9, -2.0), abs=1e-6)
    # aggregated before the fit: the same map for a field that is an affine of the truth
    c3 = fit_calibration(fields, [0.93 * f + 21.5 for f in fields], aggregate=4)
    assert c3.slope == pytest.approx(0.93, abs=1e-3)


def test_serialisable_and_validated():
    cal = Calibration(slope=1.01, offset=-2.0, ndvi=0.5, fitted_on="x", n=10, rmse_before=2.0)
    back = Calibration.from_json(cal.to_json())
    assert back == cal and back.rmse_after is None
    assert json.loads(cal.to_json())["rmse_before"] == 2.0
    with pytest.raises(XlstsrError, match="not a sensor mapping"):
        Calibration(slope=5.0)
    with pytest.raises(XlstsrError, match="unknown calibration field"):
        Calibration.from_dict({"slope": 1.0, "gain": 2.0})


def test_lazy_and_errors(lst):
    cal = Calibration(offset=0.9)
    with raise_if_computed():
        out = xlstsr.upscale(lst.chunk({"time": 1}), 4, "bicubic", calibration=cal)
    np.testing.assert_array_equal(
        out.values, xlstsr.upscale(lst, 4, "bicubic", calibration=cal).values)
    with pytest.raises(XlstsrError, match="apply it once"):
        apply_calibration(out, cal)
    with pytest.raises(XlstsrError, match="NDVI term"):
        apply_calibration(xlstsr.upscale(lst, 4, "bicubic"), Calibration(ndvi=-1.0))
    with pytest.raises(XlstsrError, match="same grid"):
        fit_calibration(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(XlstsrError, match="valid"):
        fit_calibration(np.full((4, 4), np.nan), np.zeros((4, 4)))


def test_keeps_a_grid_mapping_of_another_name(lst, tmp_path):
    # many NetCDF files name their CF grid mapping 'crs': rioxarray finds it through the
    # encoding, which the arithmetic dropped (before: the calibrated field had no CRS)
    import xarray as xr

    sr = xlstsr.upscale(lst.isel(time=0), 4, "bicubic")
    ds = sr.to_dataset(name="lst").rename({"spatial_ref": "crs"})
    ds["lst"].encoding["grid_mapping"] = "crs"
    ds.to_netcdf(tmp_path / "lst.nc")
    with xr.open_dataset(tmp_path / "lst.nc", decode_coords="all") as opened:
        field = opened["lst"].load()
    assert field.rio.crs == sr.rio.crs  # the premise
    out = apply_calibration(field, Calibration(offset=0.9))
    assert out.rio.crs == sr.rio.crs
    assert out.rio.transform() == field.rio.transform()
