"""Accuracy metrics of a super-resolved field against a reference, on numpy arrays.

Every metric compares ``sr`` and ``ref`` of the same shape ``(..., y, x)`` (leading dims
broadcast) and reduces the last two axes, returning one value per leading index (a float for 2-D input). Pixels count only where
**both** arrays are valid (a pairwise-valid mask), so NaN marks clouds, water, or the outside of
the reference scene. A slice without any pairwise-valid pixel gives NaN. Only NaN means no
data: an infinite value (an overflow, an undeclared ``inf`` fill) raises ``ValueError`` (it was
dropped like a cloud, and half an image of ``inf`` scored the RMSE of the other half).

Conventions
-----------
- Differences are ``sr - ref``: a positive bias means the super-resolved field is too warm.
- ``psnr`` and ``ssim`` use the data range ``max(ref) - min(ref)`` over the pairwise-valid pixels
  of the slice (the reference's range, not a fixed 8-bit/16-bit range) unless ``data_range`` is
  given.
- The spectral ratio and power spectra live in :mod:`xlstsr.kernels.spectra` (one estimator for
  every spectral figure); they use the same pairwise-valid mask.

Examples
--------
>>> import numpy as np
>>> ref = np.array([[300.0, 302.0], [304.0, np.nan]])
>>> float(rmse(ref + 1.0, ref)), float(bias(ref + 1.0, ref))
(1.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

from .aggregate import radiometric_mean

__all__ = [
    "bias",
    "coarse_consistency",
    "correlation",
    "gradient_rmse",
    "mae",
    "n_valid",
    "psnr",
    "rmse",
    "ssim",
    "ubrmse",
]


def _refuse_infinite(a: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` if ``a`` holds +-inf: only NaN marks no data."""
    n = int(np.count_nonzero(np.isinf(a)))
    if n:
        raise ValueError(
            f"{name} holds {n} infinite value(s): not temperatures, and not gaps (only NaN marks "
            f"no data). Mask them first (`np.where(np.isfinite({name}), {name}, np.nan)`) or find "
            "where they came from (an overflow, an undeclared fill value)."
        )


