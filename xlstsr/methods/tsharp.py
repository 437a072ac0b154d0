"""TsHARP: thermal sharpening by a scene-wide regression of LST on the guide (Agam et al. 2007).

Also home of :class:`GuidedSharpener`, the shared frame of the classical sharpeners (TsHARP,
DMS): per image, a prediction from the fine guide, an optional detail gain, then residual
correction and radiometric conservation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import GuideCoverageError
from ..kernels.interp import cubic_upsample
from ..kernels.sharpen import (
    bicubic_fallback,
    block_stats,
    linear_fit,
    linear_predict,
    residual_correct,
)
from .base import UpscaleMethod, register_method

__all__ = ["GuidedSharpener", "TsHARP"]

_RESIDUALS = ("nearest", "bicubic", "none")


def _require_guide(name: str, guide: np.ndarray | None) -> np.ndarray:
    if guide is None:
        raise GuideCoverageError(
            f"method {name!r} needs a fine guide (e.g. NDVI at 250 m): pass `guide=ndvi` to "
            "xlstsr.upscale, or a (n, c, y*factor, x*factor) array to upscale_block."
        )
    return np.asarray(guide)


class GuidedSharpener(UpscaleMethod):
    """Frame shared by the regression sharpeners; subclasses implement :meth:`predict`.

    Per image: ``pred = predict(...)`` (the guide-driven fine LST, NaN where it cannot say),
    NaN filled with bicubic, the fine detail ``pred - bicubic`` scaled by the detail gain,
    then :func:`~xlstsr.kernels.sharpen.residual_correct` (coarse residual added back,
    radiometric aggregate conserved if asked).

    The **detail gain** (``gain``, in [0, 1]) is 1 for the published methods; smaller values
    shrink the guide-driven detail towards the bicubic field (0 gives bicubic made
    conservative). On real MODIS/ASTER pairs, where NDVI explains only part of the 250 m LST
    structure, a gain below 1 lowers the RMSE; on scenes where the law holds it costs accuracy.
    """

    needs_guide = True
    spatially_local = False

    residual: str = "bicubic"
    conserve: bool = True
    gain: float = 1.0

    @staticmethod
    def _check_common(residual: str, gain: float) -> float:
        if residual not in _RESIDUALS:
            raise ValueError(f"residual must be one of {_RESIDUALS}, got {residual!r}")
        if isinstance(gain, str) or not 0.0 <= float(gain) <= 1.0:
            raise ValueError(f"gain must be a number in [0, 1], got {gain!r}")
        return float(gain)

    def predict(
        self, lst: np.ndarray, valid: np.ndarray, guide: np.ndarray, factor: int
    ) -> np.ndarray | None:
        """Guide-driven fine LST (Y, X) of one image (NaN allowed), or None if it cannot fit."""
        raise NotImplementedError

    def upscale_block(self, lst, valid, guide, factor):
        guide = _require_guide(self.name, guide)
        out = np.empty((lst.shape[0], lst.shape[1] * factor, lst.shape[2] * factor))
        for i in range(lst.shape[0]):  # one scene-wide fit per image (time step)
            out[i] = self.sharpen(lst[i], valid[i], guide[i], factor)
        return out

    def sharpen(
        self, lst: np.ndarray, valid: np.ndarray, guide: np.ndarray, factor: int
    ) -> np.ndarray:
        """Sharpen one gap-filled image (y, x) with its guide (c, Y, X); returns (Y, X) float64."""
        lst = np.asarray(lst, dtype=np.float64)
        valid = np.asarray(valid, dtype=bool)
        guide = np.asarray(guide, dtype=np.float64)
        bic = cubic_upsample(lst, factor)
        pred = self.predict(lst, valid, guide, factor)
        if pred is None:
            pred = bic
        else:
            pred = bicubic_fallback(pred, lst, factor)
            if self.gain != 1.0:
                pred = bic + self.gain * (pred - bic)
        return residual_correct(pred, lst, factor, residual=self.residual, conserve=self.conserve)


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
        self.quadratic = bool(quadratic)
        self.residual = residual
        self.conserve = bool(conserve)
        self.min_samples = int(min_samples)

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
