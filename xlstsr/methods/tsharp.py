"""TsHARP: thermal sharpening by a scene-wide regression of LST on the guide (Agam et al. 2007)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..kernels.sharpen import block_stats, linear_fit, linear_predict
from .base import option_bool, option_whole, register_method
from .guided import GuidedSharpener

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
    with fewer than ``min_samples`` usable coarse pixels fall back to bicubic.

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
        Fewest usable coarse pixels to fit the regression.

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

    def fit(
        self, lst: np.ndarray, valid: np.ndarray, guide: np.ndarray, factor: int
    ) -> np.ndarray | None:
        """Regression coefficients ``[b0, b...]`` of one image, or None with too few samples."""
        feats = self.features(guide)
        mean, _, full = block_stats(feats, factor)
        train = np.asarray(valid, bool) & full & np.isfinite(lst)
        if train.sum() < max(self.min_samples, feats.shape[0] + 2):
            return None
        return linear_fit(mean[:, train].T, np.asarray(lst, np.float64)[train])

    def predict(self, lst, valid, guide, factor):
        coef = self.fit(lst, valid, guide, factor)
        if coef is None:
            return None
        feats = self.features(guide)
        k, ny, nx = feats.shape
        return linear_predict(coef, feats.reshape(k, -1).T).reshape(ny, nx)
