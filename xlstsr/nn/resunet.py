"""Residual U-Nets on the fine grid: MRUNet (SISR) and GuidedUNet (DISR), one shared body.

``"mrunet"``
    Multi-residual U-Net SISR after Nguyen et al. (2022, MRUNet): the bicubic-upsampled LST goes
    through residual down blocks with strided convolutions, transposed-convolution up blocks with
    skip connections, and a global skip adding the bicubic input.
``"guided_unet"``
    DISR: the same residual U-Net taking the bicubic-upsampled LST plus ``n_guide`` guide channels
    (NDVI...) and their validity flags at the fine resolution; predicts the fine LST as a residual
    over the upsampled input.

Both are :class:`_ResUNet`; they differ only in ``n_guide`` (0 for MRUNet).

Examples
--------
>>> import torch
>>> MRUNet(4, base=4).receptive_field, GuidedUNet(4, base=4).receptive_field
(13, 13)
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import XlstsrError
from .base import BICUBIC_RF, ResBlock, _arg, _LSTModel

__all__ = ["GuidedUNet", "MRUNet"]


class _Down(nn.Module):
    """Residual down block: strided 3x3 conv (halves the size), then a residual block."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.down = nn.Conv2d(cin, cout, 3, stride=2, padding=1)
        self.act = nn.LeakyReLU(0.1)
        self.res = ResBlock(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res(self.act(self.down(x)))


class _Up(nn.Module):
    """Up block: 2x2 transposed conv (doubles the size), concatenated skip, 3x3 conv, residual."""

    def __init__(self, cin: int, cskip: int, cout: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cout, 2, stride=2)
        self.fuse = nn.Conv2d(cout + cskip, cout, 3, padding=1)
        self.act = nn.LeakyReLU(0.1)
        self.res = ResBlock(cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.act(self.up(x))
        return self.res(self.act(self.fuse(torch.cat([x, skip], dim=1))))


class _ResUNet(_LSTModel):
    """Residual U-Net on the fine grid (shared by MRUNet and GuidedUNet)."""

    #: the engine's tile (coarse px) with tile="auto": the fastest per pixel in
    #: benchmarks/engine.py, and larger tiles doubled the peak memory (fine-grid feature maps)
    tile_size = 128

    def __init__(self, factor: int, n_guide: int, base: int, levels: int) -> None:
        super().__init__(factor, n_guide)
        a = type(self).__name__
        base = _arg(a, "base", base, 1, "channels at the finest level, e.g. 16")
        levels = _arg(a, "levels", levels, 0, "strided down blocks, e.g. 2")
        self._config.update(base=base, levels=levels)
        self.levels = levels
        cin = 1 + 2 * self.n_guide
        self.stem = nn.Sequential(
            nn.Conv2d(cin, base, 3, padding=1), nn.LeakyReLU(0.1), ResBlock(base)
        )
        chans = [base * 2**i for i in range(self.levels + 1)]
        self.downs = nn.ModuleList(_Down(chans[i], chans[i + 1]) for i in range(self.levels))
        self.bottom = ResBlock(chans[-1])
        self.ups = nn.ModuleList(
            _Up(chans[i + 1], chans[i], chans[i]) for i in reversed(range(self.levels))
        )
        self.out = nn.Conv2d(base, 1, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.receptive_field = self._structural_rf()
        # tiles equal whole images only when a coarse pixel spans whole cells of the deepest
        # level: else the engine runs whole images (x2 and x3 tiles differed by 0.4-0.7 K)
        self.spatially_local = self.factor % 2**self.levels == 0

    def _structural_rf(self) -> int:
        """Receptive field (coarse px) of the deepest path, counted layer by layer at fine scale."""
        rf, jump = 0, 1  # half-width in fine pixels, stride of the current level
        rf += 2 * jump  # stem: conv3x3 + res block (2 convs)
        rf += 1 * jump
        for _ in range(self.levels):
            rf += 1 * jump  # strided 3x3 conv: reads +-1 at the input stride
            jump *= 2
            rf += 2 * jump  # res block
        rf += 2 * jump  # bottom
        for _ in range(self.levels):
            rf += jump  # 2x2 transposed conv: an output reads one input (within the same cell)
            jump //= 2
            rf += 3 * jump  # fuse conv + res block
        rf += 1  # output conv
        return BICUBIC_RF + math.ceil(rf / self.factor)

    def _pad_multiple(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        m = 2**self.levels
        ph, pw = (-x.shape[-2]) % m, (-x.shape[-1]) % m
        if ph or pw or torch.jit.is_tracing():  # an ONNX export keeps the pad for other sizes
            x = nn.functional.pad(x, (0, pw, 0, ph), mode="replicate")
        return x, ph, pw

    def _unet(self, x: torch.Tensor) -> torch.Tensor:
        x, ph, pw = self._pad_multiple(x)
        skips = [self.stem(x)]
        for d in self.downs:
            skips.append(d(skips[-1]))
        y = self.bottom(skips.pop())
        for u in self.ups:
            y = u(y, skips.pop())
        y = self.out(y)
        return y[..., : y.shape[-2] - ph, : y.shape[-1] - pw]

    def forward(self, lst: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        self._check(lst, guide)
        up = self.upsample(lst)
        x = (up - self.lst_offset) / self.lst_scale
        if self.n_guide:
            x = torch.cat([x, self._norm_guide(guide)], dim=1)
        return up + self.lst_scale * self._unet(x)


class MRUNet(_ResUNet):
    """Multi-residual U-Net SISR (after Nguyen et al. 2022) on the bicubic-upsampled LST.

    Parameters
    ----------
    factor : int
        Upscaling factor. Chunked (tiled) inference equals whole-image inference exactly when
        ``factor`` is a multiple of ``2**levels`` (the U-Net is then shift-consistent on coarse
        pixels); for other factors the model says it is not spatially local, and the engine
        runs it on whole images.
    base : int
        Channels at the finest level (doubled at each level down).
    levels : int
        Number of strided down blocks.

    Examples
    --------
    >>> MRUNet(4, base=4)(torch.full((1, 1, 8, 8), 300.0)).shape
    torch.Size([1, 1, 32, 32])
    """

    arch = "mrunet"

    def __init__(self, factor: int = 4, base: int = 16, levels: int = 2) -> None:
        super().__init__(factor, 0, base, levels)


class GuidedUNet(_ResUNet):
    """Guided residual U-Net DISR: upsampled LST + fine guide bands -> fine LST.

    Parameters
    ----------
    factor : int
        Upscaling factor.
    n_guide : int
        Number of guide bands (NDVI: 1).
    base, levels : int
        As :class:`MRUNet`.

    Examples
    --------
    >>> m = GuidedUNet(4, n_guide=1, base=4)
    >>> m(torch.full((1, 1, 8, 8), 300.0), torch.zeros(1, 1, 32, 32)).shape
    torch.Size([1, 1, 32, 32])
    """

    arch = "guided_unet"

    def __init__(self, factor: int = 4, n_guide: int = 1, base: int = 16, levels: int = 2) -> None:
        super().__init__(factor, n_guide, base, levels)
        if self.n_guide < 1:
            raise XlstsrError("GuidedUNet needs n_guide >= 1 (use MRUNet for SISR)")
        self._config["n_guide"] = self.n_guide
