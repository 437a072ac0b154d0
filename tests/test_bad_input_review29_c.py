"""Review 29c: regressions and gaps of session 29's input handling (GeoTIFF band descriptions,
NetCDF group variables, Landsat and Celsius decoding advice, Level-1 scenes at the CLI)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine
from helpers import make_lst, run_cli

import xlstsr
from xlstsr import errors
from xlstsr.io import open_cog

ST_MULT, ST_ADD = 0.00341802, 149.0
L1 = Path("/work/shared/data/landsat8_gulf_l1")


def _stack(path: Path, descriptions: tuple[str, ...], values: np.ndarray | None = None,
           res: float = 1000.0) -> Path:
    n = len(descriptions)
    if values is None:
        values = 300 + np.random.default_rng(0).standard_normal((n, 8, 8))
    with rasterio.open(path, "w", driver="GTiff", height=values.shape[1], width=values.shape[2],
                       count=n, dtype="float32", crs="EPSG:32631",
                       transform=Affine(res, 0, 4e5, 0, -res, 5e5)) as f:
        f.write(values.astype("float32"))
        f.descriptions = descriptions
    return path


# -- 1. times= on a file whose band descriptions date its bands -----------------------------------

def test_times_label_bands_dated_by_their_descriptions(tmp_path):
    """open_cog(path, times=[3]) on an Earth Engine stack whose descriptions hold dates was
    refused as '3 times for one file of 1 band(s)' (the bands had become time already)."""
    p = _stack(tmp_path / "stack.tif", ("LST_Day_1km_2020_07_01", "LST_Day_1km_2020_07_02",
                                        "LST_Day_1km_2020_07_03"))
    times = ["2020-07-01T10:30", "2020-07-02T10:30", "2020-07-03T10:30"]
    da = open_cog(p, times=times)
    assert da.sizes["time"] == 3
    assert list(da["time"].values) == list(np.array(times, "datetime64[ns]"))
    with pytest.raises(errors.XlstsrError, match="2 times for one file of 3 band"):
        open_cog(p, times=times[:2])


# -- 8. a time of day in the descriptions ---------------------------------------------------------

def test_described_time_of_day_is_kept(tmp_path):
    """'LST_2023-07-08T20:15:00Z' became midnight: the overpass hour dropped (20 h off)."""
    names = ("LST_2023-07-08T20:15:00Z", "LST_2023-07-10T03:40:00Z")
    da = open_cog(_stack(tmp_path / "over.tif", names))
    assert list(da["time"].values) == list(np.array(["2023-07-08T20:15", "2023-07-10T03:40"],
                                                    "datetime64[ns]"))
    # a time of day that does not read (hour 25): the bands stay bands
    bad = open_cog(_stack(tmp_path / "bad.tif", ("LST_2023-07-08T25:00", "LST_2023-07-09T25:00")))
    assert "band" in bad.dims and "time" not in bad.dims


# -- 2. a guide's band descriptions label its channels --------------------------------------------

def test_guide_bands_described_alike_no_warning(tmp_path):
    """A guide GeoTIFF described 'NDVI', 'albedo' beside a 2-step LST was warned 'labelled alike
    ... give each band its own long_name' (open_cog moves descriptions to a coordinate)."""
    n = 32
    yy, xx = np.mgrid[:n, :n]
    vals = np.stack([0.3 + 0.2 * np.sin(xx / 5), 0.15 + 0.05 * np.cos(yy / 4)])
    g = open_cog(_stack(tmp_path / "guide.tif", ("NDVI", "albedo"), vals, res=250.0))
    assert xlstsr.guide.guide_labels(g) == ["NDVI", "albedo"]
    lst = make_lst(300 + 5 * np.sin(np.arange(2)[:, None, None] + xx[::4, ::4] / 2.0),
                   units="K").assign_coords(
        time=np.array(["2020-07-01", "2020-07-02"], "datetime64[ns]"))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        xlstsr.upscale(lst, 4, method="dms", guide=g).compute()
    assert not [x for x in w if "labelled alike" in str(x.message)]


# -- 3 and 6. NetCDF group variables --------------------------------------------------------------

