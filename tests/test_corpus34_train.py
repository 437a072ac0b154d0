"""Training found wanting in session 34: --save-checkpoints kept no best checkpoint, a diverged
run was written as a good one, a resume of an early-stopped run trained on, DISR patches mostly
without a guide were kept silently, and `xlstsr train` named Python arguments."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

import xlstsr
from tests.helpers import cli_streams, tiny_lst_stack, tiny_patch_split, tiny_rescnn
from xlstsr.train import PatchSet, degraded_pairs, fit, make_loss, make_patches

_lst, _split, _small = tiny_lst_stack, tiny_patch_split, tiny_rescnn


def _val_loss(model, val: PatchSet) -> float:
    loss = make_loss("sisr", 4)
    with torch.no_grad():
        return float(loss(model, val.batch(torch.arange(len(val)))))


@pytest.fixture(scope="module")
def lst_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("c34t") / "lst.nc"
    s = xlstsr.datasets.sample_scene(n_times=2, size=256, seed=3)
    s["lst_1km"].to_dataset(name="LST").to_netcdf(path)
    return path


def _train(lst_file, tmp_path, *extra):
    return cli_streams("train", "--lst", lst_file, "--variable", "LST", "--patch", "16",
                       "--window", "32", "--threads", "1", "--batch-size", "8",
                       "--log-dir", tmp_path / "logs", *extra)


# --- 01: --save-checkpoints keeps the best epoch by val_loss ------------------------------------

def test_save_checkpoints_keeps_the_best_epoch_by_val_loss(lst_file, tmp_path):
    """The help said "(best and last)", but the ModelCheckpoint monitored nothing: its top-1 was
    the last epoch. The best checkpoint is the epoch of the least val_loss (the key the loop
    logs), beside last.ckpt."""
    rc, out, err = _train(lst_file, tmp_path, "--epochs", "3", "--lr", "0.003",
                          "--save-checkpoints", "--out", tmp_path / "m.pt")
    assert rc == 0, err
    hist = torch.load(tmp_path / "m.pt", weights_only=True)["metadata"]["history"]
    ckpts = sorted(p.name for p in (tmp_path / "logs" / "checkpoints").glob("*.ckpt"))
    best = [c for c in ckpts if not c.startswith("last")]
    assert "last.ckpt" in ckpts and len(best) == 1, ckpts
    assert int(re.search(r"epoch=(\d+)", best[0])[1]) == int(np.nanargmin(hist["val_loss"]))
    state = torch.load(tmp_path / "logs" / "checkpoints" / best[0], weights_only=False)
    ck = next(v for k, v in state["callbacks"].items() if "ModelCheckpoint" in k)
    assert ck["monitor"] == "val_loss"
    assert float(ck["best_model_score"]) == pytest.approx(np.nanmin(hist["val_loss"]), rel=1e-5)
    assert "best checkpoint" in out


def test_save_checkpoints_without_validation_keeps_last_only(lst_file, tmp_path):
    """Without validation positions there is no val_loss to rank by: last.ckpt only, and no
    Lightning warning about a missing monitored key."""
    rc, _out, err = _train(lst_file, tmp_path, "--epochs", "1", "--val-fraction", "0",
                          "--save-checkpoints", "--out", tmp_path / "m.pt")
    assert rc == 0, err
    ckpts = sorted(p.name for p in (tmp_path / "logs" / "checkpoints").glob("*.ckpt"))
    assert ckpts == ["last.ckpt"]
    assert "monitored key" not in err


def test_save_checkpoints_help_says_what_is_kept(capsys):
    from xlstsr.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(best and last)" not in text
    assert "best validation loss" in text and "last.ckpt only" in text


# --- 03: a diverged training keeps the starting weights, loudly ---------------------------------

def test_diverged_training_keeps_the_starting_weights_and_warns(caplog):
    """lr far too high: every epoch is worse than the starting (bicubic) weights, which the run
    now scores once and returns, with a warning naming lr; the history records the start."""
    train, val = _split()
    model = _small()
    start = {k: v.clone() for k, v in model.named_parameters()}  # (buffers: set by the fit)
    with pytest.warns(UserWarning, match="did not improve on the starting model") as rec:
        hist = fit(model, train, val, epochs=3, lr=5.0, patience=0)
    msg = str(rec[0].message)
    assert "lr=5" in msg and "bicubic" in msg
    assert any("did not improve" in r.getMessage() for r in caplog.records)
    assert hist["kept_start_weights"] is True
    assert np.nanmin(hist["val_loss"]) > hist["start_val_loss"]
    assert hist["best_val_loss"] == hist["start_val_loss"]
    for k, v in model.named_parameters():
        torch.testing.assert_close(v, start[k])
    assert _val_loss(model, val) == pytest.approx(hist["start_val_loss"], rel=1e-5)


def test_good_training_records_the_start_and_does_not_warn():
    train, val = _split()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hist = fit(_small(), train, val, epochs=2, lr=1e-3, patience=0)
    assert hist["kept_start_weights"] is False
    assert np.isfinite(hist["start_val_loss"])
    assert hist["best_val_loss"] < hist["start_val_loss"]


def test_diverged_cli_run_warns_with_the_flag(lst_file, tmp_path):
    rc, _out, err = _train(lst_file, tmp_path, "--epochs", "2", "--lr", "5",
                          "--out", tmp_path / "m.pt")
    assert rc == 0, err
    assert "did not improve on the starting model" in err and "--lr 0.5" in err
    assert err.count("did not improve") == 1  # the warning, not its log record again


# --- 04: a resume of an early-stopped run stops at once -----------------------------------------

def test_resume_of_an_early_stopped_run_trains_no_more(tmp_path):
    """The stop decision was not in the checkpoint: a resumed run trained past it. An lr of
    1e-12 improves nothing, so patience 1 stops after the second epoch."""
    train, val = _split()
    ck = ModelCheckpoint(dirpath=tmp_path, save_last=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the run keeps its starting weights: said
        first_model = _small()
        first = fit(first_model, train, val, epochs=6, lr=1e-12, patience=1, callbacks=[ck])
        assert first["epochs_run"] == 2
        again_model = _small()
        again = fit(again_model, train, val, epochs=6, lr=1e-12, patience=1,
                    ckpt_path=ck.last_model_path)
    assert again["epochs_run"] == first["epochs_run"]
    for k, v in first_model.state_dict().items():
        torch.testing.assert_close(again_model.state_dict()[k], v)


# --- 05: DISR patches mostly without a guide ----------------------------------------------------

def test_patches_mostly_without_guide_warn():
    lst = _lst(2, 32)
    pairs = degraded_pairs(lst, 4, guide=np.ones((2, 1, 128, 128), "float32"))
    guide = pairs["guide"].copy()
    guide[..., : guide.shape[-2] * 3 // 4, :] = np.nan  # three quarters of the rows
    with pytest.warns(UserWarning, match=r"no valid guide pixel.*Crop the LST to the guide"):
        make_patches(**{**pairs, "guide": guide}, factor=4, patch=16, stride=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_patches(**pairs, factor=4, patch=16, stride=8)


# --- 06: train's errors name its flags ----------------------------------------------------------

@pytest.mark.parametrize("flag, value", [("--lr", "0"), ("--batch-size", "0"),
                                         ("--patience", "-1"), ("--seed", "-1")])
def test_train_settings_checked_before_the_data_naming_the_flag(tmp_path, flag, value):
    """Checked before any data is read (the LST here does not exist), named as flags."""
    rc, _, err = cli_streams("train", "--lst", tmp_path / "missing.nc", flag, value,
                             "--out", tmp_path / "m.pt")
    assert rc == 2
    assert f"{flag} must be" in err and "missing.nc" not in err


def test_train_advice_in_flag_spelling():
    from xlstsr.cli import _renamed_flags

    text = ("patch (16) must be a multiple of factor (3): e.g. patch=15; window (24): e.g. "
            "window=16; max_nan_fraction must be a finite number; lower it (lr=0.005)")
    got = _renamed_flags(text, "train")
    assert "--patch 15" in got and "--window 16" in got and "--lr 0.005" in got
    assert "--max-nan-fraction must" in got
    # a Trainer option's key stays as it is
    assert "trainer_options['max_epochs']" not in _renamed_flags(
        "trainer_options['max_epochs'] must be", "train")


def test_window_refusal_lowers_the_patch_when_no_multiple_of_it_fits():
    from xlstsr.train import CubeDataModule

    cube = xlstsr.datasets.sample_scene(n_times=2, size=48, seed=1)["lst_1km"].isel(
        y=slice(0, 5), x=slice(0, 6))  # 5 x 6 output pixels (sisr trains at the LST's scale)
    with pytest.raises(ValueError, match="smaller than one window") as err:
        CubeDataModule(cube, patch=32, window=64).setup()
    assert "lower `patch` to 4 at most" in str(err.value), str(err.value)  # x4: 4 | patch
    with pytest.raises(ValueError, match="smaller than one window") as err:
        CubeDataModule(cube, patch=4, window=8).setup()
    assert "lower `window` (a multiple of the patch, 4) to 5 at most" in str(err.value)
