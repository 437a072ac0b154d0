"""Bad-input corpus 31 (training): a reused split checked against the cube's grid origin,
min_valid for cubes with scattered gaps, no inference advice about a 1 km guide in
degraded_disr training, the CLI's device refusal and multi-device report, the resume note, a
model file given as the method, variable= against a DataArray's name, the fit_cube docstring,
the per-epoch history and command a checkpoint records."""

from __future__ import annotations

import functools
import logging
import warnings

import numpy as np
import pytest
import torch
import xarray as xr
from helpers import cli_streams

import xlstsr
from xlstsr import errors


@pytest.fixture(autouse=True)
def _quiet():
    torch.set_num_threads(1)
    logging.getLogger("xlstsr").setLevel(logging.ERROR)
    yield


def _cube(size=64, n=2):
    """A gap-free Kelvin cube with a CRS and coordinates (the sample scene's 250 m LST)."""
    lst = xlstsr.datasets.sample_scene(n_times=n, size=size, seed=1)["lst_250m"]
    return lst.fillna(float(lst.mean())).astype("float32")


def _run_cli(argv):
    return cli_streams(*argv)


def _nc(tmp_path, size=64):
    path = tmp_path / "cube.nc"
    _cube(size).to_dataset(name="LST").to_netcdf(path)
    return str(path)


_TRAIN = ["--patch", "16", "--window", "32", "--epochs", "2", "--batch-size", "8",
          "--threads", "1"]


# -- 1: a split reused on a cube cropped at another origin ---------------------------------------


def test_a_split_reused_on_a_cube_of_another_origin_is_refused():
    from xlstsr.train import CubeDataModule

    cube = _cube()
    a = CubeDataModule(cube, patch=16, window=32, batch_size=8)
    a.setup("fit")
    split = a.split.as_dict()
    assert split["origin"] == [float(cube.x[0]), float(cube.y[0])]
    assert split["pixel_size"][0] == pytest.approx(float(cube.x[1] - cube.x[0]))
    # before: the ids matched by name only, the first run's validation ground trained on
    cropped = cube.isel(y=slice(32, 64))
    with pytest.raises(errors.GridError, match=r"another origin|upper-left pixel.*Crop the cube "
                       r"as in the first run.*drop split="):
        CubeDataModule(cropped, patch=16, window=32, batch_size=8, split=split).setup("fit")
    # the same cube takes it back, and a checkpoint's metadata form too
    b = CubeDataModule(cube, patch=16, window=32, batch_size=8,
                       split={"by": "window position", **split})
    b.setup("fit")
    assert b.split.val == a.split.val


def test_a_split_recorded_without_origin_is_accepted_with_a_warning():
    from xlstsr.train import CubeDataModule

    cube = _cube()
    a = CubeDataModule(cube, patch=16, window=32, batch_size=8)
    a.setup("fit")
    old = {k: v for k, v in a.split.as_dict().items() if k not in ("origin", "pixel_size")}
    b = CubeDataModule(cube, patch=16, window=32, batch_size=8, split=old)
    with pytest.warns(UserWarning, match="records no grid origin"):
        b.setup("fit")
    assert b.split.origin == a.split.origin  # recorded for the next run


# -- 2: scattered gaps: min_valid ---------------------------------------------------------------


def test_scattered_gaps_name_min_valid_and_min_valid_trains():
    from xlstsr.train import CubeDataModule, fit_cube

    cube = _cube()
    v = cube.values.copy()
    v[:, ::2, :] = np.nan  # every other row: 50 % valid, no 4 x 4 block complete
    gappy = cube.copy(data=v)
    # before: "lst_coarse holds no valid pixel (all NaN): check the fill value"
    with pytest.raises(errors.AllNaNError, match=r"no 4 x 4 block.*min_valid=0\.5 "
                       r"\(`--min-valid 0\.5`") as info:
        CubeDataModule(gappy, patch=16, window=32, batch_size=8).setup("fit")
    assert "fill value" not in str(info.value)
    _, rec = fit_cube(gappy, patch=16, window=32, epochs=1, batch_size=8, min_valid=0.5)
    assert rec["n_train"] > 0
    with pytest.raises(errors.XlstsrError, match="min_valid= sets"):
        CubeDataModule(cube, mode="sif", guide=cube.isel(time=0), min_valid=0.5)


