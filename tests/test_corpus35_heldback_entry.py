"""Held-back entry points of issues 13, 14 and 16 (corpus 35, part 1): the MODIS/ASTER and cube
benchmarks an independent checker reruns on a data folder laid out like ``../shared/data`` but
holding other pair ids, other cube folder names and other pairs.

Each test builds a small folder in ``tmp_path`` (links to a few shared files under new ids) and
stops the script before its long computations (spies), or calls the function that decides.
None writes into ``docs/results``.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from helpers import (
    StopBenchmark,
    heldback_pairs_folder,
    load_benchmark,
    load_script,
    stub_held_back_cube,
)

# -- 1/2. bench_models.py: --root, the folder's pairs minus its training pairs ---------------------


def _bench_models_spied(monkeypatch):
    """bench_models with its measurements replaced by spies recording (pairs, root)."""
    bm = load_benchmark("bench_models")
    got = {}

    def deg(pairs, meths, root=None):
        got["pairs"], got["root"] = list(pairs), root
        return {}

    monkeypatch.setattr(bm, "degraded", deg)
    monkeypatch.setattr(bm, "real_truth", lambda pairs, meths, root=None: {})
    monkeypatch.setattr(bm, "speed", lambda meths, size: {})
    return bm, got


def test_bench_models_scores_a_held_back_folder_by_root(shared_data, tmp_path, monkeypatch,
                                                        threads):
    # before: no --root (argparse refused it); through $XLSTSR_DATA the hard-coded EVAL_PAIRS
    # ('002') were opened in a folder numbering its pairs 301...: a raw InputNotFoundError
    root = heldback_pairs_folder(shared_data, tmp_path / "hb", {"301": "002", "302": "015", "303": "001"})
    bm, got = _bench_models_spied(monkeypatch)
    out = tmp_path / "out"
    assert bm.main(["--root", str(root), "--no-classical", "--out", str(out)]) == 0
    assert got == {"pairs": ["301", "302"], "root": str(root)}  # 303 is shared 001: trained
    page = (out / "models.md").read_text()
    line = next(x for x in page.splitlines() if "Pairs:" in x)
    assert str(root) in line and "EVAL_PAIRS" not in line and "none used in training" in line
    assert f"**Held-back data**: `{root / 'modis_aster'}`" in page
    # --pairs takes the folder's own ids (it refused 301 and advised pairs the folder lacks)
    assert bm.main(["--root", str(root), "--pairs", "302", "--smoke", "--no-classical",
                    "--out", str(out)]) == 0
    assert got["pairs"] == ["302"]


def test_bench_models_refuses_a_training_pair_of_a_renumbered_folder(shared_data, tmp_path,
                                                                   monkeypatch, capsys, threads):
    # before: a held-back folder numbered from 001 again whose '002' is shared 001 (a training
    # pair): '002' is an EVAL_PAIRS id, so it was scored and the page said "none used in training"
    root = heldback_pairs_folder(shared_data, tmp_path / "hb", {"002": "001", "015": "002"})
    monkeypatch.setenv("XLSTSR_DATA", str(root))
    bm, got = _bench_models_spied(monkeypatch)
    with pytest.raises(SystemExit) as e:
        bm.main(["--pairs", "002", "--smoke", "--no-classical", "--out", str(tmp_path / "o")])
    assert e.value.code == 2 and not got
    err = capsys.readouterr().err
    assert "002 trained the bundled models" in err and "--pairs 015" in err
    assert bm.main(["--smoke", "--no-classical", "--out", str(tmp_path / "o")]) == 0
    assert got["pairs"] == ["015"]  # the folder's held-out pair, by its MODIS LST
    with pytest.raises(SystemExit):  # an id the folder does not hold: named, with its own ids
        bm.main(["--pairs", "301", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert "301 not in" in err and str(root / "modis_aster") in err and "--pairs 015" in err


# -- 3. sisr_cube.py: a pair the ASTER protocol cannot score is left out and named ----------------


def test_sisr_cube_aster_pair_without_overlap_is_left_out(shared_data, tmp_path, monkeypatch):
    # before: pair 401 (an ASTER tile of other ground) ended the whole run with
    # "the fine field does not overlap the LST", naming no pair, writing nothing
    root = heldback_pairs_folder(shared_data, tmp_path / "hb",
                         {"401": ("002", "002", "034"), "302": "015"})
    sc = load_benchmark("sisr_cube")
    acc = sc.accuracy()
    from xlstsr.methods import get_method

    # 401's offset is estimated for real (it raises NoOverlapError at once); 302's taken as
    # estimated and its scores stubbed: seconds, not the protocol's minute
    monkeypatch.setitem(sc._OFFSETS, (str(root), "302"), (None, {"reliable": True}))
    monkeypatch.setattr(acc, "score", lambda sr, lst, aster, **k: {"rmse": 1.0})
    left: dict[str, str] = {}
    ast = sc.score_aster(["401", "302"], {"bicubic": get_method("bicubic")}, root, left)
    assert [r["pair"] for r in ast["bicubic"]] == ["302"]
    assert list(left) == ["401"] and left["401"].startswith("NoOverlapError: ")


# -- 4. sisr_cube.py --held-back applies --pairs ---------------------------------------------------


def test_sisr_cube_held_back_scores_only_the_pairs_asked(shared_data, tmp_path, monkeypatch):
    # before: --held-back --pairs 303 scored every pair of the folder against ASTER
    root = heldback_pairs_folder(shared_data, tmp_path / "hb", {"301": "002", "302": "015", "303": "034"})
    sc = load_benchmark("sisr_cube")
    asked = []

    def spy(pairs, methods, root, left_out=None):
        asked.append(list(pairs))
        return {m: [] for m in methods}

    stub_held_back_cube(sc, monkeypatch, spy)
    out = tmp_path / "out"
    args = SimpleNamespace(root=str(root), pairs="303", smoke=False)
    assert sc.held_back(args, out) == 0
    assert asked == [["303"]]
    assert "`--pairs 303`" in (out / "sisr_cube_held_back.md").read_text()
    args.pairs = "999"  # not a pair of the folder: refused before the cube is scored
    with pytest.raises(SystemExit, match=r"999.*301, 302, 303"):
        sc.held_back(args, out)
    assert asked == [["303"]]


# -- 5. the cube found as engine.py finds it: another folder name, or the cube folder itself ------


def _tiny_cube(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "catalog.json").write_text("{}")
    pd.DataFrame({"window": [7], "row_off": [0], "col_off": [0], "n_dates_mod11a1": [1]}
                 ).to_csv(folder / "windows.csv", index=False)
    return folder


def test_cube_folder_of_another_name_or_given_itself_is_found(tmp_path):
    # before: only <root>/modis_h18v04_2020 was looked at: a cube of 2021, or --root naming the
    # cube folder, was refused with "pass --root with the data folder holding such a cube"
    rec = load_script("train_bundled")
    cube = _tiny_cube(tmp_path / "data" / "modis_h18v04_2021")
    data = cube.parent
    assert rec.cube_dir(data) == cube and rec.cube_dir(cube) == cube
    assert rec.cube_windows_table(data).window.tolist() == [7]
    _tiny_cube(tmp_path / "data" / "modis_h18v04_2022")  # two cubes: which one is asked
    with pytest.raises(SystemExit, match="modis_h18v04_2021, modis_h18v04_2022"):
        rec.cube_dir(data)


@pytest.mark.parametrize("name", ["sisr_cube", "one_level_up"])
def test_cube_benchmarks_check_the_cube_they_find(name, tmp_path, monkeypatch, threads):
    cube = _tiny_cube(tmp_path / "data" / "modis_h18v04_2021")
    module = load_benchmark(name)
    argv = (["--held-back", "--smoke"] if name == "sisr_cube"
            else ["--smoke", "--json", str(tmp_path / "o" / "s.json")])
    for root in (cube.parent, cube):
        seen = []

        def spy(folder, *a, _seen=seen, **k):
            _seen.append(Path(folder))
            raise StopBenchmark

        monkeypatch.setattr(module, "check_held_back_cube", spy)
        with pytest.raises(StopBenchmark):
            module.main([*argv, "--root", str(root), "--out", str(tmp_path / "o")])
        assert seen == [cube], root


# -- 7. split benchmarks without --root: another $XLSTSR_DATA refused in one line ----------------


@pytest.mark.parametrize("name", ["conserve_forms", "adaptation", "coregistration",
                                  "forward_fold", "correction_variants"])
def test_split_benchmarks_refuse_held_back_data_in_one_line(name, tmp_path, monkeypatch,
                                                            threads):
    # before: even --smoke ended in a raw InputNotFoundError traceback ('002', '040')
    monkeypatch.setenv("XLSTSR_DATA", str(tmp_path))
    module = load_benchmark(name)
    with pytest.raises(SystemExit) as e:
        module.main(["--smoke", "--out", str(tmp_path / "o")])
    msg = str(e.value.code)
    assert msg.startswith(f"{name}.py: {tmp_path} is not the project's own data") and "\n" not in msg
    assert f"benchmarks/accuracy_modis_aster.py --root {tmp_path}" in msg
    assert not (tmp_path / "o").exists()


def test_split_benchmarks_run_on_the_project_data(shared_data, monkeypatch):
    monkeypatch.delenv("XLSTSR_DATA", raising=False)
    acc = load_benchmark("accuracy_modis_aster")
    acc.refuse_held_back_data("x.py", "scores EVAL_PAIRS")  # no refusal
    monkeypatch.setenv("XLSTSR_DATA", os.fspath(shared_data / "modis_aster"))  # inside it
    acc.refuse_held_back_data("x.py", "scores EVAL_PAIRS")


# -- 9. accuracy_modis_aster.py --methods limits the scale-correction table ---------------------


def test_accuracy_methods_limit_the_correction_methods(shared_data, tmp_path, monkeypatch):
    # before: --methods bicubic still ran (and published) tsharp, dms, sisr, disr and
    # disr (degraded) with and without the correction
    acc = load_benchmark("accuracy_modis_aster")
    made = []
    real = acc.get_method

    def spy(name, **opts):
        made.append(name if not opts else f"{name} {opts}")
        return real(name, **opts)

    def stop(*a, **k):  # the first pair's offset: every method has been instantiated
        raise StopBenchmark

    monkeypatch.setattr(acc, "get_method", spy)
    monkeypatch.setattr(acc, "pair_offset", stop)
    for methods, want in (("bicubic", ["bicubic"]),
                          ("bicubic,tsharp", ["bicubic", "tsharp", "tsharp"])):
        made.clear()
        with pytest.raises(StopBenchmark):
            acc.main(["--pairs", "002", "--methods", methods, "--no-anchor", "--no-figure",
                      "--out", str(tmp_path / "o")])
        assert made == want, methods
    assert list(acc.corrected_methods("disr")) == ["disr", "disr (degraded)"]
    assert list(acc.corrected_methods(None)) == list(acc.CORRECTED)
