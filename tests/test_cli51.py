"""Probe 51 (R1 2, 6, 7, 10, 12; R2 5; M 4): command-line advice, followed. ``xlstsr scaling``
judged a lazy field's blocks without the file's encoding (its own wrong scale tag was advised
the typed ``--scale``, refused as declared twice; a packed NetCDF's wrong scale went unjudged);
evaluate's typed reference fill dropped a packed reference's packing; the aggregate-first
advice dropped typed declarations its Python step never applied, reused an existing aggregate
name and wrote a dated series as undated bands; a swapped guide file got Python-only advice;
every bad tsharp/dms option got the hint about --model/--backend/--conserve."""

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr
from helpers import run_cli

BIN = Path(sys.executable).parent

X = 1e6 + 1000 * (np.arange(32) + 0.5)
Y = 5.5e6 - 1000 * (np.arange(32) + 0.5)


def _kelvin(seed: int = 0, shape: tuple[int, ...] = (32, 32)) -> np.ndarray:
    """A smooth ~308 K scene with detail (std ~2.4 K), float64."""
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(np.arange(shape[-2]), np.arange(shape[-1]), indexing="ij")
    base = 308 + 2 * np.sin(yy / 5.0) + 2 * np.cos(xx / 4.0)
    return base + rng.normal(0, 0.5, shape)


def _retag_code(err: str) -> tuple[str, Path]:
    """The rewrite-on-a-copy command of a refusal and the copy it says to give."""
    m = re.search(r"rewrite it on a copy: `(python -c [^`]*)`, then give (\S+?)\)", err)
    assert m is not None, err
    return m[1], Path(shlex.split(m[2])[0])


def _run_retag(err: str) -> Path:
    command, copy = _retag_code(err)
    args = shlex.split(command)
    subprocess.run([sys.executable, *args[1:]], check=True)
    return copy


# -- 1. xlstsr scaling: the file's own tags and packing judged on the lazy blocks ---------------

def _u16_tif(path: Path, scale: float, offset: float = 0.0) -> None:
    dn = np.round(_kelvin() / 0.02).astype("uint16")
    with rasterio.open(path, "w", driver="GTiff", height=32, width=32, count=1, dtype="uint16",
                       crs="EPSG:32633", nodata=0,
                       transform=rasterio.transform.from_origin(1e6, 5.5e6, 1000, 1000)) as f:
        f.write(dn, 1)
        f.scales = (scale,)
        f.offsets = (offset,)


def _packed_nc(path: Path, scale: float) -> None:
    dn = np.round(_kelvin() / 0.02).astype("uint16")
    da = xr.DataArray(dn, dims=("y", "x"), coords={"y": Y, "x": X}, name="lst")
    da.attrs = {"scale_factor": scale, "_FillValue": np.uint16(0)}
    da.rio.write_crs("EPSG:32633").to_netcdf(path)


@pytest.mark.parametrize("kind", ["tif_scale", "tif_offset", "nc_packed"])
def test_scaling_own_wrong_tag_advice_rewrites_the_file_and_runs(kind, tmp_path, capsys):
    path = tmp_path / ("lst.nc" if kind == "nc_packed" else "lst.tif")
    if kind == "tif_scale":
        _u16_tif(path, 0.002)
    elif kind == "tif_offset":
        _u16_tif(path, 0.02, 273.15)
    else:
        _packed_nc(path, 0.002)
    code, err = run_cli(capsys, "scaling", path, tmp_path / "s.csv")
    assert code == 2
    # (was the typed `--scale 0.02` / "drop --offset", refused as declared twice, or, packed,
    # only `--units degC`: a 100x wrong variance prefactor)
    assert "--scale 0.02" not in err and "drop --offset" not in err
    copy = _run_retag(err)
    code, err = run_cli(capsys, "scaling", copy, tmp_path / "s.csv")
    assert code == 0, err
    _u16_tif(tmp_path / "right.tif", 0.02)
    code, err = run_cli(capsys, "scaling", tmp_path / "right.tif", tmp_path / "r.csv")
    assert code == 0, err
    got, right = pd.read_csv(tmp_path / "s.csv"), pd.read_csv(tmp_path / "r.csv")
    assert got["within_block_prefactor"][0] == pytest.approx(
        right["within_block_prefactor"][0], rel=1e-4)  # (float32 decoding)


