"""Smoke / partial benchmark runs never replace the published pages (probe 37b, items 1, 2, 3,
7): engine.py --render of a smoke run's page, sisr_ceiling.py --report of a subset (or a
direct --configs / --budget run), scale_invariance.py's --split time command (its --json in
docs/results) and other protocol options, one_level_up.py's --epochs / --seed, adaptation.py
--adapt; adaptation.md keeps its hand-written sections below the HAND line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import StopBenchmark, bench_loader, results_destination

from xlstsr.datasets.root import HELD_BACK_RESULTS

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def bench(monkeypatch, tmp_path):
    return bench_loader(monkeypatch, tmp_path)


# -- 1. engine.py --render ---------------------------------------------------------------------


def _engine_raw() -> dict:
    text = (REPO / "docs" / "results" / "engine.md").read_text()
    return json.loads(text.split("```json\n", 1)[1].split("\n```", 1)[0])


@pytest.mark.parametrize("args", [{"smoke": True}, {"smoke": False, "root": "/nonexistent/held"}])
def test_engine_render_of_a_smoke_or_held_back_run_is_not_published(bench, tmp_path, args):
    eng = bench("engine")
    raw = {**_engine_raw(), "args": args, "stac": None}
    page = tmp_path / "given" / "engine.md"
    page.parent.mkdir()
    page.write_text("# earlier\n```json\n" + json.dumps(raw) + "\n```\n")
    assert eng.main(["--render", str(page)]) == 0
    assert not (tmp_path / "docs").exists()  # was docs/results/engine.md
    assert (tmp_path / HELD_BACK_RESULTS / "engine.md").is_file()


def test_engine_render_of_a_measurement_still_publishes(bench, tmp_path, monkeypatch):
    monkeypatch.delenv("XLSTSR_DATA", raising=False)
    eng = bench("engine")
    raw = {**_engine_raw(), "args": {"smoke": False}, "stac": None}
    src = tmp_path / "raw.json"
    src.write_text(json.dumps(raw))
    assert eng.main(["--render", str(src)]) == 0
    assert (tmp_path / "docs" / "results" / "engine.md").is_file()


# -- 2. sisr_ceiling.py ------------------------------------------------------------------------


def _ceiling_results() -> dict:
    return json.loads((REPO / "docs" / "results" / "sisr_ceiling_results.json").read_text())


@pytest.mark.parametrize("edit", ["subset", "budget", "smoke"])
def test_sisr_ceiling_report_of_a_partial_results_file_is_held_back(bench, tmp_path, edit):
    mod = bench("sisr_ceiling")
    res = _ceiling_results()
    if edit == "subset":
        res = {"rescnn32x4": res["rescnn32x4"]}
    elif edit == "budget":
        res = {n: {**r, "budget_s": 5.0} for n, r in res.items()}
    else:  # trained on a --smoke export's sets
        res = {n: {**r, "smoke": True} for n, r in res.items()}
    (tmp_path / "r.json").write_text(json.dumps(res))
    assert mod.main(["--report", str(tmp_path / "r.json")]) == 0
    assert not (tmp_path / "docs").exists()
    assert (tmp_path / HELD_BACK_RESULTS / "sisr_ceiling.md").is_file()


def test_sisr_ceiling_report_of_the_full_results_publishes(bench, tmp_path):
    mod = bench("sisr_ceiling")
    (tmp_path / "r.json").write_text(json.dumps(_ceiling_results()))
    assert mod.main(["--report", str(tmp_path / "r.json")]) == 0
    assert (tmp_path / "docs" / "results" / "sisr_ceiling.md").is_file()


@pytest.mark.parametrize("argv", [["--configs", "rescnn32x4"], ["--budget", "5"]])
def test_sisr_ceiling_direct_partial_run_is_held_back(bench, tmp_path, monkeypatch, capsys,
                                                      argv):
    mod = bench("sisr_ceiling")

    def stop(*a, **k):  # the export reads the data: stop there, the folder is printed before
        raise StopBenchmark

    monkeypatch.setattr(mod, "export", stop)
    with pytest.raises(StopBenchmark):
        mod.main(argv)
    assert f"writing to {HELD_BACK_RESULTS}" in capsys.readouterr().out


def test_sisr_ceiling_results_carry_the_smoke_mark_of_their_sets(bench, tmp_path):
    mod = bench("sisr_ceiling")
    rng = np.random.default_rng(0)

    def group(n: int, tag: str) -> dict:
        dn = (15000 + rng.integers(0, 50, (n, 16, 16))).astype(np.uint16)
        return {f"{tag}_dn": dn, f"{tag}_pos": np.array([f"p{i % 2}" for i in range(n)]),
                f"{tag}_kind": np.array(["day"] * n)}

    sets = {**group(4, "train"), **group(2, "val"), **group(2, "test"),
            **group(0, "held_out"), **group(0, "held_apart"),
            "croatia_dn": np.zeros((0, 16, 16), np.uint16), "croatia_pos": np.array([], str),
            "smoke": np.array(True)}
    np.savez(tmp_path / "sets.npz", **sets)
    res = mod.train(tmp_path / "sets.npz", tmp_path / "r.json", ["smoke"], 5.0, "cpu",
                    {**mod.CONFIGS, **mod.SMOKE})
    assert res["smoke"]["smoke"] is True
    assert json.loads((tmp_path / "r.json").read_text())["smoke"]["smoke"] is True


# -- 3. scale_invariance.py, one_level_up.py ---------------------------------------------------


def _writes_to(mod, reader: str, argv, monkeypatch, capsys) -> Path:
    """The folder ``mod.main(argv)`` prints it writes to, the run stopped at its first read."""
    def stop(*a, **k):
        raise StopBenchmark

    monkeypatch.setattr(mod, reader, stop)
    with pytest.raises(StopBenchmark):
        mod.main(argv)
    line = next(ln for ln in capsys.readouterr().out.splitlines() if "writing to " in ln)
    return Path(line.split("writing to ", 1)[1].split()[0])


@pytest.mark.parametrize("argv", [
    # the command docs/results/scale_invariance.md gives for its time-split section
    ["--split", "time", "--bounds", "la", "--no-stats", "--json",
     "docs/results/scale_invariance_time_split.json"],
    ["--bounds", "la", "--epochs", "20"],
    ["--bounds", "la", "--seed", "2"],
    ["--bounds", "la", "--psf", "modis"],
])
def test_scale_invariance_other_protocol_is_held_back(bench, tmp_path, shared_data,
                                                       monkeypatch, capsys, argv):
    monkeypatch.setenv("XLSTSR_DATA", str(shared_data))
    mod = bench("scale_invariance")
    out = _writes_to(mod, "load_280", argv, monkeypatch, capsys)
    assert out.resolve() != (tmp_path / "docs" / "results").resolve()


def test_scale_invariance_page_protocol_publishes(bench, tmp_path, shared_data, monkeypatch,
                                                  capsys):
    monkeypatch.setenv("XLSTSR_DATA", str(shared_data))
    mod = bench("scale_invariance")
    out = _writes_to(mod, "load_280", ["--bounds", "la"], monkeypatch, capsys)
    assert out.resolve() == (tmp_path / "docs" / "results").resolve()


@pytest.mark.parametrize("kw,published", [
    ({"epochs": 20}, False), ({"seed": 1}, False),
    ({"epochs": 20, "json": Path("docs/results/x.json")}, False),
    ({"json": Path("elsewhere/x.json"), "smoke": True}, "elsewhere"), ({}, True)])
def test_one_level_up_other_epochs_or_seed_is_held_back(bench, tmp_path, shared_data, kw,
                                                        published):
    mod = bench("one_level_up")
    args = argparse.Namespace(**{"out": None, "json": None, "smoke": False, "epochs": 40,
                                 "seed": 0, **kw})
    out = mod.page_dir(args, shared_data).resolve()
    if published == "elsewhere":
        assert out == (tmp_path / "elsewhere").resolve()
    else:
        assert (out == (tmp_path / "docs" / "results").resolve()) is published


# -- 7. adaptation.py --------------------------------------------------------------------------


def test_adaptation_forced_setting_is_held_back(bench, tmp_path, shared_data, monkeypatch):
    monkeypatch.setenv("XLSTSR_DATA", str(shared_data))
    mod = bench("adaptation")
    out = results_destination(mod, ["--adapt", '{"steps": 10, "lr": 0.0001}'], monkeypatch)
    assert out == HELD_BACK_RESULTS


def test_adaptation_refuses_to_drop_an_unmarked_composite_page(bench, tmp_path, shared_data,
                                                               monkeypatch):
    monkeypatch.setenv("XLSTSR_DATA", str(shared_data))
    mod = bench("adaptation")
    out = tmp_path / "pages"
    out.mkdir()
    (out / "adaptation.md").write_text("# page\n\nWritten by `a`\n\n## Run 2\n\nWritten by `b`\n")

    def stop(*a, **k):  # a pair's read: the refusal comes before it (the run took 15 min)
        raise StopBenchmark

    monkeypatch.setattr(mod, "Pair", stop)
    with pytest.raises(SystemExit, match=r"(?s)holds 2 runs.*--out DIR"):
        mod.main(["--out", str(out)])


def test_adaptation_keeps_the_hand_sections(bench, tmp_path):
    mod = bench("adaptation")
    md = tmp_path / "adaptation.md"
    md.write_text(f"# old run\n\nWritten by `x`\n\n{mod.HAND}\n\n## Run 2\n\nWritten by `y`\n")
    assert mod.kept_sections(md) == f"{mod.HAND}\n\n## Run 2\n\nWritten by `y`"
    md.write_text("# one run\n\nWritten by `x`\n")
    assert mod.kept_sections(md) == ""
