"""Multiscale statistics of LST (and its guide) on single images: numpy kernels, no xarray.

Everything here works on one 2-D image ``(y, x)`` (NaN = gap) and returns plain arrays. The
xarray layer (:mod:`xlstsr.scaling`) maps :func:`image_stats` over time steps.

Definitions (pixel units; the xarray layer adds metres):

- increments ``d_l(x) = T(x + l e) - T(x)`` along y and x, over every pair of valid pixels;
  structure functions ``S_q(l) = <|d_l|^q>``; skewness ``<d^3> / S_2^1.5``; flatness
  ``S_4 / S_2^2`` (3 for Gaussian increments, larger when intermittent).
- coarse-graining by factors ``1, 2, 4, ...`` (any whole numbers: ``1, 2, 3, 4, 6``): the
  radiometric aggregate (:func:`xlstsr.kernels.aggregate.radiometric_mean`) and its variance;
  the **within-block variance** of step ``s`` (``s -> 2s``) is the mean over ``2 x 2`` blocks
  of the level-``s`` field of the (population) variance of the valid children
  (:func:`xlstsr.kernels.aggregate.within_block_variance`): what a factor-2 super-resolution
  step from ``2s`` to ``s`` must restore. Each level uses every whole block the field has (the
  top-left multiple of ``s``, of ``2s`` for the step), so a factor's statistics do not depend on
  the other factors asked for; the steps add up (law of total variance) exactly for the plain
  mean (``radiometric=False``) when the side is a multiple of the largest factor, closely
  otherwise: a radiometric parent, (mean T^4)^(1/4), is not the mean of its children (about
  2 % of the variance apart on heterogeneous 20 m LST, DESIREX Madrid, factors 1-32).
- radially averaged power spectrum (:func:`xlstsr.kernels.spectra.radial_power_spectrum`: the
  Hann-windowed, plane-detrended periodogram, gaps at the plane) over logarithmic wavenumber bins
  (cycles per pixel); a fractional Brownian surface of Hurst exponent ``H`` has slope
  ``-(2H + 2)``, white noise 0. Power below :data:`ROUNDOFF_POWER` of the image's variance is
  round-off (all that is left of a plane) and taken as 0: no point of the spectral fits.
- power laws are ordinary least-squares lines in log-log with a t-based confidence interval
  (nominal: neighbouring lags are correlated, so the true uncertainty is larger).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as _st

from .aggregate import block_mean, crop_to_multiple, radiometric_mean, within_block_variance
from .spectra import radial_power_spectrum

__all__ = [
    "ScalingConfig",
    "coarse_graining",
    "fit_breakpoint",
    "fit_power_law",
    "guide_relations",
    "image_stats",
    "stats_layout",
    "structure_functions",
]


# ----------------------------------------------------------------------------------------------
# increments
# ----------------------------------------------------------------------------------------------
def structure_functions(
    a: np.ndarray, lags: Sequence[int], moments: Sequence[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-direction sums of ``|d|^q``, of ``d^3`` and pair counts of increments.

    Parameters
    ----------
    a : ndarray (y, x)
        The field; NaN marks gaps (pairs with a gap are skipped).
    lags : sequence of int
        Lags in pixels (>= 1).
    moments : sequence of int
        Orders ``q`` of ``<|d|^q>``.

    Returns
    -------
    sums : ndarray (2, nlag, nq)
        ``sum |d|^q`` along y (index 0) and x (index 1).
    cube : ndarray (2, nlag)
        ``sum d^3`` (signed, for the skewness).
    count : ndarray (2, nlag)
        Number of valid pairs.

    Examples
    --------
    >>> a = np.arange(16.0).reshape(4, 4)
    >>> s, c3, n = structure_functions(a, [1], [2])
    >>> (s / n[..., None])[:, 0, 0].tolist()   # y-increments are 4, x-increments 1
    [16.0, 1.0]
    """
    a = np.asarray(a, dtype=np.float64)
    qs = np.asarray(list(moments), dtype=np.float64)
    sums = np.zeros((2, len(lags), len(qs)))
    cube = np.zeros((2, len(lags)))
    count = np.zeros((2, len(lags)))
    for j, lag in enumerate(lags):
        for axis in (0, 1):
            if lag >= a.shape[axis]:
                continue
            d = a[lag:, :] - a[:-lag, :] if axis == 0 else a[:, lag:] - a[:, :-lag]
            d = d[np.isfinite(d)]
            count[axis, j] = d.size
            if d.size == 0:
                continue
            ad = np.abs(d)
            cube[axis, j] = np.sum(d**3)
            for k, q in enumerate(qs):
                sums[axis, j, k] = np.sum(ad**q)
    return sums, cube, count


