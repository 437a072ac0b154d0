"""Corpus 28 (nn): a user's model edited in a notebook kept its fingerprint (the cached old model
ran), a diverged test-time adaptation was never named (blamed on the guide's units), and the
nn submodules the README names were not reachable after ``import xlstsr``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import xlstsr

torch = pytest.importorskip("torch")

from xlstsr.errors import ImplausibleOutputError, XlstsrError  # noqa: E402
from xlstsr.methods import TorchModelMethod  # noqa: E402
from xlstsr.nn.adapt import Adaptation, adapt_model  # noqa: E402
from xlstsr.nn.fingerprint import weights_hash  # noqa: E402
from xlstsr.validate import check_output  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # (conftest.py)


@pytest.fixture(scope="module")
def lst():
    return xlstsr.datasets.sample_scene(n_times=1, size=32, cloud_fraction=0)["lst_1km"]


# -- 1. a model's fingerprint covers its whole class -------------------------------------------

CELL = '''
class MyModel(torch.nn.Module):
    factor, n_guide, receptive_field = 4, 0, 1
    bias = 0.0
    def post(self, x):
        return x + self.bias
    def forward(self, lst, guide=None):
        return self.post(torch.nn.functional.interpolate(lst, scale_factor=4, mode="nearest"))
'''


def _cell(src: str) -> torch.nn.Module:
    ns = {"torch": torch}
    exec(src, ns)  # a notebook cell run again: one class name, one forward
    return ns["MyModel"]()


def _direct(model: torch.nn.Module, lst) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(lst.values[:, None].astype("float32")))[:, 0].numpy()


def test_editing_a_class_constant_or_a_helper_method_changes_the_fingerprint(lst):
    """A class constant (bias 0 -> 5) or a helper method forward calls edited in a notebook
    cell kept the hash: upscale served the cached old model, 5 K off its own forward."""
    first = _cell(CELL)
    xlstsr.upscale(lst, 4, method=TorchModelMethod(first))  # cached under its hash
    for edited in (CELL.replace("bias = 0.0", "bias = 5.0"),
                   CELL.replace("return x + self.bias", "return x - 3.0")):
        model = _cell(edited)
        assert weights_hash(model) != weights_hash(first)
        out = xlstsr.upscale(lst, 4, method=TorchModelMethod(model)).values
        assert float(np.abs(out - _direct(model, lst)).max()) < 1e-3
    assert weights_hash(_cell(CELL)) == weights_hash(first)  # the same cell: one hash


def _factory(offset):
    class Offset(torch.nn.Module):
        factor, n_guide, receptive_field = 4, 0, 1

        def forward(self, lst, guide=None):
            return torch.nn.functional.interpolate(lst, scale_factor=4, mode="nearest") + offset

    return Offset()


@pytest.mark.parametrize("value", [np.float32, lambda v: torch.tensor(v)])
def test_factory_models_closing_over_arrays_or_tensors_differ(lst, value):
    """Closure values other than plain Python ones were left out: offsets 0 and 2 K (a numpy
    scalar, a tensor) shared one cache entry."""
    a, b = _factory(value(0.0)), _factory(value(2.0))
    assert weights_hash(a) != weights_hash(b)
    assert weights_hash(b) == weights_hash(_factory(value(2.0)))
    ua = xlstsr.upscale(lst, 4, method=TorchModelMethod(a)).values
    ub = xlstsr.upscale(lst, 4, method=TorchModelMethod(b)).values
    assert float(np.abs((ub - ua) - 2.0).max()) < 1e-3


_STABLE = '''
import json, torch
from xlstsr.nn.fingerprint import weights_hash
class Net(torch.nn.Module):
    factor, n_guide, receptive_field = 4, 0, 1
    names = {"b", "a", "c"}
    table = {"x": 1.0, "y": (2, "z")}
    coeffs = torch.arange(3.0)
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 1, 3)
        torch.nn.init.constant_(self.conv.weight, 0.1)
        torch.nn.init.constant_(self.conv.bias, 0.0)
    def forward(self, lst, guide=None):
        return self.conv(lst)
print(json.dumps(weights_hash(Net())))
'''


def test_a_user_class_hash_is_the_same_in_every_process():
    """The class is hashed by content (sets sorted, no memory address): resume checks compare
    hashes across processes, whatever their string hashing."""
    ns = {"__name__": "__main__"}
    exec(_STABLE.replace("print(json.dumps(weights_hash(Net())))", ""), ns)
    here = weights_hash(ns["Net"]())
    env = {**os.environ, "PYTHONHASHSEED": "1", "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-c", _STABLE], capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout.strip().splitlines()[-1]) == here


# -- 2. a diverged test-time adaptation is named, and the output check's causes ---------------

def test_a_diverging_adaptation_names_adapt_and_its_lr():
    """lr=1e-1 took the loss from 0.1 to 6e10; the refusal blamed the guide's units or a
    diverged training, never adapt's lr (default 1e-4)."""
    from xlstsr.nn import load_weights

    model = load_weights("rescnn")
    lst = 300 + np.random.default_rng(0).normal(0, 2, (16, 16)).astype(np.float32)
    with pytest.raises(XlstsrError, match=r"adapt=.*diverged.*lr=0\.1.*default 0\.0001"):
        adapt_model(model, lst, factor=4, config=Adaptation(steps=5, lr=1e-1))
    adapt_model(model, lst, factor=4, config=Adaptation(steps=5))  # the default: runs


