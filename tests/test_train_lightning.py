"""The one training loop (Lightning): the public LightningModule and DataModules, Trainer options,
loggers, checkpoints and resume, the split by window position of a cube, quiet by default."""

from __future__ import annotations

import csv
import logging

import numpy as np
import pytest
import torch
import xarray as xr

from xlstsr.errors import CheckpointError, XlstsrError
from xlstsr.nn import ResCNN, load_model, save_model
from xlstsr.train import (
    CubeDataModule,
    PatchDataModule,
    PositionSplit,
    SuperResolutionModule,
    degraded_pairs,
    fit,
    fit_cube,
    make_patches,
    split_by_scene,
)

torch.set_num_threads(1)


def _patches(n=6, size=48, seed=0):
    lst = 300 + np.random.default_rng(seed).normal(0, 2, (n, size, size)).astype("float32")
    return split_by_scene(make_patches(**degraded_pairs(lst, 4), factor=4, patch=16, stride=8), 0.3)


def _cube(n=3, size=64, seed=0):
    rng = np.random.default_rng(seed)
    return xr.DataArray(300 + rng.normal(0, 3, (n, size, size)).astype(np.float32),
                        dims=("time", "y", "x"), name="LST", attrs={"units": "K"})


def _equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_resume_from_a_lightning_checkpoint_gives_the_uninterrupted_weights(tmp_path):
    """4 epochs straight == 2 epochs, a ModelCheckpoint, then a resume to 4: the model, the
    optimiser, the batch order and the augmentation generator all come back from the file."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    tr, va = _patches()
    kw = dict(batch_size=5, patience=0, seed=3, input_noise=0.1)
    torch.manual_seed(0)
    straight = ResCNN(4, channels=8, n_blocks=1)
    h_straight = fit(straight, tr, va, epochs=4, **kw)

    torch.manual_seed(0)
    first = ResCNN(4, channels=8, n_blocks=1)
    ckpt = ModelCheckpoint(dirpath=tmp_path, save_last=True)
    # the same cosine schedule (epochs=4) stopped after 2 epochs, as an interrupted run would be
    fit(first, tr, va, epochs=4, callbacks=[ckpt], trainer_options={"max_epochs": 2}, **kw)
    assert (tmp_path / "last.ckpt").is_file()
    torch.manual_seed(1)  # another initialisation: the checkpoint must overwrite it
    resumed = ResCNN(4, channels=8, n_blocks=1)
    h_resumed = fit(resumed, tr, va, epochs=4, ckpt_path=tmp_path / "last.ckpt",
                    callbacks=[ModelCheckpoint(dirpath=tmp_path, save_last=True)], **kw)
    assert h_resumed["epochs_run"] == 4
    np.testing.assert_allclose(h_resumed["train_loss"], h_straight["train_loss"], rtol=1e-6)
    assert _equal(resumed, straight)
    assert not _equal(first, straight)  # two epochs are not four


def test_csv_and_tensorboard_loggers_write_the_losses_per_epoch(tmp_path):
    tr, va = _patches()
    hist = fit(ResCNN(4, channels=4, n_blocks=1), tr, va, epochs=3, logger="csv",
               log_dir=tmp_path / "csv")
    rows = list(csv.DictReader(open(f"{hist['log_dir']}/metrics.csv")))
    val = [float(r["val_loss"]) for r in rows if r.get("val_loss")]
    train = [float(r["train_loss"]) for r in rows if r.get("train_loss")]
    np.testing.assert_allclose(val, hist["val_loss"], rtol=1e-6)
    np.testing.assert_allclose(train, hist["train_loss"], rtol=1e-6)
    pytest.importorskip("tensorboardX", reason="logger='tensorboard' needs tensorboardX")
    hist = fit(ResCNN(4, channels=4, n_blocks=1), tr, va, epochs=1, logger="tensorboard",
               log_dir=tmp_path / "tb")
    assert list((tmp_path / "tb").rglob("events.out.tfevents.*"))
    with pytest.raises(ValueError, match="unknown logger 'wandb'"):
        fit(ResCNN(4, channels=4, n_blocks=1), tr, va, epochs=1, logger="wandb")


def test_trainer_options_pass_through_and_quiet_by_default(capsys, caplog):
    tr, va = _patches()
    with caplog.at_level(logging.INFO):
        hist = fit(ResCNN(4, channels=4, n_blocks=1), tr, va, epochs=5,
                   trainer_options={"max_epochs": 2, "accelerator": "cpu", "precision": "32-true"})
    assert hist["epochs_run"] == 2  # the Trainer's option overrides the default
    out = capsys.readouterr()
    assert out.out == "" and "GPU available" not in out.err
    assert not [r for r in caplog.records if r.name.startswith("lightning")]
    with pytest.raises(Exception, match=r"(?i)accelerator"):
        fit(ResCNN(4, channels=4, n_blocks=1), tr, va, epochs=1,
            trainer_options={"accelerator": "no_such_device"})


def test_early_stopping_restores_the_best_weights():
    tr, va = _patches()
    torch.manual_seed(0)
    m = ResCNN(4, channels=4, n_blocks=1)
    with pytest.warns(UserWarning, match="did not improve on the starting model"):
        hist = fit(m, tr, va, epochs=30, lr=0.3, patience=2)  # a learning rate that diverges
    assert hist["epochs_run"] < 30
    best = int(np.argmin(hist["val_loss"]))
    assert hist["epochs_run"] == best + 3
    # no epoch beats the starting (bicubic) weights: those are kept, not the best diverged epoch
    assert hist["kept_start_weights"] and min(hist["val_loss"]) > hist["start_val_loss"]
    assert hist["best_val_loss"] == hist["start_val_loss"]
    m.eval()
    with torch.no_grad():
        loss = SuperResolutionModule(m, mode="sisr").loss_fn(m, va.batch(torch.arange(len(va))))
    assert float(loss) == pytest.approx(hist["best_val_loss"], rel=1e-5)


def test_lightning_module_round_trip_and_a_clear_error_for_ckpt_given_to_upscale(tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    tr, va = _patches()
    m = ResCNN(4, channels=4, n_blocks=1)
    fit(m, tr, va, epochs=1, callbacks=[ModelCheckpoint(dirpath=tmp_path, save_last=True)])
    module = SuperResolutionModule.load_from_checkpoint(tmp_path / "last.ckpt")
    assert module.hparams["model"] == "rescnn" and module.mode == "sisr"
    assert _equal(module.model, m)  # rebuilt from the names in the hyper-parameters
    with pytest.raises(CheckpointError, match="Lightning training checkpoint"):
        load_model(tmp_path / "last.ckpt")
    path = save_model(module.model, tmp_path / "m.pt", mode="sisr")
    assert _equal(load_model(path, factor=4, n_guide=0), m)


def test_patch_data_module_batches_are_seeded_and_augmented():
    tr, _ = _patches()
    a = [b["lst"] for b in PatchDataModule(tr, batch_size=4, seed=1).train_dataloader()]
    b = [b["lst"] for b in PatchDataModule(tr, batch_size=4, seed=1).train_dataloader()]
    c = [b["lst"] for b in PatchDataModule(tr, batch_size=4, seed=2).train_dataloader()]
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))
    assert sum(len(x) for x in a) == len(tr)
    val = PatchDataModule(tr, tr, batch_size=4).val_dataloader()
    first = next(iter(val))
    assert torch.equal(first["lst"], tr.lst[:4])  # validation: in order, not augmented
    assert PatchDataModule(tr, None).val_dataloader() == []


def test_cube_data_module_splits_by_window_position_never_by_date():
    cube = _cube(n=4, size=96)
    dm = CubeDataModule(cube, patch=16, window=32, val_fraction=0.3, seed=0)
    dm.setup("fit")
    tr, va = set(dm.train_set.scene), set(dm.val_set.scene)
    assert tr and va and not tr & va
    assert tr | va == {f"r{i}c{j}" for i in range(3) for j in range(3)}
    # every date of a position lands in the same set: 4 dates x 9 patches per 32-px window
    _, counts = np.unique(dm.val_set.scene, return_counts=True)
    assert (counts == 4 * 9).all()
    with pytest.raises(ValueError, match="two sets"):
        PositionSplit(train=("r0c0", "r0c1"), val=("r0c1",))
    fixed = CubeDataModule(cube, patch=16, window=32,
                           split=PositionSplit(train=("r0c0",), val=("r1c1",), test=tuple(
                               f"r{i}c{j}" for i in range(3) for j in range(3)
                               if (i, j) not in ((0, 0), (1, 1)))))
    fixed.setup()
    assert set(fixed.train_set.scene) == {"r0c0"} and set(fixed.val_set.scene) == {"r1c1"}
    with pytest.raises(ValueError, match="smaller than one window"):
        CubeDataModule(cube, patch=16, window=128).setup()
    with pytest.raises(ValueError, match="multiple of patch"):
        CubeDataModule(cube, patch=16, window=40)


def test_cube_data_module_decodes_through_the_front_door():
    """A Celsius cube with a -80 fill value (the SEVIRI case) is refused before any training."""
    import xlstsr

    cube = _cube(size=64) - 273.15
    cube.attrs = {}
    cube[:, :40] = -80.0
    with pytest.raises(xlstsr.errors.XlstsrError):
        CubeDataModule(cube, patch=16).setup()


def test_fit_cube_records_the_split_and_trains_a_guided_model():
    cube = _cube(n=2, size=64)
    ndvi = xr.DataArray(np.random.default_rng(2).random((1, 256, 256)).astype("float32"),
                        dims=("band", "y", "x"))
    model, rec = fit_cube(cube, guide=ndvi, mode="degraded_disr", patch=16, epochs=1)
    assert model.n_guide == 1
    assert set(rec["split"]["train"]) and set(rec["split"]["val"])
    assert not set(rec["split"]["train"]) & set(rec["split"]["val"])
    assert rec["window"] == 32


def test_train_cli_logs_checkpoints_resumes_and_never_overwrites(tmp_path):
    from xlstsr.cli import main

    _cube(n=2, size=64).to_dataset().to_netcdf(tmp_path / "cube.nc")
    out, logs = tmp_path / "m.pt", tmp_path / "logs"
    args = ["train", "--lst", str(tmp_path / "cube.nc"), "--patch", "16", "--batch-size", "8",
            "--logger", "csv", "--log-dir", str(logs), "--save-checkpoints"]
    # a run of 3 epochs stopped after 2 (as an interrupted one), then resumed to its end
    assert main([*args, "--epochs", "3", "--max-epochs", "2", "--out", str(out)]) == 0
    assert load_model(out, factor=4, n_guide=0).metadata["split"]["by"] == "window position"
    assert list(logs.rglob("metrics.csv")) and (logs / "checkpoints" / "last.ckpt").is_file()
    before = out.read_bytes()
    assert main([*args, "--epochs", "3", "--out", str(out)]) == 2  # an existing file is kept
    assert out.read_bytes() == before
    assert main([*args, "--epochs", "3", "--out", str(tmp_path / "m3.pt"),
                 "--resume", str(logs / "checkpoints" / "last.ckpt")]) == 0
    assert load_model(tmp_path / "m3.pt").metadata["history"]["epochs_run"] == 3
    # a resume that would change the schedule, bad devices/precision: one line, exit 2
    for extra in (["--epochs", "5", "--resume", str(logs / "checkpoints" / "last.ckpt")],
                  ["--epochs", "3", "--accelerator", "no_such_device"]):
        assert main([*args, *extra, "--out", str(tmp_path / "bad.pt")]) == 2
    for extra in (["--devices", "x"], ["--devices", "0"], ["--precision", "17"]):
        with pytest.raises(SystemExit) as err:
            main([*args, *extra, "--out", str(tmp_path / "bad.pt")])
        assert err.value.code == 2
    assert not (tmp_path / "bad.pt").exists()


def test_the_training_loader_takes_a_distributed_sampler():
    """Several devices: Lightning swaps the sampler under the DataLoader's own BatchSampler."""
    from lightning.pytorch.utilities.data import _update_dataloader
    from torch.utils.data import BatchSampler, DistributedSampler

    tr, _ = _patches()
    dl = PatchDataModule(tr, batch_size=4).train_dataloader()
    assert type(dl.batch_sampler) is BatchSampler
    part = _update_dataloader(dl, DistributedSampler(dl.dataset, num_replicas=2, rank=0))
    seen = [i for batch in part.batch_sampler for i in batch]
    assert len(seen) == (len(tr) + 1) // 2 and len(set(seen)) == len(seen)


