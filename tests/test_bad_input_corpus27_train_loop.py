"""The training loop and its data found wanting in session 27: a resume under another loss, Trainer
options under which validation never runs, a too-large guide cropped, patch sets of other sizes
concatenated with torch's raw error."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from lightning.pytorch.callbacks import ModelCheckpoint

from tests.helpers import tiny_lst_stack, tiny_patch_split, tiny_rescnn
from xlstsr.errors import GridError, XlstsrError
from xlstsr.kernels.aggregate import block_mean
from xlstsr.train import PatchSet, degraded_pairs, fit, fit_cube, make_patches

_lst, _split, _small = tiny_lst_stack, tiny_patch_split, tiny_rescnn


# --- 1. resume under other loss_options ---------------------------------------------------------

def test_resume_with_other_loss_options_is_refused_naming_both(tmp_path):
    """fit(..., ckpt_path=) refused another lr but not other loss_options: the run went on under
    another loss, the history mixed both, the best weights were chosen across two losses and the
    record named the new options for the whole run."""
    train, val = _split()
    ck = ModelCheckpoint(dirpath=tmp_path, save_last=True)
    first = {"fidelity": "log_mse"}
    fit(_small(), train, val, epochs=3, patience=0, loss_options=first, callbacks=[ck],
        trainer_options={"max_epochs": 1})
    other = {"fidelity": "huber", "w_consistency": 50.0}
    with pytest.raises(XlstsrError, match="loss_options") as err:
        fit(_small(), train, val, epochs=3, patience=0, loss_options=other,
            ckpt_path=ck.last_model_path)
    assert repr(first) in str(err.value) and repr(other) in str(err.value)
    # the same options resume (the run completes its schedule)
    h = fit(_small(), train, val, epochs=3, patience=0, loss_options=dict(first),
            ckpt_path=ck.last_model_path)
    assert h["epochs_run"] == 3 and np.isfinite(h["val_loss"]).all()


def test_resume_of_a_sif_cube_run_with_its_fitted_gain_is_accepted(tmp_path):
    """The loss options a data module fitted (the SIF guide gain) are in both the checkpoint and
    the resumed run: the loss_options check does not refuse the first run's own settings."""
    rng = np.random.default_rng(0)
    ndvi = np.clip(0.4 + 0.2 * rng.standard_normal((2, 128, 128)), 0, 1).astype("float32")
    lst = 300 - 20 * block_mean(ndvi, 4) + rng.normal(0, 0.3, (2, 32, 32))
    cube = xr.DataArray(lst.astype("float32"), dims=("time", "y", "x"), attrs={"units": "K"},
                        name="LST")
    guide = xr.DataArray(ndvi, dims=("time", "y", "x"), name="ndvi")
    opts = dict(factor=4, patch=16, epochs=2, patience=0, mode="sif", guide=guide,
                loss_options={"alpha": 0.7})
    ck = ModelCheckpoint(dirpath=tmp_path, save_last=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_cube(cube, **opts, callbacks=[ck], trainer_options={"max_epochs": 1})
        _, rec = fit_cube(cube, **opts, ckpt_path=ck.last_model_path)
        assert rec["history"]["epochs_run"] == 2
        with pytest.raises(XlstsrError, match="loss_options"):
            fit_cube(cube, **{**opts, "loss_options": {"alpha": 0.3}},
                     ckpt_path=ck.last_model_path)


# --- 2. Trainer options under which validation never runs --------------------------------------

@pytest.mark.parametrize("opts, name", [
    ({"limit_val_batches": 0}, "limit_val_batches"),
    ({"limit_val_batches": 0.0}, "limit_val_batches"),
    ({"check_val_every_n_epoch": 3}, "check_val_every_n_epoch"),
    ({"check_val_every_n_epoch": 2, "max_epochs": 1}, "check_val_every_n_epoch"),
])
def test_options_that_never_validate_are_refused_with_validation_patches(opts, name):
    """fit returned validated=True, best_val_loss=inf and the last, unranked weights."""
    train, val = _split()
    with pytest.raises(XlstsrError, match=rf"{name}.*validates never.*val=None"):
        fit(_small(), train, val, epochs=2, trainer_options=opts)


def test_validation_options_that_validate_still_run():
    """Without validation patches limit_val_batches=0 changes nothing (ranked by the training
    loss); check_val_every_n_epoch up to the epochs run validates."""
    train, val = _split()
    h = fit(_small(), train, None, epochs=2, trainer_options={"limit_val_batches": 0})
    assert not h["validated"] and np.isfinite(h["best_val_loss"])
    h = fit(_small(), train, val, epochs=2, trainer_options={"check_val_every_n_epoch": 2})
    assert h["validated"] and np.isfinite(h["best_val_loss"])
    assert h["best_val_loss"] == np.nanmin(h["val_loss"])


# --- 3. degraded_pairs with a guide larger than the LST's fine grid -----------------------------

@pytest.mark.parametrize("shape", [(1, 1, 256, 256), (1, 1, 200, 128), (1, 1, 128, 140)])
def test_degraded_pairs_refuses_a_guide_larger_than_the_fine_grid(shape):
    """A guide 8x finer (or covering 4x the area) was cropped to its top-left corner and paired
    with the LST."""
    g = np.random.default_rng(1).random(shape).astype("float32")
    with pytest.raises(GridError, match=r"guide must have the shape") as err:
        degraded_pairs(_lst(2), 4, g)
    assert str(shape) in str(err.value) and "(128, 128)" in str(err.value)


def test_degraded_pairs_takes_the_guide_of_an_uncropped_lst():
    """An LST of 34 pixels is cropped to 32 (whole blocks of 4): its guide of 34*4 pixels, or one
    already cropped to 32*4, is the LST's; one pixel more is not."""
    lst = _lst(2, 34)
    rng = np.random.default_rng(2)
    full = rng.random((2, 1, 136, 136)).astype("float32")
    a = degraded_pairs(lst, 4, full)
    b = degraded_pairs(lst, 4, full[..., :128, :128])
    assert a["guide"].shape == b["guide"].shape == (2, 1, 32, 32)
    np.testing.assert_array_equal(a["guide"], b["guide"])
    with pytest.raises(GridError, match=r"\(128, 128\) to \(136, 136\)"):
        degraded_pairs(lst, 4, rng.random((2, 1, 137, 136)).astype("float32"))
    with pytest.raises(GridError):
        degraded_pairs(lst, 4, full[..., :127, :])


# --- 4. PatchSet.concat of other patch sizes or guide bands ------------------------------------

def test_concat_of_other_patch_sizes_or_guide_bands_names_each_set():
    """Torch's raw "Sizes of tensors must match" instead of the mismatch."""
    lst = _lst(2)
    rng = np.random.default_rng(1)
    g1 = rng.random((2, 1, 128, 128)).astype("float32")
    g2 = rng.random((2, 2, 128, 128)).astype("float32")
    p16 = make_patches(**degraded_pairs(lst, 4), factor=4, patch=16)
    p32 = make_patches(**degraded_pairs(lst, 4), factor=4, patch=32)
    with pytest.raises(XlstsrError, match=r"patch sizes") as err:
        PatchSet.concat([p16, p32])
    assert "16 fine pixels" in str(err.value) and "32 fine pixels" in str(err.value)
    b1 = make_patches(**degraded_pairs(lst, 4, g1), factor=4, patch=16)
    b2 = make_patches(**degraded_pairs(lst, 4, g2), factor=4, patch=16)
    with pytest.raises(XlstsrError, match=r"guide bands") as err:
        PatchSet.concat([b1, b2])
    assert "guide of 1 band" in str(err.value) and "guide of 2 band" in str(err.value)
    # a set without a guide drops the guide (as documented): the bands need not agree then
    both = PatchSet.concat([b1, p16, b2])
    assert both.guide is None and len(both) == len(b1) + len(p16) + len(b2)
    assert len(PatchSet.concat([b1, b1])) == 2 * len(b1)
