"""Scale-invariance correction of super-resolved LST by a within-block variance law.

The law
-------
Coarse-graining LST by factors of two removes, at each step ``s -> 2s`` (``s`` in pixels of the
input grid), a **within-block variance** ``w(s)`` (see :func:`xlstsr.scaling_stats`). Over the
observed scales (the input resolution and up: 1, 2, 4... km for MODIS) it is fitted as a power
law ``w(s) = w_1 s^alpha``. A super-resolution step by ``f`` must restore
``W = sum_{j=1..log2 f} w(2^-j)``: the within-block variance of the fine field over ``f x f``
blocks (the steps add up: law of total variance).

Below the input resolution the law is **extrapolated** (``s < 1``). Scale invariance is the
assumption that ``alpha`` stays the same; a guide observed at the fine resolution (NDVI at
250 m) tells how its own exponent changes below the LST resolution, and the LST exponent below
is shifted by the same amount (``alpha_below = alpha_LST + alpha_guide_below -
alpha_guide_above``): the guide's change of scaling is taken as a proxy of the surface's.

The correction
--------------
The method's injected detail ``D = SR - B`` (``B``: bicubic upsampling of the input; only the
part of ``D`` with zero mean in each coarse block) is scaled by one gain ``g >= 0`` per image so
that the within-block variance of ``B + g D`` equals the predicted ``W`` (a quadratic in ``g``),
then the coarse residual is put back blockwise so that the radiometric aggregate equals the
input again (coarse consistency). ``scale_correction="auto"`` only damps (``g <= 1``): measured
on real truth, amplifying a method's detail to the predicted variance raised RMSE (the detail
is only partly right: the RMSE-optimal gain is ``rho sigma_true / sigma_detail``, below the
variance-matching one), while damping over-injected detail lowered both RMSE and the spectral
mismatch. A method whose output already
carries the predicted variance is left unchanged (``g = 1``) - in particular the exact fine field
of a process whose within-block law is an exact power law.

Assumptions and failure modes (see docs/results/scaling.md for measurements): one power law per
image over the observed steps (few points on small images: the fitted exponent is uncertain);
the guide's change of exponent transfers to LST (it does not where LST fine structure is not
driven by the guide: water, topography, soil moisture); the gain is global per image (spatially
uniform); methods that inject no detail (bicubic, nearest) cannot be corrected (``D = 0``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dask.array as dsa
import numpy as np

from .errors import GridError
from .kernels.aggregate import conserve_radiometric, radiometric_mean
from .kernels.interp import cubic_upsample, fill_gaps, nearest_upsample
from .kernels.scaling import block_mean, fit_power_law, spectral_ratio, within_block_variance

__all__ = [
    "VarianceLaw",
    "apply_scale_correction",
    "best_feasible_gain",
    "correct_image",
    "detail_gain",
    "fine_within_variance",
    "fit_variance_law",
    "gain_tradeoff",
    "pooled_feasible_gains",
]

SCALE_CORRECTIONS = ("auto", "law", "law-lst")


@dataclass(frozen=True)
class VarianceLaw:
    """``w(s) = w1 * s^alpha`` for ``s >= 1``; ``w1 * s^alpha_below`` below (``s`` in input px)."""

    w1: float
    alpha: float
    alpha_below: float

    def within(self, s: float) -> float:
        """Within-block variance of the step ``s -> 2s``."""
        a = self.alpha if s >= 1 else self.alpha_below
        return float(self.w1 * s**a)

    def restore(self, factor: int) -> float:
        """Within-block variance over ``factor x factor`` blocks a factor-``factor`` step restores."""
        n = round(np.log2(factor))
        return float(sum(self.within(2.0**-j) for j in range(1, n + 1)))

    @property
    def scale_invariant(self) -> bool:
        return bool(np.isclose(self.alpha, self.alpha_below))


def _steps_within(
    a: np.ndarray, nsteps: int, radiometric: bool, min_valid: float = 0.5
) -> np.ndarray:
    """Within-block variances of steps 1, 2, ..., 2^(nsteps-1) (pixels of ``a``)."""
    fmax = 2**nsteps
    ny, nx = (a.shape[0] // fmax) * fmax, (a.shape[1] // fmax) * fmax
    a = np.asarray(a, np.float64)[:ny, :nx]
    out = np.full(nsteps, np.nan)
    for j in range(nsteps):
        f = 2**j
        if f == 1:
            c = a
        elif radiometric:
            c = radiometric_mean(a, f, min_valid=min_valid)
        else:
            c = block_mean(a, f, min_valid=min_valid)
        out[j] = within_block_variance(c)
    return out


def _max_steps(shape: tuple[int, ...], min_blocks: int = 4) -> int:
    n = min(shape[-2:])
    k = 0
    while n // (2 ** (k + 1)) >= min_blocks:
        k += 1
    return k


def fit_variance_law(
    lst: np.ndarray,
    factor: int,
    guide: np.ndarray | None = None,
    *,
    max_steps: int | None = None,
) -> VarianceLaw:
    """Fit the within-block variance law of a coarse LST image (and shift it below with a guide).

    Parameters
    ----------
    lst : ndarray (y, x)
        The coarse LST (Kelvin, NaN gaps).
    factor : int
        The super-resolution factor (power of two).
    guide : ndarray (y * factor, x * factor), optional
        A fine guide (NDVI...). Its exponent below the LST pixel (steps ``1/factor .. 1/2``) minus
        its exponent above (steps ``1, 2, ...``) is added to the LST exponent below.
    max_steps : int, optional
        Number of coarse steps fitted (default: all with at least 4 x 4 blocks).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> law = fit_variance_law(300 + rng.standard_normal((64, 64)), 4)
    >>> round(law.alpha), law.scale_invariant       # white noise: w(s) ~ s^-2
    (-2, True)
    """
    n = _max_steps(lst.shape) if max_steps is None else max_steps
    if n < 2:
        raise GridError(
            f"a {lst.shape[-2]} x {lst.shape[-1]} LST image is too small to fit the within-block "
            "variance law of the scale correction (at least 16 x 16 pixels); pass "
            "scale_correction=None or a larger area."
        )
    w = _steps_within(lst, n, True)
    s = 2.0 ** np.arange(n)
    alpha, c, _, _ = fit_power_law(s, w)
    alpha_below = alpha
    if guide is not None and np.isfinite(guide).sum() > 16:
        nf = round(np.log2(factor))
        ng = _max_steps(guide.shape)
        wg = _steps_within(guide, ng, False)
        sg = 2.0 ** np.arange(ng) / factor  # in coarse pixels
        below, above = sg < 1, sg >= 1
        if nf >= 1 and below.sum() >= 1 and above.sum() >= 2:
            a_up = fit_power_law(sg[above], wg[above])[0]
            if below.sum() >= 2:
                a_lo = fit_power_law(sg[below], wg[below])[0]
            else:  # one step below: its slope to the first step above
                a_lo = (np.log(wg[above][0]) - np.log(wg[below][-1])) / np.log(2.0)
            if np.isfinite(a_lo) and np.isfinite(a_up):
                alpha_below = alpha + (a_lo - a_up)
    return VarianceLaw(float(np.exp(c)), float(alpha), float(alpha_below))


def fine_within_variance(a: np.ndarray, factor: int) -> float:
    """Mean over ``factor x factor`` blocks of the population variance of their valid pixels."""
    a = np.asarray(a, np.float64)
    ny, nx = (a.shape[-2] // factor) * factor, (a.shape[-1] // factor) * factor
    b = a[..., :ny, :nx].reshape(ny // factor, factor, nx // factor, factor)
    valid = np.isfinite(b)
    n = valid.sum(axis=(1, 3))
    bz = np.where(valid, b, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = bz.sum(axis=(1, 3)) / n
        v = (bz**2).sum(axis=(1, 3)) / n - m**2
    ok = n >= 2
    return float(np.mean(np.maximum(v[ok], 0.0))) if ok.any() else float("nan")


def _within_moments(
    base: np.ndarray, detail: np.ndarray, factor: int
) -> tuple[float, float, float]:
    """Block-averaged var(B), cov(B, D), var(D) over ``factor x factor`` blocks."""
    ny, nx = (base.shape[0] // factor) * factor, (base.shape[1] // factor) * factor

    def blocks(a: np.ndarray) -> np.ndarray:
        return a[:ny, :nx].reshape(ny // factor, factor, nx // factor, factor)

    b, d = blocks(base), blocks(detail)
    valid = np.isfinite(b) & np.isfinite(d)
    n = valid.sum(axis=(1, 3))
    ok = n >= 2
    bz, dz = np.where(valid, b, 0.0), np.where(valid, d, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mb, md = bz.sum(axis=(1, 3)) / n, dz.sum(axis=(1, 3)) / n
        vb = (bz**2).sum(axis=(1, 3)) / n - mb**2
        vd = (dz**2).sum(axis=(1, 3)) / n - md**2
        cbd = (bz * dz).sum(axis=(1, 3)) / n - mb * md
    if not ok.any():
        return np.nan, np.nan, np.nan
    return float(vb[ok].mean()), float(cbd[ok].mean()), float(vd[ok].mean())


def detail_gain(
    base: np.ndarray, detail: np.ndarray, factor: int, target: float, *, max_gain: float = 4.0
) -> float:
    """Gain ``g`` with ``within_var(base + g detail) = target`` (closest achievable, in [0, max]).

    Examples
    --------
    >>> b = np.zeros((4, 4)); d = np.tile([[1.0, -1.0], [-1.0, 1.0]], (2, 2))
    >>> detail_gain(b, d, 2, 4.0)
    2.0
    """
    vb, cbd, vd = _within_moments(base, detail, factor)
    # no detail to rescale (bicubic, nearest: float round-off only): leave the output as it is
    if not (np.isfinite(vd) and np.isfinite(target)) or vd <= 1e-8 + 1e-6 * max(vb, 0.0):
        return 1.0
    disc = cbd**2 - vd * (vb - target)
    g = (-cbd + np.sqrt(disc)) / vd if disc >= 0 else -cbd / vd
    g = float(np.clip(g, 0.0, max_gain))
    return 1.0 if abs(g - 1.0) < 1e-9 else g


def _split_detail(
    sr: np.ndarray, lst: np.ndarray, factor: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``sr = base + bm + detail``: bicubic of the input, the detail's block means, the rest."""
    base = cubic_upsample(fill_gaps(lst, max(lst.shape)), factor)
    d = sr - base
    # only the part of the detail with zero block mean is rescaled: block means (the coarse
    # information) stay as the method made them
    bm = nearest_upsample(block_mean(d, factor, min_valid=1e-9), factor)
    bm = np.where(np.isfinite(bm), bm, 0.0)
    return base, bm, d - bm


