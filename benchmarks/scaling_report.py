"""Scaling report: LST / NDVI statistics across scales on real data, and the scale-invariance
correction validated on real fine-scale truth. Writes ``scaling.md`` and ``scaling_*.png`` in
``--out`` (default docs/results).

Run: ``nice -n 10 .venv/bin/python benchmarks/scaling_report.py`` (about 10 min on 2 cores;
``--quick`` uses 8 modis_aster pairs; ``--smoke``: two pairs, bicubic and TsHARP, the Landsat
scene and the MOD11A1 granule cropped to 256 px: seconds, a test and not a measurement).
A ``--quick`` or ``--methods`` subset run writes ``./heldback_results`` unless ``--out`` is given:
only the full run replaces the published page. Another data folder (``$XLSTSR_DATA``): the deep
models are scored on its pairs that are not their training pairs, told by their MODIS LST
(``xlstsr.datasets.seen_in_training``, as ``accuracy_modis_aster.py --root`` does), not by id.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

import xlstsr
from xlstsr import plot
from xlstsr.datasets import (
    EVAL_PAIRS,
    TRAIN_PAIRS,
    aster_truth_mask,
    data_root,
    iter_modis_aster,
    seen_in_training,
)
from xlstsr.datasets.root import is_project_data, require_data, results_dir
from xlstsr.errors import GuideAlignmentWarning
from xlstsr.evaluate import evaluate
from xlstsr.grid import align_guide, fine_grid, with_grid
from xlstsr.io.landsat import open_desirex, open_landsat8_l1
from xlstsr.io.modis import open_modis
from xlstsr.kernels.aggregate import block_mean, radiometric_mean, within_block_variance
from xlstsr.kernels.correction import correct_image, fit_variance_law
from xlstsr.kernels.spectra import spectral_ratio as k_spectral_ratio
from xlstsr.methods.deep import DISR, SISR
from xlstsr.scaling import scaling_stats

ROOT = Path(__file__).resolve().parents[1]
#: (y, x) windows kept of the Landsat scene, of the MOD11A1 granule for its statistics and for
#: the law's windows; --smoke keeps 256 x 256 (of the granule: its clearest corner)
Crop = dict[str, tuple[slice, slice]]
FULL_CROP: Crop = {
    "landsat": (slice(0, 576), slice(0, 576)),
    "granule": (slice(0, 1024), slice(0, 1024)),
    "windows": (slice(None), slice(None)),
}
SMOKE_CROP: Crop = {
    "landsat": (slice(0, 256), slice(0, 256)),
    "granule": (slice(512, 768), slice(0, 256)),
    "windows": (slice(512, 768), slice(0, 256)),
}


#: the page's hand-written sections start at this marker; a rerun keeps them
HAND = "<!-- Below: written by hand from other runs (kept when the script rewrites the page) -->"

def _fmt(v: float, d: int = 2) -> str:
    return "-" if v is None or not np.isfinite(v) else f"{v:.{d}f}"


def _ci(st: xr.Dataset, name: str, scale: float = 1.0) -> str:
    v = float(st[name]) * scale
    lo, hi = (float(x) * scale for x in st[name + "_ci"].values)
    return f"{_fmt(v)} [{_fmt(lo)}, {_fmt(hi)}]"


# ----------------------------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------------------------
class Pairs(list):
    """The modis_aster pairs read, ``(pid, lst, ndvi_f, truth, aster)`` each, and ``held_out``:
    the ids of those the bundled models were not trained on, told by their MODIS LST
    (:func:`xlstsr.datasets.seen_in_training`), not by id: another folder numbers its pairs as
    it likes (its 002 may be a training pair). In the project's folder they are the
    ``EVAL_PAIRS`` among the pairs read. ``project``: whether ``data`` is the project's own."""

    held_out: tuple[str, ...] = ()
    project: bool = True


def modis_aster_pairs(n: int | None, data: Path) -> Pairs:
    out = Pairs()
    for i, (pid, lst, ndvi, aster) in enumerate(iter_modis_aster(data)):
        if n is not None and i >= n:
            break
        # a few MODIS pixels exceed 400 K (decode_lst rejects them): mask them as gaps
        lst = lst.where((lst > 150) & (lst < 400)).assign_attrs(lst.attrs)
        ndvi_f = align_guide(ndvi, lst, 4)
        y, x, t = fine_grid(lst, 4)
        tmpl = with_grid(np.zeros((y.size, x.size), np.float32), lst, y, x, t, ("y", "x"))
        from rasterio.enums import Resampling

        ok = aster_truth_mask(aster, clear=False)
        truth = (
            aster.where(ok, 0.0)
            .rio.write_nodata(None, encoded=False)
            .rio.reproject_match(tmpl, resampling=Resampling.bilinear)
        )
        # GDAL's bilinear mixes the masked pixels into their neighbours: keep only output pixels
        # whose whole bilinear footprint is valid truth
        frac = (
            ok.astype(np.float32)
            .rio.write_nodata(None, encoded=False)
            .rio.reproject_match(tmpl, resampling=Resampling.bilinear)
        )
        truth = truth.where(frac.values > 0.999)
        out.append((pid, lst, ndvi_f, truth, aster))
    # the deep models are scored on pairs apart from their training, as accuracy_modis_aster.py
    # does with --root: by content, so that a held-back folder's renumbered pairs are told apart
    ids = [p[0] for p in out]
    seen = set(seen_in_training(ids, data)) if ids else set()
    out.held_out = tuple(p for p in ids if p not in seen)
    out.project = is_project_data(data)
    return out