@pytest.fixture
def granule(tmp_path) -> Path:
    p = tmp_path / "granule.nc"
    lst = make_lst(300 + np.random.default_rng(0).standard_normal((3, 16, 16)),
                   units="K").assign_coords(
        time=np.array(["2020-07-01", "2020-07-02", "2020-07-03"], "datetime64[ns]")).rename("LST")
    xr.Dataset(attrs={"title": "root"}).to_netcdf(p, mode="w")
    lst.astype("float32").to_dataset().to_netcdf(p, mode="a", group="SDS")
    return p


def test_group_variable_to_upscale_to_zarr_and_fit_files(granule, tmp_path):
    """upscale_to_zarr(path, variable='SDS/LST') and `train --variable SDS/LST` were refused
    with advice to pass exactly that (the file opened without the variable)."""
    out = xlstsr.upscale_to_zarr(granule, tmp_path / "out.zarr", factor=2, variable="SDS/LST",
                                 progress=False)
    assert out.sizes["time"] == 3
    from xlstsr.io.formats import open_with_variable

    with pytest.raises(errors.VariableNotFoundError, match=r"SDS/LST"):
        open_with_variable(granule, "SDS/lst")


def test_cli_train_group_variable(granule, tmp_path, capsys):
    code, err = run_cli(capsys, "train", "--lst", granule, "--variable", "SDS/LST", "--out",
                        tmp_path / "m.pt", "--mode", "sisr", "--factor", "2", "--patch", "8",
                        "--epochs", "1")
    assert code == 0, err
    assert (tmp_path / "m.pt").exists()


def test_cli_group_variable_wrong_case_advice_works(granule, tmp_path, capsys):
    """`--variable SDS/lst` was told `--variable LST`, which looks at the empty root."""
    code, err = run_cli(capsys, "upscale", granule, tmp_path / "sr.tif", "--quiet",
                        "--variable", "SDS/lst")
    assert code == 2
    advice = re.findall(r"e\.g\. --variable ([^)\s]+)\)", err)
    assert advice, err
    code, err = run_cli(capsys, "upscale", granule, tmp_path / "sr.tif", "--quiet",
                        "--variable", advice[0])
    assert code == 0, err


# -- 4. Landsat's scale without its offset: the role's own flags ----------------------------------

def _kelvin(n: int = 32, mean: float = 315.0) -> np.ndarray:
    return mean + 2.0 * np.random.default_rng(0).standard_normal((n, n))


def test_landsat_scale_without_offset_names_the_roles_flags(tmp_path, capsys):
    k = _kelvin()
    kc = k.reshape(8, 4, 8, 4).mean(axis=(1, 3))
    make_lst(k.astype("float32"), 250, units="K").rio.to_raster(tmp_path / "ref.tif")
    make_lst((k + 0.1).astype("float32"), 250, units="K").rio.to_raster(tmp_path / "sr.tif")
    make_lst(np.round((kc - ST_ADD) / ST_MULT).astype("uint16"), 1000).rio.to_raster(
        tmp_path / "coarse_dn.tif")
    code, err = run_cli(capsys, "evaluate", tmp_path / "sr.tif", tmp_path / "ref.tif",
                        tmp_path / "s.csv", "--factor", "4", "--coarse",
                        tmp_path / "coarse_dn.tif", "--coarse-scale", str(ST_MULT))
    assert code == 2
    assert "--coarse-offset 149" in err and "--coarse-nodata 0" in err, err
    # the truth's: decode_lst of a "truth" names --truth-*
    truth = make_lst(np.round((k - ST_ADD) / ST_MULT).astype("uint16"), scale_factor=ST_MULT)
    with pytest.raises(errors.PhysicalRangeError) as e:
        xlstsr.validate.decode_lst(truth, what="truth")
    assert "--truth-scale" in str(e.value) and "--truth-offset 149" in str(e.value)


# -- 5. Landsat digital numbers undeclared: the command line's form -------------------------------

