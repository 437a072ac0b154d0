"""Sub-pixel co-registration of a fine field with a coarse LST, jointly with the sensor's PSF.

numpy only. The fine field (a reference LST, or a guide such as NDVI) is given on the grid
``factor`` times finer than the coarse LST and nested in it. For a candidate translation
``(dy, dx)`` (fine pixels, array axes) and Gaussian PSF width ``sigma`` (fine pixels), the fine
field is shifted, blurred and block-averaged onto the coarse grid — what the coarse sensor would
have seen — and compared with the coarse LST by a linear fit (any gain and sign: NDVI
anti-correlates with LST). The estimate minimises the unexplained variance ``1 - r^2``.

Gaps are handled by normalised convolution: the shift and blur act on the valid values and on
the valid indicator, and a coarse pixel counts only where at least ``min_weight`` of its
footprint was observed at every corner of the search (the widest PSF, the shift bound). Every
candidate is compared on that one set of coarse pixels: a set chosen again at each candidate
(the pixels with ``min_weight`` observed under that shift) changes with the shift wherever the
gaps are scattered (5 % of an NDVI's pixels masked at random: 1820 coarse pixels kept at no
shift, 2350 at half a pixel), and the fit then preferred the shifts that kept more pixels: an
aligned MODIS NDVI was found 0.5-0.8 pixel off with a tight uncertainty. Shift and blur are one multiplication in the Fourier domain, so a
sub-pixel shift costs two inverse FFTs; the field is zero-padded so nothing wraps around. On a
grid of shifts at one PSF width they are separable: one small matrix per axis and candidate.

Search: a grid of shifts (``step`` fine pixels, PSF at its starting value), then Nelder-Mead on
the continuous ``(dy, dx[, sigma])`` from the best grid point. The shift's uncertainty is the
Gauss-Newton one from the curvature of the objective at the optimum, inflated for the spatial
correlation of the residuals (coarse pixels are not independent samples).

Examples
--------
>>> rng = np.random.default_rng(0)
>>> from scipy import ndimage
>>> base = ndimage.gaussian_filter(rng.standard_normal((160, 160)), 3)
>>> truth_fine = 300 + 40 * base
>>> moved = ndimage.shift(truth_fine, (0.6, -0.4), order=3, mode="nearest")  # content moved
>>> coarse = moved.reshape(40, 4, 40, 4).mean(axis=(1, 3))
>>> est = estimate_shift(truth_fine, coarse, 4, psf=False)
>>> round(est.dy, 1), round(est.dx, 1)
(0.6, -0.4)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize

from .aggregate import block_view

__all__ = ["ConstantBorder", "ShiftEstimate", "compared_count", "compared_in", "constant_border",
           "estimate_shift", "forward_model", "misfit_surface", "smallest_window"]

_AXES = (-3, -1)


@dataclass(frozen=True)
class ShiftEstimate:
    """Result of :func:`estimate_shift` (fine pixels along the array axes).

    ``dy``, ``dx``: move the fine field's content by this many fine pixels (rows down, columns
    right) to align it with the coarse field. ``sigma``: Gaussian PSF width (fine pixels).
    ``r_before`` / ``r_after``: correlation of the coarse field with the aggregated fine field
    as given (box, no shift) and at the estimate. ``rmse_before`` / ``rmse_after``: RMS of the
    coarse field's residual after the linear fit (``bias_removed_*``: with unit gain, for a
    fine field in the coarse field's units). ``uncertainty``: standard error of the shift (fine
    pixels). ``n_valid``: coarse pixels compared. ``at_bound``: the optimum touches the search
    bound (the true shift may be beyond it). ``sigma_at_bound``: the estimated PSF width
    touches its upper bound (the true PSF may be wider; never with ``psf=False``). With fewer
    than 3 coarse pixels compared, or either field uniform over them, no shift is defined:
    ``dy``, ``dx``, ``sigma``, ``uncertainty`` and the ``*_after`` values are NaN.
    ``n_overlap``: coarse pixels valid in both fields (finite, ``min_weight`` of the footprint
    observed as given), of which the search margin (:func:`compared_count`) keeps the
    ``n_valid`` compared. ``n_effective``: the compared pixels as independent samples (their
    residuals' spatial correlation counted); ``n_params``: the parameters fitted (gain,
    offset, two shift components, the PSF width with ``psf``). With ``n_valid`` not above
    ``n_params`` the fit is exact whatever the shift: ``uncertainty`` is inf; with only
    ``n_effective`` not above it (residuals correlated along the field), one degree of
    freedom is counted: a large, finite ``uncertainty``.
    """

    dy: float
    dx: float
    sigma: float
    r_before: float
    r_after: float
    rmse_before: float
    rmse_after: float
    bias_removed_before: float
    bias_removed_after: float
    uncertainty: float
    n_valid: int
    at_bound: bool
    sigma_at_bound: bool = False
    n_overlap: int = -1
    n_effective: float = np.nan
    n_params: int = 0


class _Forward:
    """Shift + Gaussian blur + block mean of a gappy fine field, in the Fourier domain."""

    def __init__(self, fine: np.ndarray, factor: int, pad: int, radiometric: bool) -> None:
        fine = np.asarray(fine, dtype=np.float64)
        self.factor, self.pad, self.radiometric = int(factor), int(pad), bool(radiometric)
        valid = np.isfinite(fine)
        self.scale = float(np.nanmean(np.abs(fine))) if valid.any() else 1.0
        vals = np.where(valid, fine / self.scale, 0.0)
        if radiometric:  # LST aggregates through radiance: average T^4
            vals = vals**4
        p = self.pad
        shape = (fine.shape[0] + 2 * p, fine.shape[1] + 2 * p)
        self.shape = shape
        num = np.zeros(shape)
        den = np.zeros(shape)
        num[p : p + fine.shape[0], p : p + fine.shape[1]] = vals
        den[p : p + fine.shape[0], p : p + fine.shape[1]] = valid
        # unpadded, for the separable grid (zero in the padding, which it therefore skips)
        self.vals, self.valid = vals, valid.astype(np.float64)
        self.fnum = np.fft.rfft2(num)
        self.fden = np.fft.rfft2(den)
        ky = np.fft.fftfreq(shape[0])[:, None]
        kx = np.fft.rfftfreq(shape[1])[None, :]
        self.ky, self.kx, self.k2 = ky, kx, ky**2 + kx**2
        self._blur: dict[float, np.ndarray] = {}
        self.fine_shape = fine.shape
        # with the padded rows a multiple of the factor, the crop at row ``p`` and the block
        # mean along y are one factor per row frequency (a shift by p, a box of f) and a fold
        # of the spectrum onto the coarse rows: the inverse FFT runs on f times fewer rows (the
        # same values to round-off); else (2 p not a multiple of f) the whole field, as for
        # sides that are not whole blocks (block_view names those)
        whole = fine.shape[0] % self.factor == 0 and fine.shape[1] % self.factor == 0
        self._row_fold = (np.exp(2j * np.pi * ky * p)
                          * np.exp(2j * np.pi * ky * np.arange(self.factor)).mean(axis=1,
                                                                                 keepdims=True)
                          if whole and shape[0] % self.factor == 0 else None)

    def __call__(self, dy: float, dx: float, sigma: float) -> tuple[np.ndarray, np.ndarray]:
        """(coarse prediction, weight): the field a sensor with PSF ``sigma`` would see after the
        content moved by ``(dy, dx)``; weight = observed fraction of each footprint."""
        # the shift is separable (two 1-D phase ramps); the blur depends on sigma only (cached)
        blur = self._blur.get(sigma)
        if blur is None:
            blur = self._blur[sigma] = np.exp(-2 * np.pi**2 * sigma**2 * self.k2)
            if len(self._blur) > 8:
                self._blur.pop(next(iter(self._blur)))
        p, (ny, nx), f = self.pad, self.fine_shape, self.factor
        if self._row_fold is None:
            h = np.exp(-2j * np.pi * self.ky * dy) * (np.exp(-2j * np.pi * self.kx * dx) * blur)
            num = np.fft.irfft2(self.fnum * h, s=self.shape)
            den = np.fft.irfft2(self.fden * h, s=self.shape)
            num, den = num[p : p + ny, p : p + nx], den[p : p + ny, p : p + nx]
            bn = block_view(num, f).mean(axis=_AXES)
            bd = block_view(den, f).mean(axis=_AXES)
        else:  # irfft2 is the inverse FFT along y, then along x: y's done on the folded rows
            h = (np.exp(-2j * np.pi * self.ky * dy) * self._row_fold) * (
                np.exp(-2j * np.pi * self.kx * dx) * blur)
            rows = self.shape[0] // f

            def coarse_rows(spectrum: np.ndarray) -> np.ndarray:
                folded = (spectrum * h).reshape(f, rows, -1).sum(axis=0)
                out = np.fft.ifft(folded, axis=0)[: ny // f] / f
                out = np.fft.irfft(out, n=self.shape[1], axis=1)[:, p : p + nx]
                return out.reshape(ny // f, nx // f, f).mean(axis=-1)

            bn, bd = coarse_rows(self.fnum), coarse_rows(self.fden)
        with np.errstate(invalid="ignore", divide="ignore"):
            pred = bn / bd
        if self.radiometric:
            pred = np.sign(pred) * np.abs(pred) ** 0.25
        return pred * self.scale, bd

    def surface(self, dys: np.ndarray, dxs: np.ndarray, sigma: float, target: np.ndarray,
                min_weight: float) -> np.ndarray:
        """``1 - r^2`` of ``target`` against the prediction at every shift of ``dys`` x ``dxs``
        and PSF width ``sigma``, as :meth:`__call__` + :func:`_fit` each would give
        (``min_weight``: the observed fraction below which a candidate's prediction is NaN;
        :func:`estimate_shift` passes :data:`_MIN_SEEN` or a lower ``min_weight``, its
        compared set fixed beforehand).

        Shift, Gaussian blur and block mean are separable: per axis and candidate they are one
        small matrix (:func:`_axis_operators`), so a whole row of candidates costs a few matrix
        products where each candidate cost two inverse FFTs of the padded field: whole
        estimates on the 35 MODIS/ASTER evaluation pairs took 2.1x less wall time with the
        default grid, 5.1x with the finest (``benchmarks/coregistration.py``), the same shifts.
        Memory does not grow with the number of candidates: the ``dxs`` go in blocks whose
        arrays hold at most :data:`_SURFACE_BLOCK` values, and their operators are kept for the
        whole grid only while they hold at most 4 times that (else made again per block).
        """
        p, (ny, nx), f = self.pad, self.fine_shape, self.factor
        dys, dxs = np.atleast_1d(dys), np.atleast_1d(dxs)
        size = max(1, _SURFACE_BLOCK // max(nx * nx // f, (ny // f) * (nx // f) * 4))
        keep = len(dxs) * nx * (nx // f) <= 4 * _SURFACE_BLOCK
        ax_all = _axis_operators(nx, p, f, dxs, sigma).transpose(0, 2, 1) if keep else None
        out = np.empty((len(dys), len(dxs)))
        for i, dy in enumerate(dys):
            ay = _axis_operators(ny, p, f, dy[None], sigma)[0]  # (ny / f, ny)
            yv, yd = ay @ self.vals, ay @ self.valid  # (ny / f, nx): shifted along y, once
            for b in range(0, len(dxs), size):
                ax_t = (ax_all[b : b + size] if keep else  # (block, nx, nx / f)
                        _axis_operators(nx, p, f, dxs[b : b + size], sigma).transpose(0, 2, 1))
                bn, bd = yv @ ax_t, yd @ ax_t  # (block, ny / f, nx / f): block means per dx
                with np.errstate(invalid="ignore", divide="ignore"):
                    pred = bn / bd
                if self.radiometric:
                    pred = np.sign(pred) * np.abs(pred) ** 0.25
                pred = np.where(bd >= min_weight, pred * self.scale, np.nan)
                out[i, b : b + size] = _fit_many(pred, target)
        return out


#: values (float64) of the largest array :meth:`_Forward.surface` makes per block of candidates
_SURFACE_BLOCK = 2**21

#: within the coarse pixels compared (chosen once, with ``min_weight`` at the search's corners),
#: a candidate's prediction is dropped only where less than this (or ``min_weight``, if lower)
#: of its footprint is observed: a safety net that the choice of the set keeps from acting (the
#: set the same at every shift; with a threshold above ``min_weight`` it dropped pixels of the
#: set at some shifts, and the compared sample moved with the shift again)
_MIN_SEEN = 0.5


def _axis_operators(n: int, pad: int, factor: int, shifts: np.ndarray,
                    sigma: float) -> np.ndarray:
    """``(len(shifts), n // factor, n)``: along one axis of :class:`_Forward`'s field, the shift
    by each of ``shifts`` and the Gaussian blur (circular on the axis padded by ``pad`` each
    side, as its FFT), then the block mean, each as a matrix on the unpadded values (the
    padding is zero)."""
    size = n + 2 * pad
    k = np.fft.rfftfreq(size)
    shifts = np.asarray(shifts, dtype=np.float64)
    # impulse responses of the shift + blur, one per candidate
    h = np.fft.irfft(np.exp(-2j * np.pi * np.outer(shifts, k) - 2 * np.pi**2 * sigma**2 * k**2),
                     n=size, axis=1)
    idx = (np.arange(n)[:, None] - np.arange(n)[None, :]) % size  # output row <- input column
    out = np.empty((len(shifts), n // factor, n))
    for g in range(len(shifts)):  # one candidate at a time: (n, n) each, not all at once
        out[g] = h[g][idx].reshape(n // factor, factor, n).mean(axis=1)
    return out


def forward_model(
    fine: np.ndarray,
    factor: int,
    dy: float = 0.0,
    dx: float = 0.0,
    sigma: float = 0.0,
    *,
    radiometric: bool = False,
    min_weight: float = 0.95,
) -> np.ndarray:
    """What a coarse sensor sees of ``fine`` moved by ``(dy, dx)`` fine pixels and blurred by a
    Gaussian PSF of ``sigma`` fine pixels: the block mean (radiometric: of T^4) onto the grid
    ``factor`` times coarser, NaN where less than ``min_weight`` of the footprint is observed.

    Examples
    --------
    >>> a = np.arange(64.0).reshape(8, 8)
    >>> np.allclose(forward_model(a, 4), a.reshape(2, 4, 2, 4).mean(axis=(1, 3)))
    True
    """
    fine = np.asarray(fine, dtype=np.float64)
    if fine.ndim != 2 or fine.shape[0] % factor or fine.shape[1] % factor:
        raise ValueError(f"fine must be 2-D with sides multiple of {factor}, got {fine.shape}")
    pad = int(np.ceil(abs(dy) + abs(dx) + 4 * sigma)) + 2
    pred, w = _Forward(fine, factor, pad, radiometric)(dy, dx, sigma)
    return np.where(w >= min_weight, pred, np.nan)


def _fit(pred: np.ndarray, coarse: np.ndarray) -> tuple[float, float, float, int]:
    """(1 - r^2, r, residual RMS after the linear fit, n) over pixels finite in both."""
    ok = np.isfinite(pred) & np.isfinite(coarse)
    n = int(ok.sum())
    if n < 3:
        return 1.0, 0.0, np.nan, n
    p, c = pred[ok], coarse[ok]
    p, c = p - p.mean(), c - c.mean()
    sp, sc = float(np.sqrt((p * p).mean())), float(np.sqrt((c * c).mean()))
    if sp == 0 or sc == 0:
        return 1.0, 0.0, sc, n
    # within [-1, 1]: a perfect match rounds to 1.0000000000000002, and 1 - r^2 < 0 made the
    # shift's uncertainty NaN (its square root) and the estimate refused as "too flat"
    r = float(np.clip((p * c).mean() / (sp * sc), -1.0, 1.0))
    return 1.0 - r * r, r, sc * np.sqrt(1.0 - r * r), n


def _fit_many(pred: np.ndarray, coarse: np.ndarray) -> np.ndarray:
    """``1 - r^2`` of each ``pred[g]`` against ``coarse`` (as :func:`_fit`, vectorised)."""
    ok = np.isfinite(pred) & np.isfinite(coarse)
    n = ok.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(ok, pred, 0.0)
        c = np.where(ok, coarse, 0.0)
        p = np.where(ok, p - (p.sum(axis=(1, 2)) / n)[:, None, None], 0.0)
        c = np.where(ok, c - (c.sum(axis=(1, 2)) / n)[:, None, None], 0.0)
        sp = np.sqrt((p * p).sum(axis=(1, 2)) / n)
        sc = np.sqrt((c * c).sum(axis=(1, 2)) / n)
        r = np.clip((p * c).sum(axis=(1, 2)) / n / (sp * sc), -1.0, 1.0)  # as :func:`_fit`
    return np.where((n < 3) | (sp == 0) | (sc == 0), 1.0, 1.0 - r * r)


def _no_texture(a: np.ndarray) -> bool:
    """Fewer than 3 finite values, or all of them equal (to round-off): nothing to align."""
    v = a[np.isfinite(a)]
    if v.size < 3:
        return True
    return bool(np.ptp(v) <= 1e-9 * max(float(np.abs(v).max()), 1e-300))


def _bias_removed(pred: np.ndarray, coarse: np.ndarray) -> float:
    ok = np.isfinite(pred) & np.isfinite(coarse)
    if not ok.any():
        return np.nan
    d = coarse[ok] - pred[ok]
    return float(np.sqrt(((d - d.mean()) ** 2).mean()))


def _lag1_correlation(res: np.ndarray) -> float:
    """Mean lag-1 autocorrelation of a gappy 2-D residual along both axes (0 if undefined)."""
    vals = []
    for a, b in ((res[1:, :], res[:-1, :]), (res[:, 1:], res[:, :-1])):
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.sum() > 10:
            x, y = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
            d = np.sqrt((x * x).sum() * (y * y).sum())
            if d > 0:
                vals.append(float((x * y).sum() / d))
    return float(np.clip(np.mean(vals), 0.0, 0.95)) if vals else 0.0


#: coarse pixels compared below which ``psf=False`` compares the pixels its own PSF allows
#: rather than the widest PSF's (twice :func:`xlstsr.estimate_offset`'s ``min_pixels``)
FEW_COMPARED = 60


def _search_widths(f: int, psf: bool, sigma: float | None, max_sigma: float | None,
                   max_shift: float) -> tuple[float, float, float, int]:
    """(upper bound of the PSF width, its start or fixed value, the widest blur a candidate
    gets, the zero padding) of :func:`estimate_shift` (fine pixels)."""
    smax = float(0.75 * f if max_sigma is None else max_sigma)
    if psf and not smax >= 0:
        # else refused below as a default sigma the user never gave
        raise ValueError(f"max_sigma must be >= 0 fine pixels (the widest PSF searched), "
                         f"got {smax:g}")
    # the default start is kept within the bound (docstring): a sharp sensor's max_sigma below
    # 0.4 f was refused as a sigma the user never gave
    s0 = float((min(0.4 * f, smax) if psf else 0.0) if sigma is None else sigma)
    # a given PSF was clipped to the bound without a word (1000 m held as 695 m at 1 km)
    if not s0 >= 0 or (psf and s0 > smax):
        raise ValueError(f"sigma must be >= 0{f' and <= max_sigma ({smax:g})' if psf else ''} "
                         f"fine pixels, got {s0:g}")
    # the widest blur any candidate gets: the padding and the pixels compared allow for it
    swide = smax if psf else max(smax, s0)
    return smax, s0, swide, int(np.ceil(max_shift + 4 * swide)) + 2


def _edge_margin(max_shift: float, f: int) -> int:
    """Coarse pixels each side that ``psf=False`` leaves out of a field with few compared: those
    within the shift bound of its edge, plus one."""
    return int(np.ceil(max_shift / f)) + 1


def _axis_weights(n: int, pad: int, f: int, shift: float, sigma: float) -> np.ndarray:
    """Observed fraction of each coarse pixel's footprint along an axis of ``n`` fine pixels,
    all valid, moved by ``shift`` and blurred by ``sigma`` as :class:`_Forward` does (the 2-D
    fraction of a field valid everywhere is the product of its two axes')."""
    size = n + 2 * pad
    ind = np.zeros(size)
    ind[pad : pad + n] = 1.0
    k = np.fft.rfftfreq(size)
    h = np.exp(-2j * np.pi * k * shift - 2 * np.pi**2 * sigma**2 * k**2)
    return np.fft.irfft(np.fft.rfft(ind) * h, n=size)[pad : pad + n].reshape(-1, f).mean(axis=1)


def compared_count(
    shape: tuple[int, int],
    factor: int,
    *,
    psf: bool = True,
    sigma: float | None = None,
    max_shift: float = 2.0,
    max_sigma: float | None = None,
    min_weight: float = 0.95,
) -> int:
    """Coarse pixels :func:`estimate_shift` compares (``n_valid``) of a fine field of ``shape``
    valid everywhere, with the same arguments: those whose footprint stays observed (at least
    ``min_weight`` of it) within the field at every corner of the search (the shift bound,
    the widest PSF). The others, along the field's edge, are the search margin: 2 coarse
    pixels each side with :func:`xlstsr.estimate_offset`'s defaults.

    Examples
    --------
    >>> compared_count((40, 40), 4)  # 10 x 10 coarse pixels, 2 each side left out
    36
    """
    f = int(factor)
    ny, nx = (int(v) // f * f for v in shape)
    if ny < f or nx < f:
        return 0
    _, s0, swide, pad = _search_widths(f, psf, sigma, max_sigma, max_shift)

    def count(s: float, m: int = 0) -> int:
        keep = np.ones((ny // f, nx // f), dtype=bool)
        wy, wx = ([_axis_weights(n, pad, f, d, s) for d in (-max_shift, max_shift)]
                  for n in (ny, nx))
        for a in wy:  # every corner (dy, dx) of the search: the product of the axes' fractions
            for b in wx:
                keep &= np.outer(a, b) >= min_weight
        if m:
            keep[:m], keep[keep.shape[0] - m :], keep[:, :m], keep[:, keep.shape[1] - m :] = (
                False, False, False, False)
        return int(keep.sum())

    n = count(swide)
    if not psf and n < FEW_COMPARED:  # as estimate_shift: the margin of the PSF held
        n = count(s0, _edge_margin(max_shift, f))
    return n


def _compared_mask(fwd: _Forward, valid: np.ndarray, f: int, psf: bool, s0: float,
                   swide: float, max_shift: float, min_weight: float) -> np.ndarray:
    """The coarse pixels :func:`estimate_shift` compares, ``valid`` in the coarse field
    (before ``& valid``): those observed (``min_weight``) for every candidate within the bound,
    fixed so that objectives at different shifts are over the same sample."""

    def compared(sigma: float) -> np.ndarray:
        ok = np.ones(valid.shape, dtype=bool)
        for dy in (-max_shift, max_shift):
            for dx in (-max_shift, max_shift):
                _, w = fwd(dy, dx, sigma)
                ok &= w >= min_weight
        return ok

    base_w = compared(swide)
    if not psf and int((base_w & valid).sum()) < FEW_COMPARED:
        # the PSF held at s0: the widest PSF's margin around every gap (a search that does
        # not run) left none compared where every other 1120 m column is cloudy; then the
        # pixels valid at s0 are compared, but for the field's outermost ones within the
        # shift bound, plus one (a box shift rings at the zero padding: comparing them moved
        # psf=False estimates on clear MODIS/ASTER pairs to the search bound). Fields with
        # enough pixels keep the wide margin (their estimates unchanged)
        m = _edge_margin(max_shift, f)
        edge = np.zeros(valid.shape, dtype=bool)
        edge[m : valid.shape[0] - m, m : valid.shape[1] - m] = True
        base_w = compared(s0) & edge
    return base_w


def compared_in(
    fine: np.ndarray,
    coarse: np.ndarray,
    factor: int,
    *,
    psf: bool = True,
    sigma: float | None = None,
    max_shift: float = 2.0,
    max_sigma: float | None = None,
    min_weight: float = 0.95,
) -> int:
    """Coarse pixels :func:`estimate_shift` compares (``n_valid``) of these fields, gaps and
    footprint as they are, with the same arguments, without the search (:func:`compared_count`
    of a field valid everywhere)."""
    fine = np.asarray(fine, dtype=np.float64)
    valid = np.isfinite(np.asarray(coarse, dtype=np.float64))
    f = int(factor)
    _, s0, swide, pad = _search_widths(f, psf, sigma, max_sigma, max_shift)
    fwd = _Forward(np.where(np.isfinite(fine), 1.0, np.nan), f, pad, False)
    return int((_compared_mask(fwd, valid, f, psf, s0, swide, max_shift, min_weight)
                & valid).sum())


def smallest_window(factor: int, min_pixels: int, *, limit: int = 1000,
                    **kwargs: Any) -> int | None:
    """The side (coarse pixels) of the smallest square fine field, valid everywhere, of which
    :func:`estimate_shift` compares at least ``min_pixels`` (:func:`compared_count` with
    ``kwargs``); None beyond ``limit``.

    Examples
    --------
    >>> smallest_window(4, 30)  # 6 x 6 compared of 10 x 10
    10
    """
    side = max(2, int(np.ceil(np.sqrt(min_pixels))))
    while side <= limit:
        if compared_count((side * factor, side * factor), factor, **kwargs) >= min_pixels:
            return side
        side += 1
    return None


def estimate_shift(
    fine: np.ndarray,
    coarse: np.ndarray,
    factor: int,
    *,
    psf: bool = True,
    sigma: float | None = None,
    max_shift: float = 2.0,
    step: float = 0.25,
    max_sigma: float | None = None,
    radiometric: bool = False,
    min_weight: float = 0.95,
    xtol: float = 0.01,
) -> ShiftEstimate:
    """Translation (and PSF width) that best aligns a fine field with a coarse one.

    Parameters
    ----------
    fine : ndarray (Y, X)
        The fine field on the grid ``factor`` times finer than ``coarse`` and nested in it; NaN
        gaps.
    coarse : ndarray (Y / factor, X / factor)
        The coarse field (LST); NaN gaps.
    factor : int
        Ratio of the pixel sizes.
    psf : bool
        Estimate the Gaussian PSF width jointly (else it is held at ``sigma``).
    sigma : float, optional
        PSF width (fine pixels): the starting value with ``psf=True`` (default ``0.4 * factor``,
        the MODIS value; at most ``max_sigma``), the fixed value otherwise (default 0, a box;
        used as given).
    max_shift : float
        Search bound on each shift component (fine pixels).
    step : float
        Grid-search step (fine pixels) before the continuous refinement.
    max_sigma : float, optional
        Upper bound of the estimated PSF width (default ``0.75 * factor``); an estimate at it
        sets ``sigma_at_bound``. Not used with ``psf=False``.
    radiometric : bool
        Aggregate ``T^4`` (a fine LST in Kelvin) rather than the values (a guide).
    min_weight : float
        Observed fraction of a coarse footprint, at every corner of the search (shift bound,
        widest PSF), for the pixel to count; the pixels that count are compared at every
        candidate.
    xtol : float
        Tolerance of the refinement (fine pixels).

    Returns
    -------
    ShiftEstimate
    """
    fine = np.asarray(fine, dtype=np.float64)
    coarse = np.asarray(coarse, dtype=np.float64)
    f = int(factor)
    if fine.ndim != 2 or coarse.ndim != 2:
        raise ValueError("fine and coarse must be 2-D")
    if fine.shape != (coarse.shape[0] * f, coarse.shape[1] * f):
        raise ValueError(
            f"the fine field {fine.shape} is not the coarse field {coarse.shape} times {f}"
        )
    smax, s0, swide, pad = _search_widths(f, psf, sigma, max_sigma, max_shift)
    fwd = _Forward(fine, f, pad, radiometric)
    min_seen = min(min_weight, _MIN_SEEN)

    def predict(dy: float, dx: float, s: float) -> np.ndarray:
        # no min_weight here: the pixels compared are chosen once, below (target), the same
        # for every candidate; a per-candidate choice moved the optimum (see the module doc)
        pred, w = fwd(dy, dx, s)
        return np.where(w >= min_seen, pred, np.nan)

    base_w = _compared_mask(fwd, np.isfinite(coarse), f, psf, s0, swide, max_shift, min_weight)
    target = np.where(base_w & np.isfinite(coarse), coarse, np.nan)
    # valid in both fields as given: what the search margin left out is told apart from gaps
    raw0, w0 = fwd(0.0, 0.0, 0.0)
    n_overlap = int(((w0 >= min_weight) & np.isfinite(coarse)).sum())
    pred0 = np.where(w0 >= min_seen, raw0, np.nan)  # as predict(0, 0, 0)

    def objective(dy: float, dx: float, s: float) -> float:
        return _fit(predict(dy, dx, s), target)[0]

    if _no_texture(target) or _no_texture(fine):
        # 1 - r^2 is 1 at every candidate (no pixel to compare, or one field uniform): its
        # "minimum" was the first corner of the search, reported as a shift of max_shift
        _, r0, rm0, n = _fit(pred0, target)
        return ShiftEstimate(
            dy=np.nan, dx=np.nan, sigma=np.nan, r_before=r0, r_after=np.nan, rmse_before=rm0,
            rmse_after=np.nan, bias_removed_before=_bias_removed(pred0, target),
            bias_removed_after=np.nan, uncertainty=np.nan, n_valid=n, at_bound=False,
            n_overlap=n_overlap, n_params=4 + int(psf),
        )

    grid = np.arange(-max_shift, max_shift + 1e-9, step)
    surface = fwd.surface(grid, grid, s0, target, min_seen)
    # the first of equal minima, as a strict-less scan; NaN (overflow) never chosen
    iy, ix = np.unravel_index(np.argmin(np.where(np.isnan(surface), np.inf, surface)),
                              surface.shape)
    x0 = [float(grid[iy]), float(grid[ix])] + ([s0] if psf else [])

    def penalised(x: np.ndarray) -> float:
        dy, dx = float(x[0]), float(x[1])
        s = float(x[2]) if psf else s0
        out = max(abs(dy) - max_shift, abs(dx) - max_shift, -s, s - smax, 0.0)
        return objective(dy, dx, min(max(s, 0.0), smax)) + 10.0 * out

    simplex = np.array([x0, *[np.array(x0) + step * e for e in np.eye(len(x0))]])
    res = optimize.minimize(
        penalised, x0, method="Nelder-Mead",
        options={"xatol": xtol, "fatol": 1e-10, "initial_simplex": simplex, "maxiter": 400},
    )
    dy, dx = float(res.x[0]), float(res.x[1])
    s = min(max(float(res.x[2]), 0.0), smax) if psf else s0
    dy, dx = float(np.clip(dy, -max_shift, max_shift)), float(np.clip(dx, -max_shift, max_shift))

    pred1 = predict(dy, dx, s)
    _, r0, rm0, _ = _fit(pred0, target)
    j1, r1, rm1, n = _fit(pred1, target)
    # Gauss-Newton standard error of the shift from the curvature of J = 1 - r^2 (the sum of
    # squared residuals is n var J), inflated by the residuals' spatial correlation
    h = 0.25
    curv = []
    for ey, ex in ((1, 0), (0, 1)):
        jp = objective(dy + h * ey, dx + h * ex, s)
        jm = objective(dy - h * ey, dx - h * ex, s)
        curv.append((jp + jm - 2 * j1) / h**2)
    c = min(curv)
    ok = np.isfinite(pred1) & np.isfinite(target)
    resid = np.full(target.shape, np.nan)
    if ok.sum() > 3:
        pp, tt = pred1[ok] - pred1[ok].mean(), target[ok] - target[ok].mean()
        var = float((pp * pp).sum())
        resid[ok] = tt - (float((pp * tt).sum()) / var if var > 0 else 0.0) * pp
    rho = _lag1_correlation(resid)
    n_eff = n * (1 - rho) / (1 + rho)
    # the free parameters: the linear fit's gain and offset, the two shift components and the
    # PSF width when estimated. With no more pixels compared than those the fit is exact
    # whatever the shift, and its standard error is not defined (3 of them counted, clamped
    # to one degree of freedom: 4 LST pixels gave shifts 100-400 m off, within 0.01 m,
    # marked reliable). Only then: with few *independent* pixels (residuals correlated along
    # a smooth radiometric tilt, lag-1 clipped at 0.95: n / 39) clear 16 x 16 windows that fit
    # to r = 0.999 at the right shift got inf; there one degree of freedom is counted, a
    # large finite uncertainty (the max_shift_uncertainty check judges it)
    k = 4 + int(psf)
    dof = max(n_eff - k, 1.0)
    unc = float(np.sqrt(2.0 * j1 / (dof * c))) if c > 0 and n > k else np.inf
    # the refinement is continuous: an optimum pinned at the bound lies within about xtol of
    # it, whatever the grid step (half a coarse step, 125 m, flagged estimates 100 m inside)
    margin = max(xtol, 0.02 * max_shift)
    return ShiftEstimate(
        dy=dy, dx=dx, sigma=s,
        r_before=r0, r_after=r1, rmse_before=rm0, rmse_after=rm1,
        bias_removed_before=_bias_removed(pred0, target),
        bias_removed_after=_bias_removed(pred1, target),
        uncertainty=unc, n_valid=n,
        at_bound=max(abs(dy), abs(dx)) > max_shift - margin,
        # pinned at the bound, the PSF was fitted to the bound, not to the data (the shift
        # fitted with it is off too)
        sigma_at_bound=bool(psf and s > smax - max(xtol, 0.02 * smax)),
        n_overlap=n_overlap, n_effective=float(n_eff), n_params=k,
    )


def misfit_surface(
    fine: np.ndarray,
    coarse: np.ndarray,
    factor: int,
    dys: np.ndarray,
    dxs: np.ndarray,
    sigma: float = 0.0,
    *,
    radiometric: bool = False,
    min_weight: float = 0.95,
) -> np.ndarray:
    """Unexplained variance ``1 - r^2`` of the coarse field for every shift ``(dy, dx)`` in
    ``dys`` x ``dxs`` (fine pixels, array axes) at PSF width ``sigma``: the surface whose
    minimum :func:`estimate_shift` finds (for figures and diagnostics).

    Examples
    --------
    >>> a = np.random.default_rng(0).standard_normal((64, 64))
    >>> from scipy import ndimage
    >>> a = ndimage.gaussian_filter(a, 2)
    >>> c = forward_model(a, 4, 0.5, 0.0)
    >>> j = misfit_surface(a, c, 4, np.array([-0.5, 0.0, 0.5]), np.array([-0.5, 0.0, 0.5]))
    >>> np.unravel_index(np.argmin(j), j.shape)
    (np.int64(2), np.int64(1))
    """
    dys, dxs = np.asarray(dys, dtype=np.float64), np.asarray(dxs, dtype=np.float64)
    pad = int(np.ceil(np.abs(dys).max() + np.abs(dxs).max() + 4 * sigma)) + 2
    fwd = _Forward(np.asarray(fine, np.float64), factor, pad, radiometric)
    base = np.ones(np.shape(coarse), dtype=bool)
    for dy in (dys.min(), dys.max()):
        for dx in (dxs.min(), dxs.max()):
            base &= fwd(dy, dx, sigma)[1] >= min_weight
    target = np.where(base, np.asarray(coarse, np.float64), np.nan)
    return fwd.surface(dys, dxs, sigma, target, min(min_weight, _MIN_SEEN))


#: the fewest whole edge rows / columns of one exact value that make a constant border band,
#: and the fewest pixels (each side at least 2) of a constant block at a corner: a warp without
#: a nodata value (gdalwarp without -dstnodata) leaves such a border of 0 around a scene
BORDER_MIN_LINES = 2
BORDER_MIN_BLOCK = 16


@dataclass(frozen=True)
class ConstantBorder:
    """Result of :func:`constant_border`: the ``value`` of the band, the ``mask`` of the pixels
    it covers (2-D bool) and where it lies in words (``where``: "the top 10 rows, ...")."""

    value: float
    mask: np.ndarray
    where: str


def _line_runs(a: np.ndarray) -> tuple[float, int, int] | None:
    """The value and the count of the whole lines of one exact value from the first row of
    ``a`` inward (after whole lines of NaN), as ``(value, first line, count)``; a line counts
    where its finite pixels (at least half of it) all hold that value."""
    n, m = a.shape
    ok = np.isfinite(a)
    i = 0
    while i < n and not ok[i].any():
        i += 1
    if i == n:
        return None
    v = a[i][ok[i]][0]
    k = i
    while k < n and ok[k].sum() >= max(2, m / 2) and bool((a[k][ok[k]] == v).all()):
        k += 1
    return (float(v), i, k - i) if k > i else None


def _corner_block(a: np.ndarray) -> tuple[float, int, int] | None:
    """The largest rectangle of one exact value anchored at ``a[0, 0]``, as ``(value, rows,
    columns)``, or None where the corner is not finite."""
    v = a[0, 0]
    if not np.isfinite(v):
        return None
    best = (0, 0)
    width = a.shape[1]
    for i in range(a.shape[0]):
        eq = a[i] == v
        run = int(np.argmin(eq)) if not eq.all() else eq.size
        width = min(width, run)
        if width == 0:
            break
        if (i + 1) * width > best[0] * best[1]:
            best = (i + 1, width)
    return float(v), best[0], best[1]


def constant_border(img: np.ndarray, *, min_lines: int = BORDER_MIN_LINES,
                    min_block: int = BORDER_MIN_BLOCK, block: int = 1) -> ConstantBorder | None:
    """A band of one exact value along the edge of an image, as a warp without a nodata value
    leaves around a scene (an undeclared fill), or None.

    Found where whole edge rows / columns (``min_lines`` of them or more, all edges together)
    or a rectangular block at a corner (at least 2 x 2 and ``min_block`` pixels) hold one exact
    value (lines of NaN outside it are skipped) and the rest of the image holds others. A
    fill of 0 on 4 % of an NDVI's pixels hides among genuine NDVI near 0 (no spread-based check
    finds it) and pulled a co-registration estimate 330 m off. The ``mask`` covers the pieces
    of that value connected to the band (a warp's wedge at a corner whole, not only the
    rectangle in it) and the pixels next to them, which the warp's interpolation mixed with it.
    ``block``: the side of the squares of equal values the image is made of (a coarse field
    resampled by nearest neighbour): the sizes are counted in those squares (a corner of two
    equal 10 x 10 squares of such an LST is no band).

    Examples
    --------
    >>> img = np.arange(400.0).reshape(20, 20)
    >>> constant_border(img) is None
    True
    >>> img[:3] = 0.0
    >>> b = constant_border(img)
    >>> b.value, b.where, int(b.mask.sum())
    (0.0, 'the top 3 rows', 80)
    """
    from scipy import ndimage

    a = np.asarray(img, dtype=np.float64)
    if a.ndim != 2 or min(a.shape) < 2:
        return None
    seeds: dict[float, np.ndarray] = {}
    lines: dict[float, list[str]] = {}
    count: dict[float, int] = {}
    # each edge seen as the first rows of a view (writes to a view of the seed reach it)
    views = (("top", "rows", lambda x: x), ("bottom", "rows", lambda x: x[::-1]),
             ("left", "columns", lambda x: x.T), ("right", "columns", lambda x: x.T[::-1]))
    for edge, unit, view in views:
        run = _line_runs(view(a))
        if run is None:
            continue
        v, first, k = run
        seed = seeds.setdefault(v, np.zeros(a.shape, dtype=bool))
        view(seed)[first:first + k] = True
        count[v] = count.get(v, 0) + k
        lines.setdefault(v, []).append(f"the {edge} {k} {unit if k > 1 else unit[:-1]}")
    block = max(1, int(block))
    found = {v for v, k in count.items() if k >= min_lines * block}
    corners = (("top-left", np.s_[:, :]), ("top-right", np.s_[:, ::-1]),
               ("bottom-left", np.s_[::-1, :]), ("bottom-right", np.s_[::-1, ::-1]))
    for name, flip in corners:
        blk = _corner_block(a[flip])
        if blk is None:
            continue
        v, h, w = blk
        seed = seeds.setdefault(v, np.zeros(a.shape, dtype=bool))
        view = seed[flip]  # a view: writes reach seed
        if min(h, w) < 2 * block or h * w < min_block * block**2 or view[:h, :w].all():
            continue  # too small, or part of the edge lines found
        view[:h, :w] = True
        found.add(v)
        lines.setdefault(v, []).append(f"a {h} x {w} block at the {name} corner")
    for v in sorted(found, key=lambda v: -int(seeds[v].sum())):
        same = a == v
        if same.all() or not (np.isfinite(a) & ~same).any():
            continue  # a uniform image: nothing else to tell it from
        lab, _ = ndimage.label(same, structure=np.ones((3, 3), dtype=bool))
        keep = np.unique(lab[seeds[v] & same])
        mask = np.isin(lab, keep[keep > 0])
        mask = ndimage.binary_dilation(mask, structure=np.ones((3, 3), dtype=bool))
        return ConstantBorder(float(v), mask, ", ".join(lines[v]))
    return None
