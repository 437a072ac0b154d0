"""Block statistics: radiometric and plain aggregation, within-block (co)variance, the sensor PSF.

The one home of every statistic over ``factor x factor`` blocks of an image ``(..., Y, X)``; NaN
marks gaps and each statistic uses the valid pixels of the block only.

- LST aggregates through emitted radiance, not linearly: a coarse pixel sees
  ``T_c = (mean(eps T^4) / mean(eps))^(1/4)`` (Stefan-Boltzmann, broadband approximation), see
  :func:`radiometric_mean`. The plain mean underestimates it by about ``1.5 var(T) / T``.
- Guides (NDVI, reflectances) aggregate linearly: :func:`block_mean`.
- :func:`block_moments` gives the count, mean and population variance of each block (the
  variance by the two-pass formula, centred on the block mean: no cancellation against the
  ~300 K offset of LST); :func:`within_block_variance` / :func:`within_block_covariance` average
  them over the blocks with at least two valid pixels: the variance a factor-``factor``
  super-resolution step must restore (law of total variance).

The radiometric kernels (:func:`radiometric_mean`, :func:`gaussian_psf`,
:func:`gaussian_psf_emitted`, and :func:`conserve_radiometric`'s target) take Kelvin and refuse
values <= 0 (:class:`~xlstsr.errors.UnitsError`): ``T^4`` loses the sign, so -10 degC
aggregated to +10.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..errors import UnitsError

__all__ = [
    "block_mean",
    "block_moments",
    "block_view",
    "conserve_radiometric",
    "crop_to_multiple",
    "gaussian_psf",
    "gaussian_psf_emitted",
    "psf_sigma",
    "radiometric_mean",
    "within_block_covariance",
    "within_block_variance",
]

_BLOCK_AXES = (-3, -1)  # the two within-block axes of block_view


def block_view(a: np.ndarray, factor: int) -> np.ndarray:
    """View ``(..., Y, X)`` as ``(..., Y/f, f, X/f, f)``; Y and X must be multiples of ``factor``."""
    *lead, ny, nx = a.shape
    if ny % factor or nx % factor:
        raise ValueError(f"shape {(ny, nx)} is not a multiple of factor {factor}")
    return a.reshape(*lead, ny // factor, factor, nx // factor, factor)


def _require_kelvin(t: np.ndarray, kernel: str, what: str = "lst") -> None:
    """Refuse temperatures <= 0 (NaN gaps pass): through ``T^4`` and its fourth root a
    Celsius field came back sign-flipped (-10 degC everywhere aggregated to +10)."""
    if np.any(t <= 0):  # NaN compares False: a gap is no temperature
        raise UnitsError(
            f"{kernel} takes temperatures in Kelvin (> 0), but {what} holds values down to "
            f"{float(np.nanmin(t)):g}: degrees Celsius? convert them (`{what} + 273.15`); a "
            "difference or anomaly aggregates linearly (block_mean); a fill value? set it to NaN"
        )


def radiometric_mean(
    lst: np.ndarray,
    factor: int,
    *,
    min_valid: float = 1.0,
    emissivity: np.ndarray | None = None,
) -> np.ndarray:
    """Aggregate LST by an integer factor through radiance, ``(mean T^4)^(1/4)``.

    Parameters
    ----------
    lst : ndarray, (..., Y, X)
        Temperatures in Kelvin; NaN marks gaps. Y and X must be multiples of ``factor``. Values
        <= 0 (Celsius, a fill of 0) raise :class:`~xlstsr.errors.UnitsError`.
    factor : int
        Aggregation factor along y and x.
    min_valid : float
        Smallest fraction of valid fine pixels for a coarse pixel to be valid (1.0: all of them).
    emissivity : ndarray, optional
        Broadband emissivity broadcastable to ``lst``: the aggregate becomes
        ``(sum eps T^4 / sum eps)^(1/4)`` over valid pixels.

    Returns
    -------
    ndarray, (..., Y/f, X/f)
        Coarse LST (float64 for float64 input, else float32), NaN where too few pixels are valid.

    Examples
    --------
    >>> t = np.array([[300.0, 310.0], [290.0, 300.0]])
    >>> bool(radiometric_mean(t, 2)[0, 0] > t.mean())
    True
    """
    lst = np.asarray(lst)  # array-likes (lists) have no dtype to read
    _require_kelvin(lst, "radiometric_mean")
    return _radiometric_mean(lst, factor, min_valid, emissivity)


def _radiometric_mean(lst: np.ndarray, factor: int, min_valid: float,
                      emissivity: np.ndarray | None) -> np.ndarray:
    """:func:`radiometric_mean` of an array, its values unchecked (conserve_radiometric's
    iterations: its field is checked, or left to its caller's output check, once)."""
    out_dtype = np.float64 if lst.dtype == np.float64 else np.float32
    t = block_view(lst.astype(np.float64, copy=False), factor)
    valid = np.isfinite(t)
    t4 = np.where(valid, t, 0.0) ** 4
    if emissivity is None:
        weight = valid.astype(np.float64)
    else:
        eps = block_view(np.broadcast_to(np.asarray(emissivity, np.float64), lst.shape), factor)
        valid &= np.isfinite(eps)
        weight = np.where(valid, eps, 0.0)
        t4 = t4 * weight
    axes = (-3, -1)
    wsum = weight.sum(axis=axes)
    nvalid = valid.sum(axis=axes)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (t4.sum(axis=axes) / wsum) ** 0.25
    out[(nvalid < min_valid * factor * factor - 1e-9) | (nvalid == 0)] = np.nan
    return out.astype(out_dtype, copy=False)


def _count_mean(
    a: np.ndarray, b: np.ndarray | None, factor: int
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Block views of a (and b), their valid mask (pairwise), count, mean(s) (NaN: empty block)."""
    va = block_view(np.asarray(a, dtype=np.float64), factor)
    valid = np.isfinite(va)
    vb = None
    if b is not None:
        vb = block_view(np.asarray(b, dtype=np.float64), factor)
        valid &= np.isfinite(vb)
    n = valid.sum(axis=_BLOCK_AXES)
    with np.errstate(invalid="ignore", divide="ignore"):
        ma = np.where(valid, va, 0.0).sum(axis=_BLOCK_AXES) / n
        mb = None if vb is None else np.where(valid, vb, 0.0).sum(axis=_BLOCK_AXES) / n
    return va, vb, valid, n, ma, mb


def block_mean(a: np.ndarray, factor: int, *, min_valid: float = 1.0) -> np.ndarray:
    """NaN-aware plain block mean (guides such as NDVI, which aggregate linearly; LST does not).

    Parameters
    ----------
    a : ndarray, (..., Y, X)
        The field; NaN marks gaps. Y and X must be multiples of ``factor``.
    factor : int
        Block size along y and x.
    min_valid : float
        Smallest fraction of valid pixels for a block to be valid (1.0: all of them; 0: any one),
        as in :func:`radiometric_mean`.

    Returns
    -------
    ndarray, (..., Y/f, X/f), float64
        Mean of the valid pixels of each block, NaN where too few are valid.

    Examples
    --------
    >>> a = np.array([[1.0, 3.0, 5.0, np.nan], [2.0, 6.0, np.nan, np.nan]])
    >>> block_mean(a, 2, min_valid=0.25).tolist()
    [[3.0, 5.0]]
    >>> block_mean(a, 2).tolist()                     # min_valid=1: any gap makes a gap
    [[3.0, nan]]
    """
    _, _, _, n, mean, _ = _count_mean(a, None, factor)
    mean[(n < min_valid * factor * factor - 1e-9) | (n == 0)] = np.nan
    return mean


def block_moments(a: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count, mean and population variance of the valid pixels of each block.

    Parameters
    ----------
    a : ndarray, (..., Y, X)
        The field; NaN marks gaps. Y and X must be multiples of ``factor``.
    factor : int
        Block size along y and x.

    Returns
    -------
    count : ndarray of int, (..., Y/f, X/f)
        Number of valid pixels.
    mean, variance : ndarray, (..., Y/f, X/f)
        Their mean and population variance (ddof=0, centred on the block mean); NaN where the
        block has no valid pixel, variance 0 where it has one.

    Examples
    --------
    >>> n, m, v = block_moments(np.array([[0.0, 2.0], [4.0, np.nan]]), 2)
    >>> int(n[0, 0]), float(m[0, 0]), float(v[0, 0])      # np.var([0, 2, 4]) = 8 / 3
    (3, 2.0, 2.6666666666666665)
    """
    va, _, valid, n, mean, _ = _count_mean(a, None, factor)
    with np.errstate(invalid="ignore", divide="ignore"):
        dev = np.where(valid, va - np.expand_dims(mean, _BLOCK_AXES), 0.0)
        var = (dev**2).sum(axis=_BLOCK_AXES) / n
    return n, mean, var


def crop_to_multiple(a: np.ndarray, factor: int) -> np.ndarray:
    """``a[..., :Y', :X']`` with ``Y'``, ``X'`` the largest multiples of ``factor`` (a view)."""
    return a[..., : a.shape[-2] // factor * factor, : a.shape[-1] // factor * factor]


def within_block_covariance(a: np.ndarray, b: np.ndarray, factor: int) -> float:
    """Mean over ``factor x factor`` blocks of the population covariance of ``a`` and ``b``.

    Each block uses the pixels valid in both; blocks with fewer than two such pixels are left
    out. Both fields are cropped to multiples of ``factor``. ``within_block_covariance(a, a, f)
    == within_block_variance(a, f)``.

    Examples
    --------
    >>> a = np.array([[0.0, 2.0], [0.0, 2.0]])
    >>> within_block_covariance(a, -a, 2)
    -1.0
    """
    a, b = crop_to_multiple(np.asarray(a), factor), crop_to_multiple(np.asarray(b), factor)
    va, vb, valid, n, ma, mb = _count_mean(a, b, factor)
    with np.errstate(invalid="ignore", divide="ignore"):
        da = va - np.expand_dims(ma, _BLOCK_AXES)
        db = vb - np.expand_dims(mb, _BLOCK_AXES)
        cov = np.where(valid, da * db, 0.0).sum(axis=_BLOCK_AXES) / n
    ok = n >= 2
    return float(np.mean(cov[ok])) if ok.any() else float("nan")


def within_block_variance(a: np.ndarray, factor: int) -> float:
    """Mean over ``factor x factor`` blocks of the population variance of their valid pixels.

    Blocks with fewer than two valid pixels are left out; ``a`` is cropped to multiples of
    ``factor``. For ``factor=2`` on a level-``s`` aggregate it is the variance lost at the step
    ``s -> 2s`` (what a factor-2 super-resolution step restores); the steps add up (law of total
    variance) to the variance over larger blocks, exactly for plain means, closely for
    radiometric ones (a radiometric parent is not the mean of its children).

    Examples
    --------
    >>> within_block_variance(np.array([[0.0, 2.0], [0.0, 2.0]]), 2)
    1.0
    """
    n, _, var = block_moments(crop_to_multiple(np.asarray(a), factor), factor)
    ok = n >= 2
    return float(np.mean(var[ok])) if ok.any() else float("nan")


def psf_sigma(factor: int, mtf_nyquist: float) -> float:
    """Gaussian PSF width (fine pixels) whose MTF at the coarse Nyquist frequency is ``mtf_nyquist``.

    The coarse Nyquist frequency is ``1 / (2 factor)`` cycles per fine pixel and a Gaussian of
    width sigma has ``MTF(nu) = exp(-2 pi^2 sigma^2 nu^2)``.
    """
    if not 0.0 < mtf_nyquist < 1.0:
        raise ValueError(f"mtf_nyquist must be in (0, 1), got {mtf_nyquist}")
    nu = 1.0 / (2.0 * factor)
    return float(np.sqrt(-np.log(mtf_nyquist) / (2.0 * np.pi**2 * nu**2)))


def _sigmas(sigma: float | tuple[float, float | np.ndarray] | np.ndarray, ny: int
            ) -> tuple[float, float | np.ndarray]:
    """``(sigma_y, sigma_x)`` in pixels from one width for both axes or a pair whose x width
    may be one number per row (``ny`` of them); refused when not finite and >= 0."""
    if isinstance(sigma, (tuple, list)) or np.ndim(sigma) == 1:
        if len(sigma) != 2:
            raise ValueError(f"sigma must be one width or (sigma_y, sigma_x), got {sigma!r}")
        sy, sx = sigma
    else:
        sy = sx = sigma
    sy, sx = float(sy), np.asarray(sx, dtype=np.float64)
    if sx.ndim and sx.shape != (ny,):
        raise ValueError(f"a per-row sigma_x holds one width per row ({ny}), got shape "
                         f"{sx.shape}")
    if not (np.isfinite(sy) and sy >= 0 and np.isfinite(sx).all() and (sx >= 0).all()):
        raise ValueError(f"sigma must be finite widths >= 0 in pixels, got {sigma!r}")
    return sy, (float(sx) if not sx.ndim else sx)


def _blur(a: np.ndarray, sigma: tuple[float, float | np.ndarray], mode: str) -> np.ndarray:
    """Gaussian filter of ``a`` (..., Y, X) over its last two axes, truncated at 4 sigma.

    A per-row ``sigma_x`` filters along y first, then each row along x with its own width:
    at row r that is exactly the 2-D Gaussian of widths ``(sigma_y, sigma_x[r])`` centred
    there (the sensor's PSF on the ground, seen on a lon/lat grid whose pixels narrow in
    metres along x with latitude)."""
    sy, sx = sigma
    if not np.ndim(sx):
        return ndimage.gaussian_filter(a, (0,) * (a.ndim - 2) + (sy, sx), mode=mode,
                                       truncate=4.0)
    out = (ndimage.gaussian_filter1d(a, sy, axis=-2, mode=mode, truncate=4.0) if sy > 0
           else np.array(a, dtype=np.float64, copy=True))
    for s in np.unique(sx):  # rows of one width together
        if s > 0:
            rows = np.flatnonzero(sx == s)
            out[..., rows, :] = ndimage.gaussian_filter1d(out[..., rows, :], s, axis=-1,
                                                          mode=mode, truncate=4.0)
    return out


def gaussian_psf(lst: np.ndarray, sigma: float | tuple[float, float | np.ndarray], *,
                 mode: str = "nearest") -> np.ndarray:
    """Blur LST with a Gaussian PSF in radiance (T^4) space, NaN-aware (normalised convolution).

    ``sigma`` in pixels, one for both axes or ``(sigma_y, sigma_x)``; ``sigma_x`` may be an
    array of one width per row (Y values): a lon/lat grid's pixels are narrower in metres
    along x, the more so the higher the latitude. Gaps stay gaps; valid pixels next to a gap
    are blurred with their valid neighbours only. ``lst`` in Kelvin: values <= 0 raise
    :class:`~xlstsr.errors.UnitsError`.

    Examples
    --------
    >>> t = np.array([[300.0, 300.0, 280.0, 280.0]] * 3)
    >>> rows = gaussian_psf(t, (0.0, np.array([0.0, 1.0, 2.0])))  # sharper in the north
    >>> bool(rows[0, 1] == 300.0 and 300.0 > rows[1, 1] > rows[2, 1])
    True
    """
    lst = np.asarray(lst)  # array-likes (lists) have no dtype to read
    _require_kelvin(lst, "gaussian_psf")
    t = lst.astype(np.float64, copy=False)
    valid = np.isfinite(t)
    sig = _sigmas(sigma, t.shape[-2])
    num = _blur(np.where(valid, t, 0.0) ** 4, sig, mode)
    den = _blur(valid.astype(np.float64), sig, mode)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (num / den) ** 0.25
    out[~valid] = np.nan
    return out.astype(lst.dtype if np.issubdtype(lst.dtype, np.floating) else np.float64)


def gaussian_psf_emitted(lst: np.ndarray, emissivity: np.ndarray,
                         sigma: float | tuple[float, float | np.ndarray], *,
                         mode: str = "nearest") -> tuple[np.ndarray, np.ndarray]:
    """What a sensor with a Gaussian PSF sees of a surface of emissivity ``emissivity``: the
    blurred emitted radiance ``G * (eps T^4)`` and the blurred emissivity ``G * eps``, as
    ``(T_seen, eps_seen)`` with ``eps_seen T_seen^4 = G * (eps T^4)`` (NaN-aware, as
    :func:`gaussian_psf`). Their emissivity-weighted box mean
    (:func:`radiometric_mean` with ``emissivity=eps_seen``) is ``box(G * eps T^4) / box(G *
    eps)``; blurring T^4 alone and weighting by the unblurred emissivity was 0.36 K off at a
    soil / water edge. ``sigma`` as in :func:`gaussian_psf` (a per-row ``sigma_x`` included);
    ``lst`` in Kelvin: values <= 0 raise :class:`~xlstsr.errors.UnitsError`.

    Examples
    --------
    >>> t = np.array([[300.0, 300.0, 280.0, 280.0]])
    >>> e = np.array([[0.95, 0.95, 0.99, 0.99]])
    >>> ts, es = gaussian_psf_emitted(t, e, 0.0)
    >>> bool(np.allclose(ts, t) and np.allclose(es, e))
    True
    """
    t = np.asarray(lst, dtype=np.float64)
    _require_kelvin(t, "gaussian_psf_emitted")
    e = np.broadcast_to(np.asarray(emissivity, dtype=np.float64), t.shape)
    valid = np.isfinite(t) & np.isfinite(e)
    sig = _sigmas(sigma, t.shape[-2])
    den = _blur(valid.astype(np.float64), sig, mode)
    rad = _blur(np.where(valid, e * t ** 4, 0.0), sig, mode)
    eps = _blur(np.where(valid, e, 0.0), sig, mode)
    with np.errstate(invalid="ignore", divide="ignore"):
        seen, eps_seen = (rad / eps) ** 0.25, eps / den
    seen[~valid] = np.nan
    eps_seen[~valid] = np.nan
    return seen, eps_seen


def conserve_radiometric(
    fine: np.ndarray, coarse: np.ndarray, factor: int, *, tol: float = 1e-6, max_iter: int = 4,
    fixed: np.ndarray | None = None,
) -> np.ndarray:
    """Scale each block in T^4 so that its radiometric mean equals the coarse value.

    ``(mean (k T^4))^(1/4) = k^(1/4) (mean T^4)^(1/4)``, so one multiplicative step per block in
    radiance space is exact; it is repeated (at most ``max_iter`` times) until the largest
    mismatch is below ``tol`` K, which only round-off needs. This is coarse consistency
    ("energy conservation"): ``radiometric_mean(out, factor) == coarse``. Blocks whose coarse value
    is NaN are left as they are; NaN fine pixels stay NaN and the block's valid pixels carry it.
    ``fixed`` (bool, like ``fine``) marks pixels kept as they are: the block's other pixels carry
    its radiance. A block whose free pixels are fewer than half its valid ones is scaled whole
    (a few free pixels would each take a multiple of the block's residual: one guided pixel left
    beside a masked lake came out 15 K above every input around it), as is a block of fixed
    pixels only or whose fixed pixels alone exceed its radiance.

    Parameters
    ----------
    fine : ndarray, (..., Y, X)
        Fine LST (K).
    coarse : ndarray, (..., Y/f, X/f)
        Target coarse LST (K): values <= 0 (Celsius) raise
        :class:`~xlstsr.errors.UnitsError`. ``fine`` values <= 0 are not refused here (their
        sign is lost in ``T^4``): upscale feeds it intermediate fields (a model's output, a
        detail rescaled by ``scale_correction``), whose implausible result its output check
        names with its cause.
    factor : int
        Ratio of the grids.

    Returns
    -------
    ndarray (float64)

    Examples
    --------
    >>> fine = np.array([[300.0, 302.0], [298.0, 301.0]])
    >>> out = conserve_radiometric(fine, np.array([[305.0]]), 2)
    >>> round(float(radiometric_mean(out, 2)[0, 0]), 6)
    305.0
    """
    t = np.array(fine, dtype=np.float64, copy=True)
    c = np.asarray(coarse, dtype=np.float64)
    _require_kelvin(c, "conserve_radiometric", "coarse")
    free = None
    if fixed is not None and np.any(fixed):
        free = ~np.asarray(fixed, dtype=bool) & np.isfinite(t)

    def up(k: np.ndarray) -> np.ndarray:
        return np.repeat(np.repeat(k, factor, axis=-2), factor, axis=-1)

    for _ in range(max_iter):
        agg = _radiometric_mean(t, factor, 1e-9, None).astype(np.float64)
        ok = np.isfinite(c) & np.isfinite(agg) & (agg > 0)
        err = np.where(ok, c - agg, 0.0)
        if np.max(np.abs(err), initial=0.0) < tol:
            break
        with np.errstate(invalid="ignore", divide="ignore"):
            k = np.where(ok, (c / np.where(ok, agg, 1.0)) ** 4, 1.0)
        if free is None:
            t = (t**4 * up(k)) ** 0.25
            continue
        # the free pixels' radiance takes the block's whole deficit: k_free = (n c^4 - S_fixed)
        # / S_free, with n c^4 = k (S_free + S_fixed)
        r4 = np.where(np.isfinite(t), t**4, 0.0)
        s_free = block_view(np.where(free, r4, 0.0), factor).sum(axis=(-3, -1))
        s_all = block_view(r4, factor).sum(axis=(-3, -1))
        n_free = block_view(free, factor).sum(axis=(-3, -1))
        n_valid = block_view(np.isfinite(t), factor).sum(axis=(-3, -1))
        with np.errstate(invalid="ignore", divide="ignore"):
            kf = (k * s_all - (s_all - s_free)) / s_free
        whole = ~(np.isfinite(kf) & (kf > 0) & (s_free > 0)) | (2 * n_free < n_valid)
        scale = np.where(up(whole), up(k), np.where(free, up(np.where(whole, 1.0, kf)), 1.0))
        t = (t**4 * scale) ** 0.25
    return t
