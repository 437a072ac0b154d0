"""Review 24 (runtime): weights_hash hashed the objects a user model holds by their pickle (a
tensor inside pickles with its memory address, a set in string-hash order, a lock not at all),
and re-hashed modules found in plain lists with no memo (exponential in the nesting; past the
depth limit pickled): the same model built twice, or in a new process, got another hash and a
resume of an unchanged run was refused (reproducers in notes/review24: 02, 03, 11, 12)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import types
from pathlib import Path

import pytest
import torch

import xlstsr
from xlstsr.nn import runtime

Fn = torch.nn.functional


class _Net(torch.nn.Module):
    """One seeded conv layer and the value it holds (same seed: same weights)."""

    factor, n_guide, receptive_field = 4, 0, 2

    def __init__(self, extra):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(1, 1, 3, padding=1)
        self.extra = extra

    def forward(self, lst):
        return Fn.interpolate(lst, scale_factor=4)


class _Stats:
    """A plain (non-module) normaliser holding tensors."""

    def __init__(self, mean=300.0):
        self.mean, self.std = torch.tensor([mean]), torch.tensor([10.0])


class _Slotted:
    __slots__ = ("bands", "scale")

    def __init__(self, scale=2.0):
        self.scale, self.bands = torch.tensor([scale]), {"red", "nir", "swir"}


class _Back:
    """An object referring back to the model that holds it, and to itself."""

    def __init__(self, model):
        self.model, self.me = model, self


def _self_list():
    a = [1.0]
    a.append(a)
    return a


def _recursive():
    def f(x):
        return f(x - 1) if x else 0
    return f


HELD = {
    "object holding tensors": _Stats,
    "slots": _Slotted,
    "lock": threading.Lock,
    "torch.Generator": lambda: torch.Generator().manual_seed(0),
    "a list holding itself": _self_list,
    "a recursive closure": _recursive,
    "an object holding a lambda": lambda: types.SimpleNamespace(fn=lambda x: x * 2),
}


# -- 1. the same model built twice, in one process and in two ----------------------------------

@pytest.mark.parametrize("make", HELD.values(), ids=HELD.keys())
def test_the_same_user_model_built_twice_gets_one_hash(make):
    """A tensor inside a plain object pickled with its memory address, a lock by identity:
    the cache missed, and a resume was refused."""
    assert runtime.weights_hash(_Net(make())) == runtime.weights_hash(_Net(make()))


def test_a_model_referring_to_itself_through_an_object_gets_one_hash():
    hashes = []
    for _ in range(2):
        m = _Net(None)
        m.extra = _Back(m)
        hashes.append(runtime.weights_hash(m))
    assert hashes[0] == hashes[1]


_SCRIPT = textwrap.dedent("""
    import json, logging, re, threading, torch
    from xlstsr.nn import runtime

    class Stats:
        def __init__(self):
            self.mean, self.std = torch.tensor([300.0]), torch.tensor([10.0])

    class Net(torch.nn.Module):
        factor = 4
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.conv = torch.nn.Conv2d(1, 1, 3, padding=1)
            self.bands = {"red", "nir", "swir1", "swir2", "blue", "green"}
            self.frozen = frozenset({"red", "nir", "swir"})
            self.by_band = dict.fromkeys({"red", "nir", "swir"}, Stats())
            self.stats = Stats()
            self.gen = torch.Generator().manual_seed(0)
            self.lock = threading.Lock()
            self.pattern = re.compile("B[0-9]+")
            self.log = logging.getLogger("xlstsr.user")
        def forward(self, x):  # a set constant: its repr follows string hashing
            mode = "nearest" if self.frozen & {"red", "nir", "swir"} else "bilinear"
            return torch.nn.functional.interpolate(x, scale_factor=4, mode=mode)

    print(json.dumps([runtime.weights_hash(Net()) for _ in range(2)]))
