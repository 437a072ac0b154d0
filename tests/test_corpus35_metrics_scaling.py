"""Corpus 35 (metrics and scaling statistics): a reference stored as products store it scored as
Kelvin, the radial spectrum of non-square pixels, a projected CRS's metres taken as ground
metres, the guide's statistics without units."""

from __future__ import annotations

import os
import re
import warnings

import numpy as np
import pytest
import rioxarray
import xarray as xr
from pyproj import CRS, Geod, Transformer

import xlstsr
from xlstsr import metrics as M
from xlstsr.errors import GridError, PhysicalRangeError, ScaledIntegerError, UndeclaredFillError

ASTER = "/work/shared/data/modis_aster/001_aster_lst_250m.tif"
SIN = CRS.from_proj4("+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs")
MODIS_PIXEL = 926.625433


def _bare(da: xr.DataArray) -> xr.DataArray:
    """``da`` without attributes (no units)."""
    out = da.copy()
    out.attrs = {}
    return out


def _kelvin(n: int = 64, seed: int = 0) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    y = 3.7e6 - 250.0 * np.arange(n)
    x = 4e5 + 250.0 * np.arange(n)
    t = 305.0 + 4.0 * rng.standard_normal((n, n))
    return xr.DataArray(t, dims=("y", "x"), coords={"y": y, "x": x},
                        attrs={"units": "K"}).rio.write_crs(32611)


def _stored(t: xr.DataArray, scale: float, dtype: str, fill_share: float = 0.3) -> xr.DataArray:
    """``t`` as a product stores it without saying so: Kelvin / scale, 0 outside (the first
    rows), no units, no scale or fill attribute."""
    raw = np.round(t.values / scale).astype(dtype)
    raw[: int(fill_share * raw.shape[0])] = 0
    return _bare(t.copy(data=raw))


# -- 01. the metrics score a reference stored as K x 10 / digital numbers -----------------------

@pytest.mark.parametrize(("scale", "dtype"), [(0.1, "float32"), (0.02, "uint16")])
def test_metrics_refuse_an_undeclared_scale_and_fill(scale, dtype):
    # before: RMSE of thousands of K without a word (ASTER as read: 2769 K, MOD11A2 DNs: 14527 K)
    sr = _kelvin()
    ref = _stored(sr, scale, dtype)
    for metric in (M.rmse, M.bias, M.mae, M.psnr):
        with pytest.raises(ScaledIntegerError, match=re.escape(
                f"ref = (ref.where(ref != 0) * {scale:g}).assign_attrs(units='K')")):
            metric(sr, ref)
    # fill masked by the user, still scaled: the scale named without the mask
    masked = ref.where(ref != 0)
    with pytest.raises(ScaledIntegerError, match=re.escape(f"ref = (ref * {scale:g})")):
        M.rmse(sr, masked)
    # the advice followed: scored, within the quantisation of the stored values
    fixed = (ref.where(ref != 0) * scale).assign_attrs(units="K")
    assert float(M.rmse(sr, fixed)) <= scale
    # sr without units against a Kelvin reference: the same check
    with pytest.raises(ScaledIntegerError, match=re.escape(f"sr = (sr * {scale:g})")):
        M.rmse(masked.rename("sr"), fixed)


def test_metrics_refuse_an_undeclared_fill_in_kelvin():
    sr = _kelvin()
    ref = _bare(sr.copy(data=np.where(np.arange(64)[:, None] < 20, 0.0, sr.values)))
    with pytest.raises(UndeclaredFillError, match=re.escape("ref = ref.where(ref != 0)")):
        M.rmse(sr, ref)
    # a few pixels of a fill too rare to be found as one: evaluate's check_possible_kelvin
    few = _bare(sr.copy(data=sr.values.copy()))
    few.values[3, 3:6] = -9999.0
    with pytest.raises(UndeclaredFillError, match=re.escape("ref.where(ref != -9999)")):
        M.rmse(sr, few)


def test_metrics_refuse_values_of_no_known_scale_and_lazily():
    sr = _kelvin()
    ref = _bare(sr * 7.0)  # no usual stored scale
    with pytest.raises(PhysicalRangeError, match="no temperature in Kelvin"):
        M.rmse(sr, ref)
    lazy = M.rmse(sr.chunk(), _stored(sr, 0.1, "float32").chunk())  # nothing computed yet
    with pytest.raises(ScaledIntegerError, match=re.escape("* 0.1")):
        lazy.compute()