def test_upscale_refuses_a_diverging_adaptation(lst):
    with pytest.raises(XlstsrError, match=r"adapt=.*lr=0\.1"):
        xlstsr.upscale(lst, 4, method="sisr", adapt={"steps": 5, "lr": 1e-1})


def _bad():
    src = np.full((1, 4, 4), 300.0)
    src[0, 0, 0] = 310.0
    out = np.full((1, 16, 16), 300.0)
    out[0, :2, :2] = -500.0
    return out, src


def test_output_check_names_the_adaptation_that_ran():
    out, src = _bad()
    with pytest.raises(ImplausibleOutputError, match=r"adapt=, lr=0\.01.*default 0\.0001"):
        check_output(out, src, "disr", guided=True, adapt=Adaptation(lr=1e-2))
    with pytest.raises(ImplausibleOutputError) as err:
        check_output(out, src, "disr", guided=True)
    assert "adapt" not in str(err.value)


def test_output_check_blames_the_guide_only_when_it_is_out_of_range():
    out, src = _bad()
    with pytest.raises(ImplausibleOutputError, match="NDVI in percent") as err:
        check_output(out, src, "disr", guided=True, guide=np.full((1, 1, 16, 16), 55.0))
    with pytest.raises(ImplausibleOutputError, match="not in Kelvin") as err:
        check_output(out, src, "disr", guided=True, guide=np.full((1, 1, 16, 16), 0.5))
    assert "other units" not in str(err.value)


class _CelsiusDISR(torch.nn.Module):
    factor, n_guide, receptive_field = 4, 1, 1

    def forward(self, lst, guide):
        up = torch.nn.functional.interpolate(lst, scale_factor=4, mode="nearest")
        return up - 273.15 - 5 * guide


def test_a_guided_model_in_celsius_is_told_its_output_units():
    """A guided model returning degrees Celsius on a correct 0-1 NDVI was told the guide was
    in other units (NDVI in percent)."""
    s = xlstsr.datasets.sample_scene(n_times=1, size=64, cloud_fraction=0)
    with pytest.raises(ImplausibleOutputError, match="Celsius") as err:
        xlstsr.upscale(s["lst_1km"], 4, method="disr", guide=s["ndvi_250m"],
                       model=_CelsiusDISR())
    assert "guide is in other units" not in str(err.value)


# -- 3. the nn submodules after `import xlstsr` -------------------------------------------------

def test_nn_submodules_are_reachable_after_import_xlstsr():
    """README's `xlstsr.nn.weights.list_weights()` and the docstrings' `xlstsr.nn.adapt` were
    AttributeError in a fresh interpreter; reaching a submodule does not import torch."""
    code = ("import sys, xlstsr\n"
            "w = xlstsr.nn.weights\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n"
            "assert 'rescnn' in w.list_weights()\n"
            "xlstsr.nn.adapt.Adaptation; xlstsr.nn.checkpoint.load_model\n"
            "assert 'adapt' in dir(xlstsr.nn)\n"
            "try:\n    xlstsr.nn.no_such_thing\nexcept AttributeError:\n    pass\n"
            "else:\n    raise SystemExit('no AttributeError')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]


class _HotDISR(_CelsiusDISR):
    """A guided model whose output is far beyond the scene (not Celsius: 5000 K)."""

    def forward(self, x, g):
        return super().forward(x, g) * 0 + 5000.0


def test_upscale_output_check_knows_its_guide_is_in_range():
    """upscale's own output check was given neither the guide nor the adaptation: a guided
    model's implausible output on a correct 0-1 NDVI was blamed on the guide's units."""
    s = xlstsr.datasets.sample_scene(n_times=1, size=64, cloud_fraction=0)
    with pytest.raises(ImplausibleOutputError) as err:
        xlstsr.upscale(s["lst_1km"], 4, method="disr", guide=s["ndvi_250m"], model=_HotDISR())
    assert "not in Kelvin" in str(err.value)
    assert "guide is in other units" not in str(err.value)
