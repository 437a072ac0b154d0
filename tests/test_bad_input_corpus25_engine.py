"""Bad-input corpus 25 (engine): guide gaps at the edges of a tile's model window, guides of the
wrong size on the array layer, and adaptation of models torch cannot deepcopy."""

from __future__ import annotations

import copy

import dask.array as dsa
import numpy as np
import pytest
import torch

import xlstsr
from xlstsr.engine import upscale_array
from xlstsr.errors import GridError
from xlstsr.methods import get_method
from xlstsr.methods.torch_model import TorchModelMethod
from xlstsr.nn import runtime
from xlstsr.nn.adapt import copy_model

F = 4


class _Smooth(torch.nn.Module):
    """A guided model of tight receptive field: nearest LST minus a gain times the guide
    smoothed over ``rf`` coarse pixels each side (a box of 2 * rf * F + 1 fine pixels)."""

    factor, n_guide = F, 1

    def __init__(self, rf: int) -> None:
        super().__init__()
        self.receptive_field = rf
        k = 2 * rf * F + 1
        self.c = torch.nn.Conv2d(1, 1, k, padding=rf * F, bias=False)
        torch.nn.init.constant_(self.c.weight, 1.0 / k**2)

    def forward(self, lst, guide):
        up = torch.nn.functional.interpolate(lst, scale_factor=F, mode="nearest")
        return up - 10.0 * (self.c(guide) - 0.4)


@pytest.mark.parametrize("rf", [1, 2])
@pytest.mark.parametrize("tile", [8, 12, 16])
def test_chunked_guided_equals_whole_with_guide_gaps_at_model_window_edges(rf, tile):
    """Guide gaps were filled on the model window only: a gap at its edge lost its outside
    neighbours, and the model carried the difference into the tile (0.1-0.18 K seams)."""
    rng = np.random.default_rng(rf * 100 + tile)
    n, size = 2, 40
    lst = (300 + rng.standard_normal((n, size, size))).astype(np.float32)
    guide = rng.uniform(0.1, 0.8, (1, 1, size * F, size * F)).astype(np.float32)
    # 2-px gap bands just inside each edge of every tile's model window (tile +- rf coarse px)
    for b in range(tile, size, tile):
        for e in ((b - rf) * F, (b + rf) * F - 2):
            guide[..., e : e + 2, :] = np.nan
            guide[..., :, e : e + 2] = np.nan
    m = get_method("disr", model=_Smooth(rf), device="cpu")
    whole = upscale_array(m, lst, guide, F, tile=None)
    tiled = upscale_array(m, dsa.from_array(lst, chunks=(1, tile, tile)),
                          dsa.from_array(guide, chunks=(1, 1, 50, 70)), F, tile=None)
    assert tiled.chunks[1][0] == tile * F  # really tiled
    np.testing.assert_allclose(np.asarray(tiled), whole, atol=1e-4, rtol=0)


def test_guide_gaps_filled_as_on_the_whole_image_by_the_xarray_layer():
    """The same through xlstsr.upscale with chunked DataArrays (the probe's case)."""
    scene = xlstsr.datasets.sample_scene(n_times=1, size=128, seed=1)
    m = get_method("disr", model=_Smooth(2), device="cpu")
    ndvi = scene["ndvi_250m"].copy()
    g = ndvi.values
    g[..., 56:58, :] = np.nan  # the edges of the model windows around the row-16 boundary
    g[..., 70:72, :] = np.nan
    ndvi.values = g
    kw = dict(guide_offset="ignore", tile=None)
    whole = xlstsr.upscale(scene["lst_1km"], F, m, guide=ndvi, **kw).values
    tiled = xlstsr.upscale(scene["lst_1km"].chunk({"y": 16, "x": 32}), F, m,
                           guide=ndvi.chunk({"y": 64, "x": 128}), **kw).compute().values
    np.testing.assert_allclose(tiled, whole, atol=1e-4, rtol=0)


