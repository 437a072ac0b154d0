"""Review 50 i fixes: a guide band empty in the training split refused in the caller's terms
(fit_cube / fit_files / xlstsr train: window positions, seed=, val_fraction=, a guide without the
band; plural wording), each advice followed on fit_cube and the CLI (a constant fill, refused
there as an undeclared fill, is no longer advised); adapt takes a psf up to 2 coarse pixels
(training's bound) with a PSFWidthWarning above 1."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
import xarray as xr

import xlstsr
from tests.helpers import make_lst
from xlstsr.errors import XlstsrError
from xlstsr.nn import GuidedResCNN
from xlstsr.nn.adapt import MODIS_PSF_COARSE, Adaptation, PSFWidthWarning
from xlstsr.train import fit, fit_cube, make_patches, split_by_scene

F, N, H = 4, 2, 64
TO = {"enable_progress_bar": False, "enable_model_summary": False, "logger": False}
pytestmark = pytest.mark.filterwarnings("ignore:training did not improve")


def _fields():
    """LST (2 dates, 64 x 64), NDVI everywhere, EVI valid only inside window position r1c0 (the
    validation position of the default split, seed=0)."""
    rng = np.random.default_rng(0)
    t = np.datetime64("2020-06-01") + np.arange(N) * np.timedelta64(1, "D")
    yc, xc = np.arange(H)[::-1] * 1000.0 + 500, np.arange(H) * 1000.0 + 500
    yf, xf = np.arange(F * H)[::-1] * 250.0 + 125, np.arange(F * H) * 250.0 + 125
    lst = xr.DataArray((300 + rng.normal(0, 2, (N, H, H))).astype("float32"),
                       dims=("time", "y", "x"), coords={"time": t, "y": yc, "x": xc},
                       attrs={"units": "K"})
    ndvi = xr.DataArray((0.4 + 0.1 * rng.random((N, F * H, F * H))).astype("float32"),
                        dims=("time", "y", "x"), coords={"time": t, "y": yf, "x": xf})
    evi = xr.full_like(ndvi, np.nan)
    evi[:, 130:250, 5:120] = 0.3 + 0.05 * rng.random((N, 120, 115))
    return lst, ndvi, evi


def _fit_cube(guide, **kw):
    lst = _fields()[0]
    return fit_cube(lst, guide=guide, mode="degraded_disr", arch="guided_rescnn", patch=32,
                    window=32, epochs=1, batch_size=8, trainer_options=TO, **kw)


def _refusal(guide, **kw) -> str:
    with pytest.raises(XlstsrError, match="holds no valid value in the training split") as err:
        _fit_cube(guide, **kw)
    return str(err.value)


def _trained(model) -> None:
    assert np.isfinite(np.asarray(model.normalisation()["guide_mean"], float)).all()


# -- 1 and 2: fit_cube's refusal in its own terms, each advice followed --------------------------
def test_fit_cube_refusal_names_window_positions_and_a_seed_that_works():
    """fit_cube was told val_scenes= of split_by_scene, n_guide one fewer, and 'scenes'."""
    _, ndvi, evi = _fields()
    msg = _refusal(xr.Dataset({"ndvi": ndvi, "evi": evi}))
    assert "guide band 'evi' (index 1 of 2) holds" in msg
    assert "window positions r0c0, r0c1, r1c1" in msg
    assert "valid at the validation window position r1c0" in msg
    for low_level in ("val_scenes", "split_by_scene", "n_guide", "scenes", ") (of"):
        assert low_level not in msg
    assert "val_fraction" in msg and "guide without that band" in msg
    assert "not with one constant" in msg and "(a value" not in msg
    # the seed advised, followed: trains, r1c0 among the training positions
    seed = int(re.search(r"seed=(\d+) does", msg)[1])
    model, rec = _fit_cube(xr.Dataset({"ndvi": ndvi, "evi": evi}), seed=seed)
    _trained(model)
    assert "r1c0" in rec["split"]["train"]


def test_fit_cube_refusal_advice_guide_without_the_band_and_fill_from_another_band_train():
    _, ndvi, evi = _fields()
    model, _ = _fit_cube(xr.Dataset({"ndvi": ndvi}))  # a guide without that band
    _trained(model)
    # filled from a field valid there (an estimate from another band): trains
    model, _ = _fit_cube(xr.Dataset({"ndvi": ndvi, "evi": evi.fillna(0.75 * ndvi)}))
    _trained(model)


def test_fit_cube_constant_fill_is_refused_hence_not_advised():
    """Why the advice names no constant: fit_cube takes it for an undeclared fill."""
    _, ndvi, evi = _fields()
    with pytest.raises(XlstsrError, match="undeclared fill"):
        _fit_cube(xr.Dataset({"ndvi": ndvi, "evi": evi.fillna(0.3)}))


@pytest.mark.filterwarnings("ignore:the split records no grid origin")
def test_fit_cube_given_split_is_advised_a_split_not_a_seed():
    _, ndvi, evi = _fields()
    g = xr.Dataset({"ndvi": ndvi, "evi": evi})
    msg = _refusal(g, split={"train": ["r0c0", "r0c1", "r1c1"], "val": ["r1c0"]})
    assert "Give a split= whose train holds a window position where it is valid" in msg
    assert "seed" not in msg
    model, _ = _fit_cube(g, split={"train": ["r0c0", "r0c1", "r1c0"], "val": ["r1c1"]})
    _trained(model)


def test_cli_refusal_names_its_flags_and_the_seed_advised_trains(tmp_path, capsys):
    from xlstsr.cli import main

    lst, ndvi, evi = _fields()
    lst.to_dataset(name="LST").to_netcdf(tmp_path / "lst.nc")
    (xr.concat([ndvi, evi], dim="band").assign_coords(band=["ndvi", "evi"])
     .transpose("time", "band", "y", "x").to_dataset(name="guide")
     .to_netcdf(tmp_path / "guide.nc"))
    args = ["train", "--lst", str(tmp_path / "lst.nc"), "--guide", str(tmp_path / "guide.nc"),
            "--mode", "degraded_disr", "--arch", "guided_rescnn", "--patch", "32", "--window",
            "32", "--epochs", "1", "--batch-size", "8", "--threads", "1",
            "--out", str(tmp_path / "m.pt")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            rc = main(args)
        except SystemExit as exc:  # parser.error
            rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2 and "holds no valid value in the training split" in err
    assert "val_scenes" not in err and "n_guide" not in err and "split_by_scene" not in err
    assert "--val-fraction" in err and "a guide without that band" in err
    seed = re.search(r"--seed (\d+) does", err)[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main([*args, "--seed", seed]) == 0
    assert (tmp_path / "m.pt").exists()


# -- 1: fit's refusal, several bands: plural throughout; its fill advice followed ---------------
def _patches(fill=False):
    """4 scenes a-d, 3 guide bands; bands 1 and 2 valid only on scene d."""
    rng = np.random.default_rng(0)
    n, h = 4, 8
    lst = (300 + 2 * rng.standard_normal((n, h, h))).astype("float32")
    target = (300 + 2 * rng.standard_normal((n, h * F, h * F))).astype("float32")
    guide = np.full((n, 3, h * F, h * F), np.nan, "float32")
    guide[:, 0] = 0.5 + 0.1 * rng.standard_normal((n, h * F, h * F))
    guide[3, 1:] = 0.3 + 0.05 * rng.standard_normal((2, h * F, h * F))
    if fill:  # from another band, as advised
        guide[:, 1:] = np.where(np.isnan(guide[:, 1:]), 0.6 * guide[:, :1], guide[:, 1:])
    return make_patches(lst, F, guide, target, patch=16, scene_ids=list("abcd"))


def test_fit_two_empty_bands_worded_in_the_plural():
    tr, va = split_by_scene(_patches(), val_scenes=["d"])
    with pytest.raises(XlstsrError) as err:
        fit(GuidedResCNN(F, n_guide=3, channels=4, n_blocks=1), tr, va, epochs=1)
    msg = str(err.value)
    assert msg.startswith("guide bands index 1, 2 (of 3) hold no valid value")
    assert "valid at the validation scene d" in msg
    assert "where they are valid" in msg and "drop the bands" in msg
    assert "n_guide 2 fewer" in msg and "fill them" in msg
    assert "one fewer" not in msg and "where it is valid" not in msg


def test_fit_fill_from_another_band_advice_trains():
    tr, va = split_by_scene(_patches(fill=True), val_scenes=["d"])
    model = GuidedResCNN(F, n_guide=3, channels=4, n_blocks=1)
    hist = fit(model, tr, va, epochs=1)
    assert np.isfinite(hist["train_loss"]).all()
    _trained(model)


# -- 3: adapt's psf bound is training's (2 coarse pixels); above 1, a warning --------------------
def test_adapt_psf_training_takes_is_kept_with_a_warning_naming_the_readings():
    """degraded_pairs / fit_cube take a PSF up to 2 coarse pixels; adapt refused above 1."""
    with pytest.warns(PSFWidthWarning) as rec:
        cfg = Adaptation(psf=1.51)
    assert cfg.psf == 1.51 and cfg.psf_fine(4) == pytest.approx(6.04)
    msg = str(rec[0].message)
    assert issubclass(PSFWidthWarning, UserWarning)
    assert "{'psf': 1.51 / factor} (0.755 at x2, 0.378 at x4" in msg  # MODIS in fine pixels
    assert "metres / the coarse pixel size in metres (MODIS: 350 / 926.6" in msg
    assert f"= {MODIS_PSF_COARSE:.3f}" in msg


@pytest.mark.parametrize("psf", [2.001, 8.0, 350])
def test_adapt_psf_above_training_bound_refused(psf):
    with pytest.raises(ValueError, match="at most 2 here"):
        Adaptation(psf=psf)


@pytest.mark.parametrize("psf", [MODIS_PSF_COARSE, 0.5, 1.0, "modis", None])
def test_adapt_psf_of_a_sensor_not_warned(psf):
    """A guard (passes before the fix too)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", PSFWidthWarning)
        assert Adaptation(psf=psf).psf == psf


def test_upscale_adapts_with_a_psf_of_1_5_coarse_pixels():
    """A model trained at degraded_pairs(psf=6) at x4 (1.5 coarse pixels) adapts with it."""
    torch.manual_seed(0)
    lst = make_lst((300 + np.random.default_rng(0).standard_normal((1, 6, 6))).astype("float32"),
                   units="K")
    with pytest.warns(PSFWidthWarning):
        out = xlstsr.upscale(lst, F, method="sisr", adapt={"psf": 1.5, "steps": 1})
    assert out.shape[-2:] == (6 * F, 6 * F) and np.isfinite(out.values).all()
