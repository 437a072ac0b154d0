"""Probe 38 (findings 1-5): the command line on Landsat scenes, masks and training outputs.

Found: ``xlstsr evaluate`` refused a lone Landsat ``*_ST_B10.TIF`` reference (no QA_PIXEL)
even when decoded with --reference-scale/--reference-offset/--reference-nodata; a
--reference-mask declaring nodata=0 had its clear pixels read as NaN ("no pixel is 0"); the
Landsat reader's refusals advised Python's ``prefix=`` on the command line; ``xlstsr train
--out rescnn`` wrote a model that ``--model rescnn`` never loads (the bundled weights win);
``xlstsr train`` named as "best checkpoint" an epoch worse than the starting weights it wrote.
"""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
import rasterio
import rioxarray
import torch
import xarray as xr
from affine import Affine
from helpers import make_lst, run_cli
from test_landsat_c2l2 import PRODUCT, _scene

from xlstsr.errors import CheckpointError, XlstsrError

SCALE, OFFSET = 0.00341802, 149.0


def _lone_band_and_sr(tmp_path):
    """A scene's ST_B10.TIF without its QA_PIXEL, and an sr on a 2x coarser grid (truth + 0.5)."""
    _scene(tmp_path / "scene")
    (tmp_path / "scene" / f"{PRODUCT}QA_PIXEL.TIF").unlink()
    band = tmp_path / "scene" / f"{PRODUCT}ST_B10.TIF"
    st = rioxarray.open_rasterio(band).squeeze("band", drop=True)
    v = np.where(st.values == 0, np.nan, st.values * SCALE + OFFSET)
    sr = st.astype("float32").copy(data=(v + 0.5).astype("float32")).coarsen(y=2, x=2).mean()
    sr.attrs = {"units": "K"}
    sr.rio.write_nodata(np.nan).rio.to_raster(tmp_path / "sr.tif")
    return band, tmp_path / "sr.tif"


# -- 1. a lone ST_B10.TIF as evaluate's reference -------------------------------------------------

