"""Training and CLI fixes of probes 49T (2-8) and 49R3 (2-3): loss options of the wrong sign or
range refused up front, a split with an empty train list named as such, accumulate_grad_batches /
limit_train_batches recorded in the model file, an undated GeoTIFF truth's bands taken as a
dated LST's steps, save_model refusing a normalisation that contradicts the model's, the
small-cube window advice naming an accepted window, and evaluate's aggregation advice for a
packed NetCDF reference (decoded, under a fresh name, never over a file)."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rioxarray
import torch
import xarray as xr

import xlstsr
from xlstsr import errors
from xlstsr.cli import main

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def lst():
    """The bundled MODIS sample's day LST, 2 dates, 64 x 64 (as test_train_fixes42)."""
    return xlstsr.datasets.modis_sample()["lst_day"].isel(time=slice(0, 2)).load()


# -- 1. (T/2, T/3) loss options of the wrong sign or range ---------------------------------------

@pytest.mark.parametrize("mode, options, match", [
    ("sisr", {"w_detail": -5.0}, r"w_detail -5.0: a term's weight, >= 0"),
    ("sisr", {"w_spectral": -5.0}, r"w_spectral -5.0: a term's weight, >= 0"),
    ("supervised", {"w_consistency": -1.0}, r"w_consistency -1.0: .*>= 0"),
    ("sif", {"alpha": 1.5}, r"alpha 1.5: .*between 0 and 1"),
    ("sif", {"alpha": -0.5}, r"alpha -0.5: .*between 0 and 1"),
    ("sisr", {"fidelity": "log_mse", "eps": -1.0}, r"eps -1.0: the log-MSE floor .*>= 0"),
    ("sisr", {"delta": 0.0}, r"delta 0.0: the Huber threshold in Kelvin, > 0"),
    ("sif", {"delta": -1.0}, r"delta -1.0: the Huber threshold"),
    ("sisr", {"sigma": 0.0}, r"sigma 0.0: .*> 0"),
    ("sisr", {"psf_sigma": -1.0}, r"psf_sigma -1.0: .*>= 0"),
])
def test_loss_options_out_of_range_are_refused_naming_the_range(mode, options, match):
    from xlstsr.train import make_loss

    with pytest.raises(errors.XlstsrError, match=match):
        make_loss(mode, 4, **options)


def test_loss_options_at_their_bounds_are_taken():
    from xlstsr.train import make_loss

    make_loss("sisr", 4, w_detail=0.0, w_spectral=0.0, eps=0.0, psf_sigma=0.0, sigma=None)
    make_loss("sif", 4, alpha=0.0, gain=5.0)
    make_loss("sif", 4, alpha=1.0, gain=-20.0, psf_sigma=None)


def test_a_zero_huber_delta_is_refused_before_training(lst):
    from xlstsr.train import fit_cube

    # was torch's bare RuntimeError at the first step, after the data was read
    with pytest.raises(errors.XlstsrError, match=r"loss option delta 0.0: the Huber"):
        fit_cube(lst, patch=16, window=32, epochs=1, loss_options={"delta": 0.0})


# -- 2. (T/4) a split given with an empty train list ---------------------------------------------

@pytest.mark.filterwarnings("ignore:the split records no grid origin")
@pytest.mark.filterwarnings("ignore:training did not improve")
def test_a_split_without_training_positions_is_named_not_val_fraction(lst):
    from xlstsr.train import fit_cube

    every = ["r0c0", "r0c1", "r1c0", "r1c1"]
    with pytest.raises(errors.XlstsrError) as err:
        fit_cube(lst, patch=16, window=32, epochs=1, split={"train": [], "val": every})
    text = str(err.value)
    assert "names no training position (its `train` list is empty)" in text
    assert "r0c0" in text and "val_fraction" not in text and "larger cube" not in text
    # followed (a position put in `train`): it trains
    fit_cube(lst, patch=16, window=32, epochs=1, split={"train": ["r0c0"], "val": every[1:]})


# -- 3. (T/5) Trainer options that shape training are recorded -----------------------------------

@pytest.mark.filterwarnings("ignore:training did not improve")
def test_accumulate_and_limit_train_batches_are_recorded(lst, tmp_path):
    from xlstsr.train import fit_files

    nc = tmp_path / "lst.nc"
    lst.to_netcdf(nc)
    fit_files(nc, tmp_path / "m.pt", patch=16, window=32, epochs=1, batch_size=8,
              trainer_options={"accumulate_grad_batches": 2, "limit_train_batches": 0.5})
    st = torch.load(tmp_path / "m.pt", weights_only=True)["metadata"]["settings"]
    assert st["accumulate_grad_batches"] == 2 and st["limit_train_batches"] == 0.5
    assert (st["batch_size"], st["devices"], st["global_batch_size"]) == (8, 1, 16)


# -- 4. (T/6) a dated .nc LST with an undated multi-band GeoTIFF truth on the command line -------

def test_cli_takes_an_undated_geotiff_truths_bands_as_the_lsts_steps(lst, tmp_path, caplog):
    truth = lst.rename(time="band").assign_coords(band=[1, 2]).drop_vars("composite_start")
    truth.rio.to_raster(tmp_path / "truth.tif")
    assert "time" not in rioxarray.open_rasterio(tmp_path / "truth.tif").dims
    xlstsr.coarsen(lst, 4).to_netcdf(tmp_path / "coarse.nc")
    args = ["train", "--mode", "supervised", "--lst", str(tmp_path / "coarse.nc"), "--truth",
            str(tmp_path / "truth.tif"), "--out", str(tmp_path / "s.pt"), "--patch", "16",
            "--epochs", "1", "--batch-size", "8", "--log-dir", str(tmp_path / "logs")]
    with caplog.at_level("INFO", logger="xlstsr"):
        assert main(args) == 0  # was refused with assign_coords/swap_dims advice
    assert "truth's 2 bands taken as the LST's 2 'time' steps in order" in caplog.text
    assert (tmp_path / "s.pt").exists()