def _with_gain(
    base: np.ndarray, bm: np.ndarray, detail: np.ndarray, gain: float, lst: np.ndarray, factor: int
) -> np.ndarray:
    """``base + bm + gain * detail``, made coarse-consistent with ``lst`` again."""
    return conserve_radiometric(base + bm + gain * detail, lst, factor)


def gain_tradeoff(
    sr: np.ndarray,
    lst: np.ndarray,
    factor: int,
    truth: np.ndarray,
    gains: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """RMSE and spectral ratio against a truth of ``sr`` with its detail scaled by each gain.

    The trade-off every detail-gain correction (as :func:`correct_image`) faces: whatever
    predicts the gain, the corrected image is one point of this curve. It reads the truth, so it
    is a validation tool: it bounds what any per-image gain can achieve (for example the lowest
    ``|ratio - 1|`` reachable without raising the RMSE, see :func:`best_feasible_gain`).

    Parameters
    ----------
    sr : ndarray (Y, X)
        Super-resolved image.
    lst : ndarray (y, x)
        Its coarse input (``Y = y * factor``).
    factor : int
        Super-resolution factor.
    truth : ndarray (Y, X)
        Fine truth on the grid of ``sr`` (NaN where unknown).
    gains : ndarray, optional
        Gains to evaluate (default ``0, 0.1, ..., 3``).

    Returns
    -------
    dict
        ``gain``, ``rmse`` and ``ratio`` (spectral ratio, :func:`xlstsr.kernels.scaling.
        spectral_ratio`) arrays, plus ``rmse_none`` and ``ratio_none`` of ``sr`` itself.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> truth = 300 + rng.standard_normal((64, 64))
    >>> lst = block_mean(truth, 4)
    >>> sr = cubic_upsample(lst, 4) + 2 * (truth - cubic_upsample(lst, 4))  # twice the detail
    >>> t = gain_tradeoff(sr, lst, 4, truth, np.array([0.5, 1.0]))
    >>> bool(t["rmse"][0] < 0.05 < t["rmse"][1])
    True
    """
    sr = np.asarray(sr, np.float64)
    lst = np.asarray(lst, np.float64)
    truth = np.asarray(truth, np.float64)
    if truth.shape != sr.shape or sr.shape != (lst.shape[0] * factor, lst.shape[1] * factor):
        raise GridError(
            f"gain_tradeoff needs sr and truth on the fine grid of lst: sr {sr.shape}, truth "
            f"{truth.shape}, lst {lst.shape} x {factor}; reproject the truth onto the grid of sr "
            "first (e.g. truth.rio.reproject_match(sr))."
        )
    gains = np.round(np.arange(0.0, 3.0001, 0.1), 10) if gains is None else np.asarray(gains)
    base, bm, detail = _split_detail(sr, lst, factor)
    valid = np.isfinite(sr)

    def score(a: np.ndarray) -> tuple[float, float]:
        ok = np.isfinite(a) & np.isfinite(truth)
        rmse = float(np.sqrt(np.mean((a[ok] - truth[ok]) ** 2))) if ok.any() else np.nan
        return rmse, spectral_ratio(a, truth, factor)

    r0, s0 = score(sr)
    # gain 1 is the image as it is (correct_image leaves it untouched, not made consistent)
    rows = [
        (r0, s0) if g == 1.0
        else score(np.where(valid, _with_gain(base, bm, detail, float(g), lst, factor), np.nan))
        for g in gains
    ]
    return {
        "gain": gains.astype(np.float64),
        "rmse": np.array([r[0] for r in rows]),
        "ratio": np.array([r[1] for r in rows]),
        "rmse_none": np.float64(r0),
        "ratio_none": np.float64(s0),
    }


def best_feasible_gain(tradeoff: dict[str, np.ndarray]) -> tuple[float, float, float]:
    """The gain of a :func:`gain_tradeoff` curve closest to a spectral ratio of 1 among those
    that do not raise the RMSE above the uncorrected image's; ``(gain, rmse, ratio)``.

    Gain 1 (the image as it is) always qualifies when the curve holds it; without any qualifying
    gain the uncorrected image is returned as gain 1.

    Parameters
    ----------
    tradeoff : dict
        The output of :func:`gain_tradeoff` for one image.

    Returns
    -------
    tuple of float
        ``(gain, rmse, ratio)`` of the chosen point.

    Examples
    --------
    >>> t = {"gain": np.array([0.5, 1.0, 2.0]), "rmse": np.array([1.0, 1.1, 1.3]),
    ...      "ratio": np.array([0.2, 0.4, 0.9]), "rmse_none": 1.1, "ratio_none": 0.4}
    >>> best_feasible_gain(t)                     # amplifying would raise the RMSE
    (1.0, 1.1, 0.4)
    """
    ok = np.isfinite(tradeoff["rmse"]) & (tradeoff["rmse"] <= tradeoff["rmse_none"] + 1e-9)
    ok &= np.isfinite(tradeoff["ratio"])
    if not ok.any():
        return 1.0, float(tradeoff["rmse_none"]), float(tradeoff["ratio_none"])
    i = np.flatnonzero(ok)[np.argmin(np.abs(tradeoff["ratio"][ok] - 1.0))]
    return float(tradeoff["gain"][i]), float(tradeoff["rmse"][i]), float(tradeoff["ratio"][i])


def pooled_feasible_gains(
    tradeoffs: list[dict[str, np.ndarray]], lambdas: np.ndarray | None = None
) -> list[tuple[float, float, float]]:
    """Per-image gains nearest a spectral ratio of 1 under a constraint on the *mean* RMSE.

    The looser form of :func:`best_feasible_gain`, the one "does not increase the RMSE" asks for
    when the RMSE is averaged over images. Candidates: the per-image solution of
    :func:`best_feasible_gain`, and for each ``lam`` of the ``lambdas`` grid the gains minimising
    ``|ratio - 1| + lam * rmse`` image by image (a Lagrangian relaxation); of those whose mean
    RMSE does not exceed the uncorrected mean, the one with the lowest mean ``|ratio - 1|``.
    Never worse than the per-image bound; exact up to the grids of gains and ``lam`` where the
    trade-off is convex.

    Parameters
    ----------
    tradeoffs : list of dict
        :func:`gain_tradeoff` outputs, one per image.
    lambdas : ndarray, optional
        Lagrange multipliers tried (default ``0`` and 71 values from ``1e-3`` to ``1e4``).

    Returns
    -------
    list of tuple
        ``(gain, rmse, ratio)`` per image (the uncorrected image's when nothing qualifies).

    Examples
    --------
    >>> t1 = {"gain": np.array([1.0, 2.0]), "rmse": np.array([1.0, 1.1]),
    ...       "ratio": np.array([0.5, 1.0]), "rmse_none": 1.0, "ratio_none": 0.5}
    >>> t2 = {"gain": np.array([0.5, 1.0]), "rmse": np.array([0.8, 1.0]),
    ...       "ratio": np.array([1.0, 1.5]), "rmse_none": 1.0, "ratio_none": 1.5}
    >>> pooled_feasible_gains([t1, t2])   # the RMSE saved on image 2 pays for image 1
    [(2.0, 1.1, 1.0), (0.5, 0.8, 1.0)]
    """
    lambdas = np.concatenate([[0.0], np.geomspace(1e-3, 1e4, 71)]) if lambdas is None else lambdas
    limit = float(np.mean([t["rmse_none"] for t in tradeoffs])) + 1e-9
    best = [best_feasible_gain(t) for t in tradeoffs]

    def mismatch(pick: list[tuple[float, float, float]]) -> float:
        return float(np.mean([abs(p[2] - 1.0) for p in pick]))

    for lam in lambdas:
        pick = []
        for t in tradeoffs:
            cost = np.abs(t["ratio"] - 1.0) + lam * t["rmse"]
            i = int(np.argmin(np.where(np.isfinite(cost), cost, np.inf)))
            pick.append((float(t["gain"][i]), float(t["rmse"][i]), float(t["ratio"][i])))
        if np.mean([p[1] for p in pick]) <= limit and mismatch(pick) < mismatch(best):
            best = pick
    return best


def correct_image(
    sr: np.ndarray,
    lst: np.ndarray,
    factor: int,
    guide: np.ndarray | None = None,
    *,
    mode: str = "auto",
    law: VarianceLaw | None = None,
    max_gain: float | None = None,
    return_info: bool = False,
) -> Any:
    """Correct one super-resolved image ``sr`` (Y, X) of the coarse ``lst`` (y, x).

    ``mode``:

    - ``"auto"``: law shifted below by the guide (when given), gain capped at 1 ("shrink
      only": detail is damped where the method injects more within-block variance than the law
      predicts, never amplified - amplifying also amplifies the part of the detail that is
      wrong, see docs/results/scaling.md);
    - ``"law"``: the same law, gain in [0, 4] (full variance matching);
    - ``"law-lst"``: the LST law extrapolated as it is (guide ignored), gain in [0, 4].

    ``law`` overrides the fitted law and ``max_gain`` the mode's cap. With ``return_info`` also
    returns ``{"gain", "target", "injected", "alpha", "alpha_below", "w1"}``.
    """
    if mode not in SCALE_CORRECTIONS:
        raise ValueError(
            f"scale_correction must be one of {SCALE_CORRECTIONS} or None, got {mode!r}"
        )
    sr = np.asarray(sr, np.float64)
    lst = np.asarray(lst, np.float64)
    info: dict[str, float] = {}
    if not np.isfinite(lst).any():
        return (sr, info) if return_info else sr
    if law is None:
        g2d = None
        if guide is not None and mode != "law-lst":
            g2d = np.asarray(guide, np.float64)
            if g2d.ndim == 3:
                g2d = g2d[0]
        law = fit_variance_law(lst, factor, g2d)
    target = law.restore(factor)
    base, bm, detail = _split_detail(sr, lst, factor)
    cap = max_gain if max_gain is not None else (1.0 if mode == "auto" else 4.0)
    gain = detail_gain(base, detail, factor, target, max_gain=cap)
    out = sr
    if gain != 1.0:
        out = _with_gain(base, bm, detail, gain, lst, factor)
    out = np.where(np.isfinite(sr), out, np.nan)
    info = {
        "gain": gain,
        "target": target,
        "injected": fine_within_variance(sr, factor),
        "alpha": law.alpha,
        "alpha_below": law.alpha_below,
        "w1": law.w1,
    }
    return (out, info) if return_info else out


def _correct_stack(
    sr: np.ndarray, lst: np.ndarray, guide: np.ndarray | None, factor: int, mode: str
) -> np.ndarray:
    out = np.empty(sr.shape, dtype=sr.dtype)
    for i in range(sr.shape[0]):
        g = None
        if guide is not None:
            g = guide[i if guide.shape[0] > 1 else 0]
            g = g[0] if g.ndim == 3 else g
        out[i] = correct_image(sr[i], lst[i], factor, g, mode=mode)
    return out


def apply_scale_correction(sr: Any, lst: Any, guide: Any, factor: int, mode: str = "auto") -> Any:
    """Stacked correction used by :func:`xlstsr.upscale`: ``sr`` (n, Y, X), ``lst`` (n, y, x),
    ``guide`` (n | 1, c, Y, X) or None (first channel used). Whole images per time step; lazy
    (``map_blocks`` over the leading axis) when any input is a dask array.
    """
    if mode not in SCALE_CORRECTIONS:
        raise ValueError(
            f"scale_correction must be one of {SCALE_CORRECTIONS} or None, got {mode!r}"
        )
    lazy = any(isinstance(a, dsa.Array) for a in (sr, lst, guide))
    if not lazy:
        g = None if guide is None else np.asarray(guide)
        return _correct_stack(np.asarray(sr), np.asarray(lst), g, factor, mode).astype(
            np.asarray(sr).dtype
        )
    sr_d = dsa.asarray(sr).rechunk({1: -1, 2: -1})
    lst_d = dsa.asarray(lst).rechunk((sr_d.chunks[0], -1, -1))
    args: list[Any] = [sr_d, "nij", lst_d, "nkl"]
    if guide is not None:
        g = dsa.asarray(guide)[:, :1]
        if g.shape[0] == 1 and sr_d.shape[0] > 1:
            g = dsa.broadcast_to(g, (sr_d.shape[0], *g.shape[1:]))
        args += [g.rechunk((sr_d.chunks[0], -1, -1, -1)), "ncab"]

    def _block(s, t, g=None):
        return _correct_stack(s, t, g, factor, mode).astype(s.dtype)

    # blockwise with separate spatial indices: the three arrays have different spatial sizes
    return dsa.blockwise(
        _block,
        "nij",
        *args,
        dtype=sr_d.dtype,
        align_arrays=False,
        concatenate=True,
        meta=np.empty((0, 0, 0), sr_d.dtype),
    )
