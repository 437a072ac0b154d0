"""Bad inputs, fifth round: training and checkpoints (notes: /work/notes/audit5_train.md).

Each case was found by probing ``xlstsr.train`` (cubes, splits, window samples, the Lightning
module and data modules, resume), ``xlstsr.nn.save_model`` / ``load_model`` and ``xlstsr train``
as a PyTorch / Lightning user would. Before its fix each trained on wrong pairs or values without
a word (a truth of the same dates in another order, declared fill values cut as valid pixels, a
split given as a str), hung (a PSF a million pixels wide), wrote a model file that did not load
(a ``torch.compile`` module), or raised a raw error (Lightning's ``KeyError:
'pytorch-lightning_version'`` on an xlstsr model file, an AssertionError for ``epochs=2.0``, a
``SystemExit`` on Ctrl-C). ``xlstsr train`` had no ``--units`` / ``--nodata`` / ``--scale``:
files without scale metadata could not be trained on.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

import xlstsr
from xlstsr import errors
from xlstsr.nn import ResCNN, load_model, save_model
from xlstsr.train import (
    CubeDataModule,
    PatchDataModule,
    PositionSplit,
    SuperResolutionModule,
    degraded_pairs,
    fit,
    fit_cube,
    fit_files,
    make_patches,
    split_by_position,
    split_positions,
    window_samples,
)

SMALL = {"patch": 16, "epochs": 1, "batch_size": 8}


def _cube(n=2, size=64, units="K"):
    a = 300 + np.random.default_rng(0).normal(0, 2, (n, size, size))
    return xr.DataArray(a.astype("float32"), dims=("time", "y", "x"),
                        coords={"time": np.arange(n)}, attrs={"units": units} if units else {})


def _tiny(factor=4):
    torch.manual_seed(0)
    return ResCNN(factor, channels=4, n_blocks=1)


def _patches():
    c = _cube()
    return make_patches(**degraded_pairs(np.asarray(c.values), 4), factor=4, patch=16,
                        scene_ids=["a", "b"])


def _trainer(**kw):
    import lightning as L

    return L.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                     enable_model_summary=False, enable_checkpointing=False, **kw)


# -- training settings ----------------------------------------------------------------------------

def test_whole_float_epochs_run():
    # before: check_whole took 2.0, Lightning's fit loop raised a bare AssertionError
    _, rec = fit_cube(_cube(), **{**SMALL, "epochs": 2.0})
    assert rec["history"]["epochs_run"] == 2


@pytest.mark.parametrize("seed", [2**40, 2**70])
def test_seed_beyond_the_generators_is_named(seed):
    # before: Lightning's raw "not in bounds" (2**40), numpy's isfinite TypeError (2**70)
    with pytest.raises(errors.XlstsrError, match=r"seed must be a whole number from 0 to 4294967295"):
        fit_cube(_cube(), seed=seed, **SMALL)


def test_fit_cube_architecture_checked_before_training():
    # before: build_model's KeyError (a traceback from `xlstsr train --arch rescn`) and
    # GuidedUNet's bare ValueError after the data preparation
    with pytest.raises(errors.XlstsrError, match=r"unknown architecture 'rescn'; choose one of"):
        fit_cube(_cube(), arch="rescn", **SMALL)
    with pytest.raises(errors.XlstsrError, match=r"'guided_unet' needs a guide.*'rescnn'"):
        fit_cube(_cube(), arch="guided_unet", **SMALL)
    with pytest.raises(errors.XlstsrError, match=r"'guided_rescnn' needs a guide.*'rescnn'"):
        fit_cube(_cube(), arch="guided_rescnn", **SMALL)


def test_fit_cube_trains_the_coarse_grid_disr_network_with_its_guide_bands():
    from xlstsr.nn import GuidedResCNN

    lst = _cube(n=2)
    ndvi = xr.DataArray(np.random.default_rng(1).uniform(0, 0.8, (2, 256, 256)).astype("float32"),
                        dims=("time", "y", "x"), coords={"time": lst.time})
    model, rec = fit_cube(lst, guide=ndvi, mode="degraded_disr", arch="guided_rescnn", **SMALL)
    assert type(model) is GuidedResCNN and model.n_guide == 1
    assert rec["history"]["epochs_run"] == 1


def test_degraded_disr_without_guide_is_refused():
    # before: a SISR network trained and recorded as mode 'degraded_disr'
    with pytest.raises(errors.XlstsrError, match=r"mode 'degraded_disr' needs a guide.*'sisr'"):
        fit_cube(_cube(), mode="degraded_disr", **SMALL)


def test_psf_wider_than_two_coarse_pixels_is_refused():
    # before: psf=1e6 ran for hours (on 8 x 8 images it blurred each image into one value)
    lst = np.full((1, 8, 8), 300.0) + np.arange(8)
    with pytest.raises(errors.XlstsrError, match=r"psf 50 is wider than 2 coarse pixels.*psf=1.51"):
        degraded_pairs(lst, 4, psf=50)
    assert degraded_pairs(lst, 4, psf=1.5)["lst_coarse"].shape == (1, 2, 2)


def test_supervised_truth_is_paired_by_date():
    s = xlstsr.datasets.sample_scene(n_times=2, size=64)
    lst, truth = s["lst_1km"], s["lst_250m"]
    opts = {"mode": "supervised", "patch": 16, "window": 16, "epochs": 1}
    _, ordered = fit_cube(lst, truth=truth, **opts)
    # before: the truth of the same dates in reverse order was paired by position (another loss)
    _, reversed_ = fit_cube(lst, truth=truth.isel(time=[1, 0]), **opts)
    assert reversed_["history"]["best_val_loss"] == ordered["history"]["best_val_loss"]
    later = truth.assign_coords(time=truth.time + np.timedelta64(1, "D"))
    with pytest.raises(errors.GridError, match=r"truth's 'time' labels differ.*2020-07-02"):
        fit_cube(lst, truth=later, **opts)


# -- splits by position ---------------------------------------------------------------------------

def test_position_split_refuses_a_str_a_scalar_and_unhashable_ids():
    # before: train="r0c0" became the positions '0', 'c', 'r'; 5 and [[1, 2]] raw TypeErrors
    with pytest.raises(errors.InputTypeError, match=r"train must be a sequence.*\('r0c0',\)"):
        PositionSplit(train="r0c0")
    with pytest.raises(errors.InputTypeError, match="val must be a sequence"):
        PositionSplit(val=5)
    with pytest.raises(errors.InputTypeError, match="hashable position ids"):
        PositionSplit(train=[[1, 2]])
    with pytest.raises(errors.XlstsrError, match=r"two sets.*put each position in one set"):
        PositionSplit(train=(1,), val=(1,))


def test_from_dict_refuses_a_misspelt_set():
    # before: {"trian": [...]} dropped those positions silently
    with pytest.raises(errors.XlstsrError, match=r"unknown set\(s\) \['trian'\]"):
        PositionSplit.from_dict({"trian": [1], "val": [2]})
    with pytest.raises(errors.InputTypeError, match="mapping"):
        PositionSplit.from_dict([1, 2])
    meta = {"by": "window position", "window": 32, "train": ["r0c0"], "val": ["r1c1"]}
    assert PositionSplit.from_dict(meta).val == ("r1c1",)  # fit_files' metadata reads back


@pytest.mark.parametrize("kwargs, match", [
    ({"seed": -1}, "seed must be a whole number >= 0"),  # numpy's raw error
    ({"seed": 2.5}, "seed must be a whole number"),
    ({"val_fraction": "x"}, "val_fraction must be a finite number"),  # raw TypeError
    ({"val_fraction": 0.5, "test_fraction": 0.5}, "must be below 1"),
])
def test_split_positions_options(kwargs, match):
    with pytest.raises(errors.XlstsrError, match=match):
        split_positions(range(5), **kwargs)


def test_split_positions_weights_and_ids():
    # before: a negative weight skewed the shares silently; "abc" became three positions
    with pytest.raises(errors.XlstsrError, match="the weight of position 'a' must be"):
        split_positions({"a": -5, "b": 1, "c": 1})
    with pytest.raises(errors.InputTypeError, match="positions must be a sequence"):
        split_positions("abc")


def test_split_by_position_names_types_and_positions():
    ps = _patches()
    with pytest.raises(errors.InputTypeError, match="patches must be a PatchSet"):
        split_by_position(np.zeros(3), PositionSplit(train=("a",)))  # raw AttributeError
    tr, va, _ = split_by_position(ps, {"train": ["a"], "val": ["b"]})  # raw AttributeError
    assert len(tr) and len(va)
    with pytest.raises(errors.GridError, match=r"outside the train/val/test sets.*\['a', 'b'\]"):
        split_by_position(ps, PositionSplit(train=("a",)))


def test_cube_data_module_split_ids_dict_and_held_out():
    c = _cube()
    # before: split_by_position's bare "positions outside the sets", not naming the ids it uses
    dm = CubeDataModule(c, patch=16, split=PositionSplit(train=("a",), val=("b",)))
    with pytest.raises(errors.GridError, match=r"'r\{row\}c\{col\}'.*'r0c0', 'r0c1'"):
        dm.setup("fit")
    # before: a dict raised a raw AttributeError; held-out positions raised the same bare error
    dm = CubeDataModule(c, patch=16, split={"train": ["r0c0", "r0c1"], "val": ["r1c0"],
                                            "held_out": ["r1c1"]})
    dm.setup("fit")
    assert set(dm.train_set.scene) == {"r0c0", "r0c1"} and set(dm.val_set.scene) == {"r1c0"}
    with pytest.raises(errors.InputTypeError, match="split must be a PositionSplit"):
        CubeDataModule(c, patch=16, split="r0c0")


def test_window_samples_decode_declared_fill_and_scale():
    c = _cube()
    dn = (c / 0.02).round().astype("uint16").assign_attrs(scale_factor=0.02, _FillValue=0)
    # before: digital numbers (~15000) were cut as they are, attributes dropped
    s = window_samples(dn, {"a": (0, 0)}, 16)
    assert 290 < float(s["LST"].mean()) < 310
    # before: a declared fill counted as valid: -9999 inside the "complete" samples
    f = c.copy()
    f[:, :4, :4] = -9999
    f.attrs["_FillValue"] = -9999
    s = window_samples(f, {"a": (0, 0), "b": (16, 16)}, 16)
    assert s.position.values.tolist() == ["b", "b"] and float(s["LST"].min()) > 250
    assert window_samples((c - 273.15).assign_attrs(units="degC"), {"a": (0, 0)}, 16)[
        "LST"].attrs["units"] == "degC"


# -- Lightning --------------------------------------------------------------------------------------

def test_trainer_on_a_data_module_of_another_factor_or_without_guide():
    dm = CubeDataModule(_cube(), patch=16, batch_size=4)
    # before: torch's "size of tensor a (16) must match ... (8)" at the first step
    with pytest.raises(errors.GridError, match="upscales by 2 but the patches were cut with factor 4"):
        _trainer(fast_dev_run=True).fit(SuperResolutionModule(_tiny(2)), datamodule=dm)
    guided = SuperResolutionModule("guided_unet", config={"factor": 4, "n_guide": 1})
    with pytest.raises(errors.GridError, match="takes 1 guide band"):
        _trainer(fast_dev_run=True).fit(guided, datamodule=dm)


def test_module_factor_is_checked_as_a_factor():
    # before: "factor='4' but the model upscales by 4"
    with pytest.raises(errors.GridError, match="factor must be a positive integer"):
        SuperResolutionModule(_tiny(), factor="4")


def test_patch_data_module_front_door():
    # before: numpy patches, batch_size 0 and augmentation "no" were kept
    with pytest.raises(errors.InputTypeError, match="train must be a PatchSet"):
        PatchDataModule(np.zeros((3, 4, 4)))
    with pytest.raises(errors.XlstsrError, match="batch_size must be a whole number"):
        PatchDataModule(_patches(), batch_size=0)
    with pytest.raises(errors.XlstsrError, match="augmentation must be True or False"):
        PatchDataModule(_patches(), augmentation="no")
    with pytest.raises(errors.XlstsrError, match=r"call `setup\('fit'\)` first"):
        PatchDataModule().train_dataloader()  # a bare RuntimeError


def test_load_from_checkpoint_reads_an_xlstsr_model_file(tmp_path):
    path = save_model(_tiny(), tmp_path / "m.pt", mode="sisr")
    # before: Lightning's raw KeyError: 'pytorch-lightning_version'
    module = SuperResolutionModule.load_from_checkpoint(path, lr=1e-4)
    assert type(module.model).__name__ == "ResCNN" and module.mode == "sisr" and module.lr == 1e-4
    sif = SuperResolutionModule.load_from_checkpoint(xlstsr.nn.weights_path("sif"))
    assert sif.mode == "sif" and "gain" in sif.loss_options


def test_load_from_checkpoint_names_bad_files(tmp_path):
    import lightning as L

    empty = tmp_path / "empty.ckpt"
    empty.write_bytes(b"")
    torch.save(_tiny().state_dict(), tmp_path / "sd.pt")

    class Other(L.LightningModule):
        def __init__(self, width=3):
            super().__init__()
            self.save_hyperparameters()
            self.lin = torch.nn.Linear(width, 1)

    trainer = _trainer(max_epochs=1)
    trainer.strategy.connect(Other())
    trainer.save_checkpoint(tmp_path / "other.ckpt")
    # before: FileNotFoundError / IsADirectoryError (fsspec), EOFError, TypeError "missing 1
    # required positional argument: 'model'", KeyError 'pytorch-lightning_version'
    for path, match in ((tmp_path / "nope.ckpt", "no checkpoint to load at"),
                        (tmp_path, "is a folder"),
                        (empty, "cannot read the checkpoint .* to load"),
                        (tmp_path / "other.ckpt", r"another LightningModule .*\['width'\]"),
                        (tmp_path / "sd.pt", "neither a Lightning checkpoint")):
        with pytest.raises(errors.XlstsrError, match=match):
            SuperResolutionModule.load_from_checkpoint(path)
    # before: torch's "Missing key(s) in state_dict" after the Trainer started
    with pytest.raises(errors.XlstsrError, match="another LightningModule"):
        fit(_tiny(), _patches(), epochs=1, ckpt_path=tmp_path / "other.ckpt")


def test_interrupted_training_raises_keyboard_interrupt():
    from lightning.pytorch.callbacks import Callback

    class Stop(Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            if trainer.current_epoch == 1:
                raise KeyboardInterrupt

    ps = _patches()
    # before: Lightning's sys.exit(1): SystemExit, which `except KeyboardInterrupt` misses
    with pytest.raises(KeyboardInterrupt, match=r"interrupted after 2 of 3 epochs.*ckpt_path"):
        fit(_tiny(), ps, ps, epochs=3, callbacks=[Stop()])


# -- model files ------------------------------------------------------------------------------------

def test_save_model_of_a_compiled_module_loads(tmp_path):
    # before: every weight saved as "_orig_mod.*": load_model said "does not match architecture"
    model = _tiny()
    path = save_model(torch.compile(model), tmp_path / "c.pt")
    back = load_model(path)
    assert all(torch.equal(a, b) for a, b in zip(back.state_dict().values(),
                                                 model.state_dict().values()))


def test_save_model_metadata_arch_must_be_the_models(tmp_path):
    # before: metadata arch='mrunet' written beside a ResCNN
    with pytest.raises(errors.CheckpointError, match="metadata arch='mrunet' contradicts"):
        save_model(_tiny(), tmp_path / "a.pt", arch="mrunet")


@pytest.mark.parametrize("kwargs", [{"factor": 4.5}, {"factor": "4"}, {"n_guide": -1}])
def test_load_model_request_must_be_whole(tmp_path, kwargs):
    path = save_model(_tiny(), tmp_path / "m.pt")
    # before: factor 4.5 / '4' taken as 4 by int(); n_guide -1 "-1 guide band(s) were given"
    with pytest.raises(errors.CheckpointError, match="must be a whole number"):
        load_model(path, **kwargs)
    assert load_model(path, factor=4.0).factor == 4


# -- files: fit_files(declare=) and `xlstsr train --units/--nodata/--scale` --------------------------

@pytest.fixture()
def files(tmp_path):
    c = _cube()
    (c - 273.15).drop_attrs().to_dataset(name="LST").to_netcdf(tmp_path / "celsius.nc")
    dn = (c / 0.02).round().astype("uint16")
    dn[:, :4, :] = 0
    dn.drop_attrs().to_dataset(name="LST").to_netcdf(tmp_path / "dn.nc")
    c.to_dataset(name="LST").to_netcdf(tmp_path / "kelvin.nc")
    return tmp_path


def test_fit_files_declare(files):
    # before: no way to train on these files from fit_files (nor from the command line)
    with pytest.raises(errors.UnitsError, match=r"In fit_files: declare.*'units': 'degC'"):
        fit_files(files / "celsius.nc", files / "c.pt", **SMALL)
    rec = fit_files(files / "celsius.nc", files / "c.pt", declare={"units": "degC"}, **SMALL)
    assert load_model(rec["path"]).metadata["training_data"]["lst_declared"] == {"units": "degC"}
    rec = fit_files(files / "dn.nc", files / "d.pt", declare={"scale_factor": 0.02,
                                                              "_FillValue": 0}, **SMALL)
    assert rec["history"]["epochs_run"] == 1
    with pytest.raises(errors.XlstsrError, match=r"unknown attribute\(s\) \['nodata'\]"):
        fit_files(files / "dn.nc", files / "d.pt", declare={"nodata": 0}, **SMALL)
    with pytest.raises(errors.XlstsrError, match="scale_factor must be a finite number > 0"):
        fit_files(files / "dn.nc", files / "d.pt", declare={"scale_factor": -1}, **SMALL)


def test_fit_files_declared_scale_does_not_replace_the_files(files):
    scaled = xr.open_dataset(files / "dn.nc", mask_and_scale=False)
    scaled["LST"].attrs.update(scale_factor=0.02, _FillValue=0)
    scaled.to_netcdf(files / "scaled.nc")
    with pytest.raises(errors.XlstsrError, match=r"declares scale_factor=0\.02 already"):
        fit_files(files / "scaled.nc", files / "s.pt", declare={"scale_factor": 0.1}, **SMALL)


def _train_cli(*args):
    from xlstsr.cli import main

    return main(["train", *map(str, args), "--patch", "16", "--epochs", "1", "--batch-size", "8"])


def test_cli_train_units_nodata_scale(files, capsys):
    assert _train_cli("--lst", files / "celsius.nc", "--out", files / "c.pt", "--units", "degC") == 0
    assert _train_cli("--lst", files / "dn.nc", "--out", files / "d.pt", "--scale", "0.02",
                      "--nodata", "0") == 0
    capsys.readouterr()
    assert _train_cli("--lst", files / "dn.nc", "--out", files / "e.pt") == 2
    err = capsys.readouterr().err
    # the flag with the scale that fits (session 26: the refusal names the fitting scales)
    assert "--scale 0.02" in err and "In fit_files" not in err and not (files / "e.pt").exists()
    assert _train_cli("--lst", files / "kelvin.nc", "--out", files / "k.pt", "--scale", "0.02") == 2
    assert "drop --scale" in capsys.readouterr().err  # (probe 50 R1/3: the typed flag named)
    with pytest.raises(SystemExit):
        _train_cli("--lst", files / "kelvin.nc", "--out", files / "k.pt", "--scale", "-1")
    assert "--scale must be a number > 0" in capsys.readouterr().err


def test_cli_train_seviri_with_its_declarations(shared_data, tmp_path, capsys):
    from xlstsr.cli import main

    sev = shared_data / "seviri_athens/LSALST_20180819_Athens_15min.tif"  # fill -80, degC
    out = tmp_path / "s.pt"
    base = ["train", "--lst", str(sev), "--factor", "2", "--patch", "8", "--epochs", "1",
            "--out", str(out)]
    assert main(base) == 2
    err = capsys.readouterr().err
    assert "--nodata -80" in err and not out.exists()  # a flag train now has
    assert main([*base, "--nodata", "-80", "--units", "degC"]) == 0 and out.exists()


def test_cli_train_unknown_arch_and_interrupt(files, capsys, monkeypatch):
    # before: a KeyError traceback (exit 1)
    assert _train_cli("--lst", files / "kelvin.nc", "--out", files / "k.pt", "--arch", "rescn") == 2
    assert "unknown architecture 'rescn'" in capsys.readouterr().err

    def interrupted(*a, **k):
        raise KeyboardInterrupt("training interrupted after 1 of 50 epochs: nothing was saved")

    monkeypatch.setattr("xlstsr.train.fit_files", interrupted)
    # before: the KeyboardInterrupt's traceback
    assert _train_cli("--lst", files / "kelvin.nc", "--out", files / "k.pt") == 130
    assert "xlstsr: interrupted: training interrupted" in capsys.readouterr().err


# -- Trainer options, callbacks, logs, resume -------------------------------------------------------

def test_fit_trainer_options_callbacks_and_log_dir(tmp_path):
    c = _cube()
    # before: a history of 0 epochs (fit_files saved the untrained model)
    with pytest.raises(errors.XlstsrError, match=r"trainer_options\['max_epochs'\] must be a whole"):
        fit_cube(c, **{**SMALL, "epochs": 2}, trainer_options={"max_epochs": 0})
    # before: Lightning's raw AttributeError "'str' object has no attribute 'on_exception'"
    with pytest.raises(errors.InputTypeError, match="callbacks must be a list of Lightning"):
        fit_cube(c, callbacks="x", **SMALL)
    # before: a raw NotADirectoryError from the CSV logger
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(errors.XlstsrError, match=r"log_dir .* is a file"):
        fit_cube(c, logger="csv", log_dir=tmp_path / "f.txt", **SMALL)


def test_resume_with_another_learning_rate_is_refused(tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    c = _cube()
    fit_cube(c, **{**SMALL, "epochs": 2}, trainer_options={"max_epochs": 1},
             callbacks=[ModelCheckpoint(dirpath=tmp_path, save_last=True)])
    # before: accepted, and the restored optimiser state kept the first run's lr
    with pytest.raises(errors.XlstsrError, match=r"lr=0.001 there, 0.5 here"):
        fit_cube(c, **{**SMALL, "epochs": 2}, lr=0.5, ckpt_path=tmp_path / "last.ckpt")
    _, rec = fit_cube(c, **{**SMALL, "epochs": 2}, ckpt_path=tmp_path / "last.ckpt")
    assert rec["history"]["epochs_run"] == 2


def test_cli_train_threads_and_out_folder(files, capsys):
    # before: torch's RuntimeError traceback (exit 1); "exists; pass --overwrite", which then
    # refused the folder
    for extra in (["--threads", "-2"], ["--out", files]):
        with pytest.raises(SystemExit):
            _train_cli("--lst", files / "kelvin.nc", "--out", files / "k.pt", *extra)
    err = capsys.readouterr().err
    assert "--threads: must be >= 1" in err and "is a folder: give the model file's name" in err


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_fit_a_model_of_another_dtype(dtype):
    ps = _patches()
    model = _tiny().to(dtype)
    # before: "Input type (float) and bias type (double) should be the same" at the first step
    hist = fit(model, ps, ps, epochs=1)
    assert np.isfinite(hist["best_val_loss"]) and next(model.parameters()).dtype == dtype


def test_fit_refuses_frozen_and_meta_models():
    model = _tiny()
    for p in model.parameters():
        p.requires_grad_(False)
    # before: torch's "element 0 of tensors does not require grad" at the first step
    with pytest.raises(errors.XlstsrError, match="no trainable parameter"):
        fit(model, _patches(), epochs=1)
    # before: torch's NotImplementedError "Cannot copy out of meta tensor"
    with pytest.raises(errors.XlstsrError, match="meta device"):
        fit(_tiny().to("meta"), _patches(), epochs=1)


def test_model_files_expand_the_home_folder(tmp_path, monkeypatch):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    # before: a folder named "~" in the working directory; "~/m.pt" then "does not exist"
    save_model(_tiny(), "~/m.pt")
    assert (home / "m.pt").is_file() and not (work / "~").exists()
    assert load_model("~/m.pt").factor == 4
    assert SuperResolutionModule.load_from_checkpoint("~/m.pt").mode == "sisr"


# -- the smaller pieces: split_by_scene, cut_scenes, fit_guide_gain, make_loss, loggers --------------

@pytest.mark.parametrize("kwargs, match", [
    ({"val_fraction": 2}, "val_fraction must be a finite number > 0 and < 1"),  # used silently
    ({"val_fraction": -1}, "val_fraction must be"),
    ({"val_fraction": "x"}, "val_fraction must be"),  # raw TypeError
    ({"seed": -1}, "seed must be a whole number >= 0"),  # numpy's raw error
])
def test_split_by_scene_options(kwargs, match):
    with pytest.raises(errors.XlstsrError, match=match):
        xlstsr.train.split_by_scene(_patches(), **kwargs)


def test_split_by_scene_and_cut_scenes_inputs():
    with pytest.raises(errors.InputTypeError, match="patches must be a PatchSet"):
        xlstsr.train.split_by_scene(np.zeros(3))
    field = np.full((64, 64), 300.0)
    # before: range()'s "arg 3 must not be zero", int()'s TypeError, numpy's "need at least one
    # array to stack" (a size larger than the field, or a 3-D stack)
    for size, match in ((0, "size must be a whole number"), (2.5, "size must be a whole number"),
                        (100, "size 100 is larger than the field")):
        with pytest.raises(errors.XlstsrError, match=match):
            xlstsr.train.cut_scenes(field, size)
    with pytest.raises(errors.GridError, match="cut one 2-D field at a time"):
        xlstsr.train.cut_scenes(np.stack([field, field]), 32)


def test_fit_guide_gain_shapes_and_factor():
    lst = np.full((2, 16, 16), 300.0) + np.random.default_rng(0).normal(0, 1, (2, 16, 16))
    guide = np.random.default_rng(1).random((2, 1, 64, 64))
    # before: numpy's broadcast error; ZeroDivisionError
    with pytest.raises(errors.GridError, match=r"guide must have the shape \(n or 1, c, 64, 64\)"):
        xlstsr.train.fit_guide_gain(lst, guide[..., :40], 4)
    with pytest.raises(errors.GridError, match="factor must be a positive integer"):
        xlstsr.train.fit_guide_gain(lst, guide, 0)


def test_make_loss_bestweights_and_logger_options():
    from xlstsr.train import BestWeights, make_logger, make_loss

    # before: accepted; the loss failed (factor 0, gain "x") or was NaN (w_detail NaN) at step one
    with pytest.raises(errors.GridError, match="factor must be a positive integer"):
        make_loss("sisr", 0)
    with pytest.raises(errors.XlstsrError, match="loss option w_detail must be a finite number"):
        make_loss("sisr", 4, w_detail=float("nan"))
    with pytest.raises(errors.XlstsrError, match="loss option gain must be a finite number"):
        make_loss("sif", 4, gain="x")
    # before: -1 kept, "x" int()'s raw ValueError; 42 passed to the Trainer
    with pytest.raises(errors.XlstsrError, match="patience must be a whole number >= 0"):
        BestWeights(patience=-1)
    with pytest.raises(errors.InputTypeError, match="logger must be 'csv'"):
        make_logger(42)
    with pytest.raises(errors.InputTypeError, match="no normalisation buffers"):
        xlstsr.train.fit_normalisation(torch.nn.Conv2d(1, 1, 3), _patches())


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_load_from_checkpoint_onto_a_missing_device(tmp_path):
    trainer = _trainer(max_epochs=1)
    trainer.strategy.connect(SuperResolutionModule(_tiny()))
    trainer.save_checkpoint(tmp_path / "sr.ckpt")
    assert type(SuperResolutionModule.load_from_checkpoint(tmp_path / "sr.ckpt").model) is ResCNN
    # before: torch's RuntimeError "Attempting to deserialize object on a CUDA device"
    with pytest.raises(errors.DeviceError, match="map_location='cpu'"):
        SuperResolutionModule.load_from_checkpoint(tmp_path / "sr.ckpt", map_location="cuda")
