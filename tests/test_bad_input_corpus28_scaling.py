"""Bad inputs of corpus 28 for scaling_stats, its figures and the scale correction: advice to pass
``mask_out_of_range=True`` that scaling_stats did not take, figures of results without moment 2,
of an empty step or under ``keep_attrs=False``, fit windows given as arrays, a plane's round-off
spectrum fitted a slope, a cube chunked for time series run as one task, the ``radiometric=False``
hint missing for NDVI / anomalies / lazy input, and plain-mean statistics labelled in Kelvin."""

from __future__ import annotations

import warnings

import dask.array as dsa
import numpy as np
import pytest
import rioxarray  # noqa: F401
import xarray as xr

import xlstsr
import xlstsr.plot as xp
import xlstsr.scaling as xs
from xlstsr.correction import apply_scale_correction
from xlstsr.errors import AllNaNError, PhysicalRangeError, UnitsError
from xlstsr.kernels import scaling as ks
from xlstsr.kernels.interp import cubic_upsample

pytest.importorskip("matplotlib")


def _utm(a, units="K", res=1000.0, crs="EPSG:32631"):
    a = a if isinstance(a, dsa.Array) else np.asarray(a)
    ny, nx = a.shape[-2:]
    coords = {"y": 5e6 - res * (np.arange(ny) + 0.5), "x": 5e5 + res * (np.arange(nx) + 0.5)}
    dims = ("y", "x")
    if a.ndim == 3:
        dims = ("time", "y", "x")
        coords["time"] = np.arange(a.shape[0])
    da = xr.DataArray(a, dims=dims, coords=coords).rio.write_crs(crs)
    if units is not None:
        da.attrs["units"] = units
    return da


def _noise(shape, seed=0, mean=300.0, sd=2.0):
    return mean + sd * np.random.default_rng(seed).standard_normal(shape)


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


# -- 1. mask_out_of_range, as the refusal advises -------------------------------------------------

def test_scaling_stats_takes_the_mask_out_of_range_it_advises():
    a = _noise((64, 64))
    a[:4, :4] = 500.0  # a few garbage pixels
    lst = _utm(a)
    with pytest.raises(PhysicalRangeError, match=r"mask_out_of_range=True"):
        xlstsr.scaling_stats(lst)
    # before: TypeError (no such argument), in the function and the accessors
    st = xlstsr.scaling_stats(lst, mask_out_of_range=True)
    gaps = xlstsr.scaling_stats(lst.where(lst < 400))  # the same pixels as gaps
    xr.testing.assert_identical(st, gaps)
    xr.testing.assert_identical(lst.lstsr.scaling_stats(mask_out_of_range=True), st)
    ds = lst.to_dataset(name="LST")
    xr.testing.assert_identical(ds.lstsr.scaling_stats(variable="LST", mask_out_of_range=True)
                                .drop_attrs(), st.drop_attrs())
    lazy = xlstsr.scaling_stats(lst.chunk({"y": 32}), mask_out_of_range=True).compute()
    xr.testing.assert_identical(lazy, st)


# -- 2. figures of results computed without moment 2 ---------------------------------------------

def test_plots_draw_results_without_moment_2():
    st = xlstsr.scaling_stats(_utm(_noise((2, 64, 64))), moments=(1, 3))
    assert np.isfinite(st.hurst).all()  # fitted on S_2 all the same
    fig = _quiet(xp.scaling, st, path=None)  # before: a bare KeyError of .sel(moment=2)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("2 not in moments" in t for t in labels)
    assert {"q=1", "q=3"} <= set(labels)
    fig = _quiet(xp.compare, {"a": st})
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("2 not in moments" in t for t in labels)


# -- 3. a step without statistics: refused, not a blank figure -----------------------------------

