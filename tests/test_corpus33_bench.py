"""Benchmarks, scripts/train_bundled.py and `xlstsr train --precision` (corpus 33, part d)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import load_benchmark, load_script
from xlstsr.datasets import EVAL_PAIRS, TRAIN_PAIRS
from xlstsr.datasets.root import HELD_BACK_RESULTS, exit_on_missing_data, require_data, results_dir

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"




class _Stop(Exception):
    pass


# -- 07: --precision offers only what training accepts --------------------------------------


def test_train_precision_offers_only_accepted_choices(capsys):
    from xlstsr.cli import build_parser

    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--help"])
    help_ = capsys.readouterr().out
    assert not re.search(r"\b(16-mixed|bf16-mixed|bf16-true)\b", help_), help_
    # refused at parse time (before any data are read), not after the data preparation
    with pytest.raises(SystemExit) as e:
        parser.parse_args(["train", "--lst", "nowhere.nc", "--out", "m.pt",
                           "--precision", "bf16-mixed"])
    assert e.value.code == 2
    assert "invalid choice: 'bf16-mixed'" in capsys.readouterr().err
    args = parser.parse_args(["train", "--lst", "l.nc", "--out", "m.pt", "--precision", "64-true"])
    assert args.precision == "64-true"


# -- 10: the bundled files record the command that ran ---------------------------------------


def test_train_bundled_records_the_command_that_ran(tmp_path, monkeypatch):
    tb = load_script("train_bundled")
    (tmp_path / "modis_aster").mkdir()
    seen = []

    def fake_train_disr(*args, **kwargs):  # what the checkpoint would record
        seen.append(tb.recorded_command(tb.COMMAND))

    monkeypatch.setattr(tb, "train_disr", fake_train_disr)
    argv = ["--data", str(tmp_path), "--only", "disr_sif", "--epochs", "1", "--seed", "1",
            "--lr", "5e-4", "--loss-option", "alpha=0.6", "--no-progress", "--out",
            str(tmp_path / "out dir")]
    assert tb.main(argv) == 0
    assert seen == [f"python scripts/train_bundled.py {' '.join(argv[:-1])} "
                    f"'{tmp_path / 'out dir'}'"]
    # called from Python (not through main): the recipe's own command, as before
    assert tb.recorded_command(tb.COMMAND + " --only sisr_cube").endswith("--only sisr_cube")


# -- 09: bench_models --pairs; subset runs do not replace the published pages ----------------


def test_bench_models_refuses_training_pairs(capsys):
    bm = load_benchmark("bench_models")
    with pytest.raises(SystemExit) as e:
        bm.main(["--smoke", "--pairs", f"{EVAL_PAIRS[0]},{TRAIN_PAIRS[0]}"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert TRAIN_PAIRS[0] in err and "EVAL_PAIRS" in err and "--pairs" in err


def _destination(module, argv, monkeypatch, stop_at: str) -> Path:
    """Where ``module.main(argv)`` would write, stopping it before it reads any data."""
    got = []
    real = module.results_dir

    def spy(*args, **kwargs):
        got.append(real(*args, **kwargs))
        return got[-1]

    def stop(*args, **kwargs):
        raise _Stop

    monkeypatch.setattr(module, "results_dir", spy)
    monkeypatch.setattr(module, stop_at, stop)
    with pytest.raises(_Stop):
        module.main(argv)
    return got[-1]


def test_subset_runs_write_held_back_results(monkeypatch):
    assert results_dir(None, "docs/results", partial=True) == HELD_BACK_RESULTS
    assert results_dir("/tmp/x", "docs/results", partial=True) == Path("/tmp/x")
    bm = load_benchmark("bench_models")
    published = ROOT / "docs" / "results"
    assert _destination(bm, ["--pairs", ",".join(EVAL_PAIRS[:2])], monkeypatch,
                        "methods") == HELD_BACK_RESULTS
    assert _destination(bm, [], monkeypatch, "methods") == published
    sr = load_benchmark("scaling_report")
    assert _destination(sr, ["--quick"], monkeypatch, "data_root") == HELD_BACK_RESULTS
    assert _destination(sr, ["--methods", "tsharp"], monkeypatch, "data_root") == HELD_BACK_RESULTS
    assert _destination(sr, [], monkeypatch, "data_root") == published
    assert _destination(sr, ["--quick", "--out", "/tmp/q"], monkeypatch,
                        "data_root") == Path("/tmp/q")


# -- 08: the scaling report's discussion quotes the run's own figures ------------------------


def _page_summary(md: str) -> tuple[dict, int]:
    """The ``summary`` of :func:`scaling_report.sr_section`, read back from a page's tables."""
    summary: dict = {}
    for line in md.splitlines():
        c = [x.strip() for x in line.strip().strip("|").split("|")]
        num = lambda s: float(s.split()[0])  # noqa: E731
        if len(c) == 11 and c[0] in ("4km->1km (MODIS)", "1km->250m (ASTER)"):
            row = (num(c[3]), num(c[4]), num(c[5]))
            if c[7] != "-":
                row += (num(c[7]), num(c[10]), num(c[8]))
            summary[(c[0], c[1], c[2])] = row
        elif len(c) == 7 and c[1].isdigit():
            summary[("eval35", c[0])] = (num(c[2]), num(c[5]), num(c[6]))
    return summary, int(re.search(r"\((\d+) modis_aster pairs", md).group(1))


