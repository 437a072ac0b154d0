"""Corpus 33f: xlstsr.metrics on Celsius fields, infinite values, unknown units, min_valid,
power-spectrum units and the GridError's selection advice."""

from __future__ import annotations

import os
import re
import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr import metrics as M
from xlstsr.errors import PhysicalRangeError, UnitsError, XlstsrError
from xlstsr.kernels import metrics as K
from xlstsr.kernels.aggregate import radiometric_mean

DATA = "/work/shared/data/yanco_modis_landsat/Landsat_LST_cloudrm_20160205.tif"


@pytest.fixture(scope="module")
def scene():
    return xlstsr.datasets.sample_scene(n_times=1, cloud_fraction=0)


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _celsius(da: xr.DataArray) -> xr.DataArray:
    return (da - 273.15).assign_attrs(units="degC")


# -- 01. SSIM of the same fields in degC and in K --------------------------------------------------

def test_ssim_same_in_declared_celsius_and_kelvin(scene):
    # before: 0.68 in degC, 0.78 in K (the luminance term depends on the zero of the scale)
    shift = float(scene["lst_250m"].mean()) - 274.15  # a night scene around +1 degC
    truth = (scene["lst_250m"] - shift).assign_attrs(units="K")
    sr = (_quiet(xlstsr.upscale, scene["lst_1km"] - shift, 4, method="bicubic") + 0.5
          ).assign_attrs(units="K")
    k = M.ssim(sr, truth).values
    np.testing.assert_allclose(M.ssim(_celsius(sr), _celsius(truth)).values, k, atol=1e-6)
    lazy = M.ssim(_celsius(sr).chunk(), _celsius(truth).chunk()).values
    np.testing.assert_allclose(lazy, k, atol=1e-6)


# -- 02. coarse_consistency on degrees Celsius ----------------------------------------------------

def _fine_and_aggregate(scene, target):
    fine = (scene["lst_250m"] - (float(scene["lst_250m"].mean()) - target)).assign_attrs(units="K")
    coarse = fine.isel(y=slice(0, None, 4), x=slice(0, None, 4)).copy(
        data=radiometric_mean(fine.values, 4))
    coarse = coarse.assign_coords(y=fine.y.values.reshape(-1, 4).mean(1),
                                  x=fine.x.values.reshape(-1, 4).mean(1))
    return fine, coarse


def test_coarse_consistency_converts_declared_celsius(scene):
    # before: the truth against its own radiometric aggregate scored 7.8 K in degC (0 in K)
    for target in (272.15, 298.15):
        fine, coarse = _fine_and_aggregate(scene, target)
        k = float(M.coarse_consistency(fine, coarse, 4)[0])
        c = M.coarse_consistency(_celsius(fine), _celsius(coarse), 4)
        assert abs(float(c[0]) - k) < 1e-4 and c.attrs["units"] == "K"
        # one declared degC, the other unitless Kelvin: converted, scored
        bare = coarse.copy()
        bare.attrs = {}
        assert abs(float(M.coarse_consistency(_celsius(fine), bare, 4)[0]) - k) < 1e-4


def test_coarse_consistency_refuses_unitless_celsius_pair(scene):
    # before: both unitless and in degrees Celsius: the T^4 of Celsius numbers scored as K
    fine, coarse = _fine_and_aggregate(scene, 272.15)
    fc, cc = fine - 273.15, coarse - 273.15
    fc.attrs, cc.attrs = {}, {}
    with pytest.raises(UnitsError, match=r"look like degrees Celsius.*radiometric mean.*"
                                         r"attrs\['units'\] = 'degC'"):
        M.coarse_consistency(fc, cc, 4)
    with pytest.raises(UnitsError, match="look like degrees Celsius"):  # lazy: when computed
        M.coarse_consistency(fc.chunk(), cc.chunk(), 4).compute()
    # both unitless Kelvin: scored as before
    fk, ck = fine.copy(), coarse.copy()
    fk.attrs, ck.attrs = {}, {}
    assert float(M.coarse_consistency(fk, ck, 4)[0]) < 1e-3


# -- 03. infinite values are no gaps ---------------------------------------------------------------