# ----------------------------------------------------------------------------------------------
# coarse-graining
# ----------------------------------------------------------------------------------------------
def _aggregate(a: np.ndarray, factor: int, min_valid: float, radiometric: bool) -> np.ndarray:
    if factor == 1:
        return np.asarray(a, dtype=np.float64)
    if radiometric:
        return radiometric_mean(np.asarray(a, dtype=np.float64), factor, min_valid=min_valid)
    return block_mean(a, factor, min_valid=min_valid)


def coarse_graining(
    a: np.ndarray,
    factors: Sequence[int],
    *,
    min_valid: float = 0.5,
    radiometric: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Variance of the aggregated field at each factor and the within-block variance per step.

    Level ``f`` aggregates the fine field directly by ``f`` (radiometric mean for LST, plain
    mean otherwise) over the top-left multiple of ``f`` pixels: each level uses as much of the
    field as it can. (A single crop to a multiple of the largest factor left up to half of the
    field out of every level, factor 1 included, so adding a large factor changed the factor-1
    variance; and it failed on factors that do not divide the largest, e.g. 3 and 8.) The
    within-block variance of step ``f`` (``f -> 2f``) is computed from the level-``f`` field's
    whole ``2 x 2`` blocks (the multiple of ``2f``), for each factor ``f`` whose ``2f`` is also a
    factor.

    Returns
    -------
    variance : ndarray (nfactor,)
        Variance of the level-``f`` field over its valid pixels.
    valid_fraction : ndarray (nfactor,)
        Fraction of valid level-``f`` pixels.
    within : ndarray (nfactor,)
        Within-block variance of step ``f -> 2f`` (NaN for the last factor).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> v, frac, w = coarse_graining(290 + rng.standard_normal((64, 64)), [1, 2, 4])
    >>> bool(abs(w[0] - 0.75) < 0.1)    # white noise: 3/4 of the variance lost at step 1
    True
    """
    a = np.asarray(a, dtype=np.float64)
    var = np.full(len(factors), np.nan)
    frac = np.full(len(factors), np.nan)
    within = np.full(len(factors), np.nan)
    fs = list(factors)
    for i, f in enumerate(fs):
        c = _aggregate(crop_to_multiple(a, f), f, min_valid, radiometric)
        ok = np.isfinite(c)
        frac[i] = ok.mean()
        if ok.sum() >= 2:
            var[i] = np.var(c[ok])
        if 2 * f in fs:  # within_block_variance crops c to whole 2 x 2 blocks: the 2f multiple
            within[i] = within_block_variance(c, 2)
    return var, frac, within


def guide_relations(
    lst: np.ndarray,
    guide: np.ndarray,
    factors: Sequence[int],
    *,
    min_valid: float = 0.5,
    radiometric: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """LST-guide Pearson correlation and regression slope (LST on guide) at each coarse factor.

    LST aggregates radiometrically (``radiometric=False``: by its plain mean, as for a field
    that is no temperature: an anomaly's (mean T^4)^(1/4) lost its sign), the guide by its plain
    mean, both over the same fine pixels: those valid in both (a fine pixel where either is a
    gap is left out of both block means, and ``min_valid`` counts these paired pixels). Each
    aggregated with its own gaps, a block's LST and guide averaged different pixels: an exactly
    linear field with 30 % scattered LST gaps fell from r = -1 to -0.8 at coarse factors.
    Also returns the guide's own variance and within-block variance per factor, from every
    valid guide pixel (not paired). Each factor uses the top-left multiple of ``f`` pixels (as
    :func:`coarse_graining`), not a crop to the largest factor shared by all.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> g = rng.random((16, 16))
    >>> corr, slope, _, _ = guide_relations(-20 * g, g, [1, 2], radiometric=False)
    >>> np.round(slope, 6).tolist()
    [-20.0, -20.0]
    """
    lst = np.asarray(lst, np.float64)
    guide = np.asarray(guide, np.float64)
    if lst.shape != guide.shape:
        raise ValueError(
            f"lst {lst.shape} and guide {guide.shape} differ in shape; put the guide on the "
            "LST grid first (pixel for pixel)"
        )
    # pair the pixels: a block's LST and guide must average the same fine pixels, else the gap
    # pattern alone decorrelates them at coarse factors
    both = np.isfinite(lst) & np.isfinite(guide)
    lst_p, guide_p = np.where(both, lst, np.nan), np.where(both, guide, np.nan)
    corr = np.full(len(factors), np.nan)
    slope = np.full(len(factors), np.nan)
    for i, f in enumerate(factors):
        t = _aggregate(crop_to_multiple(lst_p, f), f, min_valid, radiometric)
        g = _aggregate(crop_to_multiple(guide_p, f), f, min_valid, False)
        ok = np.isfinite(t) & np.isfinite(g)
        if ok.sum() < 3:
            continue
        tt, gg = t[ok] - t[ok].mean(), g[ok] - g[ok].mean()
        sgg, stt = np.sum(gg * gg), np.sum(tt * tt)
        if sgg > 0:
            slope[i] = np.sum(tt * gg) / sgg
            if stt > 0:
                corr[i] = np.sum(tt * gg) / np.sqrt(sgg * stt)
    gvar, _, gwithin = coarse_graining(guide, factors, min_valid=min_valid, radiometric=False)
    return corr, slope, gvar, gwithin


# ----------------------------------------------------------------------------------------------
# fits
# ----------------------------------------------------------------------------------------------
def _loglog_points(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``log x``, ``log y`` and the weights of the points usable in a log-log fit."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    w = np.ones_like(x) if weights is None else np.asarray(weights, np.float64)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0) & np.isfinite(w) & (w > 0)
    return np.log(x[ok]), np.log(y[ok]), w[ok]


def fit_power_law(
    x: np.ndarray,
    y: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    confidence: float = 0.95,
) -> tuple[float, float, float, float]:
    """(Weighted) least-squares fit of ``log y = c + p log x`` on the finite positive points.

    ``weights`` are inverse variances of ``log y`` up to a constant (e.g. the number of Fourier
    coefficients in a spectral bin). Returns ``(p, c, p_low, p_high)`` with a t-based
    ``confidence`` interval on the exponent (NaN everywhere with fewer than 2 points, NaN
    interval with 2).

    Examples
    --------
    >>> x = np.array([1.0, 2, 4, 8])
    >>> p, c, lo, hi = fit_power_law(x, 3 * x**1.5)
    >>> round(p, 6), round(float(np.exp(c)), 6)
    (1.5, 3.0)
    """
    lx, ly, w = _loglog_points(x, y, weights)
    if lx.size < 2:
        return (np.nan,) * 4
    w = w / w.mean()
    n = lx.size
    xm, ym = np.average(lx, weights=w), np.average(ly, weights=w)
    sxx = np.sum(w * (lx - xm) ** 2)
    if sxx == 0:
        return (np.nan,) * 4
    p = np.sum(w * (lx - xm) * (ly - ym)) / sxx
    c = ym - p * xm
    if n < 3:
        return float(p), float(c), np.nan, np.nan
    resid = ly - (c + p * lx)
    se = np.sqrt(np.sum(w * resid**2) / (n - 2) / sxx)
    t = _st.t.ppf(0.5 + confidence / 2.0, n - 2)
    return float(p), float(c), float(p - t * se), float(p + t * se)


def fit_breakpoint(
    x: np.ndarray,
    y: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    min_points: int = 3,
) -> tuple[float, float, float, float]:
    """Continuous two-segment line in log-log (a scaling break), chosen by least squares.

    Every interior point with at least ``min_points`` points on each side is tried as the
    break; the best (weighted) least-squares fit is kept. Returns ``(x_break, slope_low_x, slope_high_x, delta_bic)`` where
    ``delta_bic = BIC(one line) - BIC(two segments)``: > 10 is strong evidence for a break
    (the two-segment model has 2 more parameters). NaN where there are too few points.

    Examples
    --------
    >>> x = np.geomspace(1, 100, 30)
    >>> y = np.where(x < 10, x**-1.0, 10.0 * x**-2.0)
    >>> xb, s1, s2, dbic = fit_breakpoint(x, y)
    >>> bool(abs(np.log10(xb) - 1) < 0.1 and dbic > 10)
    True
    """
    lx, ly, w = _loglog_points(x, y, weights)
    n = lx.size
    if n < 2 * min_points + 1:  # before the mean of the weights: none on a tiny field
        return (np.nan,) * 4
    order = np.argsort(lx)
    lx, ly, sw = lx[order], ly[order], np.sqrt(w[order] / max(w.mean(), 1e-300))
    A1 = np.stack([np.ones(n), lx], axis=1)
    c1, *_ = np.linalg.lstsq(A1 * sw[:, None], ly * sw, rcond=None)
    sse1 = float(np.sum((sw * (ly - A1 @ c1)) ** 2))
    best = (np.inf, np.nan, np.nan, np.nan)
    for i in range(min_points, n - min_points + 1):
        # candidate break positions: at data points and midway between them
        for xb in {lx[i - 1], 0.5 * (lx[i - 1] + lx[i])} if i < n else {lx[i - 1]}:
            if np.sum(lx <= xb) < min_points or np.sum(lx >= xb) < min_points:
                continue
            A = np.stack([np.ones(n), lx, np.maximum(lx - xb, 0.0)], axis=1)
            c, *_ = np.linalg.lstsq(A * sw[:, None], ly * sw, rcond=None)
            sse = float(np.sum((sw * (ly - A @ c)) ** 2))
            if sse < best[0]:
                best = (sse, xb, c[1], c[1] + c[2])
    sse2, xb, s1, s2 = best
    if not np.isfinite(sse2):
        return (np.nan,) * 4
    tiny = 1e-12 * max(1.0, float(np.sum((ly - ly.mean()) ** 2)))
    bic1 = n * np.log(max(sse1, tiny) / n) + 2 * np.log(n)
    bic2 = n * np.log(max(sse2, tiny) / n) + 4 * np.log(n)
    return float(np.exp(xb)), float(s1), float(s2), float(bic1 - bic2)


# ----------------------------------------------------------------------------------------------
# one image, everything: the kernel mapped over time by the xarray layer
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScalingConfig:
    """What :func:`image_stats` computes; every shape of its output follows from it.

    ``fit_lags`` / ``fit_factors`` / ``fit_wavenumbers`` are inclusive ``(low, high)`` ranges (in
    pixels, pixels, cycles/pixel) of the points used by the power-law fits.
    """

    shape: tuple[int, int]
    lags: tuple[int, ...]
    factors: tuple[int, ...]
    moments: tuple[int, ...]
    edges: tuple[float, ...]
    fit_lags: tuple[float, float]
    fit_factors: tuple[float, float]
    fit_wavenumbers: tuple[float, float]
    min_valid: float = 0.5
    with_guide: bool = False
    window: bool = True
    #: aggregate in radiance, (mean T^4)^(1/4) (an LST); False: the plain mean (NDVI, anomalies)
    radiometric: bool = True
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def nbins(self) -> int:
        return len(self.edges) - 1


def stats_layout(cfg: ScalingConfig) -> list[tuple[str, tuple[str, ...], tuple[int, ...]]]:
    """(name, dims, shape) of every output of :func:`image_stats`, in packing order."""
    nl, nf, nq, nb = len(cfg.lags), len(cfg.factors), len(cfg.moments), cfg.nbins
    out = [
        ("structure_function", ("moment", "lag"), (nq, nl)),
        ("structure_function_directional", ("direction", "moment", "lag"), (2, nq, nl)),
        ("increment_skewness", ("lag",), (nl,)),
        ("increment_flatness", ("lag",), (nl,)),
        ("increment_flatness_directional", ("direction", "lag"), (2, nl)),
        ("increment_count", ("lag",), (nl,)),
        ("coarse_variance", ("factor",), (nf,)),
        ("coarse_valid_fraction", ("factor",), (nf,)),
        ("within_block_variance", ("factor",), (nf,)),
        ("power_spectrum", ("wavenumber",), (nb,)),
        ("power_spectrum_wavenumber", ("wavenumber",), (nb,)),
        ("structure_function_exponent", ("moment",), (nq,)),
        ("structure_function_exponent_ci", ("moment", "bound"), (nq, 2)),
        ("hurst", (), ()),
        ("hurst_ci", ("bound",), (2,)),
        ("hurst_directional", ("direction",), (2,)),
        ("spectral_slope", (), ()),
        ("spectral_slope_ci", ("bound",), (2,)),
        ("spectral_break_wavenumber", (), ()),
        ("spectral_slope_low", (), ()),
        ("spectral_slope_high", (), ()),
        ("spectral_break_delta_bic", (), ()),
        ("within_block_exponent", (), ()),
        ("within_block_exponent_ci", ("bound",), (2,)),
        ("within_block_prefactor", (), ()),
    ]
    if cfg.with_guide:
        out += [
            ("guide_correlation", ("factor",), (nf,)),
            ("guide_slope", ("factor",), (nf,)),
            ("guide_coarse_variance", ("factor",), (nf,)),
            ("guide_within_block_variance", ("factor",), (nf,)),
            ("guide_within_block_exponent", (), ()),
            ("guide_within_block_exponent_ci", ("bound",), (2,)),
            ("guide_within_block_prefactor", (), ()),
            ("guide_slope_trend", (), ()),
        ]
    return out


def stats_size(cfg: ScalingConfig) -> int:
    """Length of the packed vector of :func:`image_stats`."""
    return int(sum(int(np.prod(s)) for _, _, s in stats_layout(cfg)))


#: spectral power at or below this fraction of the image's variance is round-off, taken as 0
#: (no point of the fits): what is left of a plane (a ramp: 1e-23 of its variance) or of a
#: constant once the estimator removes the plane
ROUNDOFF_POWER = 1e-12


def _in(x: np.ndarray, rng: tuple[float, float]) -> np.ndarray:
    return (x >= rng[0] - 1e-12) & (x <= rng[1] + 1e-12)


def image_stats(
    a: np.ndarray, guide: np.ndarray | None, cfg: ScalingConfig
) -> dict[str, np.ndarray]:
    """Every multiscale statistic and fit of one image (see :func:`stats_layout`).

    An image without any valid pixel gives all-NaN output (the xarray layer raises earlier when
    the whole input is empty).
    """
    a = np.asarray(a, np.float64)
    out: dict[str, np.ndarray] = {}
    layout = stats_layout(cfg)
    if not np.isfinite(a).any():
        return {n: np.full(s, np.nan) for n, _, s in layout}
    lags = np.asarray(cfg.lags, np.float64)
    qs = list(cfg.moments)
    qall = sorted(set(qs) | {2, 4})
    sums, cube, cnt = structure_functions(a, cfg.lags, qall)
    with np.errstate(invalid="ignore", divide="ignore"):
        sdir = sums / cnt[..., None]  # (2, nl, nqall)
        siso = sums.sum(0) / cnt.sum(0)[:, None]  # (nl, nqall)
        m3 = cube.sum(0) / cnt.sum(0)
    iq = [qall.index(q) for q in qs]
    i2, i4 = qall.index(2), qall.index(4)
    sdir = np.where(cnt[..., None] > 0, sdir, np.nan)
    siso = np.where(cnt.sum(0)[:, None] > 0, siso, np.nan)
    out["structure_function"] = siso[:, iq].T
    out["structure_function_directional"] = np.transpose(sdir[:, :, iq], (0, 2, 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        out["increment_skewness"] = m3 / siso[:, i2] ** 1.5
        out["increment_flatness"] = siso[:, i4] / siso[:, i2] ** 2
        out["increment_flatness_directional"] = sdir[:, :, i4] / sdir[:, :, i2] ** 2
    out["increment_count"] = cnt.sum(0)

    var, frac, within = coarse_graining(a, cfg.factors, min_valid=cfg.min_valid,
                                        radiometric=cfg.radiometric)
    out["coarse_variance"], out["coarse_valid_fraction"] = var, frac
    out["within_block_variance"] = within

    k, p, kcount = radial_power_spectrum(a, np.asarray(cfg.edges), window=cfg.window)
    # power at round-off is no power: a constant image's, and a plane's (the estimator removes
    # the plane; a ramp's 1e-24 K^2 was fitted a slope of -0.83 with its interval and a break)
    spread = float(np.nanvar(a))
    p = np.where(np.isfinite(p) & ((p <= ROUNDOFF_POWER * spread) | (spread == 0)), 0.0, p)
    out["power_spectrum"], out["power_spectrum_wavenumber"] = p, k

    # fits
    sel = _in(lags, cfg.fit_lags)
    zeta = np.full(len(qs), np.nan)
    zci = np.full((len(qs), 2), np.nan)
    for j in range(len(qs)):
        pz, _, lo, hi = fit_power_law(lags[sel], out["structure_function"][j, sel])
        zeta[j], zci[j] = pz, (lo, hi)
    out["structure_function_exponent"], out["structure_function_exponent_ci"] = zeta, zci
    p2, _, lo, hi = fit_power_law(lags[sel], siso[sel, i2])
    out["hurst"], out["hurst_ci"] = np.asarray(p2 / 2), np.asarray([lo / 2, hi / 2])
    out["hurst_directional"] = np.asarray(
        [fit_power_law(lags[sel], sdir[d, sel, i2])[0] / 2 for d in (0, 1)]
    )
    ksel = np.isfinite(k) & _in(np.nan_to_num(k), cfg.fit_wavenumbers)
    ps, _, lo, hi = fit_power_law(k[ksel], p[ksel], weights=kcount[ksel])
    out["spectral_slope"], out["spectral_slope_ci"] = np.asarray(ps), np.asarray([lo, hi])
    kb, s1, s2, dbic = fit_breakpoint(k[ksel], p[ksel], weights=kcount[ksel])
    out["spectral_break_wavenumber"] = np.asarray(kb)
    out["spectral_slope_low"], out["spectral_slope_high"] = np.asarray(s1), np.asarray(s2)
    out["spectral_break_delta_bic"] = np.asarray(dbic)
    steps = np.asarray(cfg.factors, np.float64)
    ssel = _in(steps, cfg.fit_factors)
    pw, cw, lo, hi = fit_power_law(steps[ssel], within[ssel])
    out["within_block_exponent"], out["within_block_exponent_ci"] = (
        np.asarray(pw),
        np.asarray([lo, hi]),
    )
    out["within_block_prefactor"] = np.asarray(np.exp(cw))

    if cfg.with_guide:
        if guide is None:
            raise ValueError("cfg.with_guide is set but no guide was given")
        corr, slope, gvar, gwithin = guide_relations(a, guide, cfg.factors, min_valid=cfg.min_valid,
                                                     radiometric=cfg.radiometric)
        out["guide_correlation"], out["guide_slope"] = corr, slope
        out["guide_coarse_variance"], out["guide_within_block_variance"] = gvar, gwithin
        pg, cg, lo, hi = fit_power_law(steps[ssel], gwithin[ssel])
        out["guide_within_block_exponent"] = np.asarray(pg)
        out["guide_within_block_exponent_ci"] = np.asarray([lo, hi])
        out["guide_within_block_prefactor"] = np.asarray(np.exp(cg))
        okf = np.isfinite(slope)
        trend = np.polyfit(np.log2(steps[okf]), slope[okf], 1)[0] if okf.sum() >= 2 else np.nan
        out["guide_slope_trend"] = np.asarray(trend)
    return {n: np.asarray(out[n], np.float64).reshape(s) for n, _, s in layout}


def pack(stats: dict[str, np.ndarray], cfg: ScalingConfig) -> np.ndarray:
    """Flatten the output of :func:`image_stats` into one vector (layout order)."""
    return np.concatenate([np.ravel(stats[n]) for n, _, _ in stats_layout(cfg)])


def image_stats_stack(a: np.ndarray, guide: np.ndarray | None, cfg: ScalingConfig) -> np.ndarray:
    """:func:`image_stats` over a stack ``(n, y, x)`` (guide ``(n, y, x)`` or None), packed ``(n, L)``."""
    a = np.asarray(a)
    out = np.empty((a.shape[0], stats_size(cfg)))
    off = 0  # where increment_count lies in the packed vector
    for name, _, shp in stats_layout(cfg):
        if name == "increment_count":
            break
        off += int(np.prod(shp))
    for i in range(a.shape[0]):
        valid = a[i][np.isfinite(a[i])]
        if not valid.size or valid.min() == valid.max():
            # no structure to measure (the xarray layer warns): NaN, not numpy's warnings;
            # the pairs still counted (0 for an all-gap step)
            out[i] = np.nan
            out[i, off:off + len(cfg.lags)] = structure_functions(a[i], cfg.lags, [2])[2].sum(0)
            continue
        g = None if guide is None else guide[i]
        out[i] = pack(image_stats(a[i], g, cfg), cfg)
    return out
