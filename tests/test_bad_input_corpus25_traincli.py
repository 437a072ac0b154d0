"""`xlstsr train` and the training functions found wanting in session 25: their refusals offered
options they do not take (`--band`, `mask_out_of_range=True`), named a Python argument for a flag
train has and repeated a sentence, and a PSF outside the degraded modes was recorded unused."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from helpers import make_lst, run_cli

from xlstsr.errors import XlstsrError

QUIET = {"enable_model_summary": False, "logger": False, "enable_checkpointing": False}


def _field(n: int, res: float, seed: int = 0, **attrs) -> xr.DataArray:
    return make_lst(300 + np.random.default_rng(seed).normal(0, 2, (n, n)), res=res, **attrs)


# -- 1. a refused multi-band GeoTIFF: train's --band ----------------------------------------------

def test_train_multiband_refusal_names_the_band_flag(tmp_path, capsys):
    """The refusal advised "`--band 1` on the command line", which `xlstsr train` rejected as
    an unrecognized argument; train has --band now, and its advice trains."""
    v = (300 + np.random.default_rng(0).normal(0, 2, (3, 32, 32))) / 0.02
    v[:, :10] = 0  # MODIS digital numbers, no scale tag, undeclared fill 0
    da = make_lst(v.astype("uint16")).rename(time="band").assign_coords(band=[1, 2, 3])
    da.rio.to_raster(tmp_path / "dn.tif")
    code, err = run_cli(capsys, "train", "--lst", tmp_path / "dn.tif", "--out", tmp_path / "m.pt",
                        "--patch", "16", "--epochs", "1", "--log-dir", tmp_path / "logs")
    assert code == 2 and "'band' dim of 3 bands" in err
    assert "--band 1" in err and ".rio.to_raster(" not in err
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code, err = run_cli(capsys, "train", "--lst", tmp_path / "dn.tif", "--band", "1",
                            "--scale", "0.02", "--nodata", "0", "--out", tmp_path / "m.pt",
                            "--patch", "16", "--window", "16", "--epochs", "1",
                            "--log-dir", tmp_path / "logs")
    assert code == 0, err


# -- 2. out-of-range LST or truth: training takes no mask_out_of_range ----------------------------

@pytest.mark.parametrize("case", ["celsius_label", "infinite", "fill"])
def test_fit_cube_offers_no_mask_out_of_range(case):
    """fit_cube's refusal said "pass `mask_out_of_range=True`", which it then refused as an
    unknown training option."""
    from xlstsr.train import fit_cube

    cube = _field(32, 1000.0, units="K")
    if case == "celsius_label":
        cube.attrs["units"] = "degC"
    elif case == "infinite":
        cube[0, 0] = np.inf
    else:
        cube[0, :3] = -9999.0
    with pytest.raises(XlstsrError) as info:
        fit_cube(cube, patch=16, epochs=1)
    msg = str(info.value)
    assert "mask_out_of_range=True" not in msg and "--mask-out-of-range" not in msg
    assert "da.where(" in msg  # the way to leave the pixels out is still said
    with pytest.raises(XlstsrError, match="unknown training option"):
        fit_cube(cube, patch=16, epochs=1, mask_out_of_range=True)


def test_train_truth_refusal_offers_no_mask_out_of_range(tmp_path, capsys):
    """fit_files kept the advice on the truth, and `xlstsr train`'s --truth branch of
    _train_hints returned before removing it."""
    from xlstsr.cli import _train_hints
    from xlstsr.train import fit_files
    from xlstsr.train.cube import TRUTH_HINT

    lst = _field(16, 1000.0, units="K")
    truth = _field(64, 250.0, seed=1, units="K")
    ndvi = make_lst(np.random.default_rng(2).uniform(0.1, 0.8, (64, 64)), res=250.0)
    for name, da in (("lst", lst), ("truth", truth), ("ndvi", ndvi)):
        da.rio.to_raster(tmp_path / f"{name}.tif")
    files = {"guide": tmp_path / "ndvi.tif", "truth": tmp_path / "truth.tif",
             "mode": "supervised", "patch": 16, "epochs": 1}
    with pytest.raises(XlstsrError) as info:
        fit_files(tmp_path / "lst.tif", tmp_path / "m.pt", truth_declare={"units": "degC"},
                  **files)
    assert "truth_declare=" in str(info.value) and "mask_out_of_range=" not in str(info.value)
    code, err = run_cli(capsys, "train", "--lst", tmp_path / "lst.tif", "--guide",
                        tmp_path / "ndvi.tif", "--truth", tmp_path / "truth.tif", "--truth-units",
                        "degC", "--mode", "supervised", "--patch", "16", "--epochs", "1",
                        "--out", tmp_path / "m.pt", "--log-dir", tmp_path / "logs")
    assert code == 2 and "`--truth-units K`" in err and "mask_out_of_range" not in err
    # the front door's own wording (as upscale's is), given to the truth branch
    raw = ("truth values from 565 to 580 K fall outside the physical range 150-400 K; set "
           "`da.attrs['units'] = 'K'`. To mask such pixels instead, pass "
           f"`mask_out_of_range=True`.{TRUTH_HINT}")
    out = _train_hints(raw)
    assert "mask_out_of_range" not in out and "`--truth-units K`" in out
    assert _train_hints(out) == out


# -- 3. guide dates: train's own flag, each sentence once ----------------------------------------

def test_train_guide_date_refusal_names_the_flag_once(tmp_path, capsys):
    """`xlstsr train` said "Pass guide_time_tolerance=" (not --guide-time-tolerance, as upscale
    does) and repeated its last sentence: _train_hints ran twice."""
    rng = np.random.default_rng(0)
    lst = make_lst(300 + rng.normal(0, 2, (2, 16, 16)), units="K").assign_coords(
        time=np.array(["2020-01-05", "2020-01-21"], "M8[ns]"))
    ndvi = make_lst(rng.uniform(0.1, 0.8, (2, 64, 64)), res=250.0).assign_coords(
        time=np.array(["2020-01-01", "2020-01-17"], "M8[ns]"))  # 16-day composites
    lst.to_dataset(name="lst").to_zarr(tmp_path / "lst.zarr", mode="w")
    ndvi.to_dataset(name="ndvi").to_zarr(tmp_path / "ndvi.zarr", mode="w")
    code, err = run_cli(capsys, "train", "--lst", tmp_path / "lst.zarr", "--guide",
                        tmp_path / "ndvi.zarr", "--mode", "degraded_disr", "--patch", "16",
                        "--epochs", "1", "--out", tmp_path / "m.pt", "--log-dir",
                        tmp_path / "logs")
    assert code == 2 and "`--guide-time-tolerance 15D`" in err
    sentences = [s.strip() for s in err.split(". ") if s.strip()]
    assert len(sentences) == len(set(sentences)), err


# -- 4. a PSF outside the degraded modes -----------------------------------------------------------

def test_psf_is_refused_where_no_pair_is_degraded(tmp_path, capsys):
    """`--psf` with --mode sif trained bit-identical weights, while the checkpoint recorded the
    PSF; the degraded modes still take it."""
    from xlstsr.train import CubeDataModule, fit_files

    lst = _field(16, 1000.0, units="K")
    ndvi = make_lst(np.random.default_rng(2).uniform(0.1, 0.8, (64, 64)), res=250.0)
    for mode in ("sif", "supervised"):
        with pytest.raises(XlstsrError, match="'degraded_disr'"):
            CubeDataModule(lst, guide=ndvi, truth=ndvi if mode == "supervised" else None,
                           mode=mode, psf=1.5)
    for mode in ("sisr", "degraded_disr"):
        CubeDataModule(lst, guide=None if mode == "sisr" else ndvi, mode=mode, psf=1.5)
    lst.rio.to_raster(tmp_path / "lst.tif")
    ndvi.rio.to_raster(tmp_path / "ndvi.tif")
    with pytest.raises(XlstsrError, match="psf="):
        fit_files(tmp_path / "lst.tif", tmp_path / "m.pt", guide=tmp_path / "ndvi.tif",
                  mode="sif", psf=1.51, patch=16, epochs=1, trainer_options=QUIET)
    code, err = run_cli(capsys, "train", "--lst", tmp_path / "lst.tif", "--guide",
                        tmp_path / "ndvi.tif", "--mode", "sif", "--psf", "1.51", "--patch", "16",
                        "--epochs", "1", "--out", tmp_path / "m.pt", "--log-dir",
                        tmp_path / "logs")
    assert code == 2 and "--psf" in err and "degraded_disr" in err
    assert not (tmp_path / "m.pt").exists()


def test_psf_zero_and_old_checkpoints_of_modes_without_degraded_pairs(tmp_path, capsys):
    """Review25: psf=0 (no blur) is what sif and supervised train with, so it is taken; a
    checkpoint of such a run that recorded a psf (the code before the refusal stored it)
    resumes without it, while a degraded mode still refuses another psf; the command line's
    refusal advises what each mode can do (supervised keeps its --truth: no degraded mode
    takes one)."""
    from xlstsr.train import CubeDataModule

    lst = make_lst(300 + np.random.default_rng(0).normal(0, 2, (2, 32, 32)), res=1000.0,
                   units="K")
    ndvi = make_lst(np.random.default_rng(2).uniform(0.1, 0.8, (128, 128)), res=250.0)
    dm = CubeDataModule(lst, guide=ndvi, mode="sif", psf=0.0, patch=16)
    assert dm.psf is None
    dm.setup()
    state = dm.state_dict()
    old = {**state, "inputs": {**state["inputs"], "psf": 1.51}}
    again = CubeDataModule(lst, guide=ndvi, mode="sif", patch=16)
    again.setup()
    again.load_state_dict(old)  # resumed: the psf was never used by this mode
    sisr = CubeDataModule(lst, mode="sisr", psf=1.5, patch=16)
    sisr.setup()
    s_state = sisr.state_dict()
    other = CubeDataModule(lst, mode="sisr", psf=1.0, patch=16)
    other.setup()
    with pytest.raises(XlstsrError, match="psf"):
        other.load_state_dict(s_state)
    lst.isel(time=0).rio.to_raster(tmp_path / "lst.tif")
    ndvi.rio.to_raster(tmp_path / "ndvi.tif")
    code, err = run_cli(capsys, "train", "--lst", tmp_path / "lst.tif", "--truth",
                        tmp_path / "ndvi.tif", "--mode", "supervised", "--psf", "1.5",
                        "--out", tmp_path / "m.pt")
    assert code == 2 and "without --truth" in err and "add --mode" not in err
    code, err = run_cli(capsys, "train", "--lst", tmp_path / "lst.tif", "--guide",
                        tmp_path / "ndvi.tif", "--mode", "sif", "--psf", "1.5",
                        "--out", tmp_path / "m.pt")
    assert code == 2 and "--mode degraded_disr with the same --guide" in err
    assert "or sisr" not in err
