"""Bad input, corpus 24: steps of other dates in xlstsr.metrics and steps.pair_steps, the
comparison figure (dims order, a truth one pixel off) and the spectrum of a cube with a cloudy
step."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr import metrics as M
from xlstsr.errors import AllNaNError, GridError
from xlstsr.steps import pair_steps


@pytest.fixture(scope="module")
def cube() -> xr.DataArray:
    return xlstsr.datasets.sample_scene(n_times=3, size=32)["lst_250m"]


# -- metrics: steps paired by label -------------------------------------------------------------

def test_metrics_refuse_a_reference_of_other_steps(cube):
    # before: a number for two scalar dates two days apart, each step scored against one
    # .sel(time=t) date, and a 3 x 3 table for a truth whose time dim is named 'date'
    with pytest.raises(GridError, match="other dates"):
        M.rmse(cube.isel(time=0), cube.isel(time=2))
    with pytest.raises(GridError, match="scalar coordinate"):
        M.bias(cube, cube.sel(time="2020-07-02"))
    with pytest.raises(GridError, match="'date'"):
        M.ssim(cube, cube.rename(time="date"))
    # the documented case: a 2-D reference without a time coordinate goes with every step
    flat = cube.isel(time=1).drop_vars("time")
    got = M.rmse(cube, flat)
    assert got.dims == ("time",)
    assert float(got[1]) == 0.0 and np.all(got[[0, 2]] > 0)
    # the same steps in another order are paired by label
    np.testing.assert_allclose(M.mae(cube + 1.0, cube.isel(time=[2, 0, 1])).values, 1.0)


def test_coarse_consistency_pairs_the_coarse_steps_by_label():
    s = xlstsr.datasets.sample_scene(n_times=3, size=32, cloud_fraction=0)
    sr, coarse = s["lst_250m"], s["lst_1km"]
    with pytest.raises(GridError, match="scalar coordinate"):
        M.coarse_consistency(sr, coarse.isel(time=1), 4)
    # before: xarray's bare AlignmentError
    shuffled = coarse.isel(time=[2, 0, 1]) + xr.DataArray([2.0, 0.0, 1.0], dims="time")
    got = M.coarse_consistency(sr, shuffled, 4)
    assert list(got["time"].values) == list(sr["time"].values)
    np.testing.assert_allclose(got.values, [0.0, 1.0, 2.0], atol=1e-3)


def test_pair_steps_refuses_a_size1_step_of_another_date(cube):
    # before: sr of 07-01 (scalar time) scored against a truth of time=[07-03], labelled 07-03
    with pytest.raises(GridError, match="other dates"):
        pair_steps(cube.isel(time=[2]), cube.isel(time=0), "truth")
    with pytest.raises(GridError, match="other dates"):
        xlstsr.evaluate(cube.isel(time=0), cube.isel(time=[2]))
    same = pair_steps(cube.isel(time=[0]), cube.isel(time=0), "truth")  # the same date: fine
    assert same.sizes["time"] == 1


# -- plot.comparison ------------------------------------------------------------------------------

def _error_map(tmp_path, coarse, result, truth):
    from xlstsr import plot

    fig = plot.comparison(coarse, result, truth, path=tmp_path / "c.png")
    ax = next(a for a in fig.axes if a.get_title().endswith("- truth"))
    return np.asarray(ax.get_images()[0].get_array(), float)


def test_comparison_error_map_does_not_depend_on_the_dims_order(tmp_path):
    pytest.importorskip("matplotlib")
    s = xlstsr.datasets.sample_scene(n_times=1, size=32)
    truth, coarse = s["lst_250m"], s["lst_1km"]
    sr = truth.copy()
    sr.values[..., :, :5] += 4.0  # an error in the 5 westernmost columns only
    good = _error_map(tmp_path, coarse, sr, truth)
    got = _error_map(tmp_path, coarse, sr.transpose("time", "x", "y"), truth)
    np.testing.assert_allclose(got, good, equal_nan=True)  # before: drawn transposed
    assert sorted(set(np.nonzero(np.abs(got) > 1)[1].tolist())) == [0, 1, 2, 3, 4]


def test_comparison_refuses_a_truth_one_pixel_off(tmp_path):
    pytest.importorskip("matplotlib")
    from xlstsr import plot

    n = 40
    y = 4.0e6 - 30.0 * np.arange(n + 1)  # UTM northing: rtol=1e-5 is 40 m, more than a pixel
    x = 500000 + 30.0 * np.arange(n)
    rng = np.random.default_rng(0)
    big = xr.DataArray(300 + rng.standard_normal((n + 1, n)), dims=("y", "x"),
                       coords={"y": y, "x": x}, attrs={"units": "K"}).rio.write_crs("EPSG:32611")
    sr = big.isel(y=slice(0, n))
    coarse = sr.coarsen(y=4, x=4).mean().rio.write_crs("EPSG:32611")
    with pytest.raises(GridError, match="not on the grid"):
        plot.comparison(coarse, sr, big.isel(y=slice(1, n + 1)), path=tmp_path / "c.png")
    plot.comparison(coarse, sr, sr.copy(), path=tmp_path / "ok.png")  # the same grid: drawn


# -- radial_power_spectrum --------------------------------------------------------------------

def test_spectrum_is_nan_for_an_all_cloud_step(cube):
    t = cube.copy()
    t[1] = np.nan
    p = M.radial_power_spectrum(t)  # before: AllNaNError "the field holds no finite value"
    assert bool(np.isnan(p.isel(time=1)).all())
    np.testing.assert_allclose(p.isel(time=0).values, M.radial_power_spectrum(cube).isel(time=0))
    np.testing.assert_allclose(M.radial_power_spectrum(t.chunk({"time": 3})).values, p.values,
                               equal_nan=True)
    with pytest.raises(AllNaNError, match="no finite value"):
        M.radial_power_spectrum(t * np.nan)
