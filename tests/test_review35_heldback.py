"""Review 35b of the held-back entry points: what a rerun of a page, or a run on a held-back
folder with one bad pair, did.

1. ``make bench`` reran scale_invariance.py with today's default bounds (land), not the LA
   bounds its page was measured with; the page's hand-written command lacked them too, and the
   docstring and page counted 2 scenes where 3 differ.
2. bench_models.py --root: a pair listed in pairs.csv with missing files ended every run in a
   raw FileNotFoundError.
3. bench_models.py --root: a pair whose ASTER tile does not overlap its MODIS window ended the
   run, naming no pair, writing nothing.
4. one_level_up.py --root: the page's command had no --root and named modis_h18v04_2020
   whatever cube was read.
5. sisr_cube.py --held-back with $XLSTSR_DATA: the page said ``--root None``.
6. engine.stac_catalog loaded by file path: ModuleNotFoundError for its sibling sisr_cube.

Nothing is written into docs/results.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import heldback_pairs_folder, load_benchmark, stub_held_back_cube

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


# -- 1. scale_invariance: the page's bounds, in make bench and on the page ------------------------


def test_make_bench_reruns_scale_invariance_with_the_pages_bounds():
    # before: run_all.ARGS had no scale_invariance.py entry: make bench took --bounds land
    spec = importlib.util.spec_from_file_location("_ra35b", BENCH / "run_all.py")
    ra = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ra)
    page = (ROOT / "docs" / "results" / "scale_invariance.md").read_text()
    written = re.search(r"Written by `python benchmarks/scale_invariance\.py([^`]*)`", page)
    assert written, "the page's first line changed: update this test"
    assert ra.ARGS.get("scale_invariance.py", []) == written.group(1).split()
    assert "--bounds la" in written.group(1)
    # the hand-written command of the time-split section names the same bounds
    i = page.index("--split time")
    cmd = page[page.rfind("`", 0, i):page.index("`", i)]
    assert "--bounds la" in " ".join(cmd.split()), cmd


def test_scale_invariance_quotes_the_scenes_the_bounds_differ_on(shared_data):
    # before: "2 scenes" in the docstring and on the page; 3 scenes differ
    from xlstsr.datasets import ecostress_scenes, open_ecostress_scene
    from xlstsr.datasets.ecostress import ECOSTRESS_BOUNDS, LAND_BOUNDS

    d = shared_data / "ecostress_la"
    scenes = ecostress_scenes(d)
    share = {}
    for key in scenes.index:  # every clear land pixel once, counted against both bounds
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            da = open_ecostress_scene(key, d, resolution=None, bounds=(1.0, 1000.0))
        v = da.values[np.isfinite(da.values)]
        lo, hi = ECOSTRESS_BOUNDS[scenes.loc[key, "day_night"]]
        extra = int(((v < lo) | (v > hi)).sum()
                    - ((v < LAND_BOUNDS[0]) | (v > LAND_BOUNDS[1])).sum())
        if extra:
            share[key] = extra / da.attrs["clear_pixels"]
    doc = " ".join(_docstring(BENCH / "scale_invariance.py").split())
    m = re.search(r"at most ([\d.]+) % of the clear pixels of (\d+) scenes", doc)
    page = (ROOT / "docs" / "results" / "scale_invariance.md").read_text().splitlines()[2]
    p = re.search(r"keeps at most ([\d.]+) % more of (\d+) scenes' pixels", page)
    assert m and p, "the sentences changed: update this test"
    for pct, n in (m.groups(), p.groups()):
        assert int(n) == len(share), (n, share)
        assert max(share.values()) <= float(pct) / 100


def _docstring(path: Path) -> str:
    import ast

    return ast.get_docstring(ast.parse(path.read_text())) or ""


# -- 2. bench_models --root: a pair listed with missing files -------------------------------------


def _bench_models_spied(monkeypatch):
    bm = load_benchmark("bench_models")
    got = {}

    def deg(pairs, meths, root=None):
        got["pairs"] = list(pairs)
        return {}

    monkeypatch.setattr(bm, "degraded", deg)
    monkeypatch.setattr(bm, "real_truth", lambda pairs, meths, root=None: {})
    monkeypatch.setattr(bm, "speed", lambda meths, size: {})
    return bm, got


def test_bench_models_leaves_out_a_pair_with_missing_files(shared_data, tmp_path, monkeypatch,
                                                          capsys, threads):
    # before: FileNotFoundError from seen_in_training, with or without --pairs
    root = heldback_pairs_folder(shared_data, tmp_path / "hb", {"301": "002", "303": "015", "304": None})
    bm, got = _bench_models_spied(monkeypatch)
    out = tmp_path / "out"
    assert bm.main(["--root", str(root), "--no-classical", "--out", str(out)]) == 0
    assert got["pairs"] == ["301", "303"]
    page = (out / "models.md").read_text()
    left = next(x for x in page.splitlines() if x.startswith("**Left out**"))
    assert "304: missing 304_modis_lst_1km.tif" in left
    assert bm.main(["--root", str(root), "--pairs", "301,304", "--no-classical",
                    "--out", str(out)]) == 0
    assert got["pairs"] == ["301"] and "304: missing" in (out / "models.md").read_text()
    with pytest.raises(SystemExit) as e:  # only the incomplete pair asked for: refused, named
        bm.main(["--root", str(root), "--pairs", "304", "--out", str(out)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "304: missing" in err and "--pairs 301,303" in err


# -- 3. bench_models --root: a pair whose ASTER tile does not overlap ------------------------------


def test_bench_models_leaves_out_a_pair_without_overlap(shared_data, tmp_path, monkeypatch,
                                                        threads):
    # before: NoOverlapError ended the run, naming no pair, writing no page
    root = heldback_pairs_folder(shared_data, tmp_path / "hb",
                         {"401": ("002", "002", "034"), "302": "015"})
    bm = load_benchmark("bench_models")
    monkeypatch.setattr(bm, "methods", lambda classical: {"bicubic": ("bicubic", {})})
    monkeypatch.setattr(bm, "speed", lambda meths, size: {})
    out = tmp_path / "out"
    assert bm.main(["--root", str(root), "--smoke", "--no-classical", "--out", str(out)]) == 0
    assert list(bm.LEFT_OUT) == ["401"] and "NoOverlapError" in bm.LEFT_OUT["401"]
    page = (out / "models.md").read_text()
    assert "(302)" in next(x for x in page.splitlines() if "Pairs:" in x)  # the next pair scored
    left = next(x for x in page.splitlines() if x.startswith("**Left out**"))
    assert "401: real truth: NoOverlapError" in left
    assert re.search(r"^\| bicubic \| [\d.]+ \|", page, re.M)  # both tables hold 302


def test_bench_models_help_says_where_another_root_writes(capsys):
    bm = load_benchmark("bench_models")
    with pytest.raises(SystemExit):
        bm.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    out_help = text[text.rindex("--out OUT"):text.rindex("--smoke ")]  # its help only
    assert "--root" in out_help and "./heldback_results" in out_help, out_help


# -- 4. one_level_up: the page names --root and the cube read -------------------------------------


def test_one_level_up_page_names_the_root_and_the_cube(tmp_path):
    # before: "Written by `python benchmarks/one_level_up.py --smoke`" and `modis_h18v04_2020`
    olu = load_benchmark("one_level_up")
    cube = tmp_path / "hb" / "modis_h18v04_2021"
    args = SimpleNamespace(smoke=True, epochs=1, root=tmp_path / "hb")
    cmd, data = olu.page_source(args, {"cube": str(cube), "root": str(tmp_path / "hb")})
    assert cmd.endswith(f"--root {tmp_path / 'hb'}") and "--smoke" in cmd
    assert f"`{cube}`" in data and "modis_h18v04_2020" not in data and "2020" not in data
    # the folder given by $XLSTSR_DATA (no --root): the command names it
    args.root = None
    cmd, _ = olu.page_source(args, {"cube": str(cube), "root": str(tmp_path / "hb")})
    assert cmd.endswith(f"--root {tmp_path / 'hb'}")
    # the project's own data: the page as published
    cmd, data = olu.page_source(SimpleNamespace(smoke=False, epochs=40, root=None),
                                {"cube": "/x/modis_h18v04_2020", "root": None})
    assert cmd == "python benchmarks/one_level_up.py"
    assert data.startswith("the MOD11A1 datacube `modis_h18v04_2020`") and "2020)" in data


def test_one_level_up_records_the_cube_and_root_it_read():
    # main puts both into the summary the page is written from
    src = (BENCH / "one_level_up.py").read_text()
    assert '"cube": str(recipe().cube_dir(data_dir))' in src
    assert '"root": None if is_project_data(data_dir) else str(data_dir)' in src


# -- 5. sisr_cube --held-back with $XLSTSR_DATA: the page names the folder ----------------------


def test_sisr_cube_held_back_page_names_the_env_folder(shared_data, tmp_path, monkeypatch):
    # before: "Written by `python benchmarks/sisr_cube.py --held-back --root None`"
    root = heldback_pairs_folder(shared_data, tmp_path / "hb", {"303": "034"})
    monkeypatch.setenv("XLSTSR_DATA", str(root))
    sc = load_benchmark("sisr_cube")
    stub_held_back_cube(sc, monkeypatch, lambda pairs, methods, root, left_out=None:
                        {m: [] for m in methods})
    out = tmp_path / "out"
    assert sc.held_back(SimpleNamespace(root=None, pairs=None, smoke=True), out) == 0
    line = (out / "sisr_cube_held_back.md").read_text().splitlines()[2]
    assert "--root None" not in line and f"--held-back --smoke --root {root}`" in line


# -- 6. engine.stac_catalog loaded by file path -------------------------------------------------


def test_engine_stac_catalog_finds_its_sibling_from_anywhere(tmp_path, monkeypatch):
    # before: `from sisr_cube import recipe` without benchmarks/ on sys.path:
    # ModuleNotFoundError when engine.py was loaded by path from another folder
    cube = tmp_path / "data" / "modis_h18v04_2021"
    cube.mkdir(parents=True)
    (cube / "catalog.json").write_text("{}")
    (cube / "windows.csv").write_text("window\n1\n")
    monkeypatch.setattr(sys, "path", [p for p in sys.path
                                      if Path(p or ".").resolve() != BENCH.resolve()])
    for name in ("sisr_cube", "train_bundled"):  # imported afresh, as in a new process
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.chdir(tmp_path)
    spec = importlib.util.spec_from_file_location("_engine35b", BENCH / "engine.py")
    engine = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(engine)
    assert engine.stac_catalog(tmp_path / "data") == cube / "catalog.json"
