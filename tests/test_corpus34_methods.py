"""Corpus 34 (methods and the engine's graph building): dask's tokenize pickling user methods,
the state protocol's pickling promise, results of the wrong type, unchecked tile_size, float16
results, the recorded name of unregistered methods, unpicklable methods under a distributed
client."""

from __future__ import annotations

import copy
import pickle
import threading
import warnings

import cloudpickle
import dask
import dask.array as dsa
import numpy as np
import pytest
from dask.base import tokenize

import xlstsr
from xlstsr.engine.blocks import MethodResultError, upscale_array
from xlstsr.errors import XlstsrError
from xlstsr.methods import UpscaleMethod, get_method, register_method, unregister_method
from xlstsr.methods.bicubic import Bicubic


def _lst(n=1, size=16, seed=0):
    rng = np.random.default_rng(seed)
    return (300.0 + rng.normal(0, 2, (n, size, size))).astype(np.float32)


class _Repeat(UpscaleMethod):
    def halo(self, factor):
        return 0

    def upscale_block(self, lst, valid, guide, factor):
        return lst.repeat(factor, -2).repeat(factor, -1)


# -- 01: building a lazy graph never pickles the method (dask's tokenize) -------------------------
_PICKLED: list[int] = []


class _Counted(_Repeat):
    def __init__(self, gain=1.0):
        self.gain = gain

    def describe(self):
        return {"gain": self.gain}

    def __reduce_ex__(self, protocol):
        _PICKLED.append(1)
        return super().__reduce_ex__(protocol)


def test_lazy_graph_does_not_pickle_method():
    _PICKLED.clear()
    lst = dsa.from_array(_lst(2, 32), chunks=(1, 16, 16))
    m = _Counted()
    a = upscale_array(m, lst, None, 2, tile=None)
    assert not _PICKLED  # dask's tokenize pickled it (cloudpickle rebinds __main__ classes)
    b = upscale_array(_Counted(gain=2.0), lst, None, 2, tile=None)
    assert a.name != b.name  # other options: other graph keys
    assert tokenize(m) == tokenize(m)
    np.testing.assert_array_equal(a.compute(), _lst(2, 32).repeat(2, -2).repeat(2, -1))


def test_main_module_class_keeps_its_functions():
    # a class defined in a script (module __main__) was pickled by value with cloudpickle and
    # loaded back in-process, which replaced the live class's functions with copies
    def upscale_block(self, lst, valid, guide, factor):
        return lst.repeat(factor, -2).repeat(factor, -1)

    cls = type("_MainGain", (_Repeat,), {"__module__": "__main__",
                                         "upscale_block": upscale_block})
    lst = dsa.from_array(_lst(1, 16), chunks=(1, 16, 16))
    upscale_array(cls(), lst, None, 2, tile=None)
    assert cls.__dict__["upscale_block"] is upscale_block


# -- 08: a method declaring its state pickles without it ------------------------------------------
class _LUT(_Repeat):
    state_attributes = ("table",)

    def __init__(self):
        self.table = np.linspace(0.0, 1.0, 200_000)
        self.offset = 0.5

    def state_key(self):
        return "lut-" + tokenize(self.table.tobytes())

    def dump_state(self):
        return self.table.tobytes()

    def load_state(self, payload):
        self.table = np.frombuffer(payload)

    def upscale_block(self, lst, valid, guide, factor):
        return super().upscale_block(lst, valid, guide, factor) + self.table[0] + self.offset


class _Declared(_LUT):
    state_attributes = ("table",)

    def load_state(self, payload):
        self._install(payload)

    def _install(self, payload):
        self.table = np.frombuffer(payload)


def test_state_protocol_method_pickles_small():
    for cls in (_LUT, _Declared):
        m = cls()
        blob = cloudpickle.dumps(m)
        assert len(blob) < 10_000, cls  # the 1.6 MB table travels apart, once
        back = pickle.loads(blob)
        assert "table" not in back.__dict__ and back.offset == 0.5
        back.load_state(m.dump_state())  # what the engine's shipment does on a worker
        np.testing.assert_array_equal(back.table, m.table)
        # copies keep the state (only pickles leave it out)
        for c in (copy.copy(m), copy.deepcopy(m)):
            np.testing.assert_array_equal(c.table, m.table)


def test_state_protocol_method_runs_from_a_pickled_graph():
    # the graph as a distributed worker gets it: pickled whole, the state shipped once
    lst = dsa.from_array(_lst(1, 32), chunks=(1, 16, 16))
    lazy = upscale_array(_LUT(), lst, None, 2, tile=16)
    graph = dict(lazy.__dask_graph__())
    blob = cloudpickle.dumps(graph)
    assert len(blob) < 2 * 200_000 * 8  # the state once, not once more per task
    from dask.array.core import concatenate3
    from dask.core import get

    back = pickle.loads(blob)
    keys = lazy.__dask_keys__()
    got = concatenate3(get(back, keys))
    np.testing.assert_allclose(got, _lst(1, 32).repeat(2, -2).repeat(2, -1) + 0.5, rtol=1e-6)


