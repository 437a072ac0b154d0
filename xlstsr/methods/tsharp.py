"""TsHARP: thermal sharpening by a scene-wide regression of LST on the guide (Agam et al. 2007)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..kernels.sharpen import block_stats, linear_fit, linear_predict
from .base import option_bool, option_whole, register_method
from .guided import (
    GuidedSharpener,
    fine_scale,
    flat_at_lst_scale,
    one_value_under,
)

__all__ = ["TsHARP"]

@register_method("tsharp")
class TsHARP(GuidedSharpener):
    """Linear (or quadratic) LST-guide regression fitted at the coarse scale, applied at the fine.

    Per image: the guide is aggregated onto the LST grid by block mean; LST is regressed on it
    by least squares over the coarse pixels that are observed (``valid``) and whose guide block
    is complete (one band: a line; several bands, e.g. NDVI + albedo: a multiple linear
    regression). The regression is applied to the fine guide, the coarse residual
    (observed - aggregated prediction) is added back, and with ``conserve=True`` each output block
    is scaled in T^4 so that its radiometric mean ``(mean T^4)^(1/4)`` equals the input exactly.
    Fine pixels whose guide is NaN get the bicubic value (before the residual step). Images
    with fewer than ``max(min_samples, regressors + 2)`` usable coarse pixels, or whose guide's
    block means are equal up to float32 round-off (no variation at the LST scale), fall back to
    bicubic with a warning. The fit holds ~70-200 bytes per fine pixel (float64 temporaries,
    :meth:`work_bytes_per_pixel`): a call whose working set exceeds the memory available is
    refused (GridError) with the route (one image per dask task, or the area in parts).

    Parameters
    ----------
    quadratic : bool
        Add the square of every guide band as a regressor (the coarse feature is the block mean
        of the square, so the law is consistent across scales).
    residual : {"bicubic", "nearest", "none"}
        Spread the coarse residual over its block ("nearest": classical TsHARP) or by cubic
        interpolation ("bicubic": smooth, no block edges); "none" skips it.
    conserve : bool
        Enforce the radiometric aggregate of the output equal to the input (to round-off).
    gain : float in [0, 1]
        Detail gain (see :class:`GuidedSharpener`); 1 is classical TsHARP.
    min_samples : int
        Fewest usable coarse pixels to fit the regression (the fit also needs its number of
        regressors + 2: 3 for one band, 6 for a quadratic fit of two).

    Examples
    --------
    >>> import xlstsr
    >>> s = xlstsr.datasets.sample_scene(n_times=1, size=64)
    >>> sr = xlstsr.upscale(s["lst_1km"], 4, method="tsharp", guide=s["ndvi_250m"])
    >>> sr.shape
    (1, 64, 64)
    """

    def __init__(
        self,
        quadratic: bool = False,
        residual: str = "bicubic",
        conserve: bool = True,
        gain: float = 1.0,
        min_samples: int = 10,
    ) -> None:
        self.gain = self._check_common(residual, gain)
        self.quadratic = option_bool(self.name, "quadratic", quadratic)
        self.residual = residual
        self.conserve = option_bool(self.name, "conserve", conserve)
        self.min_samples = option_whole(self.name, "min_samples", min_samples, 1, example=10)

    def describe(self) -> dict[str, Any]:
        keys = ("quadratic", "residual", "conserve", "gain", "min_samples")
        return {k: getattr(self, k) for k in keys}

    def features(self, guide: np.ndarray) -> np.ndarray:
        """Fine-scale regressors (k, Y, X) from guide bands (c, Y, X)."""
        g = np.asarray(guide, dtype=np.float64)
        return np.concatenate([g, g**2]) if self.quadratic else g

    def terms_floor(self, n_bands: int) -> int:
        """Regressors (``n_bands``, twice that with ``quadratic``) + 2: with fewer usable pixels
        the least-squares fit has no residual degree of freedom left."""
        return n_bands * (2 if self.quadratic else 1) + 2

    def _terms_text(self, n_bands: int) -> str:
        k = n_bands * (2 if self.quadratic else 1)
        kind = "quadratic" if self.quadratic else "linear"
        return (f"A {kind} fit of {n_bands} band(s) has {k} regressor(s) and needs at least "
                f"k + 2 = {k + 2} usable pixels")

    def _fewer_terms_advice(self, usable: int, n_bands: int) -> str | None:
        lower = f", 'min_samples': {usable}" if self.min_samples > usable else ""
        opts = []
        if self.quadratic and n_bands + 2 <= usable:
            opts.append(f"pass method_options={{'quadratic': False{lower}}} (a linear fit of "
                        f"{n_bands} band(s) needs {n_bands + 2})")
        per = 2 if self.quadratic else 1
        most = (usable - 2) // per
        if 1 <= most < n_bands:
            opts.append(f"give at most {most} guide band(s) (needs {most * per + 2}"
                        + (f"; with method_options={{'min_samples': {usable}}}" if lower else "")
                        + ")")
        return "; or ".join(opts) if opts else None

    def work_bytes_per_pixel(self, n_bands: int) -> int:
        """Peak bytes per fine pixel of one image's fit and prediction on ``n_bands`` guide
        bands (float64 features, bicubic, prediction, residual and T^4 scaling): measured with
        tracemalloc, 70 (one band) to 216 (three bands, quadratic)."""
        k = n_bands * (2 if self.quadratic else 1)
        return 8 * max(9, 3 + 4 * k)

    def fit(
        self, lst: np.ndarray, valid: np.ndarray, guide: np.ndarray, factor: int
    ) -> np.ndarray | None:
        """Regression coefficients ``[b0, b...]`` of one image, or None with too few samples
        (fewer than :meth:`min_fit_samples`).

        Raises :class:`~xlstsr.methods.guided.FlatAtLstScale` when every regressor's block means
        over the training pixels are equal up to float32 round-off (a guide with detail inside
        the LST's pixels only): the sharpener then upscales the image without the guide, with a
        warning naming the cause.
        """
        feats = self.features(guide)
        mean, _, full = block_stats(feats, factor)
        train = np.asarray(valid, bool) & full & np.isfinite(lst)
        n_bands = np.shape(guide)[0]
        if train.sum() < self.min_fit_samples(n_bands):
            return None
        one_value_under(guide, train, factor)
        x = mean[:, train].T
        scale = fine_scale(feats)
        flat_at_lst_scale(scale, x, factor)
        # a regressor constant to the round-off of its fine values gets slope 0 (a detail layer
        # has |block mean| ~ 0: the default scale of linear_fit would miss it)
        return linear_fit(x, np.asarray(lst, np.float64)[train], scale=scale)

    def predict(self, lst, valid, guide, factor):
        coef = self.fit(lst, valid, guide, factor)
        if coef is None:
            return None
        feats = self.features(guide)
        k, ny, nx = feats.shape
        return linear_predict(coef, feats.reshape(k, -1).T).reshape(ny, nx)
