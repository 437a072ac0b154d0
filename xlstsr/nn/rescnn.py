"""Residual CNNs whose body runs at the *coarse* resolution: ResCNN (SISR), GuidedResCNN (DISR).

Residual blocks run on the coarse grid, then a sub-pixel (pixel-shuffle) head maps to the fine
grid and is added to the bicubic upsampling (ESPCN/EDSR style). The body's convolutions run on
h x w instead of hf x wf: the cheapest models for large cubes on CPUs. Registered as
``"rescnn"`` and ``"guided_rescnn"``.

Examples
--------
>>> import torch
>>> ResCNN(4, channels=8, n_blocks=2).receptive_field  # head + 2 per block + tail
6
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import XlstsrError
from .base import BICUBIC_RF, ResBlock, _arg, _LSTModel

__all__ = ["GuidedResCNN", "ResCNN"]


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
        channels = _arg("ResCNN", "channels", channels, 1, "feature channels, e.g. 32")
        n_blocks = _arg("ResCNN", "n_blocks", n_blocks, 0, "residual blocks, e.g. 4")
        factor = self.factor
        self._config.update(channels=channels, n_blocks=n_blocks)
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


class GuidedResCNN(_LSTModel):
    """Guided residual CNN for DISR: the body on the coarse grid, a light head on the fine one.

    The fine guide enters twice: folded onto the coarse grid (pixel-unshuffle: each coarse pixel
    sees its ``factor x factor`` guide pixels as channels) beside the LST for the body, and as
    it is in the fine head, where ``fine`` channels unfolded from the body (pixel-shuffle) meet
    the guide pixel by pixel. Almost all the work is on h x w instead of hf x wf: about a third
    of the forward time of :class:`~xlstsr.nn.resunet.GuidedUNet` (base 12, 2 levels) per output
    pixel (``benchmarks/select_disr.py --coarse``; distilled from that U-Net, the default
    ``disr`` since ``--distil``, bundled as ``weights="fast"``).

    Parameters
    ----------
    factor : int
        Upscaling factor.
    n_guide : int
        Number of guide bands (NDVI: 1).
    channels : int
        Feature channels of the coarse body.
    n_blocks : int
        Residual blocks of the body (two 3x3 convolutions each).
    fine : int
        Feature channels of the fine head.
    fine_blocks : int
        Residual blocks of the fine head.

    Examples
    --------
    >>> m = GuidedResCNN(4, n_guide=1, channels=8, n_blocks=1, fine=4)
    >>> m(torch.full((1, 1, 8, 8), 300.0), torch.zeros(1, 1, 32, 32)).shape
    torch.Size([1, 1, 32, 32])
    >>> m.receptive_field  # coarse: head + 2 per block + tail; fine: 4 px = 1 coarse px
    5
    """

    arch = "guided_rescnn"
    #: the engine's tile (coarse px) with tile="auto": benchmarks/engine.py's sweeps (session 14,
    #: 1 thread) ran it fastest at 192, raw 6.06 s / Mpx against 6.54 at 128 and 8.51 at 256, the
    #: engine 5.8 s a day against 6.5 and 7.4 (its fine head's activations outgrow the caches)
    tile_size = 192

    def __init__(
        self,
        factor: int = 4,
        n_guide: int = 1,
        channels: int = 32,
        n_blocks: int = 4,
        fine: int = 8,
        fine_blocks: int = 1,
    ) -> None:
        super().__init__(factor, n_guide)
        if self.n_guide < 1:
            raise XlstsrError("GuidedResCNN needs n_guide >= 1 (use ResCNN for SISR)")
        a = "GuidedResCNN"
        channels = _arg(a, "channels", channels, 1, "feature channels of the body, e.g. 32")
        n_blocks = _arg(a, "n_blocks", n_blocks, 0, "residual blocks of the body, e.g. 4")
        fine = _arg(a, "fine", fine, 1, "feature channels of the fine head, e.g. 8")
        fine_blocks = _arg(a, "fine_blocks", fine_blocks, 0, "blocks of the fine head, e.g. 1")
        f, g2 = self.factor, 2 * self.n_guide  # each guide band comes with its validity flag
        self._config.update(n_guide=self.n_guide, channels=channels, n_blocks=n_blocks,
                            fine=fine, fine_blocks=fine_blocks)
        self.fold = nn.PixelUnshuffle(f)
        self.head = nn.Conv2d(1 + g2 * f * f, channels, 3, padding=1)
        self.body = nn.Sequential(*[ResBlock(channels) for _ in range(n_blocks)])
        self.tail = nn.Conv2d(channels, fine * f * f, 3, padding=1)
        self.unfold = nn.PixelShuffle(f)
        self.fuse = nn.Conv2d(fine + g2, fine, 3, padding=1)
        self.fine_body = nn.Sequential(*[ResBlock(fine) for _ in range(fine_blocks)])
        self.out = nn.Conv2d(fine, 1, 3, padding=1)
        self.act = nn.LeakyReLU(0.1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        coarse = 2 + 2 * int(n_blocks)  # head, blocks, tail: 3x3 convs on the coarse grid
        fine_px = 2 + 2 * int(fine_blocks)  # fuse, blocks, out: 3x3 convs on the fine grid
        self.receptive_field = max(BICUBIC_RF, coarse + -(-fine_px // f))

    def forward(self, lst: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        self._check(lst, guide)
        assert guide is not None  # _check: a guided model has one
        up = self.upsample(lst)
        g = self._norm_guide(guide)
        x = torch.cat([(lst - self.lst_offset) / self.lst_scale, self.fold(g)], dim=1)
        x = self.unfold(self.tail(self.body(self.act(self.head(x)))))
        x = self.fine_body(self.act(self.fuse(torch.cat([x, g], dim=1))))
        return up + self.lst_scale * self.out(x)