def test_validation_every_other_epoch_ranks_validated_epochs_only():
    tr, va = _patches()
    hist = fit(ResCNN(4, channels=4, n_blocks=1), tr, va, epochs=4,
               trainer_options={"check_val_every_n_epoch": 2})
    vl = np.asarray(hist["val_loss"])
    assert np.isnan(vl[[0, 2]]).all() and np.isfinite(vl[[1, 3]]).all()
    assert hist["best_val_loss"] == np.nanmin(vl) and hist["validated"]


def test_guides_are_matched_by_date_and_checked_for_their_grid():
    from xlstsr.errors import XlstsrError

    t = np.array(["2020-01-01", "2020-01-02", "2020-01-03"], dtype="datetime64[ns]")
    cube = _cube(n=3, size=64).assign_coords(time=t)
    rng = np.random.default_rng(3)
    ndvi = xr.DataArray(rng.random((3, 2, 256, 256)).astype("float32"),
                        dims=("time", "band", "y", "x"), coords={"time": t})
    dm = CubeDataModule(cube, guide=ndvi, mode="degraded_disr", patch=16)
    dm.setup()
    assert dm.n_guide == 2  # bands are channels, dates matched one to one
    later = ndvi.assign_coords(time=t + np.timedelta64(3650, "D"))
    with pytest.raises(XlstsrError, match=r"(?i)guide"):
        CubeDataModule(cube, guide=later, mode="degraded_disr", patch=16).setup()
    composite = ndvi.isel(time=[0]).assign_coords(time=t[:1] - np.timedelta64(5, "D"))
    dm = CubeDataModule(cube, guide=composite, mode="degraded_disr", patch=16,
                        guide_time_tolerance=np.timedelta64(16, "D"))
    dm.setup()  # a 16-day composite serves the three dates
    assert dm.n_guide == 2
    wrong = xr.DataArray(rng.random((300, 300)).astype("float32"), dims=("y", "x"))
    with pytest.raises(XlstsrError, match="300 x 300"):
        CubeDataModule(cube, guide=wrong, mode="degraded_disr", patch=16).setup()


