"""What any per-image detail gain can reach: bounds of the scale correction that read the truth.

Validation tools of the benchmarks (``correction_variants.py``, ``one_level_up.py``), not part of
the package: they need the fine truth, which a user of the correction does not have. The
correction itself is :mod:`xlstsr.kernels.correction`.

Every detail-gain correction (as :func:`xlstsr.kernels.correction.correct_image`) outputs, for
one image, one point of the curve traced by :func:`gain_tradeoff` (RMSE and spectral ratio
against the truth as functions of the gain); :func:`best_feasible_gain` and
:func:`pooled_feasible_gains` pick the best points that do not raise the RMSE, and
:func:`least_rmse_at_mismatch` the lowest mean RMSE at a given spectral mismatch (with a floor
no choice of gains can beat).

Import from a benchmark script (``benchmarks/`` is the script's folder, hence on ``sys.path``)::

    from gain_bounds import best_feasible_gain, gain_tradeoff
"""

from __future__ import annotations

import numpy as np

from xlstsr.errors import GridError
from xlstsr.kernels.correction import rescale_detail, split_detail
from xlstsr.kernels.spectra import spectral_ratio

__all__ = ["best_feasible_gain", "gain_tradeoff", "least_rmse_at_mismatch", "pooled_feasible_gains"]


def gain_tradeoff(
    sr: np.ndarray,
    lst: np.ndarray,
    factor: int,
    truth: np.ndarray,
    gains: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """RMSE and spectral ratio against a truth of ``sr`` with its detail scaled by each gain.

    The trade-off every detail-gain correction (as
    :func:`xlstsr.kernels.correction.correct_image`) faces: whatever
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
        ``gain``, ``rmse`` and ``ratio`` (:func:`xlstsr.kernels.spectra.spectral_ratio`)
        arrays, plus ``rmse_none`` and ``ratio_none`` of ``sr`` itself.

    Examples
    --------
    >>> from xlstsr.kernels.aggregate import block_mean
    >>> from xlstsr.kernels.interp import cubic_upsample
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
    if sr.ndim != 2 or lst.ndim != 2 or truth.ndim != 2:  # "reproject the truth", of one grid
        raise GridError(
            f"gain_tradeoff takes one image (2-D arrays), got sr {sr.shape}, lst {lst.shape}, "
            f"truth {truth.shape}: pass one date (e.g. `sr.isel(time=0).values`), or use "
            "pooled_feasible_gains for several images."
        )
    if truth.shape != sr.shape or sr.shape != (lst.shape[0] * factor, lst.shape[1] * factor):
        raise GridError(
            f"gain_tradeoff needs sr and truth on the fine grid of lst: sr {sr.shape}, truth "
            f"{truth.shape}, lst {lst.shape} x {factor}; reproject the truth onto the grid of sr "
            "first (e.g. truth.rio.reproject_match(sr))."
        )
    gains = np.round(np.arange(0.0, 3.0001, 0.1), 10) if gains is None else np.asarray(gains)
    base, bm, detail = split_detail(sr, lst, factor)
    valid = np.isfinite(sr)

    def score(a: np.ndarray) -> tuple[float, float]:
        ok = np.isfinite(a) & np.isfinite(truth)
        rmse = float(np.sqrt(np.mean((a[ok] - truth[ok]) ** 2))) if ok.any() else np.nan
        return rmse, float(spectral_ratio(a, truth, factor))

    r0, s0 = score(sr)
    # gain 1 stands for the image as it is, uncorrected (as correct_image's law modes leave an
    # image whose gain comes out at 1; a fixed gain of 1 is made coarse-consistent there)
    rows = [
        (r0, s0) if g == 1.0
        else score(np.where(valid, rescale_detail(base, bm, detail, float(g), lst, factor), np.nan))
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


def least_rmse_at_mismatch(
    tradeoffs: list[dict[str, np.ndarray]], target: float, lambdas: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> dict:
    """The lowest mean RMSE one gain per image reaches with the mean ``|ratio - 1|`` <= ``target``.

    The other side of :func:`pooled_feasible_gains` (which minimises the mismatch at a given
    RMSE): can a detail-gain correction reach a spectral target at all without raising the
    RMSE? For each ``lam`` every image takes the gain minimising ``rmse + lam |ratio - 1|``; of
    these points within the target the lowest mean RMSE is returned as ``rmse`` (an achievable
    choice, so an upper bound of the optimum), and ``floor`` = max over ``lam`` of
    ``mean(min(rmse + lam |ratio - 1|)) - lam target`` (weak duality: no choice of the curves'
    gains does better), so the two bracket the optimum.

    Parameters
    ----------
    tradeoffs : list of dict
        :func:`gain_tradeoff` outputs (``gain``, ``rmse``, ``ratio`` on one gain grid), one per
        image.
    target : float
        The largest mean ``|ratio - 1|`` allowed.
    lambdas : ndarray, optional
        Lagrange multipliers tried (default ``0`` and 300 values from ``1e-4`` to ``1e3``).
    weights : ndarray, optional
        Weight of each image in the means (default equal; e.g. ``1 / images of its window`` for
        a mean over window positions).

    Returns
    -------
    dict
        ``rmse``, ``mismatch`` (the mean ``|ratio - 1|`` of that choice) and ``gains`` (per image;
        NaN and an empty list when no gain of the grid reaches the target), and ``floor``.

    Examples
    --------
    >>> t = {"gain": np.array([0.0, 1.0]), "rmse": np.array([1.0, 1.2]),
    ...      "ratio": np.array([0.5, 1.0])}
    >>> d = least_rmse_at_mismatch([t], 0.1)
    >>> round(d["rmse"], 3), d["gains"]
    (1.2, [1.0])
    >>> round(d["floor"], 3)  # the convex mix of the two gains, which no single gain gives
    1.16
    """
    lambdas = np.concatenate([[0.0], np.logspace(-4, 3, 300)]) if lambdas is None else lambdas
    r = np.stack([np.asarray(t["rmse"], np.float64) for t in tradeoffs])
    m = np.abs(np.stack([np.asarray(t["ratio"], np.float64) for t in tradeoffs]) - 1.0)
    r = np.where(np.isfinite(r), r, np.inf)
    m = np.where(np.isfinite(m), m, np.inf)
    rows = np.arange(len(r))
    w = np.full(len(r), 1.0) if weights is None else np.asarray(weights, np.float64)
    w = w / w.sum()
    best: tuple[float, float, np.ndarray] | None = None
    floor = -np.inf
    for lam in lambdas:
        cost = r + lam * m
        j = np.argmin(cost, axis=1)
        floor = max(floor, float(w @ cost.min(1) - lam * target))
        rr, mm = float(w @ r[rows, j]), float(w @ m[rows, j])
        if mm <= target and (best is None or rr < best[0]):
            best = (rr, mm, j)
    if best is None:
        return {"rmse": float("nan"), "mismatch": float("nan"), "gains": [], "floor": floor}
    return {"rmse": best[0], "mismatch": best[1], "floor": floor,
            "gains": [float(tradeoffs[i]["gain"][k]) for i, k in enumerate(best[2])]}
