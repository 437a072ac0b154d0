"""Probe 47 R2 finding 8: a user model's private list, dict or tuple of numbers, tensors or
arrays, and a value set on one of torch's own submodules, in weights_hash (two models differing
only there shared a cache entry: the second model's upscale returned the first's output)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import xlstsr
from xlstsr.nn.fingerprint import weights_hash

F = torch.nn.functional
nn = torch.nn


@pytest.fixture(scope="module")
def lst():
    return xlstsr.datasets.sample_scene(n_times=1, size=32)["lst_1km"]


def _hash_and_warnings(model):
    """weights_hash of ``model`` and the private-data warnings it gave."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        h = weights_hash(model)
    return h, [str(x.message) for x in w if "not part of the model's fingerprint" in str(x.message)]


def _offset_seen(lst, model):
    """The mean offset ``model`` added in a SISR upscale (through the model cache)."""
    out = xlstsr.upscale(lst, 4, method="sisr", method_options={"model": model})
    return float((out.coarsen(y=4, x=4).mean() - lst).mean())


class _Base(nn.Module):
    factor, n_guide, receptive_field = 4, 0, 0

    def up(self, lst):
        return F.interpolate(lst, scale_factor=4, mode="nearest")


# -- (a) private lists, dicts and tuples: warned of, with advice that works -----------------------


def test_a_private_list_or_dict_is_warned_of_with_advice():
    class PrivList(_Base):
        def __init__(self, off) -> None:
            super().__init__()
            self._coef = [off, 0.0]

        def forward(self, lst, guide=None):
            return self.up(lst) + self._coef[0]

    class PrivDict(_Base):
        def __init__(self, off) -> None:
            super().__init__()
            self._p = {"off": torch.tensor(off)}

        def forward(self, lst, guide=None):
            return self.up(lst) + self._p["off"]

    class Nested(_Base):
        def __init__(self, off) -> None:
            super().__init__()
            self._pairs = ((off, 1.0), (np.float32(0.0), 2.0))

        def forward(self, lst, guide=None):
            return self.up(lst) + self._pairs[0][0]

    _, said = _hash_and_warnings(PrivList(1.0))
    assert len(said) == 1 and "'_coef'" in said[0]
    assert "self.coef (in __init__ and where it is read)" in said[0]
    assert "or a tuple of numbers: self._coef = (1.0, 0.0)" in said[0]
    assert not _hash_and_warnings(PrivList(5.0))[1]  # once per class
    _, said = _hash_and_warnings(PrivDict(1.0))
    assert len(said) == 1 and "'_p'" in said[0] and "self.p (in __init__" in said[0]
    _, said = _hash_and_warnings(Nested(1.0))
    assert len(said) == 1 and "'_pairs'" in said[0] and "self.pairs (in __init__" in said[0]


def test_the_advice_for_private_containers_followed_tells_models_apart(lst):
    class PubList(_Base):  # '_coef' made public
        def __init__(self, off) -> None:
            super().__init__()
            self.coef = [off, 0.0]

        def forward(self, lst, guide=None):
            return self.up(lst) + self.coef[0]

    class PrivTuple(_Base):  # the other advice: a tuple of numbers
        def __init__(self, off) -> None:
            super().__init__()
            self._coef = (off, 0.0)

        def forward(self, lst, guide=None):
            return self.up(lst) + self._coef[0]

    class PubDict(_Base):  # '_p' made public
        def __init__(self, off) -> None:
            super().__init__()
            self.p = {"off": torch.tensor(off)}

        def forward(self, lst, guide=None):
            return self.up(lst) + self.p["off"]

    for cls in (PubList, PrivTuple, PubDict):
        a, b = cls(1.0), cls(5.0)
        ha, said = _hash_and_warnings(a)
        assert not said
        assert ha != weights_hash(b) and ha == weights_hash(cls(1.0))
        assert _offset_seen(lst, a) == pytest.approx(1.0, abs=1e-3)
        assert _offset_seen(lst, b) == pytest.approx(5.0, abs=1e-3)


