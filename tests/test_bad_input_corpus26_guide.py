"""Guide and step-pairing messages found wanting in session 26: a one-band guide on the LST's
grid, undecoded CF time labels, a band-numbered truth stack, a constant guide."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xlstsr
from xlstsr import errors
from xlstsr.guide import guide_on_lst_grid

# -- a one-band guide on the LST's own grid ------------------------------------------------------


def _coarse_ndvi(scene):
    """The scene's NDVI averaged onto the LST's 1 km grid, with the LST's CRS."""
    nd = scene["ndvi_250m"].coarsen(y=4, x=4).mean()
    nd = nd.assign_coords(y=scene["lst_1km"].y.values, x=scene["lst_1km"].x.values)
    return nd.rio.write_crs(scene["lst_1km"].rio.crs)


def test_band1_guide_on_the_lst_grid_is_its_one_band():
    """(band=1, y, x), as rioxarray reads every GeoTIFF, was refused on the LST's grid with
    "extra dims ['band']: pass a single band" (it is one); a nested finer grid took it."""
    scene = xlstsr.datasets.sample_scene(n_times=2, size=128)
    lst, nd = scene["lst_1km"], _coarse_ndvi(scene)
    one = nd.expand_dims(band=[1])
    got = guide_on_lst_grid(one, lst, ("time",))
    np.testing.assert_array_equal(got, guide_on_lst_grid(nd, lst, ("time",)))
    a = xlstsr.scaling_stats(lst, one)
    b = xlstsr.scaling_stats(lst, nd)
    np.testing.assert_allclose(a.guide_correlation.values, b.guide_correlation.values)
    # two bands stay refused, with a selection that works
    two = xr.concat([nd, nd * 0.9], dim=pd.Index([1, 2], name="band"))
    with pytest.raises(errors.GridError, match=r"extra dims \['band'\].*guide\.isel\(band=0\)"):
        guide_on_lst_grid(two, lst, ("time",))
    np.testing.assert_array_equal(guide_on_lst_grid(two.isel(band=0), lst, ("time",)), got)


def test_real_mod13a2_band1_guide_on_the_lst_grid(shared_data):
    import rioxarray

    d = shared_data / "modis_h18v04_2020" / "cogs"
    win = dict(y=slice(0, 64), x=slice(960, 1024))

    def read(name):
        return rioxarray.open_rasterio(d / name, mask_and_scale=True).isel(**win)

    lst = read("MOD11A1.A2020001.h18v04.061_LST_Day_1km.tif").squeeze("band", drop=True)
    red = read("MOD13A2.A2020001.h18v04.061_red.tif")
    nir = read("MOD13A2.A2020001.h18v04.061_nir.tif")
    ndvi = (nir - red) / (nir + red)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = xlstsr.scaling_stats(lst, ndvi)
        b = xlstsr.scaling_stats(lst, ndvi.squeeze("band", drop=True))
    np.testing.assert_allclose(a.guide_correlation.values, b.guide_correlation.values)


# -- undecoded CF time labels --------------------------------------------------------------------


def test_undecoded_cf_time_labels_are_told_to_decode():
    """time [0, 1, 2] 'days since 2020-07-01' (decode_cf=False) against a dated guide: the fix
    read them as days of the year (2019-12-31...), refused again."""
    scene = xlstsr.datasets.sample_scene(size=32)
    lst0, nd = scene["lst_1km"], scene["ndvi_250m"]
    guide = xr.concat([nd, nd * 0.95, nd * 0.9], dim=pd.Index(lst0.time.values, name="time"))
    lst = lst0.assign_coords(time=[0, 1, 2])
    lst.time.attrs["units"] = "days since 2020-07-01"
    with pytest.raises(errors.GuideTimeError, match=r"days since 2020-07-01.*xr\.decode_cf") as err:
        xlstsr.upscale(lst, 4, "tsharp", guide=guide, guide_offset="ignore")
    assert "days of the year" not in str(err.value)
    fix = re.findall(r"`(lst = xr\.decode_cf[^`]*)`", str(err.value))[0]
    ns = {"lst": lst, "xr": xr}
    exec(fix, ns)
    out = xlstsr.upscale(ns["lst"], 4, "tsharp", guide=guide, guide_offset="ignore")
    assert out.time.values.tolist() == lst0.time.values.tolist()
    # numbers without CF units keep the day-of-year hint
    with pytest.raises(errors.GuideTimeError, match="for days of the year"):
        xlstsr.upscale(lst0.assign_coords(time=[183, 184, 185]), 4, "tsharp", guide=guide,
                       guide_offset="ignore")


# -- a band-numbered truth stack -----------------------------------------------------------------


@pytest.fixture
def band_stack():
    rng = np.random.default_rng(3)
    n = 32
    coords = {"time": pd.to_datetime(["2020-07-01", "2020-07-02", "2020-07-03"]),
              "y": 5_000_000 - 125 - 250 * np.arange(n), "x": 125 + 250 * np.arange(n)}
    sr = xr.DataArray((295 + rng.standard_normal((3, n, n))).astype("float32"),
                      dims=("time", "y", "x"), coords=coords, attrs={"units": "K"})
    sr = sr.rio.write_crs("EPSG:32631")
    reference = (sr + 1.0).rename(time="band").assign_coords(band=[1, 2, 3])
    reference.attrs = {"units": "K"}
    return sr, reference


def _fix(err: pytest.ExceptionInfo) -> str:
    return re.findall(r"`(reference(?:\['time'\])? = [^`]*)`", str(err.value))[0]


