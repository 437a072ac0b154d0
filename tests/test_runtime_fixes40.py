"""Fixes of round 40 to TorchModelMethod and the ONNX backend: a TorchScript model's protocol
attributes under backend='onnxruntime', a user's non-mapping `metadata`, half-precision weights
and user models that are not shift-equivariant (a pooled level) run in tiles."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import xlstsr  # noqa: E402
from xlstsr.errors import XlstsrError  # noqa: E402
from xlstsr.methods.torch_model import TorchModelMethod  # noqa: E402


@pytest.fixture(scope="module")
def lst():
    return xlstsr.datasets.sample_scene(n_times=1, size=32)["lst_1km"]


class _Conv(torch.nn.Module):
    """bilinear + a learnt pixel-shuffled detail: local and shift-equivariant"""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.c = torch.nn.Conv2d(1, 16, 3, padding=1)

    def forward(self, lst):
        return (F.interpolate(lst, scale_factor=4.0, mode="bilinear")
                + F.pixel_shuffle(self.c(lst - 300.0), 4))


# -- 1. a TorchScript model under backend='onnxruntime' ----------------------------------------
def test_torchscript_model_with_python_attributes_runs_under_onnxruntime(lst):
    """Its copy lost `ts.factor = 4`: a raw AttributeError at compute."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    ts = torch.jit.script(_Conv().eval())
    ts.factor, ts.n_guide = 4, 0
    ref = xlstsr.upscale(lst, 4, method="sisr", method_options={"model": ts})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = xlstsr.upscale(lst, 4, method="sisr",
                             method_options={"model": ts, "backend": "onnxruntime"})
    assert float(np.nanmax(np.abs((got - ref).values))) < 1e-3


def test_torchscript_copy_keeps_the_protocol_attributes_for_the_output_check():
    """The method's copy of a TorchScript module (and one loaded on a worker) lost `factor`, so
    runtime.forward's output check ran without the expected size."""
    ts = torch.jit.script(_Conv().eval())
    ts.factor, ts.n_guide = 4, 0
    m = TorchModelMethod(ts, device="cpu")
    model = m.model()
    assert (model.factor, model.n_guide) == (4, 0)
    assert m.upscale_block(np.full((1, 3, 5), 300.0), np.ones((1, 3, 5), bool), None,
                           4).shape == (1, 12, 20)


def test_onnx_model_takes_the_protocol_attributes_or_names_the_missing_factor():
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from xlstsr.nn.onnx_runtime import OnnxModel

    m = _Conv().eval()
    with pytest.raises(XlstsrError, match=r"no `factor` attribute.*factor=4"):
        OnnxModel(m)
    fast = OnnxModel(m, factor=4, n_guide=0)
    x = torch.full((1, 1, 5, 6), 300.0)
    assert fast.factor == 4 and float((fast(x) - m(x)).abs().max()) < 1e-3


# -- 2. a user's metadata that is not a mapping ------------------------------------------------
@dataclasses.dataclass
class _Info:
    version: str = "1"


@pytest.mark.parametrize("meta", ["trained on MODIS 2020", _Info()])
def test_non_mapping_metadata_is_ignored(lst, meta):
    m = _Conv()
    m.factor, m.n_guide, m.receptive_field = 4, 0, 1
    m.metadata = meta
    a = xlstsr.upscale(lst, 4, method="sisr", method_options={"model": m})
    b = xlstsr.upscale(lst, 4, method=TorchModelMethod(m))
    np.testing.assert_allclose(a.values, b.values, atol=1e-4)
    assert TorchModelMethod(m).lst_normalisation is None


def test_guided_model_with_non_mapping_metadata_has_no_guide_statistics():
    class G(torch.nn.Module):
        factor, n_guide, receptive_field = 4, 1, 0
        metadata = "my guided model"

        def forward(self, lst, guide):
            return F.interpolate(lst, scale_factor=4.0, mode="nearest") + 0 * guide

    assert TorchModelMethod(G()).guide_statistics() is None


# -- 3. half-precision weights ------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_weights_are_refused(lst, dtype):
    """A forward casting the input to the weights' dtype and the output back to float32 ran in
    0.25 K / 2 K steps, up to 2.7 K off, without a word."""
    half = getattr(torch, dtype)

    class Half(torch.nn.Module):
        factor, n_guide, receptive_field = 4, 0, 1

        def __init__(self):
            super().__init__()
            self.net = _Conv().to(half)

        def forward(self, lst):
            return self.net(lst.to(half)).float()

    with pytest.raises(XlstsrError, match=rf"weights are torch.{dtype}.*model.float\(\)"):
        TorchModelMethod(Half())
    with pytest.raises(XlstsrError, match=rf"weights are torch.{dtype}"):
        xlstsr.upscale(lst, 4, method="sisr", method_options={"model": Half()})


