"""Session 50 fixes (probe 50 R2 findings 2-4, probe 50 K finding 9): a guide read with
rioxarray's ``band_as_variable=True`` or ``xr.open_dataset(engine="rasterio")`` is labelled by
its bands' descriptions (swapped red/NDVI bands ran silently); calibrate_detail_gain takes the
sr its own step advice selects (a 1-step lead dim beside a one-date truth); ``xlstsr train``
with an (overpass, time) LST beside an undated multi-band GeoTIFF truth gets command-line
advice that runs; fit_cube documents guide_time_tolerance."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr.correction import calibrate_detail_gain
from xlstsr.errors import GridError, GuideScaleError
from xlstsr.guide import band_reorder_code, check_guide_labels, guide_labels, prepare_guide

rasterio = pytest.importorskip("rasterio")
rioxarray = pytest.importorskip("rioxarray")


def _codes(msg: str) -> list[str]:
    return re.findall(r"`([^`]+)`", msg)


# -- R2/4: band descriptions of the rasterio readers' Datasets ---------------------------------

def saved_guided_model(lst, guide_path, tmp_path):
    """The path of a one-epoch guided DISR model trained on ``lst`` beside the guide file
    ``guide_path`` read with rioxarray (its band descriptions recorded as the channels)."""
    from xlstsr.train import fit_cube

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, _ = fit_cube(lst, guide=rioxarray.open_rasterio(guide_path),
                            mode="degraded_disr", factor=4, patch=16, window=32, epochs=1,
                            batch_size=4, trainer_options={"logger": False,
                                                           "enable_checkpointing": False,
                                                           "enable_progress_bar": False})
    xlstsr.nn.save_model(model, tmp_path / "m.pt")
    return tmp_path / "m.pt"


def described_guides(tmp):
    """The sample scene, and a described (NDVI, red) GeoTIFF guide and the same bands swapped,
    described (red, NDVI), written in ``tmp``: their paths by 'right' / 'swapped'."""
    s = xlstsr.datasets.sample_scene(n_times=2, size=128)
    ndvi = s["ndvi_250m"]
    ndvi = ndvi.isel(time=0, drop=True) if "time" in ndvi.dims else ndvi
    red = (0.3 - 0.25 * ndvi).astype("float32")
    paths = {}
    for name, bands, said in (("right", [ndvi, red], ("NDVI", "red")),
                              ("swapped", [red, ndvi], ("red", "NDVI"))):
        g = xr.concat(bands, "band").assign_coords(band=[1, 2])
        g.attrs = {}
        paths[name] = str(tmp / f"{name}.tif")
        g.rio.to_raster(paths[name])
        with rasterio.open(paths[name], "r+") as f:
            f.descriptions = said
    return s, paths


@pytest.fixture(scope="module")
def guide_files(tmp_path_factory):
    """A described (NDVI, red) GeoTIFF guide and the same bands swapped, described (red, NDVI),
    beside the sample scene's LST."""
    s, paths = described_guides(tmp_path_factory.mktemp("guide50"))
    return s["lst_1km"], paths


def _readers():
    return {
        "band_as_variable": lambda p: rioxarray.open_rasterio(p, band_as_variable=True),
        "engine_rasterio": lambda p: xr.open_dataset(p, engine="rasterio"),
    }


def _check_as_upscale(guide, names=("ndvi", "red")):
    """upscale's label check, as upscale calls it."""
    check_guide_labels(guide_labels(guide), list(names), "disr",
                       reorder=band_reorder_code(guide, ("time",)))


@pytest.mark.parametrize("reader", ["band_as_variable", "engine_rasterio"])
def test_swapped_described_bands_are_refused_and_the_advice_runs(guide_files, reader):
    lst, paths = guide_files
    swapped = _readers()[reader](paths["swapped"])
    with pytest.raises(GuideScaleError) as err:  # passed silently before
        _check_as_upscale(swapped)
    msg = str(err.value)
    assert "labelled ['red', 'NDVI']" in msg, msg
    ns = {"guide": swapped}
    exec(_codes(msg)[-1], ns)
    _check_as_upscale(ns["guide"])  # the advice followed: accepted
    # ... and gives the bands of the right-order file, channel for channel
    right = prepare_guide(rioxarray.open_rasterio(paths["right"]), lst, 4, ("time",))
    got = prepare_guide(ns["guide"], lst, 4, ("time",))
    np.testing.assert_array_equal(got, right)
    # the right-order file read alike passes
    _check_as_upscale(_readers()[reader](paths["right"]))