def test_metrics_still_score_kelvin_without_units_and_other_quantities():
    sr = _kelvin()
    bare = _bare(sr + 0.5)
    assert float(M.rmse(sr, bare)) == pytest.approx(0.5)
    assert float(M.rmse(bare, sr)) == pytest.approx(0.5)
    # fields of no temperature, or two fields without units and not in Kelvin: as before
    ndvi = sr.copy(data=np.random.default_rng(1).random((64, 64))).assign_attrs(units="1")
    assert np.isfinite(float(M.rmse(ndvi, ndvi + 0.1)))
    counts = _bare(sr * 10)
    assert float(M.rmse(counts + 1, counts)) == pytest.approx(1.0)


@pytest.mark.skipif(not os.path.exists(ASTER), reason="needs /work/shared/data (modis_aster)")
def test_metrics_refuse_the_aster_file_as_read():
    aster = rioxarray.open_rasterio(ASTER).squeeze("band", drop=True)[:128, 200:328]  # 35 % fill
    kelvin = (aster.where(aster != 0) * 0.1).assign_attrs(units="K")
    with pytest.raises(ScaledIntegerError, match=r"Kelvin x 10 \(as ASTER stores it\)"):
        M.rmse(kelvin + 0.5, aster)
    assert float(M.rmse(kelvin + 0.5, kelvin)) == pytest.approx(0.5)


# -- 02. radial_power_spectrum: the x pixel taken along both axes, degrees as 'CRS unit' --------

def _grid(dy: float, dx: float, values: np.ndarray, crs=32611) -> xr.DataArray:
    ny, nx = values.shape
    y = 3.7e6 - dy * np.arange(ny)
    x = 4e5 + dx * np.arange(nx)
    return xr.DataArray(values, dims=("y", "x"), coords={"y": y, "x": x},
                        attrs={"units": "K"}).rio.write_crs(crs)


def test_radial_spectrum_refuses_non_square_pixels():
    # before: on 70 x 140 m pixels a 1120 m wave along y peaked at 1/560 m, no warning
    y = 140.0 * np.arange(64)
    wave = 300 + np.sin(2 * np.pi * y[:, None] / 1120.0) * np.ones((1, 64))
    da = _grid(140.0, 70.0, wave)
    for size in (None, 70.0):
        with pytest.raises(GridError, match=r"not square \(140 m along y, 70 m along x\)"):
            M.radial_power_spectrum(da, pixel_size=size)
    # the same wave on square pixels peaks at its own frequency
    sq = _grid(140.0, 140.0, wave)
    p = M.radial_power_spectrum(sq)
    peak = float(p.frequency[int(p.argmax("frequency"))])
    assert peak == pytest.approx(1 / 1120.0, rel=0.1)
    assert p.frequency.attrs["units"] == "cycles per metre" and p.attrs["units"] == "K2 m2"


def test_radial_spectrum_of_lat_lon_dims_without_crs_is_in_degrees():
    # before: 'cycles per CRS unit' (scaling.pixel_size knew it was degrees)
    ll = xr.DataArray(300 + np.random.default_rng(0).standard_normal((64, 64)),
                      dims=("lat", "lon"), attrs={"units": "K"},
                      coords={"lat": 40 - 0.01 * np.arange(64), "lon": 0.01 * np.arange(64)})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        p = M.radial_power_spectrum(ll)
    assert p.frequency.attrs["units"] == "cycles per degree"
    assert p.attrs["units"] == "K2 degree2"
    # square in degrees, not on the ground at 40 N: warned as scaling_stats warns
    assert any("not on the ground" in str(w.message) for w in caught)


# -- 03. scaling_stats: a projected CRS's metres taken as ground metres ----------------------------

def _projected(crs, lon0: float, lat0: float, step: float, n: int = 64) -> xr.DataArray:
    x0, y0 = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon0, lat0)
    x = x0 + step * (np.arange(n) - n / 2)
    y = y0 - step * (np.arange(n) - n / 2)
    rng = np.random.default_rng(0)
    return xr.DataArray(300 + rng.standard_normal((n, n)), dims=("y", "x"),
                        coords={"y": y, "x": x}, attrs={"units": "K"}).rio.write_crs(crs)


def _ground_steps(da: xr.DataArray) -> tuple[float, float]:
    """Ground lengths (m) of one step along x and along y at the centre pixel."""
    crs = CRS.from_user_input(da.rio.crs)
    back = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    n = da.sizes["x"] // 2
    x, y = da.x.values, da.y.values
    lon, lat = back.transform([x[n], x[n + 1], x[n]], [y[n], y[n], y[n + 1]])
    g = Geod(ellps="WGS84")
    return g.inv(lon[0], lat[0], lon[1], lat[1])[2], g.inv(lon[0], lat[0], lon[2], lat[2])[2]