# -- 2. evaluate: a packed reference's typed fill keeps its packing judged ------------------------

def _sr_tif(path: Path, values: np.ndarray) -> None:
    da = xr.DataArray(values.astype("float32"), dims=("y", "x"), coords={"y": Y, "x": X},
                      attrs={"units": "K"})
    da.rio.write_crs("EPSG:32633").rio.to_raster(path)


def test_packed_reference_with_typed_fill_gets_its_own_scale_judged(tmp_path, capsys):
    truth = _kelvin(1)
    _sr_tif(tmp_path / "sr.tif", truth + np.random.default_rng(2).normal(0, 1, truth.shape))
    dn = np.round(truth / 0.02).astype("uint16")
    dn[:4, :4] = 0  # the fill, not declared in the file
    ref = xr.DataArray(dn, dims=("y", "x"), coords={"y": Y, "x": X}, name="LST",
                       attrs={"scale_factor": 0.002})  # MOD11A1's 0.02 mistyped
    ref.rio.write_crs("EPSG:32633").to_netcdf(tmp_path / "ref.nc")
    code, err = run_cli(capsys, "evaluate", tmp_path / "sr.tif", tmp_path / "ref.nc",
                        tmp_path / "e.csv", "--reference-nodata", "0")
    assert code == 2
    # (the packing was lost with the typed fill: only `--reference-units degC`, followed RMSE
    # about 10x off)
    copy = _run_retag(err)
    code, err = run_cli(capsys, "evaluate", tmp_path / "sr.tif", copy, tmp_path / "e.csv",
                        "--reference-nodata", "0")
    assert code == 0, err
    ref.attrs["scale_factor"] = 0.02
    ref.rio.write_crs("EPSG:32633").to_netcdf(tmp_path / "right.nc")
    code, err = run_cli(capsys, "evaluate", tmp_path / "sr.tif", tmp_path / "right.nc",
                        tmp_path / "r.csv", "--reference-nodata", "0")
    assert code == 0, err
    got, right = pd.read_csv(tmp_path / "e.csv"), pd.read_csv(tmp_path / "r.csv")
    assert got["rmse"][0] == pytest.approx(right["rmse"][0], rel=1e-6)
    assert right["rmse"][0] < 1.5


# -- 3, 4, 5. evaluate's aggregate-first advice, followed ----------------------------------------

X16 = 1e6 + 1000 * (np.arange(16) + 0.5)
Y16 = 5.5e6 - 1000 * (np.arange(16) + 0.5)
X64 = 1e6 + 250 * (np.arange(64) + 0.5)
Y64 = 5.5e6 - 250 * (np.arange(64) + 0.5)


def _fine_truth(seed: int = 3, steps: int = 0) -> np.ndarray:
    """A 250 m truth (64 x 64, or ``steps`` of them), Kelvin."""
    return _kelvin(seed, (steps, 64, 64) if steps else (64, 64))


def _coarse_of(truth: np.ndarray, k: int = 4) -> np.ndarray:
    return truth.reshape(*truth.shape[:-2], truth.shape[-2] // k, k, truth.shape[-1] // k,
                         k).mean(axis=(-3, -1))


