"""Probe 46 N: private data attributes in weights_hash, user models that fail in channels-last,
an empty model name, the LST-range advice for a TorchModelMethod instance."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import xlstsr
from xlstsr.errors import CheckpointError
from xlstsr.methods.torch_model import TorchModelMethod
from xlstsr.nn.fingerprint import weights_hash

F = torch.nn.functional


@pytest.fixture(scope="module")
def lst():
    return xlstsr.datasets.sample_scene(n_times=1, size=32)["lst_1km"]


# -- 1. private tensors, arrays and lists are part of the model -----------------------------------


class _Offset(torch.nn.Module):
    """Nearest upsampling plus a calibrated offset held in a private attribute."""

    factor, n_guide, receptive_field = 4, 0, 0

    def __init__(self, offset) -> None:
        super().__init__()
        self._offset = offset

    def forward(self, lst, guide=None):
        off = self._offset
        if isinstance(off, dict):
            off = off["k"]
        if isinstance(off, (list, tuple)):
            off = off[0]
        return F.interpolate(lst, scale_factor=4, mode="nearest") + torch.as_tensor(off)


@pytest.mark.parametrize("make", [
    lambda k: torch.tensor(k),
    lambda k: np.array([k], np.float32),
    lambda k: [k],
    lambda k: (torch.tensor(k), "label"),
    lambda k: {"k": np.float32(k)},
    lambda k: [[torch.tensor(k)]],
], ids=["tensor", "ndarray", "list", "tuple-with-tensor", "dict", "nested-list"])
def test_private_data_attributes_tell_models_apart(make):
    assert weights_hash(_Offset(make(0.0))) != weights_hash(_Offset(make(5.0)))
    assert weights_hash(_Offset(make(5.0))) == weights_hash(_Offset(make(5.0)))


def test_models_differing_in_a_private_tensor_do_not_share_the_cache(lst):
    a = xlstsr.upscale(lst, 4, method="sisr", method_options={"model": _Offset(torch.tensor(0.0))})
    b = xlstsr.upscale(lst, 4, method="sisr", method_options={"model": _Offset(torch.tensor(5.0))})
    assert float((b - a).mean()) == pytest.approx(5.0, abs=1e-4)
    lazy = [xlstsr.upscale(lst.chunk({"y": 16}), 4, method="sisr",
                           method_options={"model": _Offset(torch.tensor(k))}) for k in (0.0, 5.0)]
    assert lazy[0].data.name != lazy[1].data.name
    assert float((lazy[1] - lazy[0]).mean()) == pytest.approx(5.0, abs=1e-4)


class _Buffered(torch.nn.Module):
    """A private tensor the forward writes into (a work buffer): state, not a constant."""

    factor, n_guide, receptive_field = 4, 0, 0

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 1, 1)
        self._buf = torch.zeros(1)
        self._seen = {}

    def forward(self, lst, guide=None):
        self._buf.copy_(lst.mean().reshape(1))
        self._seen[lst.shape[-1]] = True
        return self.conv(F.interpolate(lst, scale_factor=4, mode="nearest"))


def test_private_data_the_forward_changes_leaves_the_hash_alone():
    torch.manual_seed(0)
    m = _Buffered()
    before = weights_hash(m)
    with torch.no_grad():
        m(torch.full((1, 1, 4, 4), 300.0))
    assert float(m._buf) == 300.0
    assert weights_hash(m) == before


class _Head(torch.nn.Module):
    def forward(self, x):
        return x


class _Outer(torch.nn.Module):
    """The parent's code reads a private value it set on its child."""

    factor, n_guide, receptive_field = 4, 0, 0

    def __init__(self, s) -> None:
        super().__init__()
        self.head = _Head()
        self.head._s = s

    def forward(self, lst, guide=None):
        return self.head(F.interpolate(lst, scale_factor=4)) * self.head._s


