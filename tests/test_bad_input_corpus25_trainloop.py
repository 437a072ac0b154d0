"""The training loop's records and checkpoints found wanting in session 25."""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
import torch
import xarray as xr
from lightning.pytorch.callbacks import ModelCheckpoint

import xlstsr.train.loop as loop
from xlstsr.errors import XlstsrError
from xlstsr.kernels.aggregate import block_mean
from xlstsr.nn import ResCNN, load_model, save_model
from xlstsr.train import (
    SuperResolutionModule,
    degraded_pairs,
    fit,
    fit_cube,
    fit_files,
    make_loss,
    make_patches,
)


def _sif_cube(seed: int = 0) -> tuple[xr.DataArray, xr.DataArray]:
    """A coarse LST whose detail follows the NDVI at about -20 K per NDVI (not the loss's
    default -10), and that NDVI 4 x finer."""
    rng = np.random.default_rng(seed)
    n, h, f = 2, 32, 4
    ndvi = np.clip(0.4 + 0.2 * rng.standard_normal((n, h * f, h * f)), 0, 1).astype("float32")
    lst = 300 - 20 * block_mean(ndvi, f) + rng.normal(0, 0.3, (n, h, h))
    return (xr.DataArray(lst, dims=("time", "y", "x"), attrs={"units": "K"}, name="LST"),
            xr.DataArray(ndvi, dims=("time", "y", "x"), name="ndvi"))


@pytest.fixture
def sif_calls(monkeypatch):
    """The keyword options of every sif_loss call of the training loop."""
    used: dict = {}
    orig = loop.sif_loss

    @functools.wraps(orig)
    def spy(*a, **k):
        used.clear()
        used.update(k)
        return orig(*a, **k)

    monkeypatch.setattr(loop, "sif_loss", spy)
    return used


def test_sif_loss_options_keep_the_fitted_gain(sif_calls, tmp_path):
    """fit_cube / fit_files with mode='sif' and loss_options={'alpha': 0.7} trained with the
    loss's default gain (-10) instead of the guide gain the data module fitted, while the record
    and the checkpoint reported the fitted gain and not the alpha. The user's options now go on
    top of the fitted ones, and what the loss ran with is recorded."""
    lst, ndvi = _sif_cube()
    _, rec0 = fit_cube(lst, guide=ndvi, mode="sif", patch=16, window=32, epochs=1)
    fitted = rec0["loss_options"]["gain"]
    assert fitted < -15  # the cube's law, not the loss's default

    _, rec = fit_cube(lst, guide=ndvi, mode="sif", patch=16, window=32, epochs=1,
                      loss_options={"alpha": 0.7})
    assert sif_calls == {"gain": fitted, "alpha": 0.7}
    assert rec["loss_options"] == {"gain": fitted, "alpha": 0.7}

    # a gain the user gives wins over the fitted one, and is the one recorded
    _, rec = fit_cube(lst, guide=ndvi, mode="sif", patch=16, window=32, epochs=1,
                      loss_options={"gain": -5.0})
    assert sif_calls == {"gain": -5.0}
    assert rec["loss_options"] == {"gain": -5.0}

    lst.to_netcdf(tmp_path / "lst.nc")
    ndvi.to_netcdf(tmp_path / "ndvi.nc")
    out = fit_files(tmp_path / "lst.nc", tmp_path / "sif.pt", guide=tmp_path / "ndvi.nc",
                    mode="sif", patch=16, window=32, epochs=1, loss_options={"alpha": 0.7})
    assert sif_calls == {"gain": fitted, "alpha": 0.7}
    assert load_model(out["path"]).metadata["loss_options"] == {"gain": fitted, "alpha": 0.7}


def test_module_setup_merges_the_fitted_gain_under_given_options():
    """A plain Trainer run of SuperResolutionModule(loss_options={'alpha': ...}) on a SIF data
    module dropped the fitted gain the same way (given options replaced it whole)."""
    from xlstsr.train import CubeDataModule

    lst, ndvi = _sif_cube()
    data = CubeDataModule(lst, guide=ndvi, mode="sif", patch=16, window=32)
    data.setup("fit")
    module = SuperResolutionModule("guided_rescnn", config={"factor": 4, "n_guide": 1},
                                   mode="sif", loss_options={"alpha": 0.7})

    class _Trainer:
        datamodule = data

    module._trainer = _Trainer()  # what a Trainer's fit sets before setup
    module.setup("fit")
    assert module.loss_options == {"gain": data.loss_options["gain"], "alpha": 0.7}
    assert module.hparams["loss_options"] == module.loss_options