def test_plain_lightning_trainer_fits_as_fit_does():
    import lightning as L

    dm = CubeDataModule(_cube(n=2, size=64), patch=16, batch_size=8)
    torch.manual_seed(0)
    module = SuperResolutionModule(ResCNN(4, channels=4, n_blocks=1), epochs=1)
    before = module.model.normalisation()
    L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False).fit(module, datamodule=dm)
    after = module.model.normalisation()
    assert after["lst_offset"] != before["lst_offset"]  # normalised from the training patches
    assert after["lst_offset"] == pytest.approx(float(dm.train_set.lst.mean()), abs=1e-3)


def test_settings_that_would_be_ignored_or_break_a_resume_are_refused(tmp_path):
    dm = CubeDataModule(_cube(n=2, size=64), patch=16)
    m = ResCNN(4, channels=4, n_blocks=1)
    with pytest.raises(ValueError, match="batch_size"):
        fit(m, dm, batch_size=4, epochs=1)
    with pytest.raises(ValueError, match="builds 'sisr'"):
        fit(m, dm, mode="supervised", epochs=1)
    with pytest.raises(ValueError, match="cosine schedule"):
        fit(m, dm, epochs=2, trainer_options={"max_epochs": 3})
    dm.setup()
    other = CubeDataModule(_cube(n=2, size=64), patch=16, seed=5, val_fraction=0.5)
    other.setup()
    assert other.split != dm.split
    with pytest.raises(ValueError, match="another split"):
        other.load_state_dict(dm.state_dict())


def test_two_positions_still_validate_and_precision_keeps_the_dtype():
    dm = CubeDataModule(_cube(n=2, size=64)[:, :32], patch=16, val_fraction=0.2)
    dm.setup()
    assert len(dm.split.train) == 1 and len(dm.split.val) == 1
    tr, va = _patches()
    m = ResCNN(4, channels=4, n_blocks=1)
    fit(m, tr, va, epochs=1, trainer_options={"precision": "64-true"})
    assert all(p.dtype == torch.float32 for p in m.parameters())
    # half precision rounds Kelvin (bfloat16: 2 K steps at 300 K): refused, not trained
    with pytest.raises(XlstsrError, match="half precision"):
        fit(m, tr, va, epochs=1, trainer_options={"precision": "bf16-true"})