def test_train_cli_takes_min_valid(tmp_path):
    cube = _cube()
    v = cube.values.copy()
    v[:, ::2, :] = np.nan
    nc = tmp_path / "gappy.nc"
    cube.copy(data=v).to_dataset(name="LST").to_netcdf(nc)
    rc, _, err = _run_cli(["train", "--lst", str(nc), *_TRAIN, "--min-valid", "0.5",
                             "--out", str(tmp_path / "m.pt")])
    assert rc == 0, err
    meta = torch.load(tmp_path / "m.pt", weights_only=True)["metadata"]
    assert meta["settings"]["min_valid"] == 0.5


# -- 3: degraded_disr with a guide on the LST's own grid -----------------------------------------


def _guide_like(cube, step):
    rng = np.random.default_rng(0)
    y, x = cube.y.values[::step], cube.x.values[::step]
    if step > 1:  # pixel centres of the coarser grid
        y = y + (cube.y.values[1] - cube.y.values[0]) * (step - 1) / 2
        x = x + (cube.x.values[1] - cube.x.values[0]) * (step - 1) / 2
    g = xr.DataArray(rng.uniform(0.1, 0.8, (y.size, x.size)).astype("float32"),
                     dims=("y", "x"), coords={"y": y, "x": x}, name="NDVI")
    return g.rio.write_crs(cube.rio.crs)


def test_degraded_disr_with_a_guide_on_the_lst_grid_does_not_warn_bicubic():
    from xlstsr.train import CubeDataModule

    cube = _cube()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dm = CubeDataModule(cube, guide=_guide_like(cube, 1), mode="degraded_disr", patch=16,
                            window=32, batch_size=8)
        dm.setup("fit")
    said = [str(w.message) for w in caught]
    # before: "no better than bicubic ... use method='bicubic' / 'sisr'", false in training
    assert not [m for m in said if "bicubic" in m or "reprojected onto the fine" in m], said
    # a guide coarser than the LST is still warned of
    with pytest.warns(errors.GuideAlignmentWarning, match="no better than bicubic"):
        CubeDataModule(cube, guide=_guide_like(cube, 2), mode="degraded_disr", patch=16,
                       window=32, batch_size=8).setup("fit")


# -- 4, 5: the CLI's device flags, a run on several devices ----------------------------------------


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_train_cli_names_its_flags_for_an_accelerator_this_machine_lacks(tmp_path):
    rc, _, err = _run_cli(["train", "--lst", _nc(tmp_path), *_TRAIN, "--accelerator", "gpu",
                           "--out", str(tmp_path / "m.pt")])
    assert rc == 2
    # before: "refused trainer_options ['accelerator', 'default_root_dir', 'devices']"
    assert "--accelerator gpu" in err and "check --accelerator, --devices" in err, err
    assert "trainer_options" not in err and "default_root_dir" not in err


def test_only_rank_zero_saves_and_reports(tmp_path, monkeypatch):
    import xlstsr.train.cube as cube_mod

    real_fit = cube_mod.fit

    def fit_on_rank(rank):
        @functools.wraps(real_fit)  # fit_cube reads fit's signature
        def fake(*args, **kwargs):
            hist = real_fit(*args, **kwargs)
            hist.update(global_rank=rank, world_size=2)  # as Lightning's process `rank` of 2
            return hist
        return fake

    nc = _nc(tmp_path)
    monkeypatch.setattr(cube_mod, "fit", fit_on_rank(1))
    rc, out, err = _run_cli(["train", "--lst", nc, *_TRAIN, "--out", str(tmp_path / "r1.pt")])
    # before: the second process printed "wrote ..." and saved the file as well
    assert rc == 0 and "wrote" not in out, (out, err)
    assert not (tmp_path / "r1.pt").exists()
    monkeypatch.setattr(cube_mod, "fit", fit_on_rank(0))
    rc, out, err = _run_cli(["train", "--lst", nc, *_TRAIN, "--out", str(tmp_path / "r0.pt")])
    assert rc == 0 and out.count("wrote") == 1, (out, err)
    st = torch.load(tmp_path / "r0.pt", weights_only=True)["metadata"]["settings"]
    # before: batch_size 8 recorded while each step used 8 per device on 2 devices
    assert (st["batch_size"], st["devices"], st["global_batch_size"]) == (8, 2, 16)


