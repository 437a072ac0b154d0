"""Review 49e of the training/CLI fixes: evaluate's aggregation advice for a GeoTIFF reference
with scale/offset tags (decoded first: `rio warp` drops the tags), the advice's wording, a resume
with other step-shaping Trainer options refused, an undated GeoTIFF truth's positional pairing
warned of and a clearly reordered one refused with a command that reorders it, and a truth of
another band count given command-line advice."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rioxarray
import xarray as xr

import xlstsr
from xlstsr import errors
from xlstsr.cli import main

BIN = Path(sys.executable).parent
needs_rio = pytest.mark.skipif(not (BIN / "rio").exists(),
                               reason="rasterio's rio command is not installed")


@pytest.fixture(scope="module")
def lst():
    """The bundled MODIS sample's day LST, 4 dates of distinct mean temperature, 64 x 64."""
    return xlstsr.datasets.modis_sample()["lst_day"].isel(time=[0, 1, 5, 7]).load()


def _fine_reference(s):
    """A 62.5 m reference in Kelvin (NaN outside the scene's truth)."""
    from rasterio.enums import Resampling

    truth = s["lst_250m"].isel(time=0, drop=True)
    res = abs(float(truth.x[1] - truth.x[0])) / 4
    fine = truth.rio.reproject(truth.rio.crs, resolution=res, resampling=Resampling.bilinear)
    return fine.where(fine > 0)


def _followed(err, cwd):
    """The advice's Python step and `rio warp` run as written; the aggregate's path."""
    python = re.search(r"in Python, `([^`]*)`", err)[1]
    subprocess.run([sys.executable, "-c", python], cwd=cwd, check=True)
    command = shlex.split(re.search(r"`(rio warp [^`]*)`", err)[1])
    subprocess.run([str(BIN / "rio"), *command[1:]], cwd=cwd, check=True, capture_output=True)
    return cwd / command[3]


# -- 1. (49e/1) a GeoTIFF reference with scale/offset tags -----------------------------------------

@needs_rio
@pytest.mark.parametrize("scale, offset, dtype", [(0.1, 0.0, "float32"),  # ASTER K x 10
                                                   (0.00341802, 149.0, "uint16")])  # Landsat
def test_aggregate_advice_for_a_tagged_geotiff_reference_is_decoded_first(
        s, sr, tmp_path, capsys, scale, offset, dtype):
    fine = _fine_reference(s)
    stored = np.where(np.isfinite(fine.values), np.round((fine.values - offset) / scale), 0)
    coded = fine.copy(data=stored.astype(dtype)).rio.write_nodata(0)
    coded.attrs = {}
    coded.rio.to_raster(tmp_path / "ref.tif")
    with rasterio.open(tmp_path / "ref.tif", "r+") as f:
        f.scales, f.offsets = (scale,), (offset,)
    sr.isel(time=0, drop=True).rio.to_raster(tmp_path / "sr.tif")
    flags = ["--valid-min", "230"]
    assert main(["evaluate", str(tmp_path / "sr.tif"), str(tmp_path / "ref.tif"),
                 str(tmp_path / "e.csv"), *flags]) == 0
    err = capsys.readouterr().err
    assert "scale/offset tags are dropped by GDAL's warp" in err
    on_sr = _followed(err, tmp_path)
    # the same flags take the aggregate (was refused as 2047-3241 K, or as Landsat DNs with
    # Python-only advice)
    assert main(["evaluate", str(tmp_path / "sr.tif"), str(on_sr), str(tmp_path / "e2.csv"),
                 *flags]) == 0
    assert "times finer" not in capsys.readouterr().err
    aggregate = rioxarray.open_rasterio(on_sr, masked=True)
    assert 250 < float(aggregate.median()) < 350


# -- 5. (49e/5) wording of the packed-.nc advice ---------------------------------------------------

def test_packed_nc_advice_has_a_space_after_its_semicolon(s, sr, tmp_path, capsys):
    fine = _fine_reference(s)
    fine.attrs = {"units": "K"}
    fine.to_dataset(name="LST").to_netcdf(tmp_path / "ref.nc", encoding={"LST": {
        "dtype": "uint16", "scale_factor": 0.1, "_FillValue": 0}})
    sr.isel(time=0, drop=True).rio.to_raster(tmp_path / "sr.tif")
    assert main(["evaluate", str(tmp_path / "sr.tif"), str(tmp_path / "ref.nc"),
                 str(tmp_path / "e.csv"), "--valid-min", "230"]) == 0
    err = capsys.readouterr().err
    assert "would drop; in Python" in err and "drop;in" not in err


