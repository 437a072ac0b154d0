"""Training findings of session 29: the SIF guide gain of a weak fit, the memory of
CubeDataModule.setup, the advised tolerance of 16-day composites, a recorded split reused."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from xlstsr.errors import GuideTimeError
from xlstsr.guide import match_steps
from xlstsr.kernels.aggregate import block_mean, radiometric_mean
from xlstsr.train import CubeDataModule, degraded_pairs, fit_cube, fit_guide_gain, make_patches
from xlstsr.train.data import GAIN_MIN_CORRELATION, _guide_gain_fit

QUIET = {"enable_progress_bar": False, "enable_model_summary": False, "logger": False,
         "limit_train_batches": 1, "limit_val_batches": 1}


def _sif_pair(law: float, noise: float, seed: int = 0, n: int = 2, h: int = 32):
    """A coarse LST (n, h, h) whose detail follows a 4 x finer NDVI at ``law`` K per NDVI, plus
    independent noise of ``noise`` K, and that NDVI."""
    rng = np.random.default_rng(seed)
    ndvi = np.clip(0.4 + 0.2 * rng.standard_normal((n, 4 * h, 4 * h)), 0, 1).astype("float32")
    lst = 300 + law * block_mean(ndvi, 4) + rng.normal(0, noise, (n, h, h))
    return lst.astype("float32"), ndvi


# -- 1. the SIF gain of a weak fit -------------------------------------------------------------

def test_a_weak_negative_fit_falls_back_to_the_default_with_a_warning():
    """A fit barely below 0 (no real relation: |r| ~0.01) was used as the gain (-0.06 K/NDVI on
    a MODIS cube), one barely above 0 silently became -10: 150x apart between two splits of the
    same ground. A relation weaker than GAIN_MIN_CORRELATION now gives the default, with a
    warning that names the fit."""
    lst, ndvi = _sif_pair(law=-0.3, noise=2.0)
    fit = _guide_gain_fit(lst, ndvi, 4)
    assert fit["slope"] < 0 and abs(fit["correlation"]) < GAIN_MIN_CORRELATION  # the weak case
    with pytest.warns(UserWarning, match=r"falls back to the default -10 .*fitted slope"):
        assert fit_guide_gain(lst, ndvi, 4) == -10.0
    assert not fit["fitted"] and fit["gain"] == -10.0
    # a positive fit: the default too, also with a warning (it was silent)
    lst_pos, _ = _sif_pair(law=+20.0, noise=0.3)
    with pytest.warns(UserWarning, match="not negative"):
        assert fit_guide_gain(lst_pos, ndvi, 4) == -10.0


def test_a_clear_relation_keeps_its_fitted_gain_without_a_warning():
    lst, ndvi = _sif_pair(law=-20.0, noise=0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gain = fit_guide_gain(lst, ndvi, 4)
    fit = _guide_gain_fit(lst, ndvi, 4)
    assert fit["fitted"] and fit["gain"] == gain and gain < -5
    assert fit["correlation"] < -GAIN_MIN_CORRELATION


def test_cube_data_module_records_whether_the_gain_was_fitted():
    weak, ndvi = _sif_pair(law=-0.3, noise=2.0, h=16)
    da = {"dims": ("time", "y", "x")}
    g = xr.DataArray(ndvi, **da, name="ndvi")
    dm = CubeDataModule(xr.DataArray(weak, **da, attrs={"units": "K"}), guide=g, mode="sif",
                        patch=16, window=32)
    with pytest.warns(UserWarning, match="SIF guide gain falls back"):
        dm.setup("fit")
    assert dm.gain_fit["source"] == "default" and dm.loss_options == {"gain": -10.0}
    assert dm.gain_fit["slope"] < 0 and dm.gain_fit["reason"]

    clear, _ = _sif_pair(law=-20.0, noise=0.3, h=16)
    dm = CubeDataModule(xr.DataArray(clear, **da, attrs={"units": "K"}), guide=g, mode="sif",
                        patch=16, window=32)
    dm.setup("fit")
    assert dm.gain_fit["source"] == "fitted"
    assert dm.loss_options == {"gain": dm.gain_fit["gain"]} and dm.gain_fit["gain"] < -5


def test_fit_cube_records_the_guide_gain_source():
    clear, ndvi = _sif_pair(law=-20.0, noise=0.3, h=16)
    da = {"dims": ("time", "y", "x")}
    g = xr.DataArray(ndvi, **da, name="ndvi")
    _, rec = fit_cube(xr.DataArray(clear, **da, attrs={"units": "K"}), guide=g, mode="sif",
                      patch=16, window=32, epochs=1, trainer_options=QUIET)
    assert rec["guide_gain"]["source"] == "fitted"
    assert rec["guide_gain"]["gain"] == rec["loss_options"]["gain"]


# -- 2. memory of the pairs, the patches and setup ---------------------------------------------

def _peak(fn, *args, **kwargs):
    tracemalloc.start()
    try:
        out = fn(*args, **kwargs)
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_degraded_pairs_works_on_groups_of_images():
    """radiometric_mean works in float64 with several temporaries (~7x the float32 stack): the
    whole stack at once was the largest part of setup's peak (9.6x the cube). The same values
    now, from groups of images."""
    rng = np.random.default_rng(0)
    lst = (300 + rng.normal(0, 2, (160, 128, 128))).astype("float32")  # 2.6 Mpx, 10 MB
    lst[3, :5, :7] = np.nan
    pairs, peak = _peak(degraded_pairs, lst, 4)
    np.testing.assert_array_equal(pairs["lst_coarse"], radiometric_mean(lst, 4))
    assert peak < 3.5 * lst.nbytes, peak / lst.nbytes  # was ~6.8x


def test_make_patches_copies_the_fine_patches_once():
    """The kept windows, their concatenation and a float32 copy of that were held at once
    (3x the patches); they are now copied once into the patches."""
    rng = np.random.default_rng(0)
    target = (300 + rng.normal(0, 2, (24, 128, 128))).astype("float32")
    coarse = radiometric_mean(target, 4)
    ps, peak = _peak(make_patches, coarse, 4, target=target, patch=32, stride=16)
    held = ps.target.numel() * 4
    assert peak < held + 1.6 * target.nbytes, (peak / held, held / target.nbytes)  # was ~3x held
    ref = make_patches(coarse, 4, target=target, patch=32, stride=32)
    np.testing.assert_array_equal(ref.target[0, 0].numpy(), target[0, :32, :32])


def test_setup_peak_is_near_the_documented_figure(monkeypatch):
    """CubeDataModule's docstring said about 3x the cube; setup peaked at 9.6x (ru_maxrss).
    The float64 kernels' groups scaled down with the cube (their size is fixed in pixels)."""
    import xlstsr.train.data as data

    monkeypatch.setattr(data, "_STEP_PIXELS", 1 << 16, raising=False)
    cube = xr.DataArray((300 + np.random.default_rng(0).normal(0, 2, (8, 256, 256)))
                        .astype("float32"), dims=("time", "y", "x"), attrs={"units": "K"})
    CubeDataModule(cube.isel(time=slice(0, 1)), patch=32).setup("fit")  # imports out of it
    dm = CubeDataModule(cube, patch=64)
    _, peak = _peak(dm.setup, "fit")
    assert peak < 5.5 * cube.nbytes, peak / cube.nbytes  # tracemalloc: was ~11x
    assert "3.5 times the cube" in CubeDataModule.__doc__


