"""Power spectra of gappy images and the spectral ratio: the one definition behind every figure.

Every spectrum and every "spectral ratio" in xlstsr (``xlstsr.metrics``, ``xlstsr.evaluate``,
``xlstsr.scaling_stats``, the scale correction, the benchmarks) comes from this module.

The estimator (:func:`periodogram`), for one image ``(y, x)`` in which NaN marks gaps:

1. a **window** ``w``: a 2-D Hann window (``hanning(n + 2)[1:-1]``: no zero weight at the
   border), which tapers the non-periodic image edges (otherwise a cross of spurious power at
   high wavenumbers), zero on the gaps; with ``taper=L`` it also rises from 0 to 1 over the first
   ``L`` pixels away from every gap (a cosine ramp in the distance to the nearest gap: the mask
   is *apodised*, so a gap's rim is no step);
2. **plane detrending**: the plane fitted to the valid pixels by least squares weighted by ``w``
   is removed (a large-scale gradient is otherwise the strongest component and leaks through
   every discontinuity); gaps are set to the plane (zero anomaly);
3. ``|FFT|^2`` of the windowed anomaly, normalised by the **window energy over the valid
   pixels** (``sum w^2``) and multiplied by ``pixel_size^2``: a power spectral density whose
   mean over the Fourier coefficients is the (window-weighted) anomaly variance, whatever the gap
   fraction.

Radially averaged spectra (:func:`radial_power_spectrum`, used by ``scaling_stats``) average it
over annuli of wavenumber, without a gap taper by default: on fractional Brownian surfaces with
10-30 % cloud-like gaps the untapered estimate kept the spectral slope of the gap-free field within
0.04 for ``H <= 0.5`` (LST: ``H ~ 0.3-0.4``), while tapers of 8-16 pixels steepened it by
0.08-0.35 (each tapered patch adds a smooth pedestal of power at low wavenumbers); for ``H = 0.8``
every treatment errs by 0.3-0.7 (docs/results/spectral_gaps.md). That holds for gaps in
blobs, not for gaps scattered pixel by pixel (a speckled QC mask): each isolated zero-anomaly
pixel adds power at every wavenumber and whitens the spectrum (on a real 70 m ECOSTRESS crop
2 % of its pixels removed at random moved the slope from -3.12 to -2.95, 10 % to -2.42);
:func:`isolated_gap_share` measures such gaps, which ``scaling_stats`` warns about.

The **spectral ratio** (:func:`spectral_ratio`) compares the fine detail of a super-resolved
field with a reference's: the ratio of their spectral power summed over all wavenumbers above
half the coarse Nyquist frequency, ``|k| > 1 / (4 factor)`` cycles per fine pixel (the scales the
coarse input hardly resolves, which a super-resolution method must invent). 1: the right amount
of fine detail, < 1: too smooth, > 1: too much. Both fields are restricted to the pixels valid in
**both** (one mask, one window for numerator and denominator), cut to the bounding box of those
pixels, and windowed with a gap taper of ``L = 4 factor`` pixels (one wavelength of the
cut-off). Why the taper: a gap edge, whatever the fill, is a step in both fields whose power
spreads over every wavenumber; the two fields share their large scales (the coarse input), so
that spurious power is nearly the same in both and **pulls the ratio towards 1**. Measured on 20
held-out MODIS/ASTER pairs (bicubic, TsHARP and DMS at 1 km -> 250 m, random cloud blobs of 10 %
and 30 % imposed on the largest cloud-free rectangle, whose gap-free ratio is the reference;
``benchmarks/spectral_gaps.py``, docs/results/spectral_gaps.md): with gaps merely set to the
plane, bicubic's 0.26 read 0.30 and 0.35 (+13 %, +32 %); the apodised mask read 0.28 and 0.31
and kept TsHARP's and DMS's means within 3 %, with a mean per-image error over all cases of 7 %
(gaps at the plane 9 %, cutting to the largest gap-free rectangle 18 %: no gap edge, but a much
smaller area; these two were xlstsr's earlier estimators).

On a field and a copy scaled by ``c`` the ratio is ``c^2``; it ignores changes well below the
cut-off frequency (a plane, scales of the coarse grid's resolved structure), not those within a
few frequency bins of it: the taper spreads a change's power over neighbouring bins (a 5 K
sinusoid of 3 cycles on a 64-pixel field at factor 4, cut-off 4 cycles, moved the ratio from 1
to 2), so compare fields whose large scales agree (the coarse-consistent ones).

Examples
--------
>>> rng = np.random.default_rng(0)
>>> ref = rng.standard_normal((64, 64))
>>> round(float(spectral_ratio(0.5 * ref, ref, 4)), 12)
0.25
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .metrics import _pair, _per_slice

__all__ = [
    "gap_taper",
    "isolated_gap_share",
    "linear_wavenumber_edges",
    "log_wavenumber_edges",
    "periodogram",
    "radial_power_spectrum",
    "spectral_ratio",
]


def gap_taper(valid: np.ndarray, length: float) -> np.ndarray:
    """Weights rising from 0 on the gaps to 1 at ``length`` pixels from the nearest gap.

    A cosine ramp ``(1 - cos(pi min((d - 0.5) / length, 1))) / 2`` of the Euclidean distance
    ``d`` of each valid pixel to the nearest invalid one, 0 on the gaps: 1 everywhere when
    nothing is invalid, and with ``length`` 0 (no ramp) 1 on every valid pixel and 0 on the
    gaps (the image border is not a gap: the Hann window of :func:`periodogram` tapers it).

    Examples
    --------
    >>> v = np.ones((1, 9), bool); v[0, 0] = False
    >>> np.round(gap_taper(v, 4), 3).tolist()
    [[0.0, 0.038, 0.309, 0.691, 0.962, 1.0, 1.0, 1.0, 1.0]]
    >>> gap_taper(v, 0)[0, :4].tolist()  # no ramp: the gaps stay 0
    [0.0, 1.0, 1.0, 1.0]
    """
    valid = np.asarray(valid, dtype=bool)
    if length <= 0 or valid.all():
        return valid.astype(np.float64)
    d = ndimage.distance_transform_edt(valid)
    t = 0.5 * (1.0 - np.cos(np.pi * np.clip((d - 0.5) / length, 0.0, 1.0)))
    return np.where(valid, t, 0.0)


def isolated_gap_share(a: np.ndarray) -> np.ndarray:
    """Per image of ``a`` (..., y, x; NaN marks gaps), the isolated gaps as a share of the valid
    pixels: gap pixels with at least 3 of their 4 neighbours valid (outside the image counts as
    no neighbour), the pixel-scattered gaps that whiten :func:`periodogram`'s spectrum; NaN for
    an image without valid pixels.

    Examples
    --------
    >>> a = np.ones((1, 4, 4)); a[0, 1, 1] = np.nan; a[0, 3, :] = np.nan
    >>> isolated_gap_share(a).round(3).tolist()  # the one hole among 11 valid pixels
    [0.091]
    """
    v = np.isfinite(np.asarray(a))
    nb = np.zeros(v.shape, np.int8)
    nb[..., 1:, :] += v[..., :-1, :]
    nb[..., :-1, :] += v[..., 1:, :]
    nb[..., :, 1:] += v[..., :, :-1]
    nb[..., :, :-1] += v[..., :, 1:]
    iso = (~v & (nb >= 3)).sum(axis=(-2, -1))
    n = v.sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, iso / np.maximum(n, 1), np.nan)


def _windowed_anomaly(a: np.ndarray, window: bool, taper: float) -> tuple[np.ndarray, float]:
    """``w (a - plane)`` (0 on gaps) and the window energy ``sum w^2`` (see the module docstring)."""
    valid = np.isfinite(a)
    ny, nx = a.shape
    w = gap_taper(valid, taper)
    if window:
        w = w * np.outer(np.hanning(ny + 2)[1:-1], np.hanning(nx + 2)[1:-1])
    yy, xx = np.mgrid[0:ny, 0:nx]
    sw = w[valid]
    design = np.stack([np.ones(valid.sum()), yy[valid], xx[valid]], axis=1)
    coef, *_ = np.linalg.lstsq(design * sw[:, None], a[valid] * sw, rcond=None)
    r = np.where(valid, a - (coef[0] + coef[1] * yy + coef[2] * xx), 0.0)
    return r * w, float(np.sum(w**2))


def periodogram(
    a: np.ndarray, *, pixel_size: float = 1.0, window: bool = True, taper: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Power spectral density of a gappy 2-D field on the half-plane of ``rfft2`` coefficients.

    The field is windowed (Hann, zero on gaps, optionally tapered near gaps), detrended by the
    window-weighted plane and its gaps set to the plane; the power is normalised by the window
    energy over the valid pixels (see the module docstring).

    Parameters
    ----------
    a : ndarray, (y, x)
        The field (e.g. LST in K); NaN marks gaps.
    pixel_size : float
        Side of the (square) pixels, e.g. metres: wavenumbers are then in cycles per unit of it
        and the power in units of ``a``^2 times ``pixel_size``^2. One size along both axes:
        pixels that are not square are the caller's to refuse or resample
        (:func:`xlstsr.metrics.radial_power_spectrum` and ``scaling_stats`` refuse them).
    window : bool
        Apply the Hann window (False: no border taper).
    taper : float
        Length in pixels of the cosine ramp of the weights away from every gap (0: none; the
        spectral ratio uses ``4 factor``), see :func:`gap_taper`.

    Returns
    -------
    k : ndarray, (y, x // 2 + 1)
        Radial wavenumber ``|k|`` of each coefficient.
    power : ndarray, (y, x // 2 + 1)
        ``|FFT|^2 / window energy * pixel_size^2``.
    weight : ndarray, (y, x // 2 + 1)
        How many coefficients of the full ``fft2`` each one stands for (2 for the columns that
        have a conjugate twin, else 1): weighted sums over it equal sums over the full plane.

    Examples
    --------
    >>> a = np.random.default_rng(0).standard_normal((32, 32))
    >>> k, p, w = periodogram(a)
    >>> k.shape == p.shape == w.shape == (32, 17), float(w.sum()) == a.size
    (True, True)
    """
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"a power spectrum needs a 2-D (y, x) array, got shape {a.shape}")
    if not np.isfinite(a).any():
        raise ValueError("the field holds no finite value: its power spectrum is undefined")
    r, norm = _windowed_anomaly(a, window, taper)
    power = np.abs(np.fft.rfft2(r)) ** 2 / max(norm, 1e-300)
    if pixel_size != 1.0:
        power = power * pixel_size**2
    ky = np.fft.fftfreq(a.shape[0], d=pixel_size)[:, None]
    kx = np.fft.rfftfreq(a.shape[1], d=pixel_size)[None, :]
    k = np.broadcast_to(np.hypot(ky, kx), power.shape)
    weight = np.full(power.shape, 2.0)
    weight[:, 0] = 1.0
    if a.shape[1] % 2 == 0:
        weight[:, -1] = 1.0
    return k, power, weight