# -- 2. (49e/2) a resume with other step-shaping Trainer options ----------------------------------

@pytest.mark.filterwarnings("ignore:training did not improve")
def test_resume_with_other_shaping_trainer_options_is_refused(lst, tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    from xlstsr.train import fit_files

    nc = tmp_path / "lst.nc"
    lst.isel(time=slice(0, 2)).to_netcdf(nc)
    common = {"patch": 16, "window": 32, "epochs": 2, "batch_size": 8,
              "log_dir": str(tmp_path / "logs")}
    first = {"accumulate_grad_batches": 2}
    fit_files(nc, tmp_path / "a.pt", trainer_options={**first, "max_epochs": 1},
              callbacks=[ModelCheckpoint(dirpath=tmp_path / "ck", save_last=True)], **common)
    last = tmp_path / "ck" / "last.ckpt"
    with pytest.raises(errors.XlstsrError, match=r"other batch settings \(accumulate_grad_batches "
                       r"2, now 1\).*trainer_options\['accumulate_grad_batches'\]"):
        fit_files(nc, tmp_path / "b.pt", ckpt_path=last, **common)
    with pytest.raises(errors.XlstsrError, match=r"limit_train_batches 1.0, now 1\b"):
        fit_files(nc, tmp_path / "b.pt", ckpt_path=last,
                  trainer_options={**first, "limit_train_batches": 1}, **common)
    # the first run's options: resumed, recorded as they were
    fit_files(nc, tmp_path / "c.pt", ckpt_path=last, trainer_options=first, **common)
    import torch

    st = torch.load(tmp_path / "c.pt", weights_only=True)["metadata"]["settings"]
    assert st["accumulate_grad_batches"] == 2 and st["global_batch_size"] == 16


# -- 3. (49e/3) an undated GeoTIFF truth's bands paired by position --------------------------------

def _train(tmp_path, truth, out, lst_path=None, extra=()):
    return main(["train", "--mode", "supervised", "--lst", str(lst_path or tmp_path / "coarse.nc"),
                 "--truth", str(truth), "--out", str(tmp_path / out), "--patch", "16",
                 "--epochs", "1", "--batch-size", "8", "--log-dir", str(tmp_path / "logs"),
                 *extra])


@pytest.fixture
def truths(lst, tmp_path):
    """coarse.nc (the dated LST x 1/4) and its fine truth as undated GeoTIFFs: in order,
    reversed, and with one band fewer."""
    truth = lst.rename(time="band").assign_coords(band=[1, 2, 3, 4]).drop_vars(
        "composite_start", errors="ignore")
    truth.rio.to_raster(tmp_path / "truth.tif")
    truth.isel(band=slice(None, None, -1)).assign_coords(band=[1, 2, 3, 4]).rio.to_raster(
        tmp_path / "rev.tif")
    truth.isel(band=slice(0, 3)).rio.to_raster(tmp_path / "three.tif")
    xr.concat([truth, truth.isel(band=[0])], "band").assign_coords(
        band=[1, 2, 3, 4, 5]).rio.to_raster(tmp_path / "five.tif")
    xlstsr.coarsen(lst, 4).to_netcdf(tmp_path / "coarse.nc")
    return tmp_path


@needs_rio
@pytest.mark.filterwarnings("ignore:training did not improve")
def test_reversed_undated_truth_is_refused_with_a_command_that_orders_it(truths, capsys,
                                                                        caplog):
    tmp_path = truths
    assert _train(tmp_path, tmp_path / "rev.tif", "r.pt") == 2  # trained silently before
    err = capsys.readouterr().err
    assert "look to be in another order" in err and ": band 4, " in err
    assert not (tmp_path / "r.pt").exists()
    command = shlex.split(re.search(r"`(rio stack [^`]*)`", err)[1])
    assert command[command.index("--bidx") + 1] == "4,3,2,1"
    subprocess.run([str(BIN / "rio"), *command[1:]], cwd=tmp_path, check=True,
                   capture_output=True)
    ordered = tmp_path / "rev_ordered.tif"
    # the file's scale tag (the MODIS sample's x 0.02), which rio stack drops, declared
    declared = re.search(r"rio stack drops them: (--truth-scale \S+);", err)[1].split()
    assert declared == ["--truth-scale", "0.02"]
    with caplog.at_level("WARNING", logger="xlstsr"):
        assert _train(tmp_path, ordered, "o.pt", extra=declared) == 0
    assert "truth's 4 bands taken as the LST's 4 'time' steps in order" in caplog.text
    # the order as written: trained, the positional pairing said at WARNING (was INFO)
    caplog.clear()
    with caplog.at_level("WARNING", logger="xlstsr"):
        assert _train(tmp_path, tmp_path / "truth.tif", "t.pt") == 0
    assert "bands taken as the LST's 4 'time' steps in order" in caplog.text


@needs_rio
@pytest.mark.filterwarnings("ignore:training did not improve")
def test_right_order_truth_with_a_steady_offset_trains(lst, truths):
    """A right-order truth 3 K warmer than the LST (another sensor or hour) was refused: its
    bands, each matched to its nearest step, all took the warmest (review 49i/1)."""
    tmp_path = truths
    # a summer series of 20 steps whose means lie 0.25 K apart, the truth 2.5 K warmer
    kelvin = lst.astype("float32").drop_vars("composite_start", errors="ignore")
    kelvin.encoding = {}
    kelvin = xr.concat([kelvin.assign_coords(time=kelvin.time + np.timedelta64(40 * k, "D"))
                        for k in range(5)], "time")
    n = kelvin.sizes["time"]
    close = kelvin - kelvin.mean(("y", "x")) + 300.0 + 0.25 * np.arange(n)[:, None, None]
    close.attrs = {"units": "K"}
    xlstsr.coarsen(close, 4).to_netcdf(tmp_path / "close.nc")
    warm = (close + 2.5).rename(time="band").assign_coords(band=np.arange(1, n + 1))
    warm.rio.to_raster(tmp_path / "warm.tif")
    assert _train(tmp_path, tmp_path / "warm.tif", "w.pt", tmp_path / "close.nc") == 0
    assert (tmp_path / "w.pt").exists()

@pytest.mark.filterwarnings("ignore:training did not improve")
def test_two_geotiffs_in_other_orders_are_refused(lst, truths, capsys):
    tmp_path = truths
    xlstsr.coarsen(lst, 4).rename(time="band").assign_coords(band=[1, 2, 3, 4]).drop_vars(
        "composite_start", errors="ignore").rio.to_raster(tmp_path / "coarse.tif")
    assert _train(tmp_path, tmp_path / "rev.tif", "r.pt", tmp_path / "coarse.tif") == 2
    assert "--bidx 4,3,2,1" in capsys.readouterr().err


# -- 4. (49e/4) a truth of another band count on the command line ----------------------------------

@needs_rio
@pytest.mark.filterwarnings("ignore:training did not improve")
def test_truth_of_another_band_count_gets_command_line_advice(truths, capsys):
    tmp_path = truths
    assert _train(tmp_path, tmp_path / "three.tif", "x.pt") == 2
    err = capsys.readouterr().err
    assert "has 3 bands and no dates, the LST 4 'time' steps" in err
    assert "--truth-band N" in err and "an LST of the truth's dates only" in err
    assert "swap_dims" not in err  # (was Python only)
    # more bands than steps: the command that keeps the LST's, followed as written
    assert _train(tmp_path, tmp_path / "five.tif", "x.pt") == 2
    err = capsys.readouterr().err
    assert "has 5 bands and no dates" in err and "swap_dims" not in err
    command = shlex.split(re.search(r"`(rio stack [^`]*)`", err)[1])
    subprocess.run([str(BIN / "rio"), *command[1:]], cwd=tmp_path, check=True,
                   capture_output=True)
    declared = re.search(r"rio stack drops them: (--truth-scale \S+);", err)[1].split()
    assert _train(tmp_path, tmp_path / "five_steps.tif", "x.pt", extra=declared) == 0