# -- 6, 10: resume without --save-checkpoints; the history and command recorded ------------------


def test_resume_note_in_cli_words_and_history_recorded(tmp_path):
    nc = _nc(tmp_path)
    log = tmp_path / "logs"
    argv = ["train", "--lst", nc, *_TRAIN, "--log-dir", str(log), "--max-epochs", "1",
            "--save-checkpoints", "--out", str(tmp_path / "a.pt")]
    rc, _, err = _run_cli(argv)
    assert rc == 0, err
    rc, _, err = _run_cli(["train", "--lst", nc, *_TRAIN, "--log-dir", str(log), "--resume",
                           str(log / "checkpoints" / "last.ckpt"), "--out",
                           str(tmp_path / "b.pt")])
    assert rc == 0, err
    # before: Lightning's "Please add the following callbacks: [ModelCheckpoint...]"
    assert "callbacks used to create the checkpoint" not in err
    assert err.count("add --save-checkpoints") == 1, err
    meta = torch.load(tmp_path / "b.pt", weights_only=True)["metadata"]
    h = meta["history"]
    # before: best_val_loss, validated, epochs_run and engine only
    for key in ("train_loss", "val_loss", "epoch_seconds"):
        assert len(h[key]) == h["epochs_run"] == 2, h
    assert min(h["val_loss"]) == pytest.approx(h["best_val_loss"])
    assert meta["command"].startswith("xlstsr train --lst ") and "--resume" in meta["command"]


# -- 7: a model file given as the method ----------------------------------------------------------


def test_a_model_file_as_method_points_to_method_options(tmp_path):
    from xlstsr.nn import ResCNN, save_model

    path = str(save_model(ResCNN(4, channels=4, n_blocks=1), tmp_path / "m.pt"))
    da = _cube(32).isel(time=0)
    with pytest.raises(errors.XlstsrError, match=r"method='sisr', method_options=\{'model'") \
            as info:
        xlstsr.upscale(da, 4, method=path)
    assert "register_method" not in str(info.value)
    # the advice works
    sr = xlstsr.upscale(da, 4, method="sisr", method_options={"model": path})
    assert sr.shape == (da.shape[0] * 4, da.shape[1] * 4)


# -- 8, 9: variable= and a DataArray; the docstring of the guide ------------------------------------


def test_variable_other_than_the_dataarray_name_is_refused():
    from xlstsr.train import CubeDataModule

    cube = _cube().rename("LST")
    # before: the day LST trained on while variable= named the night one
    with pytest.raises(errors.XlstsrError, match=r"variable='LST_Night_1km' but the LST given "
                       r"is the DataArray 'LST'"):
        CubeDataModule(cube, variable="LST_Night_1km", patch=16, window=32).setup("fit")
    CubeDataModule(cube, variable="LST", patch=16, window=32, batch_size=8).setup("fit")
    CubeDataModule(cube.rename(None), variable="LST", patch=16, window=32,
                   batch_size=8).setup("fit")


def test_fit_cube_docstring_says_sisr_refuses_a_guide():
    from xlstsr.train import fit_cube

    cube = _cube()
    with pytest.raises(errors.XlstsrError, match="mode 'sisr' trains without a guide"):
        fit_cube(cube, guide=cube.isel(time=0), mode="sisr", patch=16, window=32, epochs=1)
    doc = " ".join(fit_cube.__doc__.split())
    assert 'ignored by ``"sisr"``' not in doc and 'refused with ``"sisr"``' in doc
