"""Training fixes of probes 52T (1-5) and 52R2 (5): an --out that the run's logs or Lightning
checkpoints make a folder (or fill) refused before training, a dated multi-band guide
reprojected, train_bundled's one-line refusals, the guide placement carried by a Lightning
checkpoint, ckpt_path='last' and an unguided model's empty guide statistics."""

from pathlib import Path

import pytest
import torch

import xlstsr
from xlstsr import errors

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def lst_file(tmp_path_factory):
    """The bundled MODIS sample's day LST, 2 dates, 64 x 64, as a NetCDF."""
    path = tmp_path_factory.mktemp("lst52") / "lst.nc"
    xlstsr.datasets.modis_sample()["lst_day"].isel(time=slice(0, 2)).load().to_netcdf(path)
    return path


# -- 1. (T/1) --out the log folder or a ModelCheckpoint's last.ckpt ------------------------------

def test_fit_files_refuses_out_equal_to_the_log_folder_before_reading_the_data(tmp_path):
    from xlstsr.train import fit_files

    logs = tmp_path / "logs"
    # the LST does not exist: the refusal comes before any file is read (it came after training)
    with pytest.raises(errors.XlstsrError, match=r"is the folder the training writes its logs") \
            as err:
        fit_files(tmp_path / "missing.nc", logs, patch=16, window=32, epochs=1, logger="csv",
                  log_dir=logs)
    assert repr(str(logs / "model.pt")) in str(err.value)


def test_fit_files_refuses_out_inside_the_loggers_tree(tmp_path):
    from xlstsr.train import fit_files

    with pytest.raises(errors.XlstsrError, match=r"inside the logger's folder"):
        fit_files(tmp_path / "missing.nc", tmp_path / "logs" / "xlstsr" / "version_0" / "m.pt",
                  logger="csv", log_dir=tmp_path / "logs")
    with pytest.raises(errors.XlstsrError, match=r"is the folder the training writes"):
        fit_files(tmp_path / "missing.nc", tmp_path / "logs" / "xlstsr", logger="csv",
                  log_dir=tmp_path / "logs")


