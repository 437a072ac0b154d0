"""Bad input, corpus 30: xlstsr.metrics' correlation of a constant field (round-off of the mean
gave ~0 instead of NaN), the metrics' outputs carrying sr's LST attrs (a PSNR in K, a
surface_temperature), and a south-up sr of the reference's own pixels refused as "not on the
same grid" with advice (rio.reproject_match) that needs a CRS."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr import metrics as M
from xlstsr.errors import GridError
from xlstsr.kernels import metrics as K


@pytest.fixture(scope="module")
def truth() -> xr.DataArray:
    return xlstsr.datasets.sample_scene(n_times=2, size=32, cloud_fraction=0)["lst_250m"]


def _noise(da: xr.DataArray, seed: int = 0) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    return xr.DataArray(rng.standard_normal(da.shape), dims=da.dims, coords=da.coords)


# -- 1. correlation of a constant field ----------------------------------------------------------

@pytest.mark.parametrize("value", [288.15, 301.3, 273.15 + 0.1, 1e5 / 3])
def test_correlation_of_a_constant_field_is_nan_despite_mean_round_off(value):
    # before: residuals of the mean (1e-14) gave a correlation of ~-6e-14 (evaluate: 0.0)
    rng = np.random.default_rng(1)
    const = np.full((2, 40, 50), value)
    field = value + rng.standard_normal(const.shape)
    assert np.isnan(K.correlation(field, const)).all()
    assert np.isnan(K.correlation(const, field)).all()
    # constant over the pairwise-valid pixels only: a gap elsewhere does not make it vary
    gapped = const.copy()
    gapped[:, :5] = np.nan
    field[:, :5] = 250.0
    assert np.isnan(K.correlation(field, gapped)).all()
    # a varying pair still correlates, and one varying step keeps its value
    assert K.correlation(field, 2 * field + 1) == pytest.approx(1.0)
    mixed = np.stack([const[0], field[1]])
    r = K.correlation(field, mixed)
    assert np.isnan(r[0]) and r[1] == pytest.approx(1.0)


def test_evaluate_and_metrics_correlation_of_a_constant_truth_or_sr_is_nan(truth):
    sr = (truth + _noise(truth).astype("float32")).assign_attrs(truth.attrs)
    flat = (truth.astype("float64") * 0 + 288.15).assign_attrs(truth.attrs)
    assert np.isnan(M.correlation(sr, flat).values).all()
    assert np.isnan(M.correlation(flat, sr).values).all()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ds = xlstsr.evaluate(sr, flat)
    assert any("constant" in str(x.message) and "correlation" in str(x.message) for x in w)
    assert np.isnan(ds.correlation.values).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = xlstsr.evaluate((flat + 13.15).assign_attrs(truth.attrs), truth)
    assert np.isnan(ds.correlation.values).all()


# -- 2. the metrics' own attributes --------------------------------------------------------------

def test_metric_outputs_carry_their_own_units_not_the_lst_attrs(truth):
    from xlstsr.evaluate import _UNITS

    sr = (truth + 0.5).assign_attrs(units="K", long_name="super-resolved LST",
                                    standard_name="surface_temperature")
    coarse = xlstsr.datasets.sample_scene(n_times=2, size=32, cloud_fraction=0)["lst_1km"]
    outs = {n: getattr(M, n)(sr, truth) for n in
            ["psnr", "ssim", "correlation", "n_valid", "rmse", "bias", "ubrmse", "mae",
             "gradient_rmse"]}
    outs["spectral_ratio"] = M.spectral_ratio(sr, truth, 4)
    outs["coarse_consistency"] = M.coarse_consistency(sr, coarse, 4)
    for name, out in outs.items():
        # the same units and long names as xlstsr.evaluate's variables
        assert out.attrs == {"units": _UNITS[name][0], "long_name": _UNITS[name][1]}, name
    # lazy inputs too
    assert M.psnr(sr.chunk(), truth.chunk()).attrs["units"] == "dB"
    # the options named, an NDVI's RMSE not in K
    assert "2.5" in M.ssim(sr, truth, sigma=2.5).attrs["long_name"]
    ndvi = xr.zeros_like(truth).assign_attrs(units="1") + _noise(truth)
    assert M.rmse(ndvi, ndvi * 0.5).attrs["units"] != "K"


# -- 3. an sr of the reference's pixels in another order -------------------------------------------

def test_south_up_sr_on_the_reference_pixels_is_scored_in_the_reference_order(truth):
    sr = (truth + _noise(truth, 2).astype("float32")).assign_attrs(truth.attrs)
    for flip in (sr.isel(y=slice(None, None, -1)), sr.isel(x=slice(None, None, -1)),
                 sr.isel(y=slice(None, None, -1), x=slice(None, None, -1)).chunk()):
        for fn in (M.rmse, M.bias, M.ssim, M.correlation, M.gradient_rmse):
            np.testing.assert_allclose(fn(flip, truth).values, fn(sr, truth).values, rtol=1e-12)
    # the labels of a grid computed elsewhere (float round-off) in the other order
    off = sr.isel(y=slice(None, None, -1))
    off = off.assign_coords(y=off.y + 1e-9)
    np.testing.assert_allclose(M.rmse(off, truth).values, M.rmse(sr, truth).values)


def test_other_pixels_are_still_refused_with_advice_that_works_without_a_crs(truth):
    a = xr.DataArray(truth.values, dims=truth.dims,
                     coords={d: truth[d].values for d in truth.dims}, attrs={"units": "K"})
    b = (a + 0.5).isel(y=slice(None, None, -1)).assign_coords(x=lambda d: d.x + 100.0)
    with pytest.raises(GridError, match=r"same grid.*sr\.interp\(x=ref\.x, y=ref\.y\)") as err:
        M.rmse(b, a)
    # the advice works on these CRS-less arrays
    assert np.isfinite(M.rmse(b.interp(x=a.x, y=a.y), a).values).all()
    sub = a.isel(x=slice(2, 20), y=slice(3, 30))
    with pytest.raises(GridError, match=r"sr\.sel\(x=ref\.x, y=ref\.y, method='nearest', "
                       r"tolerance=[0-9.e-]+\)"):
        M.rmse(b, sub)
    np.testing.assert_allclose(M.rmse(b.assign_coords(x=a.x).sel(x=sub.x, y=sub.y), sub).values,
                               0.5, rtol=1e-6)
    assert "reproject_match" in str(err.value)  # with a CRS on both
