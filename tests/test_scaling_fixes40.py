"""guide_relations pairs the LST and the guide: both block means over the pixels valid in both."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

from xlstsr.kernels import scaling as ks
from xlstsr.scaling import scaling_stats

FACTORS = [1, 2, 4, 8]


def _field(gaps_in: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """LST = 320 - 30 NDVI exactly, with 30 % scattered gaps in the LST or in the guide."""
    rng = np.random.default_rng(seed)
    g = 0.2 + 0.6 * rng.random((64, 64))
    lst = 320.0 - 30.0 * g
    holes = rng.random(g.shape) < 0.3
    if gaps_in == "lst":
        lst[holes] = np.nan
    else:
        g[holes] = np.nan
    return lst, g


def _da(a: np.ndarray) -> xr.DataArray:
    n = a.shape[0]
    coords = {"time": [np.datetime64("2020-07-01")], "y": 5e6 - (np.arange(n) + 0.5) * 1000.0,
              "x": 5e5 + (np.arange(n) + 0.5) * 1000.0}
    da = xr.DataArray(a[None], dims=("time", "y", "x"), coords=coords)
    return da.rio.write_crs("EPSG:32633")


@pytest.mark.parametrize("gaps_in", ["lst", "guide"])
def test_linear_field_with_gaps_keeps_r_minus_one_and_constant_slope(gaps_in):
    lst, g = _field(gaps_in)
    corr, slope, _, _ = ks.guide_relations(lst, g, FACTORS, radiometric=False)
    # unpaired block means gave r -0.83, -0.81, -0.87 and slopes -29.6 to -34.2 (LST gaps)
    np.testing.assert_allclose(corr, -1.0, atol=1e-9)
    np.testing.assert_allclose(slope, -30.0, rtol=1e-9)


@pytest.mark.parametrize("gaps_in", ["lst", "guide"])
def test_radiometric_aggregation_is_paired_too(gaps_in):
    lst, g = _field(gaps_in)
    corr, slope, _, _ = ks.guide_relations(lst, g, FACTORS, radiometric=True)
    # (mean T^4)^(1/4) over 296-314 K is almost the plain mean: nearly the exact law
    assert np.all(corr < -0.999), corr  # unpaired: -0.8
    np.testing.assert_allclose(slope, -30.0, rtol=2e-3)
    # the same as pairing the inputs by hand
    both = np.isfinite(lst) & np.isfinite(g)
    ref = ks.guide_relations(np.where(both, lst, np.nan), np.where(both, g, np.nan), FACTORS)
    np.testing.assert_allclose(corr, ref[0], rtol=1e-12)
    np.testing.assert_allclose(slope, ref[1], rtol=1e-12)


def test_guide_variances_stay_unpaired():
    lst, g = _field("lst")
    _, _, gvar, gwithin = ks.guide_relations(lst, g, FACTORS, radiometric=False)
    # the guide's own statistics use every valid guide pixel, not only those under valid LST
    var_ref, _, within_ref = ks.coarse_graining(g, FACTORS, radiometric=False)
    np.testing.assert_allclose(gvar, var_ref, rtol=1e-12)
    np.testing.assert_allclose(gwithin, within_ref, rtol=1e-12, equal_nan=True)


def test_guide_relations_refuses_shape_mismatch():
    with pytest.raises(ValueError, match="guide on the LST grid"):
        ks.guide_relations(np.ones((8, 8)), np.ones((8, 6)), [1, 2])


@pytest.mark.parametrize("gaps_in", ["lst", "guide"])
def test_scaling_stats_slope_trend_is_zero_for_linear_field_with_gaps(gaps_in):
    lst, g = _field(gaps_in, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gap warnings are not under test here
        st = scaling_stats(_da(lst), _da(g), factors=FACTORS, lags=[1, 2, 4], radiometric=False)
    np.testing.assert_allclose(st.guide_correlation.values.ravel(), -1.0, atol=1e-9)
    np.testing.assert_allclose(st.guide_slope.values.ravel(), -30.0, rtol=1e-9)
    assert abs(float(st.guide_slope_trend.values.ravel()[0])) < 1e-9