def test_fit_files_refuses_a_ckpt_out_in_a_model_checkpoint_folder(tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    from xlstsr.train import fit_files

    ck = ModelCheckpoint(dirpath=tmp_path / "ck", save_last=True)
    with pytest.raises(errors.XlstsrError, match=r"a \.ckpt file in the folder the ModelCheckpoint"):
        fit_files(tmp_path / "missing.nc", tmp_path / "ck" / "last.ckpt", callbacks=[ck])
    with pytest.raises(errors.XlstsrError, match=r"is the folder the training writes"):
        fit_files(tmp_path / "missing.nc", tmp_path / "ck", callbacks=[ck])


def test_cli_refuses_out_equal_to_log_dir_before_training(lst_file, tmp_path, capsys):
    from xlstsr.cli import main

    logs = tmp_path / "logs9"
    rc = main(["train", "--lst", str(lst_file), "--patch", "16", "--window", "32", "--epochs", "1",
               "--threads", "1", "--out", str(logs), "--log-dir", str(logs), "--logger", "csv"])
    assert rc == 2
    text = capsys.readouterr().err
    assert "is the folder the training writes its logs" in text
    assert not logs.exists()  # nothing trained, nothing logged


def test_cli_refuses_out_the_last_ckpt_of_save_checkpoints(lst_file, tmp_path, capsys):
    from xlstsr.cli import main

    logs = tmp_path / "logs18"
    rc = main(["train", "--lst", str(lst_file), "--patch", "16", "--window", "32", "--epochs", "1",
              "--threads", "1", "--out", str(logs / "checkpoints" / "last.ckpt"),
              "--save-checkpoints", "--log-dir", str(logs)])
    assert rc == 2
    text = capsys.readouterr().err
    assert "a .ckpt file in the folder the ModelCheckpoint" in text
    assert repr(str(logs / "last.pt")) in text
    assert not (logs / "checkpoints").exists()


@pytest.mark.filterwarnings("ignore")
def test_the_advised_model_file_in_the_log_folder_trains_and_is_written(lst_file, tmp_path):
    from xlstsr.train import fit_files

    logs = tmp_path / "logs"
    with pytest.raises(errors.XlstsrError) as err:
        fit_files(lst_file, logs, patch=16, window=32, epochs=1, logger="csv", log_dir=logs)
    assert not (logs / "xlstsr").exists()  # refused before training (it came after: 52b/5)
    advised = str(err.value).rsplit("e.g. ", 1)[1].strip("'")
    rec = fit_files(lst_file, advised, patch=16, window=32, epochs=1, logger="csv", log_dir=logs)
    assert Path(rec["path"]).is_file() and Path(advised) == logs / "model.pt"
    assert (logs / "xlstsr").is_dir()


# -- 2. (T/2) a dated multi-band guide (time, band, y, x) that must be reprojected ---------------

@pytest.fixture(scope="module")
def dated_bands():
    """The sample's 4 km LST (2 dates) and a (time, band, y, x) guide of NDVI and red on the
    1 km grid shifted by 300 m (so reprojected, not sliced)."""
    import xarray as xr

    ds = xlstsr.datasets.modis_sample().isel(time=slice(0, 2)).load()
    guide = xr.concat([ds["ndvi"], ds["red"]], dim="band").assign_coords(band=["ndvi", "red"])
    guide = guide.transpose("time", "band", "y", "x")
    return xlstsr.coarsen(ds["lst_day"], 4), guide.assign_coords(x=guide.x + 300.0)


@pytest.mark.filterwarnings("ignore::xlstsr.errors.GuideAlignmentWarning")
@pytest.mark.parametrize("lazy", [False, True])
def test_a_dated_multi_band_guide_is_reprojected_band_by_band(dated_bands, lazy):
    from xlstsr.grid import align_guide

    lst, guide = dated_bands
    given = guide.chunk({"time": 1, "band": 2}) if lazy else guide
    out = align_guide(given, lst, 4)  # was rioxarray's TooManyDimensions
    assert out.dims == ("time", "band", "y", "x") and out.shape == (2, 2, 64, 64)
    assert list(out["band"].values) == ["ndvi", "red"]
    assert (out["composite_start"].values == guide["composite_start"].values).all()
    for band in ("ndvi", "red"):
        one = align_guide(guide.sel(band=band), lst, 4)
        assert float(abs(out.sel(band=band) - one).max()) == 0.0


@pytest.mark.filterwarnings("ignore")
def test_upscale_and_fit_cube_take_a_dated_multi_band_guide_off_the_fine_grid(dated_bands):
    from xlstsr.train import fit_cube

    lst, guide = dated_bands
    out = xlstsr.upscale(lst, method="tsharp", guide=guide)
    assert out.shape == (2, 64, 64) and bool(out.notnull().any())
    # degraded DISR pairs of the 1 km LST: the guide averaged from its reprojection
    fine = xlstsr.datasets.modis_sample()["lst_day"].isel(time=slice(0, 2)).load()
    model, rec = fit_cube(fine, guide=guide, mode="degraded_disr", arch="guided_rescnn",
                          patch=16, window=32, epochs=1)
    assert rec["history"]["epochs_run"] == 1 and model.n_guide == 2


# -- 3. (T/3) train_bundled: one-line refusals whose advice works --------------------------------

@pytest.fixture
def tb(monkeypatch):
    """scripts/train_bundled.py with its training jobs replaced: a check passed reaches them."""
    from helpers import load_script

    tb = load_script("train_bundled")
    for name in ("train_sisr_cube", "train_sisr", "train_disr_degraded_cube", "train_disr_fast",
                 "train_disr_degraded", "train_disr", "train_disr_distilled"):
        def reached(*args, _name=name, **kwargs):
            raise RuntimeError(f"reached {_name}")
        monkeypatch.setattr(tb, name, reached)
    return tb


def _pairs_folder(root: Path) -> Path:
    (root / "modis_aster").mkdir(parents=True)
    return root


def _cube_folder(root: Path) -> Path:
    cube = root / "modis_h18v04_2020"
    cube.mkdir(parents=True)
    (cube / "catalog.json").write_text("{}")
    (cube / "windows.csv").write_text("window\n")
    return root


def test_train_bundled_cube_jobs_on_a_folder_without_the_cube_get_one_line(tb, tmp_path):
    empty = tmp_path / "emptydata"
    empty.mkdir()
    with pytest.raises(SystemExit) as err:  # was pystac's FileNotFoundError traceback
        tb.main(["--only", "sisr_cube", "--epochs", "1", "--out", str(tmp_path / "o"),
                 "--data", str(empty)])
    text = str(err.value.code)
    assert "holds no MOD11A1 cube" in text and "--only sisr_cube" in text
    # a folder of neither: the pairs' refusal does not advise the cube jobs any more
    with pytest.raises(SystemExit) as err:
        tb.main(["--only", "sisr_rescnn", "--epochs", "1", "--out", str(tmp_path / "o"),
                 "--data", str(empty)])
    assert "holds no modis_aster/" in str(err.value.code)
    assert "read the cube" not in str(err.value.code)


def test_train_bundled_advice_to_the_other_jobs_passes_the_data_checks(tb, tmp_path):
    pairs = _pairs_folder(tmp_path / "pairs")
    with pytest.raises(SystemExit) as err:
        tb.main(["--only", "sisr_cube", "--epochs", "1", "--out", str(tmp_path / "o"),
                 "--data", str(pairs)])
    text = str(err.value.code)
    advised = text.rsplit("--only ", 1)[1].split()
    assert advised and not set(advised) & set(tb.CUBE_JOBS)
    with pytest.raises(RuntimeError, match="reached train_"):  # followed: the job is run
        tb.main(["--only", *advised, "--epochs", "1", "--out", str(tmp_path / "o"),
                 "--data", str(pairs)])
    cube = _cube_folder(tmp_path / "cube")
    with pytest.raises(SystemExit) as err:
        tb.main(["--only", "sisr_rescnn", "--epochs", "1", "--out", str(tmp_path / "o"),
                 "--data", str(cube)])
    advised = str(err.value.code).rsplit("--only ", 1)[1].split()
    assert advised == list(tb.CUBE_JOBS)
    with pytest.raises(RuntimeError, match="reached train_sisr_cube"):
        tb.main(["--only", *advised, "--epochs", "1", "--out", str(tmp_path / "o"),
                 "--data", str(cube)])


def test_train_bundled_refuses_a_file_as_out_before_any_work(tb, tmp_path):
    cube = _cube_folder(tmp_path / "cube")
    afile = tmp_path / "afile.txt"
    afile.write_text("x")
    with pytest.raises(SystemExit) as err:  # was FileExistsError at mkdir
        tb.main(["--only", "sisr_cube", "--epochs", "1", "--out", str(afile), "--data", str(cube)])
    assert "is a file, not a folder" in str(err.value.code)


def test_train_bundled_refuses_out_inside_the_shared_data_folder(tb):
    from xlstsr.datasets.root import _CHECKOUT_DATA

    if not (_CHECKOUT_DATA / "modis_h18v04_2020" / "catalog.json").is_file():
        pytest.skip("the project's shared data are not here")
    out = _CHECKOUT_DATA / "tb_out52"
    with pytest.raises(SystemExit) as err:
        tb.main(["--only", "sisr_cube", "--epochs", "1", "--out", str(out)])
    assert "inside the project's shared data folder" in str(err.value.code)
    assert not out.exists()


# -- 4. (T/4) a model saved from a Lightning checkpoint keeps metadata['guide_offset'] -----------

@pytest.mark.filterwarnings("ignore")
def test_a_model_saved_from_a_lightning_checkpoint_keeps_its_guide_placement(tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    from xlstsr.nn import load_model, save_model
    from xlstsr.train import SuperResolutionModule, fit_cube

    ds = xlstsr.datasets.modis_sample().isel(time=slice(0, 2)).load()
    model, _ = fit_cube(ds["lst_day"], guide=ds["ndvi"], mode="degraded_disr",
                          arch="guided_rescnn", patch=16, window=32, epochs=1,
                          guide_offset="ignore",
                          callbacks=[ModelCheckpoint(dirpath=tmp_path / "ck", save_last=True)])
    placed = model.metadata["guide_offset"]
    assert placed["mode"] == "ignore"
    # the route xlstsr upscale advises for a .ckpt (it lost the entry: None)
    from_ckpt = SuperResolutionModule.load_from_checkpoint(tmp_path / "ck" / "last.ckpt").model
    assert from_ckpt.metadata["guide_offset"] == placed
    save_model(from_ckpt, tmp_path / "from_ckpt.pt")
    assert load_model(tmp_path / "from_ckpt.pt").metadata["guide_offset"] == placed
    assert from_ckpt.metadata["inputs"] == model.metadata["inputs"]


# -- 5. (T/5) ckpt_path='last', Lightning's keyword ----------------------------------------------

@pytest.mark.filterwarnings("ignore")
def test_ckpt_path_last_resumes_from_the_model_checkpoints_last_ckpt(tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    from xlstsr.train import fit_cube

    lst = xlstsr.datasets.modis_sample()["lst_day"].isel(time=slice(0, 2)).load()
    kw = dict(patch=16, window=32, epochs=2, seed=0)
    _, first = fit_cube(lst, callbacks=[ModelCheckpoint(dirpath=tmp_path / "ck", save_last=True)],
                        trainer_options={"max_epochs": 1}, **kw)
    assert first["history"]["epochs_run"] == 1
    _, by_path = fit_cube(lst, ckpt_path=tmp_path / "ck" / "last.ckpt", **kw)  # writes nothing
    # was "no checkpoint to resume from at 'last': check the path"
    _, resumed = fit_cube(lst, ckpt_path="last",
                          callbacks=[ModelCheckpoint(dirpath=tmp_path / "ck", save_last=True)],
                          **kw)
    assert resumed["history"]["epochs_run"] == by_path["history"]["epochs_run"] == 2
    assert resumed["history"]["train_loss"][-1] == pytest.approx(
        by_path["history"]["train_loss"][-1])


def test_ckpt_path_keywords_without_a_checkpoint_say_what_to_pass(tmp_path):
    from xlstsr.train import fit_cube

    lst = xlstsr.datasets.modis_sample()["lst_day"].isel(time=slice(0, 2)).load()
    with pytest.raises(errors.XlstsrError, match=r"ckpt_path='last' \(Lightning's keyword.*"
                       r"no ModelCheckpoint is given"):
        fit_cube(lst, patch=16, window=32, epochs=1, ckpt_path="last")
    with pytest.raises(errors.XlstsrError, match=r"ckpt_path='best' \(a Lightning keyword\)"):
        fit_cube(lst, patch=16, window=32, epochs=1, ckpt_path="best")


# -- 6. (R2/5) an unguided model's empty guide statistics ----------------------------------------

def test_set_normalisation_takes_an_unguided_models_own_normalisation():
    from xlstsr.nn import ResCNN

    src = ResCNN(4, channels=4, n_blocks=1)
    src.set_normalisation(290.0, 8.0)
    dst = ResCNN(4, channels=4, n_blocks=1)
    # was "guide_mean holds 0 value, but the model takes 0 guide band(s)"
    dst.set_normalisation(**src.normalisation())
    assert dst.normalisation() == src.normalisation()
    src.set_normalisation(**src.normalisation())
    with pytest.raises(errors.XlstsrError, match=r"takes 0 guide band\(s\): it takes no guide"):
        dst.set_normalisation(290.0, 8.0, guide_mean=[0.5])  # a value for a guide still refused


def test_set_normalisation_refuses_empty_guide_statistics_for_a_guided_model():
    from xlstsr.nn import build_model

    guided = build_model("guided_rescnn", factor=4, n_guide=2)
    with pytest.raises(errors.XlstsrError, match=r"takes 2 guide band\(s\)"):
        guided.set_normalisation(290.0, 8.0, guide_mean=[], guide_std=[])


# -- 7. (R2/6) estimate_offset's docstring: a constant border is warned of under "raise" --------

def test_estimate_offset_docstring_says_a_constant_border_is_warned_of_under_raise():
    import warnings

    doc = " ".join(xlstsr.estimate_offset.__doc__.split())
    assert "raises it too" not in doc
    assert 'left out of the estimate, with a warning under ``"raise"`` and ``"warn"``' in doc
    ds = xlstsr.datasets.modis_sample().isel(time=0).load()
    fine = ds["lst_day"].copy()
    fine[:, :3] = float(fine.median())  # one exact value on 3 whole edge columns
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        xlstsr.estimate_offset(fine, xlstsr.coarsen(ds["lst_day"], 4), errors="raise")
    assert any("left out of the estimate" in str(w.message) for w in seen)


def test_train_bundled_pairs_jobs_run_beside_several_cube_like_folders(tb, tmp_path):
    # review 52b/1: has_cube's "holds 2 cubes" refusal stopped the pairs jobs, which read none
    data = _pairs_folder(tmp_path / "d")
    for name in ("cube_2021", "cube_2022"):
        (data / name).mkdir()
        for f in ("catalog.json", "windows.csv"):
            (data / name / f).write_text("")
    with pytest.raises(RuntimeError, match="reached train_"):
        tb.main(["--only", "sisr_rescnn", "--epochs", "1", "--out", str(tmp_path / "o"),
                 "--data", str(data)])
    assert tb.has_cube(data)  # a cube job passes on to cube_dir, which names the two
    with pytest.raises(SystemExit, match="holds 2 cubes"):
        tb.cube_dir(data)


# -- review 52b/2: the --out refusal follows where Lightning writes -------------------------------

def test_fit_files_out_refusal_follows_the_trainers_default_root_dir(tmp_path):
    from xlstsr.train import fit_files

    logs, root = tmp_path / "L", tmp_path / "R"
    options = dict(logger=True, log_dir=logs, trainer_options={"default_root_dir": root})
    # Lightning's own logger writes <default_root_dir>/lightning_logs: refused before any read
    with pytest.raises(errors.XlstsrError, match=r"is the folder the training writes"):
        fit_files(tmp_path / "missing.nc", root / "lightning_logs", **options)
    # nothing writes L/lightning_logs (it was refused): the missing LST is what stops it
    with pytest.raises(errors.InputNotFoundError):
        fit_files(tmp_path / "missing.nc", logs / "lightning_logs", **options)


def test_fit_files_refuses_out_in_a_lightning_logger_objects_folder(tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    from xlstsr.train import fit_files

    d = tmp_path / "D"
    # was found only after training: "'D' is a folder: give the checkpoint's file name"
    with pytest.raises(errors.XlstsrError, match=r"is the folder the training writes"):
        fit_files(tmp_path / "missing.nc", d, logger=CSVLogger(d))
    with pytest.raises(errors.XlstsrError, match=r"inside the logger's folder"):
        fit_files(tmp_path / "missing.nc", d / "lightning_logs" / "version_0" / "m.pt",
                  trainer_options={"logger": [CSVLogger(d)]})
    with pytest.raises(errors.InputNotFoundError):  # a file beside the logger's tree is fine
        fit_files(tmp_path / "missing.nc", d / "model.pt", logger=CSVLogger(d))
    # a ModelCheckpoint without dirpath and no logger writes <default_root_dir>/checkpoints
    ck = ModelCheckpoint(save_last=True)
    with pytest.raises(errors.XlstsrError, match=r"a \.ckpt file in the folder the ModelCheckpoint"):
        fit_files(tmp_path / "missing.nc", tmp_path / "R" / "checkpoints" / "last.ckpt",
                  callbacks=[ck], log_dir=tmp_path / "L",
                  trainer_options={"default_root_dir": tmp_path / "R"})
    # with a logger it writes inside the logger's version folder, not L/checkpoints
    with pytest.raises(errors.InputNotFoundError):
        fit_files(tmp_path / "missing.nc", tmp_path / "L" / "checkpoints" / "last.ckpt",
                  callbacks=[ck], logger="csv", log_dir=tmp_path / "L")


@pytest.mark.filterwarnings("ignore")
def test_log_dir_is_where_lightnings_logger_and_checkpoints_write(lst_file, tmp_path,
                                                                 monkeypatch):
    from lightning.pytorch.callbacks import ModelCheckpoint

    from xlstsr.train import fit_files

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    logs = tmp_path / "L"
    # logger=True wrote <cwd>/lightning_logs, where the --out check did not look
    fit_files(lst_file, tmp_path / "a.pt", patch=16, window=32, epochs=1, logger=True,
              log_dir=logs)
    assert (logs / "lightning_logs").is_dir() and not (cwd / "lightning_logs").exists()
    # a ModelCheckpoint without dirpath (no logger) wrote <cwd>/checkpoints/last.ckpt
    fit_files(lst_file, tmp_path / "b.pt", patch=16, window=32, epochs=1, log_dir=logs,
              callbacks=[ModelCheckpoint(save_last=True)])
    assert (logs / "checkpoints" / "last.ckpt").is_file()
    assert not (cwd / "checkpoints").exists()


# -- review 52b/3: a resumed run's checkpoints record the placement it ran with -------------------

@pytest.mark.filterwarnings("ignore")
def test_a_resumed_runs_checkpoints_record_the_guide_as_stored(shared_data, tmp_path):
    import rioxarray
    from lightning.pytorch.callbacks import ModelCheckpoint

    from xlstsr.train import SuperResolutionModule, fit_cube

    folder = shared_data / "modis_aster"  # pair 082: its NDVI is moved by the default 'auto'
    lst = rioxarray.open_rasterio(folder / "082_modis_lst_1km.tif").rename(band="time").load()
    ndvi = rioxarray.open_rasterio(folder / "082_modis_ndvi_250m.tif").squeeze(
        "band", drop=True).load()
    kw = dict(guide=ndvi, mode="degraded_disr", arch="guided_rescnn", patch=16, window=32,
              epochs=2, seed=0)
    fit_cube(lst, guide_offset="ignore", trainer_options={"max_epochs": 1},
             callbacks=[ModelCheckpoint(dirpath=tmp_path / "ck1", save_last=True)], **kw)
    # the default resumes it on the guide as stored (as its run was)
    model, rec = fit_cube(lst, ckpt_path=tmp_path / "ck1" / "last.ckpt",
                          callbacks=[ModelCheckpoint(dirpath=tmp_path / "ck2", save_last=True)],
                          **kw)
    assert rec["guide_offset"]["moved"] is False
    hp = torch.load(tmp_path / "ck2" / "last.ckpt", map_location="cpu",
                    weights_only=True)["hyper_parameters"]
    # was {'mode': 'auto', 'moved': True, 'shift_x': 97.5...}: the placement set before fit
    assert hp["guide_offset"]["mode"] == "ignore" and hp["guide_offset"]["moved"] is False
    loaded = SuperResolutionModule.load_from_checkpoint(tmp_path / "ck2" / "last.ckpt").model
    assert loaded.metadata["guide_offset"] == model.metadata["guide_offset"]


# -- review 52b/4: ckpt_path='last' resolved as Lightning resolves it ----------------------------

def test_ckpt_path_last_uses_the_callbacks_own_name_and_its_default_folder(tmp_path, monkeypatch):
    import os
    import time

    from lightning.pytorch.callbacks import ModelCheckpoint

    from xlstsr.train.loop import _lightning_keyword_checkpoint as resolve

    renamed = ModelCheckpoint(dirpath=tmp_path / "ck", save_last=True)
    renamed.CHECKPOINT_NAME_LAST = "final"
    (tmp_path / "ck").mkdir()
    (tmp_path / "ck" / "final.ckpt").write_bytes(b"")
    (tmp_path / "ck" / "last.ckpt").write_bytes(b"")  # not this callback's name
    os.utime(tmp_path / "ck" / "final.ckpt", (time.time() - 60,) * 2)
    # was "holds no last.ckpt"
    assert resolve("last", [renamed], {"logger": False}) == str(tmp_path / "ck" / "final.ckpt")
    # without dirpath and no logger: <default_root_dir>/checkpoints, else the working folder
    plain = ModelCheckpoint(save_last=True)
    (tmp_path / "R" / "checkpoints").mkdir(parents=True)
    (tmp_path / "R" / "checkpoints" / "last-v1.ckpt").write_bytes(b"")
    assert resolve("last", [plain], {"logger": False, "default_root_dir": tmp_path / "R"}) == \
        str(tmp_path / "R" / "checkpoints" / "last-v1.ckpt")
    monkeypatch.chdir(tmp_path / "R")
    assert resolve("last", [plain], {"logger": False}) == str(
        tmp_path / "R" / "checkpoints" / "last-v1.ckpt")
    # beside a logger Lightning looks in the logger's next version folder: told, not guessed
    with pytest.raises(errors.XlstsrError, match=r"no dirpath and the run has a logger"):
        resolve("last", [plain], {"logger": True})
    # no last checkpoint yet: refused (Lightning trains from scratch)
    with pytest.raises(errors.XlstsrError, match=r"holds no last\.ckpt.*from scratch"):
        resolve("last", [plain], {"logger": False, "default_root_dir": tmp_path / "empty"})


@pytest.mark.filterwarnings("ignore")
def test_ckpt_path_last_resumes_from_a_model_checkpoint_without_dirpath(tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    from xlstsr.train import fit_cube

    lst = xlstsr.datasets.modis_sample()["lst_day"].isel(time=slice(0, 2)).load()
    kw = dict(patch=16, window=32, epochs=2, seed=0, log_dir=tmp_path / "L")
    _, first = fit_cube(lst, callbacks=[ModelCheckpoint(save_last=True)],
                        trainer_options={"max_epochs": 1}, **kw)
    assert (tmp_path / "L" / "checkpoints" / "last.ckpt").is_file()
    # was "no ModelCheckpoint with a dirpath is given"
    _, resumed = fit_cube(lst, ckpt_path="last", callbacks=[ModelCheckpoint(save_last=True)], **kw)
    assert first["history"]["epochs_run"] == 1 and resumed["history"]["epochs_run"] == 2