def test_a_band_numbered_truth_stack_gets_fixes_that_work(band_stack):
    """rename(band -> time) was suggested, then pd.to_datetime of the band numbers (1970 ns
    dates, refused again)."""
    sr, reference = band_stack
    with pytest.raises(errors.GridError, match=r"dim 'band'.*swap_dims") as err:
        xlstsr.evaluate(sr, reference)
    ns = {"reference": reference, "sr": sr, "pd": pd}
    exec(_fix(err), ns)
    np.testing.assert_allclose(xlstsr.evaluate(sr, ns["reference"]).bias.values, -1.0, atol=1e-4)
    # renamed by hand: integer labels are not text, and the dates of sr are given
    renamed = reference.rename(band="time")
    with pytest.raises(errors.GridError, match=r"numbers.*assign_coords") as err:
        xlstsr.evaluate(sr, renamed)
    assert "to_datetime" not in str(err.value) and "text?" not in str(err.value)
    ns = {"reference": renamed, "sr": sr, "pd": pd}
    exec(_fix(err), ns)
    np.testing.assert_allclose(xlstsr.evaluate(sr, ns["reference"]).bias.values, -1.0, atol=1e-4)
    # dates written as numbers are parsed with their format
    for labels in ([20200701, 20200702, 20200703], [2020183, 2020184, 2020185]):
        ref = renamed.assign_coords(time=labels)
        with pytest.raises(errors.GridError, match="format=") as err:
            xlstsr.evaluate(sr, ref)
        ns = {"reference": ref.copy(), "sr": sr, "pd": pd}
        exec(_fix(err), ns)
        assert ns["reference"].time.values.tolist() == sr.time.values.tolist()
    # a dim of sr's labels under another name keeps the plain rename
    with pytest.raises(errors.GridError, match=r"rename\(\{'date': 'time'\}\)"):
        xlstsr.evaluate(sr, (sr + 1.0).rename(time="date"))


# -- a constant guide ----------------------------------------------------------------------------


def _pair(n: int = 32, f: int = 4):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:n * f, 0:n * f] / (n * f)
    ndvi = (0.2 + 0.5 * (0.5 + 0.5 * np.sin(6 * xx) * np.cos(5 * yy))
            + 0.02 * rng.standard_normal((n * f, n * f)))
    coarse = (320 - 25 * ndvi).reshape(n, f, n, f).mean(axis=(1, 3))
    lst = xr.DataArray(
        coarse[None].astype("float32"), dims=("time", "y", "x"),
        coords={"time": np.array(["2020-07-01"], "datetime64[ns]"),
                "y": 5e5 - (np.arange(n) + .5) * 1000, "x": 4e5 + (np.arange(n) + .5) * 1000},
        attrs={"units": "K"}).rio.write_crs("EPSG:32631")
    guide = xr.DataArray(
        ndvi.astype("float32"), dims=("y", "x"),
        coords={"y": 5e5 - (np.arange(n * f) + .5) * 250,
                "x": 4e5 + (np.arange(n * f) + .5) * 250}).rio.write_crs("EPSG:32631")
    return lst, guide


@pytest.mark.parametrize("method", ["tsharp", "dms", "disr"])
def test_a_constant_guide_is_refused(method):
    """An NDVI read as all fill 0 (or cast to int) was taken silently: the result unguided
    (disr 6.6 K from its guided one), a raw numpy RuntimeWarning the only sign."""
    lst, guide = _pair()
    empty = (guide * 0).astype("int16").rio.write_crs("EPSG:32631")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no raw 'invalid value in divide'
        with pytest.raises(errors.UndeclaredFillError,
                           match=r"one value \(0\) on all its 16384 valid pixels.*astype\(int\)"):
            xlstsr.upscale(lst, 4, method, guide=empty)
    with pytest.raises(errors.UndeclaredFillError, match="one value"):
        xlstsr.upscale(lst, 4, method, guide=guide.astype("int16"), guide_offset="ignore")


def test_a_constant_dask_guide_is_refused_and_a_partly_constant_one_is_not():
    lst, guide = _pair()
    empty = (guide * 0 + 0.3).rio.write_crs("EPSG:32631")
    out = xlstsr.upscale(lst.chunk({"time": 1}), 4, "tsharp", guide=empty.chunk({"y": 32, "x": 32}))
    with pytest.raises(errors.UndeclaredFillError, match=r"one value \(0.3\)"):
        out.compute()
    # a window of one value (water), even a whole dask block of it, is fine
    part = guide.copy()
    part[:64, :64] = 0.0
    a = xlstsr.upscale(lst, 4, "tsharp", guide=part)
    b = xlstsr.upscale(lst.chunk({"time": 1}), 4, "tsharp",
                       guide=part.chunk({"y": 32, "x": 32})).compute()
    assert np.isfinite(a.values).all()
    np.testing.assert_allclose(a.values, b.values, atol=1e-3)


def test_a_guide_constant_on_every_step_is_refused_one_constant_step_is_not():
    lst1, guide = _pair()
    t = pd.date_range("2020-07-01", periods=2)
    lst = xr.concat([lst1.isel(time=0)] * 2, dim=pd.Index(t, name="time"))
    flat = xr.concat([guide * 0, guide * 0 + 1], dim=pd.Index(t, name="time"))
    with pytest.raises(errors.UndeclaredFillError, match="one value on each step's"):
        xlstsr.upscale(lst, 4, "tsharp", guide=flat, guide_offset="ignore")
    one = xr.concat([guide * 0, guide], dim=pd.Index(t, name="time"))
    out = xlstsr.upscale(lst, 4, "tsharp", guide=one, guide_offset="ignore")
    assert np.isfinite(out.values).all()
