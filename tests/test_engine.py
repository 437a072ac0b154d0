"""The chunked engine: seam exactness (numpy vs dask), torch models, NaN handling, laziness."""

from __future__ import annotations

import pickle
import threading

import dask
import dask.array as dsa
import numpy as np
import pytest
import torch
from helpers import raise_if_computed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xlstsr
from xlstsr.engine import upscale_array
from xlstsr.engine.shipping import Shipment, deliver
from xlstsr.errors import XlstsrError
from xlstsr.methods import TorchModelMethod, get_method
from xlstsr.methods.base import UpscaleMethod
from xlstsr.methods.torch_model import TORCH_TILE
from xlstsr.nn.runtime import measure_receptive_field, model_cache

torch.manual_seed(0)


class ResidualSR(torch.nn.Module):
    """Tiny SISR/DISR CNN: nearest upsampling + a learned residual (coarse 3x3 convs, fine 3x3)."""

    def __init__(self, factor: int = 2, n_guide: int = 0, declare: bool = True, width: int = 6):
        super().__init__()
        self.factor, self.n_guide = factor, n_guide
        if declare:
            # two coarse 3x3 convs (2 px) + one fine 3x3 conv (1 fine px -> 1 coarse px)
            self.receptive_field = 3
        self.c1 = torch.nn.Conv2d(1, width, 3, padding=1)
        self.c2 = torch.nn.Conv2d(width, factor * factor, 3, padding=1)
        self.fine = torch.nn.Conv2d(1 + n_guide, 1, 3, padding=1)

    def forward(self, lst, guide=None):
        x = (lst - 300.0) / 10.0
        r = torch.nn.functional.pixel_shuffle(self.c2(torch.relu(self.c1(x))), self.factor)
        if guide is not None:
            r = torch.cat([r, guide], dim=1)
        up = torch.nn.functional.interpolate(lst, scale_factor=self.factor, mode="nearest")
        return up + self.fine(r)


def _cube(rng, n, ny, nx, factor, n_guide=0, gaps=True):
    lst = rng.uniform(280, 320, (n, ny, nx)).astype(np.float32)
    if gaps:
        lst[0, 1 : ny // 2, 2 : nx // 2 + 1] = np.nan  # a cloud
        lst[-1, -2:, :] = np.nan
    guide = None
    if n_guide:
        guide = rng.uniform(-0.1, 0.9, (n, n_guide, ny * factor, nx * factor)).astype(np.float32)
        guide[:, :, 3:9, 5:12] = np.nan  # guide gap under valid LST
    return lst, guide


def _chunks(draw, n):
    sizes = []
    left = n
    while left:
        c = draw(st.integers(1, max(1, left)))
        sizes.append(c)
        left -= c
    return tuple(sizes)


@st.composite
def chunkings(draw, n, ny, nx):
    return (_chunks(draw, n), _chunks(draw, ny), _chunks(draw, nx))


SISR = ResidualSR(2, 0)
DISR = ResidualSR(2, 1)


@pytest.mark.parametrize("which", ["bicubic", "sisr", "disr"])
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_seams_exact_numpy_vs_dask(which, data):
    rng = np.random.default_rng(1)
    n, ny, nx, f = 3, 13, 11, 2
    if which == "bicubic":
        m, ng = get_method("bicubic"), 0
    else:
        model = SISR if which == "sisr" else DISR
        m, ng = TorchModelMethod(model, device="cpu"), model.n_guide
    lst, guide = _cube(rng, n, ny, nx, f, ng)
    ref = upscale_array(m, lst, guide, f)
    tch, ych, xch = data.draw(chunkings(n, ny, nx))
    dl = dsa.from_array(lst, chunks=(tch, ych, xch))
    dg = None
    if guide is not None:
        dg = dsa.from_array(
            guide, chunks=(tch, 1, tuple(c * f for c in ych), tuple(c * f for c in xch))
        )
    out = upscale_array(m, dl, dg, f)
    assert out.shape == ref.shape
    got = out.compute(scheduler="threads")
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got, ref, rtol=0, atol=2e-4)


def test_tiny_chunks_guide_shared_by_all_times():
    rng = np.random.default_rng(2)
    m = TorchModelMethod(DISR, device="cpu")
    lst, guide = _cube(rng, 2, 12, 12, 2, 1)
    g1 = guide[:1]  # one guide for every time step
    ref = upscale_array(m, lst, g1, 2)
    out = upscale_array(
        m, dsa.from_array(lst, chunks=(1, 1, 2)), dsa.from_array(g1, chunks=(1, 1, 5, 6)), 2
    )
    np.testing.assert_allclose(out.compute(), ref, atol=2e-4)