def _follow_advice(err: str, cwd: Path) -> Path:
    """The advice's Python step, ``rio warp`` and dates step (where given) run as written in
    ``cwd``; the aggregate."""
    python = re.search(r"in Python, `([^`]*)`", err)
    if python is not None:
        subprocess.run([sys.executable, "-c", python[1]], cwd=cwd, check=True)
    command = shlex.split(re.search(r"`(rio warp [^`]*)`", err)[1])
    subprocess.run([str(BIN / "rio"), *command[1:]], cwd=cwd, check=True, capture_output=True)
    dates = re.search(r"undated bands are not sr's steps\), `(python -c [^`]*)`", err)
    if dates is not None:
        subprocess.run([sys.executable, *shlex.split(dates[1])[1:]], cwd=cwd, check=True)
    return cwd / command[3]


def _dropped(err: str) -> list[str]:
    """The flags the advice says to drop from "the same flags"."""
    m = re.search(r"with the same flags but (.*?)\.(?: |$)", err)
    return [] if m is None else re.findall(r"(--[\w-]+) \(", m[1])


def _tif(path: Path, values: np.ndarray, xs: np.ndarray, ys: np.ndarray, **tags) -> None:
    """``values`` (float Kelvin or stored numbers) written as a GeoTIFF on (ys, xs)."""
    res = xs[1] - xs[0]
    dtype = tags.pop("dtype", "float32")
    nodata = tags.pop("nodata", None)
    with rasterio.open(path, "w", driver="GTiff", height=len(ys), width=len(xs), count=1,
                       dtype=dtype, crs="EPSG:32633", nodata=nodata,
                       transform=rasterio.transform.from_origin(
                           xs[0] - res / 2, ys[0] + res / 2, res, res)) as f:
        f.write(values.astype(dtype), 1)
        if "scale" in tags:
            f.scales = (tags["scale"],)
        if "units" in tags:
            f.units = (tags["units"],)


needs_rio = pytest.mark.skipif(not (BIN / "rio").exists(),
                               reason="rasterio's rio command is not installed")


