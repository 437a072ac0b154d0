"""Probe 46b: benchmark output paths and the folders they read.

- select_disr.py / disr_ground.py: a relative ``--out`` / ``--work`` reaches the training child
  (run from the repository root) as an absolute path, so the checkpoints land where asked and
  are found;
- output paths (``--json`` a folder, ``--out`` / ``--work`` a file) refused in one line before
  any work, by one shared check (``xlstsr.datasets.root.check_output``, called by
  ``results_dir``);
- select_disr.py on held-back data ($XLSTSR_DATA) refused as its siblings are;
- accuracy_modis_aster.py on a folder with no held-out pair refused (no 0-pair page);
- scale_invariance.py: one ECOSTRESS folder given two ways is one folder;
- scale_invariance.py's page names every option given (--json, --out, --threads).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from tests.helpers import (
    StopBenchmark,
    ecostress_subset,
    heldback_pairs_folder,
    load_benchmark,
)

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


@pytest.fixture
def bench_env(monkeypatch: pytest.MonkeyPatch):
    """The benchmarks import their siblings; torch's thread count is put back after the test;
    $XLSTSR_DATA unset (the project's own data unless a test sets it)."""
    torch = pytest.importorskip("torch")
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.delenv("XLSTSR_DATA", raising=False)
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _fake_child(written: list[Path]):
    """A stand-in for ``scripts/train_bundled.py``: writes the checkpoint(s) its ``--only`` names
    into its ``--out``, taken relative to its working directory as the real child does."""

    def run(cmd, *, cwd=None, stdout=None, stderr=None, check=False):
        out = Path(cwd or ".") / cmd[cmd.index("--out") + 1]
        only = cmd[cmd.index("--only") + 1]
        name = {"disr_unet": "disr_unet_x4.pt",
                "disr_coreg": "disr_unet_coreg_x4.pt"}.get(only, f"{only}_x4.pt")
        out.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(b"checkpoint")
        written.append((out / name).resolve())
        return subprocess.CompletedProcess(cmd, 0)

    return run


# -- 1. relative --out / --work reach the training child as absolute paths ----------------------


@pytest.mark.usefixtures("bench_env")
def test_select_disr_relative_out_checkpoint_lands_where_asked(
        shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # before: the child (cwd = repository root) wrote <root>/rel/out/..., the parent looked in
    # ./rel/out/... and ended in a CheckpointError after the training
    sd = load_benchmark("select_disr")
    monkeypatch.setattr(sd, "ROOT", tmp_path / "repo")  # the child's working directory
    written: list[Path] = []
    monkeypatch.setattr(sd.subprocess, "run", _fake_child(written))
    monkeypatch.setattr(sd, "load_pair", lambda pid: {})
    found = []

    def score(method, pairs, protocol=None, **opts):
        if "checkpoint" not in opts:
            return {}
        found.append(Path(opts["checkpoint"]))
        raise StopBenchmark

    monkeypatch.setattr(sd, "score", score)
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    with pytest.raises(StopBenchmark):
        sd.main(["--smoke", "--out", "rel/out", "--jobs", "1"])
    want = tmp_path / "cwd" / "rel" / "out" / "disr_selection_smoke"
    assert written and all(want in p.parents for p in written), written
    assert found and found[0].is_file() and want in found[0].resolve().parents
    assert not (tmp_path / "repo" / "rel").exists()


@pytest.mark.usefixtures("bench_env")
def test_disr_ground_relative_work_checkpoints_land_where_asked(
        shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dg = load_benchmark("disr_ground")
    monkeypatch.setattr(dg, "ROOT", tmp_path / "repo")
    written: list[Path] = []
    monkeypatch.setattr(dg.subprocess, "run", _fake_child(written))

    def stop(*a, **k):  # the first method after the training
        raise StopBenchmark

    monkeypatch.setattr(dg, "get_method", stop)
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    with contextlib.redirect_stdout(io.StringIO()), pytest.raises(StopBenchmark):
        dg.main(["--smoke", "--work", "w", "--out", "o", "--jobs", "1"])
    want = tmp_path / "cwd" / "w"
    assert written and all(want in p.parents for p in written), written
    assert (want / "run0" / dg.COREG_FILE).is_file()
    assert not (tmp_path / "repo" / "w").exists()


# -- 2. output paths checked before any work, by one shared check -------------------------------


def test_check_output_refuses_a_file_as_folder_and_a_folder_as_file(tmp_path: Path) -> None:
    from xlstsr.datasets.root import OutputPathError, check_output, results_dir

    afile = tmp_path / "afile"
    afile.write_text("my notes")
    with pytest.raises(OutputPathError, match=r"--out .*afile is a file, not a folder"):
        check_output(afile, "--out")
    with pytest.raises(OutputPathError, match=r"--out .*afile is a file, not a folder"):
        results_dir(afile, "docs/results")
    with pytest.raises(OutputPathError, match=r"--out .*afile/sub: cannot write into .*afile"):
        results_dir(afile / "sub", "docs/results")
    with pytest.raises(OutputPathError, match=r"--json .* is a folder: give a file path, e.g. "
                       r".*summary\.json"):
        check_output(tmp_path, "--json", file_name="summary.json")
    # the fix the messages name works: a file path in that folder, a folder path
    assert check_output(tmp_path / "summary.json", "--json", file_name="summary.json")
    assert results_dir(tmp_path / "new" / "pages", "docs/results") == tmp_path / "new" / "pages"
    assert afile.read_text() == "my notes"  # nothing replaced


#: one child Python runs every case's command line in turn (a fresh ``python benchmarks/X.py``
#: each cost 8-13 s, mostly imports): each as ``__main__`` by runpy, in its own folder, its
#: exit code and stderr recorded as the interpreter would give them
_CHILD = r"""
import json, os, runpy, sys, traceback, warnings
from io import StringIO
bench, cases, report = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
sys.path.insert(0, bench)  # as `python benchmarks/X.py` puts the script's folder first
out = {}
for key, script, cwd, argv in cases:
    os.chdir(cwd)
    err, rc = StringIO(), 0
    sys.argv = [os.path.join(bench, script), *argv]
    old = sys.stderr
    sys.stderr = err
    try:
        with warnings.catch_warnings():  # each run shows its own warnings afresh
            runpy.run_path(sys.argv[0], run_name="__main__")
    except SystemExit as e:  # what the interpreter does with it at exit
        code = e.code
        if code is None:
            rc = 0
        elif isinstance(code, int):
            rc = code
        else:
            print(code, file=err)
            rc = 1
    except BaseException:
        traceback.print_exc(file=err)
        rc = 1
    finally:
        sys.stderr = old
    out[key] = {"returncode": rc, "stderr": err.getvalue()}
with open(report, "w") as f:
    json.dump(out, f)
"""

_BAD_PATHS = [
    ("zarr_compression.py", ["--smoke", "--out", "afile"], "--out afile is a file"),
    ("engine.py", ["--smoke", "--out", "afile"], "--out afile is a file"),
    ("bench_models.py", ["--smoke", "--out", "afile"], "--out afile is a file"),
    ("adaptation.py", ["--smoke", "--out", "afile"], "--out afile is a file"),
    ("correction_variants.py", ["--smoke", "--out", "afile"], "--out afile is a file"),
    ("target_scale_sisr.py", ["--smoke", "--out", "afile"], "--out afile is a file"),
    ("one_level_up.py", ["--smoke", "--out", "afile"], "--out afile is a file"),
    ("one_level_up.py", ["--smoke", "--json", "jsondir"],
     "--json jsondir is a folder: give a file path, e.g. jsondir/one_level_up.json"),
    ("scale_invariance.py", ["--smoke", "--out", "afile"], "--out afile is a file"),
    ("scale_invariance.py", ["--smoke", "--json", "jsondir"],
     "--json jsondir is a folder: give a file path, e.g. jsondir/scale_invariance.json"),
    ("select_disr.py", ["--smoke", "--work", "afile"], "--work afile is a file"),
    ("disr_ground.py", ["--smoke", "--work", "afile"], "--work afile is a file"),
    ("sisr_ceiling.py", ["--smoke", "--export", "jsondir"], "--export jsondir is a folder"),
]


@pytest.fixture(scope="module")
def bad_path_runs(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every case of ``_BAD_PATHS`` run by one child Python, each in its own folder holding a
    file ``afile`` and an empty folder ``jsondir``: ``{case index: (folder, CompletedProcess)}``."""
    import json
    import os

    base = tmp_path_factory.mktemp("bad_paths")
    cases = []
    for i, (script, argv, _flag) in enumerate(_BAD_PATHS):
        cwd = base / f"case{i}"
        cwd.mkdir()
        (cwd / "afile").write_text("my notes")
        (cwd / "jsondir").mkdir()
        cases.append([str(i), script, str(cwd), argv])
    report = base / "report.json"
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(BENCH), json.dumps(cases), str(report)], cwd=base,
        text=True, capture_output=True, timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1", "XLSTSR_DATA": ""})
    assert done.returncode == 0 and report.is_file(), done.stderr[-2000:]
    got = json.loads(report.read_text())
    return {int(k): (base / f"case{k}", subprocess.CompletedProcess(
        _BAD_PATHS[int(k)][0], v["returncode"], "", v["stderr"])) for k, v in got.items()}


@pytest.mark.parametrize("case", range(len(_BAD_PATHS)),
                         ids=[f"{s}-{' '.join(a)}" for s, a, _ in _BAD_PATHS])
def test_bad_output_path_refused_in_one_line_before_any_work(bad_path_runs: dict,
                                                             case: int) -> None:
    # before: the whole run, then IsADirectoryError / FileExistsError tracebacks, nothing written
    script, _argv, flag = _BAD_PATHS[case]
    folder, done = bad_path_runs[case]
    assert done.returncode == 1, done.stderr[-2000:]
    assert done.stderr.strip().startswith(f"{script}: {flag}"), done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "\n" not in done.stderr.strip()
    assert sorted(p.name for p in folder.iterdir()) == ["afile", "jsondir"]
    assert not any((folder / "jsondir").iterdir())


# -- 3. select_disr.py on held-back data ---------------------------------------------------------


@pytest.mark.usefixtures("bench_env")
def test_select_disr_refuses_held_back_data(shared_data: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # before: a CalledProcessError traceback, the cause in a child's train.log
    root = heldback_pairs_folder(shared_data, tmp_path / "hb", {"301": "020", "302": "002"})
    monkeypatch.setenv("XLSTSR_DATA", str(root))
    sd = load_benchmark("select_disr")

    def no_child(*a, **k):
        raise AssertionError("a training was started")

    monkeypatch.setattr(sd.subprocess, "run", no_child)
    with pytest.raises(SystemExit) as e:
        sd.main(["--smoke", "--out", str(tmp_path / "o")])
    msg = str(e.value.code)
    assert msg.startswith(f"select_disr.py: {root} is not the project's own data")
    assert f"accuracy_modis_aster.py --root {root}" in msg
    assert not (tmp_path / "o").exists()


@pytest.mark.usefixtures("bench_env")
def test_select_disr_training_failure_is_one_line(shared_data: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    sd = load_benchmark("select_disr")

    def failing(cmd, *, cwd=None, stdout=None, stderr=None, check=False):
        stdout.write("Traceback ...\nInputNotFoundError: no MODIS/ASTER pair '001'\n")
        if check:
            raise subprocess.CalledProcessError(1, cmd)
        return subprocess.CompletedProcess(cmd, 1)

    monkeypatch.setattr(sd.subprocess, "run", failing)
    with pytest.raises(SystemExit) as e:
        sd.main(["--smoke", "--out", str(tmp_path / "o"), "--jobs", "1"])
    msg = str(e.value.code)
    assert "training failed" in msg and "no MODIS/ASTER pair '001'" in msg
    assert "train.log" in msg


# -- 4. accuracy_modis_aster.py with no held-out pair --------------------------------------------


@pytest.mark.usefixtures("bench_env")
def test_accuracy_refuses_a_folder_with_no_held_out_pair(shared_data: Path, tmp_path: Path) -> None:
    # 401 = the training pair 020, 402 listed with its MODIS LST only: before, exit 0 and a
    # page of "0 evaluation pairs" with a broken table
    root = heldback_pairs_folder(shared_data, tmp_path / "hb", {"401": "020", "402": "020"})
    for f in (root / "modis_aster").glob("402_*"):
        if "modis_lst" not in f.name:
            f.unlink()
    acc = load_benchmark("accuracy_modis_aster")
    with contextlib.redirect_stdout(io.StringIO()), pytest.raises(SystemExit) as e:
        acc.main(["--root", str(root), "--smoke", "--out", str(tmp_path / "o")])
    msg = str(e.value.code)
    assert "no pair to score is held out from the bundled models' training" in msg
    assert "401" in msg and "402: missing" in msg and "add held-out pairs" in msg
    assert not (tmp_path / "o").exists()
    # the fix it names: a held-out pair added (the evaluation pair 002 as 403) is scored
    heldback_pairs_folder(shared_data, tmp_path / "hb2", {"401": "020", "403": "002"})
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert acc.main(["--root", str(tmp_path / "hb2"), "--smoke", "--methods", "bicubic",
                         "--out", str(tmp_path / "o2")]) == 0
    assert "| bicubic | 1 |" in (tmp_path / "o2" / "accuracy.md").read_text()
    assert acc.protocol_table(acc.pd.DataFrame({"protocol": [], "method": []}), []) == ""


# -- 5. scale_invariance.py: one folder given two ways ------------------------------------------


@pytest.mark.usefixtures("bench_env")
def test_scale_invariance_one_folder_given_two_ways_is_one_folder(
        shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # before: taken as two folders, every test date a training one: "nothing to score"
    eco = tmp_path / "data" / "ecostress_la"
    ecostress_subset(shared_data / "ecostress_la", eco, 6)
    si = load_benchmark("scale_invariance")
    got = {}

    def stop(tr_ops, te_ops, split, smoke, left_out):
        got.update(tr=tr_ops, te=te_ops, split=split)
        raise StopBenchmark

    monkeypatch.setattr(si, "enough_overpasses", stop)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(StopBenchmark):
            si.main(["--train", str(tmp_path / "data"), "--test", str(eco), "--smoke",
                     "--no-stats", "--json", str(tmp_path / "si.json")])
    assert got["split"].startswith("one folder (ecostress_la)")
    assert got["te"] and not set(got["tr"]) & set(got["te"])


# -- 6. scale_invariance.py: the page's command names every option given ------------------------


def test_scale_invariance_page_command_names_outputs_and_threads() -> None:
    si = load_benchmark("scale_invariance")
    args = argparse.Namespace(
        smoke=True, train=Path("eco6"), test=Path("ecoT"), split="position", psf="none",
        bounds="land", epochs=1, seed=0, no_stats=True, threads=2, json=Path("si2/si.json"),
        out=Path("heldback_results"), given_out=Path("si2/pages"))
    cmd = si.page_command(args)
    assert cmd == ("python benchmarks/scale_invariance.py --smoke --train eco6 --test ecoT "
                   "--no-stats --threads 2 --json si2/si.json --out si2/pages")
    args.threads, args.json, args.given_out = 1, None, None
    assert cmd.startswith(si.page_command(args))  # the published run's command is unchanged
    assert si.page_command(args).endswith("--no-stats")