# -- 5. (T/7) save_model's normalisation is the model's ------------------------------------------

def test_save_model_refuses_a_normalisation_contradicting_the_models(tmp_path):
    from xlstsr.nn import build_model
    from xlstsr.nn.checkpoint import CheckpointError, load_model, save_model

    m = build_model("rescnn", factor=4)
    m.lst_offset.fill_(300.0)
    m.lst_scale.fill_(10.0)
    wrong = {"lst_offset": 0.0, "lst_scale": 1.0, "guide_mean": [], "guide_std": []}
    with pytest.raises(CheckpointError, match=r"metadata normalisation=.* contradicts the "
                       r"model's .*written from the model itself"):
        save_model(m, tmp_path / "m.pt", normalisation=wrong)
    assert not (tmp_path / "m.pt").exists()
    # the model's own (as a record passes it back) is taken
    save_model(m, tmp_path / "m.pt", normalisation=m.normalisation())
    assert load_model(tmp_path / "m.pt").metadata["normalisation"]["lst_offset"] == 300.0
    # the advice: set the buffers on the model, then it writes
    m.lst_offset.fill_(0.0)
    m.lst_scale.fill_(1.0)
    save_model(m, tmp_path / "m2.pt", normalisation=wrong)


# -- 6. (T/8) the window advice for a cube smaller than one window -------------------------------

def test_small_cube_window_advice_names_a_window_that_is_taken(lst):
    from xlstsr.train import fit_cube

    crop = lst.isel(y=slice(0, 40), x=slice(0, 40))
    with pytest.raises(errors.XlstsrError, match=r"smaller than one window") as err:
        fit_cube(crop, patch=32, epochs=1)
    window = int(re.search(r"lower `window` .* at most: window=(\d+),", str(err.value))[1])
    assert window == 32  # was "to 40 at most", then refused as no multiple of the patch
    fit_cube(crop, patch=32, window=window, epochs=1)


# -- 7, 8. (R3/2, R3/3) evaluate's aggregation advice for a packed NetCDF reference ----------------

def _packed_reference(s, path):
    """A 62.5 m reference stored as uint16 x 0.1 with a declared fill (0)."""
    from rasterio.enums import Resampling

    truth = s["lst_250m"].isel(time=0, drop=True)
    res = abs(float(truth.x[1] - truth.x[0])) / 4
    fine = truth.rio.reproject(truth.rio.crs, resolution=res, resampling=Resampling.bilinear)
    fine = fine.where(fine > 0)
    fine.attrs = {"units": "K"}
    fine.to_dataset(name="LST").to_netcdf(path, encoding={"LST": {
        "dtype": "uint16", "scale_factor": 0.1, "_FillValue": 0}})
    assert xr.open_dataset(path, mask_and_scale=False)["LST"].dtype == np.uint16


def _followed(err, cwd):
    """The advice's Python step and `rio warp` run as written; the aggregate's path."""
    python = re.search(r"in Python, `([^`]*)`", err)[1]
    subprocess.run([sys.executable, "-c", python], cwd=cwd, check=True)
    command = shlex.split(re.search(r"`(rio warp [^`]*)`", err)[1])
    subprocess.run([str(BIN / "rio"), *command[1:]], cwd=cwd, check=True,
                   capture_output=True)
    return python, cwd / command[3]


def test_aggregate_advice_for_a_packed_nc_reference_keeps_its_decoding(s, sr, tmp_path,
                                                                     capsys):
    if not (BIN / "rio").exists():
        pytest.skip("rasterio's rio command is not installed")
    _packed_reference(s, tmp_path / "ref.nc")
    sr.isel(time=0, drop=True).rio.to_raster(tmp_path / "sr.tif")
    (tmp_path / "ref_ref.tif").write_bytes(b"mine")  # a file of the user's, in the way
    flags = ["--valid-min", "230"]
    assert main(["evaluate", str(tmp_path / "sr.tif"), str(tmp_path / "ref.nc"),
                 str(tmp_path / "e.csv"), *flags]) == 0
    err = capsys.readouterr().err
    assert "decoded (the file packs it with a scale" in err
    python, on_sr = _followed(err, tmp_path)
    assert (tmp_path / "ref_ref.tif").read_bytes() == b"mine"  # not written over
    written = rioxarray.open_rasterio(tmp_path / "ref_ref_2.tif", masked=True)
    assert 200 < float(written.median()) < 350  # Kelvin, not the stored numbers (x 10)
    # the same flags take the aggregate (refused before: '2047 to 3241 K')
    assert main(["evaluate", str(tmp_path / "sr.tif"), str(on_sr), str(tmp_path / "e2.csv"),
                 *flags]) == 0
    assert "times finer" not in capsys.readouterr().err
    # the advised step again: refused, the file it wrote kept
    done = (tmp_path / "ref_ref_2.tif").read_bytes()
    again = subprocess.run([sys.executable, "-c", python], cwd=tmp_path, capture_output=True,
                           text=True)
    assert again.returncode != 0 and "exists" in again.stderr
    assert (tmp_path / "ref_ref_2.tif").read_bytes() == done
