"""Round 37: scripts/ and examples/ that replaced files unasked or refused too late.

- ``scripts/train_bundled.py`` wrote the package's ``xlstsr/weights/`` whatever the run (a
  1-epoch try, another seed, held-back ``--data``): only the recipe as shipped may now.
- ``scripts/make_sample_data.py`` ignored every argument (``--help`` too) and rewrote the
  package's sample at once: it has a parser, and replaces files only with ``--overwrite``.
- ``examples/modis_granules.py`` / ``stac_to_zarr.py`` checked only the .nc / the store: with an
  earlier run's ``cogs/`` they wrote it, then stopped with a traceback advising ``overwrite=True``.
- ``examples/train_on_cube.py --overwrite`` kept the earlier ``checkpoints/``: the new run saved
  ``last-v1.ckpt`` and ``checkpoints/last.ckpt`` was the old model.

Nothing here writes the package's own weights or sample (stubbed training, temporary outputs).
"""

from __future__ import annotations

import runpy
import shutil
import sys
from pathlib import Path

import pytest
from helpers import load_script

from xlstsr.datasets.root import is_project_data
from xlstsr.nn.weights import WEIGHTS_DIR

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _example(name: str, *args: str) -> dict:
    """``python examples/<name>.py ARGS`` in this process; the summary its main() returns."""
    saved = sys.argv
    sys.argv = [name, *args]
    try:
        return runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="example")["main"](list(args))
    finally:
        sys.argv = saved


# -- 4: train_bundled.py writes xlstsr/weights only for the recipe as shipped ---------------------


@pytest.fixture
def recipe(monkeypatch):
    """train_bundled with its SISR job stubbed: ``(module, calls)``, the folder each job got."""
    tb = load_script("train_bundled")
    calls: list[Path] = []
    monkeypatch.setattr(tb, "train_sisr", lambda kind, data, out, **kw: calls.append(out))
    monkeypatch.delenv("XLSTSR_DATA", raising=False)
    return tb, calls


@pytest.mark.parametrize("argv", [["--epochs", "1"], ["--seed", "7"], ["--threads", "2"]])
def test_train_bundled_trial_without_out_is_refused(recipe, argv, shared_data, capsys):
    tb, calls = recipe
    if not is_project_data(shared_data):
        pytest.skip("the project's own data folder is not ../shared/data here")
    with pytest.raises(SystemExit) as e:
        tb.main(["--only", "sisr_rescnn", "--no-progress", *argv])
    assert e.value.code == 2 and calls == []
    err = capsys.readouterr().err
    assert argv[0] in err and "pass --out DIR" in err


def test_train_bundled_heldback_data_without_out_is_refused(recipe, tmp_path, capsys):
    tb, calls = recipe
    (tmp_path / "modis_aster").mkdir()  # laid out like the project's data, but not it
    with pytest.raises(SystemExit) as e:
        tb.main(["--only", "sisr_rescnn", "--data", str(tmp_path), "--no-progress"])
    assert e.value.code == 2 and calls == []
    err = capsys.readouterr().err
    assert "not the project's data" in err and "--out" in err
    # with --out it runs, into that folder
    assert tb.main(["--only", "sisr_rescnn", "--data", str(tmp_path), "--no-progress",
                    "--epochs", "1", "--out", str(tmp_path / "o")]) == 0
    assert calls == [tmp_path / "o"]


def test_train_bundled_recipe_as_shipped_writes_the_package_weights(recipe, shared_data):
    tb, calls = recipe
    if not is_project_data(shared_data):
        pytest.skip("the project's own data folder is not ../shared/data here")
    assert tb.main(["--only", "sisr_rescnn", "--no-progress"]) == 0
    assert tb.main(["--only", "sisr_rescnn", "--data", str(shared_data)]) == 0
    assert calls == [WEIGHTS_DIR, WEIGHTS_DIR]


# -- 5: make_sample_data.py: --help, and no file replaced without --overwrite ---------------------


@pytest.fixture
def sample(monkeypatch, tmp_path):
    """make_sample_data with its default output folder moved to a temporary one."""
    ms = load_script("make_sample_data")
    monkeypatch.setattr(ms, "OUT", tmp_path / "pkg_sample")  # never the package's own files
    return ms, tmp_path / "pkg_sample"


