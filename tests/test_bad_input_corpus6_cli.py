"""Sixth round of bad inputs, the command line (session 10): arguments a user really gets wrong.

Found: a single ``--chunks`` size of 0 or -2 ended in a traceback (only ``y=0`` was checked); an
option given twice (``--factor 2 ... --factor 4``, ``--model a.pt --checkpoint b.pt``) kept the
last value without a word (now with a warning); a quoted ``~/out.tif`` made a folder named ``~``; ``-`` was "a file
without a suffix"; ``upscale OUTPUT INPUT`` (swapped, after a first run) was told "pass
--overwrite", which replaced the user's LST; ``evaluate REFERENCE SR`` scored the truth against
the result (bias and spectral ratio inverted; now with a warning); an ``evaluate`` that masked every reference pixel
of a file (``--erode 1000``) wrote a table of NaN and exited 0; ``--clear`` without a threshold
did nothing; ``scaling --figure x.txt`` (or a folder) failed after writing the table; ``train``
left ``--truth`` (without ``--mode supervised``) and ``--guide`` (with ``--mode sisr``) unused,
took ``--guide-time-tolerance banana`` and wrote a model as ``--out model.tif``; ``--variable``
of a GeoTIFF was dropped silently; a deep method's own errors were said to come from options of
"the deep methods"; ``--calibration FOLDER`` printed a bare ``[Errno 21]``; an output inside
a Zarr store that is no input changed that store; a table output that is a folder was "check the
free space"; a missing pyhdf was a traceback (a plain ImportError); ``xlstsr demo`` replaced a
user's ``demo.png`` without ``--overwrite``; ``train --help`` showed no default for seven options.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run_cli

import xlstsr
from xlstsr.cli import build_parser, main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli6")
    s = xlstsr.datasets.sample_scene(n_times=2, size=64)
    s["lst_1km"].isel(time=0).rio.to_raster(d / "lst.tif")
    s["lst_250m"].isel(time=0).rio.to_raster(d / "truth.tif")
    s["ndvi_250m"].rio.to_raster(d / "ndvi.tif")
    s["lst_1km"].to_netcdf(d / "lst.nc")
    assert main(["upscale", str(d / "lst.tif"), str(d / "sr.tif"), "--quiet"]) == 0
    return d


_run = run_cli


@pytest.mark.parametrize("size", ["0", "-2"])
def test_one_chunk_size_below_one(files, tmp_path, capsys, size):
    # before: ZeroDivisionError (0) or dask's "Empty tuples" ValueError (-2), as tracebacks
    code, err = _run(capsys, "upscale", files / "lst.tif", tmp_path / "o.tif", "--chunks", size)
    assert code == 2 and "whole number >= 1" in err and not (tmp_path / "o.tif").exists()


def test_an_option_given_twice_with_different_values(capsys):
    # before: the last value won without a word (a x4 run asked for as x2, another model); it
    # still wins (a script's defaults overridden by its user), with a warning
    args = build_parser().parse_args(["upscale", "a.tif", "b.tif", "--factor", "2", "--factor=4",
                                      "--method", "sisr", "--model", "a.pt", "--checkpoint",
                                      "b.pt"])
    err = capsys.readouterr().err
    assert args.factor == 4 and args.model == "b.pt"
    assert "--factor 2 and --factor 4: the option is given twice" in err
    assert "--model a.pt and --checkpoint b.pt" in err
    build_parser().parse_args(["train", "--lst", "a.nc", "--out", "m.pt", "--patch", "8",
                               "--patch", "16"])
    assert "--patch 8 and --patch 16" in capsys.readouterr().err
    # the same value twice is harmless: no warning
    args = build_parser().parse_args(["upscale", "a.tif", "b.tif", "--factor", "4", "--factor",
                                      "4"])
    assert args.factor == 4 and capsys.readouterr().err == ""


def test_an_unexpanded_home_in_a_path(files, tmp_path, capsys, monkeypatch):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    # before: a folder named "~" in the current folder (and the file in it)
    code, err = _run(capsys, "upscale", files / "lst.tif", "~/o.tif", "--quiet")
    assert code == 0, err
    assert (home / "o.tif").exists() and not (work / "~").exists()


def test_dash_is_not_a_file(files, tmp_path, capsys):
    # before: "cannot tell the format of '-' from its suffix" / "cannot write a table to '-'"
    code, err = _run(capsys, "upscale", "-", tmp_path / "o.tif")
    assert code == 2 and "not stdin/stdout" in err
    code, err = _run(capsys, "evaluate", files / "sr.tif", files / "truth.tif", "-")
    assert code == 2 and "not stdin/stdout" in err


def test_upscale_with_input_and_output_swapped(files, capsys):
    before = (files / "lst.tif").read_bytes()
    # before: "lst.tif exists; pass --overwrite to replace it": the user's LST then replaced
    code, err = _run(capsys, "upscale", files / "sr.tif", files / "lst.tif")
    assert code == 2 and "swapped" in err and "xlstsr upscale INPUT OUTPUT" in err
    assert (files / "lst.tif").read_bytes() == before
    # an existing xlstsr output (a second run) keeps the usual message
    code, err = _run(capsys, "upscale", files / "lst.tif", files / "sr.tif")
    assert code == 2 and "pass --overwrite" in err and "swapped" not in err


def test_evaluate_with_sr_and_reference_swapped(files, tmp_path, capsys):
    # before: scores of the truth against the result (bias sign and spectral ratio inverted)
    # without a word; a warning, not a refusal: another tool's result scored against an
    # xlstsr one is a fair comparison (review of round 6)
    _, err = _run(capsys, "evaluate", files / "truth.tif", files / "sr.tif", tmp_path / "e.csv")
    assert "swapped" in err
    assert "xlstsr evaluate SR REFERENCE OUTPUT" in err


def test_evaluate_with_nothing_left_to_score(files, tmp_path, capsys):
    # before: "wrote e.csv: RMSE nan K", a row of NaN and exit status 0
    code, err = _run(capsys, "evaluate", files / "sr.tif", files / "truth.tif",
                     tmp_path / "e.csv", "--erode", "1000")
    # (the flag named, not offered back with the value 1000 it rejects: round 24)
    assert code == 2 and "`--erode`" in err and not (tmp_path / "e.csv").exists()


def test_evaluate_clear_without_a_threshold(files, tmp_path, capsys):
    # before: --clear changed nothing without --valid-min/--valid-max, silently
    code, err = _run(capsys, "evaluate", files / "sr.tif", files / "truth.tif",
                     tmp_path / "e.csv", "--clear")
    assert code == 2 and "--valid-min 230" in err


@pytest.mark.parametrize("figure", ["fig.txt", "fig", "folder"])
def test_scaling_figure_checked_before_the_table_is_written(files, tmp_path, capsys, figure):
    (tmp_path / "folder").mkdir()
    # before: the table was written, then the figure refused (exit 2, the table left behind;
    # a folder was "exists; pass --overwrite")
    code, err = _run(capsys, "scaling", files / "lst.tif", tmp_path / "s.csv", "--figure",
                     tmp_path / figure)
    assert code == 2 and "--figure" in err and not (tmp_path / "s.csv").exists()


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--truth", "{d}/truth.tif"], "add --mode supervised"),          # truth unused
        (["--guide", "{d}/ndvi.tif"], "add --mode degraded_disr"),        # guide unused
        (["--mode", "degraded_disr", "--guide", "{d}/ndvi.tif", "--guide-time-tolerance",
          "banana"], "must be a duration"),                              # accepted
        (["--mode", "degraded_disr", "--guide", "{d}/ndvi.tif", "--guide-time-tolerance",
          "16"], "has no unit"),                               # 16 nanoseconds (review)
        (["--guide-time-tolerance", "16D"], "add --guide"),              # unused
    ],
)
def test_train_options_that_would_go_unused(files, tmp_path, capsys, extra, needle):
    # before: each trained (a sisr model without the truth / guide) and exited 0
    out = tmp_path / "m.pt"
    code, err = _run(capsys, "train", "--lst", files / "lst.nc", "--out", out, "--epochs", "1",
                     *(a.format(d=files) for a in extra))
    assert code == 2 and needle in err and not out.exists()


@pytest.mark.parametrize("name", ["m.tif", "m.zarr", "m.nc4", "m.csv", "m.svg", "m.webp"])
def test_train_out_named_like_data(files, tmp_path, capsys, name):
    # before: a torch model file written as m.tif (then opened as a GeoTIFF by mistake); the
    # suffixes are those of io.formats' data and plot's figures (m.webp was taken)
    code, err = _run(capsys, "train", "--lst", files / "lst.nc", "--out", tmp_path / name)
    assert code == 2 and "m.pt" in err and not (tmp_path / name).exists()


def test_deep_method_errors_and_a_calibration_folder(files, tmp_path, capsys):
    # before: "... (--model and --conserve are options of the deep methods sisr/disr)" after
    # an error of sisr itself, as if sisr were not one
    code, err = _run(capsys, "upscale", files / "lst.tif", tmp_path / "o.tif", "--method", "sisr",
                     "--model", "no_such_model")
    assert code == 2 and "no_such_model" in err and "options of the deep methods" not in err
    # before: "xlstsr: error: [Errno 21] Is a directory: '...'"
    code, err = _run(capsys, "upscale", files / "lst.tif", tmp_path / "o.tif", "--calibration",
                     tmp_path)
    assert code == 2 and "--calibration" in err and "is a folder" in err


def test_variable_of_a_geotiff_is_not_dropped_silently(files, tmp_path, capsys):
    # before: --variable was ignored without a word
    code, err = _run(capsys, "upscale", files / "lst.tif", tmp_path / "o.tif", "--variable",
                     "LST_Night", "--quiet")
    assert code == 0 and "--variable LST_Night ignored" in err
    assert Path(tmp_path / "o.tif").exists()


def test_outputs_inside_a_zarr_store_or_a_folder_named_like_a_table(files, tmp_path, capsys):
    s = xlstsr.datasets.sample_scene(n_times=2, size=64)
    s["lst_1km"].to_dataset().to_zarr(tmp_path / "other.zarr", zarr_format=3, consolidated=False)
    # before: a store written inside another store (not an input), which it changed
    for out in ("other.zarr/o.zarr", "other.zarr/a/o.tif"):
        code, err = _run(capsys, "upscale", files / "lst.tif", tmp_path / out, "--quiet")
        assert code == 2 and "inside the Zarr store" in err
    assert not (tmp_path / "other.zarr" / "a").exists()
    code, err = _run(capsys, "train", "--lst", files / "lst.nc", "--out", tmp_path / "other.zarr"
                     / "m.pt")
    assert code == 2 and "inside the Zarr store" in err
    # before: "exists; pass --overwrite", then "cannot write ...: check the free space"
    (tmp_path / "t.csv").mkdir()
    code, err = _run(capsys, "evaluate", files / "sr.tif", files / "truth.tif", tmp_path / "t.csv",
                     "--overwrite")
    assert code == 2 and "is a folder" in err and "free space" not in err


def test_a_missing_optional_dependency_is_one_line(files, tmp_path, capsys, monkeypatch):
    import sys

    from xlstsr.cli import _missing_dependency

    granule = tmp_path / "MOD11A1.A2019305.h14v09.006.2019306084028.hdf"
    granule.write_bytes(b"\x0e\x03\x13\x01" + bytes(60))
    monkeypatch.setitem(sys.modules, "pyhdf", None)
    monkeypatch.setitem(sys.modules, "pyhdf.SD", None)
    # before: the HDF4 reader's plain ImportError, a traceback (not in the user errors)
    code, err = _run(capsys, "upscale", granule, tmp_path / "o.zarr", "--quiet")
    assert code == 2 and "pip install 'xlstsr[hdf]'" in err
    # before: "xlstsr: error: No module named 'tensorboardX'" (which extra installs it?)
    missing = ModuleNotFoundError("No module named 'tensorboardX'", name="tensorboardX")
    assert _missing_dependency(missing).endswith("pip install 'xlstsr[tensorboard]'")
    assert _missing_dependency(ImportError("cannot import name 'x' from 'y'")) is None  # a bug


def test_every_option_says_what_it_does_and_its_default(capsys):
    # before: `xlstsr train --help` listed --mode, --factor, --batch-size, --lr, --seed and the
    # *-variable options bare: argparse shows a default only beside a help text
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        for action in p._actions:
            if not action.option_strings or action.dest == "help":
                continue
            assert action.help, f"xlstsr {name} {action.option_strings[0]} has no help"
            if action.default not in (None, False):
                text = p.formatter_class(prog="x")._get_help_string(action) or ""
                assert "default" in text, f"xlstsr {name} {action.option_strings[0]}"


def test_demo_does_not_replace_a_users_figure(tmp_path, capsys):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "demo.png").write_text("mine")
    # before: only lst_250m.zarr was checked: the user's demo.png (and metrics.txt) replaced
    code, err = _run(capsys, "demo", "--output", tmp_path / "d", "--quiet")
    assert code == 2 and "demo.png" in err and "--overwrite" in err
    assert (tmp_path / "d" / "demo.png").read_text() == "mine"
