"""Corpus 27 (training from cubes and files): a guide without a CRS paired by its coordinates,
the guide's declarations of ``xlstsr train`` / fit_files, a split's window, an honest history and
the variables trained on in the checkpoint."""

import logging
import warnings

import numpy as np
import pytest
import torch
from helpers import cli_streams

import xlstsr
from xlstsr import errors

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(autouse=True)
def _quiet():
    torch.set_num_threads(1)
    logging.getLogger("xlstsr").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _scene(size=64):
    return xlstsr.datasets.sample_scene(n_times=2, size=size, seed=1)


def _no_crs(da):
    return da.drop_vars("spatial_ref", errors="ignore")


def _guide_patches(lst, guide):
    from xlstsr.train import CubeDataModule

    dm = CubeDataModule(lst, guide=guide, mode="degraded_disr", factor=4, patch=8, window=16,
                        batch_size=4)
    dm.setup("fit")
    return dm.train_set.guide.numpy()


# -- 1: a guide with coordinates but no CRS ---------------------------------------------------


def test_a_south_up_guide_without_crs_is_put_north_up_for_training():
    s = _scene()
    lst, ndvi = s["lst_1km"], s["ndvi_250m"]
    ref = _guide_patches(lst, ndvi)
    south_up = _no_crs(ndvi).isel(y=slice(None, None, -1))
    # before: paired upside down (its ascending y ignored)
    np.testing.assert_array_equal(_guide_patches(lst, south_up), ref)
    np.testing.assert_array_equal(_guide_patches(_no_crs(lst), south_up), ref)


def test_a_guide_without_crs_off_the_fine_grid_is_refused_in_training():
    s = _scene()
    lst, ndvi = s["lst_1km"], s["ndvi_250m"]
    shifted = _no_crs(ndvi).assign_coords(x=ndvi.x.values + 8000.0)
    # before: paired pixel for pixel as if on the LST's ground
    with pytest.raises(errors.GridError, match=r"not on the LST's grid 4 times finer.*no CRS"):
        _guide_patches(lst, shifted)
    # plain arrays (no coordinates): still paired by position, as documented
    plain = _no_crs(ndvi).drop_vars(["x", "y"])
    np.testing.assert_array_equal(_guide_patches(_no_crs(lst).drop_vars(["x", "y"]), plain),
                                  _guide_patches(lst, ndvi))


# -- 2: the guide's declarations of xlstsr train / fit_files ----------------------------------


def _guide_files(tmp_path):
    s = _scene(128)
    lst = tmp_path / "lst.nc"
    s["lst_1km"].to_dataset(name="LST").to_netcdf(lst)
    dn = (s["ndvi_250m"] * 10000).round().astype("int16")
    dn.attrs = {}
    dn.name = "NDVI"
    dn.rio.to_raster(tmp_path / "ndvi_dn.tif")
    fill = s["ndvi_250m"].copy()
    fill.name = "NDVI"
    fill.values[np.random.default_rng(0).random(fill.shape) < 0.1] = -3000
    fill.rio.to_raster(tmp_path / "ndvi_fill.tif")
    s["ndvi_250m"].rename("NDVI").rio.to_raster(tmp_path / "ndvi.tif")
    return lst


def _run_cli(argv):
    rc, out, err = cli_streams(*argv)
    return rc, err + out


_TRAIN = ["--mode", "degraded_disr", "--patch", "16", "--window", "32", "--epochs", "1"]


def test_train_cli_names_and_takes_guide_scale_and_guide_nodata(tmp_path):
    lst = _guide_files(tmp_path)
    out = str(tmp_path / "m.pt")
    base = ["train", "--lst", str(lst), *_TRAIN, "--out", out, "--overwrite"]
    # before: exit 2 with Python-only advice, and no such flags on train
    rc, text = _run_cli([*base, "--guide", str(tmp_path / "ndvi_dn.tif")])
    assert rc == 2 and "`--guide-scale 0.0001`" in text
    rc, text = _run_cli([*base, "--guide", str(tmp_path / "ndvi_fill.tif")])
    assert rc == 2 and "`--guide-nodata -3000`" in text and "declare={" not in text
    rc, text = _run_cli([*base, "--guide", str(tmp_path / "ndvi_dn.tif"), "--guide-scale",
                         "0.0001"])
    assert rc == 0, text
    from xlstsr.nn import load_checkpoint

    meta = load_checkpoint(out)["metadata"]
    assert meta["training_data"]["guide_declared"] == {"scale_factor": 0.0001}


