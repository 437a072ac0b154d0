"""Models of xlstsr.nn: shapes, declared receptive fields, torch operators equal to numpy kernels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from xlstsr.kernels.aggregate import radiometric_mean
from xlstsr.kernels.interp import cubic_upsample
from xlstsr.nn import GuidedResCNN, GuidedUNet, MRUNet, ResCNN, build_model
from xlstsr.nn.ops import cubic_upsample_torch, radiometric_mean_torch

torch.set_num_threads(1)


def _randomise(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Non-zero random weights everywhere (the heads are zero-initialised: bicubic at start)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    return model.eval()


def _small(arch: str, factor: int = 4) -> torch.nn.Module:
    cfg = {
        "rescnn": {"channels": 6, "n_blocks": 2},
        "mrunet": {"base": 4, "levels": 2},
        "guided_unet": {"base": 4, "levels": 2, "n_guide": 2},
        "guided_rescnn": {"channels": 6, "n_blocks": 2, "fine": 4, "n_guide": 2},
    }[arch]
    return build_model(arch, factor=factor, **cfg)


@settings(max_examples=25, deadline=None)
@given(
    ny=st.integers(1, 9),
    nx=st.integers(1, 9),
    factor=st.integers(1, 5),
    seed=st.integers(0, 2**16),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_torch_bicubic_equals_numpy(ny, nx, factor, seed, dtype):
    a = np.random.default_rng(seed).normal(300, 8, (2, ny, nx)).astype(dtype)
    ref = cubic_upsample(a, factor)
    got = cubic_upsample_torch(torch.from_numpy(a), factor).numpy()
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-4 if dtype == np.float32 else 1e-9)


@settings(max_examples=25, deadline=None)
@given(
    factor=st.integers(1, 4),
    n=st.integers(1, 4),
    min_valid=st.sampled_from([0.25, 0.5, 1.0]),
    nan_frac=st.sampled_from([0.0, 0.1, 0.5]),
    seed=st.integers(0, 2**16),
)
def test_torch_degrade_equals_radiometric_mean(factor, n, min_valid, nan_frac, seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(300, 10, (2, n * factor, (n + 1) * factor))
    a[rng.random(a.shape) < nan_frac] = np.nan
    ref = radiometric_mean(a, factor, min_valid=min_valid)
    got = radiometric_mean_torch(torch.from_numpy(a), factor, min_valid=min_valid).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9, equal_nan=True)
    got32 = radiometric_mean_torch(
        torch.from_numpy(a.astype(np.float32)), factor, min_valid=min_valid
    ).numpy()
    np.testing.assert_allclose(got32, ref, rtol=0, atol=2e-3, equal_nan=True)


def test_degrade_gradient_finite_with_nan():
    a = torch.full((1, 1, 4, 4), 300.0, dtype=torch.float64)
    a[0, 0, 0, 0] = float("nan")
    x = a.clone().requires_grad_(True)
    out = radiometric_mean_torch(x, 2, min_valid=0.5)
    out.sum().backward()
    assert torch.isfinite(out).all()
    assert torch.isfinite(x.grad).all()
    assert x.grad[0, 0, 0, 0] == 0


@pytest.mark.parametrize("arch", ["rescnn", "mrunet", "guided_unet", "guided_rescnn"])
@pytest.mark.parametrize("factor", [2, 4])
def test_shapes_and_bicubic_at_init(arch, factor):
    m = _small(arch, factor).eval()
    lst = 300 + torch.randn(2, 1, 6, 5)
    guide = torch.rand(2, m.n_guide, 6 * factor, 5 * factor) if m.n_guide else None
    with torch.no_grad():
        out = m(lst, guide)
    assert out.shape == (2, 1, 6 * factor, 5 * factor)
    # zero-initialised heads: an untrained model is exactly the built-in bicubic
    ref = cubic_upsample(lst.numpy()[:, 0], factor)
    np.testing.assert_allclose(out.numpy()[:, 0], ref, atol=1e-4)


def _measured_rf(model: torch.nn.Module, half: int = 20) -> int:
    f, size = model.factor, 2 * half + 1
    rng = np.random.default_rng(1)
    lst = torch.tensor(rng.uniform(290, 310, (1, 1, size, size)), dtype=torch.float32)
    g = (
        torch.tensor(rng.random((1, model.n_guide, size * f, size * f)), dtype=torch.float32)
        if model.n_guide
        else None
    )
    found = 0
    with torch.no_grad():
        base = model(lst, g)
        for amp in (1.0, -5.0):
            lst1 = lst.clone()
            lst1[0, 0, half, half] += amp
            changed = np.argwhere((model(lst1, g) - base).abs()[0, 0].numpy() > 0)
            found = max(found, int(np.abs(changed // f - half).max()))
            if g is not None:
                g1 = g.clone()
                g1[0, :, half * f : (half + 1) * f, half * f : (half + 1) * f] += amp
                changed = np.argwhere((model(lst, g1) - base).abs()[0, 0].numpy() > 0)
                found = max(found, int(np.abs(changed // f - half).max()))
    return found


@pytest.mark.parametrize("arch", ["rescnn", "mrunet", "guided_unet", "guided_rescnn"])
def test_declared_receptive_field_is_honest(arch):
    m = _randomise(_small(arch))
    measured = _measured_rf(m)
    assert measured <= m.receptive_field, "an output depends on inputs beyond the declared field"
    assert m.receptive_field - measured <= 3, "declared field far larger than needed"


def test_default_sizes_receptive_fields():
    assert ResCNN(4, channels=32, n_blocks=4).receptive_field == 10
    assert MRUNet(4).receptive_field >= 2
    assert GuidedUNet(4, n_guide=1).receptive_field == MRUNet(4).receptive_field
    # coarse body 2 + 2 x 4, fine head 4 fine px = 1 coarse px
    assert GuidedResCNN(4, n_guide=1, channels=32, n_blocks=4, fine=8).receptive_field == 11


@pytest.mark.parametrize("arch", ["rescnn", "guided_unet", "guided_rescnn"])
def test_engine_chunked_equals_whole(arch):
    """Declared field + shift consistency: the engine's halo reproduces whole-image inference."""
    import dask.array as dsa

    from xlstsr.engine import upscale_array
    from xlstsr.methods.torch_model import TorchModelMethod

    m = _randomise(_small(arch))
    method = TorchModelMethod(m, device="cpu")
    rng = np.random.default_rng(3)
    lst = rng.uniform(290, 310, (2, 40, 36)).astype(np.float32)
    lst[0, 5:9, 7:12] = np.nan
    guide = rng.random((2, m.n_guide, 160, 144)).astype(np.float32) if m.n_guide else None
    whole = upscale_array(method, lst, guide, 4)
    lazy = upscale_array(
        method,
        dsa.from_array(lst, chunks=(1, 20, 18)),
        None if guide is None else dsa.from_array(guide),
        4,
    )
    np.testing.assert_allclose(lazy.compute(scheduler="sync"), whole, atol=1e-3, equal_nan=True)


