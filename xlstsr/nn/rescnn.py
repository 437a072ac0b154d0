"""ResCNN: fast single-image SR with residual blocks at the *coarse* resolution.

Residual blocks run on the coarse grid, then a sub-pixel (pixel-shuffle) head maps to the fine
grid and is added to the bicubic upsampling (ESPCN/EDSR style). All convolutions run on h x w
instead of hf x wf: the cheapest model for large cubes on CPUs. Registered as ``"rescnn"``.

Examples
--------
>>> import torch
>>> ResCNN(4, channels=8, n_blocks=2).receptive_field  # head + 2 per block + tail
6
"""

from __future__ import annotations

import torch
from torch import nn

from .base import BICUBIC_RF, ResBlock, _LSTModel

__all__ = ["ResCNN"]


class ResCNN(_LSTModel):
    """Fast residual CNN for SISR: coarse-resolution residual blocks, pixel-shuffle head.

    Parameters
    ----------
    factor : int
        Upscaling factor.
    channels : int
        Feature channels.
    n_blocks : int
        Residual blocks (two 3x3 convolutions each).

    Examples
    --------
    >>> m = ResCNN(4, channels=8, n_blocks=1)
    >>> m(torch.full((1, 1, 8, 8), 300.0)).shape
    torch.Size([1, 1, 32, 32])
    """

    arch = "rescnn"
    #: the engine's tile (coarse px) with tile="auto": the fastest in benchmarks/engine.py (a
    #: small model: per-tile costs weigh, larger tiles pay)
    tile_size = 256

    def __init__(self, factor: int = 4, channels: int = 32, n_blocks: int = 4) -> None:
        super().__init__(factor, 0)
        self._config.update(channels=int(channels), n_blocks=int(n_blocks))
        self.head = nn.Conv2d(1, channels, 3, padding=1)
        self.body = nn.Sequential(*[ResBlock(channels) for _ in range(n_blocks)])
        self.tail = nn.Conv2d(channels, factor * factor, 3, padding=1)
        self.shuffle = nn.PixelShuffle(factor)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)
        # 3x3 convs at the coarse resolution: head + 2 per block + tail
        self.receptive_field = max(BICUBIC_RF, 2 + 2 * int(n_blocks))

    def forward(self, lst: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        self._check(lst, None)
        up = self.upsample(lst)
        x = (lst - self.lst_offset) / self.lst_scale
        x = self.head(x)
        x = self.tail(self.body(x))
        return up + self.lst_scale * self.shuffle(x)
