"""`xlstsr train` / fit_files had no band of a multi-band GeoTIFF (upscale's --band, --guide-band):
a user was told to write the band to a file of its own first. They take band= / guide_band= /
truth_band= (--band / --guide-band / --truth-band) now, recorded in the checkpoint, and the
refusals of a multi-band raster name the train flag that works."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from helpers import make_lst, run_cli

from xlstsr.errors import XlstsrError

TINY = ("--patch", "16", "--window", "16", "--epochs", "1")


def _stack(tmp_path, name: str = "dn.tif"):
    """A MODIS-like stack: band 1 LST digital numbers (x 0.02, fill 0), band 2 a QC layer."""
    rng = np.random.default_rng(0)
    lst = (300 + rng.normal(0, 2, (32, 32))) / 0.02
    lst[:, :4] = 0
    qc = rng.integers(0, 4, (32, 32)).astype(float)
    da = make_lst(np.stack([lst, qc]).astype("uint16")).rename(time="band").assign_coords(
        band=[1, 2])
    da.rio.to_raster(tmp_path / name)
    return tmp_path / name


def _train(capsys, tmp_path, *argv):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_cli(capsys, "train", *argv, "--out", tmp_path / "m.pt", *TINY,
                       "--log-dir", tmp_path / "logs")


def _followed(err: str, flag: str) -> list[str]:
    """The train flag the refusal advises, with its value (`--band 1`)."""
    m = re.search(rf"`?({flag}) (\d+)", err)
    assert m, err
    return [m[1], m[2]]


def test_train_band_advice_is_a_train_flag_that_works(tmp_path, capsys):
    """The multi-band refusal named .rio.to_raster(...) (train had no --band); it names --band
    now, and following it trains and records the band."""
    from xlstsr.nn import load_model

    tif = _stack(tmp_path)
    code, err = _train(capsys, tmp_path, "--lst", tif, "--scale", "0.02", "--nodata", "0")
    assert code == 2 and ".rio.to_raster(" not in err and "--band" in err, err
    advised = _followed(err, "--band")
    code, err = _train(capsys, tmp_path, "--lst", tif, "--scale", "0.02", "--nodata", "0",
                       *advised)
    assert code == 0, err
    meta = load_model(tmp_path / "m.pt").metadata
    assert meta["training_data"]["band"] == int(advised[1])


def test_fit_files_band_records_and_refuses_non_geotiff(tmp_path):
    """fit_files(band=) reads one band (as open_path(path, band=N)), records it; a band of a
    NetCDF is refused naming the variable argument."""
    from xlstsr.train import fit_files

    tif = _stack(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rec = fit_files(tif, tmp_path / "m.pt", band=1, declare={"scale_factor": 0.02,
                                                                 "_FillValue": 0},
                        patch=16, window=16, epochs=1,
                        trainer_options={"enable_model_summary": False, "logger": False})
    from xlstsr.nn import load_model

    assert load_model(rec["path"]).metadata["training_data"]["band"] == 1
    make_lst(300 + np.zeros((16, 16))).to_dataset(name="LST").to_netcdf(tmp_path / "l.nc")
    with pytest.raises(XlstsrError, match=r"`band=2` selects a band of a GeoTIFF.*`variable=`"):
        fit_files(tmp_path / "l.nc", tmp_path / "n.pt", band=2, epochs=1)
    for bad in (0, True, 1.5):
        with pytest.raises(XlstsrError, match="numbered from 1"):
            fit_files(tif, tmp_path / "n.pt", band=bad, epochs=1)


def test_train_band_of_a_netcdf_names_the_variable_flag(tmp_path, capsys):
    """As upscale's --band: a file that is no GeoTIFF is refused naming --variable."""
    make_lst(300 + np.zeros((16, 16))).to_dataset(name="LST").to_netcdf(tmp_path / "l.nc")
    code, err = _train(capsys, tmp_path, "--lst", tmp_path / "l.nc", "--band", "2")
    assert code == 2 and "--band selects a band of a GeoTIFF" in err and "--variable" in err, err
    assert "band=" not in err and "variable=" not in err
    code, err = _train(capsys, tmp_path, "--lst", tmp_path / "l.nc", "--band", "0")
    assert code == 2 and "--band" in err