@pytest.mark.parametrize("lazy", [True, False])
@pytest.mark.parametrize("shape", [(1, 1, 320, 320), (1, 1, 100, 100), (1, 1, 160, 164),
                                   (3, 1, 160, 160)])
def test_upscale_array_refuses_a_guide_of_the_wrong_shape(lazy, shape):
    """A dask guide too large was cut to its top-left corner without a word, one too small
    failed in np.block with a TypeError."""
    rng = np.random.default_rng(0)
    m = get_method("disr", device="cpu")
    lst = (300 + rng.standard_normal((2, 40, 40))).astype(np.float32)
    guide = rng.uniform(0, 0.9, shape).astype(np.float32)
    if lazy:
        lst, guide = dsa.from_array(lst, chunks=(1, 20, 20)), dsa.from_array(guide)
    with pytest.raises(GridError, match=r"\(2 or 1, c, 160, 160\)"):
        upscale_array(m, lst, guide, F)


def test_upscale_array_takes_a_guide_of_the_right_shape():
    rng = np.random.default_rng(1)
    m = get_method("disr", device="cpu")
    lst = (300 + rng.standard_normal((2, 24, 24))).astype(np.float32)
    for gn in (1, 2):
        guide = rng.uniform(0, 0.9, (gn, 1, 96, 96)).astype(np.float32)
        out = upscale_array(m, dsa.from_array(lst, chunks=(1, 12, 12)), dsa.from_array(guide),
                            F, tile=None)
        assert out.shape == (2, 96, 96) and np.isfinite(np.asarray(out)).all()


class _WN(torch.nn.Module):
    """A model with the legacy torch.nn.utils.weight_norm (WDSR-like): deepcopy refuses it."""

    factor, n_guide, receptive_field = F, 0, 1

    def __init__(self) -> None:
        super().__init__()
        self.c = torch.nn.utils.weight_norm(torch.nn.Conv2d(1, F * F, 3, padding=1))

    def forward(self, lst):
        up = torch.nn.functional.interpolate(lst, scale_factor=F)
        return up + 0.01 * torch.nn.functional.pixel_shuffle(self.c((lst - 300) / 10), F)


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_adapt_runs_on_a_weight_norm_model():
    """adapt= crashed with torch's raw deepcopy RuntimeError on a model accepted without it."""
    lst = xlstsr.datasets.sample_scene(n_times=1, size=32)["lst_1km"]
    plain = xlstsr.upscale(lst, F, "sisr", model=_WN())
    tuned = xlstsr.upscale(lst, F, "sisr", model=_WN(), adapt={"steps": 2})
    assert tuned.shape == plain.shape
    ok = np.isfinite(plain.values)
    assert ok.any() and (np.isfinite(tuned.values) == ok).all()
    assert not np.array_equal(tuned.values[ok], plain.values[ok])  # adapted, not skipped


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_copy_model_copies_a_weight_norm_model():
    model = _WN()
    with pytest.raises(RuntimeError):  # what made the copy fail: torch's own refusal
        copy.deepcopy(model)
    dup = copy_model(model)
    assert dup is not model
    x = 300 + torch.randn(1, 1, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(dup(x), model(x))
        dup.c.weight_g.add_(1.0)  # a copy: the original's weights do not move
        assert not torch.equal(dup.c.weight_g, model.c.weight_g)


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_model_copy_for_another_device_of_a_weight_norm_model(monkeypatch):
    """model() copies the module for a non-CPU device: deepcopy failed there too (shown as a
    DeviceError on a GPU). The 'meta' device stands in for a GPU."""
    user = _WN()
    m = TorchModelMethod(user, device="cpu")
    assert m._local_model is not user  # a private copy, no longer the user's module itself
    monkeypatch.setattr(m, "_device", lambda: "meta")
    key = (m._cache_key("meta"), "meta")
    try:
        moved = m.model()
        assert moved is not m._local_model
        assert next(moved.parameters()).device.type == "meta"
        assert next(m._local_model.parameters()).device.type == "cpu"
    finally:
        runtime.model_cache().pop(key, None)