def test_scaling_discussion_is_written_from_the_runs_summary():
    sr = load_benchmark("scaling_report")
    one, real = "4km->1km (MODIS)", "1km->250m (ASTER)"
    summary = {
        (one, "tsharp", "none"): (1.111, 1.2, 0.444),
        (one, "tsharp", "auto"): (1.050, 1.1, 0.200),
        (real, "tsharp", "none"): (2.777, 1.4, 0.666, 3.333, 0.321, 0.912),
        (real, "tsharp", "auto"): (2.555, 1.0, 0.123, 3.222, 0.234, 0.777),
        (one, "dms", "none"): (1.2, 0.6, 0.4), (one, "dms", "auto"): (1.207, 0.6, 0.4),
    }
    text = sr.discussion(summary, 7)
    for figure in ("0.444 -> 0.200", "1.111 -> 1.050", "2.777 -> 2.555", "3.333 -> 3.222",
                   "0.666 -> 0.123", "0.912 -> 0.777", "0.321 -> 0.234", "0.007 K",
                   "over the 7 pairs"):
        assert figure in text, figure
    assert "is met" in text  # 0.200 <= 0.444 / 2 and the RMSE fell
    # the old literals of the published full run are gone from the template
    for old in ("1.418 -> 1.337", "0.343 -> 0.261", "2.716 -> 2.553", "0.595 -> 0.169"):
        assert old not in sr.DISCUSSION


def test_published_scaling_discussion_matches_its_tables():
    sr = load_benchmark("scaling_report")
    md = (ROOT / "docs" / "results" / "scaling.md").read_text()
    summary, n = _page_summary(md)
    assert (real := ("1km->250m (ASTER)", "tsharp", "auto")) in summary, real
    written = md[md.index("## 4. What changes"):md.index("Total run time")]
    assert written == sr.discussion(summary, n).lstrip("\n") + "\n"


# -- 05: missing data end in one line naming the path and the fix ----------------------------


def test_require_data_names_the_path_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("XLSTSR_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"no yanco_modis_landsat/ .*XLSTSR_DATA"):
        require_data("yanco_modis_landsat")
    (tmp_path / "modis_aster").mkdir()
    assert require_data("modis_aster") == tmp_path / "modis_aster"


def test_exit_on_missing_data_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("XLSTSR_DATA", str(tmp_path))

    def main():
        open(tmp_path / "cube" / "windows.csv")  # a reader's bare "No such file"

    with pytest.raises(SystemExit) as e:
        exit_on_missing_data(main, "/x/bench.py")
    msg = str(e.value.code)
    assert msg.startswith("bench.py: ") and "\n" not in msg
    assert str(tmp_path / "cube" / "windows.csv") in msg and "XLSTSR_DATA" in msg
    with pytest.raises(SystemExit) as e:
        exit_on_missing_data(lambda: 0, "bench.py")
    assert e.value.code == 0


def test_cube_windows_table_names_the_fix(tmp_path):
    tb = load_script("train_bundled")
    with pytest.raises(FileNotFoundError, match=r"modis_h18v04_2020/windows.csv.*--data.*XLSTSR_DATA"):
        tb.cube_windows_table(tmp_path)


def test_target_scale_sisr_checks_its_data_before_training(tmp_path, monkeypatch):
    monkeypatch.setenv("XLSTSR_DATA", str(tmp_path))
    ts = load_benchmark("target_scale_sisr")
    with pytest.raises(FileNotFoundError, match=r"no yanco_modis_landsat/ .*XLSTSR_DATA"):
        ts.main(["--smoke", "--out", str(tmp_path / "out")])


@pytest.mark.parametrize("name", ["select_disr", "spectral_gaps"])
def test_benchmark_without_data_ends_in_one_line(name, tmp_path):
    r = subprocess.run([sys.executable, str(BENCH / f"{name}.py"), "--smoke", "--out",
                        str(tmp_path / "out")], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "XLSTSR_DATA": str(tmp_path)}, cwd=ROOT)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr, r.stderr[-800:]
    assert r.stderr.startswith(f"{name}.py: ") and "XLSTSR_DATA" in r.stderr, r.stderr


def test_accuracy_psnr_ranges_per_protocol_are_measured():
    """The accuracy page's PSNR data ranges are read from the run's rows per protocol (it
    quoted a fixed "about 80-97 K" for every protocol; without the cloud edges it is ~15-42 K)."""
    import numpy as np
    import pandas as pd

    acc = load_benchmark("accuracy_modis_aster")
    rmse = np.array([2.0, 3.0, 2.0, 4.0])
    rng = np.array([80.0, 95.0, 20.0, 30.0])
    rows = pd.DataFrame({"protocol": ["anchor"] * 2 + ["co-registered + clear"] * 2,
                         "rmse": rmse, "psnr": 20 * np.log10(rng / rmse)})
    assert acc.psnr_ranges(rows) == "anchor: 80-95 K; co-registered + clear: 20-30 K"
