"""The scale-invariance benchmark's protocol pieces (benchmarks/scale_invariance.py): the split by
ground keeps training and scored pixels apart by more than the receptive field, the law shift
reads k = 1 on a field that is exactly scale invariant and more where the fine detail is
stronger than the law extrapolates, and the gain bound never does worse than no correction."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from xlstsr.kernels.aggregate import radiometric_mean
from xlstsr.kernels.interp import cubic_upsample, nearest_upsample
from xlstsr.nn import build_model

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def si():
    spec = importlib.util.spec_from_file_location("_xlstsr_si", BENCH / "scale_invariance.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cascade(levels: int, w1: float, alpha: float, coarse_levels: int, seed: int) -> np.ndarray:
    """2 x 2 additive cascade whose within-block variance per step is exactly ``w1 s^alpha``
    (``s`` in pixels of the grid ``coarse_levels`` steps above the finest)."""
    rng = np.random.default_rng(seed)
    pats = np.array([[[1, -1], [-1, 1]], [[1, 1], [-1, -1]], [[1, -1], [1, -1]]], float)
    a = 300.0 + rng.standard_normal((4, 4))
    for j in range(levels):
        s = 2.0 ** (levels - 1 - j - coarse_levels)
        pat = pats[rng.integers(0, 3, a.shape)] * rng.choice([-1.0, 1.0], a.shape)[..., None, None]
        add = pat.transpose(0, 2, 1, 3).reshape(2 * a.shape[0], 2 * a.shape[1])
        a = nearest_upsample(a, 2) + np.sqrt(w1 * s**alpha) * add
    return a


def test_position_folds_keep_ground_apart(si):
    assert si.RF == build_model("rescnn", factor=4, channels=32, n_blocks=4).receptive_field
    for nx in (104, 96, 120):
        fs = si.folds(nx, "position")
        assert len(fs) == 2
        for _, (t0, t1), (s0, s1) in fs:
            assert t0 % 8 == 0 and t1 % 8 == 0 and t1 <= nx  # every aggregate nests
            # every scored column lies more than the receptive field from the training half
            gap = s0 - t1 if s0 >= t1 else t0 - s1
            assert gap >= si.RF and s1 - s0 >= 20
        (_, west, _), (_, east, _) = fs
        assert east[0] - west[1] >= si.GAP
    assert si.folds(104, "time") == [("all", (0, 104), (0, 104))]
    f = {"280": {"a": np.zeros((8, 416))}, "1120": {"a": np.zeros((2, 104))},
         "2240": {"a": np.zeros((1, 52))}}
    c = si.crop(f, (56, 104))
    assert c["280"]["a"].shape[1] == 192 and c["1120"]["a"].shape[1] == 48
    assert c["2240"]["a"].shape[1] == 24


def test_law_shift_reads_departure_from_invariance(si):
    fine = cascade(6, w1=0.5, alpha=0.6, coarse_levels=2, seed=4)  # 256 x 256, "280 m"
    coarse = radiometric_mean(fine, 4)  # the "1.12 km" field
    k, _ = si.measure_law_shift({"a": fine}, {"a": coarse}, {"a": "day"})
    assert k["day"] == pytest.approx(1.0, abs=0.05) and k["night"] == 1.0  # no night field
    # twice the sub-pixel amplitude below the coarse pixel: 4x the variance the law predicts
    up = nearest_upsample(coarse, 4)
    k2, _ = si.measure_law_shift({"a": up + 2 * (fine - up)}, {"a": coarse}, {"a": "night"})
    assert k2["night"] == pytest.approx(4.0, rel=0.1)


def test_gain_bound_beats_any_fixed_gain(si):
    fine = cascade(6, w1=0.5, alpha=0.6, coarse_levels=2, seed=5)
    coarse = radiometric_mean(fine, 4)
    base = cubic_upsample(coarse, 4)
    noise = np.random.default_rng(0).standard_normal(fine.shape)
    sr = base + 1.5 * (fine - base) + 0.5 * noise  # too much detail, partly wrong

    def rmse(a):
        return float(np.sqrt(np.mean((a - fine) ** 2)))

    bound = si.gain_bound(sr, coarse, fine)
    from xlstsr.kernels.correction import correct_image

    assert rmse(bound) < rmse(sr)
    for g in (0.3, 0.5, 0.8, 1.2):
        assert rmse(bound) <= rmse(correct_image(sr, coarse, 4, mode=g)) + 1e-9


def test_detail_frontier_brackets_the_best_gains(si, monkeypatch):
    """The frontier: its point meets the mismatch target, no exhaustive choice of one gain per
    overpass within the target does better, and its floor lies at or below that optimum."""
    import itertools

    fine = cascade(6, w1=0.5, alpha=0.6, coarse_levels=2, seed=5)
    coarse = radiometric_mean(fine, 4)
    base = cubic_upsample(coarse, 4)
    rng = np.random.default_rng(1)
    gains = np.array([0.0, 0.5, 1.0, 1.5, 2.0])
    monkeypatch.setattr(si, "GAINS", gains)
    # three "overpasses": partly right, partly wrong detail
    c = np.stack([si.gain_curve(base + (0.6 + 0.2 * k) * (fine - base)
                                + 0.4 * rng.standard_normal(fine.shape), coarse, fine)
                  for k in range(3)])
    assert c.shape == (3, 5, 2)
    m = np.abs(c[..., 1] - 1)
    target = float(np.sort(m.min(1))[-1])  # reachable: every overpass has a gain within it
    d = si.detail_frontier(c, target)
    assert d["mismatch"] <= target + 1e-12
    best = min(float(np.mean([c[i, j, 0] for i, j in enumerate(js)]))
               for js in itertools.product(range(5), repeat=3)
               if np.mean([m[i, j] for i, j in enumerate(js)]) <= target)
    assert d["floor"] <= best + 1e-9 <= d["rmse"] + 2e-9  # floor <= optimum <= point
    assert d["rmse"] - d["floor"] < 0.2 * d["rmse"]  # a useful bracket
    assert set(d["gains"]) <= set(gains.tolist()) and len(d["gains"]) == 3
    # the RMSE-optimal gains (lam = 0) when the target does not bind
    assert si.detail_frontier(c, 10.0)["rmse"] == pytest.approx(float(c[..., 0].min(1).mean()))
    # a target no gain reaches: NaN, said so
    unreachable = si.detail_frontier(c, -1.0)
    assert np.isnan(unreachable["rmse"]) and unreachable["gains"] == []


def test_gain_curve_at_gain_one_is_the_input(si, monkeypatch):
    fine = cascade(6, w1=0.5, alpha=0.6, coarse_levels=2, seed=3)
    coarse = radiometric_mean(fine, 4)
    sr = cubic_upsample(coarse, 4) + 0.3 * np.random.default_rng(2).standard_normal(fine.shape)
    monkeypatch.setattr(si, "GAINS", np.array([1.0]))
    row = si.gain_curve(sr, coarse, fine)[0]
    assert row[0] == pytest.approx(float(np.sqrt(np.mean((sr - fine) ** 2))))


def _moved_copy(src: Path, dst: Path, dlon: float, dlat: float, n: int,
                narrow: bool = False) -> None:
    """The ``n`` clearest scenes of an ecostress_la-like folder, moved by (dlon, dlat) degrees:
    the same kind of data on other ground (another UTM zone); each scene's central half of its
    rows (a smaller grid to score, as many columns: the training grid's width; ``narrow``: the
    central half of the columns too, a grid narrower than the training one)."""
    import pandas as pd
    import rasterio
    from affine import Affine
    from rasterio.windows import Window

    df = pd.read_csv(src / "scenes.csv", dtype={"overpass": str})
    df = df.sort_values("n_valid", ascending=False).head(n)
    for sub, col in (("LST", "file"), ("cloud_mask", "cloud_mask"), ("water_mask", "water_mask")):
        (dst / sub).mkdir(parents=True, exist_ok=True)
        for name in df[col]:
            with rasterio.open(src / sub / name) as s:
                w = (Window(s.width // 4, s.height // 4, s.width // 2, s.height // 2) if narrow
                     else Window(0, s.height // 4, s.width, s.height // 2))
                prof, a, tags = s.profile.copy(), s.read(1, window=w), s.tags()
                prof.update(width=w.width, height=w.height, transform=s.window_transform(w))
            t = prof["transform"]
            prof["transform"] = Affine(t.a, t.b, t.c + dlon, t.d, t.e, t.f + dlat)
            with rasterio.open(dst / sub / name, "w", **prof) as d:
                d.write(a, 1)
                d.update_tags(**tags)
    df.to_csv(dst / "scenes.csv", index=False)


def test_test_scenes_on_other_ground_are_scored_on_their_own_grid(si, shared_data, tmp_path):
    # held-back scenes elsewhere (here: real LA scenes moved 6.6 deg east, into UTM zone 12):
    # each folder on the grid of its own extent, one fold (the ground is held out by the folder)
    assert si.overlap((0, 0, 2, 2), (1, 1, 3, 3)) and not si.overlap((0, 0, 1, 1), (2, 0, 3, 1))
    other = tmp_path / "elsewhere"
    _moved_copy(shared_data / "ecostress_la", other, 6.6, -0.5, 4)
    out = tmp_path / "out"
    assert si.main(["--smoke", "--test", str(other), "--out", str(out), "--no-stats"]) == 0
    summ = json.loads((out / "scale_invariance.json").read_text())
    assert summ["split"] == "folder" and summ["grid_crs"] == "EPSG:32612"
    assert list(summ["folds"]) == ["folder"] and summ["n_test"] >= 3
    assert np.isfinite(summ["gap_rmse"]) and "by folder" in (out / "scale_invariance.md").read_text()


def test_test_ground_narrower_than_the_training_ground_is_scored(si, shared_data, tmp_path):
    # before: the columns holding data were found on the training and test fields together, as
    # if on one grid: a test folder whose grid is narrower ended the run in a broadcast error
    other = tmp_path / "elsewhere"
    _moved_copy(shared_data / "ecostress_la", other, 6.6, -0.5, 4, narrow=True)
    out = tmp_path / "out"
    assert si.main(["--smoke", "--test", str(other), "--out", str(out), "--no-stats"]) == 0
    summ = json.loads((out / "scale_invariance.json").read_text())
    assert summ["split"] == "folder" and list(summ["folds"]) == ["folder"]
    assert summ["n_test"] >= 3 and np.isfinite(summ["gap_rmse"])
