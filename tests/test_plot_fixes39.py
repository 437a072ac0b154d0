"""truth_maps puts fields stored (x, y) in image order; comparison and truth_maps refuse an
undeclared fill in the coarse input, as upscale does; run_demo checks ``method`` before any
work."""

import warnings

import matplotlib
import numpy as np
import pytest
import xarray as xr

from xlstsr import plot
from xlstsr.errors import UndeclaredFillError, XlstsrError

matplotlib.use("Agg")


def _field(n: int, px: float, units: str = "K", base: float = 300.0) -> xr.DataArray:
    """A north-up UTM field, north warmer, with a hot north-east corner: not symmetric, so a
    transposed or mirrored drawing differs."""
    y = 5_000_000 - (np.arange(n) + 0.5) * px
    x = 1_000_000 + (np.arange(n) + 0.5) * px
    v = base + 5 * np.linspace(1, 0, n)[:, None] + np.zeros(n)[None, :]
    k = max(1, n // 4)
    v[:k, -k:] += 10
    da = xr.DataArray(v, dims=("y", "x"), coords={"y": y, "x": x}, attrs={"units": units})
    return da.rio.write_crs("EPSG:32631")


def _panel(fig, title: str) -> np.ndarray:
    ax = next(a for a in fig.axes if a.get_title() == title)
    return np.asarray(ax.images[0].get_array(), np.float64)


@pytest.fixture(scope="module")
def fields():
    return _field(8, 1000.0), _field(32, 250.0), _field(32, 250.0)


def test_truth_maps_truth_stored_x_y_drawn_in_image_order(fields):
    coarse, result, truth = fields
    ref = plot.truth_maps(coarse, {"m": result}, truth)
    fig = plot.truth_maps(coarse, {"m": result}, truth.transpose("x", "y"))
    # before: the truth drawn transposed, an error map up to 15 K for the same field
    np.testing.assert_array_equal(_panel(fig, "truth"), _panel(ref, "truth"))
    np.testing.assert_array_equal(_panel(fig, "m - truth"), 0.0)


@pytest.mark.parametrize("which", ["result", "coarse"])
def test_truth_maps_input_or_result_stored_x_y(fields, which):
    coarse, result, truth = fields
    ref = plot.truth_maps(coarse, {"m": result}, truth)
    if which == "result":
        result = result.transpose("x", "y")
    else:
        coarse = coarse.transpose("x", "y")
    # before: rioxarray's bare InvalidDimensionOrder
    fig = plot.truth_maps(coarse, {"m": result}, truth)
    for title in ("input", "m", "truth", "m - truth"):
        np.testing.assert_array_equal(_panel(fig, title), _panel(ref, title))


def _seviri_like() -> xr.DataArray:
    """Celsius LST with SEVIRI's -80 fill over a third of the scene, undeclared."""
    da = _field(16, 1000.0, units="degC", base=30.0)
    da[10:, :] = -80.0
    return da


@pytest.fixture(scope="module")
def fill_pair():
    lst = _seviri_like()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sr = lst.assign_attrs(_FillValue=-80.0).lstsr.upscale(4, method="bicubic")
    return lst, sr


def test_upscale_refuses_the_undeclared_fill(fill_pair):
    lst, _ = fill_pair
    with pytest.raises(UndeclaredFillError):
        lst.lstsr.upscale(4, method="bicubic")


def test_comparison_refuses_an_undeclared_fill_in_the_input(fill_pair):
    lst, sr = fill_pair
    # before: drawn at 193 K, the shared colour scale stretched down to it
    with pytest.raises(UndeclaredFillError, match=r"coarse input .*-80.*_FillValue"):
        plot.comparison(lst, sr)


def test_truth_maps_refuses_an_undeclared_fill_in_the_input(fill_pair):
    lst, sr = fill_pair
    with pytest.raises(UndeclaredFillError, match=r"coarse input .*-80.*_FillValue"):
        plot.truth_maps(lst, {"bicubic": sr}, sr)


def test_declared_fill_still_drawn(fill_pair):
    lst, sr = fill_pair
    declared = lst.assign_attrs(_FillValue=-80.0)
    fig = plot.comparison(declared, sr)
    lo, hi = fig.axes[0].images[0].get_clim()
    assert lo > 300.0 and hi < 320.0  # the valid data's 303-318 K, the fill left out
    fig = plot.truth_maps(declared, {"bicubic": sr}, sr)
    assert np.nanmin(_panel(fig, "input")) > 300.0


@pytest.fixture
def no_demo_work(monkeypatch):
    """Fail the test if the demo starts its work (loads the real pair)."""
    import xlstsr.demo as demo

    def started(*args, **kwargs):
        raise AssertionError("run_demo loaded the pair before refusing its arguments")

    monkeypatch.setattr(demo, "modis_aster_sample", started)
    return demo


def test_run_demo_unknown_method_refused_before_any_work(no_demo_work, tmp_path):
    # before: refused by upscale only after the pair was loaded and bicubic scored (~8 s)
    with pytest.raises(XlstsrError, match=r"unknown method 'bicubik'.*'bicubic'"):
        no_demo_work.run_demo(tmp_path / "out", method="bicubik", progress=False, n_times=1)
    assert not (tmp_path / "out").exists()


def test_run_demo_method_instance_refused_before_any_work(no_demo_work, tmp_path):
    from xlstsr.methods import get_method

    with pytest.raises(XlstsrError, match=r"method must be a registered method's name"):
        no_demo_work.run_demo(tmp_path / "out", method=get_method("bicubic"), progress=False,
                              n_times=1)
