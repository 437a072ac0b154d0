"""Numpy kernels of the classical thermal sharpeners (TsHARP, Data Mining Sharpener).

A sharpener learns LST = F(guide) between the coarse LST and the guide aggregated onto the
coarse grid, applies F to the fine guide, then adds the coarse residual back so that the result
agrees with the input at the input scale. The pieces here work on single images:

- :func:`block_stats`: per coarse pixel mean / std / validity of each guide band;
- :func:`window_std`: the same std in a sliding ``factor`` x ``factor`` window at the fine scale;
- :func:`linear_fit`: weighted least squares with an intercept (TsHARP);
- :class:`LinearLeafForest`: bagged regression trees with a ridge regression in each leaf (DMS);
- :func:`residual_correct` and :func:`~xlstsr.kernels.aggregate.conserve_radiometric`: residual correction and exact
  radiometric conservation, ``(mean T^4)^(1/4)`` of every output block = the coarse input.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .aggregate import _radiometric_mean, block_moments, conserve_radiometric
from .interp import cubic_upsample, fill_gaps, nearest_upsample

__all__ = [
    "LinearLeafForest",
    "bicubic_fallback",
    "block_stats",
    "homogeneity_weights",
    "linear_fit",
    "linear_predict",
    "residual_correct",
    "roundoff_constant",
    "window_std",
]


def block_stats(guide: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and standard deviation of each guide band over each coarse pixel.

    The sharpeners' view of :func:`xlstsr.kernels.aggregate.block_moments`, plus the mask of the
    coarse pixels whose every fine pixel is valid in every band (the training pixels).

    Parameters
    ----------
    guide : ndarray, (c, Y, X)
        Fine guide bands; NaN marks gaps.
    factor : int
        Block size (fine pixels per coarse pixel along y and x).

    Returns
    -------
    mean, std : ndarray, (c, Y/f, X/f)
        NaN-aware block statistics (NaN where a block has no valid value).
    full : ndarray of bool, (Y/f, X/f)
        True where every band is valid in every fine pixel of the block.

    Examples
    --------
    >>> m, s, full = block_stats(np.arange(16.0).reshape(1, 4, 4), 2)
    >>> m[0].tolist()
    [[2.5, 4.5], [10.5, 12.5]]
    """
    n, mean, var = block_moments(guide, factor)
    full = (n == factor * factor).all(axis=0)
    return mean, np.sqrt(var), full


def window_std(guide: np.ndarray, size: int) -> np.ndarray:
    """Standard deviation of each band in a sliding ``size`` x ``size`` window (NaN-aware).

    The fine-scale counterpart of the within-block std of :func:`block_stats`: the same spatial
    support (one coarse pixel), centred on each fine pixel (an even ``size``: ``size + 1`` taps,
    the two end rows and columns at half weight). NaN where the centre pixel is NaN.

    Examples
    --------
    >>> g = np.zeros((9, 9))
    >>> g[4, 4] = 1.0
    >>> s = window_std(g, 4)
    >>> bool(np.allclose(s, s[::-1, ::-1]))  # centred: symmetric about the bright pixel
    True
    """
    g = np.asarray(guide, dtype=np.float64)
    ok = np.isfinite(g)
    # centre each band first: less cancellation in E[g^2] - E[g]^2
    centre = np.nanmean(g, axis=(-2, -1), keepdims=True) if ok.any() else 0.0
    gz = np.where(ok, g - centre, 0.0)
    cnt, m1, m2 = (_centred_mean(a, size) for a in (ok.astype(np.float64), gz, gz * gz))
    with np.errstate(invalid="ignore", divide="ignore"):
        var = m2 / cnt - (m1 / cnt) ** 2
    out = np.sqrt(np.clip(var, 0.0, None))
    out[~ok] = np.nan
    return out


def _centred_mean(a: np.ndarray, size: int) -> np.ndarray:
    """The mean over a ``size`` x ``size`` window centred on each pixel of the last two axes
    (edges: nearest). An even size has no centre pixel: ``size + 1`` taps whose two ends weigh
    one half (a plain even window, pixels i - size/2 .. i + size/2 - 1, described the patch
    half a pixel up and left: the fine std feature of DMS's ``mean_std`` sat off its coarse
    one)."""
    if size % 2:
        return ndimage.uniform_filter(a, (1,) * (a.ndim - 2) + (size, size), mode="nearest")
    w = np.ones(size + 1) / size
    w[0] = w[-1] = 0.5 / size
    out = ndimage.correlate1d(a, w, axis=-1, mode="nearest")
    return ndimage.correlate1d(out, w, axis=-2, mode="nearest")


