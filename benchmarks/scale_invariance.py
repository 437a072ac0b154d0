"""Scale invariance tested with real fine truth: ECOSTRESS 70 m aggregated to 280 m, 1.12 and 4.48 km.

``python benchmarks/scale_invariance.py [--train DIR] [--test DIR] [--json PATH] [--out DIR]
[--psf {none,modis}] [--epochs 40] [--smoke]``

``DIR`` is laid out as ``../shared/data/ecostress_la`` (``scenes.csv``, ``LST/``, ``cloud_mask/``,
``water_mask/``). Each scene is read by :func:`xlstsr.datasets.open_ecostress_scene` (clear land,
plausibility-bounded) onto the common UTM 11N grid at 280 m (nearest onto 70 m, then the
radiometric mean by 4); the granules of one overpass are merged (the first where valid). From the
280 m field, radiometric aggregation by 4 (``radiometric_mean``, a block valid when half its pixels
are; with ``--psf modis`` a Gaussian PSF of 0.38 coarse pixel in radiance first, as MODIS) gives
1.12 km and 4.48 km. **Split**: when ``--train`` and ``--test`` are the same folder (the default:
the shared data), the overpasses (never single granules, never dates: both granules of an
overpass stay on one side) with at least 20,000 clear pixels are sorted by time and alternate
train / test (test = the 2nd, 4th...), so both sides mix day and night and span the summer; all
scenes lie over the same box (a temporal, not a spatial hold-out). Two overpasses of the
training side validate the early stopping of every model.

The same small network (``ResCNN``, 32 channels, 4 blocks, factor 4, plain Huber loss, the same
number of 8 x 8-coarse-pixel patches and epochs) is trained as:

- ``invariant``: 4.48 km -> 1.12 km (what a MODIS user can train: one octave-pair up);
- ``oracle``: 1.12 km -> 280 m (the target scale, which no MODIS user has);
- ``kernel``: as ``invariant``, with its 4.48 km inputs made by a kernel *measured at the
  target scale* without truth (correction (a), the kernel law): a Gaussian centred on each block
  (``kernel_coarse``; sharper than the box mean when narrow, smoother when wide) whose width
  makes the training inputs as rough at their pixel scale (structure-function ratio
  ``S2(1) / S2(2)``) as the 1.12 km inputs of the training overpasses. (A plain PSF before the
  box mean can only smooth, and the 1.12 km inputs turned out rougher than their box aggregates);
- ``multiscale``: pairs 8.96 -> 2.24 km and 4.48 -> 1.12 km together (same total count;
  correction (c); the network has no scale input);

and ``invariant`` is also corrected by the variance law ``correct_image(..., mode="auto")`` and
``"law"`` (correction (b), :mod:`xlstsr.kernels.correction`, without guide). All are applied at
1.12 km -> 280 m (``xlstsr.upscale(..., "sisr")``) to the test overpasses and scored on the
280 m truth on the same grid (no resampling): RMSE, bias-removed RMSE, and the spectral ratio
(``xlstsr.kernels.spectra.spectral_ratio``; on one grid it equals its symmetric estimate). The gap
is ``RMSE(invariant) - RMSE(oracle)`` per test overpass, its mean with a paired bootstrap 95 %
interval over test overpasses (2000 resamples); a correction is scored by the fraction of the mean
gap it closes, ``(RMSE_inv - RMSE_corr) / (RMSE_inv - RMSE_oracle)`` (bootstrap interval too), and
by the relative change of the mean ``|ratio - 1|``.

Writes ``scale_invariance.md`` in ``--out`` and the JSON summary at ``--json`` (default
``<out>/scale_invariance.json``). ``--smoke``: 6 overpasses, 1 epoch, 32 patches (seconds; a
test, not a measurement).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import xarray as xr

import xlstsr
from xlstsr.datasets import data_root, ecostress_grid, ecostress_scenes, open_ecostress_scene
from xlstsr.errors import GuideAlignmentWarning
from xlstsr.kernels.aggregate import gaussian_psf, radiometric_mean
from xlstsr.kernels.correction import correct_image
from xlstsr.kernels.spectra import spectral_ratio
from xlstsr.nn import build_model
from xlstsr.train import PatchSet, degraded_pairs, fit, make_patches

ROOT = Path(__file__).resolve().parents[1]
F = 4
PATCH = 32  # fine px of a training patch: 8 coarse px at every scale
MIN_CLEAR = 20_000  # clear 70 m pixels for an overpass to be used
MODIS_PSF = 0.38 * F  # sigma in fine px: the MODIS LST PSF, 0.38 coarse pixel
PSF_GRID = np.round(np.arange(0.0, 2.51, 0.25), 2)
N_BOOT = 2000


def overpasses(folder: Path, max_n: int | None = None) -> list[str]:
    """Overpass keys with enough clear pixels, in time order."""
    s = ecostress_scenes(folder)
    n = s.groupby("overpass")["n_valid"].sum()
    keys = sorted(k for k, v in n.items() if v >= MIN_CLEAR)
    return keys[:max_n]


def load_280(folder: Path, keys: list[str]) -> dict[str, np.ndarray]:
    """The 280 m field of each overpass (its granules merged: the first where valid)."""
    s = ecostress_scenes(folder)
    out = {}
    for op in keys:
        field = None
        for key in s.index[s["overpass"] == op]:
            a = open_ecostress_scene(key, folder, resolution=280).values
            field = a if field is None else np.where(np.isfinite(field), field, a)
        out[op] = field.astype(np.float32)
    return out


def aggregate(a: np.ndarray, factor: int, psf: float) -> np.ndarray:
    src = gaussian_psf(a, psf) if psf else a
    return radiometric_mean(src, factor, min_valid=0.5).astype(np.float32)


def s2_ratio(a: np.ndarray) -> float:
    """``S2(1) / S2(2)``: mean squared increments at lags 1 and 2 (x and y pooled, NaN-aware)."""
    def s2(lag: int) -> float:
        d = np.concatenate([(a[..., lag:, :] - a[..., :-lag, :]).ravel(),
                            (a[..., :, lag:] - a[..., :, :-lag]).ravel()])
        return float(np.nanmean(d.astype(np.float64) ** 2))
    return s2(1) / s2(2)


def kernel_coarse(fine: np.ndarray, sigma: float) -> np.ndarray:
    """The coarse input through a Gaussian-weighted kernel centred on each 4 x 4 block: the
    field blurred by a Gaussian of ``sigma`` fine px (in radiance), then the radiometric mean of
    each block's central 2 x 2 pixels. ``sigma`` = 0 is sharper than the box mean (a near point
    sample), ``sigma`` ~ 1.2 about as smooth, larger smoother: a family that spans both sides."""
    src = gaussian_psf(fine, sigma) if sigma else np.asarray(fine, np.float32)
    n, h, w = src.shape[:-2], src.shape[-2] // F, src.shape[-1] // F
    b = src[..., : h * F, : w * F].reshape(*n, h, F, w, F)[..., 1:3, :, 1:3].astype(np.float64)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        m = np.nanmean(b**4, axis=(-3, -1)) ** 0.25
    m[np.isnan(b).sum(axis=(-3, -1)) > 2] = np.nan  # at least half the 2 x 2 valid
    return m.astype(np.float32)


def measure_kernel(l1120: np.ndarray) -> tuple[float, dict]:
    """The kernel width (fine px of the 1.12 km grid) for which the 4.48 km training inputs are as
    rough at their pixel scale (``S2(1) / S2(2)``) as the 1.12 km inputs, read on the training
    overpasses (no truth): the degradation kernel measured at the target scale."""
    target = s2_ratio(l1120)
    box = s2_ratio(radiometric_mean(l1120, F, min_valid=0.5))
    curve = {float(s): s2_ratio(kernel_coarse(l1120, s)) for s in PSF_GRID}
    best = min(curve, key=lambda s: abs(curve[s] - target))
    return best, {"target_s2_ratio": target, "box_s2_ratio": box, "curve": curve}


def kernel_pairs(fine: np.ndarray, sigma: float) -> dict:
    """Training pairs ``kernel_coarse(fine, sigma) -> fine`` (keywords of ``make_patches``)."""
    fine = np.asarray(fine, np.float32)
    return {"lst_coarse": kernel_coarse(fine, sigma), "guide": None, "target": fine}


def _patches(fine: np.ndarray, ids: list[str], stride: int, psf: float | None,
             kernel: float | None = None) -> PatchSet:
    pairs = (degraded_pairs(fine, F, min_valid=0.5, psf=psf or None) if kernel is None
             else kernel_pairs(fine, kernel))
    return make_patches(**pairs, factor=F, patch=PATCH, stride=stride, max_nan_fraction=0.3,
                        scene_ids=ids)


def patch_sets(fields: dict[str, dict[str, np.ndarray]], psf: float, kernel_psf: float,
               val: list[str], n_max: int | None, seed: int) -> dict[str, tuple[PatchSet, PatchSet]]:
    """Train/val patches of every model, the same counts for all (seeded subsampling)."""
    ids = list(fields["280"])
    stack = {k: np.stack([v[i] for i in ids]) for k, v in fields.items()}
    raw = {
        "invariant": _patches(stack["1120"], ids, 4, psf),
        "oracle": _patches(stack["280"], ids, 16, psf),
        "kernel": _patches(stack["1120"], ids, 4, None, kernel_psf),
        "multiscale": PatchSet.concat([_patches(stack["1120"], ids, 4, psf),
                                       _patches(stack["2240"], ids, 4, psf)]),
    }
    rng = np.random.default_rng(seed)
    split = {k: (np.flatnonzero(~np.isin(p.scene, val)), np.flatnonzero(np.isin(p.scene, val)))
             for k, p in raw.items()}
    n_tr = min(len(t) for t, _ in split.values())
    n_va = min(len(v) for _, v in split.values())
    if n_max is not None:
        n_tr, n_va = min(n_tr, n_max), min(n_va, n_max)
    return {k: (p.subset(np.sort(rng.choice(split[k][0], n_tr, replace=False))),
                p.subset(np.sort(rng.choice(split[k][1], n_va, replace=False))))
            for k, p in raw.items()}


def train(sets: dict, epochs: int, seed: int) -> dict[str, dict]:
    out = {}
    for name, (tr, va) in sets.items():
        torch.manual_seed(seed)
        model = build_model("rescnn", factor=F, channels=32, n_blocks=4)
        t0 = time.perf_counter()
        hist = fit(model, tr, va, mode="sisr", epochs=epochs, batch_size=16, lr=1e-3,
                   patience=10, seed=seed, progress=False, engine="torch")
        model.eval()
        out[name] = {"model": model, "n_train": len(tr), "n_val": len(va),
                     "epochs": hist["epochs_run"], "seconds": time.perf_counter() - t0}
        print(f"trained {name}: {len(tr)} + {len(va)} patches, {hist['epochs_run']} epochs, "
              f"{out[name]['seconds']:.0f} s", flush=True)
    return out


def _grid_da(a: np.ndarray, res: float) -> xr.DataArray:
    x, y = ecostress_grid(res)
    da = xr.DataArray(a, dims=("y", "x"), coords={"y": y, "x": x}, name="lst",
                      attrs={"units": "K"})
    return da.rio.write_crs("EPSG:32611")


def _metrics(sr: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    ok = np.isfinite(sr) & np.isfinite(truth)
    e = (sr[ok] - truth[ok]).astype(np.float64)
    return (float(np.sqrt(np.mean(e**2))), float(e.std()),
            float(spectral_ratio(np.where(ok, sr, np.nan), np.where(ok, truth, np.nan), F)))


def evaluate(models: dict, test: dict[str, dict[str, np.ndarray]],
             corrections: bool = True) -> dict[str, np.ndarray]:
    """Per test overpass (rows) RMSE, bias-removed RMSE, spectral ratio (columns) per method."""
    res: dict[str, list] = {}
    for op in test["280"]:
        truth, lst = test["280"][op], test["1120"][op]
        da = _grid_da(lst, 1120.0)
        outs = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GuideAlignmentWarning)
            outs["bicubic"] = xlstsr.upscale(da, F, "bicubic").values
            for name, m in models.items():
                outs[name] = xlstsr.upscale(da, F, "sisr", model=m["model"]).values
        for mode in ("auto", "law") if corrections else ():
            outs[f"variance_law ({mode})"] = correct_image(outs["invariant"], lst, F, None,
                                                           mode=mode)
        for name, sr in outs.items():
            assert sr.shape == truth.shape, (name, sr.shape, truth.shape)
            res.setdefault(name, []).append(_metrics(sr.astype(np.float64), truth))
    return {k: np.array(v) for k, v in res.items()}


def bootstrap_gap(res: dict[str, np.ndarray], seed: int = 0) -> tuple[float, list[float]]:
    """Mean RMSE gap invariant - oracle and its paired bootstrap 95 % interval."""
    d = res["invariant"][:, 0] - res["oracle"][:, 0]
    rng = np.random.default_rng(seed)
    boot = d[rng.integers(0, len(d), (N_BOOT, len(d)))].mean(1)
    return float(d.mean()), [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))]


def bootstrap(res: dict[str, np.ndarray], seed: int = 0) -> dict:
    """Gap and closed fractions with paired bootstrap intervals over test overpasses."""
    n = len(res["invariant"])
    rng = np.random.default_rng(seed)
    idx = np.vstack([np.arange(n)[None], rng.integers(0, n, (N_BOOT, n))])  # row 0: the sample
    rmse = {k: v[:, 0][idx].mean(1) for k, v in res.items()}
    mis = {k: np.abs(v[:, 2] - 1)[idx].mean(1) for k, v in res.items()}
    gap = rmse["invariant"] - rmse["oracle"]

    def ci(a: np.ndarray) -> list[float]:
        return [float(np.nanpercentile(a[1:], 2.5)), float(np.nanpercentile(a[1:], 97.5))]

    out = {"gap_rmse": float(gap[0]), "gap_ci": ci(gap), "closed": {}, "closed_ci": {},
           "rmse_change": {}, "mismatch_change": {}}
    corr = {"kernel": "kernel", "variance_law": "variance_law (auto)",
            "variance_law_law": "variance_law (law)", "multiscale": "multiscale"}
    for key, name in corr.items():
        with np.errstate(divide="ignore", invalid="ignore"):
            closed = (rmse["invariant"] - rmse[name]) / gap
        out["closed"][key] = float(closed[0])
        out["closed_ci"][key] = ci(closed)
        out["rmse_change"][key] = float(rmse[name][0] - rmse["invariant"][0])
        out["mismatch_change"][key] = float((mis[name][0] - mis["invariant"][0])
                                            / mis["invariant"][0])
    best = max(corr, key=lambda k: out["closed"][k])
    out |= {"best": best, "best_rmse_change": out["rmse_change"][best],
            "best_mismatch_change": out["mismatch_change"][best],
            "gap_mismatch": float(mis["invariant"][0] - mis["oracle"][0])}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=Path, default=None, help="ecostress_la-like folder")
    ap.add_argument("--test", type=Path, default=None, help="ecostress_la-like folder")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "results")
    ap.add_argument("--psf", choices=("none", "modis"), default="none")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-stats", action="store_true", help="skip the per-overpass statistics")
    ap.add_argument("--smoke", action="store_true", help="6 overpasses, 1 epoch (a test)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    torch.set_num_threads(args.threads)
    shared = data_root() / "ecostress_la"
    tr_dir = (args.train or shared).resolve()
    te_dir = (args.test or shared).resolve()
    max_n = 6 if args.smoke else None
    if args.smoke:
        args.epochs = 1
    if tr_dir == te_dir:
        ops = overpasses(tr_dir, max_n)
        tr_ops, te_ops = ops[0::2], ops[1::2]
        split = (f"one folder ({tr_dir.name}): its {len(ops)} overpasses with >= {MIN_CLEAR} clear "
                 "pixels in time order, alternately train / test (both granules of an overpass "
                 "on one side)")
    else:
        tr_ops, te_ops = overpasses(tr_dir, max_n), overpasses(te_dir, max_n)
        split = f"train = all overpasses of {tr_dir}, test = all overpasses of {te_dir}"
    psf = MODIS_PSF if args.psf == "modis" else 0.0

    def scales(f280: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
        f1120 = {k: aggregate(v, F, psf) for k, v in f280.items()}
        return {"280": f280, "1120": f1120,
                "2240": {k: radiometric_mean(v, 2, min_valid=0.5) for k, v in f1120.items()}}

    train_f = scales(load_280(tr_dir, tr_ops))
    test_f = scales(load_280(te_dir, te_ops))
    t_load = time.perf_counter() - t0
    kernel_psf, kinfo = measure_kernel(np.stack(list(train_f["1120"].values())))
    print(f"loaded {len(tr_ops)} train / {len(te_ops)} test overpasses ({t_load:.0f} s); "
          f"measured kernel: sigma {kernel_psf} px of 1.12 km", flush=True)
    val = tr_ops[1::4][:2] if len(tr_ops) > 4 else tr_ops[-1:]
    sets = patch_sets(train_f, psf, kernel_psf, val, 32 if args.smoke else None, args.seed)
    models = train(sets, args.epochs, args.seed)
    res = evaluate(models, test_f)
    # training noise: invariant and oracle again with another seed (same patches)
    reseed = {} if args.smoke else train({k: sets[k] for k in ("invariant", "oracle")},
                                         args.epochs, args.seed + 1)
    res2 = evaluate(reseed, test_f, corrections=False) if reseed else {}
    stats_res = 280.0 if args.smoke else 70.0
    stats = [] if args.no_stats else scene_stats(
        tr_dir, sorted(set(tr_ops[:1] + te_ops[:1]) if args.smoke else set(tr_ops + te_ops))
        if tr_dir == te_dir else tr_ops, stats_res)
    summ = bootstrap(res, args.seed)
    runtime = time.perf_counter() - t0
    if res2:
        b2 = bootstrap_gap(res2, args.seed)
        summ |= {"gap_rmse_seed2": b2[0], "gap_ci_seed2": b2[1]}
    summ |= {"scene_stats": stats, "n_test": len(te_ops), "n_train": len(tr_ops), "test_overpasses": te_ops,
             "train_overpasses": tr_ops, "val_overpasses": val, "psf": args.psf,
             "kernel_psf_px_1120m": kernel_psf, "epochs": args.epochs,
             "seconds": round(runtime, 1), "smoke": args.smoke}
    args.out.mkdir(parents=True, exist_ok=True)
    jpath = args.json or args.out / "scale_invariance.json"
    jpath.parent.mkdir(parents=True, exist_ok=True)
    jpath.write_text(json.dumps(summ, indent=1) + "\n")
    text = report(args, summ, res, models, kinfo, split)
    if stats:
        text += "\n" + "\n".join(stats_lines(stats, stats_res))
    (args.out / "scale_invariance.md").write_text(text + "\n")
    print(json.dumps({k: summ[k] for k in ("gap_rmse", "gap_ci", "closed", "best")}))
    return 0


def _loglog_slope(x: np.ndarray, y: np.ndarray, lo: float, hi: float) -> float:
    sel = (x >= lo - 1e-9) & (x <= hi + 1e-9)
    if sel.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[sel]), np.log(y[sel]), 1)[0])


def scene_stats(folder: Path, keys: list[str], resolution: float = 70.0) -> list[dict]:
    """``xlstsr.scaling_stats`` of each overpass at ``resolution`` (its first granule), condensed:
    Hurst exponent, spectral slopes and break, within-block exponent over the whole range and
    separately below and above 1.12 km, increment flatness at the pixel and at 4.48 km."""
    s = ecostress_scenes(folder)
    rows = []
    for op in keys:
        lst = open_ecostress_scene(op, folder, resolution=resolution)
        st = xlstsr.scaling_stats(lst)
        w = st.within_block_variance.to_series().dropna()
        w = w[w > 0]
        f_km = np.asarray(w.index) * resolution / 1000  # the step f -> 2f, at scale f

        flat = st.increment_flatness.to_series()
        k_break = float(st.spectral_break_wavenumber) / resolution  # cycles per metre
        rows.append({
            "overpass": op, "day_night": s.loc[op, "day_night"],
            "clear": float(np.isfinite(lst.values).mean()),
            "hurst": float(st.hurst), "spectral_slope": float(st.spectral_slope),
            "slope_low": float(st.spectral_slope_low), "slope_high": float(st.spectral_slope_high),
            "break_km": 1 / k_break / 1000 if k_break > 0 else float("nan"),
            "break_dbic": float(st.spectral_break_delta_bic),
            "alpha": float(st.within_block_exponent),
            # steps 70 m ... 560 m -> 1.12 km, and 1.12 ... 4.48 -> 8.96 km
            "alpha_fine": _loglog_slope(f_km, w.values, resolution / 1000, 0.56),
            "alpha_coarse": _loglog_slope(f_km, w.values, 1.12, 4.48),
            "flatness_1": float(flat.iloc[0]),
            "flatness_4480m": float(flat.get(int(4480 / resolution), np.nan)),
        })
    return rows


def stats_lines(rows: list[dict], resolution: float) -> list[str]:
    cols = ["hurst", "spectral_slope", "slope_low", "slope_high", "break_km", "break_dbic",
            "alpha", "alpha_fine", "alpha_coarse", "flatness_1", "flatness_4480m"]
    lines = [
        "",
        f"## Statistics across scales per overpass ({resolution:.0f} m, `xlstsr.scaling_stats`)",
        "",
        "Default fits of `scaling_stats` on each overpass's first granule on the common grid: H "
        "(S2 ~ l^2H), spectral slope (one line) and the two-segment fit (slope below / above the "
        "break, break scale = 1 / wavenumber, delta BIC > 10: significant), within-block exponent "
        "alpha over all steps and fitted separately on the steps 70 m ... 560 m -> 1.12 km "
        "(`alpha < 1.12 km`, what a 1.12 km -> 280 m model must restore) and 1.12 ... 4.48 -> "
        "8.96 km (`alpha > 1.12 km`, what a model trained one octave-pair up sees); increment "
        "flatness (3 = Gaussian) at one pixel and at 4.48 km.",
        "",
        "| overpass | day/night | clear | H | slope | slope low / high | break (km) | dBIC | "
        "alpha | alpha < 1.12 km | alpha > 1.12 km | flatness 1 px / 4.48 km |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['overpass']} | {r['day_night']} | {r['clear']:.2f} | {r['hurst']:.2f} | "
            f"{r['spectral_slope']:.2f} | {r['slope_low']:.2f} / {r['slope_high']:.2f} | "
            f"{r['break_km']:.2f} | {r['break_dbic']:.0f} | {r['alpha']:.2f} | "
            f"{r['alpha_fine']:.2f} | {r['alpha_coarse']:.2f} | {r['flatness_1']:.1f} / "
            f"{r['flatness_4480m']:.1f} |")
    lines += ["", "Medians by day / night:", ""]
    for dn in ("day", "night"):
        sub = [r for r in rows if r["day_night"] == dn]
        if sub:
            lines.append(f"- {dn} ({len(sub)}): " + ", ".join(
                f"{c} {np.nanmedian([r[c] for r in sub]):.2f}" for c in cols))
    fine = {dn: np.nanmedian([r["alpha_fine"] for r in rows if r["day_night"] == dn] or [np.nan])
            for dn in ("day", "night")}
    coarse = {dn: np.nanmedian([r["alpha_coarse"] for r in rows if r["day_night"] == dn]
                               or [np.nan]) for dn in ("day", "night")}
    holds = all(abs(fine[d] - coarse[d]) < 0.1 for d in fine if np.isfinite(fine[d]))
    lines += ["", f"The within-block law {'holds' if holds else 'does not hold'} across 1.12 km "
              "(one exponent within 0.1): median exponent below / above "
              f"it {fine['day']:.2f} / {coarse['day']:.2f} by day and {fine['night']:.2f} / "
              f"{coarse['night']:.2f} by night (per-overpass values scatter widely, see the "
              "table). A law fitted above 1.12 km and extrapolated below (what `law` does) "
              "over-predicts the fine variance where the exponent steepens below and "
              "under-predicts it where it flattens."]
    return lines


def reading(res: dict[str, np.ndarray]) -> str:
    """What the table says, generated from its numbers (so that a rerun keeps it true)."""
    m = {k: (v[:, 0].mean(), v[:, 2].mean()) for k, v in res.items()}
    inv, orc, bic = m["invariant"], m["oracle"], m["bicubic"]
    out = [f"the invariant model scores {inv[0]:.3f} K, "
           + ("worse than bicubic" if inv[0] > bic[0] else "better than bicubic")
           + f" ({bic[0]:.3f} K); the oracle {orc[0]:.3f} K."]
    if orc[1] < inv[1] < 1:
        out.append(f"The oracle is the smoother of the two (spectral ratio {orc[1]:.2f} against "
                   f"{inv[1]:.2f}): trained one octave-pair up, the model injects more detail at "
                   "280 m than a model trained there finds worth injecting, and part of it is "
                   "wrong. Halving the invariant model's |ratio - 1| (more detail) and closing "
                   "its RMSE gap (less, or better placed, detail) then pull in opposite "
                   "directions: amplifying (`law`) raises the RMSE, and a correction that "
                   "reached the oracle would raise |ratio - 1|.")
    return " ".join(out)


def report(args, summ: dict, res: dict, models: dict, kinfo: dict, split: str) -> str:
    days = {op: ecostress_scenes(args.test or data_root() / "ecostress_la")
            .query("overpass == @op")["day_night"].iloc[0] for op in summ["test_overpasses"]}
    m = models["invariant"]
    cmd = ("python benchmarks/scale_invariance.py" + " --smoke" * args.smoke
           + (f" --psf {args.psf}" if args.psf != "none" else "")
           + (f" --epochs {args.epochs}" if not args.smoke and args.epochs != 40 else ""))
    lines = [
        "# Scale invariance with real fine truth: ECOSTRESS 70 m (Los Angeles, summer 2023)",
        "",
        f"Written by `{cmd}` ({summ['seconds']:.0f} s, {args.threads} torch thread(s), a shared "
        "2-core machine). See the script's docstring for the protocol. 280 m truth = ECOSTRESS LST "
        "(clear land, plausibility-bounded) on the common UTM 11N grid; 1.12 and 4.48 km = "
        "radiometric aggregates by 4"
        + (" after a MODIS-like Gaussian PSF (0.38 coarse px)" if args.psf == "modis" else "")
        + f". Split: {split}. Train: {', '.join(summ['train_overpasses'])} (early stopping on "
        f"{', '.join(summ['val_overpasses'])}); test: "
        + ", ".join(f"{k} ({days[k]})" for k in summ["test_overpasses"])
        + f". Every model: ResCNN 32 ch x 4 blocks, plain Huber loss, {m['n_train']} training "
        f"and {m['n_val']} validation patches of 8 x 8 coarse px, at most {args.epochs} epochs "
        f"(run: " + ", ".join(f"{k} {v['epochs']}" for k, v in models.items()) + ").",
        "",
        "Means over the test overpasses (median in brackets); all applied at 1.12 km -> 280 m, "
        "scored on the same 280 m grid (spectral ratio = its symmetric estimate there).",
        "",
        "| method | RMSE (K) | bias-removed RMSE (K) | spectral ratio | mean abs(ratio - 1) |",
        "|---|---|---|---|---|",
    ]
    labels = {"invariant": "invariant (trained 4.48 -> 1.12 km)",
              "oracle": "oracle (trained 1.12 km -> 280 m)",
              "kernel": "(a) kernel law (trained 4.48 -> 1.12 km, measured PSF)",
              "variance_law (auto)": "(b) invariant + variance law `auto`",
              "variance_law (law)": "(b) invariant + variance law `law`",
              "multiscale": "(c) multi-scale (8.96 -> 2.24 + 4.48 -> 1.12 km)"}
    for name, a in res.items():
        lines.append(f"| {labels.get(name, name)} | {a[:, 0].mean():.3f} ({np.median(a[:, 0]):.3f}) | "
                     f"{a[:, 1].mean():.3f} | {a[:, 2].mean():.3f} ({np.median(a[:, 2]):.3f}) | "
                     f"{np.abs(a[:, 2] - 1).mean():.3f} |")
    g, (lo, hi) = summ["gap_rmse"], summ["gap_ci"]
    within = lo <= 0 <= hi
    lines += [
        "",
        f"**Gap** RMSE(invariant) - RMSE(oracle) = {g:+.3f} K, 95 % paired bootstrap interval "
        f"[{lo:+.3f}, {hi:+.3f}] K over {summ['n_test']} test overpasses"
        + (": **within noise** - for this model and these scales, training one octave-pair up "
           "costs nothing measurable, and the closed fractions below are ratios of noise."
           if within else "."),
        ("" if "gap_rmse_seed2" not in summ else
         f"Training noise: invariant and oracle retrained with another seed (same patches) give "
         f"a gap of {summ['gap_rmse_seed2']:+.3f} K [{summ['gap_ci_seed2'][0]:+.3f}, "
         f"{summ['gap_ci_seed2'][1]:+.3f}]. ")
        + f"Mean |ratio - 1|: invariant {np.abs(res['invariant'][:, 2] - 1).mean():.3f}, oracle "
        f"{np.abs(res['oracle'][:, 2] - 1).mean():.3f}.",
        "",
        "| correction | fraction of the gap closed [95 % CI] | RMSE change vs invariant (K) | "
        "change of mean abs(ratio - 1) |",
        "|---|---|---|---|",
    ]
    for k in summ["closed"]:
        c0, (c1, c2) = summ["closed"][k], summ["closed_ci"][k]
        lines.append(f"| {k} | {c0:+.2f} [{c1:+.2f}, {c2:+.2f}] | {summ['rmse_change'][k]:+.3f} | "
                     f"{summ['mismatch_change'][k]:+.0%} |")
    lines += [
        "",
        f"Best correction by closed fraction: `{summ['best']}` (RMSE {summ['best_rmse_change']:+.3f} K, "
        f"|ratio - 1| {summ['best_mismatch_change']:+.0%})"
        + (": it changes nothing (the variance law `auto` only damps, and here asks for more "
           "detail than the model injects: gain 1). **No correction closes the gap.**"
           if abs(summ["best_rmse_change"]) < 1e-6 else
           ("." if summ["closed"][summ["best"]] >= 0.5 else
            f": it closes less than half the gap ({summ['closed'][summ['best']]:.0%}).")),
        "",
        "Reading: " + reading(res),
        "",
        f"Kernel law: the pixel-scale roughness S2(1)/S2(2) of the 1.12 km inputs (training "
        f"overpasses) is {kinfo['target_s2_ratio']:.3f}, that of their 4.48 km box aggregates "
        f"{kinfo['box_s2_ratio']:.3f} (a scale-invariant field would give the same); that of "
        "the centred Gaussian kernel (`kernel_coarse`) against its width (px of 1.12 km): " + ", ".join(f"{s:g}: {v:.3f}" for s, v in kinfo["curve"].items())
        + f". Chosen: {summ['kernel_psf_px_1120m']:g} px.",
        "",
        "Per test overpass (RMSE invariant / oracle, K): " + "; ".join(
            f"{op} {res['invariant'][i, 0]:.3f} / {res['oracle'][i, 0]:.3f}"
            for i, op in enumerate(summ["test_overpasses"])) + ".",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
