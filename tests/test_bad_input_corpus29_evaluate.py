"""Corpus 29 (evaluate, co-registration): a lat/lon truth's pixel read from the bounding box of
its sheared footprint under a sinusoidal sr (1.5x too large: the fineness warning, its advice and
spectral_ratio's band off), estimate_offset(psf=False) comparing coarse pixels as if the widest
PSF were applied (none with every other coarse column cloudy), xarray's MergeError for a
scalar-time sr and coarse against a truth with its own time, products scored on their own
valid pixels without a word, and the fineness warning's aggregation advice failing on lat/lon
dims (and keeping barely covered pixels, averaging T)."""

from __future__ import annotations

import re
import sys
import warnings

import numpy as np
import pytest
import xarray as xr
from rasterio.enums import Resampling
from rasterio.transform import from_origin
from scipy import ndimage

import xlstsr
from xlstsr.kernels.coregister import estimate_shift

ev = sys.modules["xlstsr.evaluate"]  # the module (xlstsr.evaluate is also the function)

SIN = "+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs"
R = 6371007.181
LAT0, LON0 = 34.02, -118.05
DLAT, DLON = 0.000629, 0.000629  # ~70 x 58 m at 34 N


def _field(shape, seed=0, smooth=4.0):
    rng = np.random.default_rng(seed)
    return 300.0 + 30.0 * ndimage.gaussian_filter(rng.standard_normal(shape), smooth)


def _latlon_truth(n=160, seed=0):
    lat = LAT0 + DLAT * (n / 2 - 0.5 - np.arange(n))
    lon = LON0 + DLON * (np.arange(n) - n / 2 + 0.5)
    da = xr.DataArray(_field((n, n), seed).astype("float32"), dims=("lat", "lon"),
                      coords={"lat": lat, "lon": lon}, attrs={"units": "K"})
    return da.rio.write_crs("EPSG:4326")