def test_a_forward_appending_to_a_private_list_leaves_the_hash_alone():
    class Logged(_Base):
        """The docstring's case: a log the model's own steps append to."""

        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 1)
            self.conv._seen = []
            self._val_losses = []
            self._stats = {}

        def forward(self, lst, guide=None):
            self._val_losses.append(float(lst.mean()))
            self._stats[len(self._stats)] = lst.mean()
            self.conv._seen.append(lst.shape[-1])
            return self.conv(self.up(lst))

    torch.manual_seed(0)
    m = Logged()
    before, said = _hash_and_warnings(m)
    assert not said  # empty: nothing to warn of yet
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a filled log is warned of (it may be a constant)
        for _ in range(2):
            with torch.no_grad():
                m(torch.full((1, 1, 4, 4), 300.0))
            assert weights_hash(m) == before


# -- (b) values set on torch's own submodules -----------------------------------------------------


def test_a_public_value_on_a_torch_submodule_is_hashed(lst):
    class SubPub(_Base):
        def __init__(self, off) -> None:
            super().__init__()
            self.c = nn.Conv2d(1, 1, 1)
            self.c.gain = float(off)

        def forward(self, lst, guide=None):
            return self.up(lst) + self.c.gain

    torch.manual_seed(0)
    a = SubPub(1.0)
    torch.manual_seed(0)
    b = SubPub(5.0)
    torch.manual_seed(0)
    assert weights_hash(a) != weights_hash(b) and weights_hash(a) == weights_hash(SubPub(1.0))
    before = weights_hash(a)
    assert _offset_seen(lst, a) == pytest.approx(1.0, abs=1e-3)
    assert _offset_seen(lst, b) == pytest.approx(5.0, abs=1e-3)
    assert weights_hash(a) == before  # forwards leave it alone


def test_a_private_value_on_a_torch_submodule_is_hashed_or_warned_of(lst):
    class SubPlain(_Base):
        def __init__(self, off) -> None:
            super().__init__()
            self.c = nn.Conv2d(1, 1, 1)
            self.c._gain = float(off)

        def forward(self, lst, guide=None):
            return self.up(lst) + self.c._gain

    class SubTensor(_Base):
        def __init__(self, off) -> None:
            super().__init__()
            self.c = nn.Conv2d(1, 1, 1)
            self.c._gain = torch.tensor(off)

        def forward(self, lst, guide=None):
            return self.up(lst) + self.c._gain

    class SubList(_Base):
        def __init__(self, off) -> None:
            super().__init__()
            self.c = nn.Conv2d(1, 1, 1)
            self.c._bias = [off]

        def forward(self, lst, guide=None):
            return self.up(lst) + self.c._bias[0]

    torch.manual_seed(0)
    a = SubPlain(1.0)
    torch.manual_seed(0)
    assert weights_hash(a) != weights_hash(SubPlain(5.0))  # a plain value: hashed
    _, said = _hash_and_warnings(SubTensor(1.0))
    assert len(said) == 1 and "SubTensor" in said[0] and "'c._gain'" in said[0]
    assert "self.c.register_buffer('_gain', tensor)" in said[0]
    _, said = _hash_and_warnings(SubList(1.0))
    # `bias` is the convolution's parameter: another public name is advised
    assert len(said) == 1 and "self.c.bias_value (in __init__" in said[0]


