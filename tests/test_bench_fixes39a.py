"""Probe 39b: benchmark and example options checked before any data is read.

- spectral_gaps.py ``--pairs`` outside 1..35 refused; the page counts the pairs scored;
- accuracy_modis_aster.py unknown ``--methods`` and a ``--figure-pair`` not scored refused up
  front, the ``--csv`` folder made before scoring;
- scaling_report.py ``--methods`` names stripped, unknown ones refused;
- sisr_cube.py unknown ``--select`` candidates and ``--threads 0`` refused in the parser;
- examples/modis_granules.py ``--overwrite`` removes the earlier run's COGs of other dates.
"""

from __future__ import annotations

import contextlib
import io
import runpy
import warnings
from pathlib import Path

import pytest
from helpers import dated_granule_copy

from tests.helpers import StopBenchmark, load_benchmark
from tests.helpers import usage_error as _usage_error

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_data(tmp_path, monkeypatch) -> Path:
    """An empty data folder: a run that got past its option checks fails on it at once."""
    data = tmp_path / "empty_data"
    data.mkdir()
    monkeypatch.setenv("XLSTSR_DATA", str(data))
    return data


# -- 01. spectral_gaps.py --pairs -----------------------------------------------------------------


@pytest.mark.parametrize("n", ["0", "-1", "36"])
def test_spectral_gaps_pairs_outside_the_held_out_pairs_refused(n, tmp_path, monkeypatch, capsys):
    # before: 0 wrote an empty table (exit 0), -1 scored 34, 36 scored 35: the page said n
    sg = load_benchmark("spectral_gaps")
    monkeypatch.setattr(sg, "ratio_section", lambda n_pairs: [])  # heavy parts: never reached
    monkeypatch.setattr(sg, "slope_section", lambda *a: [])
    err = _usage_error(sg.main, ["--pairs", n, "--out", tmp_path], capsys)
    assert f"--pairs {n}" in err and "35 held-out pairs" in err and "1 to 35" in err
    assert not (tmp_path / "spectral_gaps.md").exists()


def test_spectral_gaps_page_counts_the_pairs_scored(shared_data, monkeypatch):
    monkeypatch.setenv("XLSTSR_DATA", str(shared_data))
    sg = load_benchmark("spectral_gaps")
    monkeypatch.setattr(sg, "EVAL_PAIRS", sg.EVAL_PAIRS[:1])  # stands for the 35, to be quick
    monkeypatch.setattr(sg, "METHODS", ("bicubic",))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lines = sg.ratio_section(3)  # more than there are
    claim = next(line for line in lines if "held-out pairs" in line)
    assert claim.startswith("1 held-out pairs"), claim  # before: "3 held-out pairs"
    with pytest.raises(ValueError, match="no held-out pair"):  # before: an empty table
        sg.ratio_section(0)


# -- 02, 07, 10. accuracy_modis_aster.py ----------------------------------------------------------


@pytest.mark.parametrize("methods", ["tshrp", "bicubic,tshrp", ","])
def test_accuracy_unknown_methods_refused_before_any_pair(methods, no_data, tmp_path, capsys):
    # before: all unknown ended in an AttributeError after loading every pair; one unknown
    # among good ones was dropped to the page's "skipped" list after the run
    acc = load_benchmark("accuracy_modis_aster")
    err = _usage_error(acc.main, ["--methods", methods, "--pairs", "002", "--out", tmp_path],
                       capsys)
    assert f"--methods {methods!r}" in err and "available: bicubic" in err
    assert "tshrp" not in methods or "unknown ['tshrp']" in err
    assert "disr (degraded)" in err  # the correction table's labels are names too


def test_accuracy_correction_rows_alone_refused_before_any_pair(no_data, tmp_path, capsys):
    """A scale-correction label alone left the main table empty: AttributeError after scoring
    every pair (review 39g)."""
    acc = load_benchmark("accuracy_modis_aster")
    err = _usage_error(acc.main, ["--methods", "disr (degraded)", "--pairs", "002", "--out",
                                  tmp_path], capsys)
    assert "only scale-correction rows" in err and "main table" in err