def test_train_guide_band_out_of_range_names_guide_band_and_trains(tmp_path, capsys):
    """A guide band that is not there named upscale's LST flag (--band 1 to N); the advice is
    --guide-band, and following it trains with the guide's band recorded."""
    from xlstsr.nn import load_model

    rng = np.random.default_rng(1)
    make_lst(300 + rng.normal(0, 2, (16, 16)), units="K").rio.to_raster(tmp_path / "lst.tif")
    g = make_lst(rng.uniform(0.1, 0.8, (2, 64, 64)), res=250.0).rename(time="band")
    g.assign_coords(band=[1, 2]).rio.to_raster(tmp_path / "ndvi.tif")
    base = ("--lst", tmp_path / "lst.tif", "--guide", tmp_path / "ndvi.tif",
            "--mode", "degraded_disr")
    code, err = _train(capsys, tmp_path, *base, "--guide-band", "5")
    assert code == 2 and "--guide-band 1 to 2" in err and "guide_band=" not in err, err
    code, err = _train(capsys, tmp_path, *base, "--guide-band", "2")
    assert code == 0, err
    td = load_model(tmp_path / "m.pt").metadata["training_data"]
    assert td["guide_band"] == 2 and "band" not in td and "truth_band" not in td


def test_train_truth_band_selects_and_needs_truth(tmp_path, capsys):
    """--truth-band reads one band of a multi-band truth (mode supervised); without --truth it
    is a usage error naming --truth."""
    from xlstsr.nn import load_model

    rng = np.random.default_rng(2)
    make_lst(300 + rng.normal(0, 2, (16, 16)), units="K").rio.to_raster(tmp_path / "lst.tif")
    t = make_lst(300 + rng.normal(0, 2, (2, 64, 64)), res=250.0, units="K")
    t.rename(time="band").assign_coords(band=[1, 2]).rio.to_raster(tmp_path / "truth.tif")
    code, err = _train(capsys, tmp_path, "--lst", tmp_path / "lst.tif", "--truth-band", "1")
    assert code == 2 and "--truth" in err and "truth_band" not in err, err
    code, err = _train(capsys, tmp_path, "--lst", tmp_path / "lst.tif", "--truth",
                       tmp_path / "truth.tif", "--truth-band", "3", "--mode", "supervised")
    assert code == 2 and "--truth-band 1 to 2" in err, err
    code, err = _train(capsys, tmp_path, "--lst", tmp_path / "lst.tif", "--truth",
                       tmp_path / "truth.tif", "--truth-band", "1", "--mode", "supervised")
    assert code == 0, err
    assert load_model(tmp_path / "m.pt").metadata["training_data"]["truth_band"] == 1


def test_guide_bands_of_different_scales_name_guide_band():
    """open_cog's refusal of bands of different scales says `--band N`: for the guide,
    fit_files and train name --guide-band."""
    from xlstsr.cli import _train_hints
    from xlstsr.train.cube import _band_advice

    err = XlstsrError("the 2 bands of g.tif declare different scales or offsets (scales (1, 2)):"
                      " they are different fields, not steps of one. Select one band with "
                      "`band=` (`--band N` on the command line), each read with its own scale.")
    new = _band_advice(err, "guide_band")
    assert "`guide_band=` (`--guide-band N`" in str(new)
    assert "--guide-band N" in _train_hints(str(new)) and " --band" not in _train_hints(str(new))
    assert _band_advice(err, "band") is err


def test_train_help_lists_band_flags(capsys):
    from xlstsr.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    for flag in ("--band", "--guide-band", "--truth-band"):
        assert flag in out
