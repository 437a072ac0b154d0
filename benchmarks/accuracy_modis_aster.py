"""MODIS 1 km -> 250 m accuracy benchmark against near-simultaneous ASTER LST (55 real pairs).

Every registered upscaling method (``xlstsr.available_methods()``; guided methods get the
MODIS 250 m NDVI) super-resolves each pair's MODIS LST by 4; ``xlstsr.evaluate`` reprojects the
result bilinearly onto the ASTER grid and scores it under three protocols side by side:

- *anchor*: the ASTER truth mask of the data README (ASTER > 0, eroded by 3 px, > 230 K), ASTER
  as its geotransform says (comparable with the published figures on these pairs);
- *co-registered*: the ASTER field first aligned with the MODIS LST (``xlstsr.estimate_offset``,
  once per pair, from ASTER and the MODIS LST only: every method meets the same truth);
- *co-registered + clear*: also without the pixels within 3 px of every gap, cloud holes
  included (``evaluate(clear=True)``): the headline, because it scores fine detail rather than
  misregistration and cloud edges.

New methods (deep models...) appear automatically once registered; a method that cannot be
instantiated (e.g. missing weights) is reported as skipped. Trained models are scored only on
the pairs they were not trained on: the bundled models' training pairs are recognised by their
MODIS LST (``xlstsr.datasets.seen_in_training``), so ``--root`` may point to a folder of other
(held-back) pairs laid out like ``modis_aster/``, numbered as it likes; its tables then hold all
of its pairs that are not shared training pairs (the "EVAL_PAIRS" of the headings).

Writes ``accuracy.md`` (tables) and ``accuracy_maps.png`` (maps of one pair) in ``--out``: by
default ``docs/results`` for the project's own data, ``./heldback_results`` for any other folder,
a ``--smoke`` run or a subset run (``--pairs``, ``--methods``, ``--no-anchor``,
``--no-corrections``; ``xlstsr.datasets.root.results_dir``: a held-back, smoke or subset run
never replaces the published page unless ``--out`` says so). Data: ``../shared/data/modis_aster`` (or ``$XLSTSR_DATA``), see
``xlstsr.datasets.open_modis_aster_pair``. A pair whose files are incomplete, or whose ASTER
scene has no pixel in the truth mask, is left out and listed on the page; a folder with no
usable pair is refused with the reasons.

Usage::

    python benchmarks/accuracy_modis_aster.py                    # all methods, all pairs
    python benchmarks/accuracy_modis_aster.py --methods bicubic,tsharp --pairs 001,002
    python benchmarks/accuracy_modis_aster.py --root HELD_BACK --out /tmp/held_back  # other pairs
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import shlex
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from rasterio.enums import Resampling

import xlstsr
from xlstsr.datasets import (
    apart_from_training,
    aster_truth_mask,
    data_root,
    modis_aster_pairs,
    open_modis_aster_pair,
    seen_in_training,
)
from xlstsr.datasets.modis_aster import _modis_aster_dir
from xlstsr.datasets.root import is_project_data, results_dir
from xlstsr.errors import GuideAlignmentWarning, XlstsrError
from xlstsr.guide import check_alignment
from xlstsr.kernels.aggregate import radiometric_mean
from xlstsr.kernels.interp import cubic_upsample
from xlstsr.methods import get_method

ROOT = Path(__file__).resolve().parents[1]
FACTOR = 4
#: the truth mask of the data README: ASTER > 0, eroded by 3 px, > 230 K
TRUTH = {"erode": 3, "valid_min": 230.0}
#: sanity anchor from an independent reading of the same pairs (bicubic, mean over 55 pairs)
ANCHOR = {"rmse": 3.14, "ubrmse": 2.97, "psnr": 29.05}
COLUMNS = [  # (metric, header, format, absolute value first)
    ("rmse", "RMSE (K)", "{:.2f}", False),
    ("ubrmse", "ubRMSE (K)", "{:.2f}", False),
    ("bias", "abs(bias) (K)", "{:.2f}", True),
    ("psnr", "PSNR (dB)", "{:.2f}", False),
    ("ssim", "SSIM", "{:.3f}", False),
    ("spectral_ratio", "spectral ratio", "{:.3f}", False),
    ("spectral_ratio_sym", "sym. spectral ratio", "{:.3f}", False),
    ("coarse_consistency", "coarse consistency (K)", "{:.3f}", False),
    ("seconds", "s / scene", "{:.3f}", False),
]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--methods", default=None,
                   help="comma-separated method names (default: every registered method); the "
                   "scale-correction table keeps those of them it holds")
    p.add_argument("--pairs", default=None,
                   help="comma-separated pair ids, e.g. 001,002 (default: all 55; a repeated "
                   "id is scored once)")
    p.add_argument("--root", default=None, help="data folder holding modis_aster/ (default: "
                   "$XLSTSR_DATA or ../shared/data)")
    p.add_argument("--out", default=None,
                   help="output folder for accuracy.md and accuracy_maps.png (default: "
                   "docs/results for the project's own data, ./heldback_results for another "
                   "--root, a --smoke run or a subset run: --pairs, --methods, --no-anchor, "
                   "--no-corrections)")
    p.add_argument("--figure-pair", default=None,
                   help="pair shown in the maps, one of those scored (default: the first)")
    p.add_argument("--csv", default=None, help="also write per-pair results to this CSV file "
                   "(its folder is created)")
    p.add_argument("--no-anchor", action="store_true",
                   help="skip the bicubic anchor variants and the irreducible-error figure")
    p.add_argument("--no-figure", action="store_true", help="do not draw the maps")
    p.add_argument("--no-corrections", dest="corrections", action="store_false",
                   help="skip the with/without scale-correction table")
    p.add_argument("--smoke", action="store_true",
                   help="a few seconds' run of the same code (2 pairs: 002 and 015, or the "
                   "folder's first two held out from the bundled models' training; bicubic and "
                   "tsharp unless --methods, no anchor variants, corrections or "
                   "figures): for the test suite")
    args = p.parse_args(argv)
    if args.out is not None:  # a file in the way was a FileExistsError traceback from mkdir
        in_way = next((q for q in (Path(args.out), *Path(args.out).parents)
                       if q.exists() and not q.is_dir()), None)
        if in_way is not None:
            p.error(f"--out {args.out}: {in_way} is a file, not a folder; pass a folder path "
                    "(it is created)")
    # whether the user chose the pairs (a --smoke run picks its own in main(), held-out ones)
    args.pairs_given = args.pairs is not None
    args.methods_given = args.methods is not None  # the page names what the user asked for
    if args.smoke:
        args.methods = args.methods or "bicubic,tsharp"
        args.no_anchor, args.corrections, args.no_figure = True, False, True
    if args.methods is not None:
        # checked before any pair is read: all names unknown ended, after loading every pair,
        # in an AttributeError (no row to tabulate), and one typo cost its method silently
        known = [*xlstsr.available_methods(), *VARIANTS, *CORRECTED]
        names = [n.strip() for n in args.methods.split(",") if n.strip()]
        unknown = [n for n in names if n not in known]
        # at least one method of the main table: a scale-correction label alone ('disr
        # (degraded)') left it empty, and the run ended after scoring in an AttributeError
        if not unknown and names and not any(
                n in VARIANTS or n in xlstsr.available_methods() for n in names):
            p.error(f"--methods {args.methods!r} names only scale-correction rows "
                    f"({', '.join(names)}): add a method of the main table, e.g. "
                    f"--methods {names[0].split(' ')[0]},{names[0]!r}")
        if unknown or not names:
            p.error(f"--methods {args.methods!r}: "
                    + (f"unknown {unknown}" if unknown else "no method named")
                    + f"; available: {', '.join(dict.fromkeys(known))} (comma-separated, exact "
                    "names; leave --methods out for all of them)")
    return args


# ----------------------------------------------------------------------------------------------
# methods


from xlstsr.methods import TorchModelMethod  # noqa: E402

#: bundled models scored beside the registered methods' defaults: label -> (method, options).
#: "disr (displaced)": the DISR trained on ASTER truth as given (the default before issue 13),
#: kept to show what co-registering the training truth changed; "disr (unet)": the U-Net the
#: default (a coarse-grid network, a third of its CPU time) was distilled from, the default
#: before round 7 of disr_selection.md
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "disr (displaced)": ("disr", {"weights": "unet_displaced"}),
    "disr (unet)": ("disr", {"weights": "unet"}),
    # the default's radiance-consistent form (issue 13's second target): its radiometric
    # aggregate gives the MODIS input back
    "disr (conserve)": ("disr", {"conserve": True}),
}


def apart_from_all_training(pairs: Sequence[str], root: Path | None) -> list[str]:
    """The pairs apart from every ground the bundled models trained or early-stopped on:
    :func:`xlstsr.datasets.apart_from_training` (the training pairs' ground, the cube windows
    the cube-trained models record and the Croatia windows; kept under this name for the other
    benchmarks that call it)."""
    return apart_from_training(pairs, root)


def resolve_methods(names: str | None) -> tuple[dict[str, Any], dict[str, str]]:
    """Instantiate the requested (default: all registered methods and :data:`VARIANTS`) methods;
    failures are skipped."""
    wanted = names.split(",") if names else [*xlstsr.available_methods(), *VARIANTS]
    methods, skipped = {}, {}
    for name in (n.strip() for n in wanted if n.strip()):
        try:
            base, opts = VARIANTS.get(name, (name, {}))
            methods[name] = get_method(base, **opts)
        except Exception as err:  # e.g. a deep model whose weights are not installed
            skipped[name] = f"{type(err).__name__}: {str(err).splitlines()[0][:240]}"
    return methods, skipped


def run_method(
    method: Any, lst: xr.DataArray, ndvi: xr.DataArray, scale_correction: str | None = None
) -> tuple[xr.DataArray, float]:
    """Super-resolve one scene; returns the in-memory result and the wall time (s)."""
    # the correction shifts its law below the LST pixel with the guide, so it always gets one
    guide = ndvi if (method.needs_guide or scale_correction) else None
    with warnings.catch_warnings():
        # the NDVI is offset by 0-3 fine pixels from the LST patch: upscale reprojects it
        warnings.simplefilter("ignore", GuideAlignmentWarning)
        if guide is not None:
            # upscale's default (guide_offset=None: "auto" on in-memory input) run before the
            # clock: the NDVI's sub-pixel offset from the LST (11 of the 55 pairs) is moved back
            # as a user's call does, and its ~0.3 s estimate stays out of the timing
            guide = check_alignment(guide, lst, None, factor=FACTOR)
        t0 = time.perf_counter()
        # pair 015 holds one 402 K MODIS pixel: masked as out of range (filled by the engine)
        sr = xlstsr.upscale(lst, FACTOR, method=method, guide=guide, mask_out_of_range=True,
                            scale_correction=scale_correction, guide_offset="ignore")
        sr = sr.load()
    return sr, time.perf_counter() - t0


#: the three protocols: name -> evaluate options besides the truth mask (None: the offset)
PROTOCOLS = {
    "anchor": {},
    "co-registered": {"coregister": None},
    "co-registered + clear": {"coregister": None, "clear": True},
}
HEADLINE = "co-registered + clear"


def score(sr: xr.DataArray, lst: xr.DataArray, aster: xr.DataArray, **options: Any
          ) -> dict[str, float]:
    ds = xlstsr.evaluate(sr, aster, coarse=lst, factor=FACTOR, **TRUTH, **options)
    return {k: float(v) for k, v in ds.compute().data_vars.items()}


def score_protocols(sr: xr.DataArray, lst: xr.DataArray, aster: xr.DataArray,
                    offset: xr.Dataset | None) -> dict[str, dict[str, float]]:
    """Scores under each protocol (the co-registered ones only with a reliable offset)."""
    out = {}
    for name, opts in PROTOCOLS.items():
        if "coregister" in opts:
            if offset is None:
                continue
            opts = {**opts, "coregister": offset}
        out[name] = score(sr, lst, aster, **opts)
    return out


def pair_offset(lst: xr.DataArray, aster: xr.DataArray) -> tuple[xr.Dataset, dict[str, Any]]:
    """ASTER's offset and MODIS's PSF on one pair (ASTER on the anchor's truth mask)."""
    truth = aster.where(aster_truth_mask(aster, erode=TRUTH["erode"],
                                         min_k=TRUTH["valid_min"], clear=False))
    est = xlstsr.estimate_offset(truth, lst, errors="ignore")
    return est, {k: float(v) for k, v in est.data_vars.items()}


#: methods scored with and without the scale-invariance correction (issue 6): label -> (name,
#: options); "disr (degraded)" is the DISR trained at 4 km -> 1 km, the scale-invariance case
CORRECTED = {
    "tsharp": ("tsharp", {}),
    "dms": ("dms", {}),
    "sisr": ("sisr", {}),
    "disr": ("disr", {}),
    "disr (degraded)": ("disr", {"weights": "degraded"}),
}
CORRECTIONS = (None, "auto", "law")


def corrected_methods(names: str | None) -> dict[str, tuple[str, dict[str, Any]]]:
    """The rows of the scale-correction table that ``--methods`` asks for: every one of
    :data:`CORRECTED` by default, else those whose label or method is named (``disr`` keeps
    ``disr (degraded)``, another weights of it); ``--methods bicubic`` none (bicubic has no
    correction row). Each row costs three runs of its method per pair: a method not asked for
    is neither run nor published.

    Examples
    --------
    >>> list(corrected_methods("bicubic")), list(corrected_methods("tsharp, disr"))
    ([], ['tsharp', 'disr', 'disr (degraded)'])
    """
    if not names:
        return dict(CORRECTED)
    wanted = {n.strip() for n in names.split(",") if n.strip()}
    return {label: (name, opts) for label, (name, opts) in CORRECTED.items()
            if label in wanted or name in wanted}


def correction_table(df: pd.DataFrame) -> str:
    """RMSE and symmetric spectral mismatch per method and correction, change against none."""
    head = ("| method | correction | pairs | RMSE (K) | change (K) | sym. spectral ratio | "
            "mean abs(sym - 1) | change |")
    out = [head, "|---|---|---:|---:|---:|---:|---:|---:|"]
    for label in dict.fromkeys(df.label):
        sub = df[df.label == label]
        ref = sub[sub.correction == "none"]
        r0, d0 = ref.rmse.mean(), (ref.spectral_ratio_sym - 1).abs().mean()
        for corr in dict.fromkeys(sub.correction):
            c = sub[sub.correction == corr]
            r, d = c.rmse.mean(), (c.spectral_ratio_sym - 1).abs().mean()
            out.append(
                f"| {label} | {corr} | {len(c)} | {r:.3f} | {r - r0:+.3f} | "
                f"{c.spectral_ratio_sym.mean():.3f} | {d:.3f} | {d / d0 - 1:+.0%} |"
            )
    return "\n".join(out)


# ----------------------------------------------------------------------------------------------
# reference figures: MODIS vs ASTER at 1 km, and variants of bicubic for the anchor


def modis_vs_aster_1km(lst: xr.DataArray, aster: xr.DataArray) -> dict[str, float]:
    """MODIS 1 km vs ASTER aggregated to 1 km: the error no super-resolution can remove.

    ASTER on its truth mask is reprojected (bilinear) onto the MODIS 250 m grid nested in the
    1 km one, then aggregated radiometrically (``(mean T^4)^(1/4)``, every 250 m pixel valid).
    """
    template = xlstsr.upscale(lst, FACTOR, method="nearest", mask_out_of_range=True)
    truth = aster.where(aster_truth_mask(aster, **{"erode": TRUTH["erode"],
                                                    "min_k": TRUTH["valid_min"]}, clear=False))
    fine = truth.rio.reproject_match(template, resampling=Resampling.bilinear, nodata=np.nan)
    agg = radiometric_mean(fine.values.astype(np.float64), FACTOR, min_valid=1.0)
    modis = xlstsr.validate.decode_lst(lst, mask_out_of_range=True).values.astype(np.float64)
    from xlstsr.kernels import metrics as k

    # variant: GDAL "average" straight onto the 1 km grid (plain mean, any partial coverage)
    src = truth.astype(np.float64).rio.write_nodata(np.nan, encoded=False)
    avg = src.rio.reproject_match(lst, resampling=Resampling.average, nodata=np.nan).values
    return {"rmse": float(k.rmse(modis, agg)), "bias": float(k.bias(modis, agg)),
            "ubrmse": float(k.ubrmse(modis, agg)), "n_valid": float(k.n_valid(modis, agg)),
            "rmse_gdal_average": float(k.rmse(modis, avg)),
            "n_valid_gdal_average": float(k.n_valid(modis, avg))}


def bicubic_variants(lst: xr.DataArray, aster: xr.DataArray) -> dict[str, dict[str, float]]:
    """Bicubic computed in ways an independent harness might have used (for the anchor)."""
    import torch

    ours = xlstsr.upscale(lst, FACTOR, method="bicubic", mask_out_of_range=True)
    raw = lst.values.astype(np.float64)
    keys05 = ours.copy(data=cubic_upsample(raw, FACTOR))
    t = torch.from_numpy(raw[None, None])
    keys075 = ours.copy(data=torch.nn.functional.interpolate(
        t, scale_factor=FACTOR, mode="bicubic", align_corners=False)[0, 0].numpy())
    out = {
        "xlstsr bicubic (Keys a=-0.5; 402 K pixel of pair 015 masked), SR -> ASTER bilinear":
            score(ours, lst, aster),
        "Keys a=-0.5 on the raw MODIS field (nothing masked), SR -> ASTER bilinear":
            score(keys05, lst, aster),
        "Keys a=-0.75 (torch/OpenCV bicubic) on the raw field, SR -> ASTER bilinear":
            score(keys075, lst, aster),
    }
    # no reprojection of SR: ASTER truth reprojected (bilinear) onto the SR grid instead
    truth = aster.where(aster_truth_mask(aster, erode=TRUTH["erode"],
                                         min_k=TRUTH["valid_min"], clear=False))
    on_modis = truth.rio.reproject_match(ours, resampling=Resampling.bilinear, nodata=np.nan)
    on_modis = on_modis.assign_coords(y=ours.y.values, x=ours.x.values)
    ds = xlstsr.evaluate(ours, on_modis, coarse=lst, factor=FACTOR)
    out["xlstsr bicubic, ASTER truth -> MODIS 250 m grid bilinear (SR not reprojected)"] = {
        k: float(v) for k, v in ds.data_vars.items()}
    return out


# ----------------------------------------------------------------------------------------------
# report


def _cell(values: pd.Series, fmt: str) -> str:
    v = values.dropna()
    if v.empty:
        return "n/a"
    return f"{fmt.format(v.mean())} ({fmt.format(v.median())})"


def results_table(df: pd.DataFrame, order: Sequence[str]) -> str:
    head = "| method | pairs | " + " | ".join(h for _, h, _, _ in COLUMNS) + " |"
    sep = "|---|---:|" + "---:|" * len(COLUMNS)
    rows = [head, sep]
    for name in order:
        sub = df[df.method == name]
        if sub.empty:
            continue
        cells = []
        for col, _, fmt, absolute in COLUMNS:
            vals = sub[col].abs() if absolute else sub[col]
            cells.append(_cell(vals, fmt))
        rows.append(f"| {name} | {sub.rmse.notna().sum()} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def variants_table(rows: list[dict[str, Any]], anchored: bool = True) -> str:
    """The bicubic variants' means; ``anchored``: with their differences from :data:`ANCHOR`
    (a reading of the shared folder's 55 pairs: not for another folder's pairs)."""
    df = pd.DataFrame(rows)
    lines = ["| variant | mean RMSE (K) | - anchor | mean ubRMSE (K) | mean PSNR (dB) | - anchor | "
             "median PSNR (dB) | 20 log10(mean range / mean RMSE) (dB) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    if not anchored:
        lines = ["| variant | mean RMSE (K) | mean ubRMSE (K) | mean PSNR (dB) | "
                 "median PSNR (dB) | 20 log10(mean range / mean RMSE) (dB) |",
                 "|---|---:|---:|---:|---:|---:|"]
    for name, sub in df.groupby("variant", sort=False):
        rng = (10 ** (sub.psnr / 20) * sub.rmse).mean()
        rmse_d = f" {sub.rmse.mean() - ANCHOR['rmse']:+.3f} |" if anchored else ""
        psnr_d = f" {sub.psnr.mean() - ANCHOR['psnr']:+.2f} |" if anchored else ""
        lines.append(f"| {name} | {sub.rmse.mean():.3f} |{rmse_d} "
                     f"{sub.ubrmse.mean():.3f} | {sub.psnr.mean():.2f} |{psnr_d} "
                     f"{sub.psnr.median():.2f} | {20 * np.log10(rng / sub.rmse.mean()):.2f} |")
    return "\n".join(lines)


def variants_reading(rows: list[dict[str, Any]], anchored: bool = True,
                     pairs_given: bool = True) -> str:
    """What the variants say about the anchor, from the numbers just computed. ``anchored``:
    the pairs are the shared folder's (the anchor's); ``pairs_given``: the run scored the pairs
    of ``--pairs`` (the advice to leave it out is for such a run only)."""
    if not anchored:
        return ("(The anchor is a reading of the shared folder's 55 pairs, not of this folder's: "
                "the variants above are not compared with it.)")
    df = pd.DataFrame(rows)
    means = df.groupby("variant", sort=False)[["rmse", "psnr"]].mean()
    names = list(means.index)
    ours, raw, k075, nore = (means.loc[n] for n in names[:4])
    per_pair = df.pivot(index="pair", columns="variant", values="rmse")
    masked_effect = (per_pair[names[1]] - per_pair[names[0]]).abs()
    worst = masked_effect.idxmax()
    ps = df[df.variant == names[0]]
    rng = (10 ** (ps.psnr / 20) * ps.rmse).mean()
    aggregations = [ours.psnr, ps.psnr.median(), 20 * np.log10(rng / ps.rmse.mean())]
    between = min(aggregations) <= ANCHOR["psnr"] <= max(aggregations)
    closer = abs(ours.rmse - ANCHOR["rmse"]) < abs(nore.rmse - ANCHOR["rmse"])
    if df.pair.nunique() < 55:
        return (f"(The anchor is a mean over all 55 pairs, this run read {df.pair.nunique()}"
                + (": run without --pairs to compare.)" if pairs_given else
                   ": not compared.)"))
    return (
        f"Reading: our bicubic mean RMSE {ours.rmse:.3f} K is {ours.rmse - ANCHOR['rmse']:+.3f} K from "
        f"the anchor (tolerance 0.1 K). The cubic kernel does not explain the rest: Keys a=-0.75 "
        f"instead of a=-0.5 changes the mean RMSE by {k075.rmse - raw.rmse:+.4f} K. Masking the "
        f"402 K MODIS pixel changes pair {worst}'s RMSE by {masked_effect.max():.3f} K and the mean by "
        f"{raw.rmse - ours.rmse:+.4f} K. Scoring on the MODIS 250 m grid instead of reprojecting the "
        f"SR gives {nore.rmse:.3f} K, "
        + ("farther from the anchor: it is consistent with reprojecting the SR onto ASTER, as "
           "stated. " if closer else "closer to the anchor. ")
        + f"PSNR depends on how per-pair values are aggregated: mean of per-pair "
        f"PSNR {ours.psnr:.2f} dB, median {ps.psnr.median():.2f} dB, "
        f"20 log10(mean range / mean RMSE) {aggregations[2]:.2f} dB; the "
        f"anchor's {ANCHOR['psnr']} dB lies {'between' if between else 'outside'} those, and each "
        f"pair's range ({_range_text(ps)}) is set "
        "by single cold pixels just above 230 K, so a small difference in mask or resampling moves "
        "it by a few tenths of a dB."
    )


def _range_text(rows: pd.DataFrame) -> str:
    """The span of the per-pair PSNR data ranges (ASTER max - min over the scored pixels, read
    back as 10^(PSNR/20) x RMSE) of ``rows``, e.g. "80-97 K"."""
    rng = (10 ** (rows.psnr / 20) * rows.rmse).dropna()
    return f"{rng.min():.0f}-{rng.max():.0f} K" if len(rng) else "not measured"


def psnr_ranges(rows: pd.DataFrame) -> str:
    """The PSNR data range of each protocol in ``rows`` (the range is the truth's over the
    scored pixels: dropping the cloud-edge pixels narrows it, so PSNR of different protocols is
    not comparable)."""
    return "; ".join(f"{p}: {_range_text(rows[rows.protocol == p])}"
                     for p in PROTOCOLS if (rows.protocol == p).any())


def protocol_table(rows: pd.DataFrame, order: Sequence[str]) -> str:
    """RMSE, ubRMSE and the symmetric spectral ratio of each method under each protocol."""
    protos = [p for p in PROTOCOLS if (rows.protocol == p).any()]
    if not protos:  # no row: no table (its header had 3 empty columns over a 2-column rule)
        return ""
    head = ("| method | pairs | " + " | ".join(f"RMSE {p} (K)" for p in protos) + " | "
            + " | ".join(f"ubRMSE {p} (K)" for p in protos) + " | "
            + " | ".join(f"sym. ratio {p}" for p in protos) + " |")
    out = [head, "|---|---:|" + "---:|" * (3 * len(protos))]
    for name in order:
        sub = rows[rows.method == name]
        if sub.empty:
            continue
        cells = []
        for col, fmt in (("rmse", "{:.2f}"), ("ubrmse", "{:.2f}"), ("spectral_ratio_sym", "{:.3f}")):
            for proto in protos:
                cells.append(_cell(sub[sub.protocol == proto][col], fmt))
        out.append(f"| {name} | {sub[sub.protocol == protos[-1]].pair.nunique()} | "
                   + " | ".join(cells) + " |")
    return "\n".join(out)


def offsets_section(off: pd.DataFrame, fig: bool, seen: set[str]) -> list[str]:
    """Per-pair offsets and PSF widths, and their spread by split."""
    ok = off[off.reliable > 0]
    lines = [
        "## ASTER's offset and the MODIS PSF, per pair",
        "",
        "`xlstsr.estimate_offset(aster, lst)`: the ASTER field (anchor truth mask) is put on the "
        "MODIS 250 m grid nested in the 1 km one, shifted, blurred by a Gaussian PSF and "
        "aggregated radiometrically, and compared with the MODIS LST by a linear fit; the shift "
        "and the PSF width minimise the unexplained variance (grid search, then Nelder-Mead). "
        "`shift_x` / `shift_y`: metres to add to ASTER's coordinates (MODIS sinusoidal) to align "
        "it (`shift_y > 0`: ASTER's content belongs further north). Bias-removed RMSE at 1 km: "
        "MODIS vs ASTER aggregated as a box as given, and shifted + blurred.",
        "",
        f"Reliable estimates: {len(ok)} of {len(off)} pairs.",
        "",
        "| pairs | shift_x (m) | shift_y (m) | psf_sigma (m) | uncertainty (m) | "
        "bias-removed RMSE 1 km, as given (K) | shifted + blurred (K) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, sub in (("training (TRAIN_PAIRS)", ok[ok.pair.isin(seen)]),
                       ("held out (EVAL_PAIRS)", ok[~ok.pair.isin(seen)]), ("all", ok)):
        if sub.empty:
            continue
        def ms(c: str, sub: pd.DataFrame = sub) -> str:
            return f"{sub[c].median():.0f} (sd {sub[c].std(ddof=0):.0f})"
        lines.append(
            f"| {label}: {len(sub)}, median (sd) | {ms('shift_x')} | {ms('shift_y')} | "
            f"{ms('psf_sigma')} | {ms('shift_uncertainty')} | "
            f"{sub.bias_removed_before.mean():.2f} | {sub.bias_removed_after.mean():.2f} |")
    lines += ["", "<details><summary>every pair</summary>", "",
              "| pair | shift_x (m) | shift_y (m) | psf_sigma (m) | uncertainty (m) | r before | "
              "r after | bias-removed before (K) | after (K) | reliable |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in off.itertuples():
        lines.append(f"| {r.pair} | {r.shift_x:+.0f} | {r.shift_y:+.0f} | {r.psf_sigma:.0f} | "
                     f"{r.shift_uncertainty:.0f} | {r.correlation_before:.3f} | "
                     f"{r.correlation_after:.3f} | {r.bias_removed_before:.2f} | "
                     f"{r.bias_removed_after:.2f} | {'yes' if r.reliable else 'no'} |")
    lines += ["", "</details>", ""]
    if fig:
        lines += ["![misfit surface](coregistration_surface.png)", ""]
    return lines


def draw_misfit(path: Path, pid: str, lst: xr.DataArray, aster: xr.DataArray,
                est: xr.Dataset) -> None:
    """The misfit surface 1 - r^2 over shifts, at the estimated PSF and as a box."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from xlstsr.coregister import misfit_surface

    truth = aster.where(aster_truth_mask(aster, erode=TRUTH["erode"],
                                         min_k=TRUTH["valid_min"], clear=False))
    shifts = np.arange(-460.0, 461.0, 20.0)
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 4.2), layout="constrained")
    for ax, sig, title in ((axes[0], 0.0, "box PSF"),
                           (axes[1], float(est.psf_sigma), f"Gaussian PSF {float(est.psf_sigma):.0f} m")):
        m = misfit_surface(truth, lst, shifts, psf_sigma=sig)
        im = ax.pcolormesh(shifts, shifts, m.values, cmap="viridis", shading="auto")
        ax.contour(shifts, shifts, m.values, 12, colors="w", linewidths=0.5)
        ax.plot(float(est.shift_x), float(est.shift_y), "r+", ms=14, mew=2, label="estimate")
        ax.plot(0, 0, "wx", ms=8, label="as given")
        ax.set_xlabel("shift_x (m)")
        ax.set_ylabel("shift_y (m)")
        ax.set_aspect("equal")
        ax.set_title(f"pair {pid}: 1 - r^2, {title}", fontsize=10)
        fig.colorbar(im, ax=ax, shrink=0.8)
    axes[1].legend(loc="lower right", fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_maps(path: Path, pid: str, lst: xr.DataArray, aster: xr.DataArray,
              srs: dict[str, xr.DataArray], scores: dict[str, dict[str, float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mask = aster_truth_mask(aster, erode=TRUTH["erode"],
                            min_k=TRUTH["valid_min"], clear=False).values
    truth = np.where(mask, aster.values, np.nan)

    def on_aster(da: xr.DataArray, resampling: Resampling) -> np.ndarray:
        src = da.astype(np.float64).rio.write_nodata(np.nan, encoded=False)
        v = src.rio.reproject_match(aster, resampling=resampling, nodata=np.nan).values
        return np.where(mask, v, np.nan)

    modis = xlstsr.validate.decode_lst(lst, mask_out_of_range=True)
    panels = [("MODIS 1 km input", on_aster(modis, Resampling.nearest))]
    covered = np.isfinite(panels[0][1])
    panels.append(("ASTER 250 m (truth mask)", np.where(covered, truth, np.nan)))
    for name, sr in srs.items():
        s = scores.get(name, {})
        panels.append((f"{name}  RMSE {s.get('rmse', np.nan):.2f} K", on_aster(sr, Resampling.bilinear)))
    vals = truth[np.isfinite(truth) & covered]
    vmin, vmax = np.percentile(vals, [2, 98]) if vals.size else (280, 320)
    rows_, cols = np.where(covered)
    ys = slice(rows_.min(), rows_.max() + 1) if rows_.size else slice(None)
    xs = slice(cols.min(), cols.max() + 1) if cols.size else slice(None)
    ncol = min(4, len(panels))
    nrow = int(np.ceil(len(panels) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.3 * ncol + 0.8, 3.3 * nrow + 0.4), squeeze=False,
                             layout="constrained")
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, (title, img) in zip(axes.ravel(), panels):
        im = ax.imshow(img[ys, xs], vmin=vmin, vmax=vmax, cmap="inferno", interpolation="nearest")
        ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="LST (K)")
    fig.suptitle(f"MODIS/ASTER pair {pid}: x4 super-resolution on the ASTER grid "
                 "(ASTER truth mask: >0, eroded 3 px, >230 K)", fontsize=10)
    fig.savefig(path, dpi=110)
    plt.close(fig)


PAIR_FILES = ("modis_lst_1km", "modis_ndvi_250m", "aster_lst_250m")
#: the offset estimate's fields of the per-pair table (NaN where no estimate could be made)
OFFSET_FIELDS = ("shift_x", "shift_y", "psf_sigma", "shift_uncertainty", "correlation_before",
                 "correlation_after", "bias_removed_before", "bias_removed_after")


def as_listed(pid: str, known: Sequence[str]) -> str:
    """A pair id given by the user as the folder lists it: as given when listed (``01``), else
    padded to 3 digits when that is listed (``1`` -> ``001``), else as given (then unknown).

    Examples
    --------
    >>> as_listed("2", ["001", "002"]), as_listed("01", ["01", "02"]), as_listed("7", ["01"])
    ('002', '01', '7')
    """
    pid = str(pid).strip()
    return pid if pid in known or pid.zfill(3) not in known else pid.zfill(3)


def _int_at_least(text: str, low: int, what: str) -> int:
    """``text`` as an integer >= ``low`` for argparse, refused in one line naming ``what``."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer: give {what} >= {low}, "
                                         f"e.g. {low}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}: give {what} "
                                         f">= {low}, e.g. {low}")
    return value


def positive_int(text: str) -> int:
    """An argparse type for a count (``--threads``, ``--jobs``) of the benchmarks: an integer >= 1, refused in one line.

    >>> positive_int("2")
    2
    """
    return _int_at_least(text, 1, "a count")


def non_negative_int(text: str) -> int:
    """An argparse type for a random seed (``--seed``) of the benchmarks: an integer >= 0,
    refused in one line (numpy's generators take no negative seed: a traceback after the data
    were loaded).

    >>> non_negative_int("0")
    0
    """
    return _int_at_least(text, 0, "a whole number")


def all_listed(root: str | Path | None) -> list[str]:
    """Every pair of the folder's ``pairs.csv``, those whose files are missing too (which
    :func:`xlstsr.datasets.modis_aster_pairs` leaves out with a warning, naming them in its
    ``left_out``): a benchmark names each with its reason on its page (:func:`usable_pairs`),
    and ``--pairs`` naming one is told why, not that the table lacks it."""
    with warnings.catch_warnings():  # the page's "Left out" line names them
        warnings.filterwarnings("ignore", message=r".* are left out: ", category=UserWarning)
        known = modis_aster_pairs(root)
    return list(known) + [p for p in getattr(known, "left_out", {}) if p not in known]


def listed_pairs(pairs: str | None, root: str | Path | None) -> list[str]:
    """The pairs to score: ``--pairs`` (comma-separated ids, :func:`as_listed`) or every pair of
    the folder's ``pairs.csv`` (:func:`all_listed`), each once (a repeated id was scored twice
    and weighed double in every mean; a warning names it)."""
    if not pairs:
        return all_listed(root)
    known = all_listed(root)
    ids = [as_listed(p, known) for p in pairs.split(",") if p.strip()]
    unique = list(dict.fromkeys(ids))
    if len(unique) < len(ids):
        warnings.warn(f"--pairs names {sorted({p for p in ids if ids.count(p) > 1})} more than "
                      f"once: each pair is scored once ({len(unique)} pairs)", UserWarning,
                      stacklevel=2)
    return unique


def refuse_held_back_data(script: str, uses: str) -> None:
    """End a benchmark of the shared split (pairs named by the shared folder's ids:
    ``EVAL_PAIRS``, ``VAL_PAIRS``, ``TRAIN_PAIRS``) up front, in one line, when its data folder
    (``$XLSTSR_DATA``: such a script has no ``--root``) is not the project's own: another
    folder numbers its pairs as it likes, so the run ended in a raw InputNotFoundError (or
    scored other pairs under the shared ones' names). ``uses``: what the script reads by id.
    The line points to this script's ``--root``, which scores any folder's pairs, as
    ``disr_degraded_cube.py`` points to it.
    """
    data = data_root()
    if not is_project_data(data):
        raise SystemExit(
            f"{script}: {data} is not the project's own data: this benchmark {uses} by the "
            "shared folder's ids, which another folder does not share; score held-back pairs "
            f"with `python benchmarks/accuracy_modis_aster.py --root {data}`")


def usable_pairs(pairs: Sequence[str], root: str | Path | None
                 ) -> tuple[list[str], dict[str, str]]:
    """The pairs that can be scored, and why each other one cannot (``{pair: reason}``).

    A pair is left out when one of its three files is missing or unreadable, when its MODIS LST
    holds no valid pixel, or when no ASTER pixel passes the truth mask (:data:`TRUTH`: a scene
    all fill or all cloud): every method would fail on it. Unknown ids are an error naming the
    folder's pairs.
    """
    known = all_listed(root)
    unknown = [p for p in pairs if p not in known]
    if unknown:
        raise SystemExit(
            f"pairs {unknown} are not in {_modis_aster_dir(root) / 'pairs.csv'} (it lists "
            f"{len(known)}: {', '.join(known[:8])}{' ...' if len(known) > 8 else ''}); pass "
            "--pairs with ids of that folder, or leave --pairs out for all of them")
    folder = _modis_aster_dir(root)
    ok, skipped = [], {}
    for pid in dict.fromkeys(pairs):  # each pair once
        missing = [f"{pid}_{f}.tif" for f in PAIR_FILES if not (folder / f"{pid}_{f}.tif").is_file()]
        if missing:
            skipped[pid] = f"missing {', '.join(missing)}"
            continue
        try:
            lst, _, aster = open_modis_aster_pair(pid, root)
        except (XlstsrError, OSError) as err:  # an unreadable file: named, the pair left out
            skipped[pid] = f"unreadable ({type(err).__name__}: {str(err).splitlines()[0][:200]})"
            continue
        if not np.isfinite(lst.values).any():
            skipped[pid] = "the MODIS LST holds no valid pixel (all NaN)"
            continue
        n = int(aster_truth_mask(aster, erode=TRUTH["erode"],
                                 min_k=TRUTH["valid_min"], clear=False).sum())
        if n == 0:
            skipped[pid] = (f"no ASTER pixel in the truth mask (> 0, eroded by {TRUTH['erode']} "
                            f"px, > {TRUTH['valid_min']:.0f} K): scene fill or cloud")
            continue
        ok.append(pid)
    return ok, skipped


def run_command(args: argparse.Namespace) -> str:
    """The command of this run as the page's "Written by" line records it: the options the user
    gave, ``--root`` absolute (a page said ``python benchmarks/accuracy_modis_aster.py`` for any
    run: rerun, it scored the project's 55 pairs with every method, not the smoke or held-back
    run it described)."""
    opts: list[str] = ["--smoke"] if args.smoke else []
    if args.root is not None:
        opts += ["--root", str(Path(args.root).expanduser().resolve())]
    elif not is_project_data(data_root()):  # ($XLSTSR_DATA's folder: rerun, it read ours)
        opts += ["--root", str(data_root())]
    opts += ["--pairs", args.pairs] if args.pairs_given else []
    opts += ["--methods", args.methods] if args.methods_given else []
    opts += ["--figure-pair", args.figure_pair] if args.figure_pair else []
    opts += ["--out", str(args.out)] if args.out is not None else []
    opts += ["--csv", str(args.csv)] if args.csv else []
    if not args.smoke:  # --smoke sets these itself
        opts += ["--no-anchor"] if args.no_anchor else []
        opts += ["--no-figure"] if args.no_figure else []
        opts += ["--no-corrections"] if not args.corrections else []
    return shlex.join(["python", "benchmarks/accuracy_modis_aster.py", *opts])


def smoke_pairs(root: str | Path | None, n: int = 2) -> list[str]:
    """The pairs a ``--smoke`` run scores: the first ``n`` usable pairs held out from the bundled
    models' training (002 and 015 first, then the folder's order), read a few at a time; when
    the folder has none, its first ``n`` (which :func:`main` then refuses, naming them).

    A held-back folder whose first pairs are training pairs (recognised by their MODIS LST) was
    refused although it held a held-out pair.
    """
    known = all_listed(root)
    order = [p for p in ("002", "015") if p in known] + [p for p in known
                                                          if p not in ("002", "015")]
    chosen: list[str] = []
    for i in range(0, len(order), n):
        usable, _ = usable_pairs(order[i:i + n], root)  # main() names those it leaves out
        seen = set(seen_in_training(usable, root)) if usable else set()
        chosen += [p for p in usable if p not in seen][:n - len(chosen)]
        if len(chosen) == n:
            break
    return chosen or order[:n]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    data = data_root(args.root)
    if args.smoke and not args.pairs_given:
        args.pairs = ",".join(smoke_pairs(args.root))
    # a subset of the published protocol (some pairs or methods, no anchor variants or
    # corrections table) is a measurement, but not the page's: it never replaces the published
    # accuracy.md unless --out asks for it
    partial = (args.pairs is not None or args.methods is not None or args.no_anchor
               or not args.corrections)
    out = results_dir(args.out, ROOT / "docs" / "results", data, smoke=args.smoke,
                      partial=partial)
    if args.csv:  # checked before scoring: a missing folder failed at the end, losing the run
        csv = Path(args.csv)
        if csv.is_dir():
            raise SystemExit(f"--csv {csv} is a folder: pass a file path, e.g. "
                             f"{csv / 'accuracy.csv'}")
        try:
            csv.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise SystemExit(f"--csv {csv}: its folder cannot be created ({err}); pass a path "
                             "in a writable folder") from None
    listed = listed_pairs(args.pairs, args.root)
    if not listed:
        raise SystemExit(f"{_modis_aster_dir(args.root) / 'pairs.csv'} lists no pair: nothing "
                         "to score (one row per pair: pair,aster_view_angle_deg)")
    # an id not scored gave no maps and no word (checked before the pairs are read)
    fig_pair = as_listed(args.figure_pair, all_listed(args.root)) if args.figure_pair else None
    if fig_pair is not None and fig_pair not in listed:
        raise SystemExit(f"--figure-pair {args.figure_pair} is not among the pairs to score "
                         f"({', '.join(listed[:8])}{' ...' if len(listed) > 8 else ''}): pass "
                         "one of them, add it to --pairs, or leave --figure-pair out for the "
                         "first")
    pairs, unusable = usable_pairs(listed, args.root)
    for pid, why in unusable.items():
        print(f"pair {pid} left out: {why}", flush=True)
    if not pairs:
        raise SystemExit(f"no usable MODIS/ASTER pair among the {len(listed)} of {data}: "
                         + "; ".join(f"{p}: {w}" for p, w in unusable.items()))
    if fig_pair in unusable:
        raise SystemExit(f"--figure-pair {fig_pair} cannot be scored ({unusable[fig_pair]}): "
                         f"pass a usable pair ({', '.join(pairs[:8])}"
                         f"{' ...' if len(pairs) > 8 else ''}) or leave --figure-pair out")
    # models trained on modis_aster pairs (the bundled weights): scored on held-out pairs only,
    # the training pairs recognised by their MODIS LST (held-back folders number pairs anew)
    seen = set(seen_in_training(pairs, args.root))
    held_ids = [p for p in pairs if p not in seen]
    if not held_ids:  # the page's tables are of held-out pairs: it was a 0-pair page, exit 0
        folder = _modis_aster_dir(args.root)
        raise SystemExit(
            f"no pair to score is held out from the bundled models' training: {', '.join(pairs)} "
            f"of {folder} "
            + ("is a training pair (recognised by its MODIS LST)" if len(pairs) == 1 else
               "are training pairs (recognised by their MODIS LST)")
            + ("; left out: " + "; ".join(f"{p}: {w}" for p, w in unusable.items())
               if unusable else "")
            + (": pass --pairs ids of held-out pairs, or leave --pairs out for all of them"
               if args.pairs_given and len(listed) < len(all_listed(args.root)) else
               f": add held-out pairs to {folder} (and to its pairs.csv)"
               + (" or complete the files of those left out" if unusable else "")))
    out.mkdir(parents=True, exist_ok=True)
    print(f"writing to {out}", flush=True)
    methods, skipped = resolve_methods(args.methods)
    fig_pair = fig_pair or pairs[0]
    print(f"{len(pairs)} pairs; methods {list(methods)}; skipped {list(skipped)}", flush=True)
    trained = {n for n, m in methods.items() if isinstance(m, TorchModelMethod)}
    print(f"{len(held_ids)} pairs held out from the bundled models' training "
          f"({len(seen)} seen in training: trained models are not scored on them)", flush=True)

    corrected: dict[str, Any] = {}  # instantiated once (deep models load their weights)
    # the correction table's rows: those --methods asks for (it ran all five whatever it said)
    for label, (name, opts) in (corrected_methods(args.methods) if args.corrections
                                else {}).items():
        try:
            corrected[label] = get_method(name, **opts)
        except Exception as err:  # weights not installed: reported in the table's place
            skipped.setdefault(label, f"{type(err).__name__}: {err}")
    rows: list[dict[str, Any]] = []
    offsets: list[dict[str, Any]] = []
    variants: list[dict[str, Any]] = []
    irreducible: list[dict[str, Any]] = []
    corr_rows: list[dict[str, Any]] = []
    fig_data: dict[str, Any] = {}
    t_start = time.perf_counter()
    for i, pid in enumerate(pairs):
        lst, ndvi, aster = open_modis_aster_pair(pid, args.root)
        try:
            est, est_row = pair_offset(lst, aster)
        except XlstsrError as err:  # e.g. too few valid pixels to estimate: anchor protocol only
            print(f"  {pid}: no offset ({type(err).__name__}: {err}); anchor protocol only",
                  flush=True)
            est, est_row = None, {**dict.fromkeys(OFFSET_FIELDS, np.nan), "reliable": False}
        offsets.append({"pair": pid, **est_row})
        offset = est if est_row["reliable"] else None
        srs, scores = {}, {}
        for name, method in list(methods.items()):
            if name in trained and pid in seen:
                continue  # never score a trained model on the pairs it was trained on
            try:
                sr, secs = run_method(method, lst, ndvi)
                by_protocol = score_protocols(sr, lst, aster, offset)
            except Exception as err:
                print(f"  {pid} {name}: FAILED {type(err).__name__}: {err}", flush=True)
                rows.append({"pair": pid, "method": name, "protocol": "anchor",
                             "error": f"{type(err).__name__}: {err}"})
                continue
            for proto, s in by_protocol.items():
                rows.append({"pair": pid, "method": name, "protocol": proto, **s,
                             "seconds": secs})
            srs[name], scores[name] = sr, by_protocol["anchor"]
        if pid not in seen and offset is not None:  # scored with the headline protocol
            head = PROTOCOLS[HEADLINE] | {"coregister": offset}
            for label, method in corrected.items():
                for corr in CORRECTIONS:
                    try:  # as the methods above: one failure is reported, not the end
                        s = score(run_method(method, lst, ndvi, corr)[0], lst, aster, **head)
                    except XlstsrError as err:
                        print(f"  {pid} {label} {corr}: FAILED {type(err).__name__}: {err}",
                              flush=True)
                        continue
                    corr_rows.append({"pair": pid, "label": label, "correction": corr or "none",
                                      **s})
        if not args.no_anchor:
            try:  # the outside readings do not fill gaps: a MODIS LST with NaN defeats them
                if "bicubic" in methods:
                    for vname, s in bicubic_variants(lst, aster).items():
                        variants.append({"pair": pid, "variant": vname, **s})
                irreducible.append({"pair": pid, **modis_vs_aster_1km(lst, aster)})
            except XlstsrError as err:
                print(f"  {pid}: anchor variants skipped ({type(err).__name__}: {err})",
                      flush=True)
        if pid == fig_pair:
            fig_data = {"pid": pid, "lst": lst, "aster": aster, "srs": srs, "scores": scores,
                        "offset": est}
        done = ", ".join(f"{n} {scores[n]['rmse']:.2f}" for n in scores)
        print(f"[{i + 1}/{len(pairs)}] {pid}: RMSE {done}", flush=True)
    elapsed = time.perf_counter() - t_start

    all_rows = pd.DataFrame(rows)
    for col, *_ in COLUMNS:
        if col not in all_rows:
            all_rows[col] = np.nan
    if args.csv:
        all_rows.to_csv(args.csv, index=False)
    if fig_data and not args.no_figure:
        draw_maps(out / "accuracy_maps.png", fig_data["pid"], fig_data["lst"], fig_data["aster"],
                  fig_data["srs"], fig_data["scores"])
        if fig_data["offset"] is not None:
            draw_misfit(out / "coregistration_surface.png", fig_data["pid"], fig_data["lst"],
                        fig_data["aster"], fig_data["offset"])
    df = all_rows[all_rows.protocol == "anchor"]
    off = pd.DataFrame(offsets)

    order = sorted(methods, key=lambda n: df[df.method == n].rmse.mean()
                   if (df.method == n).any() else np.inf)
    held = df[df.pair.isin(held_ids)]
    held_order = sorted(methods, key=lambda n: held[held.method == n].rmse.mean()
                        if (held.method == n).any() else np.inf)
    held_table = results_table(held, held_order)
    table = results_table(df[~df.method.isin(trained)], [n for n in order if n not in trained])
    held_all = all_rows[all_rows.pair.isin(held_ids)]
    head_rows = held_all[held_all.protocol == HEADLINE]
    head_order = sorted(methods, key=lambda n: head_rows[head_rows.method == n].rmse.mean()
                        if (head_rows.method == n).any() else np.inf)
    proto_table = protocol_table(held_all, head_order)
    headline_table = results_table(head_rows, head_order)
    # the held-out pairs on ground no training pair covers on any date (new ground)
    apart = apart_from_all_training(held_ids, args.root)
    apart_table = results_table(head_rows[head_rows.pair.isin(apart)], head_order)
    print(proto_table)
    print(headline_table)
    anchored = is_project_data(data)  # the anchor reads the shared folder's pairs
    read_pairs = "the same" if anchored else "the shared folder's 55"
    lines = [
        f"# Accuracy: MODIS 1 km -> 250 m against ASTER ({len(pairs)} real pairs)",
        "",
        f"Written by `{run_command(args)}` "
        f"({_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC, xlstsr {xlstsr.__version__}, "
        f"Python {platform.python_version()}, {len(pairs)} pairs, {elapsed:.0f} s in total).",
        "",
        *([f"**Smoke run** (`--smoke`): a test of the code path on {len(pairs)} pairs and "
           f"{', '.join(methods)}, not a measurement.", ""] if args.smoke else []),
        *([] if is_project_data(data) else [
            f"**Held-back data**: `{_modis_aster_dir(args.root).resolve()}` (not the project's "
            "own folder: "
            "the description of the shared pairs below is the protocol's, not this folder's).",
            ""]),
        *([f"Left out ({len(unusable)} of {len(listed)} pairs): "
           + "; ".join(f"{p}: {w}" for p, w in unusable.items()) + ".", ""] if unusable else []),
        "**Data**: the MODIS/ASTER test set of Ait-Bachir, Granero-Belinchon, Michel, Michel, "
        "Briottet, Drumetz, *Land Surface Temperature Super-Resolution with a Scale-Invariance-Free "
        "Neural Approach: Application to MODIS* (hal-04925380, 2025; CeCILL-C): MODIS LST 1 km "
        "(64 x 64), MODIS NDVI 250 m, near-simultaneous ASTER LST resampled to 231.65 m (UTM), "
        "summer daytime, tile h18v04 (`../shared/data/modis_aster`).",
        "",
        "**Protocol**: each method upscales the MODIS LST by 4 as `upscale`'s defaults run it "
        "(guided methods get the NDVI, reprojected onto the fine grid because its geotransform "
        "is offset by 0-3 fine pixels, and moved back by its sub-pixel offset against the LST "
        "where that is significant: 11 of the 55 pairs, estimated before the timing); "
        "`xlstsr.evaluate` reprojects the result onto the ASTER grid (rioxarray bilinear) and "
        "scores it on the ASTER truth mask: ASTER > 0, eroded by 3 px (4-connected), "
        "> 230 K, and covered by the MODIS patch. Pair 015 holds one 402 K MODIS pixel; it is "
        "masked as out of range and filled by the engine. Cells: **mean (median)** over pairs. "
        "PSNR uses the data range ASTER max - min over the scored pixels of each protocol "
        f"(per pair, {psnr_ranges(all_rows)}: the anchor's includes cold cloud-edge pixels just "
        "above 230 K, which `clear=True` drops, so PSNR is comparable within a protocol, not "
        "across protocols). The spectral ratio is the SR "
        "power over the ASTER power above half the coarse Nyquist frequency (1 = right amount "
        "of detail, < 1 too smooth; `xlstsr.kernels.spectra.spectral_ratio`: Hann window, plane "
        "removed, gaps apodised); `evaluate` measures it "
        "after resampling the SR onto the ASTER grid, which smooths the SR (a round trip of "
        "ASTER through the MODIS grid keeps 0.76 of its power in that band: "
        "docs/results/scaling.md), so it under-reads a right amount of detail by about 0.87. "
        "The *symmetric* ratio (`spectral_ratio_sym` of `evaluate`) is the geometric mean of that "
        "and of the ratio measured the other way (ASTER resampled onto the SR grid, which "
        "over-reads it): it cancels the resampling's attenuation and is the estimate to compare "
        "with 1. Coarse consistency is "
        "the RMSE between the radiometric aggregate of the SR field and the MODIS input "
        "(0 = radiance conserved). Seconds per scene: `upscale` of one 64 x 64 scene, this "
        f"machine ({os.cpu_count()} CPU cores).",
        "",
        "**Three protocols.** *anchor*: the truth mask above, ASTER where its geotransform says "
        "(comparable with the published figures on these pairs). *co-registered*: ASTER first "
        "moved onto the MODIS LST by `xlstsr.estimate_offset` (once per pair, from ASTER and the "
        "MODIS LST only, so every method meets the same truth; pairs without a reliable estimate "
        "are left out of the co-registered columns). *co-registered + clear*: also without the "
        "pixels within 3 px of every gap, cloud holes included (`evaluate(clear=True)`). "
        f"**Headline: {HEADLINE}**: the ASTER content sits ~1 fine pixel (~0.7 px in each of x "
        "and y) from where MODIS saw it, so under the anchor protocol a method that puts detail where MODIS (and its NDVI) "
        "have it is scored against displaced truth, and the partly cloudy pixels next to cloud "
        "holes dominate the RMSE; the headline protocol scores fine detail, not misregistration "
        "or clouds.",
        "",
        f"## {'The methods asked for' if args.methods_given or args.smoke else 'All methods'} "
        f"on the {held.pair.nunique()} evaluation pairs held out from training, "
        "three protocols",
        "",
        "`disr (unet)` (`weights=\"unet\"`, the default before round 7 of "
        "disr_selection.md) was trained on the other 20 pairs "
        "(`xlstsr.datasets.TRAIN_PAIRS`) with each pair's ASTER truth first co-registered onto "
        "its MODIS LST, starting from the weights of the degraded DISR pre-trained on the MODIS "
        "datacube (4 km -> 1 km, MODIS only, the windows sharing ground with these pairs held "
        "out); `disr` (the default weights, `fast`) is a network whose body runs on the 1 km "
        "grid, trained the same way, then distilled from `disr (unet)` on the training pairs' "
        "MODIS windows (their rotations and flips included); `disr (displaced)` "
        "(`weights=\"unet_displaced\"`, the default before issue 13) is the U-Net trained from "
        "random weights on the same pairs with ASTER where its "
        "geotransform says; `sisr` was trained on the MOD11A1 datacube, the windows sharing "
        "ground with these pairs held out (docs/models.md). Every method is scored here on the "
        "held-out `EVAL_PAIRS` only. Cells: mean (median).",
        "",
        proto_table,
        "",
        f"### Every metric, {HEADLINE} (headline)",
        "",
        headline_table,
        "",
        f"### Every metric, {HEADLINE}, the {len(apart)} held-out pairs apart from the training "
        "ground",
        "",
        "Pairs whose MODIS window shares no pixel with a training pair's on any date "
        "(`xlstsr.datasets.apart_from_training`), nor with a cube window the cube-trained "
        "models (`sisr`, and the degraded DISR the default `disr` was fine-tuned from) trained "
        "or early-stopped on: the others meet landscapes the trained models "
        "have seen (docs/results/disr_ground.md).",
        "",
        apart_table,
        "",
        "### Every metric, anchor protocol",
        "",
        held_table,
        "",
        f"## Methods without training on these data, all {len(pairs)} pairs (anchor protocol)",
        "",
        table,
        "",
    ]
    if skipped:
        lines += ["Skipped methods (could not be instantiated):", ""]
        lines += [f"- `{n}`: {why}" for n, why in skipped.items()] + [""]
    failed = df[df.get("error", pd.Series(dtype=object)).notna()] if "error" in df else df.iloc[0:0]
    if len(failed):
        lines += [f"Failures: {len(failed)} method/pair runs failed, e.g. "
                  f"`{failed.iloc[0].method}` on {failed.iloc[0].pair}: {failed.iloc[0].error}", ""]
    if corr_rows:
        lines += [
            "## With and without the scale-invariance correction",
            "",
            f"`upscale(..., scale_correction=...)` on the held-out pairs, {HEADLINE} protocol "
            "(docs/results/scaling.md describes the law; the guide is given to every method "
            "because the correction uses it). `auto` (the default when asked) only damps detail "
            "that exceeds the variance predicted below the LST pixel; `law` also amplifies. "
            "Target of the scale-correction issue: the mismatch halved (change -50 % or better) "
            "with no RMSE increase. `disr (degraded)` is the DISR trained at 4 km -> 1 km on "
            "degraded MODIS: like `sisr`, the scale-invariance case. The bound on what any "
            "per-image gain can reach, the one level up case (4 km -> 1 km against the real "
            "MODIS 1 km) and the law's variants: docs/results/correction_variants.md and "
            "docs/results/one_level_up.md.",
            "",
            correction_table(pd.DataFrame(corr_rows)),
            "",
        ]
    lines += offsets_section(off, bool(fig_data) and not args.no_figure, seen)
    if irreducible:
        irr = pd.DataFrame(irreducible)
        lines += [
            "## MODIS vs ASTER at 1 km (the error no super-resolution can remove)",
            "",
            "ASTER (truth mask) reprojected bilinearly onto the MODIS 250 m grid and aggregated "
            "radiometrically to 1 km (only 1 km pixels whose 16 sub-pixels are all valid), "
            "compared with the MODIS 1 km LST: mean (median) over pairs: "
            f"RMSE {_cell(irr.rmse, '{:.2f}')} K, bias MODIS - ASTER {_cell(irr.bias, '{:+.2f}')} K, "
            f"ubRMSE {_cell(irr.ubrmse, '{:.2f}')} K ({int(irr.n_valid.mean())} 1 km pixels "
            "per pair on average). With GDAL `average` resampling of the ASTER truth straight onto "
            "the 1 km grid (plain mean, partially covered pixels kept): RMSE "
            f"{_cell(irr.rmse_gdal_average, '{:.2f}')} K ({int(irr.n_valid_gdal_average.mean())} "
            "pixels per pair): the few extra, partly covered 1 km pixels sit on ASTER cloud "
            "edges (cold pixels just above 230 K) and dominate it, which is why the first figure "
            "requires complete coverage.",
            "",
        ]
    if variants:
        lines += [
            "## Anchor check (bicubic)",
            "",
            f"Independent reading of {read_pairs} pairs: bicubic mean RMSE {ANCHOR['rmse']} K, "
            f"bias-removed {ANCHOR['ubrmse']} K, PSNR {ANCHOR['psnr']} dB (SR bilinear-reprojected "
            "to the ASTER grid, same truth mask). Variants computed here"
            + ("" if anchored else " on this folder's pairs (not comparable with it)") + ":",
            "",
            variants_table(variants, anchored),
            "",
            variants_reading(variants, anchored, args.pairs_given) if len(variants) >= 4 else "",
            "",
        ]
    if fig_data and not args.no_figure:
        lines += [f"![maps of pair {fig_data['pid']}](accuracy_maps.png)", ""]
    (out / "accuracy.md").write_text("\n".join(lines))
    print(f"wrote {out / 'accuracy.md'}")
    if variants:
        print(variants_table(variants, anchored))
    if irreducible:
        irr = pd.DataFrame(irreducible)
        print(f"MODIS vs ASTER 1 km: RMSE mean {irr.rmse.mean():.3f} median {irr.rmse.median():.3f}, "
              f"bias {irr.bias.mean():+.3f}, ubRMSE {irr.ubrmse.mean():.3f}; GDAL average: RMSE "
              f"mean {irr.rmse_gdal_average.mean():.3f} median {irr.rmse_gdal_average.median():.3f}")
    return 0


if __name__ == "__main__":
    from xlstsr.datasets.root import exit_on_missing_data

    try:  # missing data: one line naming the fix
        exit_on_missing_data(main, __file__, flags="--root DIR")
    except XlstsrError as err:  # a data folder it cannot use: the message
        sys.exit(f"{Path(__file__).name}: {err}")