def test_evaluate_lone_st_band_decoded_by_the_flags_is_scored(tmp_path, capsys):
    band, sr = _lone_band_and_sr(tmp_path)
    renamed = tmp_path / "landsat_st_clip.tif"
    shutil.copy(band, renamed)
    flags = ["--reference-scale", SCALE, "--reference-offset", OFFSET, "--reference-nodata", 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc, err = run_cli(capsys, "evaluate", sr, band, tmp_path / "a.csv", *flags)
        assert rc == 0, err
        rc, err = run_cli(capsys, "evaluate", sr, renamed, tmp_path / "b.csv", *flags)
        assert rc == 0, err
    # the USGS-named band scores as the same file under another name
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


@pytest.mark.parametrize("flags, expect", [
    ([], "--reference-scale 0.00341802 --reference-offset 149 --reference-nodata 0"),
    (["--reference-scale", SCALE], "--reference-scale 0.00341802 without --reference-offset"),
])
def test_evaluate_lone_st_band_without_its_decoding_names_the_flags(tmp_path, capsys, flags,
                                                                    expect):
    band, sr = _lone_band_and_sr(tmp_path)
    rc, err = run_cli(capsys, "evaluate", sr, band, tmp_path / "a.csv", *flags)
    assert rc == 2 and expect in err, err
    assert "prefix=" not in err and not (tmp_path / "a.csv").exists()


# -- 2. a --reference-mask that declares nodata=0 -------------------------------------------------

def test_reference_mask_declaring_nodata_0_is_read_as_stored(tmp_path, capsys):
    t = Affine(30.0, 0, 500_000.0, 0, -30.0, 4_200_000.0)
    yy, xx = np.mgrid[:64, :64]
    lst = (300 + 5 * np.sin(xx / 7) + 3 * np.cos(yy / 9)).astype("float32")
    with rasterio.open(tmp_path / "ref.tif", "w", driver="GTiff", height=64, width=64, count=1,
                       dtype="float32", crs="EPSG:32611", transform=t) as f:
        f.write(lst, 1)
    sr = xr.DataArray(lst.reshape(16, 4, 16, 4).mean((1, 3)), dims=("y", "x"),
                      attrs={"units": "K"},
                      coords={"y": 4_200_000 - 60 - 120 * np.arange(16),
                              "x": 500_000 + 60 + 120 * np.arange(16)}).rio.write_crs("EPSG:32611")
    sr.rio.to_raster(tmp_path / "sr.tif")
    m = np.zeros((64, 64), "uint8")
    m[:10] = 1  # cloud on the first rows, 0 (clear) elsewhere
    tables = {}
    for nd in (None, 0):
        with rasterio.open(tmp_path / f"m{nd}.tif", "w", driver="GTiff", height=64, width=64,
                           count=1, dtype="uint8", crs="EPSG:32611", transform=t,
                           nodata=nd) as f:
            f.write(m, 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rc, err = run_cli(capsys, "evaluate", tmp_path / "sr.tif", tmp_path / "ref.tif",
                              tmp_path / f"o{nd}.csv", "--reference-mask", tmp_path / f"m{nd}.tif")
        assert rc == 0, err
        tables[nd] = (tmp_path / f"o{nd}.csv").read_text()
    assert tables[0] == tables[None]  # the declared nodata changes nothing: 0 is clear
    # NetCDF: a _FillValue of 0 likewise; a packed mask (add_offset) and packed coordinates
    # are still decoded (read as stored, they were refused: review 38a)
    ds = xr.DataArray(m, dims=("y", "x"), name="cloud",
                      coords={"y": 4_200_000 - 15 - 30 * np.arange(64),
                              "x": 500_000 + 15 + 30 * np.arange(64)}
                      ).rio.write_crs("EPSG:32611").to_dataset()
    encodings = {
        "fill0": {"cloud": {"_FillValue": 0}},
        "offset": {"cloud": {"dtype": "int16", "scale_factor": 1.0, "add_offset": -1.0,
                             "_FillValue": -9999}},
        "coords": {"y": {"dtype": "int32", "scale_factor": 0.5},
                   "x": {"dtype": "int32", "scale_factor": 0.5}},
    }
    for name, enc in encodings.items():
        (ds.astype("float32") if name == "offset" else ds).to_netcdf(tmp_path / f"m_{name}.nc",
                                                                      encoding=enc)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rc, err = run_cli(capsys, "evaluate", tmp_path / "sr.tif", tmp_path / "ref.tif",
                              tmp_path / f"o_{name}.csv", "--reference-mask",
                              tmp_path / f"m_{name}.nc")
        assert rc == 0, (name, err)
        assert (tmp_path / f"o_{name}.csv").read_text() == tables[None], name


# -- 3. the Landsat reader's refusals on the command line: no prefix= ----------------------------

def test_folder_of_two_scenes_names_one_scene_file_on_the_cli(tmp_path, capsys):
    other = "LC08_L2SP_044034_20230831_20230901_02_T1_"
    _scene(tmp_path / "scenes")
    _scene(tmp_path / "scenes", product=other)
    sr = make_lst(np.full((20, 25), 301.0, "float32"), res=60.0, units="K")
    sr.rio.to_raster(tmp_path / "sr.tif")
    for argv in (["evaluate", tmp_path / "sr.tif", tmp_path / "scenes", tmp_path / "o.csv"],
                 ["upscale", tmp_path / "scenes", tmp_path / "o.tif", "--factor", "2",
                  "--method", "bicubic"]):
        rc, err = run_cli(capsys, *argv)
        assert rc == 2 and "prefix=" not in err, err
        assert str(tmp_path / "scenes" / f"{PRODUCT}ST_B10.TIF") in err, err
    # Python callers keep the Python advice
    from xlstsr.io import open_landsat_c2l2

    with pytest.raises(XlstsrError, match="prefix="):
        open_landsat_c2l2(tmp_path / "scenes")


def test_scene_folder_lacking_qa_pixel_advises_no_prefix_on_the_cli(tmp_path, capsys):
    _scene(tmp_path / "scene")
    (tmp_path / "scene" / f"{PRODUCT}QA_PIXEL.TIF").unlink()
    rc, err = run_cli(capsys, "upscale", tmp_path / "scene", tmp_path / "o.tif", "--factor", "2",
                      "--method", "bicubic")
    assert rc == 2 and f"{PRODUCT}QA_PIXEL.TIF" in err and "prefix=" not in err, err


# -- 4. a bundled weights name as the output model file -------------------------------------------

def test_train_out_bundled_name_is_refused_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_lst(300 + np.random.default_rng(0).normal(0, 2, (32, 32)), units="K").rio.to_raster("lst.tif")
    rc, err = run_cli(capsys, "train", "--lst", "lst.tif", "--out", "rescnn", "--patch", "16",
                      "--epochs", "1", "--log-dir", "logs")
    assert rc == 2 and "bundled weights" in err and "'./rescnn'" in err, err
    assert not (tmp_path / "rescnn").exists() and not (tmp_path / "logs").exists()


def test_save_model_refuses_only_names_that_resolve_to_bundled_weights(tmp_path, monkeypatch):
    from pathlib import Path

    from xlstsr.methods.torch_model import resolve_model
    from xlstsr.nn import ResCNN, load_model, save_model

    monkeypatch.chdir(tmp_path)
    model = ResCNN(4, channels=4, n_blocks=1)
    with pytest.raises(CheckpointError, match="bundled weights"):
        save_model(model, "unet")
    assert not (tmp_path / "unet").exists()
    # a path (./, a suffix, a Path) names the file written, and it is the one read back
    for path in ("./rescnn", "rescnn.pt", Path("fast")):
        written = save_model(model, path)
        _, resolved = resolve_model(str(path) if isinstance(path, str) else path)
        assert Path(resolved).resolve() == written.resolve()
        assert load_model(written).factor == 4


# -- 5. the best checkpoint when the starting weights were kept -----------------------------------

def test_train_says_the_out_file_holds_the_kept_starting_weights(tmp_path, capsys):
    from xlstsr.cli import main

    # pure noise with a huge learning rate: no epoch beats the starting (bicubic) weights
    make_lst(300 + np.random.default_rng(1).normal(0, 3, (64, 64)), units="K").rio.to_raster(
        tmp_path / "lst.tif")
    rc = main([str(a) for a in (
        "train", "--lst", tmp_path / "lst.tif", "--out", tmp_path / "m.pt", "--patch", "16",
        "--epochs", "1", "--lr", "5", "--seed", "0", "--save-checkpoints",
        "--log-dir", tmp_path / "logs")])
    out, err = capsys.readouterr()
    assert rc == 0, err
    # the premise: the best epoch's checkpoint holds other weights than the file written
    from xlstsr.nn import load_model
    from xlstsr.train import SuperResolutionModule

    (best,) = (tmp_path / "logs" / "checkpoints").glob("epoch=*.ckpt")
    kept = load_model(tmp_path / "m.pt").state_dict()
    epoch = SuperResolutionModule.load_from_checkpoint(best).model.state_dict()
    assert any(not torch.equal(kept[k], epoch[k]) for k in kept)
    assert "best checkpoint" not in out, out
    assert f"{tmp_path / 'm.pt'} holds the starting weights" in out, out
    assert f"not the best epoch's checkpoint {best}" in out, out


# -- a size-1 leading dim other than time keeps its label (probe 38s) --------------------------

@pytest.mark.parametrize("ext", ["nc", "zarr"])
def test_upscale_keeps_the_label_of_a_size_one_leading_dim(tmp_path, capsys, ext):
    import xlstsr

    lst = (xlstsr.datasets.modis_sample().isel(time=slice(0, 2))["lst_night"].load()
           .expand_dims(overpass=["night"], axis=1).rename("LST"))
    lst.to_dataset().to_netcdf(tmp_path / "in.nc")
    rc, err = run_cli(capsys, "upscale", tmp_path / "in.nc", tmp_path / f"out.{ext}",
                      "--method", "bicubic", "--quiet")
    assert rc == 0, err
    # before: squeezed with drop=True, the output no longer said it holds the night overpass
    with xr.open_dataset(tmp_path / f"out.{ext}", decode_coords="all",
                         **({"engine": "zarr", "consolidated": False} if ext == "zarr" else {})) as o:
        assert "overpass" in o.coords and str(o["overpass"].values) == "night"
        assert o["LST"].dims == ("time", "y", "x")