@pytest.mark.parametrize("command", ["upscale", "scaling"])
def test_landsat_dn_hint_names_the_offset_flag(tmp_path, capsys, command):
    dn = np.round((_kelvin() - ST_ADD) / ST_MULT).astype("uint16")
    make_lst(dn).rio.to_raster(tmp_path / "lst_clip.tif")
    out = tmp_path / ("sr.tif" if command == "upscale" else "fits.csv")
    code, err = run_cli(capsys, command, tmp_path / "lst_clip.tif", out,
                        *(["--quiet"] if command == "upscale" else []))
    assert code == 2
    flags = re.search(r"`(--scale [\d.]+ --offset [\d.]+ --nodata 0)`", err)
    assert flags, err
    code, err = run_cli(capsys, "upscale", tmp_path / "lst_clip.tif", tmp_path / "sr2.tif",
                        "--quiet", *flags.group(1).split())
    assert code == 0, err


# -- 7. degC x 100 of a cool scene: the plausible scale only --------------------------------------

def _celsius_advice(kelvin: np.ndarray, mult: float) -> str:
    stored = np.round((kelvin - 273.15) * mult).astype("int16")
    with pytest.raises(errors.XlstsrError) as err:
        xlstsr.upscale(make_lst(stored, units="degC"), 4)
    return str(err.value)


def _following(kelvin: np.ndarray, mult: float, k: float) -> float:
    stored = np.round((kelvin - 273.15) * mult).astype("int16")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(xlstsr.upscale(make_lst(stored, units="degC", scale_factor=k), 4).mean())


@pytest.mark.parametrize("mean", [279.0, 268.0])
def test_celsius_x100_cool_scene_offers_the_plausible_scale(mean):
    """degC x 100 of a 279 K scene was offered degC x 10 first (331.7 K once followed); one of
    268 K got no scale advice at all."""
    k = _kelvin(16, mean)
    msg = _celsius_advice(k, 100)
    offered = [float(v) for v in re.findall(r"scale_factor=([\d.]+)", msg)]
    assert offered == [0.01], msg
    assert _following(k, 100, offered[0]) == pytest.approx(float(k.mean()), abs=0.1)


def test_celsius_ambiguous_scales_are_said_so():
    """A 320 K scene stored degC x 10 (468): x 0.1 and x 0.01 both give a land surface; it got
    no advice, and now both with the ambiguity said, the scene's own scale among them."""
    k = _kelvin(16, 320.0)
    msg = _celsius_advice(k, 10)
    assert "ambiguous" in msg, msg
    offered = [float(v) for v in re.findall(r"scale_factor=([\d.]+)", msg)]
    assert 0.1 in offered
    assert _following(k, 10, 0.1) == pytest.approx(float(k.mean()), abs=0.1)


# -- 9. a Level-1 MTL given to upscale ------------------------------------------------------------

@pytest.mark.skipif(not L1.is_dir(), reason="needs /work/shared/data/landsat8_gulf_l1")
@pytest.mark.parametrize("which", ["l8_MTL.txt", ""])
def test_level1_mtl_is_told_its_reader(tmp_path, capsys, which):
    """A Level-1 MTL (DATA_TYPE L1T) was routed to the Level-2 reader: 'download
    l8_ST_B10.TIF, l8_QA_PIXEL.TIF', which an L1 scene has not."""
    code, err = run_cli(capsys, "upscale", L1 / which if which else L1, tmp_path / "sr.tif",
                        "--quiet")
    assert code == 2
    assert "Level-1" in err and "open_landsat8_l1" in err, err
    assert "ST_B10" not in err and "QA_PIXEL" not in err, err


def test_level1_mtl_synthetic(tmp_path, capsys):
    """The same for a Collection 2 Level-1 MTL (PROCESSING_LEVEL L1TP), no data needed."""
    (tmp_path / "LC08_L1TP_x_MTL.txt").write_text(
        'GROUP = LANDSAT_METADATA_FILE\n  GROUP = PRODUCT_CONTENTS\n'
        '    PROCESSING_LEVEL = "L1TP"\n  END_GROUP = PRODUCT_CONTENTS\n'
        'END_GROUP = LANDSAT_METADATA_FILE\nEND\n')
    code, err = run_cli(capsys, "upscale", tmp_path / "LC08_L1TP_x_MTL.txt",
                        tmp_path / "sr.tif", "--quiet")
    assert code == 2 and "Level-1" in err and "PROCESSING_LEVEL L1TP" in err, err
