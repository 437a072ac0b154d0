"""Probe 46 S fixes: the scaling CLI refuses a constant file and warns a constant step (as
scaling_stats does in memory); apply_scale_correction's early check reads a labelled lst's
spatial sizes; the reprojection advice on lat/lon dims runs; the NaN-Hurst advice works in
Python and on the command line (--fit-lags); scattered gaps that bias spectral_slope warn."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio  # noqa: F401  (the advice's `rasterio.enums.Resampling`, evaluated below)
import rioxarray  # noqa: F401
import xarray as xr

import xlstsr
from xlstsr.cli import main


def _utm(a: np.ndarray, dims=("y", "x"), step: float = 1000.0) -> xr.DataArray:
    ny, nx = a.shape[-2:]
    coords = {"y": 1e5 - step * np.arange(ny) - step / 2, "x": 3e5 + step * np.arange(nx) + step / 2}
    if len(dims) == 3:
        coords["time"] = np.arange(a.shape[0]).astype("datetime64[D]").astype("datetime64[ns]")
    return xr.DataArray(a, dims=dims, coords=coords, attrs={"units": "K"}).rio.write_crs(
        "EPSG:32631")


def _fbm(n: int, h: float, seed: int = 0) -> np.ndarray:
    """An fBm-like surface (spectral synthesis: power ~ k^-(2H+2)), about 300 K."""
    rng = np.random.default_rng(seed)
    ky, kx = np.meshgrid(np.fft.fftfreq(n), np.fft.fftfreq(n), indexing="ij")
    k = np.hypot(ky, kx)
    k[0, 0] = np.inf
    f = np.fft.ifft2(k ** (-(h + 1)) * np.exp(2j * np.pi * rng.random((n, n)))).real
    return 300 + 3 * (f - f.mean()) / f.std()


def _run(capsys, *argv) -> tuple[int, str]:
    try:
        rc = main(["scaling", *map(str, argv)])
    except SystemExit as e:  # argparse's usage errors
        rc = e.code
    return rc, capsys.readouterr().err


# --- 5: the CLI (lazy read) refuses a constant file, warns a constant step -----------------

def test_cli_refuses_constant_file(tmp_path, capsys):
    p = tmp_path / "const.tif"
    _utm(np.full((64, 64), 300.0, np.float32)).rio.to_raster(p)
    rc, err = _run(capsys, p, tmp_path / "c.csv")
    assert rc != 0 and "constant (300 on every valid pixel)" in err
    assert "`--nodata 300`" in err and not (tmp_path / "c.csv").exists()
    # its advice followed: the fill is masked, and a file of nothing else is refused as such
    rc, err = _run(capsys, p, tmp_path / "c.csv", "--nodata", "300")
    assert rc != 0 and "holds no valid pixel" in err and not (tmp_path / "c.csv").exists()


def test_cli_constant_scaled_file_is_advised_its_stored_value(tmp_path, capsys):
    """Review 46g/1: a file of stored 15000 read with --scale 0.02 was advised `--nodata 300`
    (the decoded value), refused again when followed; --nodata takes the value as stored."""
    p = tmp_path / "const_raw.tif"
    _utm(np.full((64, 64), 15000, np.uint16)).rio.to_raster(p)
    rc, err = _run(capsys, p, tmp_path / "c.csv", "--scale", "0.02")
    assert rc != 0 and "`--nodata 15000`" in err, err
    rc, err = _run(capsys, p, tmp_path / "c.csv", "--scale", "0.02", "--nodata", "15000")
    assert rc != 0 and "holds no valid pixel" in err and not (tmp_path / "c.csv").exists()


def test_cli_warns_constant_step(tmp_path, capsys):
    a = (300 + np.random.default_rng(0).standard_normal((2, 64, 64))).astype(np.float32)
    a[1] = 300
    p = tmp_path / "s.nc"
    _utm(a, ("time", "y", "x")).to_netcdf(p)
    rc, err = _run(capsys, p, tmp_path / "s.csv")
    assert rc == 0 and "steps time=1970-01-02 of the field are constant" in err  # its label


# --- 4: apply_scale_correction with a (y, x, time) lst ---------------------------------------

def test_scale_correction_time_last_lst():
    from xlstsr.correction import apply_scale_correction
    from xlstsr.kernels.aggregate import radiometric_mean
    from xlstsr.kernels.interp import cubic_upsample

    rng = np.random.default_rng(0)
    t = 300 + np.cumsum(np.cumsum(rng.standard_normal((3, 128, 128)), 1), 2) * 0.05
    lst = np.stack([radiometric_mean(x, 4) for x in t])
    base = np.stack([cubic_upsample(v, 4) for v in lst])
    sr = _utm(base + 1.5 * (t - base), ("time", "y", "x"), 250.0)
    lst = _utm(lst, ("time", "y", "x"))
    ref = apply_scale_correction(sr, lst, None, 4, "auto")
    out = apply_scale_correction(sr, lst.transpose("y", "x", "time"), None, 4, "auto")
    np.testing.assert_allclose(np.asarray(out), np.asarray(ref))


# --- 1: the reprojection advice on lat/lon dims runs -----------------------------------------

def _lonlat() -> xr.DataArray:
    n = 64
    lat = 34.0 - 0.001 * np.arange(n)
    lon = -118.0 + 0.001 * np.arange(n)
    return xr.DataArray(_fbm(n, 0.4), dims=("lat", "lon"), coords={"lat": lat, "lon": lon},
                        attrs={"units": "K"}).rio.write_crs("EPSG:4326")


@pytest.mark.parametrize("where", ["scaling_stats", "radial_power_spectrum"])
def test_lonlat_reprojection_advice_runs(where):
    lst = da = _lonlat()  # noqa: F841  (the advice names `lst` or `da`)
    f = (xlstsr.scaling_stats if where == "scaling_stats"
         else xlstsr.metrics.radial_power_spectrum)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        f(lst)
    (advice,) = [str(x.message) for x in w if "reproject" in str(x.message)]
    code = advice.split("`")[1]
    assert "set_spatial_dims(x_dim='lon', y_dim='lat')" in code
    out = eval(code)
    assert out.rio.crs.to_epsg() == 32611
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # square ground metres now
        f(out.where(out != out.rio.nodata) if out.rio.nodata is not None else out)


# --- 2: the NaN-Hurst advice works when followed ---------------------------------------------

def test_nan_hurst_advice_python():
    lst = _utm(_fbm(128, 0.4))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        st = xlstsr.scaling_stats(lst, lags=(1, 16, 32))
    assert np.isnan(float(st.hurst))
    (msg,) = [str(x.message) for x in w if "hurst" in str(x.message)]
    assert "lags that include 1" not in msg  # they did, and H stayed NaN
    assert "fit_lags=(1, 32)" in msg
    lags = eval(msg.split("e.g. lags=")[1].rstrip("."))
    for kw in ({"lags": (1, 16, 32), "fit_lags": (1, 32)}, {"lags": lags}):
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            assert np.isfinite(float(xlstsr.scaling_stats(lst, **kw).hurst))


def test_nan_hurst_advice_cli(tmp_path, capsys):
    p = tmp_path / "f.tif"
    _utm(_fbm(128, 0.4).astype(np.float32)).rio.to_raster(p)
    out = tmp_path / "t.csv"
    rc, err = _run(capsys, p, out, "--lags", "1,16,32")
    assert rc == 0 and "`--fit-lags 1,32`" in err
    rc, err = _run(capsys, p, out, "--lags", "1,16,32", "--fit-lags", "1,32", "--overwrite")
    assert rc == 0 and "hurst" not in err
    import pandas as pd

    assert np.isfinite(pd.read_csv(out)["hurst"]).all()
    rc, err = _run(capsys, p, out, "--fit-lags", "1", "--overwrite")
    assert rc != 0 and "--fit-lags takes two numbers" in err


# --- 3: scattered gaps that bias spectral_slope warn -----------------------------------------

def _gappy(frac: float) -> tuple[xr.DataArray, xr.DataArray]:
    full = _utm(_fbm(256, 0.4, seed=1))
    return full, full.where(np.random.default_rng(2).random(full.shape) >= frac)


def _scattered_warnings(da: xr.DataArray) -> tuple[list[str], xr.Dataset]:
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        st = xlstsr.scaling_stats(da)
    return [str(x.message) for x in w if "isolated gap" in str(x.message)], st


def test_scattered_gaps_warn_and_fix_works():
    full, gappy = _gappy(0.10)
    msgs, st = _scattered_warnings(gappy)
    ref = float(xlstsr.scaling_stats(full).spectral_slope)
    assert float(st.spectral_slope) - ref > 0.3  # the bias warned about
    assert len(msgs) == 1 and "biased" in msgs[0] and "%" in msgs[0]
    env = {"lst": gappy}
    exec(msgs[0].split("`")[1], env)  # `lst = lst.fillna(...)` (47: isolated gaps alone)
    filled = env["lst"]
    msgs, st = _scattered_warnings(filled)
    assert not msgs and abs(float(st.spectral_slope) - ref) < 0.15


def test_few_scattered_gaps_stay_silent():
    msgs, _ = _scattered_warnings(_gappy(0.01)[1])
    assert not msgs


def test_scattered_gaps_warned_on_cli(tmp_path, capsys):
    p = tmp_path / "g.tif"
    _gappy(0.10)[1].astype(np.float32).rio.to_raster(p)
    rc, err = _run(capsys, p, tmp_path / "g.csv")
    assert rc == 0 and err.count("isolated gap pixels") == 1


def test_scattered_gaps_warning_names_a_few_steps_of_a_long_series():
    """Regression probe 46: SEVIRI's 96 quarter-hours, all speckled, were all listed."""
    from xlstsr.scaling import _warn_scattered_gaps

    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        _warn_scattered_gaps(np.full(96, 0.05), ("time",), ("y", "x"))
    msg = str(said[0].message)
    assert "steps [0, 1, 2, 3, 4, ... (96 in all)] (time) have" in msg, msg
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        _warn_scattered_gaps(np.array([0.0, 0.05, 0.05]), ("time",), ("y", "x"))
    assert "steps [1, 2] (time) have" in str(said[0].message)