def homogeneity_weights(std: np.ndarray, scale: np.ndarray, percentile: float = 80.0) -> np.ndarray:
    """Sample weights from the within-pixel homogeneity of the guide (after Gao et al. 2012).

    Heterogeneity ``h`` of a coarse pixel is the mean over bands of its within-block std divided
    by the band's scene-wide std ``scale`` (a coefficient of variation that stays defined for
    bands whose mean is near 0, such as NDVI over water). The weight is ``1 / (h + median(h))``
    rescaled to a maximum of 1, halved above the ``percentile``-th percentile of ``h`` as pyDMS
    penalises heterogeneous pixels.

    Parameters
    ----------
    std : ndarray, (n, c)
        Within-block std of each band for the n training pixels.
    scale : ndarray, (c,)
        Scene-wide std of each band (normaliser).
    percentile : float
        Pixels more heterogeneous than this percentile get half weight.
    """
    scale = np.where(np.asarray(scale) > 0, scale, 1.0)
    h = np.mean(std / scale, axis=1)
    med = float(np.median(h)) if h.size else 0.0
    w = 1.0 / (h + max(med, 1e-6))
    w /= w.max() if w.size else 1.0
    if h.size > 1:
        w[h > np.percentile(h, percentile)] *= 0.5
    return w


#: Relative spread under which a feature is constant to float32 round-off: guides are float32
#: (~6e-8 relative per rounding); a block mean of float32 values computed in float32 (a band
#: minus its own block mean, a detail layer) keeps a spread of a few 1e-8 of the values' size.
ROUNDOFF_RTOL = 1e-6