def test_accuracy_known_methods_accepted():
    acc = load_benchmark("accuracy_modis_aster")
    args = acc.parse_args(["--methods", "bicubic, tsharp,disr (degraded)", "--pairs", "002"])
    assert args.methods == "bicubic, tsharp,disr (degraded)"


@pytest.fixture
def pairs_root(shared_data, tmp_path) -> Path:
    """A data folder listing 901 (pair 015's files) and 902 (its files absent: not usable)."""
    import shutil

    folder = tmp_path / "data" / "modis_aster"
    folder.mkdir(parents=True)
    for kind in ("modis_lst_1km", "modis_ndvi_250m", "aster_lst_250m"):
        shutil.copy(shared_data / "modis_aster" / f"015_{kind}.tif", folder / f"901_{kind}.tif")
    (folder / "pairs.csv").write_text("pair,aster_view_angle_deg\n901,10.0\n902,10.0\n")
    return folder.parent


def _accuracy_until_scoring(argv, monkeypatch) -> None:
    """accuracy_modis_aster.py's ``main(argv)``, stopped at the first pair's scoring
    (StopBenchmark: the run got past its checks)."""
    acc = load_benchmark("accuracy_modis_aster")

    def stop(*a, **k):
        raise StopBenchmark

    monkeypatch.setattr(acc, "pair_offset", stop)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        acc.main([str(a) for a in [*argv, "--methods", "bicubic", "--no-anchor",
                                   "--no-corrections"]])


@pytest.mark.parametrize("fig, why", [
    ("999", "is not among the pairs to score (901)"),  # listed nowhere
    ("902", "is not among the pairs to score (901)"),  # listed, not in --pairs
    (None, "cannot be scored (missing 902_"),  # listed and asked for, its files absent
])
def test_accuracy_figure_pair_not_scored_refused_up_front(fig, why, pairs_root, tmp_path,
                                                          monkeypatch):
    # before: accepted; the run went on (here: StopBenchmark) and ended with exit 0 and no
    # maps, without a word
    pairs = ["--pairs", "901"] if fig else []
    with pytest.raises(SystemExit) as e:
        _accuracy_until_scoring(["--root", pairs_root, *pairs, "--figure-pair", fig or "902",
                                 "--out", tmp_path / "out"], monkeypatch)
    msg = str(e.value.code)
    assert msg.startswith(f"--figure-pair {fig or '902'} {why}"), msg
    assert ("--pairs" if fig else "901") in msg


def test_accuracy_csv_folder_made_before_scoring(pairs_root, tmp_path, monkeypatch):
    # before: pandas' OSError after every pair was scored, before accuracy.md was written
    csv = tmp_path / "no_such_dir" / "rows.csv"
    with pytest.raises(StopBenchmark):
        _accuracy_until_scoring(["--root", pairs_root, "--pairs", "901", "--csv", csv, "--out",
                                 tmp_path / "out"], monkeypatch)
    assert csv.parent.is_dir()
    with pytest.raises(SystemExit, match=r"is a folder: pass a file path, e\.g\. "):
        _accuracy_until_scoring(["--root", pairs_root, "--pairs", "901", "--csv", tmp_path,
                                 "--out", tmp_path / "o"], monkeypatch)


# -- 03. scaling_report.py --methods ----------------------------------------------------------------


@pytest.mark.parametrize("methods", ["bicubic,tshrp", "bicubic, tsharp,tshrp", " , "])
def test_scaling_report_unknown_methods_refused(methods, no_data, tmp_path, capsys):
    # before: unknown names were dropped without a word (exit 0, fewer methods run)
    sr = load_benchmark("scaling_report")
    err = _usage_error(sr.main, ["--methods", methods, "--out", tmp_path], capsys)
    assert f"--methods {methods!r}" in err and "available: bicubic" in err
    assert "tshrp" not in methods or "unknown ['tshrp']" in err