def log_wavenumber_edges(shape: tuple[int, int], nbins: int = 16) -> np.ndarray:
    """Logarithmic bin edges (cycles/pixel) from ``1 / min(shape)`` to the corner ``0.5 sqrt 2``.

    Examples
    --------
    >>> e = log_wavenumber_edges((64, 64), 4)
    >>> len(e), float(e[0])
    (5, 0.015625)
    """
    n = min(shape)
    return np.geomspace(1.0 / n, 0.5 * np.sqrt(2.0) + 1e-9, nbins + 1)


def linear_wavenumber_edges(shape: tuple[int, int]) -> np.ndarray:
    """Bin edges (cycles/pixel) of width ``1 / n`` centred on ``i / n``, ``i = 1 .. n // 2``.

    ``n = min(shape)``; the zero frequency and the corners beyond the Nyquist frequency of the
    shorter side are left out.

    Examples
    --------
    >>> (linear_wavenumber_edges((8, 10)) * 8).tolist()
    [0.5, 1.5, 2.5, 3.5, 4.5]
    """
    n = min(shape)
    return (np.arange(1, n // 2 + 2) - 0.5) / n


def radial_power_spectrum(
    a: np.ndarray,
    edges: np.ndarray | None = None,
    *,
    pixel_size: float = 1.0,
    window: bool = True,
    taper: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Azimuthally averaged :func:`periodogram` of a gappy 2-D field over wavenumber bins.

    Parameters
    ----------
    a : ndarray, (y, x)
        The field; NaN marks gaps.
    edges : ndarray, optional
        Bin edges in cycles per **pixel** (default :func:`linear_wavenumber_edges`; use
        :func:`log_wavenumber_edges` for power-law fits). The zero frequency is never counted.
    pixel_size : float
        Pixel size: the returned wavenumbers are in cycles per unit of it, the power in units of
        ``a``^2 times ``pixel_size``^2.
    window, taper
        As in :func:`periodogram`.

    Returns
    -------
    k : ndarray, (nbins,)
        Mean wavenumber of the coefficients in each bin (NaN where a bin is empty).
    power : ndarray, (nbins,)
        Mean power spectral density in each bin (NaN where empty).
    count : ndarray, (nbins,)
        Number of Fourier coefficients (of the full plane) in each bin: the weight of a bin in a
        fit.

    Examples
    --------
    >>> x = np.mgrid[0:64, 0:64][1]
    >>> k, p, n = radial_power_spectrum(300 + np.sin(2 * np.pi * 8 * x / 64))
    >>> round(float(k[np.argmax(p)] * 64))                # 8 cycles per image
    8
    """
    a = np.asarray(a, dtype=np.float64)
    k, power, weight = periodogram(a, window=window, taper=taper)
    edges = linear_wavenumber_edges(a.shape) if edges is None else np.asarray(edges, np.float64)
    sel = k > 0
    idx = np.digitize(k[sel], edges) - 1
    nb = len(edges) - 1
    inb = (idx >= 0) & (idx < nb)
    idx, pw, kw, ww = idx[inb], power[sel][inb], k[sel][inb], weight[sel][inb]
    psum = np.bincount(idx, weights=pw * ww, minlength=nb)
    ksum = np.bincount(idx, weights=kw * ww, minlength=nb)
    cnt = np.bincount(idx, weights=ww, minlength=nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        kmean, pmean = ksum / cnt, psum / cnt
    if pixel_size != 1.0:
        kmean, pmean = kmean / pixel_size, pmean * pixel_size**2
    return kmean, pmean, cnt


def _band_power(a: np.ndarray, k_cut: float, taper: float) -> float:
    k, power, weight = periodogram(a, taper=taper)
    high = k > k_cut
    return float(np.sum(power[high] * weight[high]))


def _spectral_ratio2d(a: np.ndarray, b: np.ndarray, factor: float) -> float:
    valid = np.isfinite(a) & np.isfinite(b)  # already pairwise (``_pair``)
    if valid.sum() < 16:
        return np.nan
    rows = np.flatnonzero(valid.any(axis=1))
    cols = np.flatnonzero(valid.any(axis=0))
    box = slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
    a, b = a[box], b[box]
    if min(a.shape) <= 2 * factor:
        return np.nan
    k_cut = 1.0 / (4.0 * factor)  # half the coarse Nyquist frequency 1 / (2 factor)
    den = _band_power(b, k_cut, 4.0 * factor)
    # a reference without detail (constant: only round-off left) has no ratio: sr's power over
    # round-off read 1.6e29, "hugely over-sharpened"
    noise = (1e-10 * float(np.nanmax(np.abs(b)))) ** 2 * b.size
    return _band_power(a, k_cut, 4.0 * factor) / den if den > noise else np.nan


def spectral_ratio(sr: np.ndarray, ref: np.ndarray, factor: int) -> np.ndarray | float:
    """Fine-detail power of ``sr`` relative to ``ref``: 1 = right amount, < 1 = too smooth.

    The ratio of the two fields' spectral power summed over ``|k| > 1 / (4 factor)`` cycles per
    pixel (half the coarse Nyquist frequency), on their pairwise-valid pixels (bounding box,
    Hann window, gaps apodised over ``4 factor`` pixels, window-weighted plane removed; see the
    module docstring for the estimator and why). Leading dims broadcast; one value per 2-D slice
    (a float for 2-D input), NaN with fewer than 16 pairwise-valid pixels or a valid bounding box
    of side ``2 factor`` or less.

    Parameters
    ----------
    sr, ref : ndarray, (..., y, x)
        The super-resolved field and the reference on the same grid; NaN marks gaps.
    factor : float
        Upscaling factor: the coarse pixel over the pixel of the grid the fields are on (not a
        whole number when that grid is not the upscaled one).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ref = 300 + rng.standard_normal((2, 64, 64))
    >>> spectral_ratio(ref, ref, 4).tolist()
    [1.0, 1.0]
    >>> round(float(spectral_ratio(300 + 2 * (ref[0] - 300), ref[0], 4)), 9)  # twice the detail
    4.0
    """
    a, b, _ = _pair(sr, ref)
    # a factor in the grid's own pixels may be fractional (a reference grid of other pixels)
    return _per_slice(lambda x, y: _spectral_ratio2d(x, y, float(factor)), a, b)