def test_keys_that_name_a_quantity_keep_precedence(guide_files):
    _, paths = guide_files
    ds = rioxarray.open_rasterio(paths["swapped"], band_as_variable=True)
    keyed = {"ndvi": ds["band_2"], "red": ds["band_1"]}
    assert guide_labels(keyed) == ["ndvi", "red"]
    _check_as_upscale(keyed)
    # a key naming a quantity is not overridden by a description naming another
    named = {"ndvi": ds["band_1"].rename("ndvi"), "red": ds["band_2"]}  # long_name red / NDVI
    _check_as_upscale(named)
    # the labels stay the keys (advice selects by them)
    assert guide_labels(ds) == ["band_1", "band_2"]
    assert guide_labels(ds).described == ["red", "NDVI"]
    # undescribed band_N keys label nothing new
    bare = {"band_1": ds["band_1"].copy(), "band_2": ds["band_2"].copy()}
    for v in bare.values():
        v.attrs.pop("long_name")
    assert guide_labels(bare).described is None
    _check_as_upscale(bare)


@pytest.mark.filterwarnings("ignore")
def test_upscale_refuses_the_swapped_band_as_variable_guide(guide_files, tmp_path):
    lst, paths = guide_files
    m = xlstsr.nn.load_model(saved_guided_model(lst, paths["right"], tmp_path))
    lst16 = lst.isel(y=slice(0, 8), x=slice(0, 8))
    for reader in _readers().values():
        with pytest.raises(GuideScaleError, match="labelled"):  # ran silently (307.2 K)
            xlstsr.upscale(lst16, 4, method="disr", guide=reader(paths["swapped"]), model=m)
        xlstsr.upscale(lst16, 4, method="disr", guide=reader(paths["right"]), model=m)


# -- R2/2: calibrate_detail_gain takes the sr its step advice selects ----------------------------

def _half_detail_truth(sr, lst):
    from xlstsr.kernels.correction import split_detail

    out = sr.copy()
    flat_s = sr.values.reshape(-1, *sr.shape[-2:])
    flat_c = lst.values.reshape(-1, *lst.shape[-2:])
    parts = [split_detail(s, c, 4) for s, c in zip(flat_s, flat_c)]
    out.values = np.stack([b + m + 0.5 * d for b, m, d in parts]).reshape(sr.shape)
    return out


def test_calibrate_detail_gain_step_advice_runs_when_followed():
    s = xlstsr.datasets.sample_scene(n_times=2, size=64)
    lst = s["lst_1km"]
    sr = xlstsr.upscale(lst, 4, "dms", guide=s["ndvi_250m"])
    truth = _half_detail_truth(sr, lst).isel(time=1)  # one date: a scalar time
    with pytest.raises(GridError) as err:
        calibrate_detail_gain(sr, lst, truth, 4)
    code = [c for c in _codes(str(err.value)) if c.startswith("sr.sel(")]
    assert code, str(err.value)
    followed = eval(code[0], {"sr": sr, "truth": truth})
    gain = calibrate_detail_gain(followed, lst, truth, 4)  # refused before: "output grid"
    assert gain == calibrate_detail_gain(sr.isel(time=1), lst.isel(time=1), truth, 4)
    assert abs(gain - 0.5) < 0.05


