"""Round 23 of bad inputs, the command line: options that qualify another one, given without it.

Found: ``upscale --guide-variable`` / ``--guide-offset`` without ``--guide``, ``scaling
--guide-variable`` without ``--guide``, ``evaluate --coarse-variable`` without ``--coarse`` and
``train --truth-variable`` / ``--guide-variable`` without ``--truth`` / ``--guide`` were ignored
without a word (an unguided result, exit 0), where ``--guide-time-tolerance`` without
``--guide`` and ``train --truth-units`` without ``--truth`` were refused. One check
(``xlstsr.cli._check_dependent_flags``) now refuses each, naming the missing option (exit 2).
"""

from __future__ import annotations

import pytest
from helpers import run_cli

import xlstsr
from xlstsr.cli import UsageError, build_parser


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli23")
    s = xlstsr.datasets.sample_scene(n_times=1, size=64)
    s["lst_1km"].rio.to_raster(d / "lst.tif")
    s["lst_250m"].rio.to_raster(d / "truth.tif")
    s["ndvi_250m"].rio.to_raster(d / "ndvi.tif")
    s["lst_1km"].to_netcdf(d / "lst.nc")
    code = xlstsr.cli.main(["upscale", str(d / "lst.tif"), str(d / "sr.tif"), "--quiet"])
    assert code == 0
    return d


_TRAIN = ["train", "--lst", "{d}/lst.nc", "--patch", "16", "--epochs", "1", "--out", "{o}"]


@pytest.mark.parametrize(
    ("argv", "flag", "needed"),
    [
        (["upscale", "{d}/lst.tif", "{o}", "--guide-variable", "NDVI"], "--guide-variable",
         "--guide"),
        (["upscale", "{d}/lst.tif", "{o}", "--guide-offset", "check"], "--guide-offset",
         "--guide"),
        # the value its help calls the default: typed, it is refused all the same
        (["upscale", "{d}/lst.tif", "{o}", "--guide-offset", "auto"], "--guide-offset",
         "--guide"),
        (["scaling", "{d}/lst.tif", "{o}", "--guide-variable", "NDVI"], "--guide-variable",
         "--guide"),
        (["evaluate", "{d}/sr.tif", "{d}/truth.tif", "{o}", "--coarse-variable", "LST"],
         "--coarse-variable", "--coarse"),
        ([*_TRAIN, "--truth-variable", "LST"], "--truth-variable", "--truth"),
        ([*_TRAIN, "--guide-variable", "NDVI"], "--guide-variable", "--guide"),
        ([*_TRAIN, "--truth-nodata", "0"], "--truth-nodata", "--truth"),
    ],
    ids=["upscale-guide-variable", "upscale-guide-offset", "upscale-guide-offset-auto",
         "scaling-guide-variable", "evaluate-coarse-variable", "train-truth-variable",
         "train-guide-variable", "train-truth-nodata"],
)
def test_an_option_without_the_option_it_qualifies_is_refused(files, tmp_path, capsys, argv,
                                                              flag, needed):
    # before: upscale/scaling/evaluate/train ran without it (exit 0, nothing said)
    suffix = {"upscale": "o.tif", "scaling": "o.csv", "evaluate": "o.csv", "train": "m.pt"}
    out = tmp_path / suffix[argv[0]]
    code, err = run_cli(capsys, *(a.format(d=files, o=out) for a in argv))
    assert code == 2, err
    assert flag in err and f"add {needed}" in err, err
    assert not out.exists()


def test_the_options_with_the_option_they_qualify_still_run(files, tmp_path, capsys):
    code, err = run_cli(capsys, "upscale", files / "lst.tif", tmp_path / "g.tif", "--method",
                        "tsharp", "--guide", files / "ndvi.tif", "--guide-offset", "ignore",
                        "--quiet")
    assert code == 0, err
    code, err = run_cli(capsys, "evaluate", files / "sr.tif", files / "truth.tif",
                        tmp_path / "e.csv", "--coarse", files / "lst.nc", "--coarse-variable",
                        "lst_1km")
    assert code == 0, err


def _parse(*argv: str, **defaults):
    parser = build_parser()
    if defaults:  # an option whose default is not None (as --guide-offset's 'auto' could be)
        parser._subparsers._group_actions[0].choices[argv[0]].set_defaults(**defaults)
    return parser.parse_args(list(argv))


def test_an_option_counts_as_given_when_typed_not_by_its_value():
    from xlstsr.cli import _check_dependent_flags

    # a default that is not None is not the user's: nothing to refuse
    _check_dependent_flags(_parse("upscale", "a.tif", "b.tif", guide_offset="auto"))
    _check_dependent_flags(_parse("upscale", "a.tif", "b.tif", "--factor", "2",
                                  guide_offset="auto"))
    # typed, even as the default's value, it is refused without --guide
    with pytest.raises(UsageError, match=r"--guide-offset .*add --guide"):
        _check_dependent_flags(_parse("upscale", "a.tif", "b.tif", "--guide-offset", "auto",
                                      guide_offset="auto"))
    _check_dependent_flags(_parse("upscale", "a.tif", "b.tif", "--guide", "g.tif",
                                  "--guide-offset", "auto"))


def test_several_options_without_theirs_are_named_together():
    from xlstsr.cli import _check_dependent_flags

    with pytest.raises(UsageError) as info:
        _check_dependent_flags(_parse("upscale", "a.tif", "b.tif", "--guide-variable", "NDVI",
                                      "--guide-offset", "check", "--guide-time-tolerance", "16D"))
    text = str(info.value)
    assert all(f in text for f in ("--guide-variable", "--guide-offset",
                                   "--guide-time-tolerance", "add --guide", "drop them"))