def _sin_grid(n=24, res=231.65625):
    cx = R * np.deg2rad(LON0) * np.cos(np.deg2rad(LAT0))
    cy = R * np.deg2rad(LAT0)
    x0 = (np.floor(cx / res) - n // 2) * res
    y0 = (np.floor(cy / res) + n // 2) * res
    xs, ys = x0 + res * (np.arange(n) + 0.5), y0 - res * (np.arange(n) + 0.5)
    da = xr.DataArray(np.zeros((n, n), "float32"), dims=("y", "x"), coords={"y": ys, "x": xs},
                      attrs={"units": "K"})
    return da.rio.write_crs(SIN).rio.write_transform(from_origin(x0, y0, res, res))


def _sr_of(truth, grid):
    """The truth's footprint mean on ``grid``: a plausible sr on the sinusoidal grid."""
    t = truth.rename(lat="y", lon="x").rio.write_crs("EPSG:4326").astype("float64")
    t = t.rio.write_nodata(np.nan, encoded=False)
    out = t.rio.reproject_match(grid, resampling=Resampling.average, nodata=np.nan)
    out = out.astype("float32").rio.write_crs(SIN)
    out.attrs = {"units": "K"}
    return out


def _caught(fn, *args, **kw):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = fn(*args, **kw)
    return out, [str(x.message) for x in w]


# --- 1. the reference's pixel from its transformed axes ---------------------------------------

def test_pixel_size_of_sheared_latlon_truth_under_sinusoidal_sr():
    truth, sr = _latlon_truth(), _sin_grid()
    r_sr, r_ref = ev._pixel_sizes(sr, truth.rename(lat="y", lon="x"))  # as evaluate has it
    # sinusoidal is equal-area: the true side is the root of the lat/lon pixel's area
    lat = np.deg2rad(float(truth.lat.mean()))
    true = np.sqrt(R * np.deg2rad(DLAT) * R * np.deg2rad(DLON) * np.cos(lat))
    assert abs(r_ref / true - 1) < 0.02, (r_ref, true)  # the box read it 1.5x
    assert r_sr == pytest.approx(231.65625)
    # and the warning says the right ratio
    _, said = _caught(xlstsr.evaluate, _sr_of(truth, sr), truth)
    fine = [m for m in said if "finer than" in m]
    assert fine and f"{r_sr / true:.1f} times finer" in fine[0]


# --- 2. psf=False compares the pixels its own PSF leaves valid --------------------------------

def test_coregister_psf_false_selects_with_the_fixed_psf():
    f = 16
    fine = _field((256, 256), seed=3, smooth=6.0)
    coarse = fine.reshape(16, f, 16, f).mean(axis=(1, 3))  # exactly nested: shift 0
    cloudy = fine.copy()
    cloudy[:, (np.arange(256) // f) % 2 == 1] = np.nan  # every other coarse column
    e = estimate_shift(cloudy, coarse, f, psf=False, sigma=0.0, max_shift=0.7)
    assert e.n_valid > 30  # was 0: the widest PSF's margin around every gap
    assert abs(e.dx) < 0.2 and abs(e.dy) < 0.2


def test_coregister_psf_false_clear_field_keeps_its_border_margin():
    # a fully clear field: the outermost coarse pixels within the shift bound plus one are left
    # out, as before (comparing them moved real MODIS/ASTER psf=False estimates to the bound)
    f = 4
    fine = _field((128, 128), seed=4, smooth=3.0)
    coarse = fine.reshape(32, f, 32, f).mean(axis=(1, 3))
    e = estimate_shift(fine, coarse, f, psf=False, max_shift=2.0)
    m = int(np.ceil(2.0 / f)) + 1
    assert e.n_valid == (32 - 2 * m) ** 2
    assert abs(e.dx) < 0.1 and abs(e.dy) < 0.1


# --- 3. scalar time coordinates: sr's labels on every score -----------------------------------

@pytest.fixture(scope="module")
def scene():
    s = xlstsr.datasets.sample_scene(n_times=1, size=64, seed=1, cloud_fraction=0.0)
    sr = _caught(xlstsr.upscale, s["lst_1km"], 4)[0]
    return s, sr


def test_scalar_time_sr_and_coarse_against_truth_of_its_own_time(scene):
    s, sr = scene
    ts, tt = np.datetime64("2023-07-21T01:30"), np.datetime64("2023-07-21T00:54:11")
    truth = s["lst_250m"].isel(time=0).assign_coords(time=tt)
    one = sr.isel(time=0).assign_coords(time=ts)
    ds, _ = _caught(xlstsr.evaluate, one, truth,
                    coarse=s["lst_1km"].isel(time=0).assign_coords(time=ts))
    assert ds.time.values == ts and np.isfinite(float(ds.coarse_consistency))
    assert all(ds[v].time.values == ts for v in ds.data_vars)
    ds2, _ = _caught(xlstsr.evaluate, one, truth)  # without coarse: sr's label too
    assert ds2.time.values == ts
    assert float(ds2.rmse) == pytest.approx(float(ds.rmse))


# --- 4. sr gaps: scores of products with other gaps are not comparable ------------------------

def _gap_warnings(said):
    return [m for m in said if "sr is NaN on" in m or "n_valid differs" in m]


def test_a_single_products_gaps_are_counted_not_warned(scene):
    """Clouds leave a MODIS sr NaN where the fine truth is clear on most real pairs: n_valid
    says how many pixels were scored; only images stacked with other gaps are warned about."""
    s, sr = scene
    truth = s["lst_250m"]
    err = abs(sr - truth)
    holes = sr.where(err < float(err.quantile(0.8)))
    holes.attrs = dict(sr.attrs)
    a, _ = _caught(xlstsr.evaluate, sr, truth)
    b, said_b = _caught(xlstsr.evaluate, holes, truth)
    assert not _gap_warnings(said_b)
    assert int(b.n_valid.sum()) < 0.85 * int(a.n_valid.sum())


def test_methods_stacked_with_other_gaps_are_warned(scene):
    s, sr = scene
    truth = s["lst_250m"].isel(time=0)
    one = sr.isel(time=0)
    holes = one.where(one < float(one.quantile(0.9)))
    both = xr.concat([one, holes], dim=xr.DataArray(["complete", "holes"], dims="method",
                                                     name="method")).rio.write_crs(one.rio.crs)
    both.attrs = dict(one.attrs)
    ds, said = _caught(xlstsr.evaluate, both, truth)
    stack = [m for m in said if "n_valid differs along sr's 'method'" in m]
    assert stack and "sr.where(sr.notnull().all('method'))" in stack[0]
    # following the advice: scored alike, on the common pixels, no word
    common = both.where(both.notnull().all("method"))
    ds2, said2 = _caught(xlstsr.evaluate, common, truth)
    assert not _gap_warnings(said2)
    assert ds2.n_valid.values[0] == ds2.n_valid.values[1] == ds.n_valid.values[1]


# --- 5. the fineness warning's advice, followed ------------------------------------------------

def test_aggregate_advice_runs_on_latlon_reference_and_drops_partial_pixels():
    truth, grid = _latlon_truth(), _sin_grid()
    sr = _sr_of(truth, grid)
    yy, xx = np.meshgrid(np.arange(160), np.arange(160), indexing="ij")
    cloudy = truth.where((yy - 80) ** 2 + (xx - 80) ** 2 > 30 ** 2)
    _, said = _caught(xlstsr.evaluate, sr, cloudy)
    advice = [m for m in said if "finer than" in m]
    assert advice
    code = [c for c in re.findall(r"`([^`]*)`", advice[0]) if c.startswith("t4 =")]
    assert code and "set_spatial_dims(x_dim='lon', y_dim='lat')" in code[0]
    ns = {"reference": cloudy, "sr": sr, "np": np, "Resampling": Resampling, "xlstsr": xlstsr}
    exec(code[0], ns)  # as the user would run it: no MissingSpatialDimensionError
    agg = ns["reference"]
    # radiometric footprint mean where fully clear (the truth's own T^4 aggregate)
    exact = _sr_of(truth ** 4, grid) ** 0.25
    clear_cover = xr.ones_like(cloudy).where(cloudy.notnull(), 0.0).rename(
        lat="y", lon="x").rio.write_crs("EPSG:4326").rio.reproject_match(
        sr, resampling=Resampling.average)
    assert int(agg.notnull().sum()) > 0
    assert not bool((agg.notnull() & (clear_cover.values < 0.9)).any())  # partial: dropped
    full = (clear_cover.values == 1) & agg.notnull().values
    np.testing.assert_allclose(agg.values[full], exact.values[full], atol=1e-3)
    ds, said2 = _caught(xlstsr.evaluate, sr, agg)
    assert not [m for m in said2 if "finer than" in m] and int(ds.n_valid) > 0
