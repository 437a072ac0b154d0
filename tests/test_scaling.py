"""Multiscale statistics: known fields (fBm, white noise, a broken spectrum), gaps, dask, errors."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from helpers import raise_if_computed

import xlstsr
from xlstsr.datasets import fbm_surface
from xlstsr.errors import AllNaNError, GridError, UnitsError
from xlstsr.kernels import scaling as ks
from xlstsr.scaling import scaling_stats


def _da(a: np.ndarray, res: float = 30.0) -> xr.DataArray:
    """A (time, y, x) or (y, x) DataArray on a projected grid (no units: used as-is)."""
    ny, nx = a.shape[-2:]
    dims = ("time", "y", "x") if a.ndim == 3 else ("y", "x")
    coords = {"y": 1000.0 - (np.arange(ny) + 0.5) * res, "x": (np.arange(nx) + 0.5) * res}
    if a.ndim == 3:
        coords["time"] = np.arange(a.shape[0])
    da = xr.DataArray(a, dims=dims, coords=coords, name="lst")
    return da.rio.write_crs("EPSG:32631")


@pytest.fixture(scope="module")
def fbm_fields() -> dict[float, np.ndarray]:
    return {h: fbm_surface(256, h, np.random.default_rng(11)) for h in (0.3, 0.5, 0.8)}


@pytest.mark.parametrize("hurst", [0.3, 0.5, 0.8])
def test_fbm_hurst_recovered(fbm_fields, hurst):
    a = 300.0 + 2.0 * fbm_fields[hurst] / fbm_fields[hurst].std()
    st = scaling_stats(_da(a), fit_lags=(1, 16))
    h = float(st.hurst)
    assert abs(h - hurst) <= 0.05, h
    lo, hi = st.hurst_ci.values
    assert lo <= h <= hi
    # spectral slope -(2H+2) (looser: spectra of one image are noisy)
    assert abs(float(st.spectral_slope) + 2 * hurst + 2) < 0.25
    # zeta(2) = 2H and the isotropic S_2 is the pooled y/x estimate
    assert float(st.structure_function_exponent.sel(moment=2)) == pytest.approx(2 * h)
    # Gaussian increments: flatness near 3 at small lags
    assert abs(float(st.increment_flatness.sel(lag=1)) - 3.0) < 0.3


def test_white_noise_flatness_and_flat_spectrum():
    a = 300.0 + np.random.default_rng(3).standard_normal((128, 128))
    st = scaling_stats(_da(a))
    assert np.allclose(st.increment_flatness, 3.0, atol=0.15)
    assert np.allclose(st.increment_skewness, 0.0, atol=0.1)
    assert abs(float(st.spectral_slope)) < 0.25
    assert float(st.hurst) == pytest.approx(0.0, abs=0.03)
    # white noise loses 3/4 of its variance at the first factor-2 step, then 1/4 of it per step
    w = st.within_block_variance.values
    assert w[0] == pytest.approx(0.75, rel=0.1)
    assert w[1] / w[0] == pytest.approx(0.25, rel=0.25)
    assert float(st.within_block_exponent) == pytest.approx(-2.0, abs=0.15)


def test_known_spectral_break_detected():
    n, k0 = 256, 0.05
    rng = np.random.default_rng(5)
    ky = np.fft.fftfreq(n)[:, None]
    kx = np.fft.rfftfreq(n)[None, :]
    k = np.hypot(ky, kx)
    k[0, 0] = 1.0
    power = np.where(k < k0, k**-2.0, k0**2 * k**-4.0)  # slope -2 then -4
    power[0, 0] = 0.0
    z = rng.standard_normal(k.shape) + 1j * rng.standard_normal(k.shape)
    a = np.fft.irfft2(np.sqrt(power) * z, s=(n, n))
    a = 300.0 + a / a.std()
    st = scaling_stats(_da(a), fit_wavenumbers=(3.0 / n, 0.45))
    kb = float(st.spectral_break_wavenumber)
    assert 0.5 * k0 < kb < 2.0 * k0, kb
    assert float(st.spectral_break_delta_bic) > 10
    assert float(st.spectral_slope_low) == pytest.approx(-2.0, abs=0.6)
    assert float(st.spectral_slope_high) == pytest.approx(-4.0, abs=0.6)
    # a single power law (white noise) shows no significant break
    w = scaling_stats(_da(300.0 + rng.standard_normal((n, n))))
    assert float(w.spectral_break_delta_bic) < 10


def test_gaps_do_not_bias_s2(fbm_fields):
    """20 % of pixels in random gaps (and a 30 x 30 'cloud') change S_2 by < 5 %, H by < 0.03."""
    a = 300.0 + fbm_fields[0.5] / fbm_fields[0.5].std()
    rng = np.random.default_rng(2)
    g = a.copy()
    g[rng.random(a.shape) < 0.2] = np.nan
    g[100:130, 50:80] = np.nan
    full, gappy = scaling_stats(_da(a)), scaling_stats(_da(g))
    s2f = full.structure_function.sel(moment=2)
    s2g = gappy.structure_function.sel(moment=2)
    assert np.all(np.abs(s2g / s2f - 1) < 0.05)
    assert abs(float(gappy.hurst) - float(full.hurst)) < 0.03
    assert np.all(gappy.increment_count < full.increment_count)


def test_numpy_dask_equal_and_lazy():
    scene = xlstsr.datasets.sample_scene(n_times=3, size=128, cloud_fraction=0.2)
    lst, ndvi = scene["lst_1km"], scene["ndvi_250m"]
    eager = scaling_stats(lst, guide=ndvi)
    with raise_if_computed():
        lazy = scaling_stats(lst.chunk({"time": 1, "y": 8, "x": 8}), guide=ndvi.chunk(32))
    assert lazy.hurst.chunks is not None
    xr.testing.assert_allclose(lazy.compute(), eager)
    # the accessor is the same function
    xr.testing.assert_identical(lst.lstsr.scaling_stats(guide=ndvi), eager)
    # per-time results equal one-image results
    one = scaling_stats(lst.isel(time=1), guide=ndvi)
    np.testing.assert_allclose(one.hurst.values, eager.hurst.isel(time=1).values)


def test_guide_relations_recover_linear_law():
    rng = np.random.default_rng(0)
    ndvi = np.clip(0.5 + 0.2 * fbm_surface(64, 0.6, rng), -0.2, 1.0)
    lst = 310.0 - 20.0 * ndvi
    st = scaling_stats(_da(lst), guide=_da(ndvi))
    # a radiometric aggregate of an exactly linear law is almost linear: slope -20, r = -1
    assert np.allclose(st.guide_slope.values, -20.0, rtol=0.02)
    assert np.all(st.guide_correlation.values < -0.999)
    assert abs(float(st.guide_slope_trend)) < 0.1


def test_metre_coordinates_and_coarse_variance():
    a = 300.0 + fbm_surface(64, 0.5, np.random.default_rng(1))
    st = scaling_stats(_da(a, res=30.0))
    np.testing.assert_allclose(st.lag_m, st.lag * 30.0)
    np.testing.assert_allclose(st.scale_m, st.factor * 30.0)
    v = st.coarse_variance.values
    assert np.all(np.diff(v) < 0)  # aggregation removes variance
    # within-block variances of the steps add up to the variance lost (law of total variance,
    # approximately with radiometric aggregation)
    w = st.within_block_variance.values
    assert v[0] - v[-1] == pytest.approx(np.nansum(w), rel=0.02)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(GridError, match="too small"):
        scaling_stats(_da(np.full((6, 6), 300.0)))
    with pytest.raises(GridError, match="lags"):
        scaling_stats(_da(np.full((32, 32), 300.0)), lags=[1, 64])
    with pytest.raises(GridError, match="factors"):
        scaling_stats(_da(np.full((32, 32), 300.0)), factors=[1, 2, 32])
    with pytest.raises(AllNaNError, match="no valid pixel"):
        scaling_stats(_da(np.full((32, 32), np.nan)))
    with pytest.raises(UnitsError, match="radiometric=False"):
        scaling_stats(_da(np.random.default_rng(0).standard_normal((32, 32))))
    # radiometric=False accepts anomalies
    st = scaling_stats(_da(np.random.default_rng(0).standard_normal((32, 32))), radiometric=False)
    assert np.isfinite(float(st.hurst))


def test_fit_helpers():
    x = np.geomspace(1, 64, 7)
    p, _, lo, hi = ks.fit_power_law(x, 2.0 * x**0.7)
    assert p == pytest.approx(0.7) and lo == pytest.approx(0.7) and hi == pytest.approx(0.7)
    assert np.isnan(ks.fit_power_law(np.array([1.0]), np.array([1.0]))[0])
    xb, s1, s2, _ = ks.fit_breakpoint(x, np.where(x < 8, x, 8 * (x / 8) ** 3))
    assert xb == pytest.approx(8, rel=0.3) and s1 == pytest.approx(1) and s2 == pytest.approx(3)


def test_real_readers_and_stats(shared_data):
    """MOD11A1 (pyhdf), Landsat-8 L1 and DESIREX readers decode to plausible Kelvin fields."""
    from xlstsr.io import open_modis
    from xlstsr.io.landsat import open_desirex, open_landsat8_l1

    lst = open_modis(next((shared_data / "mod11a1_hdf").glob("*.hdf")))
    assert lst.shape == (1200, 1200)
    assert lst.rio.resolution()[0] == pytest.approx(926.625, abs=0.01)
    frac = float(lst.notnull().mean())
    assert 0.1 < frac < 0.4  # about 77 % cloud fill in this granule
    assert 250 < float(lst.min()) and float(lst.max()) < 345
    raw = open_modis(next((shared_data / "mod11a1_hdf").glob("*.hdf")), decode=False)
    assert raw.dtype == np.uint16 and raw.attrs["_FillValue"] == 0
    ls = open_landsat8_l1(shared_data / "landsat8_gulf_l1")
    bt = ls.bt.values[np.isfinite(ls.bt.values)]
    assert 250 < np.median(bt) < 320
    assert -1 <= float(ls.ndvi.min()) and float(ls.ndvi.max()) <= 1
    mad = open_desirex(shared_data / "madrid_desirex")
    st = scaling_stats(mad.isel(y=slice(0, 64), x=slice(0, 64)))
    assert float(st.attrs["pixel_size"]) == pytest.approx(20.0)
    assert 0.0 < float(st.hurst) < 1.0


def test_source_name_recorded_only_for_named_fields():
    """An unnamed field records no ``source_name`` (it recorded the string "None")."""
    a = 300.0 + np.random.default_rng(3).standard_normal((32, 32))
    assert scaling_stats(_da(a)).attrs["source_name"] == "lst"
    assert "source_name" not in scaling_stats(_da(a).rename(None)).attrs