def test_make_sample_data_help_writes_nothing(sample, capsys):
    ms, out = sample
    with pytest.raises(SystemExit) as e:
        ms.main(["--help"])
    assert e.value.code == 0 and "--overwrite" in capsys.readouterr().out
    assert not out.exists()


def test_make_sample_data_refuses_to_replace_without_overwrite(sample, shared_data, capsys):
    ms, out = sample
    out.mkdir()
    (out / "mod11a1_w144.csv").write_text("earlier\n")
    with pytest.raises(SystemExit) as e:
        ms.main(["--data", str(shared_data)])
    assert e.value.code == 2 and "--overwrite" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["mod11a1_w144.csv"]
    assert (out / "mod11a1_w144.csv").read_text() == "earlier\n"
    assert ms.main(["--data", str(shared_data), "--overwrite"]) == 0
    assert all(f.is_file() for f in ms.outputs(out))
    assert (out / "mod11a1_w144.csv").read_text().startswith("date,composite_start")


def test_make_sample_data_out_that_is_a_file_is_a_usage_error(sample, shared_data, capsys,
                                                              tmp_path):
    ms, _ = sample
    f = tmp_path / "a_file"
    f.write_text("x")
    with pytest.raises(SystemExit) as e:  # mkdir's bare FileExistsError before (probe 37k)
        ms.main(["--data", str(shared_data), "--out", str(f)])
    assert e.value.code == 2 and "is a file" in capsys.readouterr().err


# -- 8: the examples check every output (cogs/ too) before writing any -------------------------


def test_modis_granules_refuses_earlier_cogs_up_front(shared_data, tmp_path):
    pytest.importorskip("pyhdf")
    args = ("--data", str(shared_data), "--out", str(tmp_path), "--region", "640", "672",
            "128", "160", "--method", "bicubic")
    _example("modis_granules", *args)
    nc = tmp_path / "lst_day_250m.nc"
    nc.unlink()  # the earlier run's COGs stay
    with pytest.raises(SystemExit, match=r"cogs/\*\.tif\) exists; pass --overwrite"):
        _example("modis_granules", *args)
    assert not nc.exists(), "the .nc was written before the refusal"
    assert _example("modis_granules", *args, "--overwrite")["cogs"] >= 1


def test_stac_to_zarr_refuses_earlier_cogs_up_front(shared_data, tmp_path):
    args = ("--data", str(shared_data), "--out", str(tmp_path), "--dates", "1",
            "--method", "bicubic")
    _example("stac_to_zarr", *args)
    store = tmp_path / "lst_day_250m.zarr"
    shutil.rmtree(store)  # the earlier run's COGs stay
    with pytest.raises(SystemExit, match=r"cogs/\*\.tif\) exists; pass --overwrite"):
        _example("stac_to_zarr", *args)
    assert not store.exists(), "the store was written before the refusal"


# -- 9: train_on_cube.py --overwrite empties its own checkpoints/ and logs/ ---------------------


def test_train_on_cube_refuses_earlier_checkpoints_without_overwrite(shared_data, tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"earlier")
    with pytest.raises(SystemExit, match=r"checkpoints/\) exists; pass --overwrite"):
        _example("train_on_cube", "--data", str(shared_data), "--out", str(tmp_path))


def test_train_on_cube_overwrite_replaces_earlier_checkpoints(shared_data, tmp_path, threads):
    ck, logs = tmp_path / "checkpoints", tmp_path / "logs" / "xlstsr" / "version_0"
    ck.mkdir()
    logs.mkdir(parents=True)
    for name in ("last.ckpt", "epoch=3-step=8.ckpt"):  # an earlier run's
        (ck / name).write_bytes(b"earlier")
    (logs / "metrics.csv").write_text("earlier\n")
    s = _example("train_on_cube", "--data", str(shared_data), "--out", str(tmp_path),
                 "--dates", "4", "--epochs", "1", "--overwrite")
    names = sorted(p.name for p in ck.iterdir())
    assert "last.ckpt" in names and not any("-v1" in n for n in names), names
    assert "epoch=3-step=8.ckpt" not in names
    assert Path(s["checkpoint"]) == ck / "last.ckpt"
    assert (ck / "last.ckpt").read_bytes() != b"earlier"
    assert Path(s["log_dir"]) == logs  # the new run's log, not version_1 beside the old one
    assert (logs / "metrics.csv").read_text() != "earlier\n"
