"""Test-time adaptation (``upscale(..., adapt=...)``, :mod:`xlstsr.nn.adapt`): the loss it
minimises, its guarantees (off by default, the cached model untouched, deterministic, lazy, no
seams), and its errors."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import raise_if_computed

import xlstsr

torch = pytest.importorskip("torch")

from xlstsr.errors import XlstsrError  # noqa: E402
from xlstsr.nn.adapt import (  # noqa: E402
    MODIS_PSF_COARSE,
    Adaptation,
    adapt_model,
    adaptation_loss,
    psf_radiometric_mean,
    sample_windows,
    tiled_forward,
)

FAST = {"steps": 3, "lr": 1e-4}


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # (conftest.py)


@pytest.fixture(scope="module")
def tiny() -> dict:
    """Two 24 x 24 time steps (1 km) with a 96 x 96 NDVI: a few hundred ms per adapted run."""
    return xlstsr.datasets.sample_scene(n_times=2, size=96, seed=5)


def test_psf_constant_is_the_grids():
    from xlstsr.grid import MODIS_1KM, MODIS_LST_PSF_SIGMA

    assert MODIS_PSF_COARSE == pytest.approx(MODIS_LST_PSF_SIGMA / MODIS_1KM, rel=1e-12)
    assert Adaptation().psf_fine(4) == pytest.approx(1.511, abs=1e-3)
    assert Adaptation(psf=None).psf_fine(4) == 0.0


def test_psf_degradation_matches_the_numpy_kernels():
    """The torch operator equals gaussian_psf (in radiance) then radiometric_mean."""
    from xlstsr.kernels.aggregate import gaussian_psf, radiometric_mean

    rng = np.random.default_rng(0)
    fine = 300 + np.cumsum(rng.normal(0, 1, (64, 64)), axis=1)  # rough, contrasted
    ref = radiometric_mean(gaussian_psf(fine, 1.51), 4)
    got = psf_radiometric_mean(torch.from_numpy(fine)[None, None], 4, 1.51)[0, 0].numpy()
    inner = (slice(2, -2), slice(2, -2))  # edges: truncation of the kernels differs
    assert np.abs(got - ref)[inner].max() < 0.02
    box = psf_radiometric_mean(torch.from_numpy(fine)[None, None], 4, 0.0)[0, 0].numpy()
    np.testing.assert_allclose(box, radiometric_mean(fine, 4), atol=1e-6)
    assert np.abs(box - ref)[inner].max() > 0.1  # the PSF matters


def test_loss_ignores_gaps_and_is_zero_when_consistent():
    sr = torch.full((1, 1, 8, 8), 300.0)
    target = torch.tensor([[[[300.0, float("nan")], [300.0, 300.0]]]])
    assert float(adaptation_loss(sr, target, 4, Adaptation())) == 0.0
    assert float(adaptation_loss(sr + 1.0, target, 4, Adaptation())) > 0.4


def test_adaptation_lowers_its_loss_on_a_copy():
    from xlstsr.nn.weights import load_weights

    model = load_weights("rescnn").eval()
    before = [p.detach().clone() for p in model.parameters()]
    rng = np.random.default_rng(1)
    lst = (300 + np.cumsum(rng.normal(0, 1, (24, 24)), axis=0)).astype(np.float32)
    cfg = Adaptation(steps=15, lr=3e-4)
    tuned = adapt_model(model, lst, factor=4, config=cfg)

    def loss(m: torch.nn.Module) -> float:
        x = torch.from_numpy(lst)[None, None]
        with torch.no_grad():
            return float(adaptation_loss(m(x), x, 4, cfg))

    assert loss(tuned) < 0.8 * loss(model)
    for a, b in zip(before, model.parameters()):  # the given model is untouched
        assert torch.equal(a, b)
    assert not any(p.requires_grad for p in tuned.parameters())


def test_off_by_default_and_the_cached_model_untouched(tiny):
    from xlstsr.methods import get_method
    from xlstsr.nn import runtime

    lst = tiny["lst_1km"]
    plain = xlstsr.upscale(lst, 4, "sisr")
    m = get_method("sisr")
    torch_module = getattr(m.model(), "module", m.model())  # ONNX Runtime's: its torch module
    h0 = runtime.weights_hash(torch_module)
    adapted = xlstsr.upscale(lst, 4, m.with_adaptation(FAST))
    assert runtime.weights_hash(getattr(m.model(), "module", m.model())) == h0 == m.weights_hash
    np.testing.assert_array_equal(xlstsr.upscale(lst, 4, "sisr", adapt=None).values, plain.values)
    np.testing.assert_array_equal(xlstsr.upscale(lst, 4, "sisr", adapt=False).values, plain.values)
    assert "adapt" not in plain.attrs["xlstsr_options"]
    assert '"adapt"' in adapted.attrs["xlstsr_options"]
    d = np.nanmax(np.abs(adapted.values - plain.values))
    assert 1e-4 < d < 5.0  # it changed the output, within reason
    # zero steps: the unadapted model through the adapted path (whole image, tiled forward)
    zero = xlstsr.upscale(lst, 4, "sisr", adapt={"steps": 0})
    np.testing.assert_allclose(zero.values, plain.values, atol=1e-3)


def test_adaptation_improves_consistency_with_the_input(tiny):
    """What it is for: the output, degraded as MODIS sees it, gives the input back better."""
    from xlstsr.kernels.aggregate import gaussian_psf, radiometric_mean

    lst = tiny["lst_1km"]
    plain = xlstsr.upscale(lst, 4, "sisr").values
    adapted = xlstsr.upscale(lst, 4, "sisr", adapt={"steps": 20, "lr": 3e-4}).values

    def misfit(sr: np.ndarray) -> float:
        back = radiometric_mean(gaussian_psf(sr.astype(np.float64), MODIS_PSF_COARSE * 4), 4)
        return float(np.sqrt(np.nanmean((back - lst.values) ** 2)))

    assert misfit(adapted) < 0.9 * misfit(plain)


def test_deterministic_lazy_and_seamless(tiny):
    lst, ndvi = tiny["lst_1km"].copy(), tiny["ndvi_250m"]
    lst[0, 3:7, 5:9] = np.nan  # a cloud: gaps stay out of the loss and of the output
    whole = xlstsr.upscale(lst, 4, "disr", guide=ndvi, adapt=FAST, guide_offset="ignore")
    again = xlstsr.upscale(lst, 4, "disr", guide=ndvi, adapt=FAST, guide_offset="ignore")
    np.testing.assert_array_equal(whole.values, again.values)
    assert np.isnan(whole.values[0, 12:28, 20:36]).all()
    with raise_if_computed():
        lazy = xlstsr.upscale(lst.chunk({"time": 1, "y": 8, "x": 8}), 4, "disr",
                              guide=ndvi.chunk({"y": 32, "x": 32}), adapt=FAST,
                              guide_offset="ignore", tile=8)
    np.testing.assert_array_equal(lazy.values, whole.values)  # no seams: one image per task
    other = xlstsr.upscale(lst, 4, "disr", guide=ndvi, adapt={**FAST, "lr": 2e-4},
                           guide_offset="ignore")
    assert lazy.data.name != xlstsr.upscale(lst.chunk({"time": 1}), 4, "disr", guide=ndvi,
                                            guide_offset="ignore").data.name
    assert not np.array_equal(other.values, whole.values)


def test_sample_windows_fixed_by_seed():
    valid = np.ones((200, 150), bool)
    valid[:100] = False
    a = sample_windows(valid, 32, 4, seed=0)
    assert a == sample_windows(valid, 32, 4, seed=0) != sample_windows(valid, 32, 4, seed=1)
    assert all(y0 >= 100 for y0, _, _, _ in a)  # windows over valid ground first
    assert all(y1 - y0 == 32 and x1 - x0 == 32 for y0, y1, x0, x1 in a)


def test_large_scene_adapts_on_a_sample_and_runs_in_tiles():
    from xlstsr.nn import ResCNN

    torch.manual_seed(0)
    m = ResCNN(4, channels=4, n_blocks=1).eval()
    x = 300 + torch.randn(1, 1, 40, 30)
    with torch.no_grad():
        d = (tiled_forward(m, x, None, 4, tile=16, halo=m.receptive_field) - m(x)).abs().max()
    assert float(d) < 1e-3
    tuned = adapt_model(m, x[0, 0].numpy(), factor=4, config=Adaptation(steps=1, window=16))
    assert tuned is not m


def test_errors_name_the_fix(tiny):
    lst = tiny["lst_1km"]
    with pytest.raises(XlstsrError, match="cannot adapt"):
        xlstsr.upscale(lst, 4, "bicubic", adapt=True)
    with pytest.raises(XlstsrError, match="unknown adaptation setting"):
        xlstsr.upscale(lst, 4, "sisr", adapt={"step": 3})
    with pytest.raises(XlstsrError, match="lr"):
        xlstsr.upscale(lst, 4, "sisr", adapt={"lr": -1})