def test_a_childs_private_value_read_by_the_parent_counts():
    assert weights_hash(_Outer(1.0)) != weights_hash(_Outer(2.0))
    assert weights_hash(_Outer(torch.tensor(1.0))) != weights_hash(_Outer(torch.tensor(2.0)))


# -- 2. a user's model that fails in channels-last -------------------------------------------------


class _WSConv2d(torch.nn.Conv2d):
    """Weight-standardised convolution: the weight flattened with ``.view``."""

    def forward(self, x):
        w = self.weight
        flat = w.view(w.size(0), -1)
        w = ((flat - flat.mean(1, keepdim=True)) / (flat.std(1, keepdim=True) + 1e-5)).view_as(w)
        return F.conv2d(x, w, self.bias, self.stride, self.padding)


class _WSNet(torch.nn.Module):
    factor, n_guide, receptive_field, spatially_local = 4, 0, 2, True

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.c1 = _WSConv2d(1, 8, 3, padding=1)
        self.c2 = _WSConv2d(8, 16, 3, padding=1)

    def forward(self, lst, guide=None):
        up = F.interpolate(lst, scale_factor=4, mode="bicubic")
        return up + 0.01 * F.pixel_shuffle(self.c2(F.relu(self.c1(lst - 300))), 4)


def test_a_model_failing_in_channels_last_runs_contiguous(lst):
    ref = xlstsr.upscale(lst, 4, method=TorchModelMethod(_WSNet(), channels_last=False))
    method = TorchModelMethod(_WSNet())
    assert method.channels_last is False
    out = xlstsr.upscale(lst, 4, method="sisr", method_options={"model": _WSNet()})
    lazy = xlstsr.upscale(lst.chunk({"y": 8}), 4, method="sisr",
                          method_options={"model": _WSNet()}).compute()
    np.testing.assert_allclose(out.values, ref.values, atol=1e-4)
    np.testing.assert_allclose(lazy.values, ref.values, atol=1e-4)


def test_sisr_and_disr_take_channels_last():
    assert xlstsr.methods.deep.SISR(channels_last=False).channels_last is False
    assert xlstsr.methods.deep.SISR().channels_last is True  # the bundled weights: unchanged
    assert xlstsr.methods.deep.DISR(channels_last=False).channels_last is False


def test_sisr_channels_last_option_by_name(lst):
    out = xlstsr.upscale(lst, 4, method="sisr",
                         method_options={"model": _WSNet(), "channels_last": False})
    assert np.isfinite(out.values).any()


# -- 3. an empty model name -------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["model", "weights", "checkpoint"])
def test_an_empty_model_name_is_named(lst, key):
    with pytest.raises(CheckpointError, match="model name is empty") as e:
        xlstsr.upscale(lst, 4, method="sisr", method_options={key: ""})
    assert "folder" not in str(e.value)


# -- 4. the LST-range advice for a TorchModelMethod instance ---------------------------------------


def test_lst_range_advice_for_a_method_instance_works_when_followed():
    from xlstsr.nn.weights import load_weights

    scene = xlstsr.datasets.sample_scene(n_times=1, size=32)
    hot = scene["lst_1km"] + 45.0
    hot.attrs.update(scene["lst_1km"].attrs)
    module = load_weights("fast")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        xlstsr.upscale(hot, 4, method=TorchModelMethod(module), guide=scene["ndvi_250m"])
    said = [str(x.message) for x in w if "far outside" in str(x.message)]
    assert said and "method_options={'model': <the module>, 'conserve': True}" in said[0]
    with warnings.catch_warnings(record=True) as w:  # followed: runs, and nothing to warn of
        warnings.simplefilter("always")
        out = xlstsr.upscale(hot, 4, method="disr", guide=scene["ndvi_250m"],
                             method_options={"model": module, "conserve": True})
    assert not [x for x in w if "far outside" in str(x.message)]
    assert np.isfinite(out.values).any()
