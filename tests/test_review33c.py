"""Review 33c: partial benchmark runs kept off the published pages, exit_on_missing_data keeping
the traceback of errors unrelated to the data, the power spectrum's units (explicit pixel_size,
dimensionless fields), derived Kelvin units scored again, the GridError's selection advice and
the scaling discussion's held-out pair count."""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import xlstsr
from tests.helpers import load_benchmark, results_destination
from xlstsr import metrics as M
from xlstsr.datasets.root import exit_on_missing_data
from xlstsr.errors import GridError, UnitsError

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


@pytest.fixture(scope="module")
def scene():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xlstsr.datasets.sample_scene(n_times=1, cloud_fraction=0)








# -- 05. subset runs never replace the published page ----------------------------------------------

def test_accuracy_subset_runs_do_not_write_the_published_page(tmp_path, monkeypatch):
    # before: --pairs / --methods / --no-anchor / --no-corrections wrote docs/results
    monkeypatch.setenv("XLSTSR_DATA", str(tmp_path))  # the project's own data, for this test
    monkeypatch.setattr("xlstsr.datasets.root._CHECKOUT_DATA", tmp_path)
    monkeypatch.chdir(tmp_path)
    acc = load_benchmark("accuracy_modis_aster")
    published = ROOT / "docs" / "results"
    assert results_destination(acc, [], monkeypatch) == published
    for argv in (["--pairs", "002"], ["--methods", "bicubic"], ["--no-anchor"],
                 ["--no-corrections"]):
        assert results_destination(acc, argv, monkeypatch) != published, argv
    out = tmp_path / "out"
    assert results_destination(acc, ["--pairs", "002", "--out", str(out)], monkeypatch) == out


def test_bench_models_without_classical_does_not_write_the_published_page(tmp_path, monkeypatch):
    # before: --no-classical (a page without tsharp) replaced docs/results/models.md
    monkeypatch.chdir(tmp_path)
    bm = load_benchmark("bench_models")
    # the folder's held-out pairs (every pair of it read: most of this test's time) are the
    # same for the three runs: read once, the real answer given to each run
    held_out, seen = bm.held_out_pairs, {}
    monkeypatch.setattr(bm, "held_out_pairs",
                        lambda root: seen[root] if root in seen else seen.setdefault(
                            root, held_out(root)))
    published = ROOT / "docs" / "results"
    assert results_destination(bm, [], monkeypatch) == published
    assert results_destination(bm, ["--no-classical"], monkeypatch) != published
    out = tmp_path / "out"
    assert results_destination(bm, ["--no-classical", "--out", str(out)], monkeypatch) == out


# -- 04. a FileNotFoundError unrelated to the data keeps its traceback -----------------------------