def test_plots_refuse_a_step_without_statistics():
    a = _noise((3, 64, 64))
    a[0] = np.nan  # the first date all cloud
    st = _quiet(xlstsr.scaling_stats, _utm(a))
    with pytest.raises(AllNaNError, match=r"time=0.*reduce='median'"):
        xp.scaling(st, reduce=None)
    with pytest.raises(AllNaNError, match=r"stats\['a'\].*time=0"):
        xp.compare({"a": st}, reduce=None)
    assert len(_quiet(xp.scaling, st).axes) == 4  # the median of the steps with data


# -- 4. a plane's spectrum is round-off: no slope, no break ----------------------------------------

def test_a_ramp_has_no_spectral_slope():
    yy, xx = np.mgrid[0:64, 0:64]
    ramp = 290.0 + 0.01 * xx + 0.02 * yy
    with pytest.warns(UserWarning, match="power spectrum of the field is zero"):
        st = xlstsr.scaling_stats(_utm(ramp))
    assert (st.power_spectrum == 0).all()
    assert np.isnan(float(st.spectral_slope)) and np.isnan(st.spectral_slope_ci).all()
    assert np.isnan(float(st.spectral_break_wavenumber))
    assert abs(float(st.hurst) - 1) < 1e-6  # the increments still describe it
    # the kernel alone: the same; a ramp with structure keeps its slope
    cfg = ks.ScalingConfig(shape=(64, 64), lags=(1, 2, 4), factors=(1, 2, 4), moments=(2,),
                           edges=tuple(xs.log_wavenumber_edges((64, 64), 16)),
                           fit_lags=(1, 4), fit_factors=(1, 2), fit_wavenumbers=(3 / 64, 0.3))
    assert np.isnan(ks.image_stats(ramp, None, cfg)["spectral_slope"])
    assert np.isfinite(ks.image_stats(ramp + _noise((64, 64), sd=0.1) - 300, None,
                                      cfg)["spectral_slope"])


# -- 5. fit windows as arrays ----------------------------------------------------------------------

@pytest.mark.parametrize("name, win", [("fit_lags", (1, 8)), ("fit_factors", (1, 8)),
                                       ("fit_wavenumbers", (0.05, 0.3))])
def test_fit_windows_given_as_arrays(name, win):
    lst = _utm(_noise((64, 64)))
    st = xlstsr.scaling_stats(lst, **{name: np.asarray(win)})  # before: "truth value ambiguous"
    xr.testing.assert_identical(st, xlstsr.scaling_stats(lst, **{name: win}))


# -- 6. a cube chunked for time series: whole images, a few per task --------------------------------

