"""Runtime 36 (reproducers in notes/probe36n): weights_hash ignored the module-level globals a
user's forward reads (a cluster served the model cached with the old constant), a forward with
another signature failed with torch's raw TypeError, and the per-process model cache grew by one
model per call with updated weights, for the life of the process."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest
import torch

import xlstsr
from xlstsr.errors import XlstsrError
from xlstsr.nn import runtime
from xlstsr.nn.fingerprint import weights_hash

Fn = torch.nn.functional

# -- 1. globals the forward reads --------------------------------------------------------------

GAIN = 1.0
PADS = (1, 2)
COEFFS = np.array([0.5, 0.25])
OFFSET_T = torch.tensor([0.0])
LEVELS = [1.0]  # a list: documented as not hashed


def _helper(x):
    return x * COEFFS[0] + OFFSET_T[0]


class _Global(torch.nn.Module):
    factor, n_guide, receptive_field = 4, 0, 0

    def forward(self, lst, guide=None):
        return Fn.interpolate(lst, scale_factor=4, mode="nearest") + GAIN + PADS[0]


class _Helper(torch.nn.Module):
    factor, n_guide, receptive_field = 4, 0, 0

    def forward(self, lst, guide=None):
        return _helper(Fn.interpolate(lst, scale_factor=4, mode="nearest"))


class _Comprehension(torch.nn.Module):
    factor, n_guide, receptive_field = 4, 0, 0

    def forward(self, lst, guide=None):
        up = Fn.interpolate(lst, scale_factor=4, mode="nearest")
        return sum(up * c for c in [GAIN])


def _set(monkeypatch, name, value):
    monkeypatch.setattr(sys.modules[__name__], name, value)  # the test's own global


@pytest.mark.parametrize(("cls", "name", "new"), [
    (_Global, "GAIN", 3.0),
    (_Global, "PADS", (2, 2)),
    (_Helper, "COEFFS", np.array([0.5, 0.5])),   # read by a helper the forward calls
    (_Helper, "OFFSET_T", torch.tensor([1.0])),
    (_Comprehension, "GAIN", 2.0),                # read inside a comprehension
])
def test_a_global_the_forward_reads_changes_the_hash(monkeypatch, cls, name, new):
    before = weights_hash(cls())
    assert weights_hash(cls()) == before  # stable while nothing changes
    _set(monkeypatch, name, new)
    assert weights_hash(cls()) != before


def test_an_edited_helper_function_changes_the_hash(monkeypatch):
    before = weights_hash(_Helper())
    _set(monkeypatch, "_helper", lambda x: x * 2.0)
    assert weights_hash(_Helper()) != before


def test_a_global_not_read_and_library_callables_leave_the_hash(monkeypatch):
    before = weights_hash(_Global())
    _set(monkeypatch, "COEFFS", np.array([9.0]))   # _Global does not read it
    _set(monkeypatch, "LEVELS", [2.0])
    assert weights_hash(_Global()) == before


# -- 2. a forward with another signature -------------------------------------------------------


class _Stacked(torch.nn.Module):
    factor, n_guide, receptive_field = 4, 1, 2

    def __init__(self):
        super().__init__()
        self.c = torch.nn.Conv2d(2, 1, 3, padding=1)

    def forward(self, x):
        return x[:, :1] + self.c(x)


class _InnerTypeError(torch.nn.Module):
    factor, n_guide, receptive_field = 4, 1, 0

    def forward(self, lst, guide):
        return torch.cat(lst, guide)  # the forward's own bug: torch's TypeError stays


def test_a_forward_taking_one_tensor_is_explained():
    lst, guide = torch.full((1, 1, 8, 8), 300.0), torch.zeros((1, 1, 32, 32))
    with pytest.raises(XlstsrError, match=r"forward\(lst, guide\).*forward\(x\)") as e:
        runtime.forward(_Stacked(), lst, guide)
    assert "(1, 1, 32, 32)" in str(e.value) and "Wrap it" in str(e.value)
    s = xlstsr.datasets.sample_scene(n_times=1, size=16)
    with pytest.raises(XlstsrError, match=r"forward\(lst, guide\)"):
        xlstsr.upscale(s["lst_1km"], 4, method="disr", guide=s["ndvi_250m"],  # noqa: B018
                       method_options={"model": _Stacked()}).values


def test_a_type_error_inside_the_forward_propagates():
    lst, guide = torch.full((1, 1, 8, 8), 300.0), torch.zeros((1, 1, 32, 32))
    with pytest.raises(TypeError) as e:
        runtime.forward(_InnerTypeError(), lst, guide)
    assert not isinstance(e.value, XlstsrError)


# -- 3. the model cache's bound --------------------------------------------------------------


@pytest.fixture
def fresh_cache(monkeypatch):
    saved = list(runtime.model_cache().items())
    runtime.clear_model_cache()
    monkeypatch.setattr(runtime, "MODEL_CACHE_ENTRIES", 2)  # the documented setting
    yield
    runtime.clear_model_cache()
    runtime.model_cache().update(saved)


def _load(log):
    def load(dev):
        m = torch.nn.Linear(2, 2)
        log.append(m)
        return m
    return load


def test_the_cache_keeps_the_models_used_last(fresh_cache):
    log = []
    for i in range(6):
        runtime.cached_model(f"k{i}", "cpu", _load(log))
    assert len(runtime.model_cache()) == 2 and len(log) == 6
    runtime.cached_model("k4", "cpu", _load(log))  # used again: now the most recent
    runtime.cached_model("k6", "cpu", _load(log))
    assert [k for k, _ in runtime.model_cache()] == ["k4", "k6"]
    assert len(log) == 7  # k4 was not loaded again


def test_an_evicted_model_still_held_is_not_loaded_again(fresh_cache):
    log = []
    held = runtime.cached_model("a", "cpu", _load(log))
    for i in range(4):
        runtime.cached_model(f"k{i}", "cpu", _load(log))
    assert ("a", "cpu") not in runtime.model_cache()
    assert runtime.cached_model("a", "cpu", _load(log)) is held
    assert len(log) == 5


def test_a_task_keeps_its_shipped_model_while_others_load(fresh_cache):
    # a worker's task loads its model (load_state), other tasks load theirs, then the task's
    # forward asks for its model again, with no way to load it (its shipment is spent)
    got, ready, done = [], threading.Event(), threading.Event()

    def task():
        runtime.cached_model("mine", "cpu", _load([]))
        ready.set()
        done.wait(10)

        def unshipped(dev):
            raise XlstsrError("not shipped")
        got.append(runtime.cached_model("mine", "cpu", unshipped))

    t = threading.Thread(target=task)
    t.start()
    ready.wait(10)
    for i in range(4):
        runtime.cached_model(f"other{i}", "cpu", _load([]))
    done.set()
    t.join(10)
    assert len(got) == 1 and isinstance(got[0], torch.nn.Linear)


def test_clear_model_cache(fresh_cache):
    runtime.cached_model("a", "cpu", _load([]))
    runtime.clear_model_cache()
    assert len(runtime.model_cache()) == 0
    log = []
    runtime.cached_model("a", "cpu", _load(log))
    assert len(log) == 1


def test_upscale_with_updated_weights_keeps_a_bounded_cache(fresh_cache):
    class Net(torch.nn.Module):
        factor, n_guide, receptive_field = 4, 0, 1

        def __init__(self):
            super().__init__()
            self.c = torch.nn.Conv2d(1, 16, 3, padding=1)

        def forward(self, lst, guide=None):
            return Fn.interpolate(lst, scale_factor=4) + 0.0 * Fn.pixel_shuffle(self.c(lst), 4)

    lst = xlstsr.datasets.sample_scene(n_times=1, size=16)["lst_1km"]
    net = Net()
    for _ in range(5):
        with torch.no_grad():
            net.c.bias.add_(1e-3)  # one training epoch later
        xlstsr.upscale(lst, 4, method="sisr", method_options={"model": net}).compute()
    assert len(runtime.model_cache()) <= 2


class _NdviNamed(torch.nn.Module):
    factor, receptive_field = 4, 0  # no n_guide: called without a guide

    def forward(self, lst, ndvi):
        return lst


def test_a_guide_parameter_of_another_name_gets_the_n_guide_advice():
    """forward(self, lst, ndvi) without n_guide was told to wrap its forward (review 36b/4)."""
    with pytest.raises(XlstsrError, match=r"model.n_guide = 1"):
        runtime.forward(_NdviNamed(), torch.full((1, 1, 8, 8), 300.0), None)


def test_clear_model_cache_frees_the_models_idle_threads_got(fresh_cache):
    """Each thread keeps the model it got last; clear_model_cache (from client.run: another
    thread) kept those of idle worker threads alive (review 36b/3)."""
    import gc
    import weakref

    refs, got, release = [], threading.Event(), threading.Event()

    def idle_worker():
        m = runtime.cached_model("k", "cpu", lambda dev: torch.nn.Linear(4, 4))
        refs.append(weakref.ref(m))
        del m
        got.set()
        release.wait()

    t = threading.Thread(target=idle_worker)
    t.start()
    got.wait()
    try:
        runtime.clear_model_cache()
        gc.collect()
        assert refs[0]() is None
    finally:
        release.set()
        t.join()
