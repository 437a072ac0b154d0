"""Corpus 33s: subset runs of six more benchmarks kept off the published pages, missing-data
messages naming the folder actually missing and only the calling script's own options, a
--train/--test folder without ECOSTRESS scenes refused in one line, engine.py's --root without a
STAC catalog and sisr_cube.py's empty --root refused up front, and the scaling discussion's
lead-in of the deep models' bullets."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

from tests.helpers import StopBenchmark, load_benchmark, results_destination
from xlstsr.datasets.ecostress import ecostress_box
from xlstsr.datasets.root import (
    HELD_BACK_RESULTS,
    exit_on_missing_data,
    require_data,
)

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
PUBLISHED = ROOT / "docs" / "results"








def _script(args, monkeypatch) -> str:
    """``python SCRIPT ARGS`` run in this process (its ``__main__`` block): its exit message."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    monkeypatch.setattr(sys, "argv", [str(a) for a in args])
    with pytest.raises(SystemExit) as e:
        runpy.run_path(str(args[0]), run_name="__main__")
    return str(e.value.code)


# -- 05. subset runs (and another protocol) never replace the published page -----------------------

@pytest.mark.parametrize("name, subset", [
    ("correction_variants", ["--methods", "tsharp"]),
    ("spectral_gaps", ["--pairs", "2"]),
    ("adaptation", ["--methods", "sisr"]),
    ("disr_degraded_cube", ["--pairs", "none"]),
    ("disr_degraded_cube", ["--control", "none"]),
    ("sisr_cube", ["--pairs", "001"]),
    ("target_scale_sisr", ["--epochs", "1"]),
    ("target_scale_sisr", ["--stride", "16"]),
])
def test_subset_runs_do_not_write_the_published_page(name, subset, tmp_path, monkeypatch):
    # before: each of these wrote docs/results when no --out was given
    monkeypatch.setenv("XLSTSR_DATA", str(tmp_path))  # the project's own data, for this test
    monkeypatch.setattr("xlstsr.datasets.root._CHECKOUT_DATA", tmp_path)
    monkeypatch.chdir(tmp_path)
    module = load_benchmark(name)
    if hasattr(module, "check_held_back_cube"):  # sisr_cube checks its cube first
        monkeypatch.setattr(module, "check_held_back_cube", lambda *a, **k: None)
    assert results_destination(module, [], monkeypatch) == PUBLISHED  # the full run still publishes
    assert results_destination(module, subset, monkeypatch) == HELD_BACK_RESULTS
    out = tmp_path / "out"
    assert results_destination(module, [*subset, "--out", str(out)], monkeypatch) == out


# -- 04. missing data: the folder actually missing, the script's own options -------------------------

def test_missing_data_advice_names_the_folder_and_only_the_scripts_flags(tmp_path, monkeypatch):
    # before: "pass the data folder (a benchmark's --root, root=...)" / "holding modis_aster/"
    # for scripts without --root and data needing another folder
    monkeypatch.setenv("XLSTSR_DATA", str(tmp_path))
    for flags, absent in ((None, "--root"), ("--train DIR --test DIR", "--root")):
        with pytest.raises(SystemExit) as e:
            exit_on_missing_data(lambda: require_data("ecostress_la"), "/x/bench.py", flags=flags)
        msg = str(e.value.code)
        assert msg.startswith("bench.py: no ecostress_la/ ") and "ecostress_la/" in msg
        assert absent not in msg and "root=" not in msg and "modis_aster" not in msg, msg
        assert "XLSTSR_DATA" in msg and (flags is None or flags in msg)
    with pytest.raises(SystemExit) as e:  # a reader's bare error: its dataset folder is named
        exit_on_missing_data(lambda: open(tmp_path / "cube" / "windows.csv"), "b.py",
                             flags="--root DIR")
    msg = str(e.value.code)
    assert str(tmp_path / "cube" / "windows.csv") in msg and "holds cube/ with --root DIR" in msg
    with pytest.raises(FileNotFoundError, match="root="):  # the library keeps its own advice
        require_data("ecostress_la")


def test_target_scale_sisr_advice_names_no_root_flag(tmp_path, monkeypatch):
    # before: "pass the data folder (a benchmark's --root ...)": the script refuses --root
    monkeypatch.setenv("XLSTSR_DATA", str(tmp_path))
    last = _script([BENCH / "target_scale_sisr.py", "--smoke", "--out", tmp_path / "o"],
                   monkeypatch)
    assert last.startswith("target_scale_sisr.py: ") and "yanco_modis_landsat/" in last
    assert "--root" not in last and "root=" not in last