def roundoff_constant(spread: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Whether a feature of (weighted) std ``spread`` is constant up to float32 round-off of
    values of size ``scale`` (e.g. the RMS of the fine band it was aggregated from).

    Examples
    --------
    >>> roundoff_constant(np.array([1.3e-8, 0.02]), np.array([0.4, 0.4])).tolist()
    [True, False]
    """
    spread = np.asarray(spread, dtype=np.float64)
    scale = np.abs(np.asarray(scale, dtype=np.float64))
    return (spread == 0) | (spread <= ROUNDOFF_RTOL * scale)


def linear_fit(
    x: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray | None = None,
    *,
    rcond: float = 1e-6,
    scale: np.ndarray | None = None,
) -> np.ndarray:
    """Weighted least squares ``y ~ b0 + x @ b``; returns ``[b0, b...]`` (minimum-norm if singular).

    The feature columns are centred on their weighted mean and scaled to unit weighted std
    before the solve (the intercept is kept and is then orthogonal to them), so that
    ``rcond`` compares directions of the *standardised* design: a singular value below
    ``rcond`` times the largest is treated as zero, and the coefficients along it get the
    minimum-norm value. Guides are float32 (~1e-7 relative round-off): two bands that carry the
    same information (NDVI and an affine copy of it, such as a vegetation cover computed in
    float32) are collinear only to ~1e-8, and without the cut the fit put coefficients of ~1e8
    on that round-off (TsHARP's output moved by ~10 K). A column with no spread gets 0, and so
    does a column whose spread is float32 round-off (:func:`roundoff_constant`) of values of
    size ``scale`` (per column; default ``|mean| + std`` of the column). Pass the size of the
    fine values a coarse column was aggregated from: a band whose block means are equal up to
    round-off (a detail layer, a band minus its block mean) has ``|mean|`` ~ 0 at the coarse
    scale, and its round-off standardised to unit variance got a slope of ~5e7 K per unit.

    Examples
    --------
    >>> x = np.linspace(0, 1, 10)[:, None]
    >>> np.round(linear_fit(x, 2.0 + 3.0 * x[:, 0]), 6).tolist()
    [2.0, 3.0]
    """
    x = np.asarray(x, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    y = np.asarray(y, dtype=np.float64)
    w = np.ones(len(x)) if weight is None else np.asarray(weight, dtype=np.float64)
    wn = w / w.sum() if w.sum() > 0 else np.full(len(x), 1.0 / max(len(x), 1))
    mu = wn @ x if len(x) else np.zeros(x.shape[1])
    sd = np.sqrt(wn @ (x - mu) ** 2) if len(x) else np.ones(x.shape[1])
    # a constant column (its spread at float32 round-off of its values) is 0 once centred: b = 0
    const = roundoff_constant(sd, np.abs(mu) + sd if scale is None else scale)
    sd = np.where(const | (sd == 0), 1.0, sd)
    a = np.column_stack([np.ones(len(x)), np.where(const, 0.0, (x - mu) / sd)])
    sw = np.sqrt(w)
    coef, *_ = np.linalg.lstsq(a * sw[:, None], y * sw, rcond=rcond)
    b = coef[1:] / sd
    return np.concatenate([[coef[0] - mu @ b], b])


def linear_predict(coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Evaluate ``coef[0] + x @ coef[1:]``."""
    return coef[0] + np.asarray(x, dtype=np.float64) @ coef[1:]


class LinearLeafForest:
    """Bagged regression trees with a ridge regression inside each leaf (Cubist-like; DMS).

    Each of ``n_estimators`` trees is a :class:`sklearn.tree.DecisionTreeRegressor` grown on a
    bootstrap sample (``max_leaf_nodes`` leaves of at least ``min_samples_leaf`` samples); the
    samples in each leaf are then fitted by a weighted ridge regression on the features
    standardised *within the leaf* (penalty ``alpha / n`` against their unit variance, ``n`` the
    leaf's distinct samples: a leaf slope keeps ``1 / (1 + alpha / n)`` of the data's along an
    uncorrelated feature; a feature constant in the leaf gets slope 0), whose prediction is
    clamped to the leaf's target range widened by ``extrapolation`` times that range (Gao et
    al. 2012, section 2.1). The ensemble averages the trees. Deterministic for a given
    ``random_state``. ``linear_leaves=False`` keeps the trees' constant leaves.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(size=(200, 1)); y = np.sin(6 * x[:, 0])
    >>> f = LinearLeafForest(n_estimators=4, max_leaf_nodes=8).fit(x, y)
    >>> float(np.abs(f.predict(x) - y).mean()) < 0.1
    True
    """

    def __init__(
        self,
        n_estimators: int = 10,
        max_leaf_nodes: int = 30,
        min_samples_leaf: int = 10,
        *,
        linear_leaves: bool = True,
        extrapolation: float = 0.25,
        alpha: float = 1.0,
        splitter: str = "best",
        bootstrap: bool = True,
        random_state: int = 0,
    ) -> None:
        self.splitter = splitter
        self.bootstrap = bootstrap
        self.n_estimators = n_estimators
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.linear_leaves = linear_leaves
        self.extrapolation = extrapolation
        self.alpha = alpha
        self.random_state = random_state

    def fit(
        self, x: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None
    ) -> LinearLeafForest:
        from sklearn.tree import DecisionTreeRegressor

        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        n = len(y)
        w = np.ones(n) if weight is None else np.asarray(weight, dtype=np.float64)
        self.mu_ = x.mean(axis=0)
        sd = x.std(axis=0)
        self.sd_ = np.where(sd > 0, sd, 1.0)
        xs = (x - self.mu_) / self.sd_
        rng = np.random.default_rng(self.random_state)
        self.trees_: list = []
        for k in range(self.n_estimators):
            boot = self.bootstrap and self.n_estimators > 1
            idx = rng.integers(0, n, n) if boot else np.arange(n)
            counts = np.bincount(idx, minlength=n).astype(np.float64)
            sw = w * counts  # bootstrap as integer sample weights: no data copy
            tree = DecisionTreeRegressor(
                max_leaf_nodes=self.max_leaf_nodes,
                min_samples_leaf=self.min_samples_leaf,
                splitter=self.splitter,
                random_state=self.random_state + k,
            ).fit(xs, y, sample_weight=sw)
            leaves = {}
            if self.linear_leaves:
                leaf_of = tree.apply(xs)
                for leaf in np.unique(leaf_of[sw > 0]):
                    sel = (leaf_of == leaf) & (sw > 0)
                    leaves[int(leaf)] = self._ridge(xs[sel], y[sel], sw[sel])
            self.trees_.append((tree, leaves))
        return self

    def _ridge(self, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple:
        ws = w / w.sum()
        xm = ws @ x
        ym = ws @ y
        xc = x - xm
        # ridge on the features standardised *within the leaf*: the penalty alpha / n is then
        # relative to the leaf's own spread. Against the leaf covariance of the globally
        # standardised features (~1 / leaves^2) it kept ~1 % of the leaf slope.
        sd = np.sqrt(ws @ (xc * xc))
        keep = sd > 1e-9  # a feature constant in the leaf (to round-off) gets slope 0
        b = np.zeros(x.shape[1])
        if keep.any():
            z = xc[:, keep] / sd[keep]
            zw = (z * ws[:, None]).T
            a = zw @ z + (self.alpha / max(len(y), 1)) * np.eye(int(keep.sum()))
            b[keep] = np.linalg.solve(a, zw @ (y - ym)) / sd[keep]
        lo, hi = y.min(), y.max()
        pad = self.extrapolation * (hi - lo)
        return xm, ym, b, lo - pad, hi + pad

    def predict(self, x: np.ndarray) -> np.ndarray:
        xs = (np.asarray(x, dtype=np.float64) - self.mu_) / self.sd_
        out = np.zeros(len(xs))
        for tree, leaves in self.trees_:
            if not leaves:
                out += tree.predict(xs)
                continue
            leaf_of = tree.apply(xs)
            pred = tree.predict(xs)
            for leaf in np.unique(leaf_of):
                if int(leaf) not in leaves:
                    continue
                xm, ym, b, lo, hi = leaves[int(leaf)]
                sel = leaf_of == leaf
                pred[sel] = np.clip(ym + (xs[sel] - xm) @ b, lo, hi)
            out += pred
        return out / len(self.trees_)


def residual_correct(
    fine: np.ndarray,
    coarse: np.ndarray,
    factor: int,
    *,
    residual: str = "bicubic",
    conserve: bool = True,
    fixed: np.ndarray | None = None,
    valid: np.ndarray | None = None,
) -> np.ndarray:
    """Add the coarse residual (observed minus aggregated prediction) back to a fine prediction.

    Parameters
    ----------
    fine : ndarray, (Y, X)
        Fine prediction (K), finite.
    coarse : ndarray, (Y/f, X/f)
        Observed coarse LST (K), finite (gaps already filled).
    factor : int
        Ratio of the grids.
    residual : {"bicubic", "nearest"}
        How the coarse residual is spread onto the fine grid: replicated over the block
        ("nearest", classical TsHARP) or interpolated by Keys cubic convolution ("bicubic":
        no block edges).
    conserve : bool
        Finish with :func:`conserve_radiometric`, so that the radiometric aggregate of the result
        equals ``coarse`` (to round-off).
    fixed : ndarray of bool, (Y, X), optional
        Pixels kept as they are (a guided method's bicubic fallback where the guide is missing):
        the block's other pixels take its residual. Without it the residual of a block whose
        guided pixels were predicted hot was added to the fallback too: 11 K below every input
        pixel at a guide's missing edge row.
    valid : ndarray of bool, (Y/f, X/f), optional
        Where ``coarse`` was observed (the rest: values invented by the gap filling). The
        residual is taken at these pixels only and filled over the others from them
        (:func:`~xlstsr.kernels.interp.fill_gaps`, radius 2: the reach of the cubic kernel)
        before it is spread: the residual of a filled gap pixel (its invented LST minus the
        prediction under the cloud) was interpolated into the clear pixels beside the gap (3 K
        on a scene where TsHARP is exact to 0.03 K). None: every pixel observed.

    Returns
    -------
    ndarray, (Y, X), float64
    """
    if residual not in ("bicubic", "nearest", "none"):
        raise ValueError(f"residual must be 'bicubic', 'nearest' or 'none', got {residual!r}")
    t = np.asarray(fine, dtype=np.float64)
    c = np.asarray(coarse, dtype=np.float64)
    keep = None if fixed is None or not np.any(fixed) else np.asarray(fixed, dtype=bool)
    if residual != "none":
        # unchecked: a prediction at or below 0 K is left to the output check, which names the
        # guide pixels at fault (the kernel's "degrees Celsius?" advice did not help)
        r = c - _radiometric_mean(t, factor, 1.0, None).astype(np.float64)
        if valid is not None:
            seen = np.asarray(valid, dtype=bool)
            if seen.any() and not seen.all():  # none observed: nothing to fill from
                r = fill_gaps(np.where(seen, r, np.nan), 2)
        up = nearest_upsample(r, factor) if residual == "nearest" else cubic_upsample(r, factor)
        t = t + (up if keep is None else np.where(keep, 0.0, up))
    if conserve:
        t = conserve_radiometric(t, c, factor, fixed=keep)
    return t


def bicubic_fallback(pred: np.ndarray, lst: np.ndarray, factor: int) -> np.ndarray:
    """Replace non-finite values of a fine prediction by the bicubic upsampling of ``lst``."""
    bad = ~np.isfinite(pred)
    if bad.any():
        pred = np.where(bad, cubic_upsample(np.asarray(lst, dtype=np.float64), factor), pred)
    return pred
