"""Round 24 of bad inputs, the command line.

Found: a one-step guide (.nc/.zarr with a ``time`` dim of length 1) lost its date to
``squeeze(drop=True)`` and was applied to LST of any date (exit 0, --guide-time-tolerance
ignored); several ``--reference-mask`` layers were combined by array position (a south-up mask
applied upside down); ``--overwrite`` let the scores table replace a --reference-mask file;
``evaluate --coarse`` could not be declared (no --coarse-units/--coarse-nodata/--coarse-scale);
the "On the command line" hint repeated the value the message rejected; a .tif output's
transform was rebuilt from its labels (1e-12 m off: read-back labels ~1e-9 m off); ``--factor
1``, ``--lags 0`` and ``--factors`` without 1 were refused naming no flag.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from helpers import run_cli

import xlstsr
from xlstsr.cli import _cli_hints, build_parser
from xlstsr.io import open_cog


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A two-day synthetic LST cube (1 km), its 250 m truth and NDVI, and an sr made from it."""
    d = tmp_path_factory.mktemp("cli24")
    s = xlstsr.datasets.sample_scene(n_times=2, size=64, cloud_fraction=0)
    s["lst_1km"].rename("LST").to_dataset().to_netcdf(d / "lst.nc")
    s["lst_1km"].isel(time=0).rio.to_raster(d / "lst.tif")
    s["lst_250m"].isel(time=0).rio.to_raster(d / "truth.tif")
    s["ndvi_250m"].rio.to_raster(d / "ndvi.tif")
    assert xlstsr.cli.main(["upscale", str(d / "lst.tif"), str(d / "sr.tif"), "--quiet"]) == 0
    return d, s


# -- a one-step guide keeps its date --------------------------------------------------------------


def _one_step_guide(scene, folder, date):
    _, s = scene
    path = folder / f"ndvi_{date}.nc"
    s["ndvi_250m"].expand_dims(time=pd.to_datetime([date])).rename("NDVI").to_dataset() \
        .to_netcdf(path)
    return path


@pytest.mark.parametrize("command", ["upscale", "scaling"])
def test_a_one_step_guide_is_matched_by_its_date(scene, tmp_path, capsys, command):
    d, _ = scene
    january = _one_step_guide(scene, tmp_path, "2020-01-01")  # the LST is of 2020-07-01/02
    out = tmp_path / ("o.nc" if command == "upscale" else "o.csv")
    method = ["--method", "tsharp", "--quiet"] if command == "upscale" else []
    # before: exit 0, the January guide applied to July without a word (tolerance ignored)
    for extra in ([], ["--guide-time-tolerance", "16D"]):
        code, err = run_cli(capsys, command, d / "lst.nc", out, *method, "--guide", january,
                            *extra)
        assert code == 2 and "2020-01-01" in err and not out.exists()
    # a tolerance that reaches the guide's date: used for both days
    june = _one_step_guide(scene, tmp_path, "2020-06-25")
    code, err = run_cli(capsys, command, d / "lst.nc", out, *method, "--guide", june,
                        "--guide-time-tolerance", "16D")
    assert code == 0, err


def test_a_guide_without_a_date_is_used_for_every_step(scene, tmp_path, capsys):
    d, _ = scene  # a GeoTIFF guide (one band, no date): squeezed as before
    code, err = run_cli(capsys, "upscale", d / "lst.nc", tmp_path / "o.nc", "--method", "tsharp",
                        "--guide", d / "ndvi.tif", "--quiet")
    assert code == 0, err
    assert xr.open_dataset(tmp_path / "o.nc")["LST"].sizes["time"] == 2


# -- reference masks: by coordinates, never overwritten -------------------------------------------


def _masks(scene, d):
    """A cloud mask (GeoTIFF) and an asymmetric water mask stored south-up (NetCDF) in ``d``."""
    _, s = scene
    truth = s["lst_250m"].isel(time=0)
    cloud = xr.zeros_like(truth, dtype="uint8")
    cloud[:, :10] = 1
    cloud.rio.write_crs(truth.rio.crs).rio.to_raster(d / "cloud.tif")
    water = xr.zeros_like(truth, dtype="uint8")
    water[:20] = 1  # the northern rows
    water.isel(y=slice(None, None, -1)).rename("water_mask").drop_vars(
        "spatial_ref", errors="ignore").to_dataset().to_netcdf(d / "water_southup.nc")
    return (cloud == 0) & (water == 0)