def test_scale_invariance_without_ecostress_is_one_line_naming_its_flags(tmp_path, monkeypatch):
    # before: a traceback ending in "no LST GeoTIFF in .../ecostress_la/LST" (--train/--test),
    # and "(the root argument) ... pass root=... holding modis_aster/" ($XLSTSR_DATA)
    empty = tmp_path / "empty"
    empty.mkdir()
    script = BENCH / "scale_invariance.py"
    last = _script([script, "--train", empty, "--test", empty, "--json", tmp_path / "x.json"],
                   monkeypatch)
    assert last.startswith("scale_invariance.py: --train ") and str(empty / "LST") in last
    monkeypatch.setenv("XLSTSR_DATA", str(empty))
    last = _script([script, "--smoke", "--out", tmp_path / "o"], monkeypatch)
    assert "no ecostress_la/" in last and "--train DIR --test DIR" in last
    assert "modis_aster" not in last and "root=" not in last


def test_folder_box_error_names_its_path(tmp_path):
    # before: nothing on the error said it was about the data (a benchmark's traceback)
    (tmp_path / "LST").mkdir()
    with pytest.raises(FileNotFoundError) as e:
        ecostress_box(tmp_path)
    assert e.value.data_path == str(tmp_path / "LST") and "ecostress_la" in str(e.value)
    assert str(e.value).startswith("no LST GeoTIFF")  # the message, not "[Errno None] ..."


# -- engine.py --root without a STAC catalog: refused up front -------------------------------------

def test_engine_root_without_catalog_is_refused_up_front(tmp_path, monkeypatch):
    # before: minutes of synthetic figures, then "not run" for the STAC figure
    monkeypatch.chdir(tmp_path)
    engine = load_benchmark("engine")
    import xlstsr.datasets.root as root  # engine.main imports results_dir from it

    monkeypatch.setattr(root, "results_dir", lambda *a, **k: (_ for _ in ()).throw(StopBenchmark()))
    with pytest.raises(SystemExit, match=r"--root .*no MOD11A1 STAC catalog.*catalog\.json"):
        engine.main(["--root", str(tmp_path), "--smoke"])


# -- sisr_cube.py: the data checked before anything is written -------------------------------------

def test_sisr_cube_empty_root_refused_before_writing(tmp_path, capsys):
    # before: "writing to ..." and the --out folder made, then the refusal
    empty, out = tmp_path / "empty", tmp_path / "out"
    empty.mkdir()
    sc = load_benchmark("sisr_cube")
    with pytest.raises(SystemExit, match=r"no catalog\.json"):
        sc.main(["--root", str(empty), "--held-back", "--out", str(out)])
    assert not out.exists() and "writing to" not in capsys.readouterr().out


# -- scaling_report: the deep models' bullets under their own lead-in ------------------------------

def test_scaling_deep_bullets_have_their_own_held_out_lead_in():
    # before: they stood under "Measured, means over the N pairs of this run" (all the pairs)
    sr = load_benchmark("scaling_report")
    case = "1km->250m (ASTER)"
    row = (2.0, 0.5, 0.5, 3.0, 0.4, 0.8)
    summary = {(case, m, k): row for m in ("tsharp", "sisr", "disr")
               for k in ("none", "law", "auto")}
    summary.update({("eval35", m): (3.0, 0.8, 0.2, 7) for m in ("tsharp", "sisr", "disr")})
    text = sr.discussion(summary, 55)
    lines = text.splitlines()
    lead = lines.index("  On the 7 held-out pairs (deep models):")
    assert lines[lead + 1].startswith("  - The SISR model")
    measured = next(i for i, x in enumerate(lines) if x.startswith("  Measured, means over"))
    assert measured < lead and not any(x.startswith("  - The ") for x in lines[measured:lead])


def test_folder_box_error_through_a_benchmark_names_its_flags(tmp_path, monkeypatch):
    # the error of an ECOSTRESS folder without scenes, through exit_on_missing_data: one line
    # naming the LST folder and the script's own options
    monkeypatch.setenv("XLSTSR_DATA", str(tmp_path))
    (tmp_path / "LST").mkdir()
    with pytest.raises(SystemExit) as e:
        exit_on_missing_data(lambda: ecostress_box(tmp_path), "s.py", flags="--train DIR")
    msg = str(e.value.code)
    assert str(tmp_path / "LST") in msg and "holds ecostress_la/ with --train DIR" in msg
    assert "root=" not in msg and "\n" not in msg
