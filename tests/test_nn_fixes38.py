"""nn fixes 38 (reproducers in notes/probe38n): weights_hash missed torch modules' settings their
repr hides (nn.Upsample's align_corners, nn.AvgPool2d's count_include_pad) and TorchScript
modules' code; a model reusing its output buffer overwrote earlier batches; measure_receptive_field
reset submodules' train/eval modes; a state_dict object given as the model got no advice."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from xlstsr.methods.torch_model import TorchModelMethod, resolve_model  # noqa: E402
from xlstsr.nn.fingerprint import weights_hash  # noqa: E402
from xlstsr.nn.runtime import measure_receptive_field  # noqa: E402


class _Holder(nn.Module):
    factor, n_guide, receptive_field = 4, 0, 2

    def __init__(self, sub):
        super().__init__()
        self.sub = sub

    def forward(self, lst, guide=None):
        return self.sub(lst)


# -- 1: settings of torch modules that repr() does not show -----------------------------------
@pytest.mark.parametrize("make", [
    lambda v: nn.Upsample(scale_factor=4, mode="bilinear", align_corners=v),
    lambda v: nn.AvgPool2d(3, 1, 1, count_include_pad=v),
    lambda v: nn.AvgPool2d(3, 1, 1, ceil_mode=v),
])
def test_hidden_torch_settings_change_weights_hash(make):
    a, b = _Holder(make(False)), _Holder(make(True))
    assert repr(a) == repr(b)  # what hid them
    assert weights_hash(a) != weights_hash(b)
    assert weights_hash(a) == weights_hash(_Holder(make(False)))


def test_upsample_align_corners_default_false_and_true_all_differ():
    hs = {weights_hash(_Holder(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=v)))
          for v in (None, False, True)}
    assert len(hs) == 3


def test_setting_changed_after_construction_changes_weights_hash():
    m = _Holder(nn.Upsample(scale_factor=2, mode="bilinear"))
    before = weights_hash(m)
    m.sub.align_corners = True
    assert weights_hash(m) != before


_HASH_SCRIPT = """
import torch
from torch import nn
from xlstsr.nn.fingerprint import weights_hash
torch.manual_seed(0)
m = nn.Sequential(nn.Conv2d(1, 4, 3, padding="same"), nn.AvgPool2d(3, 1, 1, count_include_pad=False),
                  nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True))