def test_reference_masks_are_combined_by_coordinates(scene, tmp_path, capsys):
    d, _ = scene
    clear = _masks(scene, tmp_path)
    code, err = run_cli(capsys, "evaluate", d / "sr.tif", d / "truth.tif", tmp_path / "s.csv",
                        "--reference-mask", tmp_path / "cloud.tif", "--reference-mask",
                        tmp_path / "water_southup.nc")
    assert code == 0, err
    got = pd.read_csv(tmp_path / "s.csv").iloc[0]
    api = xlstsr.evaluate(open_cog(d / "sr.tif"), open_cog(d / "truth.tif"),
                          reference_clear=clear).compute()
    # before: the south-up water mask was applied upside down (its southern rows dropped)
    assert got["n_valid"] == float(api["n_valid"]) == int(clear.sum())
    assert got["rmse"] == pytest.approx(float(api["rmse"]))


def test_a_reference_mask_off_the_reference_grid_is_refused(scene, tmp_path, capsys):
    d, s = scene
    _masks(scene, tmp_path)
    shifted = xr.zeros_like(s["lst_250m"].isel(time=0), dtype="uint8")
    shifted = shifted.assign_coords(x=shifted.x + 5 * 926.625433055833 / 4)
    shifted.rio.write_crs(s["lst_250m"].rio.crs).rio.to_raster(tmp_path / "shifted.tif")
    # before: same shape, so combined by position without a word
    code, err = run_cli(capsys, "evaluate", d / "sr.tif", d / "truth.tif", tmp_path / "s.csv",
                        "--reference-mask", tmp_path / "cloud.tif", "--reference-mask",
                        tmp_path / "shifted.tif")
    assert code == 2 and "--reference-mask" in err and "shifted.tif" in err
    assert "grid" in err and not (tmp_path / "s.csv").exists()


def test_the_output_cannot_replace_a_reference_mask(scene, tmp_path, capsys):
    d, _ = scene
    _masks(scene, tmp_path)
    masks = tmp_path / "water_southup.nc"
    # before: "exists; pass --overwrite", then with it the masks were replaced by the scores
    code, err = run_cli(capsys, "evaluate", d / "sr.tif", d / "truth.tif", masks,
                        "--reference-mask", masks, "--overwrite")
    assert code == 2 and "is also an input" in err
    assert "water_mask" in xr.open_dataset(masks).data_vars


# -- evaluate --coarse declared like upscale's input ----------------------------------------------


def test_the_coarse_input_is_declared_with_its_own_flags(scene, tmp_path, capsys):
    d, s = scene
    lst = s["lst_1km"].isel(time=0)
    dn = (lst / 0.02).round().astype("uint16").rio.write_crs(lst.rio.crs)
    dn.attrs = {}
    dn.rio.to_raster(tmp_path / "dn.tif")  # MODIS-like digital numbers, no scale tag
    celsius = (lst - 273.15).astype("float32").rio.write_crs(lst.rio.crs)
    celsius.attrs = {}
    celsius.rio.to_raster(tmp_path / "degc.tif")
    base = ["evaluate", d / "sr.tif", d / "truth.tif"]
    # before: refused with Python advice only (`da.attrs.update(scale_factor=0.02)`)
    code, err = run_cli(capsys, *base, tmp_path / "a.csv", "--coarse", tmp_path / "dn.tif")
    assert code == 2 and "`--coarse-scale 0.02`" in err and "`--scale" not in err
    code, err = run_cli(capsys, *base, tmp_path / "b.csv", "--coarse", tmp_path / "degc.tif")
    assert code == 2 and "`--coarse-units degC`" in err
    # the flags: the same scores as with the file in Kelvin
    lst.rio.to_raster(tmp_path / "k.tif")
    assert run_cli(capsys, *base, tmp_path / "k.csv", "--coarse", tmp_path / "k.tif")[0] == 0
    want = pd.read_csv(tmp_path / "k.csv").iloc[0]
    for name, extra in (("dn", ["--coarse-scale", "0.02", "--coarse-nodata", "0"]),
                        ("degc", ["--coarse-units", "degC"])):
        code, err = run_cli(capsys, *base, tmp_path / f"{name}.csv", "--coarse",
                            tmp_path / f"{name}.tif", *extra)
        assert code == 0, err
        got = pd.read_csv(tmp_path / f"{name}.csv").iloc[0]
        assert got["coarse_consistency"] == pytest.approx(want["coarse_consistency"], abs=0.01)


def test_coarse_declarations_need_the_coarse_file(scene, tmp_path, capsys):
    d, _ = scene
    code, err = run_cli(capsys, "evaluate", d / "sr.tif", d / "truth.tif", tmp_path / "s.csv",
                        "--coarse-scale", "0.02")
    assert code == 2 and "--coarse-scale" in err and "add --coarse" in err
    code, err = run_cli(capsys, "evaluate", d / "sr.tif", d / "truth.tif", tmp_path / "s.csv",
                        "--coarse", d / "lst.tif", "--coarse-scale", "-1")
    assert code == 2 and "--coarse-scale must be a number > 0" in err


