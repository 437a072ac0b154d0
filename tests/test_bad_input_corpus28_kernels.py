"""Corpus 28 (kernels and two benchmarks): TsHARP's least squares on nearly collinear guide
bands, the ridge of LinearLeafForest's leaves, the temporary stores of zarr_compression.py, the
rule of ssim's averaging, and the notes of bench_models.py."""

from __future__ import annotations

import re
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from helpers import load_benchmark
from scipy import ndimage

import xlstsr
from xlstsr.kernels.metrics import ssim
from xlstsr.kernels.sharpen import LinearLeafForest, linear_fit, linear_predict


def _bench(name: str):
    # load_benchmark puts benchmarks/ on sys.path: the scripts import their siblings (alone,
    # this module's own loader failed on bench_models' `import accuracy_modis_aster`)
    return load_benchmark(name)


# -- 1. TsHARP: an affine copy of a guide band adds nothing ---------------------------------------
def test_tsharp_affine_copy_of_the_guide_leaves_the_output_unchanged():
    s = xlstsr.datasets.sample_scene(n_times=1, size=32)
    lst, nd = s["lst_1km"], s["ndvi_250m"]
    fvc = ((nd - 0.1) / 0.8).rename("fvc")  # float32: collinear with ndvi only to ~1e-8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = xlstsr.upscale(lst, 4, method="tsharp", guide=nd).values
        two = xlstsr.upscale(lst, 4, method="tsharp", guide=[nd, fvc]).values
    ok = np.isfinite(one) & np.isfinite(two)
    assert ok.any()
    assert np.abs(one - two)[ok].max() < 1e-3  # was up to ~10 K


def test_linear_fit_minimum_norm_on_near_collinear_columns():
    rng = np.random.default_rng(3)
    nd = rng.uniform(0.05, 0.9, 500).astype(np.float32)
    fvc = ((nd - np.float32(0.1)) / np.float32(0.8)).astype(np.float32)
    y = 310.0 - 12.0 * nd.astype(np.float64) + rng.normal(0, 0.3, nd.size)
    w = rng.uniform(0.2, 1.0, nd.size)
    c1 = linear_fit(nd[:, None], y, w)
    c2 = linear_fit(np.column_stack([nd, fvc]), y, w)
    assert np.abs(c2).max() < 1e3  # no huge coefficients on the round-off direction
    np.testing.assert_allclose(linear_predict(c2, np.column_stack([nd, fvc])),
                               linear_predict(c1, nd[:, None]), atol=1e-6)