def test_metrics_refuse_infinite_values(scene):
    # before: half of sr at inf was dropped as cloud and the other half scored 1.45 K
    t = scene["lst_250m"]
    sr = _quiet(xlstsr.upscale, scene["lst_1km"], 4, method="bicubic")
    bad = sr.copy()
    bad[0, : sr.sizes["y"] // 2, :] = np.inf
    for fn in (M.rmse, M.ssim, M.n_valid, M.correlation):
        with pytest.raises(PhysicalRangeError, match=r"of sr are infinite.*isfinite"):
            fn(bad, t)
    with pytest.raises(PhysicalRangeError, match="the reference are infinite"):
        M.bias(t, -bad)
    with pytest.raises(PhysicalRangeError, match="infinite"):  # lazy: when computed
        M.rmse(bad.chunk(), t.chunk()).compute()
    with pytest.raises(PhysicalRangeError, match="infinite"):
        M.spectral_ratio(bad, t, 4)
    with pytest.raises(PhysicalRangeError, match="of sr are infinite"):
        M.coarse_consistency(bad, scene["lst_1km"], 4)
    # the kernels: only NaN marks no data there too
    with pytest.raises(ValueError, match="infinite"):
        K.rmse(bad.values, t.values)
    with pytest.raises(ValueError, match="infinite"):
        K.coarse_consistency(bad.values, scene["lst_1km"].values, 4)
    # NaN is still a gap
    gap = sr.where(sr.y > sr.y.median())
    assert np.isfinite(float(M.rmse(gap, t)[0]))


# -- 04. temperature units the metrics do not know --------------------------------------------------

def test_metrics_refuse_unknown_temperature_units(scene):
    # before: rmse(sr in degF, K) = 219.5 'degF' for a 1.5 K error; K*100 scored 29730 'K*100'
    t = scene["lst_250m"]
    sr = _quiet(xlstsr.upscale, scene["lst_1km"], 4, method="bicubic")
    degf = ((sr - 273.15) * 1.8 + 32).assign_attrs(units="degF")
    scaled = (sr * 100).assign_attrs(units="K*100")
    for da, units in ((degf, "degF"), (scaled, "K*100")):
        for fn in (M.rmse, M.bias, M.ssim, M.psnr):
            with pytest.raises(UnitsError, match=f"sr is in '{re.escape(units)}'.*convert it to Kelvin"):
                fn(da, t)
        with pytest.raises(UnitsError, match=f"the reference is in '{re.escape(units)}'"):
            M.rmse(t, da)
    with pytest.raises(UnitsError, match="the coarse input is in 'degF'"):
        M.coarse_consistency(sr, ((scene["lst_1km"] - 273.15) * 1.8 + 32).assign_attrs(
            units="degF"), 4)
    # units of no temperature are still scored as they are
    for units in ("m", "1", "degrees_north", "W m-2"):
        assert not M._unknown_temperature(units)
        other = t.copy().assign_attrs(units=units)
        assert np.isfinite(float(M.rmse(other, other)[0]))


# -- 05. coarse_consistency's min_valid ----------------------------------------------------------

def test_coarse_consistency_checks_min_valid():
    # before: 50 or 2 gave NaN without a word, '0.5' a bare TypeError
    s = xlstsr.datasets.sample_scene(n_times=1, cloud_fraction=0.3)
    sr = _quiet(xlstsr.upscale, s["lst_1km"], 4, method="bicubic")
    for mv in (50, 2, "0.5", 0, -1, np.nan):
        with pytest.raises(XlstsrError, match=r"min_valid must be a finite number > 0 and <= 1"):
            M.coarse_consistency(sr, s["lst_1km"], 4, min_valid=mv)
    assert np.isfinite(float(M.coarse_consistency(sr, s["lst_1km"], 4, min_valid=0.5)[0]))


# -- 07. correlation is unit-free ------------------------------------------------------------------

def test_correlation_and_n_valid_take_any_units(scene):
    # before: declared degC against K refused, while the unitless pair gave r = 1
    t = scene["lst_250m"]
    for other in (_celsius(t), ((t - 273.15) * 1.8 + 32).assign_attrs(units="degF")):
        np.testing.assert_allclose(float(M.correlation(other, t)[0]), 1.0, atol=1e-9)
        assert int(M.n_valid(other, t)[0]) == t.size
    with pytest.raises(UnitsError, match="'degC'"):  # the differences still refuse the mix
        M.rmse(_celsius(t), t)


# -- 08. the power spectrum's units ---------------------------------------------------------------

def test_power_spectrum_units(scene):
    t = scene["lst_250m"]
    p = M.radial_power_spectrum(t)
    assert p.attrs["units"] == "K2 m2"
    assert p.frequency.attrs["units"] == "cycles per metre"
    assert M.radial_power_spectrum(_celsius(t)).attrs["units"] == "K2 m2"
    bare = xr.DataArray(t.values[0], dims=("y", "x")).assign_attrs(units="1")
    q = M.radial_power_spectrum(bare)
    assert q.frequency.attrs["units"] == "cycles per pixel" and q.attrs["units"] == "1 pixel2"
    assert M.radial_power_spectrum(bare, pixel_size=2.0).frequency.attrs["units"] == (
        "cycles per unit of pixel_size")


@pytest.mark.skipif(not os.path.exists(DATA), reason="needs /work/shared/data (Yanco Landsat LST)")
def test_power_spectrum_units_geographic():
    # before: 'cycles per CRS unit (e.g. 1/m)' on an EPSG:4326 grid (cycles per degree)
    import rioxarray

    da = rioxarray.open_rasterio(DATA, mask_and_scale=True).squeeze("band", drop=True).isel(
        y=slice(0, 64), x=slice(0, 64))
    da.attrs["units"] = "K"
    p = M.radial_power_spectrum(da)
    assert p.frequency.attrs["units"] == "cycles per degree"
    assert p.attrs["units"] == "K2 degree2"


# -- 09. a reference covering a window of sr's grid, labels off by round-off ----------------------

def test_reference_window_of_sr_grid_with_round_off_labels(scene):
    # before: refused, and the advice `sr.sel(x=ref.x, y=ref.y)` raised KeyError (labels read
    # back from a GeoTIFF are 3e-11 m off)
    sr = _quiet(xlstsr.upscale, scene["lst_1km"], 4, method="bicubic")
    t = scene["lst_250m"].isel(y=slice(5, 45), x=slice(10, 60))
    px = float(sr.x[1] - sr.x[0])
    ref = t.assign_coords(x=t.x.values + 1e-9 * px, y=t.y.values - 1e-9 * px)
    with pytest.raises(KeyError):
        sr.sel(x=ref.x, y=ref.y)
    want = M.rmse(sr.sel(x=t.x, y=t.y), t).values
    np.testing.assert_allclose(M.rmse(sr, ref).values, want, rtol=1e-12)
    flipped = sr.isel(y=slice(None, None, -1))  # south-up sr: the window by position too
    np.testing.assert_allclose(M.rmse(flipped, ref).values, want, rtol=1e-12)
    np.testing.assert_allclose(M.rmse(sr.chunk(), ref).values, want, rtol=1e-12)
    # other pixels (half a pixel off) are still refused
    with pytest.raises(xlstsr.errors.GridError, match="not on the same grid"):
        M.rmse(sr, t.assign_coords(x=t.x + px / 2))
