"""Fixes of probe 42e: per-step thresholds paired with the steps, the command line's checks of
the scored pixels on a shared grid, a Landsat scene's decoding flags, the figures' truth in
the scored range, a window of sr with its coarse input."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import rioxarray  # noqa: F401
import xarray as xr

import xlstsr
from xlstsr.cli import main
from xlstsr.errors import GridError, InputTypeError, XlstsrError


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _cube(acquired: bool = False):
    rng = np.random.default_rng(0)
    ny, nx = 40, 48
    x = 500000 + 125 + 250 * np.arange(nx)
    y = 4000000 - 125 - 250 * np.arange(ny)
    t = np.array(["2020-07-01", "2020-07-02"], dtype="datetime64[ns]")
    ta = t.copy()
    if acquired:
        ta[1] = t[1] + np.timedelta64(630, "m")  # the truth dated by its acquisition
    ref = xr.DataArray(300 + 3 * rng.standard_normal((2, ny, nx)), dims=("time", "y", "x"),
                       coords={"time": ta, "y": y, "x": x}, attrs={"units": "K"}
                       ).rio.write_crs(32633)
    sr = (ref + 0.5 + rng.standard_normal(ref.shape)).assign_coords(time=t)
    sr.attrs = {"units": "K"}
    return sr.rio.write_crs(32633), ref, t


# 1. per-step thresholds
def test_per_step_threshold_of_the_truths_own_dates_scores_every_step():
    sr, ref, _t = _cube(acquired=True)
    vmin = ref.quantile(0.05, dim=("y", "x")).drop_vars("quantile")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = xlstsr.evaluate(sr, ref, valid_min=vmin)
        # the same as each step scored with its own number
        one = xlstsr.evaluate(sr.isel(time=[1]), ref.isel(time=[1]),
                              valid_min=float(vmin[1]))
    assert ds.sizes["time"] == 2
    assert int(ds.n_valid[1]) == int(one.n_valid[0])
    np.testing.assert_allclose(float(ds.rmse[1]), float(one.rmse[0]))


def test_per_step_threshold_lacking_a_step_is_refused():
    sr, ref, t = _cube()
    vmin = xr.DataArray([290.0], dims="time", coords={"time": t[:1]})
    with pytest.raises(GridError, match="valid_min's 'time' labels differ"):
        xlstsr.evaluate(sr, ref, valid_min=vmin)


def test_per_step_threshold_nan_and_unlabelled_arrays_refused():
    sr, ref, t = _cube()
    with pytest.raises(XlstsrError, match=r"valid_max is NaN for step.*fillna"):
        xlstsr.evaluate(sr, ref, valid_max=xr.DataArray([330.0, np.nan], dims="time",
                                                        coords={"time": t}))
    with pytest.raises(InputTypeError, match="valid_min is a ndarray"):
        xlstsr.evaluate(sr, ref, valid_min=np.array([280.0, 281.0]))


def test_per_step_threshold_on_a_2d_truth_refused_with_advice():
    sr, ref, t = _cube()
    with pytest.raises(XlstsrError, match="one reference image takes one threshold"):
        xlstsr.evaluate(sr, ref.isel(time=0, drop=True),
                        valid_min=xr.DataArray([295.0, 290.0], dims="time",
                                               coords={"time": t}))


# 2. the command line on a shared grid runs evaluate's checks of the scored pixels
def _grid(n=48):
    x = 400000 + 125 + 250 * np.arange(n)
    y = 3700000 - 125 - 250 * np.arange(n)
    base = 300 + 5 * np.sin(np.arange(n) / 3)[None, :] + np.zeros((n, 1))
    return xr.DataArray(base.astype("float32"), dims=("y", "x"), coords={"y": y, "x": x},
                        attrs={"units": "K"}).rio.write_crs(32611)


def test_cli_same_grid_refuses_a_truth_70k_off(tmp_path, capsys):
    sr = _grid()
    sr.rio.to_raster(tmp_path / "sr.tif")
    rng = np.random.default_rng(1)
    ref = sr - 70 + rng.standard_normal(sr.shape).astype("float32") * 0.3
    ref.attrs = {"units": "K"}
    ref.rio.to_raster(tmp_path / "ref.tif")
    code, _out, err = run(capsys, "evaluate", tmp_path / "sr.tif", tmp_path / "ref.tif",
                         tmp_path / "s.csv")
    assert code != 0 and "differ by +70.0 K" in err
    assert not (tmp_path / "s.csv").exists()


def test_cli_same_grid_warns_about_a_threshold_dropping_the_scene(tmp_path, capsys):
    sr = _grid() - 60.0
    sr.attrs = {"units": "K"}
    cold = sr.copy()
    cold[:, :8] = 265.0
    sr.rio.to_raster(tmp_path / "sr.tif")
    cold.rio.to_raster(tmp_path / "cold.tif")
    _code, _out, err = run(capsys, "evaluate", tmp_path / "sr.tif", tmp_path / "cold.tif",
                         tmp_path / "s.csv", "--valid-min", "250")
    assert "valid range" in err


# 3. a Landsat scene's decoding flags
@pytest.fixture
def scene(tmp_path):
    rng = np.random.default_rng(1)
    n = 24
    sr = _grid(n)
    sr.rio.to_raster(tmp_path / "sr.tif")
    m = n * 5
    xs = 400000 + 25 + 50 * np.arange(m)
    ys = 3700000 - 25 - 50 * np.arange(m)
    t = np.repeat(np.repeat(sr.values, 5, 0), 5, 1) + rng.standard_normal((m, m)) * 0.3
    (tmp_path / "scene").mkdir()
    pre = "LC08_L2SP_040037_20230815_20230822_02_T1_"
    for name, arr in (("ST_B10", np.round((t - 149) / 0.00341802).astype("uint16")),
                      ("QA_PIXEL", np.full((m, m), 21824, "uint16"))):
        xr.DataArray(arr, dims=("y", "x"), coords={"y": ys, "x": xs}).rio.write_crs(
            32611).rio.to_raster(tmp_path / "scene" / f"{pre}{name}.TIF")
    return tmp_path


@pytest.mark.parametrize("flags", [["--reference-scale", "0.00341802"],
                                   ["--reference-offset", "100"]])
def test_cli_landsat_scene_refuses_reference_scale_and_offset(scene, capsys, flags):
    code, _out, err = run(capsys, "evaluate", scene / "sr.tif", scene / "scene",
                         scene / "o.csv", *flags)
    assert code != 0
    assert f"drop {flags[0]}" in err and "--reference-offset 149" not in err


def test_cli_scale_on_a_kelvin_reference_told_to_drop_the_flag(tmp_path, capsys):
    sr = _grid()
    sr.rio.to_raster(tmp_path / "sr.tif")
    ref = sr + 0.5
    ref.attrs = {"units": "K"}
    ref.rio.to_raster(tmp_path / "ref.tif")
    code, _out, err = run(capsys, "evaluate", tmp_path / "sr.tif", tmp_path / "ref.tif",
                         tmp_path / "s.csv", "--reference-scale", "0.01")
    assert code != 0 and "drop --reference-scale" in err and "`reference_scale`" not in err


# 4. the figures' truth in the scored range
def test_plots_leave_out_truth_pixels_evaluate_does_not_score():
    pytest.importorskip("matplotlib")
    from xlstsr import plot

    s = xlstsr.datasets.sample_scene(n_times=1)
    coarse, truth = s["lst_1km"].isel(time=0), s["lst_250m"].isel(time=0).copy()
    sr = xlstsr.upscale(coarse, 4)
    truth[:, :6] = 149.0  # Landsat's fill decoded by hand
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        figs = (plot.truth_maps(coarse, {"bicubic": sr}, truth),
                plot.comparison(coarse, {"bicubic": sr}, truth))
    for fig in figs:
        err = [im for ax in fig.axes if "truth" in ax.get_title() and "-" in ax.get_title()
               for im in ax.get_images()]
        assert err and err[0].get_clim()[1] < 20
    low = [im.get_clim()[0] for ax in figs[0].axes if ax.get_title() == "truth"
           for im in ax.get_images()]
    assert low and low[0] > 200


# 5. a window of sr on whole blocks with the full coarse input
def test_coarse_consistency_of_a_block_aligned_window_of_sr():
    s = xlstsr.datasets.sample_scene(n_times=1)
    coarse, truth = s["lst_1km"], s["lst_250m"]
    sr = xlstsr.upscale(coarse, 4)
    win = sr.isel(y=slice(4, -4), x=slice(8, None))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = xlstsr.evaluate(win, truth, coarse=coarse)
        want = xlstsr.evaluate(win, truth, coarse=coarse.isel(y=slice(1, -1), x=slice(2, None)))
    np.testing.assert_allclose(got.coarse_consistency.values, want.coarse_consistency.values)


def test_window_of_sr_off_the_blocks_names_the_window():
    from xlstsr.metrics import coarse_consistency

    s = xlstsr.datasets.sample_scene(n_times=1)
    coarse = s["lst_1km"]
    sr = xlstsr.upscale(coarse, 4).isel(y=slice(2, -2))  # half blocks
    with pytest.raises(GridError, match="a window of it") as e:
        coarse_consistency(sr, coarse, 4)
    assert "before any reprojection" not in str(e.value)


# review 42e of these fixes
def test_per_step_threshold_labelled_with_srs_dates_when_truth_paired_by_overpass():
    # the labels the scores carry (sr's): refused once the truth's own (10:30) were required
    sr, ref, t = _cube(acquired=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        by_sr = xlstsr.evaluate(sr, ref, valid_min=xr.DataArray(
            [295.0, 296.0], dims="time", coords={"time": t}))
        by_own = xlstsr.evaluate(sr, ref, valid_min=xr.DataArray(
            [295.0, 296.0], dims="time", coords={"time": ref.time.values}))
        one = xlstsr.evaluate(sr.isel(time=[1]), ref.isel(time=[1]), valid_min=296.0)
    np.testing.assert_array_equal(by_sr.n_valid.values, by_own.n_valid.values)
    assert int(by_sr.n_valid[1]) == int(one.n_valid[0])
    assert list(by_sr.time.values) == list(t)


def test_per_step_threshold_of_other_dates_refused_with_advice_that_works():
    sr, ref, t = _cube(acquired=True)
    other = xr.DataArray([295.0, 296.0], dims="time",
                         coords={"time": t + np.timedelta64(4, "D")})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(GridError, match="match neither") as e:
            xlstsr.evaluate(sr, ref, valid_min=other)
        assert ".sel(" not in str(e.value)
        # the advice: the values labelled with sr's dates
        valid_min = xr.DataArray(other.values, dims="time", coords={"time": sr["time"].values})
        assert xlstsr.evaluate(sr, ref, valid_min=valid_min).sizes["time"] == 2


def test_zero_d_threshold_dataarrays_are_their_number():
    sr, ref, t = _cube()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # a 2-D truth with its one step's threshold, and a 0-d quantile
        got = xlstsr.evaluate(sr.isel(time=1), ref.isel(time=1), valid_min=xr.DataArray(
            [296.0], dims="time", coords={"time": t[1:]}))
        want = xlstsr.evaluate(sr.isel(time=1), ref.isel(time=1), valid_min=296.0)
        q = ref.quantile(0.05)
        got_q = xlstsr.evaluate(sr, ref, valid_min=q)
        want_q = xlstsr.evaluate(sr, ref, valid_min=float(q))
    assert int(got.n_valid) == int(want.n_valid) < ref.isel(time=1).size
    np.testing.assert_array_equal(got_q.n_valid.values, want_q.n_valid.values)
    assert int(got_q.n_valid.sum()) < ref.size


def test_list_threshold_advice_is_valid_python():
    sr, ref, _t = _cube()
    with pytest.raises(InputTypeError) as e:
        xlstsr.evaluate(sr, ref, valid_min=[295.0])
    snippet = str(e.value).split("`")[1]
    assert "}}" not in snippet
    compile(snippet, "<advice>", "exec")


def test_coarse_grid_messages_name_the_mistake_not_a_window():
    from xlstsr import correction
    from xlstsr.metrics import coarse_consistency

    s = xlstsr.datasets.sample_scene(n_times=1)
    coarse, fine = s["lst_1km"], s["lst_250m"]
    sr = xlstsr.upscale(coarse, 4)
    with pytest.raises(GridError, match="the fine reference passed as it") as e:
        coarse_consistency(sr, fine, 4)  # the fine truth given as the coarse input
    assert "a window of it" not in str(e.value)
    c64 = coarse.coarsen(y=2, x=2).mean()
    with pytest.raises(GridError, match="the factor it was made with") as e:
        coarse_consistency(xlstsr.upscale(c64, 2), c64, 4)  # made at factor 2
    assert "a window of it" not in str(e.value)
    # the lst is required by the correction: no "leave it out"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(GridError, match="a window of it") as e:
            correction.calibrate_detail_gain(
                xlstsr.upscale(coarse, 4, scale_correction=None).isel(
                    y=slice(0, 128), x=slice(0, 128)),
                coarse, fine.isel(y=slice(0, 128), x=slice(0, 128)), 4)
    assert "leave" not in str(e.value)


def test_cli_landsat_scene_takes_its_own_fill_as_reference_nodata(scene, capsys, caplog):
    code, _out, err = run(capsys, "evaluate", scene / "sr.tif", scene / "scene",
                          scene / "a.csv")
    assert code == 0, err
    code, _out, err = run(capsys, "evaluate", scene / "sr.tif", scene / "scene",
                          scene / "b.csv", "--reference-nodata", "0")
    assert code == 0, err
    assert (scene / "a.csv").read_text() == (scene / "b.csv").read_text()
    with caplog.at_level("WARNING", logger="xlstsr"):
        code, _out, err = run(capsys, "evaluate", scene / "sr.tif", scene / "scene",
                              scene / "c.csv", "--reference-nodata", "-9999")
    assert code == 0, err
    assert "--reference-nodata -9999 ignored" in caplog.text + err
    assert (scene / "a.csv").read_text() == (scene / "c.csv").read_text()


def test_cli_loads_inputs_only_where_evaluates_peak_fits(monkeypatch):
    import dask.array as da

    from xlstsr.cli import _loaded

    # 32 MiB to spare (the machine's measure stubbed): 8 MB of inputs peak at 80 MB in memory
    monkeypatch.setattr("xlstsr.validate._available_memory", lambda: 64 * 2**20)
    big = xr.DataArray(da.zeros((1000, 1000), dtype="float32", chunks=500), dims=("y", "x"))
    small = xr.DataArray(da.zeros((100, 100), dtype="float32", chunks=50), dims=("y", "x"))
    (kept, none), (loaded,) = _loaded(big, None), _loaded(small)
    assert kept.chunks is not None and none is None
    assert loaded.chunks is None
