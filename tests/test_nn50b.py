"""Review 50 b fixes: the adapt psf given in fine pixels (degraded_pairs' psf=1.51, MODIS at x4)
refused with both unit conversions (metres, fine pixels); a guide band with no valid value in the
training split refused in fit_normalisation naming the band, the split and the fixes."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

import xlstsr
from tests.helpers import make_lst
from xlstsr.errors import XlstsrError
from xlstsr.nn import GuidedResCNN
from xlstsr.nn.adapt import MODIS_PSF_COARSE, PSF_MAX_COARSE, Adaptation, PSFWidthWarning
from xlstsr.train import fit, make_patches, split_by_scene

F = 4


# -- 1: adapt psf in fine pixels -----------------------------------------------------------------
def test_adapt_psf_in_fine_pixels_warned_and_its_advice_runs():
    """1.51 (MODIS's PSF in fine pixels at x4) ran as 1.51 coarse pixels, 4x MODIS's width,
    without a word; it is a width training takes (review 50i/3): warned with its readings."""
    with pytest.warns(PSFWidthWarning, match="fine pixels") as rec:
        Adaptation.parse({"psf": 1.51})
    msg = str(rec[0].message)
    assert "{'psf': 1.51 / factor}" in msg and "0.378 at x4" in msg
    assert "metres / the coarse pixel size" in msg and "psf='modis'" in msg
    assert "1.51 / 926.6" not in msg  # 0.0016 coarse pixels: a box, not MODIS
    # the advice, followed: MODIS's width at x4
    cfg = Adaptation.parse({"psf": 1.51 / 4})
    assert cfg.psf_fine(4) == pytest.approx(Adaptation(psf="modis").psf_fine(4), rel=1e-3)


def test_adapt_psf_in_fine_pixels_at_x8_gets_the_fine_pixel_advice_not_metres():
    """3.02 (MODIS at x8 in fine pixels) was advised 3.02 / 926.6: a box."""
    with pytest.raises(ValueError, match="fine pixels") as err:
        Adaptation.parse({"psf": 3.02})
    msg = str(err.value)
    assert "0.378 at x8" in msg and "3.02 / 926.6" not in msg
    assert Adaptation.parse({"psf": 3.02 / 8}).psf_fine(8) == pytest.approx(3.02)


def test_adapt_psf_in_metres_keeps_its_advice_without_a_fine_pixel_reading():
    with pytest.raises(ValueError, match="metres") as err:
        Adaptation.parse({"psf": 350})
    msg = str(err.value)
    assert "{'psf': 350 / 926.6} (0.378)" in msg and "350 / factor" not in msg
    assert re.search(r"fine pixels.*that / the factor", msg)  # the other unit rule named
    assert Adaptation.parse({"psf": 350 / 926.6}).psf == pytest.approx(MODIS_PSF_COARSE, 1e-3)


@pytest.mark.parametrize("psf", [2.0001, 3.0])
def test_adapt_psf_above_two_coarse_pixels_refused(psf):
    assert PSF_MAX_COARSE == 2.0  # training's bound (review 50i/3)
    with pytest.raises(ValueError, match="at most 2 here"):
        Adaptation(psf=psf)


@pytest.mark.parametrize("psf", [1.0001, 1.5, 2.0])
def test_adapt_psf_above_one_coarse_pixel_warned(psf):
    with pytest.warns(PSFWidthWarning, match=r"wider than any sensor's PSF"):
        assert Adaptation(psf=psf).psf == psf


@pytest.mark.parametrize("psf", [0, 1e-9, MODIS_PSF_COARSE, 0.5, 1.0, "modis", None])
def test_adapt_psf_of_a_sensor_kept(psf):
    """A guard (passes before the fix too): a sensor's width, a box, and the bound itself stay."""
    assert Adaptation(psf=psf).psf == psf


def test_adapt_psf_in_fine_pixels_warned_by_upscale_and_its_advice_runs():
    lst = make_lst((300 + np.random.default_rng(0).standard_normal((1, 6, 6))).astype("float32"),
                   units="K")
    with pytest.warns(PSFWidthWarning, match=r"1\.51 / factor"):
        xlstsr.upscale(lst, F, method="sisr", adapt={"psf": 1.51, "steps": 1})
    out = xlstsr.upscale(lst, F, method="sisr", adapt={"psf": 1.51 / F, "steps": 1})
    assert out.shape[-2:] == (6 * F, 6 * F) and np.isfinite(out.values).all()


# -- 2: a guide band with no valid value in the training split ----------------------------------
def _patches(band1_scenes=(3,), fill=None):
    """4 scenes a-d; guide band 1 valid only on the scenes ``band1_scenes`` (by index)."""
    rng = np.random.default_rng(0)
    n, h = 4, 8
    lst = (300 + 2 * rng.standard_normal((n, h, h))).astype("float32")
    target = (300 + 2 * rng.standard_normal((n, h * F, h * F))).astype("float32")
    guide = np.stack([0.5 + 0.1 * rng.standard_normal((n, h * F, h * F)),
                      np.full((n, h * F, h * F), np.nan)], axis=1).astype("float32")
    for i in band1_scenes:
        guide[i, 1] = 0.3 + 0.05 * rng.standard_normal((h * F, h * F))
    if fill is not None:  # "estimate": from band 0 (the advice: no constant)
        value = 0.6 * guide[:, 0] if fill == "estimate" else fill
        guide[:, 1] = np.where(np.isnan(guide[:, 1]), value, guide[:, 1])
    return make_patches(lst, F, guide, target, patch=16, scene_ids=list("abcd"))


def _model(n_guide=2, inputs=None):
    model = GuidedResCNN(F, n_guide=n_guide, channels=4, n_blocks=1)
    if inputs is not None:
        model.metadata = {"inputs": inputs}
    return model


def test_guide_band_empty_in_the_training_split_refused_naming_it_and_the_fixes():
    tr, va = split_by_scene(_patches(), val_scenes=["d"])
    with pytest.raises(XlstsrError, match=r"guide band index 1 \(of 2\) holds no valid value "
                                          r"in the training split") as err:
        fit(_model(), tr, va, epochs=1)
    msg = str(err.value)
    assert "12 patches of scenes a, b, c" in msg
    assert "val_scenes=" in msg and "drop the band" in msg and "fill it" in msg
    assert "set_normalisation" not in msg


def test_guide_band_empty_in_training_named_by_its_label():
    tr, va = split_by_scene(_patches(), val_scenes=["d"])
    with pytest.raises(XlstsrError, match=r"guide band 'emissivity' \(index 1 of 2\)"):
        fit(_model(inputs=["lst", "ndvi", "emissivity"]), tr, va, epochs=1)


@pytest.mark.filterwarnings("ignore:training did not improve")
@pytest.mark.parametrize("fix", ["split", "drop", "fill"])
def test_guide_band_empty_in_training_advice_followed_trains(fix):
    model = _model()
    if fix == "split":  # the scene where the band is valid trains
        tr, va = split_by_scene(_patches(), val_scenes=["a"])
    elif fix == "drop":  # the band dropped, the model built with n_guide one fewer
        p = dataclasses.replace(_patches(), guide=_patches().guide[:, :1].contiguous())
        tr, va = split_by_scene(p, val_scenes=["d"])
        model = _model(n_guide=1)
    else:  # filled before the patches are cut, from another band (review 50i/2)
        tr, va = split_by_scene(_patches(fill="estimate"), val_scenes=["d"])
    hist = fit(model, tr, va, epochs=1)
    assert np.isfinite(hist["train_loss"]).all()
    assert np.isfinite(np.asarray(model.normalisation()["guide_mean"])).all()


@pytest.mark.filterwarnings("ignore:training did not improve")
def test_guide_band_empty_in_training_fixed_by_split_saves(tmp_path):
    from xlstsr.nn.checkpoint import save_model

    tr, va = split_by_scene(_patches(), val_scenes=["a"])
    model = _model()
    fit(model, tr, va, epochs=1)
    save_model(model, tmp_path / "m.pt")  # NaN guide_mean was refused here before
    assert (tmp_path / "m.pt").exists()
