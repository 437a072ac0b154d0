"""Bicubic (Keys cubic convolution) upscaling: the baseline every sharpener must beat."""

from __future__ import annotations

from ..kernels.interp import cubic_upsample, nearest_upsample
from .base import UpscaleMethod, register_method


@register_method("bicubic")
class Bicubic(UpscaleMethod):
    """Keys cubic convolution (a = -0.5) on pixel-area-aligned grids. No guide."""

    def upscale_block(self, lst, valid, guide, factor):
        return cubic_upsample(lst, factor)


@register_method("nearest")
class Nearest(UpscaleMethod):
    """Each coarse pixel replicated into factor x factor fine pixels (no new information)."""

    def halo(self, factor: int) -> int:
        return 0

    def upscale_block(self, lst, valid, guide, factor):
        return nearest_upsample(lst, factor).astype(lst.dtype, copy=False)


__all__ = ["Bicubic", "Nearest"]
