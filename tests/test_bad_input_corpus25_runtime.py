"""Bad-input corpus 25 (runtime): models that differ only in a function they hold shared one
weights hash (and so one cached model), and forwards on a GPU ran with TF32 on (reproducers in
notes/corpus25b)."""

from __future__ import annotations

import functools
import threading
import types

import numpy as np
import pytest
import torch

import xlstsr
from xlstsr.methods.torch_model import TorchModelMethod
from xlstsr.nn import runtime
from xlstsr.nn.ops import cubic_upsample_torch

Fn = torch.nn.functional


class _Up(torch.nn.Module):
    """A parameter-free model: upsampling by the function it holds."""

    factor, n_guide, receptive_field = 4, 0, 2

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, lst):
        return self.fn(lst)


class _Act(torch.nn.Module):
    """One seeded conv layer and the activation it holds (same seed: same weights)."""

    factor, n_guide, receptive_field = 4, 0, 2

    def __init__(self, act):
        super().__init__()
        torch.manual_seed(0)
        self.c = torch.nn.Conv2d(1, 16, 3, padding=1)
        self.act = act

    def forward(self, lst):
        return Fn.interpolate(lst, scale_factor=4) + Fn.pixel_shuffle(
            self.act(self.c((lst - 300) / 10)), 4)


class _Listed(torch.nn.Module):
    """Convolutions held in a plain list (not registered: not in the state dict)."""

    factor, n_guide, receptive_field = 4, 0, 2

    def __init__(self, seed):
        super().__init__()
        torch.manual_seed(seed)
        self.convs = [torch.nn.Conv2d(1, 16, 3, padding=1)]

    def forward(self, lst):
        return Fn.interpolate(lst, scale_factor=4) + Fn.pixel_shuffle(
            self.convs[0]((lst - 300) / 10), 4)


def _scaler(offset):
    """Functions made by one factory: they differ only in their closure's value."""
    def up(lst):
        return Fn.interpolate(lst, scale_factor=4) + offset
    return up


def _plus(lst, offset=0.0):
    return Fn.interpolate(lst, scale_factor=4) + offset


def _plus2(lst, offset=2.0):
    return Fn.interpolate(lst, scale_factor=4) + offset


PAIRS = {
    "partial": lambda i: _Up(functools.partial(Fn.interpolate, scale_factor=4,
                                               mode=("nearest", "bilinear")[i])),
    "builtin": lambda i: _Act((torch.tanh, torch.sigmoid)[i]),
    "closure": lambda i: _Up(_scaler((0.0, 2.0)[i])),
    "defaults": lambda i: _Up((_plus, _plus2)[i]),
    "modules in a list": lambda i: _Listed(i),
    "object": lambda i: _Up(types.SimpleNamespace(offset=float(i))),
}


# -- 1. the weights hash of models differing only in a function or object they hold ----------

@pytest.mark.parametrize("make", PAIRS.values(), ids=PAIRS.keys())
def test_models_differing_in_a_held_function_get_their_own_hash(make):
    """partials, builtins (torch.tanh), closure values, defaults and modules in a plain list
    were hashed by their type or not at all: the second model was served the first's copy."""
    assert runtime.weights_hash(make(0)) != runtime.weights_hash(make(1))
    # the same model built twice, or copied by the method, still shares one cache entry
    assert runtime.weights_hash(make(1)) == runtime.weights_hash(make(1))
    assert TorchModelMethod(make(1)).weights_hash == TorchModelMethod(make(1)).weights_hash


def test_objects_without_a_stable_form_never_share_a_hash():
    """An object nothing describes (a generator inside) is hashed by its identity: two of them
    never share a hash, one object always gives the same."""
    a, b = (_Up(types.SimpleNamespace(fn=(i for i in range(2)))) for _ in range(2))
    assert runtime.weights_hash(a) != runtime.weights_hash(b)
    assert runtime.weights_hash(a) == runtime.weights_hash(a)
    m = _Up(None)
    m.fn = m.forward  # a bound method of the module itself: no endless recursion
    assert runtime.weights_hash(m) == runtime.weights_hash(m)


@pytest.mark.parametrize("name", ["partial", "builtin", "closure", "modules in a list"])
def test_upscale_runs_each_models_own_function(name):
    lst = xlstsr.datasets.sample_scene(n_times=1, size=32)["lst_1km"]
    x = torch.from_numpy(lst.values[:, None].astype("float32"))
    for i in (0, 1):  # the second after the first: the process cache holds the first
        model = PAIRS[name](i)
        got = xlstsr.upscale(lst, 4, TorchModelMethod(model)).values
        with torch.no_grad():
            want = model(x)[:, 0].numpy()
        ok = np.isfinite(got) & np.isfinite(want)  # away from the gaps (the engine fills them)
        assert ok.mean() > 0.5
        assert float(np.abs(got[ok] - want[ok]).max()) < 1e-3