def _ground_warnings(fn, *args, **kwargs) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn(*args, **kwargs)
    return [str(w.message) for w in caught if "not ground metres" in str(w.message)]


@pytest.mark.parametrize(("crs", "lon", "lat", "step", "zone"), [
    (SIN, -118.2, 34.0, MODIS_PIXEL, "EPSG:32611"),  # MODIS h08v05: sheared, 1415 m along y
    ("EPSG:3857", 10.0, 60.0, 100.0, "EPSG:32632"),  # Web Mercator at 60 N: 50 m pixels
])
def test_scaling_stats_warns_when_crs_metres_are_not_ground_metres(crs, lon, lat, step, zone):
    # before: pixel_size 926.6 'm' / 100 'm' and no warning (only lon/lat grids warned)
    da = _projected(crs, lon, lat, step)
    gx, gy = _ground_steps(da)
    assert max(abs(gx / step - 1), abs(gy / step - 1)) > 0.02  # the premise
    found = _ground_warnings(xlstsr.scaling_stats, da, lags=(1, 2, 4), factors=(1, 2, 4))
    assert len(found) == 1, found
    got = re.search(r"one pixel step is ([\d.e+]+) m along x and ([\d.e+]+) m along y", found[0])
    assert got is not None, found[0]
    assert float(got.group(1)) == pytest.approx(gx, rel=0.01)
    assert float(got.group(2)) == pytest.approx(gy, rel=0.01)
    assert zone in found[0] and "Resampling.average" in found[0]
    # the spectrum reads its frequencies from the same grid: warned too
    assert _ground_warnings(M.radial_power_spectrum, da)


@pytest.mark.parametrize(("crs", "lon", "lat", "step"), [
    ("EPSG:32611", -118.2, 34.0, MODIS_PIXEL),  # UTM: ground metres to 0.02 %
    ("EPSG:3035", 10.0, 52.0, 1000.0),  # LAEA Europe near its centre
    (SIN, 2.0, 45.0, MODIS_PIXEL),  # sinusoidal near its central meridian
])
def test_scaling_stats_takes_ground_metres_silently(crs, lon, lat, step):
    da = _projected(crs, lon, lat, step)
    assert not _ground_warnings(xlstsr.scaling_stats, da, lags=(1, 2, 4), factors=(1, 2, 4))


def test_scaling_stats_outside_the_crs_area_runs_unwarned():
    # Web Mercator with y in millimetres: the centre lies past the pole, both ground steps are
    # 0 m (before: a bare ZeroDivisionError from the ground-metre check)
    n = 32
    da = xr.DataArray(290 + np.random.default_rng(0).standard_normal((n, n)), dims=("y", "x"),
                      coords={"y": 3e8 - 100 * (np.arange(n) + 0.5), "x": 100 * (np.arange(n) + 0.5)},
                      attrs={"units": "K"}).rio.write_crs("EPSG:3857")
    assert not _ground_warnings(xlstsr.scaling_stats, da, lags=(1, 2), factors=(1, 2))


def test_sample_scene_is_ground_metres():
    lst = xlstsr.datasets.sample_scene(n_times=1, size=128)["lst_1km"]
    assert not _ground_warnings(xlstsr.scaling_stats, lst)


# -- 04. the guide's statistics without units ------------------------------------------------------

def test_guide_statistics_carry_the_guide_units():
    s = xlstsr.datasets.sample_scene(n_times=1, size=128)
    lst, ndvi = s["lst_1km"], s["ndvi_250m"]
    names = ("guide_coarse_variance", "guide_within_block_variance",
             "guide_within_block_prefactor")
    for units, expected in (("1", "1"), ("W m-2", "(W m-2)^2"), ("mm", "mm^2")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            st = xlstsr.scaling_stats(lst, ndvi.assign_attrs(units=units), factors=(1, 2, 4, 8))
        for v in names:
            assert st[v].attrs.get("units") == expected, (units, v)
        assert st["coarse_variance"].attrs["units"] == "K^2"  # the LST's own: unchanged
    bare = ndvi.copy()
    bare.attrs.pop("units", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        st = xlstsr.scaling_stats(lst, bare, factors=(1, 2, 4, 8))
    assert all("units" not in st[v].attrs for v in names)