@pytest.mark.parametrize("arch", ["guided_unet", "guided_rescnn"])
def test_guide_nan_gives_finite_output(arch):
    m = _randomise(_small(arch))
    g = torch.rand(1, 2, 32, 32)
    g[0, 0, :10] = float("nan")
    with torch.no_grad():
        out = m(300 + torch.randn(1, 1, 8, 8), g)
    assert torch.isfinite(out).all()


def test_bad_inputs():
    m = _small("guided_unet")
    with pytest.raises(ValueError, match="needs a guide"):
        m(torch.full((1, 1, 4, 4), 300.0))
    with pytest.raises(ValueError, match="guide must have shape"):
        m(torch.full((1, 1, 4, 4), 300.0), torch.zeros(1, 2, 8, 8))
    with pytest.raises(KeyError, match="unknown architecture"):
        build_model("transformer", factor=4)
    with pytest.raises(ValueError, match="n_guide"):
        GuidedUNet(4, n_guide=0)
    with pytest.raises(ValueError, match="n_guide"):
        GuidedResCNN(4, n_guide=0)
    with pytest.raises(ValueError, match="needs a guide"):
        _small("guided_rescnn")(torch.full((1, 1, 4, 4), 300.0))


def test_guided_rescnn_uses_the_guide_pixel_by_pixel():
    """The fine head sees each guide pixel: with the coarse body's output cut, moving one guide
    pixel changes the output within the head's 4 fine px of it, and nowhere else."""
    m = _randomise(_small("guided_rescnn"))
    with torch.no_grad():
        m.tail.weight.zero_()
        m.tail.bias.zero_()
    g = torch.rand(1, 2, 32, 32)
    g1 = g.clone()
    g1[0, 0, 13, 6] += 1.0
    lst = 300 + torch.zeros(1, 1, 8, 8)
    with torch.no_grad():
        d = (m(lst, g1) - m(lst, g)).abs()[0, 0].numpy()
    assert d[13, 6] > 0
    rows, cols = np.nonzero(d)
    assert np.abs(rows - 13).max() <= 4 and np.abs(cols - 6).max() <= 4
