"""Corpus 30: the examples' arguments, the CLI's unknown options, train_bundled's --teacher help
and the README's account of ``make bench``.

- ``examples/modis_granules.py`` and ``stac_to_zarr.py`` checked none of their arguments: a
  ``--region`` with Y0 > Y1 ended in a GridError traceback advising ``.sel`` slices, one past the
  tile upscaled fewer rows with exit 0, a guided ``--method`` asked for ``guide=ndvi`` (the scripts
  have no ``--guide``), and each failed run left an empty ``--out`` folder.
- ``xlstsr upscale in out --fctor 2`` pointed at ``xlstsr --help``, which lists none of
  upscale's options.
- ``scripts/train_bundled.py --teacher`` said "default: the default disr" (``fast``) where the
  code defaults to ``unet`` (``disr_unet_coreg_x4.pt``).
- The README said ``make bench`` leaves only ``select_disr.py`` to be run by hand
  (``run_all.MANUAL`` also has ``sisr_ceiling.py``) and its list of ``docs/results/`` pages
  left two out.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import runpy
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def _as_main(run, argv: list[str]) -> subprocess.CompletedProcess:
    """``run()`` a script or ``-m`` module as ``__main__`` with ``sys.argv = argv`` in this
    process (no child: the wrappers run only add ``main()``'s exit): the exit status and stderr
    a child would give, an uncaught exception's traceback included."""
    err, code = io.StringIO(), 0
    saved = sys.argv[:]
    sys.argv[:] = argv
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            run()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if e.code is not None and not isinstance(e.code, int):
            err.write(f"{e.code}\n")
    except Exception:  # reported as a child would report it
        code = 1
        err.write(traceback.format_exc())
    finally:
        sys.argv[:] = saved
    return subprocess.CompletedProcess(argv, code, "", err.getvalue())


def _example(script: str, tmp_path: Path, *args: str,
             data: Path = DATA) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path / "out"
    path = str(ROOT / "examples" / script)
    argv = [path, "--data", str(data), "--out", str(out), *args]
    return _as_main(lambda: runpy.run_path(path, run_name="__main__"), argv), out


def _refused(r: subprocess.CompletedProcess, out: Path, *words: str) -> str:
    """A one-line argparse error (exit 2) naming ``words``, no traceback, no --out folder."""
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert "error:" in last and all(w in last for w in words), last
    assert not out.exists(), "a refused run left its --out folder"
    return last


@pytest.fixture
def modis_data(tmp_path):
    if not (DATA / "mod11a1_hdf").is_dir():
        pytest.skip(f"shared data absent: {DATA / 'mod11a1_hdf'} (the MOD11A1 granule)")
    return DATA


@pytest.mark.parametrize("region", [("768", "640", "128", "256"), ("-8", "64", "10", "10")])
def test_modis_example_refuses_an_empty_or_reversed_region(tmp_path, region):
    # the order is checked before any file is read: no data needed (the --data check comes first)
    data = tmp_path / "data"
    (data / "mod11a1_hdf").mkdir(parents=True)
    r, out = _example("modis_granules.py", tmp_path, "--region", *region, data=data)
    last = _refused(r, out, "--region", " ".join(region))
    assert "slice(" not in r.stderr and "Y0 < Y1" in last


def test_modis_example_refuses_a_region_past_the_tile(tmp_path, modis_data):
    from xlstsr.io import open_modis

    ny = open_modis(str(modis_data / "mod11a1_hdf" / "MOD11A1.A*.hdf"), "LST_Day_1km").sizes["y"]
    r, out = _example("modis_granules.py", tmp_path, "--region", str(ny - 100), str(ny + 100),
                      "0", "64", data=modis_data)
    _refused(r, out, "--region", f"{ny} rows", f"Y1 <= {ny}")


def _no_data(tmp_path: Path, script: str) -> Path:
    """A --data folder the script accepts; the method is refused before anything is read."""
    data = tmp_path / "data"
    (data / ("mod11a1_hdf" if script == "modis_granules.py" else "modis_h18v04_2020")).mkdir(
        parents=True)
    return data


@pytest.mark.parametrize("script", ["modis_granules.py", "stac_to_zarr.py"])
def test_examples_refuse_a_guided_method(tmp_path, script):
    from xlstsr.methods import available_methods, get_method

    guided = next(n for n in ("tsharp", "dms") if get_method(n).needs_guide)
    r, out = _example(script, tmp_path, "--method", guided, data=_no_data(tmp_path, script))
    last = _refused(r, out, f"--method {guided}", "guide")
    assert "guide=ndvi" not in r.stderr
    unguided = [n for n in available_methods() if n != "disr" and not get_method(n).needs_guide]
    assert unguided and all(n in last for n in unguided), last


@pytest.mark.parametrize("script", ["modis_granules.py", "stac_to_zarr.py"])
def test_examples_refuse_an_unknown_method(tmp_path, script):
    r, out = _example(script, tmp_path, "--method", "nosuch", data=_no_data(tmp_path, script))
    _refused(r, out, "--method", "nosuch")


def test_cli_unknown_option_points_at_the_command_help():
    # ``python -m xlstsr ...``: xlstsr/__main__.py run as __main__ (sys.argv[0] set as -m does)
    r = _as_main(lambda: runpy.run_module("xlstsr", run_name="__main__", alter_sys=True),
                 ["-m", "upscale", "/tmp/none.tif", "/tmp/none_out.tif", "--fctor", "2"])
    assert r.returncode == 2
    msg = r.stderr.strip()
    assert "--fctor" in msg and "(see `xlstsr upscale --help`)" in msg, msg
    from xlstsr.cli import _command_parser, build_parser

    # the help it points at lists the option meant
    assert "--factor" in _command_parser(build_parser(), "upscale").format_help()


def test_cli_unknown_option_in_process(capsys):
    from xlstsr.cli import main

    with pytest.raises(SystemExit) as e:
        main(["demo", "--no-such-option"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --no-such-option" in err
    assert "(see `xlstsr demo --help`)" in err


def test_train_bundled_teacher_help_names_the_default_teacher(capsys):
    spec = importlib.util.spec_from_file_location("_tb30", ROOT / "scripts" / "train_bundled.py")
    tb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tb)
    src = (ROOT / "scripts" / "train_bundled.py").read_text()
    assert "WEIGHTS_DIR / COREG_FILE" in src  # the code's default teacher
    with pytest.raises(SystemExit):
        tb.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    help_ = text[text.index("--teacher TEACHER --only"):]
    help_ = help_[: help_.index("--threads")]
    assert tb.COREG_FILE in help_ and "(default: the default disr)" not in help_, help_
    from xlstsr.methods.deep import DISR
    from xlstsr.nn.weights import weights_path

    if weights_path(DISR.default_weights).name != tb.COREG_FILE:  # the default disr is another
        comment = re.search(r"^COREG_FILE = .*$", src, re.M).group(0)
        assert "default disr" not in comment


def _run_all():
    spec = importlib.util.spec_from_file_location("_ra30", ROOT / "benchmarks" / "run_all.py")
    ra = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ra)
    return ra


def test_readme_names_the_benchmarks_make_bench_leaves_out():
    ra = _run_all()
    readme = " ".join((ROOT / "README.md").read_text().split())
    said = readme[readme.index("`make bench` runs"):]
    said = said[: said.index("`make lint`")]
    named = set(re.findall(r"`(\w+\.py)`", said)) - {"run_all.py"}
    assert named == set(ra.MANUAL), (named, ra.MANUAL)


def test_readme_lists_every_results_page():
    readme = (ROOT / "README.md").read_text()
    listed = readme[readme.index("the measured results in `docs/results/`"):]
    listed = listed[: listed.index(")")]
    pages = sorted(p.name for p in (ROOT / "docs" / "results").glob("*.md"))
    assert pages and [p for p in pages if f"`{p}`" not in listed] == []


@pytest.mark.parametrize("flag", ["--dates", "--epochs"])
def test_train_example_refuses_no_dates_or_epochs_before_its_out(tmp_path, flag):
    # --dates 0 built an empty cube (and --epochs 0 trained nothing) after making --out
    data = tmp_path / "data"
    (data / "modis_h18v04_2020").mkdir(parents=True)
    r, out = _example("train_on_cube.py", tmp_path, flag, "0", data=data)
    _refused(r, out, flag, "at least 1")