def _pair(sr: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """float64 copies of both arrays with NaN wherever either one is NaN, and the mask;
    ``ValueError`` for an infinite value."""
    a = np.asarray(sr, dtype=np.float64)
    b = np.asarray(ref, dtype=np.float64)
    if a.shape[-2:] == b.shape[-2:] and a.shape != b.shape:
        try:  # leading dims broadcast (e.g. a 2-D reference for a time series)
            a, b = np.broadcast_arrays(a, b)
        except ValueError:
            pass
    if a.shape != b.shape:
        raise ValueError(
            f"sr {a.shape} and ref {b.shape} must have the same shape; put both on the same grid "
            "first (xlstsr.evaluate reprojects the super-resolved field onto the reference grid)."
        )
    if a.ndim < 2:
        raise ValueError(f"expected arrays with (y, x) as last two axes, got shape {a.shape}")
    _refuse_infinite(a, "sr")
    _refuse_infinite(b, "ref")
    valid = np.isfinite(a) & np.isfinite(b)
    return np.where(valid, a, np.nan), np.where(valid, b, np.nan), valid


def _nanmean(x: np.ndarray, axis: tuple[int, ...] = (-2, -1)) -> np.ndarray:
    """Mean over ``axis`` ignoring NaN; NaN (no warning) where everything is NaN."""
    finite = np.isfinite(x)
    n = finite.sum(axis=axis)
    s = np.where(finite, x, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def _out(x: np.ndarray) -> np.ndarray | float:
    x = np.asarray(x, dtype=np.float64)
    return float(x) if x.ndim == 0 else x


def _per_slice(
    fn: Callable[..., float], a: np.ndarray, b: np.ndarray, *args: np.ndarray
) -> np.ndarray | float:
    """``fn(a2d, b2d, *per-slice args)`` over the leading dims of paired ``(..., y, x)`` arrays."""
    lead = a.shape[:-2]
    fa = a.reshape(-1, *a.shape[-2:])
    fb = b.reshape(-1, *b.shape[-2:])
    fargs = [np.broadcast_to(x, lead).reshape(-1) for x in args]
    out = np.array([fn(fa[i], fb[i], *(x[i] for x in fargs)) for i in range(fa.shape[0])])
    return _out(out.reshape(lead))


def n_valid(sr: np.ndarray, ref: np.ndarray) -> np.ndarray | float:
    """Number of pairwise-valid pixels (both finite) per slice."""
    _, _, valid = _pair(sr, ref)
    return _out(valid.sum(axis=(-2, -1)).astype(np.float64))


def rmse(sr: np.ndarray, ref: np.ndarray) -> np.ndarray | float:
    """Root-mean-square error ``sqrt(mean((sr - ref)^2))`` over pairwise-valid pixels.

    Examples
    --------
    >>> float(rmse(np.array([[1.0, 3.0]]), np.array([[0.0, 0.0]])))  # sqrt((1 + 9) / 2)
    2.23606797749979
    """
    a, b, _ = _pair(sr, ref)
    return _out(np.sqrt(_nanmean((a - b) ** 2)))


def bias(sr: np.ndarray, ref: np.ndarray) -> np.ndarray | float:
    """Mean difference ``mean(sr - ref)`` (K): positive when the super-resolved field is too warm.

    Examples
    --------
    >>> float(bias(np.array([[1.0, 3.0]]), np.array([[0.0, 0.0]])))
    2.0
    """
    a, b, _ = _pair(sr, ref)
    return _out(_nanmean(a - b))


def ubrmse(sr: np.ndarray, ref: np.ndarray) -> np.ndarray | float:
    """Bias-removed (unbiased) RMSE: the standard deviation of ``sr - ref`` (population, ddof=0).

    ``rmse^2 = bias^2 + ubrmse^2``.

    Examples
    --------
    >>> float(ubrmse(np.array([[1.0, 3.0]]), np.array([[0.0, 0.0]])))
    1.0
    """
    a, b, _ = _pair(sr, ref)
    d = a - b
    m = _nanmean(d)
    return _out(np.sqrt(_nanmean((d - m[..., None, None]) ** 2)))


def mae(sr: np.ndarray, ref: np.ndarray) -> np.ndarray | float:
    """Mean absolute error ``mean(|sr - ref|)``.

    Examples
    --------
    >>> float(mae(np.array([[1.0, -3.0]]), np.array([[0.0, 0.0]])))
    2.0
    """
    a, b, _ = _pair(sr, ref)
    return _out(_nanmean(np.abs(a - b)))


def _data_range(b: np.ndarray, data_range: float | None) -> np.ndarray:
    if data_range is not None:
        return np.asarray(float(data_range))
    finite = np.isfinite(b)
    any_ = finite.any(axis=(-2, -1))
    hi = np.where(finite, b, -np.inf).max(axis=(-2, -1))
    lo = np.where(finite, b, np.inf).min(axis=(-2, -1))
    return np.where(any_, hi - lo, np.nan)


def psnr(sr: np.ndarray, ref: np.ndarray, *, data_range: float | None = None) -> np.ndarray | float:
    """Peak signal-to-noise ratio ``20 log10(data_range / rmse)`` in dB.

    The data range is ``max(ref) - min(ref)`` over the **pairwise-valid pixels** of each slice
    (the reference's own dynamic range, as in the MODIS/ASTER literature), unless ``data_range``
    is given. It depends on the reference's extremes (e.g. cold cloud-edge pixels), so compare
    PSNR only between methods evaluated on the same pixels. NaN when the range or the RMSE is 0
    or undefined.

    Examples
    --------
    >>> ref = np.array([[300.0, 310.0]])
    >>> float(psnr(ref + 1.0, ref))  # 20 log10(10 / 1)
    20.0
    """
    a, b, _ = _pair(sr, ref)
    err = np.sqrt(_nanmean((a - b) ** 2))
    rng = _data_range(b, data_range)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 20.0 * np.log10(rng / err)
    return _out(np.where((err > 0) & (rng > 0), out, np.nan))


def _ssim2d(
    a: np.ndarray, b: np.ndarray, rng: float, sigma: float, truncate: float,
    k1: float, k2: float, min_weight: float,
) -> float:
    valid = np.isfinite(a) & np.isfinite(b)
    if not valid.any() or not np.isfinite(rng) or rng <= 0:
        return np.nan
    w = valid.astype(np.float64)
    # centre both on one constant: variances/covariance do not change, cancellation is avoided
    c = float(b[valid].mean())
    x = np.where(valid, a - c, 0.0)
    y = np.where(valid, b - c, 0.0)

    def g(v: np.ndarray) -> np.ndarray:
        return ndimage.gaussian_filter(v, sigma, mode="constant", cval=0.0, truncate=truncate)

    wsum = g(w)  # Gaussian weight of the window that falls on valid pixels (kernel sums to 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = g(w * x) / wsum
        my = g(w * y) / wsum
        vx = np.maximum(g(w * x * x) / wsum - mx * mx, 0.0)
        vy = np.maximum(g(w * y * y) / wsum - my * my, 0.0)
        cxy = g(w * x * y) / wsum - mx * my
    mx = mx + c
    my = my + c
    c1 = (k1 * rng) ** 2
    c2 = (k2 * rng) ** 2
    smap = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    use = valid & (wsum >= min_weight - 1e-12)
    return float(smap[use].mean()) if use.any() else np.nan


def ssim(
    sr: np.ndarray,
    ref: np.ndarray,
    *,
    data_range: float | None = None,
    sigma: float = 1.5,
    truncate: float = 3.5,
    k1: float = 0.01,
    k2: float = 0.03,
    min_weight: float = 0.5,
) -> np.ndarray | float:
    """Structural similarity index (Wang et al. 2004) with a Gaussian window, NaN-aware.

    Local means, variances and the covariance are Gaussian-weighted (``sigma`` = 1.5 px,
    truncated at ``truncate`` sigma: the 11 x 11 window of Wang et al.) with the population
    (biased) estimators, ``C1 = (k1 L)^2``, ``C2 = (k2 L)^2`` and ``L`` the data range as for
    :func:`psnr` (``max(ref) - min(ref)`` over the pairwise-valid pixels unless given).

    NaN handling: the statistics are computed by *normalised convolution* over pairwise-valid
    pixels only (invalid pixels, and the outside of the image, get weight 0 and each local
    statistic is divided by the valid weight of its window), so gaps neither propagate nor count
    as zeros. The SSIM map is averaged over pairwise-valid pixels whose window has at least
    ``min_weight`` of its Gaussian weight on valid pixels. With the defaults (``sigma`` 1.5,
    ``min_weight`` 0.5) a pixel on a straight rim of the image or of a gap keeps 0.63 of the
    weight and *is* averaged in, with its one-sided statistics; left out are only the pixels
    that invalid ground (or the outside of the image) bounds on two sides: a corner of the
    image (0.40) or of a valid region that gaps bound on two sides, and valid strips under 3 px
    wide (0.27 for 1 px, 0.48 for 2 px). On a fully valid image only the 4 corner pixels are
    left out: the map equals the Gaussian-window SSIM of Wang et al. where the window lies
    inside the image, but the mean also counts the rim, so it is not the mean of
    scikit-image's ``structural_similarity``, which crops a ``(win - 1) / 2`` = 5 px border.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ref = 300 + rng.standard_normal((32, 32))
    >>> float(ssim(ref, ref))
    1.0
    """
    a, b, _ = _pair(sr, ref)
    rng = np.asarray(_data_range(b, data_range), dtype=np.float64)

    def one(x: np.ndarray, y: np.ndarray, r: float) -> float:
        return _ssim2d(x, y, r, sigma, truncate, k1, k2, min_weight)

    return _per_slice(one, a, b, rng)


def gradient_rmse(sr: np.ndarray, ref: np.ndarray) -> np.ndarray | float:
    """RMSE of the spatial gradients: ``sqrt(mean(|grad sr - grad ref|^2))`` in K per pixel.

    Gradients are central differences ``(v[i+1] - v[i-1]) / 2`` along y and x at interior pixels;
    the norm is that of the 2-vector difference, i.e. the RMS gradient of the error field
    ``sr - ref``. It measures misplaced edges and texture and ignores a constant offset. A pixel
    counts when its four neighbours are pairwise-valid.

    Examples
    --------
    >>> x = np.arange(6.0)[None, :].repeat(5, 0)
    >>> float(gradient_rmse(2 * x, x))  # slopes 2 and 1 K/px along x
    1.0
    """
    a, b, _ = _pair(sr, ref)
    d = a - b
    gy = (d[..., 2:, 1:-1] - d[..., :-2, 1:-1]) / 2.0
    gx = (d[..., 1:-1, 2:] - d[..., 1:-1, :-2]) / 2.0
    return _out(np.sqrt(_nanmean(gx * gx + gy * gy)))


def _varies(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Whether ``x`` takes two values or more on the ``valid`` pixels of each slice (``max >
    min``, exact: no tolerance can tell a constant from a field of tiny contrast)."""
    hi = np.where(valid, x, -np.inf).max(axis=(-2, -1))
    lo = np.where(valid, x, np.inf).min(axis=(-2, -1))
    return hi > lo


def correlation(sr: np.ndarray, ref: np.ndarray) -> np.ndarray | float:
    """Pearson correlation coefficient between ``sr`` and ``ref`` over pairwise-valid pixels.

    NaN where fewer than two pixels are valid or either field is constant over the pairwise-valid
    pixels (``max == min``: tested exactly, as the round-off of the mean of a constant 288.15 K
    left residuals of 1e-14 that gave a correlation of ~0 instead).

    Examples
    --------
    >>> float(correlation(np.array([[1.0, 2.0, 3.0]]), np.array([[2.0, 4.0, 6.0]])))
    1.0
    >>> float(correlation(np.array([[1.0, 2.0, 3.0]]), np.full((1, 3), 288.15)))
    nan
    """
    a, b, valid = _pair(sr, ref)
    da = a - _nanmean(a)[..., None, None]
    db = b - _nanmean(b)[..., None, None]
    cov = _nanmean(da * db)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = cov / np.sqrt(_nanmean(da * da) * _nanmean(db * db))
    varies = _varies(a, valid) & _varies(b, valid)
    return _out(np.where(varies, np.clip(r, -1.0, 1.0), np.nan))


def coarse_consistency(
    sr: np.ndarray, coarse: np.ndarray, factor: int, *, min_valid: float = 1.0
) -> np.ndarray | float:
    """RMSE between the radiometric aggregate of ``sr`` and the coarse input (K).

    ``radiometric_mean(sr, factor)`` (``(mean T^4)^(1/4)`` over each ``factor`` x ``factor`` block,
    see :func:`xlstsr.kernels.aggregate.radiometric_mean`) is compared with ``coarse`` on the
    coarse pixels valid in both: 0 means the super-resolved field conserves the input's
    radiance ("energy conservation").

    Parameters
    ----------
    sr : ndarray, (..., Y, X)
        Super-resolved LST on the fine grid nested in the coarse one (Y = factor * y).
    coarse : ndarray, (..., y, x)
        The coarse input.
    factor : int
        The upscaling factor.
    min_valid : float
        Fraction of valid fine pixels a block needs (1.0: all).

    Examples
    --------
    >>> c = np.array([[300.0, 310.0]])
    >>> float(coarse_consistency(np.repeat(np.repeat(c, 2, 0), 2, 1), c, 2))
    0.0
    """
    sr = np.asarray(sr, dtype=np.float64)
    coarse = np.asarray(coarse, dtype=np.float64)
    _refuse_infinite(sr, "sr")
    _refuse_infinite(coarse, "coarse")
    try:  # leading dims broadcast (e.g. one coarse field for several SR variants)
        lead = np.broadcast_shapes(sr.shape[:-2], coarse.shape[:-2])
    except ValueError:
        lead = None
    if lead is None or sr.shape[-2:] != (coarse.shape[-2] * factor, coarse.shape[-1] * factor):
        raise ValueError(
            f"sr {sr.shape} is not the factor-{factor} fine grid of coarse {coarse.shape}; pass the "
            "super-resolved field on its own grid (before any reprojection) with its coarse input."
        )
    agg = radiometric_mean(np.broadcast_to(sr, (*lead, *sr.shape[-2:])), factor, min_valid=min_valid)
    return rmse(agg, np.broadcast_to(coarse, agg.shape))