def test_receptive_field_measured_and_exact():
    undeclared = ResidualSR(2, 1, declare=False)
    undeclared.load_state_dict(DISR.state_dict())
    assert measure_receptive_field(undeclared) == 3  # 2 coarse + ceil(1 fine / 2)
    m = TorchModelMethod(undeclared, device="cpu")
    assert m.receptive_field == 3 and m.describe()["receptive_field_measured"]
    rng = np.random.default_rng(3)
    lst, guide = _cube(rng, 2, 14, 10, 2, 1)
    ref = upscale_array(m, lst, guide, 2)
    out = upscale_array(
        m, dsa.from_array(lst, chunks=(1, 3, 3)), dsa.from_array(guide, chunks=(1, 1, 6, 6)), 2
    )
    np.testing.assert_allclose(out.compute(), ref, atol=2e-4)


def test_measured_receptive_field_of_a_wider_model():
    conv = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 5, padding=2),
        torch.nn.ReLU(),
        torch.nn.Conv2d(4, 9, 7, padding=3),
        torch.nn.PixelShuffle(3),
    )
    conv.factor, conv.n_guide = 3, 0
    assert measure_receptive_field(conv) == 5  # 2 + 3


def test_factor_mismatch_and_missing_guide_are_clear():
    m = TorchModelMethod(SISR, device="cpu")
    with pytest.raises(XlstsrError, match="factor 2"):
        m.halo(4)
    d = TorchModelMethod(DISR, device="cpu")
    assert d.needs_guide and not m.needs_guide
    lst = np.full((1, 4, 4), 300.0, np.float32)
    with pytest.raises(XlstsrError, match="guide"):
        d.upscale_block(lst, np.isfinite(lst), None, 2)


def test_method_pickles_without_the_module_and_weights_ship_once():
    m = TorchModelMethod(SISR, device="cpu")
    blob = pickle.dumps(m)
    assert len(blob) < 2000  # the weights hash, not the weights
    clone = pickle.loads(blob)
    key = (m.cache_key, "cpu")
    cached = model_cache().pop(key, None)
    lst = np.random.default_rng(0).uniform(290, 300, (1, 5, 5)).astype(np.float32)
    with pytest.raises(XlstsrError, match="shipped"):
        clone.upscale_block(lst, np.ones_like(lst, bool), None, 2)
    shipment = Shipment(m.state_key(), m)
    deliver(clone, pickle.loads(pickle.dumps(shipment)))  # as a worker receives it
    np.testing.assert_array_equal(
        clone.upscale_block(lst, np.ones_like(lst, bool), None, 2),
        m.upscale_block(lst, np.ones_like(lst, bool), None, 2),
    )
    if cached is not None:
        model_cache()[key] = cached
    # in the graph: one shipment key that every block depends on
    out = upscale_array(m, dsa.from_array(np.repeat(lst, 4, 0), chunks=(1, 5, 5)), None, 2)
    graph = dict(out.__dask_graph__())
    ship = [k for k in graph if "xlstsr-shipment" in str(k)]
    assert len(ship) == 1
    assert dask.base.tokenize(m) == dask.base.tokenize(pickle.loads(pickle.dumps(m)))


def test_torch_threads_one_per_dask_thread():
    seen: list[tuple[bool, int]] = []

    class Spy(torch.nn.Module):
        factor, n_guide, receptive_field = 2, 0, 0

        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(()))

        def forward(self, lst, guide=None):
            seen.append(
                (threading.current_thread() is threading.main_thread(), torch.get_num_threads())
            )
            return torch.nn.functional.interpolate(lst, scale_factor=2) * self.w

    m = TorchModelMethod(Spy(), device="cpu")
    x = dsa.from_array(np.full((2, 4, 4), 300.0, np.float32), chunks=(1, 2, 2))
    upscale_array(m, x, None, 2).compute(scheduler="threads", num_workers=2)
    assert seen and all(n == 1 for main, n in seen if not main)
    before = torch.get_num_threads()
    seen.clear()
    upscale_array(m, x, None, 2).compute(scheduler="sync")
    assert all(main and n == before for main, n in seen)


class Counting(UpscaleMethod):
    """Bicubic that counts its calls (to check that all-NaN blocks are skipped)."""

    name = "counting"
    calls = 0

    def upscale_block(self, lst, valid, guide, factor):
        assert np.isfinite(lst).all(), "gaps must be filled before the method"
        type(self).calls += 1
        return get_method("bicubic").upscale_block(lst, valid, guide, factor)