# -- 3. the advised tolerance of 16-day composites -----------------------------------------------

def test_15D_serves_a_16_day_composite_period_and_no_later_day():
    """'16D' (the advice) gave a composite the day after its period (an LST of 2020-10-15 took
    the composite of 2020-09-29..10-14 where 10-15's was missing); the advice is now '15D'."""
    ndvi = xr.DataArray([0.1, 0.2], dims="time",
                        coords={"time": pd.to_datetime(["2020-09-13", "2020-09-29"])})
    period = pd.date_range("2020-09-29", "2020-10-14", freq="D")  # the 16 days it covers
    lst = xr.DataArray(np.zeros(len(period)), dims="time", coords={"time": period})
    assert match_steps(ndvi, lst, "time", "15D").values.tolist() == [0.2] * 16
    after = xr.DataArray([0.0], dims="time", coords={"time": pd.to_datetime(["2020-10-15"])})
    with pytest.raises(GuideTimeError):
        match_steps(ndvi, after, "time", "15D")
    assert match_steps(ndvi, after, "time", "16D").values.tolist() == [0.2]  # inclusive, kept


def test_the_hint_advises_15D_for_16_day_composites():
    ndvi = xr.DataArray([0.1], dims="time", coords={"time": pd.to_datetime(["2020-01-01"])})
    lst = xr.DataArray([0.0], dims="time", coords={"time": pd.to_datetime(["2020-01-05"])})
    with pytest.raises(GuideTimeError, match="'15D' for 16-day composites") as err:
        match_steps(ndvi, lst, "time")
    assert "16D" not in str(err.value)
    from xlstsr.cli import build_parser

    helps = [a.help for p in build_parser()._subparsers._group_actions[0].choices.values()
             for a in p._actions if "--guide-time-tolerance" in a.option_strings]
    assert helps and all("15D" in h and "16D" not in h for h in helps)


# -- 4. a recorded split reused --------------------------------------------------------------------

def test_fit_cube_takes_a_recorded_split():
    """fit_cube refused split= ("takes the options of CubeDataModule", split among them): a
    checkpoint's split could be reused only through CubeDataModule + fit."""
    rng = np.random.default_rng(0)
    day = xr.DataArray(300 + rng.normal(0, 2, (2, 64, 64)), dims=("time", "y", "x"),
                       attrs={"units": "K"})
    _, rec = fit_cube(day, patch=16, epochs=1, trainer_options=QUIET)
    recorded = {"by": "window position", **rec["split"]}  # as a checkpoint's metadata holds it
    _, again = fit_cube(day - 15, patch=16, epochs=1, seed=3, val_fraction=0.5,
                        split=recorded, trainer_options=QUIET)
    assert again["split"] == rec["split"] and again["window"] == rec["window"]