def test_the_advice_for_torch_submodules_followed_tells_models_apart(lst):
    class SubBuffer(_Base):  # self.c.register_buffer('_gain', tensor)
        def __init__(self, off) -> None:
            super().__init__()
            self.c = nn.Conv2d(1, 1, 1)
            self.c.register_buffer("_gain", torch.tensor(off), persistent=False)

        def forward(self, lst, guide=None):
            return self.up(lst) + self.c._gain

    class SubPubList(_Base):  # self.c.bias_value
        def __init__(self, off) -> None:
            super().__init__()
            self.c = nn.Conv2d(1, 1, 1)
            self.c.bias_value = [off]

        def forward(self, lst, guide=None):
            return self.up(lst) + self.c.bias_value[0]

    for cls in (SubBuffer, SubPubList):
        torch.manual_seed(0)
        a = cls(1.0)
        torch.manual_seed(0)
        b = cls(5.0)
        ha, said = _hash_and_warnings(a)
        assert not said and ha != weights_hash(b)
        assert _offset_seen(lst, a) == pytest.approx(1.0, abs=1e-3)
        assert _offset_seen(lst, b) == pytest.approx(5.0, abs=1e-3)


# -- the hashes of other models stay as they were ------------------------------------------------


class _Plain(nn.Module):
    """A plain user model: torch's modules with their own settings, public and private values."""

    factor = 4

    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.up = nn.Upsample(scale_factor=4, mode="bilinear", align_corners=True)
        self.rnn = nn.GRU(4, 4, batch_first=True)
        self.act = nn.PReLU()
        self.scale, self.coef, self._off, self._log, self._grid = 2.0, [0.5, 1.0], 3.0, [], None

    def forward(self, x, guide=None):
        self._log.append(1)
        return self.up(self.act(self.bn(self.c(x)))).mean(1, keepdim=True) * self.scale + self._off


def test_the_hashes_of_bundled_and_plain_models_are_unchanged():
    # computed on the tree before this change (4fa52ff); retraining a bundled model changes its
    # hash legitimately
    from xlstsr.nn.weights import load_weights

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert weights_hash(load_weights("rescnn")) == "5b667adb89f4c8f41ef5762b2bf4ace4"
        assert weights_hash(load_weights("unet")) == "0b7b96b9c856496447cd5e2ba551c4bd"
        torch.manual_seed(0)
        m = _Plain().eval()
        assert weights_hash(m) == _PLAIN_HASH
        torch.manual_seed(0)
        seq = nn.Sequential(nn.Upsample(scale_factor=4), nn.Conv2d(1, 1, 3, padding=1))
        # the protocol and the metadata xlstsr records, set on torch's module: as before
        seq.factor, seq.n_guide, seq.metadata = 4, 0, {"inputs": ["lst"]}
        assert weights_hash(seq) == _SEQ_HASH
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the filled log `_log` is warned of
        with torch.no_grad():
            m(torch.zeros(1, 1, 4, 4))
        assert weights_hash(m) == _PLAIN_HASH


_PLAIN_HASH = "202bca9601a9738b15bcbb7e495d02c4"
_SEQ_HASH = "27d24e7bd6c51ac2b396b59e6ce3b1a5"


# -- review 47b ------------------------------------------------------------------------------------


def _normed(kind, which):
    """A torch module under spectral_norm / weight_norm / a parametrization (on an RNN the
    weight's name is built at run time: ``weight_hh_l0``)."""
    utils = nn.utils
    if which in ("lstm", "gru", "rnn"):
        m, name = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[which](4, 4), "weight_hh_l0"
    else:
        m, name = (nn.Conv1d(4, 4, 1) if which == "conv" else nn.Linear(4, 4)), "weight"
    if kind == "spectral":
        return utils.spectral_norm(m, name=name)
    if kind == "weight":
        return utils.weight_norm(m, name=name)
    if kind == "prune":
        from torch.nn.utils import prune

        return prune.l1_unstructured(m, name=name, amount=0.5)
    if kind == "p_spectral":
        return utils.parametrizations.spectral_norm(m, name=name)
    return utils.parametrizations.weight_norm(m, name=name)


class _Normed(nn.Module):
    def __init__(self, kind, which) -> None:
        super().__init__()
        self.m = _normed(kind, which)
        self.rnn = which in ("lstm", "gru", "rnn")

    def forward(self, x):  # x: (1, 3, 4)
        return self.m(x)[0] if self.rnn else self.m(x)