def test_lightning_checkpoint_keeps_guide_band_names(tmp_path):
    """SuperResolutionModule did not keep the guide band names (model.metadata['inputs']) in
    its hyper-parameters: the model rebuilt from a Lightning checkpoint, and the model file the
    library advises writing from it, named them 'guide0', 'guide1', and upscale accepted the
    bands in swapped order. They travel with the checkpoint now; an older checkpoint without
    them still loads."""
    rng = np.random.default_rng(0)
    n, h = 2, 32
    lst = xr.DataArray(300 + rng.normal(0, 2, (n, h, h)), dims=("time", "y", "x"),
                       attrs={"units": "K"})

    def band():
        return xr.DataArray((0.4 + 0.1 * rng.random((n, 4 * h, 4 * h))).astype("float32"),
                            dims=("time", "y", "x"))

    guide = xr.Dataset({"ndvi": band(), "evi": band()})
    model, _ = fit_cube(lst, guide=guide, mode="degraded_disr", arch="guided_rescnn", patch=16,
                        epochs=1, callbacks=[ModelCheckpoint(dirpath=tmp_path, save_last=True)])
    assert model.metadata["inputs"] == ["lst", "ndvi", "evi"]
    ckpt = tmp_path / "last.ckpt"
    back = SuperResolutionModule.load_from_checkpoint(ckpt)
    assert back.model.metadata["inputs"] == ["lst", "ndvi", "evi"]
    assert back.hparams["inputs"] == ["lst", "ndvi", "evi"]
    p = save_model(back.model, tmp_path / "model.pt")
    assert load_model(p).metadata["inputs"] == ["lst", "ndvi", "evi"]

    blob = torch.load(ckpt, map_location="cpu", weights_only=False)
    blob["hyper_parameters"].pop("inputs")  # a checkpoint of an earlier release
    torch.save(blob, tmp_path / "old.ckpt")
    old = SuperResolutionModule.load_from_checkpoint(tmp_path / "old.ckpt")
    assert (getattr(old.model, "metadata", None) or {}).get("inputs") is None
    assert load_model(save_model(old.model, tmp_path / "old.pt")).metadata["inputs"] == [
        "lst", "guide0", "guide1"]


def _patches(mean: float, sd: float, seed: int):
    rng = np.random.default_rng(seed)
    lst = (mean + rng.normal(0, sd, (4, 32, 32))).astype("float32")
    return make_patches(**degraded_pairs(lst, 4), factor=4, patch=16)


def test_resume_on_other_patches_is_refused(tmp_path):
    """fit(model, other_patches, ckpt_path=...) resumed on other data without a word (the model
    kept the first run's normalisation). The data module's state holds a fingerprint of its
    patches now and a resume on others is refused, naming what differs; the same patches still
    resume."""
    a, b = _patches(300, 2, 0), _patches(260, 8, 0)
    torch.manual_seed(0)
    fit(ResCNN(4, channels=4, n_blocks=1), a, epochs=3,
        callbacks=[ModelCheckpoint(dirpath=tmp_path, save_last=True)],
        trainer_options={"max_epochs": 2})
    ckpt = tmp_path / "last.ckpt"
    with pytest.raises(XlstsrError, match=r"other patches .*lst_mean .*first run"):
        fit(ResCNN(4, channels=4, n_blocks=1), b, epochs=3, ckpt_path=ckpt)
    # the same values in another order (same count, mean, shapes): refused by the digest
    shuffled = a.subset(np.arange(len(a))[::-1].copy())
    with pytest.raises(XlstsrError, match="other patches"):
        fit(ResCNN(4, channels=4, n_blocks=1), shuffled, epochs=3, ckpt_path=ckpt)
    hist = fit(ResCNN(4, channels=4, n_blocks=1), a, epochs=3, ckpt_path=ckpt)
    assert hist["epochs_run"] == 3


def test_val_check_interval_returns_the_validated_weights():
    """With trainer_options={'val_check_interval': 2} BestWeights copied the weights at the
    epoch's end, one batch after the validation that scored them: the returned model did not
    score best_val_loss. The copy is taken when the validation improves now."""
    from xlstsr.train import split_by_scene

    rng = np.random.default_rng(0)
    ps = make_patches(**degraded_pairs(300 + rng.normal(0, 3, (8, 32, 32)), 4), factor=4,
                      patch=16, scene_ids=list("abcdefgh"))
    tr, va = split_by_scene(ps, val_scenes=["g", "h"])  # 24 training patches: 3 batches of 8
    torch.manual_seed(0)
    m = ResCNN(4, channels=4, n_blocks=1)
    hist = fit(m, tr, va, epochs=6, batch_size=8, lr=0.2, patience=0,
               trainer_options={"val_check_interval": 2})
    with torch.no_grad():
        got = float(make_loss("sisr", 4)(m, va.batch(torch.arange(len(va)))))
    assert got == pytest.approx(hist["best_val_loss"], abs=1e-5)
    # (lr 0.2 diverges: no validation beats the starting weights, which are kept and scored)
    best = min(np.nanmin(hist["val_loss"]), hist["start_val_loss"])
    assert hist["best_val_loss"] == pytest.approx(best, abs=1e-7)


def test_empty_val_patches_warn():
    """fit(model, train, val) with a `val` that holds no patch (an empty split) trained with no
    validation and no early stopping without a word; it warns now, and val=None stays quiet."""
    ps = _patches(300, 2, 0)
    empty = ps.subset(np.zeros(len(ps), bool))
    assert len(empty) == 0
    with pytest.warns(UserWarning, match="without validation and without early stopping"):
        hist = fit(ResCNN(4, channels=4, n_blocks=1), ps, empty, epochs=1)
    assert hist["validated"] is False
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        fit(ResCNN(4, channels=4, n_blocks=1), ps, None, epochs=1)
