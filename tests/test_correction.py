"""Scale-invariance correction: identity under an exact power law, variance target, consistency."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import dask
import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr.kernels.aggregate import conserve_radiometric, radiometric_mean, within_block_variance
from xlstsr.kernels.correction import VarianceLaw, correct_image, detail_gain, fit_variance_law
from xlstsr.kernels.interp import cubic_upsample, nearest_upsample

# the truth-reading bounds of the correction are benchmark tools, outside the package
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from gain_bounds import (
    best_feasible_gain,
    gain_tradeoff,
    least_rmse_at_mismatch,
    pooled_feasible_gains,
)

_PATTERNS = np.array([[[1, -1], [-1, 1]], [[1, 1], [-1, -1]], [[1, -1], [1, -1]]], float)


def cascade(n0: int, levels: int, w1: float, alpha: float, rng, coarse_levels: int) -> np.ndarray:
    """Additive 2x2 cascade whose within-block variance per step is exactly ``w1 s^alpha``.

    ``s`` is the step's pixel size in units of the pixel ``coarse_levels`` steps above the
    finest one (the "input" grid of the test). Each refinement adds, in every 2 x 2 block, a
    zero-mean +-a pattern (population variance a^2 exactly).
    """
    a = 300.0 + rng.standard_normal((n0, n0))
    for j in range(levels):
        # step size of this refinement (child pixel) in input pixels
        s = 2.0 ** (levels - 1 - j - coarse_levels)
        amp = np.sqrt(w1 * s**alpha)
        k = rng.integers(0, 3, size=a.shape)
        sign = rng.choice([-1.0, 1.0], size=a.shape)
        pat = _PATTERNS[k] * sign[..., None, None]  # (ny, nx, 2, 2)
        add = pat.transpose(0, 2, 1, 3).reshape(2 * a.shape[0], 2 * a.shape[1])
        a = nearest_upsample(a, 2) + amp * add
    return a


@pytest.fixture(scope="module")
def exact_field():
    rng = np.random.default_rng(4)
    fine = cascade(4, 6, w1=0.5, alpha=0.6, rng=rng, coarse_levels=2)  # 256 x 256
    coarse = radiometric_mean(fine, 4)
    return fine, coarse


def test_cascade_law_is_exact(exact_field):
    fine, coarse = exact_field
    law = fit_variance_law(coarse, 4)
    assert law.alpha == pytest.approx(0.6, abs=0.01)
    assert law.w1 == pytest.approx(0.5, rel=0.02)
    assert law.restore(4) == pytest.approx(within_block_variance(fine, 4), rel=0.02)


def test_identity_when_law_is_exactly_scale_invariant(exact_field):
    """The exact fine field of a scale-invariant process is left (almost) unchanged."""
    fine, coarse = exact_field
    out, info = correct_image(fine, coarse, 4, mode="law-lst", return_info=True)
    assert info["gain"] == pytest.approx(1.0, abs=0.02)
    assert np.max(np.abs(out - fine)) < 0.05
    # with a scale-invariant guide (same exponent above and below the LST pixel) "auto" agrees
    guide = cascade(4, 6, w1=0.01, alpha=0.6, rng=np.random.default_rng(9), coarse_levels=2)
    law = fit_variance_law(coarse, 4, (guide - 300.0) / 10)
    assert law.alpha_below == pytest.approx(law.alpha, abs=0.02)
    # an explicitly scale-invariant law whose prediction the SR already meets: exactly identity
    exact = VarianceLaw(w1=1.0, alpha=0.6, alpha_below=0.6)
    target_law = VarianceLaw(
        w1=within_block_variance(fine, 4) / (4**-0.6 + 2**-0.6), alpha=0.6, alpha_below=0.6
    )
    assert exact.scale_invariant and target_law.scale_invariant
    same = correct_image(fine, coarse, 4, law=target_law)
    np.testing.assert_allclose(same, fine, atol=0.05)


def test_gain_reaches_target_and_keeps_coarse_consistency(exact_field):
    fine, coarse = exact_field
    base = cubic_upsample(coarse, 4)
    sr = base + 2.5 * (fine - base)  # a method that injects too much detail
    out, info = correct_image(sr, coarse, 4, mode="law-lst", return_info=True)
    assert info["gain"] < 0.6
    assert within_block_variance(out, 4) == pytest.approx(info["target"], rel=0.05)
    assert np.max(np.abs(radiometric_mean(out, 4) - coarse)) < 1e-3
    # closer to the truth than the over-sharpened input
    assert np.sqrt(np.mean((out - fine) ** 2)) < np.sqrt(np.mean((sr - fine) ** 2))


def test_no_detail_is_left_alone():
    coarse = 300 + np.random.default_rng(0).standard_normal((32, 32))
    sr = cubic_upsample(coarse, 4)
    np.testing.assert_array_equal(correct_image(sr, coarse, 4), sr)
    assert detail_gain(sr, np.zeros_like(sr), 4, 10.0) == 1.0


def test_gaps_do_not_spread():
    """A gap neither crashes the correction nor leaks into valid pixels: where the gain damps
    over-injected detail, every valid pixel stays finite and every valid coarse pixel, those
    bordering the gap included, keeps its radiometric mean. (That gaps stay NaN is the code's
    last line, not tested here.)"""
    rng = np.random.default_rng(1)
    fine = cascade(4, 5, w1=0.5, alpha=0.3, rng=rng, coarse_levels=2)
    coarse = radiometric_mean(fine, 4)
    coarse[10:14, 3:9] = np.nan
    sr = fine * 1.5 - 150  # 1.5x the true detail, same coarse mean to first order
    sr[nearest_upsample(np.isnan(coarse), 4)] = np.nan
    out, info = correct_image(sr, coarse, 4, return_info=True)
    assert info["gain"] < 0.9  # the correction acted
    assert np.isfinite(out[np.isfinite(sr)]).all()
    ok = np.isfinite(coarse)
    np.testing.assert_allclose(radiometric_mean(out, 4)[ok], coarse[ok], atol=1e-6)


def test_upscale_keyword_numpy_dask_and_errors():
    scene = xlstsr.datasets.sample_scene(n_times=2, size=128)
    lst, ndvi = scene["lst_1km"], scene["ndvi_250m"]
    eager = xlstsr.upscale(lst, 4, "tsharp", guide=ndvi, scale_correction="law")
    plain = xlstsr.upscale(lst, 4, "tsharp", guide=ndvi)
    assert eager.attrs["xlstsr_scale_correction"] == "law"
    assert plain.attrs["xlstsr_scale_correction"] == "none"
    assert not np.allclose(eager.values, plain.values, equal_nan=True)
    with dask.config.set(scheduler="sync"):
        lazy = xlstsr.upscale(
            lst.chunk({"time": 1}), 4, "tsharp", guide=ndvi.chunk(64), scale_correction="law"
        )
        assert lazy.chunks is not None
        xr.testing.assert_allclose(lazy.compute(), eager)
    cc = xlstsr.metrics.coarse_consistency(eager, lst, 4)
    assert float(cc.max()) < 1e-2
    # "auto" only damps: the within-block variance never grows
    auto = xlstsr.upscale(lst, 4, "tsharp", guide=ndvi, scale_correction="auto")
    for t in range(2):
        assert (
            within_block_variance(auto.values[t], 4)
            <= within_block_variance(plain.values[t], 4) + 1e-6
        )
    # bicubic injects nothing: the correction leaves it as it is
    b0 = xlstsr.upscale(lst, 4, "bicubic")
    b1 = xlstsr.upscale(lst, 4, "bicubic", guide=ndvi, scale_correction="auto")
    np.testing.assert_array_equal(b0.values, b1.values)
    with pytest.raises(ValueError, match="scale_correction"):
        xlstsr.upscale(lst, 4, "tsharp", guide=ndvi, scale_correction="bogus")


def _two_part_truth(seed: int = 3):
    """Fine truth = 300 K + a detail the method can know (smooth) + one it cannot (white)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    known = 3.0 * gaussian_filter(rng.standard_normal((128, 128)), 1.5, mode="wrap")
    unknown = 0.8 * rng.standard_normal((128, 128))
    truth = 300.0 + known + unknown
    return truth, unknown, radiometric_mean(truth, 4)


