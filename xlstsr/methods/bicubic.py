"""Bicubic (Keys cubic convolution) upscaling: the baseline every sharpener must beat."""

from __future__ import annotations

from ..kernels.interp import cubic_upsample, nearest_upsample
from .base import UpscaleMethod, register_method

#: spatial tile (coarse px) of bicubic in the engine (measured: benchmarks/engine.py)
BICUBIC_TILE = 256


@register_method("bicubic")
class Bicubic(UpscaleMethod):
    """Keys cubic convolution (a = -0.5) on pixel-area-aligned grids. No guide."""

    def tile_size(self, factor: int) -> int | None:
        # the kernel's temporaries of whole images cost 2x per pixel (benchmarks/engine.py)
        return BICUBIC_TILE

    def upscale_block(self, lst, valid, guide, factor):
        return cubic_upsample(lst, factor)


@register_method("nearest")
class Nearest(UpscaleMethod):
    """Each coarse pixel replicated into factor x factor fine pixels (no new information).

    It conserves the input exactly (each block's mean is its coarse pixel), so ``conserve=True``
    is accepted and changes nothing.
    """

    conservative = True

    def halo(self, factor: int) -> int:
        return 0

    def upscale_block(self, lst, valid, guide, factor):
        return nearest_upsample(lst, factor).astype(lst.dtype, copy=False)


__all__ = ["Bicubic", "Nearest"]
