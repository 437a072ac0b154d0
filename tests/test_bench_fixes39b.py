"""Benchmark fixes of probe 39b: engine.py keeps the hand-written items of engine.md when it
rewrites the page (6) and refuses a file without raw figures in one line; bad --threads / --jobs
/ --device values are refused by the parsers (8); the pages name the cores of the machine that
ran them, not a fixed "2-core machine" (9)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from helpers import bench_loader

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "results" / "engine.md"
HAND = "(By hand, session 15.)"


@pytest.fixture
def bench(monkeypatch, tmp_path):
    return bench_loader(monkeypatch, tmp_path)


def _raw() -> dict:
    text = PAGE.read_text()
    return json.loads(text.split("```json\n", 1)[1].split("\n```", 1)[0])


def _reading(text: str) -> list[str]:
    return text.split("## Reading\n\n", 1)[1].split("\n## Notes", 1)[0].splitlines()


# -- 6. engine.md's hand-written items -----------------------------------------------------------


def test_engine_render_keeps_the_pages_hand_written_item(bench, tmp_path):
    eng = bench("engine")
    src = tmp_path / "given" / "engine.md"
    src.parent.mkdir()
    shutil.copy(PAGE, src)
    assert eng.main(["--render", str(src), "--out", str(tmp_path / "out")]) == 0
    new = (tmp_path / "out" / "engine.md").read_text()
    # the published page rewritten from its own figures is the published page
    assert new == PAGE.read_text()
    reading = _reading(new)
    assert reading[0] == eng.HAND_ITEM and HAND in reading[1]
    assert new.count(HAND) == 1


def test_engine_render_of_a_json_keeps_the_replaced_pages_items(bench, tmp_path):
    eng = bench("engine")
    src = tmp_path / "raw.json"
    src.write_text(json.dumps(_raw()))
    out = tmp_path / "out"
    out.mkdir()
    (out / "engine.md").write_text(f"## Reading\n\n{eng.HAND_ITEM}\n- mine, by hand\n  still "
                                   "mine\n- generated\n")
    assert eng.main(["--render", str(src), "--out", str(out)]) == 0
    reading = _reading((out / "engine.md").read_text())
    assert reading[:3] == [eng.HAND_ITEM, "- mine, by hand", "  still mine"]
    assert "- generated" not in reading


@pytest.mark.parametrize("opt,stubs", [
    ("--rerun-profile", {"bench_profile": "profile"}),
    ("--rerun-fast", {"bench_real_fast": "real_fast"}),
    ("--rerun-scaling", {"bench_scaling": "scaling"}),
])
def test_engine_reruns_keep_the_pages_hand_written_item(bench, tmp_path, monkeypatch, opt, stubs):
    """The measurement is stubbed with the page's own figure (it takes minutes): what is tested
    is the page the rerun writes."""
    eng = bench("engine")
    raw = _raw()
    monkeypatch.setattr(eng, "make_cube", lambda *a, **k: {})
    for fn, key in stubs.items():
        monkeypatch.setattr(eng, fn, lambda *a, _v=raw[key], **k: json.loads(json.dumps(_v)))
    src = tmp_path / "engine.md"
    shutil.copy(PAGE, src)
    assert eng.main([opt, str(src), "--out", str(tmp_path / "out")]) == 0
    reading = _reading((tmp_path / "out" / "engine.md").read_text())
    assert reading[0] == eng.HAND_ITEM and HAND in reading[1]


def test_engine_kept_items_only_marked_list_items(bench, tmp_path):
    eng = bench("engine")
    md = tmp_path / "engine.md"
    md.write_text(f"{eng.HAND_ITEM}\n- one\n  two\n- generated\n{eng.HAND_ITEM}\n\n- unmarked\n"
                  f"{eng.HAND_ITEM}\n- three\n")
    assert eng.kept_items(md) == [eng.HAND_ITEM, "- one", "  two", eng.HAND_ITEM, "- three"]
    assert eng.kept_items(tmp_path / "none.md") == []


@pytest.mark.parametrize("text,match", [
    ("# not an engine page\n", "no ```json block"),
    ("# broken\n```json\n{\"args\": \n```\n", "not JSON"),
    ("# other\n```json\n{\"a\": 1}\n```\n", "not the raw figures"),
])
@pytest.mark.parametrize("opt", ["--render", "--rerun-profile"])
def test_engine_file_without_raw_figures_is_one_line(bench, tmp_path, opt, text, match):
    eng = bench("engine")
    md = tmp_path / "page.md"
    md.write_text(text)
    with pytest.raises(SystemExit, match=match):
        eng.main([opt, str(md), "--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit, match="no such file"):
        eng.main([opt, str(tmp_path / "missing.md"), "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


# -- 8. option values ----------------------------------------------------------------------------


@pytest.mark.parametrize("script,argv", [
    ("bench_models", ["--threads", "0"]),
    ("disr_degraded_cube", ["--threads", "0"]),
    ("one_level_up", ["--threads", "-1"]),
    ("scale_invariance", ["--threads", "0"]),
    ("select_disr", ["--jobs", "0"]),
    ("disr_ground", ["--jobs", "0"]),
    ("disr_ground", ["--jobs", "two"]),
    ("sisr_ceiling", ["--device", "gpu"]),
])
def test_bad_option_values_are_refused_by_the_parser(bench, tmp_path, capsys, script, argv):
    mod = bench(script)
    with pytest.raises(SystemExit) as e:
        mod.main([*argv, "--smoke", "--out", str(tmp_path / "out")])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {argv[0]}" in err and "Traceback" not in err
    assert "e.g." in err or "use auto" in err  # names the fix
    assert not (tmp_path / "out").exists()


def test_sisr_ceiling_cuda_without_cuda_is_refused(bench, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present here")
    mod = bench("sisr_ceiling")
    with pytest.raises(SystemExit) as e:
        mod.main(["--device", "cuda", "--smoke", "--out", str(tmp_path / "out")])
    assert e.value.code == 2
    assert "no CUDA device here" in capsys.readouterr().err
    assert mod.device_arg("auto") == "auto" and mod.device_arg("CPU") == "cpu"


# -- 9. the machine's cores ----------------------------------------------------------------------


def test_coregistration_page_names_the_machines_cores(bench, monkeypatch):
    co = bench("coregistration")
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    res = {"default": {"pairs": 1, "seconds": {"new": 1.0, "old": 2.0},
                       "cpu_s": {"new": 1.0, "old": 2.0}, "ratio": 2.0, "cpu_ratio": 2.0,
                       "peak_mib": {"new": 1.0, "old": 1.0}, "max_shift_difference_m": 0.0}}
    text = co.render(res, 60.0, False)
    assert "16 CPU cores" in text and "2-core" not in text