def test_fit_files_guide_declare(tmp_path):
    from xlstsr.train import fit_files

    lst = _guide_files(tmp_path)
    opts = {"mode": "degraded_disr", "patch": 16, "window": 32, "epochs": 1}
    # the guide's undeclared fill: the hint names the guide's declaration, not the LST's
    with pytest.raises(errors.UndeclaredFillError, match=r"guide_declare=") as info:
        fit_files(lst, tmp_path / "m.pt", guide=tmp_path / "ndvi_fill.tif", **opts)
    assert "declare what the LST file lacks" not in str(info.value)
    rec = fit_files(lst, tmp_path / "m.pt", guide=tmp_path / "ndvi_fill.tif",
                    guide_declare={"_FillValue": -3000}, **opts)
    assert rec["history"]["epochs_run"] == 1
    # a scale declared on a guide decoded already (floats within [-1, 1]) is refused
    with pytest.raises(errors.GuideScaleError, match=r"guide_declare\['scale_factor'\]"):
        fit_files(lst, tmp_path / "m.pt", guide=tmp_path / "ndvi.tif",
                  guide_declare={"scale_factor": 0.0001}, **opts)
    with pytest.raises(errors.XlstsrError, match=r"guide_declare.*no guide= is given"):
        fit_files(lst, tmp_path / "m.pt", guide_declare={"_FillValue": -3000}, epochs=1)
    with pytest.raises(errors.XlstsrError, match=r"guide_declare: units"):
        fit_files(lst, tmp_path / "m.pt", guide=tmp_path / "ndvi.tif",
                  guide_declare={"units": "K"}, **opts)


# -- 3: a split's window --------------------------------------------------------------------


def test_a_split_of_another_window_is_refused():
    from xlstsr.train import CubeDataModule, PositionSplit

    cube = _scene(128)["lst_250m"]  # 128 x 128
    dm = CubeDataModule(cube, factor=4, patch=16, window=32, val_fraction=0.3)
    dm.setup("fit")
    recorded = {"by": "window position", **dm.split.as_dict()}
    assert recorded["window"] == 32
    assert PositionSplit.from_dict(recorded).window == 32  # before: dropped
    # before: accepted, the ids naming other ground (validation ground trained on)
    with pytest.raises(errors.GridError, match=r"made for window positions of 32 px, not "
                       r"window=64.*Pass window=32"):
        CubeDataModule(cube, split=recorded, factor=4, patch=16, window=64).setup("fit")
    # without window=, the split's is taken; the same window is fine
    for window in (None, 32):
        again = CubeDataModule(cube, split=recorded, factor=4, patch=16, window=window)
        again.setup("fit")
        assert again.window == 32 and again.split == dm.split
    # a split written by hand (no window) still applies, and records the window it was used with
    plain = CubeDataModule(cube, split={"train": dm.split.train, "val": dm.split.val},
                           factor=4, patch=16, window=32)
    plain.setup("fit")
    assert plain.split.window == 32


# -- 4, 5: the checkpoint's history and the variables trained on -----------------------------


def test_a_run_without_validation_records_a_training_loss_and_no_patience(tmp_path):
    from xlstsr.nn import load_checkpoint
    from xlstsr.train import fit_files

    lst = _scene()["lst_250m"]  # one 64-px window: no validation position
    lst.to_dataset(name="LST").to_netcdf(tmp_path / "lst.nc")
    rec = fit_files(tmp_path / "lst.nc", tmp_path / "m.pt", factor=4, patch=32, window=64,
                    epochs=2)
    assert not rec["history"]["validated"]
    meta = load_checkpoint(tmp_path / "m.pt")["metadata"]
    h = meta["history"]
    # before: best_val_loss held the best training loss, patience 10 recorded
    assert h["validated"] is False and "best_val_loss" not in h
    assert h["best_train_loss"] == pytest.approx(min(rec["history"]["train_loss"]))
    assert meta["settings"]["patience"] == 0


def test_the_checkpoint_records_the_variables_trained_on(tmp_path):
    from xlstsr.nn import load_checkpoint
    from xlstsr.train import fit_files

    day = _scene()["lst_250m"]
    night = (day - 15.0).assign_attrs(day.attrs)
    path = tmp_path / "mod11.nc"
    day.to_dataset(name="LST_Day_1km").assign(LST_Night_1km=night).to_netcdf(path)
    got = {}
    for var in ("LST_Day_1km", "LST_Night_1km"):
        fit_files(path, tmp_path / f"{var}.pt", variable=var, factor=4, patch=32, window=64,
                  epochs=1, guide_time_tolerance="1D")
        got[var] = load_checkpoint(tmp_path / f"{var}.pt")["metadata"]["training_data"]
    # before: the same provenance for day and night, no variable
    assert got["LST_Day_1km"]["variable"] == "LST_Day_1km"
    assert got["LST_Night_1km"]["variable"] == "LST_Night_1km"
    assert got["LST_Day_1km"]["guide_time_tolerance"] == "1D"
