"""The frame shared by the classical guided sharpeners (TsHARP, DMS).

Per image: a prediction of the fine LST from the guide, an optional detail gain, then residual
correction and radiometric conservation. Subclasses implement :meth:`GuidedSharpener.predict`.
"""

from __future__ import annotations

import numpy as np

from ..errors import GuideCoverageError, XlstsrError, warn
from ..kernels.interp import cubic_upsample
from ..kernels.sharpen import bicubic_fallback, residual_correct
from .base import UpscaleMethod

__all__ = ["GuidedSharpener"]

_RESIDUALS = ("nearest", "bicubic", "none")


def _require_guide(name: str, guide: np.ndarray | None) -> np.ndarray:
    if guide is None:
        raise GuideCoverageError(
            f"method {name!r} needs a fine guide (e.g. NDVI at 250 m): pass `guide=ndvi` to "
            "xlstsr.upscale, or a (n, c, y*factor, x*factor) array to upscale_block."
        )
    return np.asarray(guide)


def _usable_samples(lst: np.ndarray, valid: np.ndarray, guide: np.ndarray, factor: int) -> int:
    """Coarse pixels of one image a regression can train on: clear (``valid``, finite) and under
    a guide block valid in every fine pixel and band (the sharpeners' training pixels,
    :func:`~xlstsr.kernels.sharpen.block_stats`)."""
    ny, nx = np.shape(lst)
    g = np.isfinite(np.asarray(guide)).all(axis=0)[: ny * factor, : nx * factor]
    full = g.reshape(ny, factor, nx, factor).all(axis=(1, 3))
    return int((np.asarray(valid, bool) & full & np.isfinite(lst)).sum())


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

    guided = True
    spatially_local = False

    residual: str = "bicubic"
    conserve: bool = True
    gain: float = 1.0

    @staticmethod
    def _check_common(residual: str, gain: float) -> float:
        if residual not in _RESIDUALS:
            raise XlstsrError(f"residual must be one of {_RESIDUALS}, got {residual!r}")
        v = gain.item() if isinstance(gain, np.generic) else gain
        if isinstance(v, (str, bool)) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
            # None raised float()'s TypeError; True passed as 1
            raise XlstsrError(f"gain must be a number in [0, 1], got {gain!r}")
        return float(v)

    def predict(
        self, lst: np.ndarray, valid: np.ndarray, guide: np.ndarray, factor: int
    ) -> np.ndarray | None:
        """Guide-driven fine LST (Y, X) of one image (NaN allowed), or None if it cannot fit."""
        raise NotImplementedError

    def upscale_block(self, lst, valid, guide, factor):
        guide = _require_guide(self.name, guide)
        out = np.empty((lst.shape[0], lst.shape[1] * factor, lst.shape[2] * factor))
        unguided: list[int] = []  # usable coarse pixels of each image fitted without the guide
        for i in range(lst.shape[0]):  # one scene-wide fit per image (time step)
            out[i], guided = self._sharpen(lst[i], valid[i], guide[i], factor)
            if not guided:
                unguided.append(_usable_samples(lst[i], valid[i], guide[i], factor))
        if unguided:
            # a small or cloudy image: documented, but a time series would otherwise lose its
            # sharpening on some dates without a word (output still labelled with the method)
            warn(self._fallback_message(unguided, lst.shape[0], factor), UserWarning)
        return out

    def _fallback_message(self, usable: list[int], n: int, factor: int) -> str:
        """Why ``len(usable)`` of ``n`` images were upscaled without the guide, and the fix that
        can work for them: a lower ``min_samples`` only helps where some coarse pixels are
        usable (advised with none, it was followed and the same warning came back)."""
        need = getattr(self, "min_samples", None)
        lo, hi = min(usable), max(usable)
        count = f"{lo}" if lo == hi else f"{lo} to {hi}"
        msg = (
            f"method {self.name!r}: {len(usable)} of {n} image(s) had too few clear coarse pixels "
            f"under a full guide to fit ({count} usable, min_samples={need if need else '?'}): "
            "they were upscaled without the guide (bicubic, with the residual correction). A "
            f"coarse pixel is usable where the LST is clear and its whole {factor} x {factor} "
            "guide block is valid, in every band."
        )
        if hi == 0:  # nothing to fit whatever min_samples: the guide's gaps are the cause
            return msg + (
                " No clear coarse pixel has a complete guide block: fill the guide's small gaps "
                "(a composite of several dates, or an interpolation, e.g. "
                "`guide.interpolate_na('x', limit=2)`), or use method='disr', which fills small "
                "guide gaps itself."
            )
        if need is not None and any(0 < u < need for u in usable):
            return msg + (
                " Pass a larger area, fill the guide's gaps, or a lower `min_samples` in "
                "method_options (a fit on fewer pixels is noisier)."
            )
        return msg + (
            " Too few for the regression's terms: pass a larger area, or fill the guide's gaps "
            "(a composite of several dates, or an interpolation)."
        )

    def sharpen(
        self, lst: np.ndarray, valid: np.ndarray, guide: np.ndarray, factor: int
    ) -> np.ndarray:
        """Sharpen one gap-filled image (y, x) with its guide (c, Y, X); returns (Y, X) float64."""
        return self._sharpen(lst, valid, guide, factor)[0]

    def _sharpen(
        self, lst: np.ndarray, valid: np.ndarray, guide: np.ndarray, factor: int
    ) -> tuple[np.ndarray, bool]:
        """:meth:`sharpen`, and whether the guide was used (False: too few samples to fit)."""
        lst = np.asarray(lst, dtype=np.float64)
        valid = np.asarray(valid, dtype=bool)
        guide = np.asarray(guide, dtype=np.float64)
        bic = cubic_upsample(lst, factor)
        pred = self.predict(lst, valid, guide, factor)
        fallback = None
        if pred is None:
            pred = bic
        else:
            fallback = ~np.isfinite(pred)  # no guide there: bicubic, as the warnings say
            pred = bicubic_fallback(pred, lst, factor)
            if self.gain != 1.0:
                pred = bic + self.gain * (pred - bic)
        return residual_correct(pred, lst, factor, residual=self.residual, conserve=self.conserve,
                                fixed=fallback), fallback is not None