def test_exit_on_missing_data_reraises_errors_unrelated_to_the_data(tmp_path, monkeypatch):
    # before: a missing executable ended the run in one line, without a traceback
    monkeypatch.setenv("XLSTSR_DATA", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()

    def missing_tool():
        subprocess.run(["xlstsr-no-such-tool-r33c", "--version"])

    def outside():
        open(tmp_path / "elsewhere" / "config.toml")

    for main in (missing_tool, outside):
        with pytest.raises(FileNotFoundError):
            exit_on_missing_data(main, "bench.py")

    def in_data():
        open(tmp_path / "data" / "cube" / "windows.csv")

    with pytest.raises(SystemExit, match=r"bench.py: .*windows.csv.*XLSTSR_DATA"):
        exit_on_missing_data(in_data, "bench.py")

    def named():
        xlstsr.datasets.root.require_data("no_such_dataset")

    with pytest.raises(SystemExit, match=r"bench.py: no no_such_dataset/ .*XLSTSR_DATA"):
        exit_on_missing_data(named, "bench.py")


# -- 06 / 07. the power spectrum's units -----------------------------------------------------------

def test_power_spectrum_explicit_pixel_size_is_not_labelled_with_the_crs_unit(scene):
    # before: pixel_size=1 on a 231 m grid gave 'cycles per metre' / 'K2 m2'
    t = scene["lst_250m"]
    assert M.radial_power_spectrum(t).frequency.attrs["units"] == "cycles per metre"
    for size in (1.0, 0.25):
        p = M.radial_power_spectrum(t, pixel_size=size)
        assert p.frequency.attrs["units"] == "cycles per unit of pixel_size"
        assert p.attrs["units"] == "K2 (unit of pixel_size)2"


def test_power_spectrum_of_a_dimensionless_field():
    # before: units '1' gave '12 pixel2' (the number twelve), '-' gave '-2 pixel2'
    rng = np.random.default_rng(0)
    for units in ("1", "-", ""):
        da = xr.DataArray(rng.random((32, 32)), dims=("y", "x"), attrs={"units": units})
        assert M.radial_power_spectrum(da).attrs["units"] == "1 pixel2", units
    for units, power in (("%", "%2 pixel2"), ("W m-2", "(W m-2)2 pixel2")):
        da = xr.DataArray(rng.random((32, 32)), dims=("y", "x"), attrs={"units": units})
        assert M.radial_power_spectrum(da).attrs["units"] == power


# -- 08. units derived from Kelvin are scored; scaled temperatures refused ------------------------

def test_derived_kelvin_units_are_scored_scaled_temperatures_refused(scene):
    # before: 'K m-1', 'K/pixel', 'K2', '1/K' refused as "a temperature unit the metrics do not
    # know"; 'mK' scored as it was
    t = scene["lst_250m"]
    g = t.copy(data=np.abs(np.gradient(t.values, axis=-1)))
    for units in ("K m-1", "K/pixel", "K2", "1/K"):
        a, b = g.assign_attrs(units=units), (g * 1.1).assign_attrs(units=units)
        v = M.rmse(a, b)
        assert np.isfinite(float(v[0])) and v.attrs["units"] == units
    for units in ("mK", "kK", "K*100", "0.02 K", "K (x0.02)", "degF", "F", "Rankine",
                  "Kelvin*10", "degrees_F"):
        with pytest.raises(UnitsError, match="convert it to Kelvin"):
            M.rmse((t * 1000).assign_attrs(units=units), t)
    for units in ("m", "1", "degrees", "degrees_north", "W m-2", "m K"):
        assert not M._unknown_temperature(units), units


# -- 03. the GridError's selection advice works -----------------------------------------------------

def test_grid_error_selection_advice_works_on_round_off_labels(scene):
    # before: advised `sr.sel(x=ref.x, y=ref.y)`, a KeyError on labels 3e-11 m off
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sr = xlstsr.upscale(scene["lst_1km"], 4).load().isel(time=0)
    ref = scene["lst_250m"].isel(time=0).load().isel(y=slice(10, 40, 2), x=slice(5, 50, 2))
    ref = ref.assign_coords(x=ref.x + 3e-11, y=ref.y - 3e-11)
    with pytest.raises(GridError) as err:
        M.rmse(sr, ref)
    advice = next(a for a in str(err.value).split("`") if a.startswith("sr.sel("))
    assert "method='nearest'" in advice and "tolerance=" in advice
    picked = eval(advice, {"sr": sr, "ref": ref})  # the advice as written in the message
    assert np.isfinite(float(M.rmse(picked, ref)))


# -- 10. the scaling discussion quotes the run's own held-out pair count ----------------------------

def test_scaling_discussion_quotes_the_runs_held_out_count():
    # before: "On the same 35 held-out pairs" whatever was scored, and "met by no deep model"
    # when no deep model ran
    sr = load_benchmark("scaling_report")
    real = "1km->250m (ASTER)"
    summary = {(real, "tsharp", "none"): (2.655, 1.355, 0.355, 3.095, 0.199, 0.784),
               (real, "tsharp", "auto"): (2.524, 0.990, 0.011, 3.040, 0.228, 0.602),
               ("eval35", "tsharp"): (2.481, 1.229, 0.229, 3)}
    text = sr.deep_reading(summary, 8)
    assert "On the same 3 held-out pairs, uncorrected" in text and "35 held-out" not in text
    assert "met by" not in text and "`sisr` = `" not in text  # no deep model ran
    assert text in sr.discussion(summary, 8)
    # a summary without the count (read back from a page's tables) of a partial run: no number
    summary[("eval35", "tsharp")] = (2.481, 1.229, 0.229)
    text = sr.deep_reading(summary, 2)
    assert "On the held-out pairs of this run, uncorrected" in text and "35 held-out" not in text
    # ... of a full run (every pair read): all the EVAL_PAIRS, as the published page says
    assert "On the same 35 held-out pairs" in sr.deep_reading(summary, 55)
    # with a deep model, the verdict is written
    summary[(real, "sisr", "none")] = (2.6, 0.4, 0.6, 3.1, 0.65, 0.3)
    summary[(real, "sisr", "law")] = (2.7, 0.9, 0.1, 3.2, 0.2, 0.8)
    summary[(real, "sisr", "auto")] = (2.65, 0.6, 0.4, 3.15, 0.5, 0.5)
    summary[("eval35", "sisr")] = (3.1, 0.35, 0.65, 3)
    text = sr.deep_reading(summary, 8)
    assert "met by no deep model" in text and "`sisr` = `" in text