def test_nan_handling_and_all_nan_blocks_skipped():
    rng = np.random.default_rng(4)
    lst = rng.uniform(280, 320, (2, 8, 8)).astype(np.float32)
    lst[0] = np.nan  # a fully cloudy day
    lst[1, :4, :4] = np.nan  # one fully cloudy chunk
    lst[1, 6, 6] = np.nan  # an isolated gap
    Counting.calls = 0
    out = upscale_array(Counting(), dsa.from_array(lst, chunks=(1, 4, 4)), None, 2).compute(
        scheduler="sync"
    )
    assert Counting.calls == 3  # 8 chunks, 5 all-NaN
    parent = np.repeat(np.repeat(np.isnan(lst), 2, -2), 2, -1)
    np.testing.assert_array_equal(np.isnan(out), parent)
    # torch model: no NaN leaks into valid pixels; re-masked exactly
    sr = upscale_array(
        TorchModelMethod(SISR, device="cpu"), dsa.from_array(lst, chunks=(1, 3, 3)), None, 2
    )
    got = sr.compute()
    np.testing.assert_array_equal(np.isnan(got), parent)


class _ConstantOutput(torch.nn.Module):
    """A model whose output is one of its own buffers (a degenerate custom model)."""

    factor, n_guide, receptive_field = 2, 0, 1

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("out", torch.full((1, 1, 8, 8), 300.0))

    def forward(self, lst, guide=None):
        return self.out


def test_models_own_tensors_are_never_re_masked_in_place():
    """The engine re-masks the forward's new tensors in place (no copy); a tensor the model
    holds (a buffer it returns) is copied first, so the model's state stays intact."""
    model = _ConstantOutput()
    lst = np.full((1, 4, 4), 290.0, np.float32)
    lst[0, 1, 1] = np.nan
    out = upscale_array(TorchModelMethod(model, device="cpu"), lst, None, 2)
    assert np.isnan(out[0, 2:4, 2:4]).all() and np.isfinite(out).sum() == 60
    assert torch.isfinite(model.out).all()  # not overwritten with the gap's NaN
    # a model's new output, re-masked in place: the same footprint
    sr = upscale_array(TorchModelMethod(SISR, device="cpu"), lst, None, 2)
    np.testing.assert_array_equal(np.isnan(sr), np.isnan(out))


def test_upscale_is_lazy_until_computed(small_scene):
    lst = small_scene["lst_1km"].chunk({"time": 1, "x": 8, "y": 8})
    ndvi = small_scene["ndvi_250m"].chunk({"x": 32, "y": 32})
    m = TorchModelMethod(DISR, device="cpu")
    with raise_if_computed():
        a = xlstsr.upscale(lst, 4, "bicubic")
        mt = TorchModelMethod(ResidualSR(4, 1), device="cpu")
        b = xlstsr.upscale(lst, 4, mt, guide=ndvi)
    with raise_if_computed(max_computes=1):  # each result in one pass
        av = a.values
    with raise_if_computed(max_computes=1):
        np.testing.assert_array_equal(np.isnan(b.values), np.isnan(av))
    assert m.describe()["weights_sha256"] == m.weights_hash
    assert b.attrs["xlstsr_method"] == "torch"


class NanAwareDISR(ResidualSR):
    """Handles guide gaps itself (per pixel), like the models module's guided U-Net."""

    accepts_nan_guide = True

    def forward(self, lst, guide=None):
        assert guide is not None
        self.saw_nan = bool(torch.isnan(guide).any()) or getattr(self, "saw_nan", False)
        ok = torch.isfinite(guide)
        return super().forward(lst, torch.where(ok, guide, torch.zeros_like(guide)) + ok.float())


def test_models_that_handle_guide_nan_get_them_and_stay_exact():
    model = NanAwareDISR(2, 1)
    m = TorchModelMethod(model, device="cpu")
    assert m.accepts_nan_guide
    rng = np.random.default_rng(6)
    lst, guide = _cube(rng, 2, 10, 12, 2, 1)
    ref = upscale_array(m, lst, guide, 2)
    assert m.model().saw_nan  # the method's own copy ran (the user's module is left as it is)
    assert not getattr(model, "saw_nan", False)
    out = upscale_array(
        m, dsa.from_array(lst, chunks=(1, 4, 5)), dsa.from_array(guide, chunks=(1, 1, 8, 10)), 2
    )
    np.testing.assert_allclose(out.compute(), ref, atol=2e-4)
    # a plain model gets a filled guide: no NaN reaches it, valid outputs are finite
    filled = TorchModelMethod(DISR, device="cpu")
    res = upscale_array(filled, lst, guide, 2)
    parent = np.repeat(np.repeat(np.isnan(lst), 2, -2), 2, -1)
    assert np.isfinite(res[~parent]).all()


class TiledSR(ResidualSR):
    """ResidualSR that declares the engine tile it runs fastest at."""

    tile_size = 5