# -- 4. a user's model that is not shift-equivariant --------------------------------------------
class _PoolNet(torch.nn.Module):
    """detail relative to a 2 x 2 pooled level: local in reach, not shift-equivariant"""

    factor, n_guide = 4, 0

    def forward(self, lst, guide=None):
        up = F.interpolate(lst, scale_factor=4, mode="bilinear")
        h, w = lst.shape[-2:]
        p = F.pad(lst, (0, w % 2, 0, h % 2), mode="replicate")
        back = F.interpolate(F.avg_pool2d(p, 2), scale_factor=2, mode="nearest")[..., :h, :w]
        return up + F.interpolate(lst - back, scale_factor=4, mode="nearest")


def test_a_pooled_user_model_runs_whole_images_with_a_warning():
    lst = xlstsr.datasets.sample_scene(n_times=1, size=160)["lst_1km"].fillna(295.0)
    with pytest.warns(UserWarning, match=r"not shift-equivariant.*whole images"):
        m = TorchModelMethod(_PoolNet(), device="cpu")
    assert m.spatially_local is False
    whole = _PoolNet()(torch.as_tensor(lst.values[:, None], dtype=torch.float32))[:, 0].numpy()
    r = xlstsr.upscale(lst.chunk({"x": 12, "y": 12}), 4, method=m).compute().values
    np.testing.assert_allclose(r, whole, atol=1e-3)


def test_a_declared_non_local_model_and_local_models_are_not_warned(lst):
    class Whole(_PoolNet):
        spatially_local = False

    conv = _Conv()
    conv.factor, conv.n_guide = 4, 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert TorchModelMethod(Whole()).spatially_local is False
        assert TorchModelMethod(conv).spatially_local is True
        for name in ("sisr", "disr"):
            xlstsr.methods.get_method(name)


def test_the_shift_check_copies_inputs_and_outputs():
    """A local model that normalises its input in place, or returns one buffer of its own on
    every call, is shift-equivariant: the check must not take it for a shift-variant one."""

    class InPlace(torch.nn.Module):
        factor, n_guide, receptive_field = 4, 0, 0

        def forward(self, lst, guide=None):
            lst -= 300.0
            return F.interpolate(lst, scale_factor=4, mode="nearest") + 300.0

    class Static(torch.nn.Module):
        factor, n_guide, receptive_field = 4, 0, 0

        def __init__(self):
            super().__init__()
            self.buf = None

        def forward(self, lst, guide=None):
            up = F.interpolate(lst, scale_factor=4, mode="nearest")
            if self.buf is None or self.buf.shape != up.shape:
                self.buf = torch.empty_like(up)
            return self.buf.copy_(up)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert TorchModelMethod(InPlace()).spatially_local is True
        assert TorchModelMethod(Static()).spatially_local is True


# review 40a: the shift check is advisory; it must not refuse or misjudge a working model


def test_a_forward_that_asserts_its_sizes_still_builds():
    class Needs32(torch.nn.Module):  # a 5-level U-Net's size assert; its reach declared
        factor, n_guide, receptive_field = 4, 0, 2

        def forward(self, lst, guide=None):
            assert lst.shape[-1] % 32 == 0, "size must be a multiple of 32"
            return torch.nn.functional.interpolate(lst, scale_factor=4, mode="nearest")

    assert TorchModelMethod(Needs32(), device="cpu").spatially_local


def test_a_model_with_randomness_is_not_called_shift_variant():
    class Noisy(torch.nn.Module):  # MC dropout / noise left on: local, equivariant in law
        factor, n_guide, receptive_field = 4, 0, 1

        def forward(self, lst, guide=None):
            up = torch.nn.functional.interpolate(lst, scale_factor=4, mode="nearest")
            return up + 0.01 * torch.randn_like(up)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert TorchModelMethod(Noisy(), device="cpu").spatially_local


def test_a_model_that_declares_itself_local_is_taken_at_its_word():
    class Pooled(torch.nn.Module):  # a pooled level: not shift-equivariant
        factor, n_guide, receptive_field = 4, 0, 2

        def forward(self, lst, guide=None):
            back = torch.nn.functional.interpolate(
                torch.nn.functional.avg_pool2d(lst, 2), scale_factor=2, mode="nearest")
            return torch.nn.functional.interpolate(lst + (lst - back), scale_factor=4,
                                                   mode="nearest")

    declared = type("Declared", (Pooled,), {"spatially_local": True})  # its author's word
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert TorchModelMethod(declared(), device="cpu").spatially_local
    with pytest.warns(UserWarning, match="not shift-equivariant"):
        assert not TorchModelMethod(Pooled(), device="cpu").spatially_local