def granule_windows(lst: xr.DataArray, size: int = 256, min_valid: float = 0.9):
    """Windows of the MOD11A1 granule with at least ``min_valid`` clear pixels."""
    wins = []
    a = lst.values
    for i in range(0, a.shape[0] - size + 1, size // 2):
        for j in range(0, a.shape[1] - size + 1, size // 2):
            if np.isfinite(a[i : i + size, j : j + size]).mean() >= min_valid:
                wins.append(lst.isel(y=slice(i, i + size), x=slice(j, j + size)))
    return wins


# ----------------------------------------------------------------------------------------------
# 1. statistics across scales
# ----------------------------------------------------------------------------------------------
def scene_data(data: Path) -> None:
    """Check that ``data`` (:func:`data_root`) holds :data:`SCENE_DATA`, before any is read:
    another data folder ($XLSTSR_DATA) without them ended in a reader's traceback
    (``InputNotFoundError``), now in :func:`require_data`'s one line naming the folder and the
    fix."""
    try:  # the data folder as found (its message names $XLSTSR_DATA), else the one given
        found = data == data_root()
    except FileNotFoundError:
        found = False
    for dataset in SCENE_DATA:
        require_data(dataset, root=None if found else data)


def stats_section(
    pairs, lines: list[str], data: Path, out_dir: Path, crop: Crop = FULL_CROP,
    smoke: bool = False,
) -> dict[str, xr.Dataset]:
    """Section 1 (``smoke``: the lazy statistics computed once, before the tables read them
    figure by figure, and one per-dataset figure drawn of the four: a test of the code path)."""
    scene_data(data)
    res: dict[str, xr.Dataset] = {}
    t0 = time.time()
    ls = open_landsat8_l1(data / "landsat8_gulf_l1")
    ys, xs = crop["landsat"]
    bt, ndvi = ls.bt.isel(y=ys, x=xs), ls.ndvi.isel(y=ys, x=xs)
    # cold cloud edges the BQA misses: < 285 K on an August afternoon on the Gulf coast
    bt = bt.where(bt > 285.0)
    ndvi = ndvi.where(np.isfinite(bt))
    res["Landsat-8 BT 30 m"] = scaling_stats(
        bt,
        guide=ndvi,
        lags=[1, 2, 4, 8, 16, 32, 64, 128],
        factors=[1, 2, 4, 8, 16, 32, 64, 128],
        fit_lags=(4, 64),
        fit_factors=(4, 32),
        min_valid=0.5,
    )
    res["Landsat-8 NDVI 30 m"] = scaling_stats(
        ndvi,
        lags=[1, 2, 4, 8, 16, 32, 64, 128],
        factors=[1, 2, 4, 8, 16, 32, 64, 128],
        fit_lags=(4, 64),
        fit_factors=(4, 32),
        radiometric=False,
    )
    mad = open_desirex(data / "madrid_desirex", "LST", 20)
    ndbi = open_desirex(data / "madrid_desirex", "NDBI", 20)
    mad, ndbi = (
        mad.isel(y=slice(0, 128), x=slice(0, 128)),
        ndbi.isel(y=slice(0, 128), x=slice(0, 128)),
    )
    res["Madrid LST 20 m"] = scaling_stats(mad, guide=ndbi, fit_lags=(1, 16), fit_factors=(1, 8))
    gran = open_modis(next((data / "mod11a1_hdf").glob("*.hdf")))
    ys, xs = crop["granule"]
    res["MOD11A1 LST 1 km"] = scaling_stats(
        gran.isel(y=ys, x=xs),
        lags=[1, 2, 4, 8, 16, 32, 64, 128],
        factors=[1, 2, 4, 8, 16, 32, 64],
        fit_lags=(1, 32),
        fit_factors=(1, 16),
        min_valid=0.5,
    )
    # modis_aster: one statistic per pair, stacked along "pair"
    lst1 = [scaling_stats(p[1], guide=p[2], fit_lags=(1, 8), fit_factors=(1, 4)) for p in pairs]
    ndvi250 = [
        scaling_stats(p[2], radiometric=False, fit_lags=(1, 16), fit_factors=(1, 16)) for p in pairs
    ]
    ast = [
        scaling_stats(
            p[3],
            lags=[1, 2, 4, 8, 16, 32],
            factors=[1, 2, 4, 8, 16, 32],
            fit_lags=(1, 16),
            fit_factors=(1, 16),
            min_valid=0.75,
        )
        for p in pairs
    ]
    ids = [p[0] for p in pairs]

    def stack(lst):
        return xr.concat(
            [s.drop_vars("spatial_ref", errors="ignore") for s in lst],
            dim="pair",
            coords="minimal",
            compat="override",
        ).assign_coords(pair=ids)

    res["MODIS LST 1 km (55 patches)"] = stack(lst1)
    res["MODIS NDVI 250 m (55 patches)"] = stack(ndvi250)
    res["ASTER LST 250 m (55 patches)"] = stack(ast)
    if smoke:  # each float() of a table cell below computed the whole lazy graph again
        res = {k: v.compute() for k, v in res.items()}

    lines += [
        "## 1. Statistics across scales",
        "",
        "Fits: `H` from `S_2(l) ~ l^(2H)`; spectral slope of the radially averaged power spectrum "
        "(fBm: `-(2H+2)`); `alpha` of the within-block variance `w(s) ~ s^alpha` lost at each "
        "factor-2 step `s -> 2s` (fBm: about `2H`). 95 % intervals are nominal (lags are "
        "correlated); for the 55 modis_aster patches the value is the median over patches and "
        "the interval the 25-75 % range across patches.",
        "",
        "| field | pixel | H [95 % CI] (fit lags) | spectral slope | break (wavelength, dBIC) "
        "| alpha [CI] (fit steps) | flatness lag 1 / lag max | skewness lag 1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, st in res.items():
        px = float(st.attrs["pixel_size"])
        fl = st.attrs["fit_lags_px"]
        ff = st.attrs["fit_factors_px"]
        if "pair" in st.dims:
            med = st.median("pair", skipna=True)
            q = st.quantile([0.25, 0.75], "pair", skipna=True)
            hs = f"{_fmt(float(med.hurst))} [{_fmt(float(q.hurst[0]))}, {_fmt(float(q.hurst[1]))}]"
            al = (
                f"{_fmt(float(med.within_block_exponent))} [{_fmt(float(q.within_block_exponent[0]))}, "
                f"{_fmt(float(q.within_block_exponent[1]))}]"
            )
            sl = f"{_fmt(float(med.spectral_slope))}"
            sig = (st.spectral_break_delta_bic > 10).mean().item()
            br = (
                f"{_fmt(1 / float(med.spectral_break_wavenumber) * px / 1000, 1)} km, "
                f"significant in {sig:.0%}"
            )
            s_ = med
        else:
            s_ = st
            hs, al = _ci(st, "hurst"), _ci(st, "within_block_exponent")
            sl = _ci(st, "spectral_slope")
            dbic = float(st.spectral_break_delta_bic)
            br = (
                f"{_fmt(1 / float(st.spectral_break_wavenumber) * px / 1000, 2)} km, {dbic:.0f}"
                if np.isfinite(dbic)
                else "-"
            )
        fl1 = float(s_.increment_flatness.isel(lag=0))
        flm = float(s_.increment_flatness.dropna("lag").isel(lag=-1))
        lines.append(
            f"| {name} | {px:.0f} m | {hs} ({fl[0] * px:.0f}-{fl[1] * px:.0f} m) | {sl} | {br} | "
            f"{al} ({ff[0] * px:.0f}-{ff[1] * px:.0f} m) | {_fmt(fl1, 1)} / {_fmt(flm, 1)} | "
            f"{_fmt(float(s_.increment_skewness.isel(lag=0)))} |"
        )
    lines += [
        "",
        "LST-guide relations per coarse scale (correlation r and regression slope of "
        "LST on the guide, LST aggregated radiometrically, guide by its mean):",
        "",
    ]
    for name, st in res.items():
        if "guide_correlation" not in st:
            continue
        s_ = st.median("pair", skipna=True) if "pair" in st.dims else st
        sc = np.asarray(st.scale_m)
        cells = [
            f"{sc[i] / 1000:g} km: r={_fmt(float(s_.guide_correlation[i]))}, "
            f"slope={_fmt(float(s_.guide_slope[i]), 1)}"
            for i in range(sc.size)
            if np.isfinite(float(s_.guide_correlation[i]))
        ]
        gname = "NDBI" if "Madrid" in name else "NDVI"
        lines.append(f"- **{name}** vs {gname}: " + "; ".join(cells))
    lines.append("")
    plot.compare(res, path=str(out_dir / "scaling_compare.png"))
    figures = [
        ("Landsat-8 BT 30 m", "landsat"),
        ("Madrid LST 20 m", "madrid"),
        ("MOD11A1 LST 1 km", "mod11a1"),
        ("MODIS LST 1 km (55 patches)", "modis_aster"),
    ]
    if smoke:  # the per-pair (stacked) statistics' figure: the code path of the four
        figures = figures[-1:]
    for key, fname in figures:
        plot.scaling(res[key], title=key, path=str(out_dir / f"scaling_{fname}.png"))
    lines += [
        "![comparison](scaling_compare.png)",
        "",
        "Per dataset: " + " ".join(f"![{f}](scaling_{f}.png)" for _, f in figures),
        "",
    ]
    print(f"stats section {time.time() - t0:.0f} s")
    return res


# ----------------------------------------------------------------------------------------------
# 2. does the law extrapolate? predicted vs true within-block variance one step below
# ----------------------------------------------------------------------------------------------
def law_section(
    pairs, lines: list[str], data: Path, crop: Crop = FULL_CROP
) -> list[dict]:
    scene_data(data)
    t0 = time.time()
    rows = []

    def check(name, fine: np.ndarray, guide_fine: np.ndarray | None, f: int = 4):
        fine = fine[: (fine.shape[0] // f) * f, : (fine.shape[1] // f) * f]
        coarse = radiometric_mean(fine.astype(np.float64), f, min_valid=0.75)
        true = within_block_variance(fine, f)
        law = fit_variance_law(coarse, f)
        out = {"name": name, "true": true, "pred": law.restore(f), "alpha": law.alpha}
        if guide_fine is not None:
            g = guide_fine[: fine.shape[0], : fine.shape[1]]
            lg = fit_variance_law(coarse, f, g)
            out["pred_guide"], out["alpha_below"] = lg.restore(f), lg.alpha_below
        rows.append(out)

    ls = open_landsat8_l1(data / "landsat8_gulf_l1")
    ys, xs = crop["landsat"]
    bt = ls.bt.where(ls.bt > 285.0).values[ys, xs]
    check("Landsat BT 120 m -> 30 m", bt, ls.ndvi.values[ys, xs])
    mad = open_desirex(data / "madrid_desirex").values[:128, :128]
    check(
        "Madrid 80 m -> 20 m", mad, open_desirex(data / "madrid_desirex", "NDBI").values[:128, :128]
    )
    gran = open_modis(next((data / "mod11a1_hdf").glob("*.hdf")))
    ys, xs = crop["windows"]
    gran = gran.isel(y=ys, x=xs)
    for w in granule_windows(gran):
        check("MOD11A1 4 km -> 1 km", w.values, None)
    for _pid, lst, ndvi_f, _truth, _ in pairs:
        check("modis_aster MODIS 4 km -> 1 km", lst.values, block_mean(ndvi_f.values, 4, min_valid=0.5))
    # the real case: law from MODIS 1 km (+ NDVI 250 m), truth = ASTER 250 m
    for _pid, lst, ndvi_f, truth, _ in pairs:
        law = fit_variance_law(lst.values.astype(np.float64), 4)
        lg = fit_variance_law(lst.values.astype(np.float64), 4, ndvi_f.values)
        rows.append(
            {
                "name": "MODIS 1 km -> ASTER 250 m",
                "true": within_block_variance(truth.values, 4),
                "pred": law.restore(4),
                "pred_guide": lg.restore(4),
                "alpha": law.alpha,
                "alpha_below": lg.alpha_below,
            }
        )
    lines += [
        "## 2. Does the within-block variance law extrapolate one step below?",
        "",
        "The correction rests on predicting `W`, the within-block variance a factor-4 step must "
        "restore, from the law fitted at and above the input resolution. Here the fine truth is "
        "known: the field is aggregated by 4 (radiometrically), the law is fitted on the "
        "aggregate, `W` is predicted (`W = w(1/4) + w(1/2)`) and compared with the truth's "
        "actual within-block variance over 4 x 4 blocks. `+guide`: exponent below shifted by "
        "the guide's change of exponent (NDVI; NDBI for Madrid). Median over windows/patches "
        "and, in brackets, the 25-75 % range of pred/true.",
        "",
        "| case | n | true W (K^2) | pred W (K^2) | pred/true | pred/true +guide | alpha above | alpha below (+guide) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    names = list(dict.fromkeys(r["name"] for r in rows))
    for nm in names:
        rr = [r for r in rows if r["name"] == nm and np.isfinite(r["true"]) and r["true"] > 0]
        if not rr:
            continue
        ratio = np.array([r["pred"] / r["true"] for r in rr])
        rg = np.array([r.get("pred_guide", np.nan) / r["true"] for r in rr])
        q = np.nanpercentile(ratio, [25, 75])
        gtxt = "-"
        if np.isfinite(rg).any():
            qg = np.nanpercentile(rg, [25, 75])
            gtxt = f"{np.nanmedian(rg):.2f} [{qg[0]:.2f}, {qg[1]:.2f}]"
        lines.append(
            f"| {nm} | {len(rr)} | {np.median([r['true'] for r in rr]):.3f} | "
            f"{np.median([r['pred'] for r in rr]):.3f} | {np.median(ratio):.2f} [{q[0]:.2f}, {q[1]:.2f}] | "
            f"{gtxt} | {np.nanmedian([r['alpha'] for r in rr]):.2f} | "
            f"{_fmt(np.nanmedian([r.get('alpha_below', np.nan) for r in rr]))} |"
        )
    lines.append("")
    print(f"law section {time.time() - t0:.0f} s")
    return rows


# ----------------------------------------------------------------------------------------------
# 3. super-resolution with and without the correction, against real truth
# ----------------------------------------------------------------------------------------------
def _metrics(sr: np.ndarray, truth: np.ndarray, f: int) -> tuple[float, float]:
    ok = np.isfinite(sr) & np.isfinite(truth)
    rmse = float(np.sqrt(np.mean((sr[ok] - truth[ok]) ** 2))) if ok.sum() else np.nan
    return rmse, k_spectral_ratio(sr, truth, f)


# (label, scale_correction mode, gain cap): "lst-damp" is law-lst with the gain capped at 1
MODES = [
    ("none", None, None),
    ("law-lst", "law-lst", None),
    ("law", "law", None),
    ("lst-damp", "law-lst", 1.0),
    ("auto", "auto", None),
]


def sr_section(pairs, lines: list[str], methods: list[str], out_dir: Path) -> dict:
    """Section 3: each method with and without the correction (``pairs``: a :class:`Pairs`,
    whose ``held_out`` pairs alone score the deep models; a plain list: ``EVAL_PAIRS`` by id,
    the project's own folder)."""
    t0 = time.time()
    held_out = set(getattr(pairs, "held_out", EVAL_PAIRS))
    # the project's split by name; another folder's held-out pairs were told by content
    held_name = ("`EVAL_PAIRS`" if getattr(pairs, "project", True) else "pairs of this folder, "
                 "told from the bundled models' training pairs by their MODIS LST")
    results: dict[tuple[str, str, str], list] = {}
    pair_ids: dict[tuple[str, str, str], list] = {}
    example = None
    for pid, lst, ndvi_f, truth, aster in pairs:
        # (a) one level up, MODIS only: 4 km -> 1 km against the real 1 km LST
        lst4 = xlstsr.coarsen(lst, 4, min_valid=0.5)
        ndvi1 = (
            xr.DataArray(
                block_mean(ndvi_f.values, 4, min_valid=0.5), dims=("y", "x"), coords={"y": lst.y, "x": lst.x}
            )
            .rio.write_crs(lst.rio.crs)
            .rio.write_transform(lst.rio.transform())
        )
        # (b) the real case: 1 km -> 250 m against ASTER (reprojected onto the 250 m grid)
        for case, coarse, guide, ref in (
            ("4km->1km (MODIS)", lst4, ndvi1, lst.values),
            ("1km->250m (ASTER)", lst, ndvi_f, truth.values),
        ):
            for m in methods:
                if m in ("sisr", "disr") and pid not in held_out:
                    continue  # the bundled models were trained on the other pairs
                try:
                    sr = xlstsr.upscale(
                        coarse, 4, m, guide=guide if m in ("tsharp", "dms", "disr") else None
                    )
                except Exception as err:  # a method that cannot run here is reported, not fatal
                    print(f"{pid} {case} {m}: {err}")
                    continue
                srv = sr.values.astype(np.float64)
                first = None
                for label, mode, cap in MODES:
                    if mode is None:
                        out, info = srv, {"gain": 1.0}
                    else:
                        out, info = correct_image(
                            srv,
                            coarse.values,
                            4,
                            guide.values,
                            mode=mode,
                            max_gain=cap,
                            return_info=True,
                        )
                    if first is not None and info.get("gain", 1.0) == 1.0:
                        row = (*first[:2], 1.0, *first[3:])  # unchanged output: same metrics
                    else:
                        r, s = _metrics(out, ref, 4)
                        re_, se_ = np.nan, np.nan
                        if case.startswith("1km"):  # also the harness of accuracy.md
                            ev = evaluate(
                                sr.copy(data=out.astype(np.float32)),
                                aster,
                                erode=3,
                                valid_min=230.0,
                                factor=4,
                            )
                            re_, se_ = float(ev.rmse), float(ev.spectral_ratio)
                        row = (r, s, info.get("gain", 1.0), re_, se_)
                    first = first or row
                    results.setdefault((case, m, label), []).append(row)
                    pair_ids.setdefault((case, m, label), []).append(pid)
                    if case.startswith("1km") and m == "tsharp" and pid == pairs[0][0]:
                        example = example or {}
                        example[label] = out
            if case.startswith("1km") and pid == pairs[0][0] and example is not None:
                example["truth"], example["bicubic"] = ref, xlstsr.upscale(coarse, 4).values
        print(pid, f"{time.time() - t0:.0f} s", flush=True)
    lines += [
        "## 3. Super-resolution with and without the correction, against real truth",
        "",
        "`none`: the method as it is; `law-lst`: detail rescaled to the variance predicted by "
        "the LST law extrapolated below the input resolution as it is (scale invariance of the "
        "exponent), gain in [0, 4]; `law`: the exponent below shifted by the guide's change of "
        "exponent (NDVI), gain in [0, 4]; `auto` (the default of `scale_correction='auto'`): "
        "as `law`, but the gain is capped at 1 (damping only). RMSE and spectral "
        "ratio on the 250 m (or 1 km) grid of the SR field, truth masked (ASTER: > 0, eroded "
        "3 px, > 230 K, bilinear onto the MODIS 250 m grid); spectral ratio = power of SR / "
        "power of truth above half the coarse Nyquist frequency (`xlstsr.kernels.spectra."
        "spectral_ratio`: common valid pixels, Hann window, gaps apodised over 4 factor pixels). "
        "Mean "
        "over pairs (median in brackets); `gain` is the median detail gain.",
        "",
        "Columns `eval`: the same SR fields through `xlstsr.evaluate` (SR reprojected "
        "bilinearly onto the ASTER grid, ASTER > 0 eroded 3 px and > 230 K; the protocol of "
        "docs/results/accuracy.md). The two harnesses bias the spectral ratio in opposite "
        "directions (a bilinear resampling smooths ASTER in the first, the SR in the second); "
        "with the same attenuation `h` of the resampling in both directions the first measures "
        "`R / h` and the second `R h`, so `sym` = per-pair `sqrt(ratio x eval ratio)` estimates "
        "the unbiased `R`. `lst-damp`: `law-lst` with the gain capped at 1.",
        "",
        "Spectral ratio: `xlstsr.kernels.spectra.spectral_ratio` (Hann window, plane removed, "
        "gaps apodised), on the SR grid and, in the `eval` columns, through `xlstsr.evaluate` on "
        "the ASTER grid; `sym`: the symmetric estimate above.",
        "",
        "| case | method | correction | RMSE (K) | spectral ratio | mean abs(ratio - 1) | gain "
        "| eval RMSE (K) | eval spectral ratio | sym ratio | sym mean abs(ratio - 1) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    summary = {}
    for (case, m, mode), vals in results.items():
        a = np.array([v[:2] for v in vals], float)
        g = np.array([v[2] for v in vals], float)
        e = np.array([v[3:5] for v in vals], float)
        d = np.nanmean(np.abs(a[:, 1] - 1))
        summary[(case, m, mode)] = (np.nanmean(a[:, 0]), np.nanmean(a[:, 1]), d)
        etxt = "- | - | - | -"
        if np.isfinite(e).any():
            sym = np.sqrt(a[:, 1] * e[:, 1])
            # eval RMSE, symmetric mean |ratio - 1|, eval spectral ratio (the table's columns)
            summary[(case, m, mode)] += (np.nanmean(e[:, 0]), np.nanmean(np.abs(sym - 1)),
                                         np.nanmean(e[:, 1]))
            etxt = (
                f"{np.nanmean(e[:, 0]):.3f} | {np.nanmean(e[:, 1]):.3f} | "
                f"{np.nanmean(sym):.3f} | {np.nanmean(np.abs(sym - 1)):.3f}"
            )
        lines.append(
            f"| {case} | {m} | {mode} | {np.nanmean(a[:, 0]):.3f} "
            f"({np.nanmedian(a[:, 0]):.3f}) | {np.nanmean(a[:, 1]):.3f} "
            f"({np.nanmedian(a[:, 1]):.3f}) | {d:.3f} | {np.nanmedian(g):.2f} | {etxt} |"
        )
    lines.append("")
    # every method on the same held-out pairs (the deep models' only ones), uncorrected: all 35
    # EVAL_PAIRS in a full run, those among its pairs in a --quick or --smoke one (another
    # folder: its pairs told from the training pairs by content)
    case = "1km->250m (ASTER)"
    same = []
    for m in methods:
        key = (case, m, "none")
        if key not in results:
            continue
        keep = [i for i, p in enumerate(pair_ids[key]) if p in held_out]
        if not keep:  # none of the pairs read is held out (a partial run)
            continue
        v = np.array([results[key][i] for i in keep], float)
        sym = np.sqrt(v[:, 1] * v[:, 4])
        # eval RMSE, symmetric ratio, symmetric |ratio - 1|, and how many held-out pairs
        summary[("eval35", m)] = (np.nanmean(v[:, 3]), np.nanmean(sym),
                                  np.nanmean(np.abs(sym - 1)), len(keep))
        same.append(
            f"| {m} | {len(keep)} | {np.nanmean(v[:, 3]):.3f} | {np.nanmean(v[:, 1]):.3f} | "
            f"{np.nanmean(v[:, 4]):.3f} | {np.nanmean(sym):.3f} | {np.nanmean(np.abs(sym - 1)):.3f} |"
        )
    if same:
        counts = {v[3] for k, v in summary.items() if k[0] == "eval35"}
        lines += [
            "Every method uncorrected on "
            + (f"the same {counts.pop()} held-out" if len(counts) == 1 else "the held-out")
            + f" {held_name} (1 km -> 250 m; the spectral ratio on the MODIS grid, through "
            "`evaluate`, and their symmetric estimate):",
            "",
            "| method | pairs | eval RMSE (K) | ratio (MODIS grid) | eval ratio | sym ratio | "
            "sym mean abs(ratio - 1) |",
            "|---|---|---|---|---|---|---|",
            *same,
            "",
        ]
    if example is not None:
        _example_figure(example, out_dir / "scaling_correction.png")
        lines += ["![correction example](scaling_correction.png)", ""]
    print(f"sr section {time.time() - t0:.0f} s")
    return summary


def _held_out_counts(summary: dict, n_pairs: int | None) -> dict[str, int | None]:
    """How many held-out pairs each method of the ``eval35`` rows was scored on: the count
    :func:`sr_section` stores, or, for a summary without it (read back from a page's tables),
    all the EVAL_PAIRS when the run read every pair, else unknown (None)."""
    full = n_pairs is not None and n_pairs >= len(set(EVAL_PAIRS) | set(TRAIN_PAIRS))
    return {k[1]: int(v[3]) if len(v) > 3 else len(EVAL_PAIRS) if full else None
            for k, v in summary.items() if k[0] == "eval35"}


def deep_reading(summary: dict, n_pairs: int | None = None) -> str:
    """The deep models' bullet of the discussion, written from this run's numbers (``n_pairs``:
    the pairs the run read, for a summary that does not store its held-out counts)."""
    case = "1km->250m (ASTER)"
    out = []
    for m, what in (("sisr", "The SISR model trained at 4 km -> 1 km and applied at 1 km -> "
                     "250 m (the case the scale-invariance hypothesis is about)"),
                    ("disr", "The cross-sensor DISR")):
        if (case, m, "none") not in summary:
            continue
        n, law, auto = (summary[(case, m, k)] for k in ("none", "law", "auto"))
        out.append(
            f"  - {what}: spectral ratio {n[1]:.3f} on the MODIS grid (|ratio - 1| {n[2]:.3f}; "
            f"{n[4]:.3f} with the symmetric estimate). `law` brings |ratio - 1| to {law[2]:.3f} "
            f"({law[4]:.3f} symmetric) and changes the RMSE by {law[0] - n[0]:+.3f} K "
            f"({law[3] - n[3]:+.3f} K through `evaluate`); `auto` brings it to {auto[2]:.3f} "
            f"({auto[4]:.3f} symmetric) at {auto[0] - n[0]:+.3f} K ({auto[3] - n[3]:+.3f} K)."
        )
    if out:  # their means are over the held-out pairs, not all the pairs of the run
        known = {c for m, c in _held_out_counts(summary, n_pairs).items() if m in ("sisr", "disr")}
        held = known.pop() if len(known) == 1 else None
        out.insert(0, f"  On the {held} held-out pair{'s' if held != 1 else ''} (deep models):"
                   if held is not None else "  On the held-out pairs of this run (deep models):")
    same = {m: v for k, v in summary.items() if k[0] == "eval35" for m in [k[1]]}
    if same:
        counts = _held_out_counts(summary, n_pairs)
        known = set(counts.values())
        if None in known:  # not stored, and not a full run: no number quoted
            pairs = "the held-out pairs of this run"
        elif len(known) == 1:
            held = known.pop()
            pairs = f"the same {held} held-out pair{'s' if held != 1 else ''}"
        else:
            pairs = "the held-out pairs of this run (" + ", ".join(
                f"{m}: {c}" for m, c in counts.items()) + ")"
        out.append(
            f"  On {pairs}, uncorrected, the symmetric |ratio - 1| is "
            + ", ".join(f"{m} {v[2]:.3f} (RMSE {v[0]:.3f} K)" for m, v in same.items())
            + (f" (`sisr` = `{SISR.default_weights}`, `disr` = `{DISR.default_weights}`: the "
               "bundled defaults of this run)." if {"sisr", "disr"} & set(same) else ".")
        )
    deep = [m for m in ("sisr", "disr") if (case, m, "none") in summary]
    if not deep:  # no deep model ran (--methods, --smoke): no verdict on them
        return "\n".join(out)
    met = [m for m in deep if any(
        summary[(case, m, k)][2] <= summary[(case, m, "none")][2] / 2
        and summary[(case, m, k)][0] <= summary[(case, m, "none")][0]
        for k in ("law", "law-lst", "auto") if (case, m, k) in summary)]
    out.append(
        "  So the target (halve the spectral mismatch without raising the RMSE) is met by "
        + (f"{', '.join(met)}." if met else "no deep model; the trade-off is measured, not hidden.")
    )
    return "\n".join(out)


def measured_reading(summary: dict, n_pairs: int) -> str:
    """The bullets of the discussion on what ``auto`` did to TsHARP and DMS, written from this
    run's table (``summary`` of :func:`sr_section`): every figure quoted is the run's own."""
    one, real = "4km->1km (MODIS)", "1km->250m (ASTER)"
    out = [f"  Measured, means over the {n_pairs} pairs of this run:"]

    def pct(new: float, old: float) -> str:
        return f"{100 * (new - old) / old:+.0f} %" if old else "n/a"

    if (one, "tsharp", "none") in summary and (one, "tsharp", "auto") in summary:
        n, a = summary[(one, "tsharp", "none")], summary[(one, "tsharp", "auto")]
        met = a[2] <= n[2] / 2 and a[0] <= n[0]
        out.append(
            "  - TsHARP one level up (4 km -> 1 km against the real MODIS 1 km; same grid, no "
            f"resampling bias): |ratio - 1| {n[2]:.3f} -> {a[2]:.3f} ({pct(a[2], n[2])}: the "
            f"target of halving is {'met' if met else '**not** met'}), RMSE "
            f"{n[0]:.3f} -> {a[0]:.3f} K."
        )
    n, a = summary.get((real, "tsharp", "none"), ()), summary.get((real, "tsharp", "auto"), ())
    if len(n) > 5 and len(a) > 5:  # with the `eval` columns (a pair `evaluate` could score)
        falls = [a[2] < n[2], abs(a[5] - 1) < abs(n[5] - 1), a[4] < n[4]]
        rmse_falls = a[0] < n[0] and a[3] < n[3]
        if all(falls):
            verdict = "the spectral mismatch falls in every harness"
        elif any(falls):
            verdict = "the sign of the effect on the spectrum depends on the harness"
        else:
            verdict = "the spectral mismatch grows in every harness"
        verdict += ("; the RMSE falls in both" if rmse_falls
                    else "; the RMSE does not fall in both harnesses")
        out.append(
            f"  - TsHARP 1 km -> 250 m against ASTER: RMSE {n[0]:.3f} -> {a[0]:.3f} K (ASTER "
            f"onto the MODIS grid) and {n[3]:.3f} -> {a[3]:.3f} K (`xlstsr.evaluate`, SR onto "
            f"the ASTER grid). The spectral mismatch by harness: |ratio - 1| "
            f"{n[2]:.3f} -> {a[2]:.3f} ({pct(a[2], n[2])}) on the MODIS grid; the mean spectral "
            f"ratio through `evaluate` (whose resampling smooths the SR) goes {n[5]:.3f} -> "
            f"{a[5]:.3f}, {'towards' if abs(a[5] - 1) < abs(n[5] - 1) else 'away from'} 1; "
            f"{n[4]:.3f} -> {a[4]:.3f} ({pct(a[4], n[4])}) with the symmetric estimate. So: "
            f"{verdict}."
        )
    dms = [abs(summary[(c, "dms", "auto")][0] - summary[(c, "dms", "none")][0])
           for c in (one, real) if (c, "dms", "none") in summary and (c, "dms", "auto") in summary]
    if dms:
        out.append(
            f"  - DMS: `auto` changes its RMSE by at most {max(dms):.3f} K (the gain is capped at "
            "1: it only damps). Bicubic injects nothing and cannot be corrected."
        )
    return "\n".join(out)


#: the harness note's split, as the project's folder has it
_PROJECT_SPLIT = ("(`sisr`, `disr`) are scored on the 35 held-out `EVAL_PAIRS` only (their bundled "
                  "weights were\ntrained on the other 20 pairs): their means are over 35 pairs, "
                  "the classical methods' over 55.")


def discussion(summary: dict, n_pairs: int, project: bool = True) -> str:
    """Sections 4 and 5 of the page, with the measured bullets written from ``summary``
    (``project``: the project's own folder, whose split the harness note names; another
    folder's held-out pairs were told by content)."""
    deep = deep_reading(summary, n_pairs)
    text = (DISCUSSION.replace("<<MEASURED>>", measured_reading(summary, n_pairs))
            .replace("<<DEEP>>\n" if not deep else "<<DEEP>>", deep))
    if not project:
        text = text.replace(_PROJECT_SPLIT, (
            "(`sisr`, `disr`) are scored only on this folder's pairs that are not their "
            "training pairs\n(told by their MODIS LST), the classical methods on every pair."))
    return text


def resampling_check(pairs, lines: list[str]) -> None:
    """Spectral ratio of ASTER put onto the MODIS 250 m grid and back (two bilinear resamplings)."""
    vals = []
    for _pid, _lst, _ndvi, truth, aster in pairs:
        t = truth.assign_attrs(xlstsr_factor=4)
        vals.append(float(evaluate(t, aster, erode=3, valid_min=230.0, factor=4).spectral_ratio))
    lines += [
        f"Resampling check: spectral ratio of ASTER -> MODIS 250 m grid -> ASTER grid "
        f"against ASTER, median over pairs {np.nanmedian(vals):.3f} (two bilinear "
        "resamplings; the attenuation of one is about its square root).",
        "",
    ]


def _example_figure(ex: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from xlstsr.kernels.spectra import log_wavenumber_edges, radial_power_spectrum

    keys = [
        ("truth", "ASTER 250 m"),
        ("bicubic", "bicubic"),
        ("none", "TsHARP"),
        ("auto", "TsHARP + correction"),
    ]
    fig, axes = plt.subplots(1, 5, figsize=(20, 4))
    t = ex["truth"]
    vmin, vmax = np.nanpercentile(t, [2, 98])
    for ax, (k, title) in zip(axes[:4], keys):
        ax.imshow(np.where(np.isfinite(t), ex[k], np.nan), vmin=vmin, vmax=vmax, cmap="inferno")
        ax.set_title(title)
        ax.axis("off")
    ok = np.isfinite(t)
    for k, title in keys:
        a = np.where(ok & np.isfinite(ex[k]), ex[k], np.nan)
        kk, p, _ = radial_power_spectrum(a, log_wavenumber_edges(a.shape))
        axes[4].loglog(kk, p, "o-", ms=3, label=title)
    axes[4].axvline(1 / 16, color="grey", ls=":", label="half coarse Nyquist")
    axes[4].set(xlabel="cycles / 250 m pixel", ylabel="power", title="spectra (first pair)")
    axes[4].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


DISCUSSION = """
## 4. What changes across scales and landscapes

The figures of the measured bullets of section 5 (TsHARP, DMS, the deep models) are written by
the script from the tables of this page (the run above); the other figures are quoted from the
full run (55 pairs) and from the pages named beside them.

**Roughness.** LST has a Hurst-like exponent of about 0.3-0.4 everywhere it was measured:
Landsat-8 band-10 brightness temperature 0.34 (120 m - 1.9 km, Gulf coast), airborne LST 0.33
(20-320 m, Madrid, urban), ASTER 0.37 (0.23-3.7 km, European summer scenes), MODIS 0.31 on the
same scenes at 1-7 km and 0.39 on the MOD11A1 granule (Brazil, 1-30 km). LST is rough
(H < 0.5: increments anti-persistent) and, to first order, the exponent does not drift from 20 m
to 30 km. NDVI is rougher (H 0.14 on Landsat, 0.23 on MODIS 250 m): relative to its
variance, the guide carries more fine-scale structure than LST does.

**Spectra.** LST slopes lie between -1.9 and -2.6, shallower than the -(2H+2) = -2.6 to -2.8 an fBm
of the same H would give: the fields are not fBm (edges, noise, gaps). Significant breaks: Landsat
BT and NDVI near 330 and 270 m wavelength (dBIC 25 and 26; band 10 is natively 100 m, resampled
by USGS to 30 m, so the spectrum falls steeply below ~200 m - a sensor break, not a surface one),
Madrid near 300 m (dBIC 10), MOD11A1 near 10 km. On the 64 x 64 MODIS patches a break is rarely
significant (7 %); on ASTER at 250 m it is in 69 % of the scenes, at about 2.3 km.

**Intermittency.** The flatness of increments exceeds 3 at small lags in every LST field (MODIS
patches 4.2, Landsat 8.1, MOD11A1 8.3, Madrid 8.8) and relaxes towards 3 at large lags (MOD11A1:
2.8 at 118 km): small-scale LST increments are heavy-tailed (field, street, shore and cloud edges),
large-scale ones nearly Gaussian. ASTER at 250 m is extreme (flatness ~200, skewness +1.6): cold
isolated pixels (cloud contamination above the 230 K threshold) - the "truth" has outliers.

**Coarse-graining.** The within-block variance lost per factor-2 step is almost the same at every
step for the European scenes (alpha ~0.0 for MODIS 1-4 km and for ASTER 0.25-4 km: about 1-3 K^2
per octave), grows with scale on the Brazilian granule (alpha 0.47), and is scale-dependent below
the Landsat TIRS resolution (0.08 K^2 at the 30 -> 60 m step against 0.8-1.0 K^2 at 240-960 m).

**LST-guide laws.** On the 55 MODIS scenes the LST-NDVI correlation weakens towards fine scales
(median r -0.93 at 15 km, -0.89 at 3.7 km, -0.81 at 1 km) and the regression slope flattens
(-31 K per NDVI unit at 7-15 km, -28 at 1.9 km, -24 at 1 km: about +2.5 K per octave finer). A
slope calibrated at the coarse scale and applied one octave-pair below therefore over-predicts
the fine detail: exactly what TsHARP does (spectral ratio 1.5 against ASTER). Madrid's LST-NDBI
law is weaker at fine scale too (r -0.54 at 20 m, -0.63 at 640 m; slope -33 -> -42). On the
Landsat scene the relation is weak and of the wrong sign (r +0.06 to +0.22 below 0.5 km, +0.5 at
1.9 km): a hazy Gulf-coast mix of land and vegetated marsh, with cirrus (the BQA flags high cirrus
confidence on ~40 % of the otherwise clear land pixels, masked here) - do not use it for LST-NDVI laws.

## 5. The correction: choice, law, assumptions, limits

*Law.* Per image, the within-block variance `w(s) = w1 s^alpha` is fitted over the observed steps
(the input resolution and up). The variance a factor-4 step must restore is predicted as
`W = w(1/4) + w(1/2)`, with the exponent below the input pixel either unchanged (`law-lst`: the
scale-invariance hypothesis applied to the exponent) or shifted by the guide's change of exponent
across the LST pixel (`law`, `auto`: NDVI observed at 250 m tells how the surface's roughness
changes below 1 km). *Correction.* The method's detail (SR minus bicubic, block means kept) is
rescaled by one gain per image so that the within-block variance of the output equals `W`, then
the coarse residual is added back blockwise (radiometric aggregate = input to < 1e-3 K).
It is the identity when the method already injects what a scale-invariant law predicts
(tests/test_correction.py: an exact power-law cascade is returned unchanged).

*Choice by measurement* (tables 2 and 3):
- Extrapolating the law one step down is right to within a factor ~1.4 on MODIS (pred/true 0.86
  on the 55 patches at 4 -> 1 km, 1.35 on the MOD11A1 windows) and on ASTER (0.81, 1 km ->
  250 m). The guide shift helps where the guide drives the fine structure (Madrid: 2.18 -> 0.95)
  and overshoots on the MODIS/ASTER pairs (0.62).
- Rescaling to the predicted variance in both directions (`law`, `law-lst`) pulls the spectral
  ratio towards 1 but raises the RMSE whenever the gain exceeds 1 (DMS: +0.04 to +0.26 K): the
  injected detail is only partly right, and the RMSE-optimal gain `rho sigma_true / sigma_detail`
  is below the variance-matching one. Damping detail that exceeds the law lowered both errors in
  every case measured.
- Hence `scale_correction="auto"` = guide-shifted law, gain capped at 1 (`lst-damp`, the same
  without the guide, is as good one level up and slightly worse at 250 m).
<<MEASURED>>
<<DEEP>>
- *Why rescaling cannot meet the target for a well-trained model.* A model trained with a
  squared (or Huber) loss approximates the conditional mean `T^ = E[T | input]`, whose error is
  orthogonal to it: `var(T^) = var(T) - MSE`. In the detail band its spectral ratio is then
  `1 - MSE_detail / var_detail < 1`, and multiplying its detail by `k` adds `(k - 1)^2
  var(detail)` to the MSE. So for a calibrated model `|ratio - 1|` *is* its normalised detail
  error: halving it without raising the RMSE means halving the error, which takes a better model,
  not a correction. A correction wins only where the method is mis-calibrated at the target
  scale, and then only in the direction the RMSE asks for. `benchmarks/one_level_up.py`
  (docs/results/one_level_up.md) measures it where the truth is the real MODIS 1 km: a ResCNN
  trained at 16 -> 4 km and applied at 4 -> 1 km has a median RMSE-optimal detail gain of about
  0.7 (0.87 for the same network trained at 4 -> 1 km on the same data): one level down it
  injects *more* detail than its skill supports, yet *less* than the truth holds (spectral ratio
  0.4). The RMSE asks for damping, the spectrum for amplifying: no per-image gain, even one
  chosen with the truth, meets both halves of the target, and the oracle gain lowers the RMSE by
  only 0.01 K.
  The same network trained with the texture terms of the bundled DISR (`w_detail =
  w_spectral = 1`) shows the other face of the hypothesis: trained one level up it injects more
  detail at 4 -> 1 km (spectral ratio 0.95) than when trained at the scale of use (0.70), and
  costs +0.13 K RMSE. Its RMSE-optimal gain is 0.21: damping lowers the RMSE (`auto`: -0.015 K)
  but moves a spectrum that is already near 1 away from it (+5 %); the best any gain does without
  raising the RMSE is -12 %.
  Training on several scale pairs with the scale as an input (16 -> 4, 8 -> 2, 4 -> 1 km, then
  extrapolating) could at best close the gap between a model trained one level up and one
  trained at the scale of use: 0.018 K of RMSE and nothing of the spectral mismatch (0.59
  against 0.60) with the plain loss,
  0.13 K with the texture loss. It was not built.
- *What limits the law.* `benchmarks/correction_variants.py`
  (docs/results/correction_variants.md) keeps the gain rule and changes how `W` is predicted. With
  `W` read from the truth (an oracle) the correction meets the target one level up for TsHARP
  (|ratio - 1| -75 %, RMSE -0.08 K) and for the cross-sensor DISR (-68 %, -0.06 K): the limit is
  the prediction of `W` from a 16 x 16 or 64 x 64 image, not the rescaling. Anchoring the law on
  the observed first step with a flat exponent below (`W = 2 w_obs`) brings TsHARP one level up
  to -49 % (RMSE -0.05 K), short of the target and worse than `auto` at 1 km -> 250 m; no
  variant without the truth meets the target in both cases.
- *What any per-image gain can reach.* `gain_tradeoff` (benchmarks/gain_bounds.py) traces, with the
  truth, the RMSE and spectral ratio of a method's output for every gain of its detail;
  `best_feasible_gain` picks the gain nearest a ratio of 1 that does not raise the image's RMSE,
  `pooled_feasible_gains` the same under a constraint on the mean RMSE over images (the target's
  own). Whatever law predicts it, a detail-gain correction is one point of that curve, so this
  bounds them all (docs/results/correction_variants.md, `bound` rows; one_level_up.md). The
  target is out of reach for any gain where a method's detail is already as large as its skill
  allows: the SISR models (pooled bound -1 % one level up, -2 % at 1 km -> 250 m; the ResCNN
  trained at 16 -> 4 km: -2 %) and DMS (-36 %, -40 %). It is barely within reach for the
  cross-sensor DISR at 1 km -> 250 m (-52 % pooled, RMSE -0.004 K; -11 % image by image) and
  within reach for TsHARP (-85 % one level up, -93 % at 1 km -> 250 m), for the cross-sensor
  DISR one level up (-93 %, by amplifying) and for the DISR trained at 4 km -> 1 km
  (`weights="degraded"`: -65 % and -89 %). `auto` reaches it for TsHARP
  at 1 km -> 250 m (-71 %; -54 % with the symmetric estimate through `evaluate` on the 35
  held-out pairs, RMSE -0.08 K: docs/results/accuracy.md, co-registered + clear protocol) and
  gets -41 % (-23 %
  symmetric; RMSE -0.02 K) for the degraded DISR there; one level
  up it gets -24 % for TsHARP and nothing for the DISRs, which need amplifying, and amplifying
  is what raises the RMSE of the methods whose bound is near zero; nothing measured here
  without the truth tells the two cases apart. For the question of the project this means: the
  spectral mismatch of a SISR model
  trained at 4 km -> 1 km is not caused by scale invariance (the same network trained at the
  scale of use has the same ratio, 0.40 against 0.41) and no rescaling of its output can remove
  it without costing accuracy; where a model trained one level up does mis-scale its detail
  (the degraded DISR), the correction recovers part of what a perfect gain would.
- A check of the resampling bias: putting ASTER onto the MODIS grid and back (`evaluate` of the
  reprojected truth against ASTER) gives a spectral ratio of 0.76 (median over pairs), i.e.
  about 0.87 per bilinear resampling - the size of the gap between the two harnesses.

*Assumptions and where it fails.* (1) One power law per image over few steps (64 x 64 patches:
4 steps, wide confidence intervals). (2) The guide's change of roughness transfers to LST -
wrong where LST fine structure is not vegetation-driven (water, relief, soil moisture, urban
materials without an NDVI signature). (3) A law cannot extrapolate across a sensor's PSF or
resampling: Landsat BT 120 m -> 30 m is over-predicted 2.2 x (band 10 has no information below
100 m). (4) A global gain per image: regions that need more detail and regions that need less
are treated alike. (5) It only damps: methods that are too smooth (bicubic, DMS, the SISR
models of issue 5 if they under-inject) need a better method, not this correction.
(6) The truth has its own limits: ASTER vs MODIS differ by ~1.7 K RMSE at 1 km, and the ASTER
fields contain cold outliers (flatness ~200), which inflate the "true" within-block variance.

*Harness note.* The main RMSE / spectral-ratio columns put ASTER bilinearly onto the MODIS
250 m grid (only output pixels whose whole bilinear footprint is valid truth): that smooths
ASTER and lowers RMSE (bicubic 2.37 K) relative to the `eval` columns, which use
`xlstsr.evaluate` as docs/results/accuracy.md does (SR onto the ASTER grid). Deep models
(`sisr`, `disr`) are scored on the 35 held-out `EVAL_PAIRS` only (their bundled weights were
trained on the other 20 pairs): their means are over 35 pairs, the classical methods' over 55.

Reproduce: `nice -n 10 .venv/bin/python benchmarks/scaling_report.py` (about 10 min on 2 cores).
"""


#: the methods of the published page (``--methods``' default)
METHODS = "bicubic,tsharp,dms,sisr,disr"
#: ``--smoke``'s methods when ``--methods`` is not given
SMOKE_METHODS = "bicubic,tsharp"
#: the datasets of the statistics and law sections, read by fixed folder name
SCENE_DATA = ("landsat8_gulf_l1", "madrid_desirex", "mod11a1_hdf")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="8 modis_aster pairs")
    ap.add_argument("--smoke", action="store_true",
                    help="2 pairs, bicubic and tsharp unless --methods, 256 px crops (a test)")
    ap.add_argument("--methods", default=None,
                    help=f"comma-separated methods to score, of {', '.join(xlstsr.available_methods())} "
                    f"(default {METHODS}; with --smoke: {SMOKE_METHODS})")
    ap.add_argument("--out", type=Path, default=None,
                    help="output folder (default: docs/results; ./heldback_results with --smoke, "
                    "--quick or --methods)")
    args = ap.parse_args(argv)
    # --smoke's own methods only when none were asked for: it replaced a given --methods
    # silently, and the page's command named methods that were never scored
    args.methods = args.methods if args.methods is not None else (
        SMOKE_METHODS if args.smoke else METHODS)
    # names were filtered silently: a typo or "a, b" (a space) ran fewer methods, exit 0
    names = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in names if m not in xlstsr.available_methods()]
    if unknown or not names:
        ap.error(f"--methods {args.methods!r}: "
                 + (f"unknown {unknown}" if unknown else "no method named")
                 + f"; available: {', '.join(xlstsr.available_methods())} (comma-separated)")
    args.methods = ",".join(names)
    argv = sys.argv[1:] if argv is None else list(argv)
    # a smoke run (a test of the code path) or a subset of the protocol (some pairs or methods)
    # never replaces the published page unless --out asks for it
    args.out = results_dir(args.out, ROOT / "docs" / "results", smoke=args.smoke,
                           partial=args.quick or args.methods != METHODS)
    crop = SMOKE_CROP if args.smoke else FULL_CROP
    data = data_root()
    made = not args.out.exists()
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        return _report(args, argv, data, crop)
    except FileNotFoundError:  # missing data (one line from exit_on_missing_data): no empty folder
        if made and args.out.is_dir() and not any(args.out.iterdir()):
            args.out.rmdir()
        raise


def _report(args: argparse.Namespace, argv: list[str], data: Path, crop: Crop) -> int:
    """The page of :func:`main`'s checked options ``args`` (``argv`` as given) on ``data``."""
    t0 = time.time()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=GuideAlignmentWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        pairs = modis_aster_pairs(2 if args.smoke else 8 if args.quick else None, data)
        # the folder actually read (it said ../shared/data whatever $XLSTSR_DATA named); the
        # project's own as the published page names it, beside the checkout
        shown = (f"{Path(os.path.relpath(data, ROOT)).as_posix()} (see its README)"
                 if is_project_data(data) else str(data))
        lines = [
            "# Statistics across scales and the scale-invariance correction",
            "",
            f"Generated by `{shlex.join(['benchmarks/scaling_report.py', *argv])}` "
            f"({len(pairs)} modis_aster pairs; xlstsr {xlstsr.__version__}). Data: {shown}.",
            "",
        ]
        stats_section(pairs, lines, data, args.out, crop, smoke=args.smoke)
        law_section(pairs, lines, data, crop)
        methods = args.methods.split(",")  # checked above
        summary = sr_section(pairs, lines, methods, args.out)
        resampling_check(pairs, lines)
    # the discussion's differences are of the figures the tables print (3 decimals): from the
    # unrounded means, one said +0.025 K where its table's figures differ by 0.026
    if summary:
        summary = {k: tuple(round(float(x), 3) for x in v) for k, v in summary.items()}
    lines.append(discussion(summary, len(pairs), getattr(pairs, "project", True)))
    lines.append(f"Total run time {time.time() - t0:.0f} s.")
    md = args.out / "scaling.md"
    old = md.read_text() if md.is_file() else ""
    if HAND in old:  # sections written by hand from other runs (ECOSTRESS) are kept
        lines += ["", old[old.index(HAND):].rstrip("\n")]
    md.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    from xlstsr.datasets.root import exit_on_missing_data

    exit_on_missing_data(main, __file__)  # missing data: one line naming the fix
