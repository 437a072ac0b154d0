"""Training fixes of probe 40: the guide placed as upscale places it (guide_offset), a drawn split
naming the window positions without patches, --log-dir inside an input refused, --guide-band's
help saying both readings of a guide's bands; from review 40b: the placement recorded in the
checkpoint state (an older checkpoint resumes with the guide as stored)."""

import dataclasses
import json
import logging
import warnings

import numpy as np
import pytest
import rioxarray
import torch
import xarray as xr

import xlstsr
from xlstsr.cli import main
from xlstsr.errors import GridError, XlstsrError
from xlstsr.train import CubeDataModule, PositionSplit, fit_cube, fit_files


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _pair_082(shared_data):
    folder = shared_data / "modis_aster"
    lst = rioxarray.open_rasterio(folder / "082_modis_lst_1km.tif").rename(band="time")
    ndvi = rioxarray.open_rasterio(folder / "082_modis_ndvi_250m.tif").squeeze("band", drop=True)
    return lst, ndvi


def _setup(lst, guide, **kw):
    dm = CubeDataModule(lst, guide=guide, mode="degraded_disr", patch=16, window=32,
                        batch_size=8, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dm.setup("fit")
    return dm


def test_training_moves_the_guide_by_its_offset_as_upscale_does(shared_data):
    """Pair 082's NDVI is 0.48 fine px off the LST: upscale moves it back by default, training
    used it as stored (the model then ran on another placement than it learned)."""
    lst, ndvi = _pair_082(shared_data)
    auto = _setup(lst, ndvi)
    rec = auto.guide_offset_record
    assert rec["moved"] and rec["given"] is None and rec["mode"] == "auto"
    assert abs(rec["shift_x_fine_px"]) > 0.25 or abs(rec["shift_y_fine_px"]) > 0.25
    # upscale's own record of the same guide at the same factor
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        up = lst.isel(time=[0]).load().lstsr.upscale(4, method="tsharp", guide=ndvi)
    up_rec = json.loads(up.attrs["xlstsr_guide_offset"])
    assert up_rec["moved"]
    assert np.isclose(rec["shift_x"], up_rec["shift_x"], atol=abs(up_rec["shift_x"]) * 0.2)
    # 'ignore' trains on the guide as stored: other patches
    kept = _setup(lst, ndvi, guide_offset="ignore")
    assert kept.guide_offset_record == {"mode": "ignore", "given": "ignore", "moved": False}
    assert not np.allclose(auto.train_set.guide, kept.train_set.guide, equal_nan=True)


def test_fit_cube_records_the_guide_placement_in_the_model(shared_data):
    lst, ndvi = _pair_082(shared_data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, rec = fit_cube(lst, guide=ndvi, mode="degraded_disr", arch="guided_rescnn",
                              patch=16, window=32, epochs=1, batch_size=8, progress=False,
                              guide_offset="check")
    assert rec["guide_offset"]["given"] == "check" and not rec["guide_offset"]["moved"]
    assert model.metadata["guide_offset"] == rec["guide_offset"]


def _no_crs_pair():
    rng = np.random.default_rng(0)
    lst = xr.DataArray(300 + rng.normal(0, 2, (2, 32, 32)), dims=("time", "y", "x"),
                       attrs={"units": "K"})
    guide = xr.DataArray(rng.uniform(0, 1, (128, 128)), dims=("y", "x"))
    return lst, guide


def test_guide_offset_without_a_crs():
    """Paired by position: the default uses the guide as stored (and says so in the record);
    an explicit 'auto' cannot be honoured and is refused with the way out."""
    lst, guide = _no_crs_pair()
    dm = _setup(lst, guide)
    assert dm.guide_offset_record["mode"] == "not measured (no CRS)"
    with pytest.raises(GridError, match="guide_offset='ignore'"):
        _setup(lst, guide, guide_offset="auto")
    with pytest.raises(XlstsrError, match="guide_offset must be one of"):
        CubeDataModule(lst, guide=guide, mode="degraded_disr", guide_offset="yes")


def _cloudy_run():
    lst = xlstsr.datasets.modis_sample()["lst_day"].load()
    run1 = lst.isel(time=slice(0, 4)).copy()
    run1.values[:, 32:, 32:] = np.nan  # window r1c1 under cloud on run 1's dates
    return run1, lst.isel(time=slice(4, 8))


def test_drawn_split_names_windows_without_patches_and_is_reused_on_other_dates():
    run1, run2 = _cloudy_run()
    dm1 = CubeDataModule(run1, patch=16, batch_size=8)
    dm1.setup("fit")
    assert "r1c1" in dm1.split.val  # weight 0: where the draw rule sends it
    assert "r1c1" not in set(dm1.train_set.scene)
    dm2 = CubeDataModule(run2, patch=16, batch_size=8,
                         split=PositionSplit.from_dict(dm1.split.as_dict()))
    dm2.setup("fit")  # refused as "made in another mode or at another factor"
    assert "r1c1" in set(dm2.val_set.scene) and "r1c1" not in set(dm2.train_set.scene)


def test_split_of_windows_with_patches_kept_as_drawn_and_old_checkpoints_resume():
    run1, _ = _cloudy_run()
    dm = CubeDataModule(run1, patch=16, batch_size=8)
    dm.setup("fit")
    old = PositionSplit(train=tuple(dm.split.train),
                        val=tuple(p for p in dm.split.val if p != "r1c1"))
    # a checkpoint written before the empty window was given a set resumes
    state = dm.state_dict()
    state["split"] = {**state["split"], "val": list(old.val)}
    dm.load_state_dict(state)
    # a split recorded so is still taken on the cube it was drawn on
    again = CubeDataModule(run1, patch=16, batch_size=8,
                           split=dataclasses.replace(dm.split, val=old.val))
    again.setup("fit")


def test_fit_files_refuses_a_log_dir_inside_an_input_store(tmp_path):
    lst = xlstsr.datasets.modis_sample()["lst_day"].isel(time=slice(0, 2)).load()
    store = tmp_path / "cube.zarr"
    lst.to_dataset(name="LST").to_zarr(store)
    before = sorted(p.name for p in store.iterdir())
    for key, value in (("log_dir", store), ("trainer_options", {"default_root_dir": store / "l"})):
        with pytest.raises(XlstsrError, match="logs and checkpoints would be written into"):
            fit_files(store, tmp_path / "m.pt", variable="LST", patch=16, epochs=1,
                      **{key: value})
    assert sorted(p.name for p in store.iterdir()) == before


def test_cli_train_refuses_a_log_dir_inside_an_input_store(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lst = xlstsr.datasets.modis_sample()["lst_day"].isel(time=slice(0, 2)).load()
    lst.to_dataset(name="LST").to_zarr("cube.zarr")
    before = sorted(p.name for p in (tmp_path / "cube.zarr").iterdir())
    code = main(["train", "--lst", "cube.zarr", "--variable", "LST", "--patch", "16",
                 "--epochs", "1", "--save-checkpoints", "--logger", "csv",
                 "--log-dir", "cube.zarr/logs", "--out", "m.pt"])
    err = capsys.readouterr().err
    assert code == 2 and "--log-dir cube.zarr/logs" in err and "--lst input" in err
    assert sorted(p.name for p in (tmp_path / "cube.zarr").iterdir()) == before
    assert not (tmp_path / "m.pt").exists()


def test_cli_train_takes_guide_offset_only_with_a_guide(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--lst", str(tmp_path / "x.zarr"), "--guide-offset", "ignore",
              "--out", str(tmp_path / "m.pt")])
    err = capsys.readouterr().err
    assert "--guide-offset" in err and "no --guide is given" in err


@pytest.mark.parametrize("command", ["upscale", "train"])
def test_guide_band_help_says_both_readings(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    start = text.index("--guide-band GUIDE_BAND one band")  # its entry, not the usage line
    said = text[start:start + 400]
    assert "predictor channels" in said and "multi-date LST" in said


# -- review 40b: the placement in the checkpoint state ------------------------------------


def test_old_checkpoint_resumes_with_the_guide_as_stored(shared_data, caplog):
    """Pair 082's NDVI is moved by the default: a checkpoint from before (guide as stored, no
    guide_offset in its record) was refused as trained on other data."""
    lst, ndvi = _pair_082(shared_data)
    first = _setup(lst, ndvi, guide_offset="ignore")
    state = first.state_dict()
    assert state["inputs"]["guide_offset"] == {"mode": "ignore", "moved": False}
    del state["inputs"]["guide_offset"]  # as written before it was recorded
    resumed = _setup(lst, ndvi)
    assert resumed.guide_offset_record["moved"]
    with caplog.at_level(logging.WARNING, logger="xlstsr.train.cube"):
        resumed.load_state_dict(state)
    assert "used the guide as stored" in caplog.text
    rec = resumed.guide_offset_record
    assert rec["mode"] == "ignore" and not rec["moved"] and rec["given"] is None
    assert resumed.state_dict()["inputs"] == first.state_dict()["inputs"]
    assert torch.equal(resumed.train_set.guide, first.train_set.guide)


def test_recorded_placement_is_kept_and_named_on_resume(shared_data):
    lst, ndvi = _pair_082(shared_data)
    auto = _setup(lst, ndvi)
    state = auto.state_dict()
    assert state["inputs"]["guide_offset"] == {"mode": "auto", "moved": True}
    # a recorded 'auto' run resumed with 'ignore': refused, naming the first run's value
    with pytest.raises(XlstsrError, match=r"guide_offset 'auto' \(moved by its measured "
                                          r"offset\).*pass guide_offset='auto'"):
        _setup(lst, ndvi, guide_offset="ignore").load_state_dict(state)
    # a recorded 'ignore' run (a resume of an old checkpoint too: review 40e) resumes with the
    # default on the guide as stored, as its run was, and says so
    kept = _setup(lst, ndvi, guide_offset="ignore").state_dict()
    again = _setup(lst, ndvi)
    again.load_state_dict(kept)
    assert not again.guide_offset_record["moved"]
    assert again.state_dict()["inputs"] == kept["inputs"]
    # an old checkpoint resumed with an explicit guide_offset='auto': told what its run did
    del kept["inputs"]["guide_offset"]
    with pytest.raises(XlstsrError, match=r"before training placed the guide: its run used the "
                                          r"guide as stored.*pass guide_offset='ignore'"):
        _setup(lst, ndvi, guide_offset="auto").load_state_dict(kept)
    # the same run resumes
    _setup(lst, ndvi).load_state_dict(state)