def test_linear_fit_well_conditioned_unchanged():
    """Standardising the columns changes nothing on a well-posed fit (badly scaled columns too)."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 3)) * [1.0, 1e3, 1e-3] + [0.0, 500.0, 2.0]
    y = 5.0 + x @ [1.0, 2.0, 3.0] + rng.normal(size=300)
    w = rng.uniform(size=300)
    a = np.column_stack([np.ones(300), x]) * np.sqrt(w)[:, None]
    ref = np.linalg.lstsq(a, y * np.sqrt(w), rcond=None)[0]
    np.testing.assert_allclose(linear_fit(x, y, w), ref, rtol=1e-8, atol=1e-8)
    # a constant column gets coefficient 0, the others their least-squares values
    xc = np.column_stack([x[:, 0], np.full(300, 7.0)])
    c = linear_fit(xc, y - x[:, 1] * 2 - x[:, 2] * 3, w)
    assert c[2] == 0.0 and abs(c[1] - 1.0) < 0.2


# -- 2. LinearLeafForest: the leaves' ridge is relative to the leaf's spread ----------------------
def test_linear_leaf_forest_recovers_an_exact_linear_law():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(400, 1))
    y = 300 + 10 * x[:, 0]
    xt = np.linspace(0, 1, 501)[:, None]
    yt = 300 + 10 * xt[:, 0]
    lin = np.sqrt(np.mean((LinearLeafForest().fit(x, y).predict(xt) - yt) ** 2))
    const = np.sqrt(np.mean(
        (LinearLeafForest(linear_leaves=False).fit(x, y).predict(xt) - yt) ** 2))
    assert lin < 0.2 * const  # was 0.95 x: the leaves were practically constant


def test_linear_leaf_slopes_follow_the_documented_shrinkage():
    """Docstring: one uncorrelated feature keeps 1 / (1 + alpha / n) of the slope in a leaf."""
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(300, 1))
    y = 3.0 * x[:, 0]
    for alpha in (1.0, 5.0):
        f = LinearLeafForest(n_estimators=1, alpha=alpha).fit(x, y)
        tree, leaves = f.trees_[0]
        leaf_of = tree.apply((x - f.mu_) / f.sd_)
        for leaf, (_, _, b, _, _) in leaves.items():
            n = int((leaf_of == leaf).sum())
            np.testing.assert_allclose(b[0] / (3.0 * f.sd_[0]), 1 / (1 + alpha / n), rtol=1e-6)


def test_linear_leaf_forest_collinear_features_stay_finite():
    rng = np.random.default_rng(2)
    x1 = rng.uniform(size=400)
    x = np.column_stack([x1, 2 * x1 + 1])
    y = 300 + 10 * x1
    pred = LinearLeafForest(n_estimators=3).fit(x, y).predict(x)
    assert np.isfinite(pred).all() and np.abs(pred - y).max() < 0.1


# -- 3. zarr_compression.py removes its temporary stores -----------------------------------------
def test_zarr_compression_smoke_leaves_no_temporary_store(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    module = _bench("zarr_compression")
    assert module.main(["--smoke", "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "compression.md").is_file()
    assert not list(tmp.iterdir()), "the benchmark left its temporary Zarr stores behind"


# -- 4. ssim: the pixels its mean leaves out are those its docstring names ------------------------
def _window_weight(valid: np.ndarray, sigma: float = 1.5, truncate: float = 3.5) -> np.ndarray:
    return ndimage.gaussian_filter(valid.astype(float), sigma, mode="constant", truncate=truncate)


def _ssim_map(a, b, L, valid, sigma=1.5, truncate=3.5):
    """Normalised-convolution Gaussian SSIM map (population statistics)."""
    def g(v):
        return ndimage.gaussian_filter(np.where(valid, v, 0.0), sigma, mode="constant",
                                       truncate=truncate)
    w = g(np.ones_like(a))
    mx, my = g(a) / w, g(b) / w
    vx, vy, cxy = g(a * a) / w - mx * mx, g(b * b) / w - my * my, g(a * b) / w - mx * my
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))


def test_ssim_averages_rim_pixels_and_drops_corners_as_documented():
    w = _window_weight(np.ones((24, 24)))
    rim, corner = w[0, 12], w[0, 0]
    # the docstring quotes the weights the code compares with min_weight = 0.5
    doc = " ".join(ssim.__doc__.split())
    assert f"keeps {rim:.2f} of the weight and *is* averaged in" in doc
    assert f"a corner of the image ({corner:.2f})" in doc
    assert rim >= 0.5 > corner

    rng = np.random.default_rng(1)
    ref = 300 + ndimage.gaussian_filter(rng.normal(0, 5, (40, 40)), 2)
    sr = ref + rng.normal(0, 0.5, ref.shape)
    sr[10:20, 12:22] = np.nan  # a gap: its straight rim counts as well
    valid = np.isfinite(sr)
    a = np.where(valid, sr, 0.0)
    b = np.where(valid, ref, 0.0)
    L = ref[valid].max() - ref[valid].min()
    m = _ssim_map(a, b, L, valid)
    used = valid & (_window_weight(valid) >= 0.5)
    corners = np.zeros_like(valid)
    corners[[0, 0, -1, -1], [0, -1, 0, -1]] = True
    assert (valid & ~used).sum() == 4 and (corners & ~used).sum() == 4  # only the image corners
    got = float(ssim(sr, ref))
    np.testing.assert_allclose(got, m[used].mean(), rtol=1e-8)
    inner = np.zeros_like(valid)
    inner[5:-5, 5:-5] = True
    assert abs(got - m[valid & inner].mean()) > 1e-4  # the rim is averaged in


# -- 5. bench_models.py: the notes quote the run's own rows ---------------------------------------
def test_bench_models_notes_come_from_the_measured_rows(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch):
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    bm = _bench("bench_models")
    meths = bm.methods(True)
    needed = {"sisr:rescnn", "sisr:mrunet", "disr:unet", "disr:fast", "disr:unet_displaced",
              "disr:unet conserve"}
    if not needed <= set(meths):
        pytest.skip(f"bundled weights missing: {sorted(needed - set(meths))}")
    rng = np.random.default_rng(7)
    deg = {k: {"psnr": rng.uniform(20, 25), "ssim": rng.uniform(0.3, 0.6),
               "rmse": rng.uniform(1, 2)} for k in meths if not k.startswith(("disr", "tsharp"))}
    keys = ("rmse", "rmse_median", "ubrmse", "bias", "spectral_ratio", "spectral_ratio_sym",
            "coarse_consistency")
    real = {k: {m: rng.uniform(0.1, 0.6) for m in keys} for k in meths}
    monkeypatch.setattr(bm, "degraded", lambda pairs, m: deg)
    monkeypatch.setattr(bm, "real_truth", lambda pairs, m: real)
    monkeypatch.setattr(bm, "speed", lambda m, size: {k: 1.0 for k in m})
    try:
        assert bm.main(["--smoke", "--out", str(tmp_path), "--pairs", bm.EVAL_PAIRS[0]]) == 0
    finally:
        torch.set_num_threads(threads)
    notes = " ".join((tmp_path / "models.md").read_text().split("## Notes")[1].split())
    cc = re.search(r"coarse consistency ([\d.]+) K for `unet`, ([\d.]+) K for the default `fast`"
                   r".*?([\d.]+) K for `unet_displaced`", notes)
    assert cc, notes
    for got, key in zip(cc.groups(), ("disr:unet", "disr:fast", "disr:unet_displaced")):
        assert got == f"{real[key]['coarse_consistency']:.2f}"
    gain = deg["sisr:rescnn"]["psnr"] - deg["bicubic"]["psnr"]
    assert f"{gain:+.2f} dB PSNR" in notes
    assert f"{real['disr:unet conserve']['rmse']:.3f} K against bicubic's " \
           f"{real['bicubic']['rmse']:.3f} K" in notes
