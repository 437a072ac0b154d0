"""Round 27 of bad inputs, ``xlstsr evaluate`` on the command line.

Found: a reference GeoTIFF in degrees Celsius without a units tag (SEVIRI / LSA-SAF style) was
refused with Python-only advice (`da.attrs['units'] = 'degC'`), and ``evaluate`` had no flag to
declare the reference's units (the --coarse file has --coarse-units): ``--reference-units`` was
an unrecognized argument. Now ``--reference-units {K,degC}``, which the refusals of the
reference name.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rioxarray
from helpers import make_lst, run_cli

import xlstsr

N, F = 16, 4


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A super-resolved field (bicubic x4 of a 1 km LST) and its 250 m truth, in degrees Celsius
    without a units tag, in Kelvin tagged as degrees Celsius, and in Kelvin (.tif each)."""
    d = tmp_path_factory.mktemp("cli27_evaluate")
    yy, xx = np.mgrid[0:N * F, 0:N * F] / (N * F)
    fine = 300 + 8 * np.sin(6 * xx) * np.cos(5 * yy) + 3 * xx
    coarse = fine.reshape(N, F, N, F).mean(axis=(1, 3))
    sr = xlstsr.upscale(make_lst(coarse, units="K"), F, "bicubic")
    sr.rio.to_raster(d / "sr.tif")
    make_lst(fine - 273.15, res=250.0).rio.to_raster(d / "ref_degC.tif")  # no units tag
    make_lst(fine, res=250.0, units="degC").rio.to_raster(d / "ref_K_tagged_degC.tif")
    make_lst((fine - 273.15).astype("float32"), res=1000.0 / F).rio.to_raster(d / "sr_degC.tif")
    make_lst(fine, res=250.0, units="K").rio.to_raster(d / "ref_K.tif")
    return d


def _hint(err: str) -> str:
    """The command-line part of a refusal."""
    return err.split("On the command line:", 1)[-1] if "On the command line:" in err else ""


def _read(path):
    return rioxarray.open_rasterio(path).squeeze(drop=True)


@pytest.mark.parametrize(("reference", "units"), [("ref_degC.tif", "degC"),
                                                  ("ref_K_tagged_degC.tif", "K")])
def test_the_reference_refusal_names_reference_units_and_following_it_scores(
        files, tmp_path, capsys, reference, units):
    # before: "Set `da.attrs['units'] = 'degC'`" only, and --reference-units was refused as an
    # unrecognized argument (--coarse-units existed for the --coarse file)
    out = tmp_path / "s.csv"
    argv = ["evaluate", files / "sr.tif", files / reference, out]
    code, err = run_cli(capsys, *argv)
    assert code == 2 and not out.exists()
    assert f"`--reference-units {units}`" in _hint(err), err
    code, err = run_cli(capsys, *argv, "--reference-units", units)
    assert code == 0, err
    table = pd.read_csv(out)
    want = xlstsr.evaluate(_read(files / "sr.tif"),
                           _read(files / reference).assign_attrs(units=units))
    assert len(table) == 1
    for name in ("rmse", "bias", "n_valid"):
        np.testing.assert_allclose(table[name][0], float(want[name]), rtol=1e-6)
    # the same scores as the truth in Kelvin
    assert run_cli(capsys, "evaluate", files / "sr.tif", files / "ref_K.tif",
                   tmp_path / "k.csv")[0] == 0
    np.testing.assert_allclose(table["rmse"][0], pd.read_csv(tmp_path / "k.csv")["rmse"][0],
                               rtol=1e-5)


def test_reference_units_is_in_the_help_and_takes_k_or_degc(files, tmp_path, capsys):
    from xlstsr.cli import build_parser

    sub = build_parser()._subparsers._group_actions[0].choices["evaluate"]
    assert "--reference-units" in sub.format_help()
    code, err = run_cli(capsys, "evaluate", files / "sr.tif", files / "ref_degC.tif",
                        tmp_path / "s.csv", "--reference-units", "degF")
    assert code == 2 and "invalid choice" in err and not (tmp_path / "s.csv").exists()


def test_a_celsius_super_resolved_field_is_not_offered_reference_units(files, tmp_path, capsys):
    # --reference-units describes the reference only: the sr's units refusal must not name it
    code, err = run_cli(capsys, "evaluate", files / "sr_degC.tif", files / "ref_K.tif",
                        tmp_path / "s.csv")
    assert code == 2 and "super-resolved" in err and "--reference-units" not in err, err


def test_reference_units_is_refused_for_a_landsat_scene(files, tmp_path, capsys, monkeypatch):
    # a Landsat Collection 2 Level-2 scene is decoded to Kelvin by its reader: degC would add
    # 273.15 to Kelvin values
    import xlstsr.cli as cli

    scene = _read(files / "ref_K.tif").assign_attrs(units="K")
    monkeypatch.setattr(cli, "_landsat_c2l2", lambda path: scene)
    code, err = run_cli(capsys, "evaluate", files / "sr.tif", files / "ref_K.tif",
                        tmp_path / "s.csv", "--reference-units", "degC")
    assert code == 2 and "Landsat" in err and "drop --reference-units" in err, err
    code, err = run_cli(capsys, "evaluate", files / "sr.tif", files / "ref_K.tif",
                        tmp_path / "k.csv", "--reference-units", "K")
    assert code == 0, err