def test_calibrate_detail_gain_overpass_advice_runs_when_followed():
    s = xlstsr.datasets.sample_scene(n_times=2, size=64)
    ov = xr.DataArray(["day", "night"], dims="overpass")
    lst = xr.concat([s["lst_1km"], s["lst_1km"] - 8.0], ov)
    sr = xlstsr.upscale(lst, 4, "dms", guide=s["ndvi_250m"])
    truth = _half_detail_truth(sr, lst).sel(overpass="night")
    with pytest.raises(GridError) as err:
        calibrate_detail_gain(sr, lst, truth, 4)
    code = [c for c in _codes(str(err.value)) if c.startswith("sr.sel(")]
    followed = eval(code[0], {"sr": sr, "truth": truth})
    gain = calibrate_detail_gain(followed, lst, truth, 4)
    assert gain == calibrate_detail_gain(sr.sel(overpass="night"), lst.sel(overpass="night"),
                                         truth, 4)


def test_calibrate_detail_gain_other_images_are_refused_as_such():
    rng = np.random.default_rng(0)
    sr, truth = 300 + rng.standard_normal((2, 32, 32)), 300 + rng.standard_normal((3, 32, 32))
    lst = sr.reshape(2, 8, 4, 8, 4).mean((2, 4))
    with pytest.raises(GridError, match="hold other images"):
        calibrate_detail_gain(sr, lst, truth, 4)


# -- R2/3: an (overpass, time) LST beside an undated multi-band GeoTIFF truth ---------------------

@pytest.mark.filterwarnings("ignore:training did not improve")
def test_overpass_time_lst_with_undated_truth_gets_command_line_advice(tmp_path, capsys):
    from xlstsr.cli import main

    day = xlstsr.datasets.modis_sample()["lst_day"].isel(time=[0, 1, 5, 7]).load()
    day = day.drop_vars("composite_start", errors="ignore")
    night = (day - 8.0).assign_attrs(day.attrs)  # 8 K colder
    ov = xr.DataArray(["day", "night"], dims="overpass")
    fine = xr.concat([day, night], ov)  # (overpass, time, y, x)
    xlstsr.coarsen(fine, 4).to_netcdf(tmp_path / "coarse.nc")
    bands = fine.stack(band=("overpass", "time")).transpose("band", "y", "x")
    bands = bands.drop_vars(["band", "overpass", "time"]).assign_coords(band=np.arange(1, 9))
    bands = bands.rename("truth")
    bands.attrs = {"units": "K"}  # no name of one overpass ('daytime LST')
    bands.rio.to_raster(tmp_path / "truth.tif")

    def train(truth, out):
        return main(["train", "--mode", "supervised", "--lst", str(tmp_path / "coarse.nc"),
                     "--truth", str(truth), "--out", str(tmp_path / out), "--patch", "16",
                     "--epochs", "1", "--batch-size", "8", "--log-dir", str(tmp_path / "logs")])

    assert train(tmp_path / "truth.tif", "m.pt") == 2
    err = capsys.readouterr().err
    assert "swap_dims" not in err and "assign_coords(overpass=" not in err  # Python only
    assert "8 bands and no dates or overpasses" in err, err
    command = shlex.split(re.search(r"`(python -c [^`]*)`", err)[1])
    subprocess.run([sys.executable, *command[1:]], cwd=tmp_path, check=True)
    written = xr.open_dataset(tmp_path / "truth_steps.nc", mask_and_scale=False)["truth"]
    # band 6 is (night, the second date), as the advice says the bands are read (as stored)
    np.testing.assert_array_equal(
        written.sel(overpass="night").isel(time=1).transpose("y", "x").values,
        rioxarray.open_rasterio(tmp_path / "truth.tif").sel(band=6).values)
    assert f"--truth {tmp_path / 'truth_steps.nc'}" in err
    assert train(tmp_path / "truth_steps.nc", "m.pt") == 0
    assert (tmp_path / "m.pt").exists()


# -- K/9: fit_cube's Parameters ------------------------------------------------------------------

def test_fit_cube_documents_guide_time_tolerance():
    docscrape = pytest.importorskip("numpydoc.docscrape")
    from xlstsr.train import fit_cube

    doc = docscrape.FunctionDoc(fit_cube)
    names = {n.strip() for p in doc["Parameters"] for n in p.name.split(",")}
    assert "guide_time_tolerance" in names