_NORMED = [(k, w) for k in ("spectral", "weight", "prune", "p_spectral", "p_weight")
           for w in ("lstm", "gru", "rnn", "conv", "linear")]


def _normed_hashes(cases):
    """For each case: the hash of a seeded model (eval) before a forward, after it, and of a
    fresh instance loaded with its weights."""
    out = []
    x = torch.randn(1, 4, 3)
    for kind, which in cases:
        torch.manual_seed(0)
        m = _Normed(kind, which).eval()
        before = weights_hash(m)
        with torch.no_grad():
            m(x if which == "conv" else x.transpose(1, 2))
        torch.manual_seed(1)
        fresh = _Normed(kind, which).eval()
        fresh.load_state_dict(m.state_dict())
        out.append((before, weights_hash(m), weights_hash(fresh)))
    return out


def test_a_forward_under_spectral_or_weight_norm_leaves_the_hash_alone():
    # spectral_norm's forward pre-hook rewrites `weight_hh_l0`, a plain attribute on an RNN
    # (its code never names it): it was hashed by value and a forward changed the hash
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # weight_norm's deprecation
        hashes = _normed_hashes(_NORMED)
    for case, (before, after, fresh) in zip(_NORMED, hashes):
        assert before == after == fresh, case


def test_hashes_under_spectral_or_weight_norm_are_the_same_in_another_process():
    import os
    import subprocess
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    lib = os.path.dirname(os.path.dirname(os.path.abspath(xlstsr.__file__)))  # this xlstsr
    code = ("import sys, warnings, torch; torch.set_num_threads(1); "
            "warnings.simplefilter('ignore', FutureWarning); "
            f"sys.path[:0] = [{lib!r}, {here!r}]; "
            "from test_fingerprint47 import _normed_hashes, _NORMED; "
            "print(repr(hash('xlstsr'))); "
            "print(repr(_normed_hashes(_NORMED)))")
    # one run in this process, one in a fresh process whose string hashing differs
    seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    env = {**os.environ, "PYTHONHASHSEED": seed, "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env, cwd=here)
    with warnings.catch_warnings(), torch.random.fork_rng():
        warnings.simplefilter("ignore", FutureWarning)
        here_run = _normed_hashes(_NORMED)
    out, err = child.communicate(timeout=300)
    assert child.returncode == 0, err[-2000:]
    lines = out.strip().splitlines()
    assert eval(lines[-2]) != hash("xlstsr")  # string hashing differs
    runs = [here_run, eval(lines[-1])]
    # after a forward in one process == a fresh instance (no forward) in the other
    assert [h[1] for h in runs[0]] == [h[0] for h in runs[1]] == [h[2] for h in runs[1]]


def _advice_code(message):
    """The code snippets the private-data warning advises."""
    import re

    return re.findall(r"(self[\w.\[\]]*\.register_buffer\([^)]*\)|self[\w.\[\]]* = \([^)]*\)"
                      r"|self[\w.\[\]]+(?= \(in __init__))", message)


def test_the_advice_for_a_child_of_sequential_or_modulelist_is_valid_python(lst):
    class InSeq(_Base):
        def __init__(self, off) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(1, 1, 1), nn.ReLU())
            self.body[0]._gain = torch.tensor(off)
            self.heads = nn.ModuleList([nn.Conv2d(1, 1, 1)])
            self.heads[0]._coef = [off, 0.0]

        def forward(self, lst, guide=None):
            return self.up(lst) + self.body[0]._gain + self.heads[0]._coef[0]

    _, said = _hash_and_warnings(InSeq(1.0))
    assert len(said) == 1
    assert "self.body[0].register_buffer('_gain', tensor)" in said[0]
    assert "self.heads[0].coef (in __init__" in said[0]
    assert "self.heads[0]._coef = (1.0, 0.0)" in said[0]
    snippets = _advice_code(said[0])
    assert len(snippets) == 3
    for code in snippets:
        compile(code, "<advice>", "exec")  # `self.body.0...` was a SyntaxError

    class Followed(_Base):  # the advice, as written
        def __init__(self, off) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(1, 1, 1), nn.ReLU())
            self.body[0].register_buffer("_gain", torch.tensor(off), persistent=False)
            self.heads = nn.ModuleList([nn.Conv2d(1, 1, 1)])
            self.heads[0].coef = [off, 0.0]

        def forward(self, lst, guide=None):
            return self.up(lst) + self.body[0]._gain + self.heads[0].coef[0]

    torch.manual_seed(0)
    a = Followed(1.0)
    torch.manual_seed(0)
    b = Followed(5.0)
    ha, said = _hash_and_warnings(a)
    assert not said and ha != weights_hash(b)
    assert _offset_seen(lst, a) == pytest.approx(2.0, abs=1e-3)
    assert _offset_seen(lst, b) == pytest.approx(10.0, abs=1e-3)