@needs_rio
def test_aggregate_advice_keeps_a_typed_offset_its_step_does_not_apply(
        tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    truth = _fine_truth()
    _tif(tmp_path / "sr.tif", _coarse_of(truth) + 0.3, X16, Y16, units="K")
    # degrees Celsius x 100 whose producer tagged the scale only: the offset typed
    stored = np.round((truth - 273.15) / 0.01)
    stored[:8, :8] = -32768
    _tif(tmp_path / "ref.tif", stored, X64, Y64, dtype="int16", nodata=-32768, scale=0.01)
    code, err = run_cli(capsys, "evaluate", "sr.tif", "ref.tif", "e.csv",
                        "--reference-offset", "273.15")
    assert code == 0, err
    # (was told to drop it "(decoded now)": the followed run read degrees Celsius, refused)
    assert "--reference-offset" not in _dropped(err)
    aggregate = _follow_advice(err, tmp_path)
    code, err = run_cli(capsys, "evaluate", "sr.tif", aggregate.name, "f.csv",
                        "--reference-offset", "273.15")
    assert code == 0, err
    # as the truth in Kelvin, its fill masked, aggregated alike
    kelvin = np.where(stored == -32768, np.nan, truth)
    _tif(tmp_path / "careful.tif", kelvin, X64, Y64, nodata=np.nan, units="K")
    subprocess.run([str(BIN / "rio"), "warp", "careful.tif", "careful_on_sr.tif", "--like",
                    "sr.tif", "--resampling", "average"], check=True, capture_output=True)
    code, err = run_cli(capsys, "evaluate", "sr.tif", "careful_on_sr.tif", "c.csv")
    assert code == 0, err
    got, careful = pd.read_csv("f.csv")["rmse"][0], pd.read_csv("c.csv")["rmse"][0]
    assert got == pytest.approx(careful, abs=1e-4)


@needs_rio
def test_aggregate_advice_followed_again_writes_a_new_aggregate(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    truth = _fine_truth()
    _tif(tmp_path / "sr.tif", _coarse_of(truth), X16, Y16, units="K")
    x8, y8 = 1e6 + 2000 * (np.arange(8) + 0.5), 5.5e6 - 2000 * (np.arange(8) + 0.5)
    _tif(tmp_path / "sr2.tif", _coarse_of(truth, 8), x8, y8, units="K")
    stored = np.round(truth / 0.02).astype("uint16")
    _tif(tmp_path / "ref.tif", stored, X64, Y64, dtype="uint16", nodata=0, scale=0.02)
    shapes = []
    for sr in ("sr.tif", "sr2.tif"):
        code, err = run_cli(capsys, "evaluate", sr, "ref.tif", f"{sr}.csv")
        assert code == 0, err
        # (the second rio warp refused to overwrite the first aggregate, which the advice
        # then named as the file to pass, on the first sr's grid)
        aggregate = _follow_advice(err, tmp_path)
        with rasterio.open(aggregate) as f:
            shapes.append((aggregate.name, f.shape))
        code, err = run_cli(capsys, "evaluate", sr, aggregate.name, f"{sr}_agg.csv")
        assert code == 0, err
    assert shapes[0][0] != shapes[1][0]
    assert [s for _, s in shapes] == [(16, 16), (8, 8)]


@needs_rio
def test_aggregate_advice_of_a_dated_series_keeps_its_dates(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    time = np.array(["2020-07-27", "2020-07-28"], "datetime64[ns]")
    truth = _fine_truth(steps=2)
    sr = xr.DataArray((_coarse_of(truth) + 0.2).astype("float32"), dims=("time", "y", "x"),
                      coords={"time": time, "y": Y16, "x": X16}, name="lst",
                      attrs={"units": "K"}).rio.write_crs("EPSG:32633")
    sr.to_netcdf(tmp_path / "sr.nc")
    sr.isel(time=0, drop=True).rio.to_raster(tmp_path / "SR.tif")  # the advice's placeholder
    # packed uint16 x 0.02 (the advice's Python step decodes it)
    ref = xr.DataArray(np.round(truth / 0.02) * 0.02, dims=("time", "y", "x"),
                       coords={"time": time, "y": Y64, "x": X64}, name="LST",
                       attrs={"units": "K"}).rio.write_crs("EPSG:32633")
    ref.encoding = {"scale_factor": 0.02, "dtype": "uint16", "_FillValue": 0}
    ref.to_netcdf(tmp_path / "ref.nc")
    code, err = run_cli(capsys, "evaluate", "sr.nc", "ref.nc", "e.csv")
    assert code == 0, err
    aggregate = _follow_advice(err, tmp_path)
    with rasterio.open(aggregate) as f:
        assert f.descriptions == ("2020-07-27", "2020-07-28")
    # (undated bands: refused as "a dim 'band' (2 steps) that the super-resolved field lacks")
    code, err = run_cli(capsys, "evaluate", "sr.nc", aggregate.name, "f.csv")
    assert code == 0, err
    scores = pd.read_csv("f.csv")
    assert len(scores) == 2
    np.testing.assert_allclose(scores["rmse"], 0.2, atol=0.02)


# -- 6 (R2/5). upscale --guide with its bands in another order than the model's ------------------

@pytest.mark.filterwarnings("ignore")
def test_swapped_guide_file_gets_a_command_line_reorder_that_runs(tmp_path, capsys):
    import rioxarray
    import torch
    from test_guide50 import described_guides

    import xlstsr
    from xlstsr.train import fit_cube

    torch.manual_seed(0)
    s, paths = described_guides(tmp_path)
    lst = s["lst_1km"]
    model, _ = fit_cube(lst, guide=rioxarray.open_rasterio(paths["right"]), mode="degraded_disr",
                        factor=4, patch=16, window=32, epochs=1, batch_size=4,
                        trainer_options={"logger": False, "enable_checkpointing": False,
                                         "enable_progress_bar": False})
    xlstsr.nn.save_model(model, tmp_path / "m.pt")
    lst.isel(y=slice(0, 8), x=slice(0, 8)).to_netcdf(tmp_path / "lst.nc")
    run = ("upscale", tmp_path / "lst.nc", None, "--factor", "4", "--method", "disr",
           "--model", tmp_path / "m.pt", "--guide")
    code, err = run_cli(capsys, *run[:2], tmp_path / "a.nc", *run[3:], paths["swapped"])
    assert code == 2
    # (Python's `guide = guide.isel(band=[1, 0])` only)
    command = re.search(r"to a new file, `(python -c [^`]*)`, then give --guide (\S+)\.", err)
    assert command is not None, err
    subprocess.run([sys.executable, *shlex.split(command[1])[1:]], check=True)
    reordered = shlex.split(command[2])[0]
    with rasterio.open(reordered) as f:
        assert f.descriptions == ("NDVI", "red")
    code, err = run_cli(capsys, *run[:2], tmp_path / "b.nc", *run[3:], reordered)
    assert code == 0, err
    code, err = run_cli(capsys, *run[:2], tmp_path / "c.nc", *run[3:], paths["right"])
    assert code == 0, err
    got, right = (xr.open_dataset(tmp_path / n) for n in ("b.nc", "c.nc"))
    xr.testing.assert_equal(got, right)


# -- 7 (M/3). a sharpener's own option refusals, without the deep methods' flag hint --------------

_DEEP_HINT = "--model and --backend are options of the deep methods"


@pytest.mark.parametrize(("argv", "hint"), [
    (("--method", "tsharp", "--method-option", "gain=2"), False),
    (("--method", "dms", "--method-option", "features=std"), False),
    (("--method", "dms", "--method-option", "window=-1"), False),
    (("--method", "tsharp", "--conserve", "--method-option", "gain=2"), False),
    (("--method", "bicubic", "--conserve"), True),
    (("--method", "tsharp", "--method-option", "backend=torch"), True),
])
def test_method_option_refusal_hints_deep_flags_only_where_they_are_at_fault(
        argv, hint, tmp_path, capsys):
    _u16_tif(tmp_path / "lst.tif", 0.02)
    code, err = run_cli(capsys, "upscale", tmp_path / "lst.tif", tmp_path / "o.nc",
                        "--factor", "2", *argv)
    assert code == 2
    assert (_DEEP_HINT in err) is hint, err


@pytest.mark.parametrize("name", ["g{1}.tif", "g{x}.nc"])
def test_guide_reorder_hint_takes_braces_in_the_path(tmp_path, name):
    """(review 51d/1) the path was inside a string given to str.format: a guide named with
    braces crashed the CLI (ValueError / KeyError) where the plain refusal was given before."""
    from xlstsr.cli import _guide_reorder_hint

    path = str(tmp_path / "my dir" / name)
    message = ("guide bands swapped; reorder them into the model's order (channels 1, 0): "
               "`guide = guide.isel(band=[1, 0])`.")
    out = _guide_reorder_hint(message, {"--guide": path})
    command = re.search(r"`(python -c [^`]*)`", out)[1]
    assert json.dumps(path) in shlex.split(command)[2]


def test_scaling_one_bad_step_of_a_chunked_file_gets_no_file_wide_rewrite(tmp_path, capsys):
    """(review 51d/2) each lazy block carried the file's path: a block of one bad step got a
    rewrite of the file's scale_factor, which, followed, read the good steps 3000 K."""
    from test_validate51 import one_bad_step_cube

    cube = xr.open_dataset(one_bad_step_cube(tmp_path), decode_cf=False)
    cube["lst"].encoding["chunksizes"] = (1, 64, 64)  # (the CLI reads a file in its chunks)
    src = tmp_path / "chunked.nc"
    cube.to_netcdf(src)
    code, err = run_cli(capsys, "scaling", src, tmp_path / "t.csv")
    assert code == 2 and "outside the physical range" in err, err
    assert "_retagged" not in err and "python -c" not in err, err
