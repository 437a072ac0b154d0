"""Super-resolution networks for LST: Kelvin in, Kelvin out, receptive field declared.

Every model follows the protocol the inference engine (:class:`xlstsr.methods.torch_model.
TorchModelMethod`) runs:

- int attributes ``factor``, ``n_guide`` (0 for SISR) and ``receptive_field`` (coarse pixels: an
  output pixel depends only on coarse inputs at most this far away; the engine's halo);
- ``forward(lst, guide=None)`` with ``lst`` (B, 1, h, w) Kelvin float32 without gaps and ``guide``
  (B, n_guide, h*f, w*f) or None (may hold NaN: replaced by the guide mean and flagged in an extra
  validity channel), returning (B, 1, h*f, w*f) Kelvin;
- normalisation inside the model (buffers ``lst_offset``, ``lst_scale``, ``guide_mean``,
  ``guide_std``, saved with the weights);
- residual over the built-in bicubic upsampling (:func:`~xlstsr.nn.ops.cubic_upsample_torch`,
  equal to :func:`xlstsr.kernels.interp.cubic_upsample`): an untrained or zeroed head is bicubic.

No normalisation layer that mixes pixels (batch or group norm) is used: outputs are local, so the
engine's chunked inference with a halo equals whole-image inference.

Architectures (``ARCHITECTURES[name](**config)``):

``"rescnn"``
    Fast SISR: residual blocks at the *coarse* resolution, then a sub-pixel (pixel-shuffle) head
    to the fine grid, added to the bicubic upsampling (ESPCN/EDSR style). All convolutions run on
    h x w instead of hf x wf: the cheapest model for large cubes on CPUs.
``"mrunet"``
    Multi-residual U-Net SISR after Nguyen et al. (2022, MRUNet): the bicubic-upsampled LST goes
    through residual down blocks with strided convolutions, transposed-convolution up blocks with
    skip connections, and a global skip adding the bicubic input.
``"guided_unet"``
    DISR: the same residual U-Net taking the bicubic-upsampled LST plus ``n_guide`` guide channels
    (NDVI...) and their validity flags at the fine resolution; predicts the fine LST as a residual
    over the upsampled input.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .ops import cubic_kernel_bank, cubic_upsample_torch

__all__ = ["ARCHITECTURES", "GuidedUNet", "MRUNet", "ResCNN", "build_model"]

#: receptive field of the Keys bicubic upsampling, coarse pixels
BICUBIC_RF = 2


class _LSTModel(nn.Module):
    """Shared plumbing: normalisation buffers, bicubic upsampling, config for checkpoints."""

    arch: str = ""

    def __init__(self, factor: int, n_guide: int = 0) -> None:
        super().__init__()
        if int(factor) < 1:
            raise ValueError(f"factor must be a positive integer, got {factor}")
        self.factor = int(factor)
        self.n_guide = int(n_guide)
        self.register_buffer("lst_offset", torch.tensor(300.0))
        self.register_buffer("lst_scale", torch.tensor(10.0))
        self.register_buffer("guide_mean", torch.zeros(max(self.n_guide, 1)))
        self.register_buffer("guide_std", torch.ones(max(self.n_guide, 1)))
        self.register_buffer(
            "cubic_weight",
            torch.as_tensor(cubic_kernel_bank(self.factor), dtype=torch.float32)[:, None],
        )
        self._config: dict[str, Any] = {"factor": self.factor}

    @property
    def config(self) -> dict[str, Any]:
        """Constructor arguments (rebuild with ``ARCHITECTURES[arch](**config)``)."""
        return dict(self._config)

    @property
    def guide_fill_value(self) -> float:
        """Value the inference engine puts in guide gaps it cannot fill locally (the guide mean)."""
        return float(self.guide_mean[0]) if self.n_guide else 0.0

    def set_normalisation(
        self,
        lst_offset: float,
        lst_scale: float,
        guide_mean: Any | None = None,
        guide_std: Any | None = None,
    ) -> None:
        """Set the input statistics (Kelvin offset and scale; per-guide-band mean and std)."""
        self.lst_offset.fill_(float(lst_offset))
        self.lst_scale.fill_(float(lst_scale))
        if guide_mean is not None:
            self.guide_mean.copy_(torch.as_tensor(guide_mean, dtype=torch.float32).reshape(-1))
        if guide_std is not None:
            self.guide_std.copy_(torch.as_tensor(guide_std, dtype=torch.float32).reshape(-1))

    def normalisation(self) -> dict[str, Any]:
        return {
            "lst_offset": float(self.lst_offset),
            "lst_scale": float(self.lst_scale),
            "guide_mean": self.guide_mean[: self.n_guide].tolist(),
            "guide_std": self.guide_std[: self.n_guide].tolist(),
        }

    def upsample(self, lst: torch.Tensor) -> torch.Tensor:
        """The built-in bicubic upsampling (equal to the numpy ``cubic_upsample``)."""
        return cubic_upsample_torch(lst, self.factor, self.cubic_weight)

    def _check(self, lst: torch.Tensor, guide: torch.Tensor | None) -> None:
        if lst.ndim != 4 or lst.shape[1] != 1:
            raise ValueError(f"lst must be (B, 1, h, w), got {tuple(lst.shape)}")
        if self.n_guide:
            f = self.factor
            want = (lst.shape[0], self.n_guide, lst.shape[2] * f, lst.shape[3] * f)
            if guide is None:
                raise ValueError(f"{type(self).__name__} needs a guide of shape {want}")
            if tuple(guide.shape) != want:
                raise ValueError(f"guide must have shape {want}, got {tuple(guide.shape)}")

    def _norm_guide(self, guide: torch.Tensor) -> torch.Tensor:
        n = self.n_guide
        g = (guide - self.guide_mean[:n, None, None]) / self.guide_std[:n, None, None]
        ok = torch.isfinite(g)
        g = torch.where(ok, g, torch.zeros_like(g))
        return torch.cat([g, ok.to(g.dtype)], dim=1)


class _ResBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.c2 = nn.Conv2d(ch, ch, 3, padding=1)
        self.act = nn.LeakyReLU(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.c2(self.act(self.c1(x)))


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

    def __init__(self, factor: int = 4, channels: int = 32, n_blocks: int = 4) -> None:
        super().__init__(factor, 0)
        self._config.update(channels=int(channels), n_blocks=int(n_blocks))
        self.head = nn.Conv2d(1, channels, 3, padding=1)
        self.body = nn.Sequential(*[_ResBlock(channels) for _ in range(n_blocks)])
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


class _Down(nn.Module):
    """Residual down block: strided 3x3 conv (halves the size), then a residual block."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.down = nn.Conv2d(cin, cout, 3, stride=2, padding=1)
        self.act = nn.LeakyReLU(0.1)
        self.res = _ResBlock(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res(self.act(self.down(x)))


class _Up(nn.Module):
    """Up block: 2x2 transposed conv (doubles the size), concatenated skip, 3x3 conv, residual."""

    def __init__(self, cin: int, cskip: int, cout: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cout, 2, stride=2)
        self.fuse = nn.Conv2d(cout + cskip, cout, 3, padding=1)
        self.act = nn.LeakyReLU(0.1)
        self.res = _ResBlock(cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.act(self.up(x))
        return self.res(self.act(self.fuse(torch.cat([x, skip], dim=1))))


class _ResUNet(_LSTModel):
    """Residual U-Net on the fine grid (shared by MRUNet and GuidedUNet)."""

    def __init__(self, factor: int, n_guide: int, base: int, levels: int) -> None:
        super().__init__(factor, n_guide)
        self._config.update(base=int(base), levels=int(levels))
        self.levels = int(levels)
        cin = 1 + 2 * self.n_guide
        self.stem = nn.Sequential(
            nn.Conv2d(cin, base, 3, padding=1), nn.LeakyReLU(0.1), _ResBlock(base)
        )
        chans = [base * 2**i for i in range(self.levels + 1)]
        self.downs = nn.ModuleList(_Down(chans[i], chans[i + 1]) for i in range(self.levels))
        self.bottom = _ResBlock(chans[-1])
        self.ups = nn.ModuleList(
            _Up(chans[i + 1], chans[i], chans[i]) for i in reversed(range(self.levels))
        )
        self.out = nn.Conv2d(base, 1, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.receptive_field = self._structural_rf()

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
        if ph or pw:
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
        Upscaling factor. For chunked inference to equal whole-image inference exactly, ``factor``
        should be a multiple of ``2**levels`` (the U-Net is then shift-consistent on coarse pixels).
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
        if int(n_guide) < 1:
            raise ValueError("GuidedUNet needs n_guide >= 1 (use MRUNet for SISR)")
        super().__init__(factor, n_guide, base, levels)
        self._config["n_guide"] = int(n_guide)


#: architecture name -> class
ARCHITECTURES: dict[str, type[_LSTModel]] = {
    ResCNN.arch: ResCNN,
    MRUNet.arch: MRUNet,
    GuidedUNet.arch: GuidedUNet,
}


def build_model(arch: str, **config: Any) -> _LSTModel:
    """Instantiate an architecture by name (``"rescnn"``, ``"mrunet"``, ``"guided_unet"``)."""
    if arch not in ARCHITECTURES:
        raise KeyError(f"unknown architecture {arch!r}; known: {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[arch](**config)