def test_a_value_set_on_an_xlstsr_module_is_hashed_or_warned_of():
    from xlstsr.nn import ResCNN
    from xlstsr.nn.base import ResBlock

    class Pub(nn.Module):  # a public value on xlstsr's ResBlock
        def __init__(self, g) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.rb = ResBlock(1)
            self.rb.gain = g

        def forward(self, x):
            return self.rb(x) * self.rb.gain

    class Wrap(nn.Module):  # a bundled ResCNN in a user's wrapper
        factor = 4

        def __init__(self, off) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.net = ResCNN(factor=4, channels=4, n_blocks=1)
            self.net.offset = off

        def forward(self, x):
            return self.net(x) + self.net.offset

    class Priv(nn.Module):  # a private plain value (hashed) and a private tensor (warned of)
        def __init__(self, g) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.rb = ResBlock(1)
            self.rb._scale = g
            self.rb._t = torch.tensor(g)

        def forward(self, x):
            return self.rb(x) * self.rb._scale + self.rb._t

    x = torch.ones(1, 1, 8, 8)
    for cls in (Pub, Wrap, Priv):
        a, b = cls(2.0), cls(3.0)
        with torch.no_grad():
            assert not torch.equal(a(x), b(x))
        ha, said = _hash_and_warnings(a)
        assert ha != weights_hash(b) and ha == weights_hash(cls(2.0)), cls.__name__
        if cls is Priv:
            assert len(said) == 1 and "'rb._t'" in said[0]
            assert "self.rb.register_buffer('_t', tensor)" in said[0]
        else:
            assert not said


def test_a_private_list_of_the_models_own_weights_is_not_warned_of():
    class Frozen(_Base):  # the freeze / parameter-group idiom
        def __init__(self) -> None:
            super().__init__()
            self.backbone = nn.Conv2d(1, 4, 3)
            self.head = nn.Conv2d(4, 1, 1)
            self._backbone_params = list(self.backbone.parameters())

        def freeze(self):
            for p in self._backbone_params:
                p.requires_grad_(False)

        def forward(self, lst, guide=None):
            return self.up(self.head(self.backbone(lst)))

    class Stats(_Base):  # a private tuple of its own buffers
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.zeros(1))
            self.register_buffer("std", torch.ones(1))
            self._stats = (self.mean, self.std)

        def forward(self, lst, guide=None):
            m, sd = self._stats
            return self.up((lst - m) / sd)

    class Mixed(_Base):  # one of its own buffers and a tensor of its own: warned of
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.zeros(1))
            self._stats = (self.mean, torch.ones(1))

        def forward(self, lst, guide=None):
            m, sd = self._stats
            return self.up((lst - m) / sd)

    assert not _hash_and_warnings(Frozen())[1]
    assert not _hash_and_warnings(Stats())[1]
    said = _hash_and_warnings(Mixed())[1]
    assert len(said) == 1 and "'_stats'" in said[0]