# -- hints never offer back the rejected value ----------------------------------------------------


@pytest.mark.parametrize(("command", "message", "typed", "bad", "good"), [
    ("evaluate", "valid_min=10 is not a temperature in Kelvin: add 273.15 (10 degC is "
     "valid_min=283.15; valid_min=230 drops clouds).", {"--valid-min": 10.0},
     "`--valid-min 10`", "`--valid-min 283.15`"),
    ("evaluate", "factor=2 but sr was made with factor 4 (its 'xlstsr_factor' attribute); pass "
     "the factor it was made with, or drop the argument.", {"--factor": 2}, "`--factor 2`",
     "`--factor 4`"),
    ("evaluate", "the reference declares scale_factor=0.1 in its attrs and reference_scale=0.1 "
     "was passed as well; pass one of them (drop the attr, or reference_scale).",
     {"--reference-scale": 0.1}, "`--reference-scale 0.1`", "`--reference-scale`"),
    ("upscale", "no guide step at most '1D' before them. guide_time_tolerance='1D' was read as "
     "1 day: give a longer duration (e.g. '16D' for 16-day composites)",
     {"--guide-time-tolerance": "1D"}, "`--guide-time-tolerance 1D`",
     "`--guide-time-tolerance 16D`"),
])
def test_a_hint_never_repeats_the_typed_value(command, message, typed, bad, good):
    out = _cli_hints(message, command, typed)
    assert bad not in out and good in out  # the flag alone where the message has no other value
    assert bad in _cli_hints(message, command)  # not typed: the message's first value


def test_hints_on_the_command_line(scene, tmp_path, capsys):
    d, _ = scene
    base = ["evaluate", d / "sr.tif", d / "truth.tif", tmp_path / "s.csv"]
    code, err = run_cli(capsys, *base, "--valid-min", "10")
    assert code == 2 and "`--valid-min 10`" not in err and "`--valid-min 283.15`" in err
    code, err = run_cli(capsys, *base, "--factor", "2")
    assert code == 2 and "`--factor 2`" not in err and "`--factor 4`" in err


# -- a .tif output on the exact grid --------------------------------------------------------------


def test_a_tif_output_keeps_the_exact_transform(tmp_path, capsys):
    src = xlstsr.datasets.modis_sample()["lst_day"].encoding["source"]  # real MOD11A1, 1 km
    assert run_cli(capsys, "upscale", src, tmp_path / "sr.tif", "--quiet")[0] == 0
    back = open_cog(tmp_path / "sr.tif")
    full = xlstsr.upscale(open_cog(src), 4)
    # before: the transform rebuilt from the labels, 1e-12 m off: labels ~1e-9 m off, and
    # `full - back` dropped the rows whose labels moved
    assert np.array_equal(back.y.values, full.y.values)
    assert np.array_equal(back.x.values, full.x.values)
    assert (full - back).sizes == full.sizes


# -- flags named in the refusals ------------------------------------------------------------------


@pytest.mark.parametrize("command", ["upscale", "evaluate", "train"])
def test_factor_1_is_refused_by_the_parser(command, capsys):
    argv = {"upscale": ["upscale", "a.tif", "b.tif"], "evaluate": ["evaluate", "a", "b", "c.csv"],
            "train": ["train", "--lst", "a.nc", "--out", "m.pt"]}[command]
    # before: accepted, then "factor must be >= 2" after the input was read (no flag named)
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([*argv, "--factor", "1"])
    assert exc.value.code == 2 and "--factor: must be >= 2" in capsys.readouterr().err


@pytest.mark.parametrize(("flag", "value"), [("--lags", "0"), ("--factors", "2,4")])
def test_scaling_scales_name_their_flag(scene, tmp_path, capsys, flag, value):
    d, _ = scene
    code, err = run_cli(capsys, "scaling", d / "lst.tif", tmp_path / "s.csv", flag, value)
    assert code == 2 and flag in err and not (tmp_path / "s.csv").exists()


def test_conserve_is_described_as_it_is(scene, tmp_path, capsys):
    d, _ = scene
    help_text = " ".join(build_parser()._subparsers._group_actions[0].choices["upscale"]
                         .format_help().split())
    assert "tsharp/dms" in help_text
    code, err = run_cli(capsys, "upscale", d / "lst.tif", tmp_path / "o.tif", "--conserve")
    # before: "['disr', 'dms', 'sisr', 'tsharp'] (`conserve=True`). (--model, --conserve and
    # --backend are options of the deep methods sisr/disr)"
    assert code == 2 and "--conserve are options of the deep methods" not in err
    assert "--conserve of sisr, disr, tsharp and dms" in err
