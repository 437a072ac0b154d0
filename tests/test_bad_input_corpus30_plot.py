"""Round 30: figures of south-up fields (plot.comparison, plot.truth_maps) and the demo's
arguments checked before any work (run_demo's n_times and output)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr import errors, plot

matplotlib = pytest.importorskip("matplotlib")


def _images(fig) -> dict[str, np.ndarray]:
    return {ax.get_title(): np.ma.filled(ax.get_images()[0].get_array().astype(float), np.nan)
            for ax in fig.axes if ax.get_images()}


def _south_up_field() -> xr.DataArray:
    """A 16 x 16 field on ascending latitude (as many NetCDF files store it): hot north."""
    lat = np.linspace(40.0, 40.3, 16)
    lon = np.linspace(10.0, 10.3, 16)
    rng = np.random.default_rng(0)
    v = np.where(lat[:, None] > 40.15, 310.0, 290.0) + rng.normal(0, 0.5, (16, 16))
    return xr.DataArray(v[None].astype("f4"), dims=("time", "y", "x"),
                        coords={"time": [np.datetime64("2020-07-01", "ns")], "y": lat, "x": lon},
                        attrs={"units": "K"}).rio.write_crs("EPSG:4326")


def test_comparison_draws_a_south_up_input_north_up(tmp_path):
    c = _south_up_field()
    up = xlstsr.upscale(c, 4, "bicubic")  # north-up whatever the input's order
    # before: the input panel was drawn as stored, south at the top, beside a north-up result
    imgs = _images(plot.comparison(c, up, path=tmp_path / "c.png"))
    assert len(imgs) == 2
    for name, im in imgs.items():
        assert np.nanmean(im[0]) > np.nanmean(im[-1]), f"panel {name!r} is upside down"
    # the same picture as the same input stored north-up (an exact reversal, no resampling)
    ref = _images(plot.comparison(c.isel(y=slice(None, None, -1)), up, path=tmp_path / "r.png"))
    for name in imgs:
        np.testing.assert_array_equal(imgs[name], ref[name])


def test_comparison_takes_a_south_up_truth_of_the_results_grid(tmp_path):
    c = _south_up_field()
    up = xlstsr.upscale(c, 4, "bicubic")
    south_up_truth = up.isel(y=slice(None, None, -1))
    # before: "truth is not on the grid of the upscaled result" (its axis compared reversed)
    imgs = _images(plot.comparison(c, up, south_up_truth, path=tmp_path / "t.png"))
    truth, err = imgs["truth"], imgs[next(k for k in imgs if k.endswith("- truth"))]
    assert np.nanmean(truth[0]) > np.nanmean(truth[-1])
    np.testing.assert_allclose(err[np.isfinite(err)], 0.0, atol=1e-4)  # the result itself


def test_truth_maps_draws_a_south_up_truth_north_up(tmp_path):
    s = xlstsr.datasets.sample_scene(size=64)
    c, t = s["lst_1km"].isel(time=0), s["lst_250m"].isel(time=0)
    up = xlstsr.upscale(c, 4, "bicubic")
    ref = plot.truth_maps(c, {"bicubic": up}, t, path=tmp_path / "a.png")
    # before: every field was put on the truth's grid as stored: every panel upside down
    flip = plot.truth_maps(c, {"bicubic": up}, t.isel(y=slice(None, None, -1)),
                           path=tmp_path / "b.png")
    a, b = _images(ref), _images(flip)
    assert a.keys() == b.keys() and len(a) == 4  # input, bicubic, truth, the error map
    for name in a:
        np.testing.assert_allclose(a[name], b[name], equal_nan=True, err_msg=name)


@pytest.fixture
def no_work(monkeypatch):
    """run_demo with its first piece of work refused: a check must come before it."""
    import xlstsr.demo as demo

    def refused():
        raise AssertionError("the demo started its work before checking its arguments")

    monkeypatch.setattr(demo, "modis_aster_sample", refused)
    return demo.run_demo


@pytest.mark.parametrize("n", [-1, 0, 2.7, True, "2"])
def test_run_demo_refuses_a_bad_n_times_before_any_work(tmp_path, no_work, n):
    out = tmp_path / "o"
    # before: -1 streamed 7 of the 8 dates, 2.7 two, True one; 0 failed after the scoring
    with pytest.raises(errors.XlstsrError, match=r"n_times must be a whole number >= 1"):
        no_work(out, method="bicubic", progress=False, n_times=n)
    assert not out.exists()  # no empty folder left behind


def test_run_demo_refuses_a_file_or_a_store_as_output_before_any_work(tmp_path, no_work):
    f = tmp_path / "notes.txt"
    f.write_text("notes")
    # before: every method scored, then mkdir's raw FileExistsError
    with pytest.raises(errors.XlstsrError, match=r"is a file.*pass a folder"):
        no_work(f, method="bicubic", progress=False, n_times=1)
    assert f.read_text() == "notes"
    with pytest.raises(errors.XlstsrError, match=r"is a file"):
        no_work(f / "sub", method="bicubic", progress=False, n_times=1)
    store = tmp_path / "s.zarr"
    xr.Dataset({"a": ("x", np.arange(3.0))}).to_zarr(store, consolidated=False)
    with pytest.raises(errors.XlstsrError, match=r"is a Zarr store"):
        no_work(store, method="bicubic", progress=False, n_times=1)
    with pytest.raises(errors.XlstsrError, match=r"inside the Zarr store"):
        no_work(store / "demo", method="bicubic", progress=False, n_times=1)
    assert not (store / "demo").exists()
