"""Twenty-third round of bad inputs (session 22): what the session's probes and reviews found."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr import errors


def _field(n: int, res: float, value) -> xr.DataArray:
    y = 3_400_000.0 - res / 2 - res * np.arange(n)
    x = 400_000.0 + res / 2 + res * np.arange(n)
    data = np.full((n, n), value, np.float64) if np.ndim(value) == 0 else value
    return xr.DataArray(data, dims=("y", "x"), coords={"y": y, "x": x},
                        attrs={"units": "K"}).rio.write_crs("EPSG:32616")


def _range_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, errors.PhysicalRangeWarning)]


def test_out_of_range_reference_pixels_under_reference_clear_are_not_named():
    """A fill border decoded to 149 K that reference_clear drops was named as 'not scored'
    with the advice to declare a fill: the clear mask dropped it already."""
    rng = np.random.default_rng(0)
    truth = _field(240, 30.0, 300 + rng.standard_normal((240, 240)))
    truth[:, :6] = 149.0
    sr = _field(30, 240.0, 300.5)
    clear = xr.ones_like(truth, dtype=bool)
    clear[:, :6] = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = xlstsr.evaluate(sr, truth, reference_clear=clear)
    assert not _range_warnings(caught)
    assert int(s.n_valid) == 240 * 234
    # a clear mask that keeps some of them: still named
    clear[:, 3:6] = True
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s2 = xlstsr.evaluate(sr, truth, reference_clear=clear)
    assert len(_range_warnings(caught)) == 1
    assert float(s2.rmse) == pytest.approx(float(s.rmse))


def _landsat_decoded_without_offset(kelvin: np.ndarray) -> np.ndarray:
    return np.round((kelvin - 149.0) / 0.00341802) * 0.00341802


@pytest.mark.parametrize("units", ["K", None])
def test_landsat_decoded_without_its_offset_is_refused(units):
    """DN x 0.00341802 without + 149 K: on a warm scene (300 K, 151 'K') most values pass the
    150 K floor and evaluate reported an RMSE of 148 K; on a cooler one it blamed Celsius."""
    rng = np.random.default_rng(0)
    sr = _field(30, 240.0, 300.5)
    for mean in (300.0, 288.0):
        ref = _field(240, 30.0, _landsat_decoded_without_offset(
            mean + 3 * rng.standard_normal((240, 240))))
        if units is None:
            ref.attrs = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(errors.PhysicalRangeError) as err:
                xlstsr.evaluate(sr, ref)
        msg = str(err.value)
        assert "without its offset" in msg and "open_landsat_c2l2" in msg, msg
        assert "degrees Celsius: set" not in msg


def test_a_mean_error_beyond_any_real_lst_difference_is_refused():
    rng = np.random.default_rng(1)
    truth = _field(240, 30.0, 300 + rng.standard_normal((240, 240)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = xlstsr.evaluate(_field(30, 240.0, 300.0 + 45.0), truth)  # a large, real-looking bias
        assert float(s.bias) == pytest.approx(45.0, abs=0.1)
        with pytest.raises(errors.PhysicalRangeError, match=r"differ by -90\.0 K"):
            xlstsr.evaluate(_field(30, 240.0, 210.0), truth)


def test_float32_labels_give_a_regular_fine_grid(tmp_path):
    """Snapping fine labels onto float32 coarse labels (a NetCDF's) made them irregular by up
    to 0.86 m, and xlstsr refused its own output (coarsen, upscale, evaluate)."""
    s = xlstsr.datasets.sample_scene(n_times=1)
    ds = s["lst_1km"].to_dataset(name="LST")
    ds = ds.assign_coords(y=ds.y.astype("float32"), x=ds.x.astype("float32"))
    ds.to_netcdf(tmp_path / "f32.nc")
    with xr.open_dataset(tmp_path / "f32.nc", decode_coords="all") as f:
        lst32 = f["LST"].load()
    sr = xlstsr.upscale(lst32, 4, "bicubic")
    for d in ("y", "x"):
        # float32 like the input's (corpus24a/03): a regular grid to float32's own step
        v = sr[d].values
        assert v.dtype == np.float32
        line = np.linspace(float(v[0]), float(v[-1]), v.size)
        assert np.all(np.abs(v.astype(np.float64) - line) <= np.spacing(np.abs(v)))
    assert xlstsr.coarsen(sr, 4).shape == lst32.shape


def test_a_tolerance_under_a_day_matches_instants_not_days():
    """Daily 00:00 LST against a nightly 23:00 guide with guide_time_tolerance='2h' took the
    guide 23 h later (matched by day); '1h' let a guide 10.5 h later through."""
    import pandas as pd

    from xlstsr.guide import match_steps

    def pick(lt, gt, tol):
        lst = xr.DataArray(np.zeros(len(lt)), dims="time", coords={"time": pd.to_datetime(lt)})
        g = xr.DataArray(np.arange(len(gt), dtype=float), dims="time",
                         coords={"time": pd.to_datetime(gt)})
        return match_steps(g, lst, "time", tol).values.astype(int).tolist()

    gt = ["2020-07-26 23:00", "2020-07-27 23:00", "2020-07-28 23:00"]
    assert pick(["2020-07-27", "2020-07-28"], gt, "2h") == [0, 1]
    with pytest.raises(errors.GuideTimeError):
        pick(["2020-07-27"], ["2020-07-11 10:30", "2020-07-27 10:30"], "1h")
    # a 16-day composite labelled 10:30 on its first day still serves that day
    assert pick(["2020-07-27"], ["2020-07-11 10:30", "2020-07-27 10:30"], "16D") == [1]


def test_one_cloudy_step_of_a_cube_is_scored_not_refused_as_decoded_wrongly():
    rng = np.random.default_rng(2)
    truth = _field(240, 30.0, 300 + rng.standard_normal((240, 240)))
    cube = xr.concat([truth, truth, truth], "time").assign_coords(
        time=np.array(["2020-07-01", "2020-07-02", "2020-07-03"], "datetime64[ns]"))
    cube[1] = np.nan
    cube[1, 100:102, 100:102] = 238.0  # a few cloud-edge pixels on a cloudy day
    sr = xr.concat([_field(30, 240.0, 300.5)] * 3, "time").assign_coords(time=cube.time)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = xlstsr.evaluate(sr, cube)
    assert float(s.bias[1]) == pytest.approx(62.5, abs=0.1)
    assert float(s.bias[0]) == pytest.approx(0.5, abs=0.1)


def test_hot_celsius_declared_kelvin_is_told_celsius():
    rng = np.random.default_rng(3)
    sr = _field(30, 240.0, 330.5)
    ref = _field(240, 30.0, 57 + 3 * rng.standard_normal((240, 240)))  # degC, declared K
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(errors.PhysicalRangeError, match="Celsius") as err:
            xlstsr.evaluate(sr, ref)
    assert "without its offset" not in str(err.value)


def test_a_resumed_store_records_the_offset_measured_on_the_input_in_memory(tmp_path):
    """The offset of an in-memory guide is measured on all steps since session 22 (8 sampled
    steps before): a store started before and resumed after mixed the two (15 K between
    identical days); the measurement is in the fingerprint, so such a store is refused."""
    import json

    import zarr

    s = xlstsr.datasets.sample_scene(n_times=2)
    xlstsr.upscale_to_zarr(s["lst_1km"], tmp_path / "a.zarr", factor=4, method="tsharp",
                           guide=s["ndvi_250m"])
    args = json.loads(zarr.open_group(tmp_path / "a.zarr", mode="r").attrs["xlstsr_arguments"])
    assert "guide_offset_measured" in args


def test_scaling_stats_plain_mean_aggregates_by_the_plain_mean():
    """radiometric=False (`--plain-mean`) aggregated in T^4 all the same: an NDBI's coarse
    variance read up to 28 % low (and a field with negative values lost its sign)."""
    rng = np.random.default_rng(4)
    a = rng.standard_normal((64, 64)).cumsum(0).cumsum(1) * 0.01  # negative and positive
    field = _field(64, 30.0, a)
    field.attrs = {}
    s = xlstsr.scaling_stats(field, radiometric=False, factors=[1, 2, 4], lags=[1, 2])
    for f in (2, 4):
        blocks = a.reshape(64 // f, f, 64 // f, f).mean((1, 3))
        assert float(s.coarse_variance.sel(factor=f)) == pytest.approx(blocks.var(), rel=1e-9)


def test_window_samples_refuses_a_stale_scale_when_the_first_step_is_cloud():
    """Float Kelvin that kept scale_factor=0.02 came back as 6 K windows labelled K when the
    first date was all cloud (the check looked at the first step only)."""
    from xlstsr.train import window_samples

    rng = np.random.default_rng(5)
    cube = xr.concat([_field(64, 926.6, 290 + rng.standard_normal((64, 64)))] * 3, "time")
    cube = cube.assign_coords(time=np.array(["2020-07-01", "2020-07-02", "2020-07-03"],
                                            "datetime64[ns]")).rename("LST_Day_1km")
    cube[0] = np.nan
    cube.attrs.update(units="K", scale_factor=0.02, add_offset=0.0)
    with pytest.raises(errors.XlstsrError, match="holds Kelvin already"):
        window_samples(cube, {"a": (0, 0)}, 64)


def test_a_lat_lon_cube_trains():
    """CubeDataModule refused dims lat/lon that upscale and coarsen take (and the message's
    rio.set_spatial_dims fix failed again)."""
    pytest.importorskip("torch")
    from xlstsr.train import CubeDataModule

    rng = np.random.default_rng(0)
    da = xr.DataArray((300 + rng.normal(0, 2, (3, 64, 64))).astype("float32"),
                      dims=("time", "lat", "lon"),
                      coords={"time": np.arange(3), "lat": 45 + 0.01 * np.arange(64),
                              "lon": 5 + 0.01 * np.arange(64)},
                      name="LST", attrs={"units": "K"}).rio.write_crs("EPSG:4326")
    d = CubeDataModule(da, patch=16, window=32)
    d.setup("fit")
    assert len(d.train_dataloader()) > 0