def test_scaling_report_method_names_stripped(no_data, tmp_path, monkeypatch):
    # before: "bicubic, tsharp" ran bicubic only (" tsharp" is no method)
    sr = load_benchmark("scaling_report")
    got = []
    for heavy in ("stats_section", "law_section", "resampling_check"):
        monkeypatch.setattr(sr, heavy, lambda *a, **k: None)
    monkeypatch.setattr(sr, "discussion", lambda *a, **k: "")
    monkeypatch.setattr(sr, "modis_aster_pairs", lambda *a, **k: [])
    monkeypatch.setattr(sr, "sr_section", lambda pairs, lines, methods, out: got.append(methods))
    with contextlib.redirect_stdout(io.StringIO()):
        assert sr.main(["--methods", "bicubic, tsharp", "--out", str(tmp_path)]) == 0
    assert got == [["bicubic", "tsharp"]]


# -- 04. sisr_cube.py --select and --threads ------------------------------------------------------


@pytest.mark.parametrize("argv, want", [
    (["--select", "rescnn32x4"], "--select ['rescnn32x4']: not among the candidates"),
    (["--select", "rescnn32x4 box", "nope"], "--select ['nope']: not among the candidates"),
    (["--select", "all", "mrunet12 box"], "--select ['all']: not among the candidates"),
    (["--threads", "0"], "--threads 0: give a whole number >= 1"),
])
def test_sisr_cube_bad_select_or_threads_refused_before_the_cube(argv, want, no_data, tmp_path,
                                                                 capsys):
    # before: a bare KeyError after loading the cube (or after training the names before it);
    # --threads 0 torch's traceback
    sc = load_benchmark("sisr_cube")
    err = _usage_error(sc.main, [*argv, "--out", tmp_path], capsys)
    assert want in err, err
    assert "select" not in want or "'rescnn32x4 box'; 'rescnn32x4 psf'" in err


def test_sisr_cube_help_lists_the_candidates(capsys):
    sc = load_benchmark("sisr_cube")
    with pytest.raises(SystemExit) as e:
        sc.main(["--help"])
    assert e.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps the help
    assert all(f"'{n}'" in out for n in sc.CANDIDATES), out


@pytest.mark.parametrize("select", [[], ["all"], ["rescnn32x4 box", "mrunet12 box"]])
def test_sisr_cube_known_select_accepted(select, monkeypatch):
    sc = load_benchmark("sisr_cube")

    def stop(*a, **k):  # the first data access: the options were accepted
        raise StopBenchmark

    monkeypatch.setattr(sc, "data_root", stop)
    with pytest.raises(StopBenchmark):
        sc.main(["--select", *select, "--threads", "2"])


# -- 05. examples/modis_granules.py --overwrite ---------------------------------------------------


def test_modis_granules_overwrite_removes_earlier_dates(shared_data, tmp_path):
    # before: the earlier run's COG of 2019-11-02 stayed beside the new 2019-11-01 one
    pytest.importorskip("pyhdf")
    src = next((shared_data / "mod11a1_hdf").glob("MOD11A1.A2019305.*.hdf"))
    for name, dates in (("two", ("2019305", "2019306")), ("one", ("2019305",))):
        g = tmp_path / name / "mod11a1_hdf"
        g.mkdir(parents=True)
        for doy in dates:
            dated_granule_copy(src, g / src.name.replace("A2019305", f"A{doy}"))
    ex = runpy.run_path(str(ROOT / "examples" / "modis_granules.py"), run_name="example")
    out = tmp_path / "out"
    other = out / "cogs" / "notes.tif"  # not the example's own: left alone
    common = ["--out", out, "--method", "bicubic", "--region", 640, 672, 128, 160]
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        ex["main"]([str(a) for a in ["--data", tmp_path / "two", *common]])
        assert len(list((out / "cogs").glob("*.tif"))) == 2
        other.write_bytes(b"")
        mine = out / "cogs" / "LST_Day_1km_my_edit.tif"  # the prefix, but no date: the user's
        mine.write_bytes(b"")
        s = ex["main"]([str(a) for a in ["--data", tmp_path / "one", *common, "--overwrite"]])
    assert s["dates"] == ["2019-11-01"]
    assert sorted(p.name for p in (out / "cogs").glob("*.tif")) == [
        "LST_Day_1km_2019-11-01.tif", "LST_Day_1km_my_edit.tif", "notes.tif"]