def test_gain_bound_of_a_conditional_mean_cannot_halve_the_mismatch():
    # the best an estimator can do: the part it knows, nothing of the rest (error orthogonal to
    # it). Too smooth (ratio < 1), yet every gain that brings the ratio nearer 1 raises the RMSE.
    truth, unknown, lst = _two_part_truth()
    sr = conserve_radiometric(truth - unknown, lst, 4)
    t = gain_tradeoff(sr, lst, 4, truth)
    assert t["ratio_none"] < 0.9
    assert 0.8 <= t["gain"][np.argmin(t["rmse"])] <= 1.2  # already RMSE-optimal
    _, rmse, ratio = best_feasible_gain(t)
    assert rmse <= t["rmse_none"] + 1e-9
    assert abs(ratio - 1) > 0.5 * abs(t["ratio_none"] - 1)  # the target is out of reach
    # without the RMSE constraint the spectrum alone could be matched
    assert np.nanmin(np.abs(t["ratio"] - 1)) < 0.5 * abs(t["ratio_none"] - 1)
    # nor with the constraint on the mean RMSE of several images
    ts = [t]
    for seed in (4, 5):
        tr, unk, lo = _two_part_truth(seed)
        ts.append(gain_tradeoff(conserve_radiometric(tr - unk, lo, 4), lo, 4, tr))
    picks = pooled_feasible_gains(ts)
    assert np.mean([p[1] for p in picks]) <= np.mean([x["rmse_none"] for x in ts]) + 1e-9
    before = np.mean([abs(x["ratio_none"] - 1) for x in ts])
    assert np.mean([abs(p[2] - 1) for p in picks]) > 0.5 * before