def test_model_declares_its_tile_and_seams_stay_exact():
    model = TiledSR(2, 1)
    model.load_state_dict(DISR.state_dict())
    m = TorchModelMethod(model, device="cpu")
    assert m.tile_size(2) == 5
    assert TorchModelMethod(SISR, device="cpu").tile_size(2) == TORCH_TILE
    rng = np.random.default_rng(7)
    lst, guide = _cube(rng, 2, 17, 13, 2, 1)
    ref = upscale_array(m, lst, guide, 2, tile=None)  # whole-array inference
    # the guide chunked unlike the LST: each tile cuts its windows from whatever blocks hold them
    out = upscale_array(m, dsa.from_array(lst, chunks=(1, 17, 13)),
                        dsa.from_array(guide, chunks=(2, 1, 7, 9)), 2)
    # tiles of 5 coarse px; a last one narrower than the halo (3) joins its neighbour's tile,
    # the output keeps its own chunk (Zarr-writable: the last chunk no larger than the first)
    assert out.chunks[1:] == ((10, 10, 10, 4), (10, 10, 6))
    np.testing.assert_array_equal(np.isnan(out.compute()), np.isnan(ref))
    np.testing.assert_allclose(out.compute(), ref, rtol=0, atol=2e-4)


def test_bundled_methods_declare_tiles_and_tiled_output_is_unchanged(small_scene):
    """Each bundled method's declared tile gives the whole-array result within 1e-3 K."""
    from xlstsr.nn import GuidedResCNN, ResCNN

    assert get_method("sisr").tile_size(4) == ResCNN.tile_size
    assert get_method("disr").tile_size(4) == GuidedResCNN.tile_size
    assert get_method("bicubic").tile_size(4) is not None
    lst = small_scene["lst_1km"].values[:1].astype(np.float32)
    ndvi = small_scene["ndvi_250m"].values.astype(np.float32)[None, None]
    for name, g in (("bicubic", None), ("sisr", None), ("disr", ndvi)):
        m = get_method(name)
        ref = upscale_array(m, lst, g, 4, tile=None)
        got = upscale_array(m, dsa.from_array(lst, chunks=(1, 40, 40)),
                            None if g is None else dsa.from_array(g), 4, tile=24).compute()
        np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-3, err_msg=name)


def test_one_task_per_tile_and_time_chunk():
    """No overlap, concatenation or rechunk tasks: the graph is the input's tasks and one task
    per tile and time chunk (the map_overlap graph before had about 38 per tile)."""
    lst = dsa.from_array(np.full((3, 40, 40), 300.0, np.float32), chunks=(1, 40, 40))
    out = upscale_array(get_method("bicubic"), lst, None, 2, tile=10)
    graph = dict(out.__dask_graph__())
    tiles = [k for k in graph if isinstance(k, tuple) and str(k[0]).startswith("xlstsr-bicubic")]
    assert len(tiles) == 3 * 4 * 4
    assert len(graph) == len(tiles) + lst.npartitions
    np.testing.assert_allclose(out.compute(), 300.0, atol=1e-4)


def test_static_malloc_thresholds_read_from_the_environment():
    from xlstsr.engine.regions import static_malloc_thresholds

    assert static_malloc_thresholds({"PATH": "/bin"}) is None
    assert static_malloc_thresholds({"MALLOC_MMAP_THRESHOLD_": "1048576"}) == (1048576, 131072)
    tun = {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=4096:glibc.malloc.tcache_count=0"}
    assert static_malloc_thresholds(tun) == (131072, 4096)
    assert static_malloc_thresholds({"GLIBC_TUNABLES": "glibc.malloc.tcache_count=0"}) is None


_ALLOCATION_PROBE = """
import resource, numpy as np
from xlstsr.engine import regions

def faults(n=30):
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        a = np.empty(2 * 1024 * 1024, np.float32)  # 8 MiB, touched: a torch activation's size
        a.fill(1.0)
        del a
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0

before = faults()
with regions.region_allocation():
    inside = faults()
after = faults()
print(regions._MALLOPT is not None, before, inside, after)
"""


@pytest.mark.slow
def test_region_allocation_serves_large_buffers_from_the_heap_and_restores(tmp_path):
    # dask.distributed starts workers with MALLOC_TRIM_THRESHOLD_=65536: glibc's dynamic mmap
    # threshold is off and every 8 MiB buffer is a fresh mmap, page-faulted on each use
    import os
    import subprocess
    import sys

    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}
    out = subprocess.run([sys.executable, "-c", _ALLOCATION_PROBE], env=env, capture_output=True,
                         text=True, check=True, timeout=120).stdout.split()
    if out[0] != "True":
        pytest.skip("not glibc: mallopt is not available")
    before, inside, after = (int(v) for v in out[1:])
    assert before > 30 * 100  # each buffer faulted anew (2048 pages; fewer with fault-around)
    assert inside < before / 10  # the heap reuses one buffer's pages
    assert after > before / 2  # the environment's thresholds are back after the regions