# -- 2. TF32 off in the library's forwards on a GPU ---------------------------------------------

def _tf32():
    return torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32


class _Record(torch.nn.Module):
    """Records the TF32 settings its forward runs under."""

    factor, n_guide, receptive_field = 4, 0, 2

    def forward(self, lst):
        self.seen = _tf32()
        return cubic_upsample_torch(lst, 4)


@pytest.fixture
def tf32_on(monkeypatch):
    """TF32 on as torch's GPU default (cuDNN) and a user's choice (matmul), the CUDA check
    answering yes on this CPU; the settings are put back after the test."""
    saved = runtime._tf32_settings()
    monkeypatch.setattr(runtime, "_on_cuda", lambda t: True)
    torch.backends.cudnn.allow_tf32 = True
    torch.set_float32_matmul_precision("high")  # TF32 matmuls
    yield
    runtime._restore_tf32(saved)


def test_forward_on_a_gpu_runs_without_tf32_and_restores_the_settings(tf32_on):
    """cuDNN's default TF32 rounds the Kelvin the bundled bicubic convolves to 0.25 K steps."""
    m = _Record()
    runtime.forward(m, torch.full((1, 1, 4, 4), 300.0), None)
    assert m.seen == (False, False)
    assert _tf32() == (True, True)
    assert torch.get_float32_matmul_precision() == "high"  # not only allow_tf32: as it was
    with runtime.full_float32():  # nested: the outer block's end restores
        runtime.forward(m, torch.full((1, 1, 4, 4), 300.0), None)
        assert m.seen == (False, False) and _tf32() == (False, False)
    assert _tf32() == (True, True)


def test_upscale_on_a_gpu_runs_without_tf32(tf32_on):
    lst = xlstsr.datasets.sample_scene(n_times=1, size=32)["lst_1km"]
    m = TorchModelMethod(_Record())
    seen = []
    real = runtime.forward

    def spy(model, *args, **kwargs):
        out = real(model, *args, **kwargs)
        seen.append(model.seen)
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runtime, "forward", spy)
        xlstsr.upscale(lst, 4, m)
    assert seen and set(seen) == {(False, False)}
    assert _tf32() == (True, True)


def test_concurrent_forwards_restore_the_settings_when_the_last_ends(tf32_on):
    """The settings are process-wide: one thread's end must not turn TF32 back on under
    another's forward, and the last restores them."""
    inside, release = threading.Barrier(2), threading.Event()
    seen = []

    class _Slow(_Record):
        def forward(self, lst):
            inside.wait(timeout=10)
            if threading.current_thread().name == "late":
                release.wait(timeout=10)
            out = super().forward(lst)
            seen.append(self.seen)
            return out

    def run():
        runtime.forward(_Slow(), torch.full((1, 1, 4, 4), 300.0), None)

    early = threading.Thread(target=run)
    late = threading.Thread(target=run, name="late")
    early.start()
    late.start()
    early.join(timeout=10)
    release.set()
    late.join(timeout=10)
    assert seen == [(False, False), (False, False)]
    assert _tf32() == (True, True)


def test_the_bicubic_called_on_its_own_runs_without_tf32(tf32_on, monkeypatch):
    seen = []
    conv1d = Fn.conv1d

    def spy(*args, **kwargs):
        seen.append(_tf32())
        return conv1d(*args, **kwargs)

    monkeypatch.setattr(Fn, "conv1d", spy)
    cubic_upsample_torch(torch.full((1, 1, 4, 4), 300.0), 4)
    assert seen and set(seen) == {(False, False)}
    assert _tf32() == (True, True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_equals_cpu():
    x = 300 + 5 * torch.randn(1, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    from xlstsr.nn.weights import load_weights

    cpu, gpu = load_weights("unet").eval(), load_weights("unet", device="cuda").eval()
    g = torch.rand(1, cpu.n_guide, 256, 256, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        a = runtime.forward(cpu, x, g)
        b = runtime.forward(gpu, x.cuda(), g.cuda()).cpu()
    assert float((a - b).abs().max()) < 1e-3


def test_serialize_model_takes_a_weight_norm_model_after_a_forward():
    """The bytes a distributed worker receives: deepcopy refused a legacy weight_norm module
    whose derived weight had been computed by a forward (a raw RuntimeError)."""
    import warnings

    from xlstsr.nn.runtime import deserialize_model, serialize_model

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation of the legacy weight_norm
        m = torch.nn.utils.weight_norm(torch.nn.Conv2d(1, 1, 3, padding=1))
    x = torch.rand(1, 1, 8, 8)
    want = m(x)  # outside inference mode: the derived weight is now a non-leaf tensor
    back = deserialize_model(serialize_model(m), "cpu")
    with torch.no_grad():
        assert torch.allclose(back(x), want.detach())
