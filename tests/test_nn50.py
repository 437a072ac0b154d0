"""Probe 50 N fixes: a per-pixel guided model's guide gaps filled from neighbours, adapt psf in
metres refused, ONNX check naming the model's own NaN, set_normalisation / save_model refusing
unusable statistics, gaussian_lowpass / gaussian_highpass sigma 0 and negative."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import xlstsr
from tests.helpers import make_lst
from xlstsr.errors import CheckpointError, ImplausibleOutputError, XlstsrError
from xlstsr.nn import GuidedResCNN, ResCNN
from xlstsr.nn.adapt import MODIS_PSF_COARSE, Adaptation
from xlstsr.nn.checkpoint import load_model, save_model
from xlstsr.nn.onnx_runtime import OnnxModel, onnx_available
from xlstsr.nn.ops import gaussian_highpass, gaussian_lowpass

F = 4


class PixelGuided(torch.nn.Module):
    """A per-pixel guided model: nearest-upsampled LST - 10 K x (NDVI - 0.5)."""

    factor, n_guide = F, 1

    def __init__(self, rf: int) -> None:
        super().__init__()
        self.receptive_field = rf
        self.k = torch.nn.Parameter(torch.tensor(-10.0))

    def forward(self, lst, guide):
        up = torch.nn.functional.interpolate(lst, scale_factor=F, mode="nearest")
        return up + self.k * (guide - 0.5)


def _scene(n: int, gaps: list[tuple[int, int]]):
    rng = np.random.default_rng(0)
    lst = make_lst((300 + rng.standard_normal((1, n, n))).astype("float32"), units="K")
    g = (0.5 + 0.2 * rng.standard_normal((n * F, n * F))).clip(-0.2, 0.95).astype("float32")
    for yy, xx in gaps:
        g[yy, xx] = np.nan
    return lst, make_lst(g, res=1000.0 / F).rename("ndvi")


# -- 1: receptive field 0 ------------------------------------------------------------------------
def test_rf0_guide_gaps_filled_from_neighbours_as_rf1():
    gaps = [(5, 5), (20, 9), (30, 30)]
    lst, g = _scene(8, gaps)
    out = {rf: xlstsr.upscale(lst, F, method="disr", guide=g,
                              method_options={"model": PixelGuided(rf)}).values[0]
           for rf in (0, 1)}
    for yy, xx in gaps:
        # the constant (guide_fill_value 0: NDVI 0) gave LST + 5 K at each speckle
        lst_here = float(lst.values[0, yy // F, xx // F])
        assert abs(out[0][yy, xx] - (lst_here + 5.0)) > 1.0
        assert out[0][yy, xx] == pytest.approx(out[1][yy, xx], abs=1e-5)
    m = xlstsr.methods.TorchModelMethod(PixelGuided(0), device="cpu")
    assert m.guide_fill_radius(F) == F


def test_rf0_guide_fill_same_chunked_and_tiled():
    # gaps on chunk edges (4 coarse = 16 fine pixels) and a 3-pixel run across one
    gaps = [(15, 16), (16, 15), (23, 24), (24, 23), (31, 31), (32, 9), (15, 40), (16, 40),
            (17, 40), (47, 47)]
    lst, g = _scene(12, gaps)
    model = PixelGuided(0)
    whole = xlstsr.upscale(lst, F, method="disr", guide=g, tile=None,
                           method_options={"model": model}).values
    assert np.isfinite(whole).all()
    for kw in ({"lst": {"y": 4, "x": 4}, "guide": None}, {"lst": {"y": 5, "x": 3},
                                                           "guide": {"y": 7, "x": 9}}):
        lz = lst.chunk(kw["lst"])
        gz = g if kw["guide"] is None else g.chunk(kw["guide"])
        v = xlstsr.upscale(lz, F, method="disr", guide=gz, method_options={"model": model}).values
        np.testing.assert_array_equal(v, whole)
    for tile in (1, 3):
        v = xlstsr.upscale(lst, F, method="disr", guide=g, tile=tile,
                           method_options={"model": model}).values
        np.testing.assert_array_equal(v, whole)


# -- 2: adapt psf in metres ----------------------------------------------------------------------
def test_adapt_psf_in_metres_refused_naming_the_conversion():
    with pytest.raises(ValueError, match="coarse pixels") as err:
        Adaptation.parse({"psf": 350})
    msg = str(err.value)
    assert "metres" in msg and "350 / 926.6" in msg
    # the advice, followed
    cfg = Adaptation.parse({"psf": 350 / 926.6})
    assert cfg.psf_fine(F) == pytest.approx(MODIS_PSF_COARSE * F, rel=1e-3)
    assert Adaptation.parse({"psf": 0.8}).psf == 0.8  # a wide but plausible PSF stays


def test_adapt_psf_in_metres_refused_by_upscale():
    lst = make_lst(np.full((1, 6, 6), 300.0, "float32"), units="K")
    with pytest.raises(ValueError, match="metres"):
        xlstsr.upscale(lst, F, method="sisr", adapt={"psf": 350, "steps": 1})


# -- 3: ONNX check and the model's own NaN -------------------------------------------------------
class NanGuided(torch.nn.Module):
    """Takes NaN guide pixels and leaves its output NaN there."""

    factor, n_guide, receptive_field = F, 1, 1
    accepts_nan_guide = True

    def __init__(self) -> None:
        super().__init__()
        self.k = torch.nn.Parameter(torch.tensor(-5.0))

    def forward(self, lst, guide):
        up = torch.nn.functional.interpolate(lst, scale_factor=F, mode="nearest")
        return up + self.k * (guide - 0.5)


@pytest.mark.skipif(not onnx_available(), reason="onnxruntime / onnx not installed")
def test_onnx_check_names_the_models_nan_output():
    with pytest.raises(ImplausibleOutputError) as err:
        OnnxModel(NanGuided())
    msg = str(err.value)
    assert "NaN" in msg and "nan K" not in msg and "backend='torch'" not in msg
    assert "accepts_nan_guide" in msg
    # the advice, followed: without accepts_nan_guide xlstsr fills the gaps and both run
    m = NanGuided()
    m.accepts_nan_guide = False
    lst, g = _scene(6, [(5, 5), (9, 12)])
    outs = [xlstsr.upscale(lst, F, method="disr", guide=g,
                           method_options={"model": m, "backend": b}).values
            for b in ("torch", "onnxruntime")]
    assert np.isfinite(outs[1]).all()
    np.testing.assert_allclose(outs[1], outs[0], atol=1e-3)


# -- 4: set_normalisation / save_model -----------------------------------------------------------
@pytest.mark.parametrize(("args", "word"), [
    ((300.0, 0.0), "lst_scale"), ((300.0, -10.0), "lst_scale"), ((300.0, float("nan")), "lst_scale"),
    ((float("inf"), 10.0), "lst_offset"), ((300.0, 10.0, [0.5], [0.0]), "guide_std"),
    ((300.0, 10.0, [float("nan")], [0.2]), "guide_mean"),
    ((300.0, 10.0, [0.5, 0.2], [0.2, 0.1]), "1 guide band"),
])
def test_set_normalisation_refuses_unusable_values(args, word):
    m = GuidedResCNN(F, n_guide=1, channels=4, n_blocks=1, fine=4)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    with pytest.raises(XlstsrError, match=word):
        m.set_normalisation(*args)
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())  # nothing set


def test_set_normalisation_keeps_valid_values():
    m = GuidedResCNN(F, n_guide=2, channels=4, n_blocks=1, fine=4)
    m.set_normalisation(290.0, 8.0, [0.4, 5.0], [0.2, 0.5])
    norm = m.normalisation()
    assert (norm["lst_offset"], norm["lst_scale"]) == (290.0, 8.0)
    assert norm["guide_mean"] == pytest.approx([0.4, 5.0])
    assert norm["guide_std"] == pytest.approx([0.2, 0.5])
    m.set_normalisation(290.0, 8.0, 0.3, [0.1])  # one value for every band, as before
    assert m.normalisation()["guide_mean"] == pytest.approx([0.3, 0.3])
    assert m.normalisation()["guide_std"] == pytest.approx([0.1, 0.1])


def test_save_model_refuses_a_zero_scale(tmp_path):
    m = ResCNN(F, channels=4, n_blocks=1)
    m.lst_scale.fill_(0.0)  # set on the buffer, past set_normalisation
    with pytest.raises(CheckpointError, match="lst_scale") as err:
        save_model(m, tmp_path / "m.pt")
    assert not (tmp_path / "m.pt").exists()
    assert "set_normalisation" in str(err.value)
    m.set_normalisation(300.0, 10.0)  # the advice, followed
    assert load_model(save_model(m, tmp_path / "m.pt")).normalisation()["lst_scale"] == 10.0


# -- 5: gaussian sigma ---------------------------------------------------------------------------
def test_gaussian_sigma_zero_is_no_blur_and_negative_refused():
    x = 300 + torch.randn(1, 1, 5, 6, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(gaussian_lowpass(x, 0.0), x, rtol=0, atol=0)
    torch.testing.assert_close(gaussian_highpass(x, 0), torch.zeros_like(x), rtol=0, atol=0)
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="sigma"):
            gaussian_lowpass(x, bad)
        with pytest.raises(ValueError, match="sigma"):
            gaussian_highpass(x, bad)
    assert torch.isfinite(gaussian_lowpass(x, 1.0)).all()