def test_a_cube_chunked_for_time_series_is_not_one_task():
    n, size = 24, 1200
    data = 300 + dsa.zeros((n, size, size), chunks=(n, 300, 300), dtype=np.float32)
    st = xlstsr.scaling_stats(_utm(data))  # the graph only: nothing computed
    per = max(1, xs.TASK_BYTES // (8 * size * size))
    assert max(st.hurst.data.chunks[0]) <= per < n  # before: one task of the 24 images

    sr = dsa.zeros((8, 2400, 2400), chunks=(8, 600, 600), dtype=np.float32)
    out = apply_scale_correction(sr, np.zeros((8, 600, 600)), None, 4, 0.8)
    assert max(out.chunks[0]) <= max(1, xs.TASK_BYTES // (8 * 2400 * 2400))


def test_bounded_time_chunks_give_the_same_results(monkeypatch):
    a = _noise((5, 64, 64))
    lst = _utm(a)
    ref = xlstsr.scaling_stats(lst)
    monkeypatch.setattr(xs, "TASK_BYTES", 2 * 8 * 64 * 64, raising=False)  # two images per task
    lazy = xlstsr.scaling_stats(lst.chunk({"time": -1, "y": 32, "x": 32}))
    assert lazy.hurst.data.chunks[0] == (2, 2, 1)
    xr.testing.assert_identical(lazy.compute(), ref)

    coarse = _noise((5, 16, 16), seed=3)
    sr = cubic_upsample(coarse, 4) + _noise((5, 64, 64), seed=4, mean=0, sd=0.5)
    want = apply_scale_correction(sr, coarse, None, 4, 0.8)
    monkeypatch.setattr(xs, "TASK_BYTES", 8 * 64 * 64, raising=False)  # one fine image per task
    got = apply_scale_correction(dsa.from_array(sr, chunks=(5, 32, 32)), coarse, None, 4, 0.8)
    assert got.chunks[0] == (1,) * 5
    np.testing.assert_array_equal(got.compute(), want)


# -- 7. the radiometric=False hint wherever a field is refused as a temperature -------------------

@pytest.mark.parametrize("case", ["ndvi_units_1", "anomaly_in_K", "celsius_unlabelled_lazy"])
def test_refusals_of_a_field_that_is_no_temperature_name_radiometric_false(case):
    rng = np.random.default_rng(0)
    if case == "ndvi_units_1":
        da = _utm(0.5 + 0.1 * rng.standard_normal((64, 64)), units="1", res=30)
    elif case == "anomaly_in_K":
        da = _utm(rng.standard_normal((64, 64)), units="K", res=30)
    else:
        da = _utm(25 + rng.standard_normal((64, 64)), units=None, res=30).chunk({"y": 32})
    with pytest.raises((UnitsError, PhysicalRangeError), match=r"radiometric=False"):
        xlstsr.scaling_stats(da).compute()
    st = xlstsr.scaling_stats(da, radiometric=False).compute()  # the advice works
    assert np.isfinite(float(st.hurst))


# -- 8. the statistics' units follow the field --------------------------------------------------

def test_plain_mean_statistics_carry_the_fields_units():
    rng = np.random.default_rng(0)
    ndvi = _utm(0.5 + 0.1 * rng.standard_normal((64, 64)), units="1", res=30)
    st = xlstsr.scaling_stats(ndvi, radiometric=False)
    units = {v: st[v].attrs.get("units") for v in ("structure_function", "coarse_variance",
                                                   "within_block_variance", "power_spectrum")}
    assert units == {"structure_function": "1", "coarse_variance": "1",
                     "within_block_variance": "1", "power_spectrum": "pixel^2"}
    fig = xp.scaling(st, metres=False)
    assert "K" not in fig.axes[3].get_ylabel()  # before: "K^2" on an NDVI's variances

    anomaly = _utm(rng.standard_normal((64, 64)), units="K", res=30)
    st = xlstsr.scaling_stats(anomaly, radiometric=False)
    assert st.coarse_variance.attrs["units"] == "K^2"
    assert st.structure_function.attrs["units"] == "K^q"
    lst = xlstsr.scaling_stats(_utm(_noise((64, 64)) - 273.15, units="degC"))
    assert lst.power_spectrum.attrs["units"] == "K^2 pixel^2"  # Kelvin once decoded
    bare = xlstsr.scaling_stats(_utm(rng.standard_normal((64, 64)), units=None),
                                radiometric=False)
    assert "units" not in bare.coarse_variance.attrs  # unknown: not called Kelvin
    assert bare.power_spectrum_wavenumber.attrs["units"] == "cycles/pixel"


# -- 9. figures under xarray's keep_attrs=False ---------------------------------------------------

def test_plots_keep_the_grid_attrs_when_reducing_steps():
    st = xlstsr.scaling_stats(_utm(_noise((3, 64, 64))))
    with xr.set_options(keep_attrs=False):
        fig = _quiet(xp.scaling, st)  # before: drawn in pixels with metres=True
        assert [ax.get_xlabel() for ax in fig.axes] == [
            "lag (m)", "lag (m)", "wavenumber (cycles/m)", "scale (m)"]
        fig = _quiet(xp.compare, {"a": st})  # before: a bare KeyError 'pixel_size'
        assert fig.axes[0].get_xlabel() == "lag (m)"
        assert fig.axes[0].get_ylabel() == "S_2 (K^2)"
