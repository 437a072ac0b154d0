"""Bad-input corpus 32 (models): a checkpoint damaged inside a weight tensor loaded silently; a
hand-written loop's checkpoint holding a numpy scalar or argparse.Namespace was called "pickled
Python objects" with advice that failed; a module wrapping a TorchScript model did not travel to
worker processes; a torch model given as `method`, and a calibration in method_options, were not
told where they belong (reproducers in notes/corpus32a and corpus32c)."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch
from helpers import damage_largest_entry

import xlstsr
from xlstsr.errors import CheckpointError, MethodOptionError, XlstsrError
from xlstsr.methods.base import get_method
from xlstsr.nn import runtime
from xlstsr.nn.checkpoint import load_checkpoint, load_model, save_model
from xlstsr.nn.weights import list_weights, weights_path


def _small(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return xlstsr.nn.ResCNN(4, channels=4, n_blocks=1)


# -- a checkpoint damaged inside an entry (CRC-32 mismatch) -------------------------------------
def test_checkpoint_damaged_inside_a_weight_entry_is_refused_naming_the_entry(tmp_path):
    p = save_model(_small(), tmp_path / "m.pt")
    bad = tmp_path / "bad.pt"
    entry = damage_largest_entry(p, bad)
    assert torch.load(bad, weights_only=True)  # torch itself reads it without a word
    with pytest.raises(CheckpointError, match="CRC-32") as e:
        load_checkpoint(bad)
    assert entry in str(e.value) and "re-run training" in str(e.value)
    with pytest.raises(CheckpointError, match="CRC-32"):
        load_model(bad)


def test_every_bundled_weights_file_passes_the_entry_check():
    for name in list_weights():
        blob = load_checkpoint(weights_path(name))
        assert blob["state_dict"]
        assert isinstance(xlstsr.nn.load_weights(name), torch.nn.Module)


# -- a loop checkpoint holding numpy values or argparse arguments -------------------------------
@pytest.mark.parametrize("extra", [
    {"loss": np.float64(0.3)},
    {"best": np.float32(1.5), "history": np.arange(3.0)},
    {"args": argparse.Namespace(lr=1e-3, epochs=5)},
], ids=["np_float64", "np_array", "argparse"])
def test_loop_checkpoint_with_numpy_or_argparse_values_is_named_a_loop_checkpoint(tmp_path, extra):
    m = _small()
    p = tmp_path / "ckpt.pt"
    torch.save({"epoch": 3, "model_state_dict": m.state_dict(), **extra}, p)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(p)
    msg = str(e.value)
    assert "hand-written loop" in msg and "'model_state_dict'" in msg
    assert "pickled Python objects" not in msg
    assert "weights_only=False" in msg  # plain torch.load refuses such a file: the advice works
    blob = torch.load(p, weights_only=False)  # the advice, followed
    again = _small(seed=1)
    again.load_state_dict(blob["model_state_dict"])
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(),
                                                 m.state_dict().values()))


_RAN: list[str] = []


def _mark(tag: str) -> list[str]:
    _RAN.append(tag)
    return []


class _Evil:
    def __reduce__(self):
        return (_mark, ("ran",))


def test_loop_checkpoint_with_another_class_beside_numpy_is_not_unpickled(tmp_path):
    p = tmp_path / "ckpt.pt"
    torch.save({"epoch": 3, "model_state_dict": _small().state_dict(),
                "loss": np.float64(0.3), "hook": _Evil()}, p)
    _RAN.clear()
    with pytest.raises(CheckpointError, match="pickled Python objects"):
        load_checkpoint(p)
    assert not _RAN


# -- a module wrapping a TorchScript model, shipped to worker processes -------------------------
class _Wrap(torch.nn.Module):
    factor, n_guide = 4, 0

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, lst, guide=None):
        return self.inner(lst)


def _scripted(tmp_path):
    p = tmp_path / "ts.pt"
    torch.jit.trace(_small().eval(), torch.full((1, 1, 8, 8), 300.0)).save(str(p))
    return torch.jit.load(str(p))


def test_serialize_model_carries_a_torchscript_submodule(tmp_path):
    w = _Wrap(_scripted(tmp_path)).eval()
    x = torch.full((1, 1, 8, 8), 300.0) + torch.rand(1, 1, 8, 8)
    back = runtime.deserialize_model(runtime.serialize_model(w), "cpu")
    assert isinstance(back.inner, torch.jit.ScriptModule)
    with torch.no_grad():
        assert torch.allclose(back(x), w(x))
    assert isinstance(w.inner, torch.jit.ScriptModule)  # the user's module is left as it was


def test_serialize_model_refuses_an_unpicklable_model_naming_the_threads_scheduler(tmp_path):
    w = _Wrap(torch.nn.Identity())
    w.parts = [_scripted(tmp_path)]  # a TorchScript model outside the module tree
    with pytest.raises(XlstsrError, match="threads"):
        runtime.serialize_model(w)


# -- a torch model given as the method ----------------------------------------------------------
def test_torch_module_as_method_is_told_it_is_the_model_option():
    with pytest.raises(XlstsrError) as e:
        get_method(_small())
    msg = str(e.value)
    assert "method='sisr'" in msg and "model=" in msg and "\n" not in msg
    guided = xlstsr.nn.GuidedUNet(4, n_guide=1, base=4, levels=1)
    with pytest.raises(XlstsrError) as e:
        get_method(guided)
    assert "method='disr'" in str(e.value) and "guide=" in str(e.value)


# -- a calibration in method_options ------------------------------------------------------------
def test_calibration_in_method_options_points_to_upscale_argument():
    from xlstsr.calibration import Calibration

    with pytest.raises(MethodOptionError) as e:
        get_method("bicubic", calibration=Calibration(slope=1.02, offset=-5.0))
    msg = str(e.value)
    assert "calibration=" in msg and "upscale" in msg and "apply_calibration" in msg