""")


def _hashes_in_new_processes(*seeds: int) -> list[list[str]]:
    """One fresh process per seed, all started at once."""
    procs = []
    for seed in seeds:
        env = {**os.environ, "PYTHONHASHSEED": str(seed), "OMP_NUM_THREADS": "1",
               "PYTHONPATH": str(Path(xlstsr.__file__).parents[1])}
        procs.append(subprocess.Popen([sys.executable, "-c", _SCRIPT], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    runs = []
    for q in procs:
        out, err = q.communicate(timeout=120)
        assert q.returncode == 0, err[-2000:]
        runs.append(json.loads(out.strip().splitlines()[-1]))
    return runs


def test_a_user_model_gets_one_hash_in_every_process():
    """Sets pickle in string-hash order (PYTHONHASHSEED), a set constant in forward's code
    prints in that order, a generator's pickle names its state tensor's address:
    upscale_to_zarr(mode='resume') of an unchanged run was refused."""
    a, b = _hashes_in_new_processes(1, 2)
    assert a[0] == a[1] == b[0] == b[1]


# -- 2. modules referring to each other in plain lists: hashed once -----------------------------

class _Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(4, 4, 3, padding=1)
        self.peers = []

    def forward(self, x):
        return self.conv(x)


class _Blocks(torch.nn.Module):
    """Blocks each holding a plain list of all of them: registered (a ModuleList) or not."""

    factor, n_guide, receptive_field = 4, 0, 2

    def __init__(self, n, registered=True, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        blocks = [_Block() for _ in range(n)]
        if registered:
            self.blocks = torch.nn.ModuleList(blocks)
        else:
            self.stages = blocks
        for b in blocks:
            b.peers = list(blocks)

    def forward(self, x):
        return x


@pytest.fixture
def module_hashes(monkeypatch):
    """The number of modules :func:`fingerprint._module_hash` hashed."""
    from xlstsr.nn import fingerprint

    calls = []
    real = fingerprint._module_hash

    def spy(model, *args):
        calls.append(model)
        return real(model, *args)

    monkeypatch.setattr(fingerprint, "_module_hash", spy)
    return calls


@pytest.mark.parametrize("registered", [True, False], ids=["ModuleList", "plain list"])
def test_blocks_holding_lists_of_their_siblings_are_hashed_once(registered, module_hashes):
    """Each block's list re-hashed every sibling to the depth limit: 4^4 module hashes for 4
    blocks (2 s for 8), and past the limit the blocks were pickled (another hash each build)."""
    h = runtime.weights_hash(_Blocks(4, registered))
    assert len(module_hashes) <= 1 + (0 if registered else 4)
    assert len({id(m) for m in module_hashes}) == len(module_hashes)
    assert h == runtime.weights_hash(_Blocks(4, registered))  # built twice: one hash


@pytest.mark.parametrize("registered", [True, False], ids=["ModuleList", "plain list"])
def test_blocks_referred_to_by_number_still_differ(registered):
    """A reference by number keeps apart models whose lists name other blocks, or whose
    blocks' weights differ."""
    a, b = _Blocks(3, registered), _Blocks(3, registered, seed=1)
    assert runtime.weights_hash(a) != runtime.weights_hash(b)
    c = _Blocks(3, registered)
    blocks = c.blocks if registered else c.stages
    blocks[0].peers = [blocks[1]]
    d = _Blocks(3, registered)
    blocks = d.blocks if registered else d.stages
    blocks[0].peers = [blocks[2]]
    assert runtime.weights_hash(c) != runtime.weights_hash(d)


# -- 3. what is now hashed by content still keeps different models apart ------------------------

PAIRS = {
    "set": lambda i: {"red", ("nir", "swir")[i]},
    "object holding tensors": lambda i: _Stats(300.0 + i),
    "slots": lambda i: _Slotted(2.0 + i),
    "torch.Generator": lambda i: torch.Generator().manual_seed(i),
    "dict of sets": lambda i: {"bands": frozenset({"red", ("nir", "swir")[i]})},
}


@pytest.mark.parametrize("make", PAIRS.values(), ids=PAIRS.keys())
def test_held_values_that_differ_give_different_hashes(make):
    assert runtime.weights_hash(_Net(make(0))) != runtime.weights_hash(_Net(make(1)))


def test_a_generator_that_has_drawn_numbers_gets_another_hash():
    """Its state is what it draws next (hashed by get_state())."""
    g = torch.Generator().manual_seed(0)
    before = runtime.weights_hash(_Net(g))
    torch.rand(3, generator=g)
    assert runtime.weights_hash(_Net(g)) != before


def test_a_user_class_redefined_with_other_code_gets_another_hash():
    """A class held by the model (called in forward) keeps its name when redefined in a
    notebook: its methods' code tells them apart."""
    classes = []
    for k in ("2.0", "3.0"):
        ns = {"__name__": __name__}
        exec(f"class Act:\n    def __call__(self, x):\n        return x * {k}\n", ns)
        classes.append(ns["Act"])
    assert classes[0].__qualname__ == classes[1].__qualname__
    a, b = (runtime.weights_hash(_Net(c)) for c in classes)
    assert a != b
    assert runtime.weights_hash(_Net(classes[0])) == a