# -- 04: a result that is not a numpy array -------------------------------------------------------
@pytest.mark.parametrize("kind", ["list", "tensor"])
@pytest.mark.parametrize("lazy", [False, True])
def test_method_returning_non_array_is_refused(kind, lazy):
    if kind == "tensor":
        torch = pytest.importorskip("torch")
        wrap = torch.from_numpy
    else:
        wrap = np.ndarray.tolist

    class Wrong(_Repeat):
        def upscale_block(self, lst, valid, guide, factor):
            return wrap(super().upscale_block(lst, valid, guide, factor))

    lst = _lst(1, 16)
    if lazy:
        lst = dsa.from_array(lst, chunks=(1, 16, 16))
    with pytest.raises(XlstsrError, match=r"must return a numpy array of shape .*Kelvin") as e:
        out = upscale_array(Wrong(), lst, None, 2, tile=None)
        if lazy:
            out.compute()
    assert "Wrong" in str(e.value) and (kind != "tensor" or ".numpy()" in str(e.value))


def test_method_wrong_shape_is_an_xlstsr_error():
    class Half(_Repeat):
        def upscale_block(self, lst, valid, guide, factor):
            return lst.repeat(factor, -1)

    with pytest.raises(MethodResultError, match=r"returned shape \(1, 16, 32\), expected") as e:
        upscale_array(Half(), _lst(1, 16), None, 2)
    assert isinstance(e.value, XlstsrError) and isinstance(e.value, RuntimeError)


# -- 05: tile_size validated like halo ------------------------------------------------------------
@pytest.mark.parametrize("value", [0, -8, 12.5, "64", True])
@pytest.mark.parametrize("lazy", [False, True])
def test_method_tile_size_is_validated(value, lazy):
    class Tiled(_Repeat):
        def tile_size(self, factor):
            return value

    lst = _lst(1, 64)
    if lazy:
        lst = dsa.from_array(lst, chunks=(1, 64, 64))
    with pytest.raises(XlstsrError, match=r"tile_size\(2\) of method '.*Tiled' must be a whole"):
        upscale_array(Tiled(), lst, None, 2)


def test_method_tile_size_whole_float_and_none_accepted():
    for value in (16.0, np.int64(16), None):
        class Tiled(_Repeat):
            def tile_size(self, factor, _v=value):
                return _v

        lst = dsa.from_array(_lst(1, 64), chunks=(1, 64, 64))
        out = upscale_array(Tiled(), lst, None, 2)
        assert out.chunks[1] == ((32,) * 4 if value is not None else (128,))


# -- 07: float16 results: no spurious overflow warning --------------------------------------------
def test_float16_result_no_overflow_warning():
    class Half(_Repeat):
        def upscale_block(self, lst, valid, guide, factor):
            return super().upscale_block(lst, valid, guide, factor).astype(np.float16)

    lst = _lst(1, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = upscale_array(Half(), lst, None, 4)
    assert out.dtype == np.float32 and np.isfinite(out).all()


# -- 06: the name recorded for an unregistered method ---------------------------------------------
class _MyBicubic(Bicubic):
    pass


def test_recorded_name_of_unregistered_methods():
    assert get_method("bicubic").recorded_name() == "bicubic"
    assert _Repeat().recorded_name() == f"{__name__}._Repeat"
    assert _MyBicubic().recorded_name() == f"{__name__}._MyBicubic"
    registered = register_method("corpus34_repeat")(type("_Reg", (_Repeat,), {}))
    try:
        assert registered().recorded_name() == "corpus34_repeat"
        assert type("_Sub", (registered,), {})().recorded_name().endswith("._Sub")
    finally:
        unregister_method("corpus34_repeat")


def test_provenance_records_unregistered_method():
    da = xlstsr.datasets.sample_scene(n_times=1, size=16, seed=3)["lst_1km"]
    for m, want in ((_Repeat(), f"{__name__}._Repeat"),
                    (_MyBicubic(), f"{__name__}._MyBicubic"), (Bicubic(), "bicubic")):
        r = xlstsr.upscale(da, 2, m)
        assert r.attrs["xlstsr_method"] == want
        assert f"method={want!r}" in r.attrs["history"]


# -- 03: an unpicklable method under a distributed client with worker processes -------------------
class _Locked(_Repeat):
    def __init__(self):
        self.lock = threading.Lock()


def test_unpicklable_method_refused_under_distributed_client(monkeypatch):
    from xlstsr.engine import regions

    # a client that is dask's scheduler unless dask.config picks another (as active_client)
    monkeypatch.setattr(regions, "active_client",
                        lambda: object() if dask.config.get("scheduler", None) is None else None)
    lst = dsa.from_array(_lst(1, 16), chunks=(1, 16, 16))
    with pytest.raises(XlstsrError, match=r"'.*_Locked' cannot be pickled \(its attribute "
                                          r"'lock'.*__getstate__.*scheduler='threads'"):
        upscale_array(_Locked(), lst, None, 2)
    upscale_array(_Repeat(), lst, None, 2)  # picklable: built as before
    # a large in-memory image runs its tiled graph on threads: nothing is pickled
    out = upscale_array(_Locked(), _lst(1, 64), None, 2, tile=16)
    assert out.shape == (1, 128, 128)
    monkeypatch.setattr(regions, "active_client", lambda: None)
    upscale_array(_Locked(), lst, None, 2)  # no client: threads