print(weights_hash(m))
"""


def test_hidden_settings_hash_is_stable_across_processes():
    # one run in this process, one in a fresh process whose string hashing differs
    seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    child = subprocess.Popen([sys.executable, "-c", _HASH_SCRIPT + "print(hash('xlstsr'))\n"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONHASHSEED": seed})
    buf = io.StringIO()
    with torch.random.fork_rng(), contextlib.redirect_stdout(buf):
        exec(_HASH_SCRIPT, {"__name__": "__main__"})
    out, err = child.communicate(timeout=300)
    assert child.returncode == 0, err[-2000:]
    lines = out.strip().splitlines()
    assert int(lines[-1]) != hash("xlstsr")  # string hashing differs
    outs = {buf.getvalue().strip(), lines[-2].strip()}
    assert len(outs) == 1


def test_models_without_hidden_settings_keep_their_hash():
    # a model of common layers at their defaults or with shown settings: nothing added, so
    # resume records written before keep matching (bytes as the old code hashed them)
    import hashlib

    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, dilation=1), nn.BatchNorm2d(4),
                      nn.Upsample(scale_factor=2, mode="bilinear"), nn.AvgPool2d(3, 1, 1))
    h = hashlib.sha256()
    h.update(b"torch.nn.modules.container.Sequential")
    h.update(repr(m).encode())
    for attr in ("factor", "n_guide", "receptive_field", "spatially_local", "accepts_nan_guide"):
        h.update(f"{attr}=None;".encode())
    for sub in m.modules():
        code = type(sub).forward.__code__
        h.update(code.co_code)
        h.update(repr(code.co_consts).encode())
    for k, v in m.state_dict().items():
        t = v.detach().cpu().contiguous()
        h.update(k.encode())
        h.update(f"{t.dtype}{tuple(t.shape)}".encode() + (t.reshape(-1).numpy().tobytes()
                                                           if t.numel() else b""))
    assert weights_hash(m) == h.hexdigest()[:32]


# -- 2: TorchScript modules' code -------------------------------------------------------------
class _Interp(nn.Module):
    def __init__(self, mode):
        super().__init__()
        self.mode = mode
        self.c = nn.Conv2d(1, 1, 1)

    def forward(self, lst):
        return F.interpolate(lst, scale_factor=4, mode=self.mode)


class _Scale(nn.Module):
    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, lst):
        return lst * torch.tensor([self.k])


def _archive(tmp_path, module, name):
    torch.manual_seed(0)
    path = tmp_path / f"{name}.pt"
    torch.jit.save(torch.jit.trace(module, torch.rand(1, 1, 8, 8) + 300), str(path))
    return str(path)


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
def test_torchscript_code_and_constants_change_weights_hash(tmp_path):
    near = _archive(tmp_path, _Interp("nearest"), "near")
    bil = _archive(tmp_path, _Interp("bilinear"), "bil")
    two = _archive(tmp_path, _Scale(2.0), "two")
    three = _archive(tmp_path, _Scale(3.0), "three")
    a, b = _Holder(torch.jit.load(near)), _Holder(torch.jit.load(bil))
    assert weights_hash(a) != weights_hash(b)
    assert weights_hash(_Holder(torch.jit.load(two))) != weights_hash(
        _Holder(torch.jit.load(three)))
    # the same archive loaded again (other mangled class names in this process): one hash
    assert weights_hash(a) == weights_hash(_Holder(torch.jit.load(near)))


# -- 3: a model that returns one output buffer for every forward ------------------------------
class _StaticOut(nn.Module):
    factor, n_guide, receptive_field = 4, 0, 2

    def __init__(self):
        super().__init__()
        self._out = None

    def forward(self, lst, guide=None):
        y = F.interpolate(lst, scale_factor=4, mode="bilinear")
        if self._out is None or self._out.shape != y.shape:
            self._out = torch.empty_like(y)
        self._out.copy_(y)
        return self._out


def test_reused_output_buffer_keeps_each_batch():
    rng = np.random.default_rng(0)
    lst = (290 + 10 * rng.random((3, 8, 8))).astype("float32")
    m = TorchModelMethod(_StaticOut(), device="cpu", batch_size=1)
    out = m.upscale_block(lst, np.ones(lst.shape, bool), None, 4)
    want = F.interpolate(torch.from_numpy(lst[:, None]), scale_factor=4,
                         mode="bilinear").numpy()[:, 0]
    np.testing.assert_allclose(out, want, atol=1e-4)


def test_reused_output_buffer_keeps_each_block():
    # one batch per block (the default batch size): the next block's forward overwrote the
    # previous block's result, which was returned as a view of the model's buffer (review 38d)
    rng = np.random.default_rng(1)
    a, b = ((290 + 10 * rng.random((1, 8, 8))).astype("float32") for _ in range(2))
    m = TorchModelMethod(_StaticOut(), device="cpu")
    first = m.upscale_block(a, np.ones(a.shape, bool), None, 4)
    kept = first.copy()
    m.upscale_block(b, np.ones(b.shape, bool), None, 4)
    np.testing.assert_array_equal(first, kept)


class _Up(nn.Module):
    def __init__(self, mode):
        super().__init__()
        self.mode = mode

    def forward(self, x):
        return F.interpolate(x, scale_factor=4.0, mode=self.mode)


class _TracedNet(nn.Module):
    def __init__(self, mode):
        super().__init__()
        self.up, self.c = _Up(mode), nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x):
        return self.c(self.up(x))


def test_traced_submodules_code_changes_weights_hash_in_memory():
    # a traced submodule's forward is a Python wrapper: its traced code was not hashed, and
    # two traces differing only in a parameter-free submodule shared one hash (review 38d)
    def traced(mode):
        torch.manual_seed(0)
        return torch.jit.trace(_TracedNet(mode).eval(), torch.rand(1, 1, 8, 8))

    a, b = traced("nearest"), traced("bilinear")
    assert weights_hash(a) != weights_hash(b)
    assert weights_hash(a) == weights_hash(traced("nearest"))


def test_xlstsr_modules_settings_are_not_hashed_as_hidden():
    # their settings are fixed by their layers' shapes; hashing them changed the hashes (and
    # the resume records) of models trained before (review 38d)
    from xlstsr.nn import GuidedResCNN, ResCNN
    from xlstsr.nn.fingerprint import _hidden_settings

    for model in (ResCNN(8), GuidedResCNN(n_guide=3)):
        assert _hidden_settings(model) == b""


# -- 4: measure_receptive_field and submodules' modes -----------------------------------------
class _WithBN(nn.Module):
    factor, n_guide = 2, 0

    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, lst, guide=None):
        return F.pixel_shuffle(self.bn(self.c(lst - 300.0)), 2)[:, :1] + 300.0


@pytest.mark.parametrize("top", [True, False])
def test_measure_receptive_field_restores_every_submodule_mode(top):
    m = _WithBN()
    m.train(top)
    m.bn.train(not top)  # a BatchNorm frozen while fine-tuning (or the reverse)
    before = {n: s.training for n, s in m.named_modules()}
    assert measure_receptive_field(m) >= 1
    assert {n: s.training for n, s in m.named_modules()} == before


# -- 5: a state_dict object as the model ------------------------------------------------------
def _state():
    return nn.Sequential(nn.Conv2d(1, 1, 3)).state_dict()


def test_state_dict_object_gets_advice():
    with pytest.raises(TypeError, match=r"got OrderedDict: a bare state_dict .*load_state_dict"):
        resolve_model(_state())


def test_data_parallel_state_dict_object_gets_prefix_advice():
    sd = {f"module.{k}": v for k, v in _state().items()}
    with pytest.raises(TypeError, match=r"bare state_dict .*removeprefix\('module\.'\)"):
        resolve_model(sd)


def test_training_loop_checkpoint_object_gets_advice():
    with pytest.raises(TypeError, match=r"hand-written loop .*ckpt\['model_state_dict'\]"):
        resolve_model({"epoch": 3, "model_state_dict": _state()})


def test_other_objects_keep_the_plain_refusal():
    with pytest.raises(TypeError, match=r"got int$"):
        resolve_model(5)