def test_gain_bound_of_an_over_injector_halves_the_mismatch():
    truth, _, lst = _two_part_truth()
    base = cubic_upsample(lst, 4)
    sr = base + 1.6 * (truth - base)  # all the right detail, 1.6 times too strong
    t = gain_tradeoff(sr, lst, 4, truth)
    assert t["ratio_none"] > 2.0
    g, rmse, ratio = best_feasible_gain(t)
    assert 0.5 <= g <= 0.75
    assert rmse < 0.5 * t["rmse_none"]
    assert abs(ratio - 1) < 0.2 * abs(t["ratio_none"] - 1)


def test_auto_damps_tsharp_on_real_aster_pairs(shared_data):
    # the measured behaviour the default rests on (docs/results/accuracy.md): on real MODIS ->
    # ASTER pairs TsHARP over-injects detail; `auto` damps it, which lowers the RMSE and brings
    # the (symmetric) spectral ratio nearer 1. Eight held-out pairs, evaluate's protocol.
    from xlstsr.datasets import EVAL_PAIRS
    from xlstsr.datasets import open_modis_aster_aligned as load_pair

    rmse, mism = {None: [], "auto": []}, {None: [], "auto": []}
    for pid in EVAL_PAIRS[:8]:
        p = load_pair(pid, shared_data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for sc in (None, "auto"):
                sr = xlstsr.upscale(p["lst"], 4, "tsharp", guide=p["ndvi"], scale_correction=sc,
                                    mask_out_of_range=True)
                ev = xlstsr.evaluate(sr, p["aster"], factor=4)  # aster is already masked
                rmse[sc].append(float(ev.rmse))
                mism[sc].append(abs(float(ev.spectral_ratio_sym) - 1))
    assert np.mean(rmse["auto"]) < np.mean(rmse[None])
    assert np.mean(mism["auto"]) < 0.85 * np.mean(mism[None])


def test_gain_tradeoff_refuses_mismatched_grids():
    truth, _, lst = _two_part_truth()
    with pytest.raises(xlstsr.errors.GridError, match="reproject the truth"):
        gain_tradeoff(truth, lst, 4, truth[:-4])


def test_fixed_detail_gain(exact_field):
    """``scale_correction=<number>``: the method's within-block detail times that gain, the
    block means and coarse consistency kept; 1 is the identity; a bad gain is refused."""
    fine, coarse = exact_field
    base = cubic_upsample(coarse, 4)
    sr = base + 2.0 * (fine - base)
    out, info = correct_image(sr, coarse, 4, mode=0.5, return_info=True)
    assert info["gain"] == 0.5
    # the detail (zero block mean part) is halved: the within-block variance falls ~4x
    v_sr, v_out = within_block_variance(sr, 4), within_block_variance(out, 4)
    assert v_out < 0.35 * v_sr
    assert np.max(np.abs(radiometric_mean(out, 4) - coarse)) < 1e-3
    assert np.sqrt(np.mean((out - fine) ** 2)) < np.sqrt(np.mean((sr - fine) ** 2))
    # gain 1: the detail unchanged, made coarse-consistent like any other gain (continuous)
    one = correct_image(sr, coarse, 4, mode=1.0)
    np.testing.assert_allclose(one, correct_image(sr, coarse, 4, mode=1.0 + 1e-9), atol=1e-6)
    assert np.max(np.abs(radiometric_mean(one, 4) - coarse)) < 1e-3
    np.testing.assert_allclose(within_block_variance(one, 4), within_block_variance(sr, 4),
                               rtol=0.05)
    with pytest.raises(ValueError, match="detail gain"):
        correct_image(sr, coarse, 4, mode=-0.5)
    with pytest.raises(ValueError, match="scale_correction"):
        correct_image(sr, coarse, 4, mode=True)


def test_upscale_fixed_gain_numpy_and_dask():
    scene = xlstsr.datasets.sample_scene(n_times=2, size=64)
    lst, ndvi = scene["lst_1km"], scene["ndvi_250m"]
    plain = xlstsr.upscale(lst, 4, "tsharp", guide=ndvi)
    damped = xlstsr.upscale(lst, 4, "tsharp", guide=ndvi, scale_correction=0.7)
    assert damped.attrs["xlstsr_scale_correction"] == "0.7"
    for t in range(2):
        assert within_block_variance(damped.values[t], 4) < within_block_variance(
            plain.values[t], 4)
    with dask.config.set(scheduler="sync"):
        lazy = xlstsr.upscale(lst.chunk({"time": 1}), 4, "tsharp", guide=ndvi.chunk(64),
                              scale_correction=0.7)
        xr.testing.assert_allclose(lazy.compute(), damped)


def test_optimal_detail_gain_transfers_between_images():
    """A gain calibrated with the truth on some images (an over-injecting method: 2x the true
    detail plus noise) lowers the RMSE of another image of the same method; its value is the
    least-squares gain, between 0 and 1/2 here."""
    from xlstsr.kernels.correction import optimal_detail_gain, split_detail

    def method(seed):
        fine = cascade(4, 5, w1=0.5, alpha=0.4, rng=np.random.default_rng(seed), coarse_levels=2)
        coarse = radiometric_mean(fine, 4)
        base, bm, detail = split_detail(fine, coarse, 4)
        noise = 0.3 * np.random.default_rng(seed + 100).standard_normal(fine.shape)
        return base + bm + 2.0 * detail + noise, coarse, fine

    calib = [method(s) for s in range(3)]
    g = optimal_detail_gain(calib, 4)
    assert 0.3 < g < 0.5
    sr, coarse, fine = method(7)
    out = correct_image(sr, coarse, 4, mode=g)
    assert np.sqrt(np.mean((out - fine) ** 2)) < 0.8 * np.sqrt(np.mean((sr - fine) ** 2))
    assert optimal_detail_gain([(cubic_upsample(coarse, 4), coarse, fine)], 4) == 1.0


def test_calibrate_detail_gain_dataarrays_and_grid_check():
    """The xarray-level calibration reads DataArray stacks (the gain of twice the true detail
    is 1/2) and refuses a truth that is not on the output grid."""
    from xlstsr.correction import calibrate_detail_gain
    from xlstsr.kernels.correction import split_detail

    truth = 300 + np.random.default_rng(1).standard_normal((2, 32, 32))
    lst = radiometric_mean(truth, 4)
    parts = [split_detail(t, c, 4) for t, c in zip(truth, lst)]
    sr = xr.DataArray(np.stack([b + m + 2 * d for b, m, d in parts]), dims=("time", "y", "x"))
    g = calibrate_detail_gain(sr, xr.DataArray(lst, dims=("time", "y", "x")), truth, 4)
    assert g == pytest.approx(0.5, abs=0.01)
    with pytest.raises(ValueError, match="output grid"):
        calibrate_detail_gain(sr, lst, truth[:, :16, :16], 4)


def test_least_rmse_at_mismatch_weights_images_as_the_means_do():
    """Weights count an image as often as the mean over positions does: image a twice at half
    weight is image a once; the floor never exceeds the exhaustive optimum."""
    import itertools

    a = {"gain": np.array([0.0, 1.0, 2.0]), "rmse": np.array([1.0, 1.1, 1.5]),
         "ratio": np.array([0.3, 0.7, 1.1])}
    b = {"gain": np.array([0.0, 1.0, 2.0]), "rmse": np.array([0.5, 0.6, 0.9]),
         "ratio": np.array([0.4, 0.9, 1.4])}
    once = least_rmse_at_mismatch([a, b], 0.2)
    twice = least_rmse_at_mismatch([a, a, b], 0.2, weights=np.array([0.5, 0.5, 1.0]))
    assert twice["rmse"] == pytest.approx(once["rmse"])
    assert twice["floor"] == pytest.approx(once["floor"])
    best = min((a["rmse"][i] + b["rmse"][j]) / 2 for i, j in itertools.product(range(3), repeat=2)
               if (abs(a["ratio"][i] - 1) + abs(b["ratio"][j] - 1)) / 2 <= 0.2)
    assert once["floor"] <= best + 1e-12 <= once["rmse"] + 2e-12
    # unequal weights move the choice towards the heavier image's optimum
    heavy_b = least_rmse_at_mismatch([a, b], 0.2, weights=np.array([1.0, 9.0]))
    assert heavy_b["mismatch"] <= 0.2 + 1e-12
