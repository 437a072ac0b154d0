"""Probe 46 N: private data attributes in weights_hash, user models that fail in channels-last,
an empty model name, the LST-range advice for a TorchModelMethod instance."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import xlstsr
from xlstsr.errors import CheckpointError, XlstsrError
from xlstsr.methods.torch_model import TorchModelMethod
from xlstsr.nn.fingerprint import weights_hash

F = torch.nn.functional


@pytest.fixture(scope="module")
def lst():
    return xlstsr.datasets.sample_scene(n_times=1, size=32)["lst_1km"]


# -- 1. private tensors and arrays: not hashed, warned of, with advice that works -----------------


class _Offset(torch.nn.Module):
    """Nearest upsampling plus a calibrated offset held in a private attribute."""

    factor, n_guide, receptive_field = 4, 0, 0

    def __init__(self, offset) -> None:
        super().__init__()
        self._offset = offset

    def forward(self, lst, guide=None):
        # the usual reason it is private: moved to the input's device on the first call
        self._offset = torch.as_tensor(self._offset).to(lst.device)
        return F.interpolate(lst, scale_factor=4, mode="nearest") + self._offset


def _private_warnings(make_model):
    """The private-attribute warnings weights_hash gives for a model made by ``make_model``
    (a class defined in the call: warned once per class)."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        h = weights_hash(make_model())
    return h, [x for x in w if "not part of the model's fingerprint" in str(x.message)]


@pytest.mark.parametrize("make", [lambda k: torch.tensor(k), lambda k: np.array([k], np.float32)],
                         ids=["tensor", "ndarray"])
def test_a_private_tensor_or_array_is_warned_of_once_per_class(make):
    class Calibrated(_Offset):
        pass

    _, said = _private_warnings(lambda: Calibrated(make(5.0)))
    assert len(said) == 1 and issubclass(said[0].category, UserWarning)
    text = str(said[0].message)
    assert "Calibrated" in text and "'_offset'" in text
    assert "self.register_buffer('_offset', " in text
    assert said[0].filename == __file__  # pointed at the caller's line
    _, again = _private_warnings(lambda: Calibrated(make(0.0)))
    assert not again  # once per class


def test_plain_and_missing_private_values_are_not_warned_of():
    class Plain(_Offset):
        pass

    # a private list of numbers is warned of since 47 (tests/test_fingerprint47.py)
    for value in (5.0, None, (1, 2)):
        _, said = _private_warnings(lambda v=value: Plain(v))
        assert not said


def test_the_buffer_advice_tells_models_apart_and_keeps_the_hash():
    class Advised(torch.nn.Module):
        """The advice followed: the offset registered as a (non-persistent) buffer."""

        factor, n_guide, receptive_field = 4, 0, 0

        def __init__(self, offset) -> None:
            super().__init__()
            self.register_buffer("_offset", torch.tensor(offset), persistent=False)

        def forward(self, lst, guide=None):
            self._offset = self._offset.to(lst.device)
            return F.interpolate(lst, scale_factor=4, mode="nearest") + self._offset

    h0, said = _private_warnings(lambda: Advised(0.0))
    assert not said
    assert h0 != weights_hash(Advised(5.0))
    assert h0 == weights_hash(Advised(0.0))
    m = Advised(5.0)
    before = weights_hash(m)
    with torch.no_grad():
        m(torch.full((1, 1, 4, 4), 300.0))
    assert weights_hash(m) == before  # the forward's move leaves the hash alone


def test_the_advice_keeps_models_apart_in_the_cache(lst):
    class Advised(torch.nn.Module):
        factor, n_guide, receptive_field = 4, 0, 0

        def __init__(self, offset) -> None:
            super().__init__()
            self.register_buffer("_offset", torch.tensor(offset))

        def forward(self, lst, guide=None):
            return F.interpolate(lst, scale_factor=4, mode="nearest") + self._offset

    a = xlstsr.upscale(lst, 4, method="sisr", method_options={"model": Advised(0.0)})
    b = xlstsr.upscale(lst, 4, method="sisr", method_options={"model": Advised(5.0)})
    assert float((b - a).mean()) == pytest.approx(5.0, abs=1e-4)


class _Log(torch.nn.Module):
    """A private log and a private cache the forward fills: the hash ignores both."""

    factor, n_guide, receptive_field = 4, 0, 0

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 1, 1)
        self._calls = []
        self._grid = None

    def forward(self, lst, guide=None):
        log = self._calls
        log.append(lst.shape[-1])
        self._grid = torch.zeros(lst.shape[-2:])
        return self.conv(F.interpolate(lst, scale_factor=4, mode="nearest"))


def test_what_the_forward_changes_leaves_the_hash_alone():
    torch.manual_seed(0)
    m = _Log()
    before = weights_hash(m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # _grid is a tensor now: warned of, not hashed
        for _ in range(2):
            with torch.no_grad():
                m(torch.full((1, 1, 4, 4), 300.0))
        assert weights_hash(m) == before


def test_sparse_and_quantized_private_tensors_do_not_break_the_hash():
    class Odd(_Offset):
        pass

    for value in (torch.eye(4).to_sparse(),
                  torch.quantize_per_tensor(torch.ones(3), 0.1, 0, torch.quint8)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert len(weights_hash(Odd(value))) == 32


def test_bundled_fingerprints_give_no_warning():
    from xlstsr.nn.weights import list_weights, load_weights

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in list_weights():
            weights_hash(load_weights(name))


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
    assert method.channels_last is False  # the check at build: before any worker gets it
    np.testing.assert_allclose(xlstsr.upscale(lst, 4, method=method).values, ref.values,
                               atol=1e-4)
    out = xlstsr.upscale(lst, 4, method="sisr", method_options={"model": _WSNet()})
    lazy = xlstsr.upscale(lst.chunk({"y": 8}), 4, method="sisr",
                          method_options={"model": _WSNet()}).compute()
    np.testing.assert_allclose(out.values, ref.values, atol=1e-4)
    np.testing.assert_allclose(lazy.values, ref.values, atol=1e-4)


def test_test_time_adaptation_of_a_model_failing_in_channels_last(lst):
    """Review 46f (adapt_ws.py): the adapted path never saw the compute-time fallback."""
    method = TorchModelMethod(_WSNet()).with_adaptation(True)
    assert method.channels_last is False
    out = xlstsr.upscale(lst, 4, method=method)
    ref = xlstsr.upscale(lst, 4, method=TorchModelMethod(_WSNet(), channels_last=False)
                         .with_adaptation(True))
    np.testing.assert_allclose(out.values, ref.values, atol=1e-3)


class _Context(torch.nn.Module):
    """A context path pooled 32x, its features flattened with ``.view``: runs in channels-last
    at 32 px (a 1x1 map, the size the build-time check tries), fails there at 64 px."""

    factor, n_guide, receptive_field, spatially_local = 2, 0, 0, False

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.c = torch.nn.Conv2d(1, 8, 3, padding=1)
        self.o = torch.nn.Conv2d(8, 4, 3, padding=1)

    def forward(self, lst, guide=None):
        f = self.c(lst - lst.mean(dim=(1, 2, 3), keepdim=True))
        g = F.adaptive_max_pool2d(f, (max(1, f.shape[-2] // 32), max(1, f.shape[-1] // 32)))
        w = g.view(g.shape[0], -1).softmax(-1).view_as(g)  # a contiguous-only view
        f = f * F.interpolate(w, size=f.shape[-2:]).mean()
        return F.pixel_shuffle(self.o(f), 2) * 0.01 + F.interpolate(lst, scale_factor=2)


def _big():
    big = xlstsr.datasets.sample_scene(n_times=2, size=256)["lst_1km"]  # 64 px
    assert big.shape[-1] == 64
    return big


def _layout_error(info):
    text = str(info.value)
    assert "channels-last" in text and "view size is not compatible" in text
    assert "method_options={'channels_last': False}" in text
    assert "TorchModelMethod(..., channels_last=False)" in text
    assert isinstance(info.value.__cause__, RuntimeError)  # chained: torch's own error


@pytest.mark.parametrize("lazy", [False, True], ids=["numpy", "dask"])
def test_a_size_dependent_channels_last_failure_is_named_with_advice_that_works(lazy):
    small = xlstsr.datasets.sample_scene(n_times=1, size=128)["lst_1km"]  # 32 px
    big = _big()
    method = TorchModelMethod(_Context())
    assert method.channels_last is True  # the check at build ran it at 32 px
    xlstsr.upscale(small, 2, method=method)
    cached = method.model()
    assert cached.o.weight.is_contiguous(memory_format=torch.channels_last)
    data = big.chunk({"time": 1}) if lazy else big
    with pytest.raises(XlstsrError) as info:
        xlstsr.upscale(data, 2, method=method).compute()
    _layout_error(info)
    # no rerun, no reload: the method and its cached model are as they were
    assert method.channels_last is True and method.model() is cached
    assert cached.o.weight.is_contiguous(memory_format=torch.channels_last)
    ref = xlstsr.upscale(big, 2, method=TorchModelMethod(_Context(), channels_last=False))
    followed = xlstsr.upscale(data, 2, method="sisr",
                              method_options={"model": _Context(), "channels_last": False})
    np.testing.assert_allclose(followed.compute().values, ref.values, atol=1e-4)


def test_a_size_dependent_failure_with_adaptation_is_named():
    big = _big().isel(time=[0])
    method = TorchModelMethod(_Context()).with_adaptation(True)
    with pytest.raises(XlstsrError) as info:
        xlstsr.upscale(big, 2, method=method)
    _layout_error(info)
    out = xlstsr.upscale(big, 2, method=TorchModelMethod(_Context(), channels_last=False)
                         .with_adaptation(True))
    assert np.isfinite(out.values).any()


@pytest.fixture(scope="module")
def client():
    from helpers import local_cluster_client

    yield from local_cluster_client(2)


def test_channels_last_failures_on_dask_distributed(client):
    """Review 46f (dist_ws.py): workers were told the weights were not shipped."""
    lst = xlstsr.datasets.sample_scene(n_times=2, size=64)["lst_1km"]
    ref = xlstsr.upscale(lst, 4, method=TorchModelMethod(_WSNet(), channels_last=False))
    out = xlstsr.upscale(lst.chunk({"time": 1}), 4, method=TorchModelMethod(_WSNet())).compute()
    np.testing.assert_allclose(out.values, ref.values, atol=1e-4)
    big = _big().chunk({"time": 1})
    with pytest.raises(XlstsrError) as info:
        xlstsr.upscale(big, 2, method=TorchModelMethod(_Context())).compute()
    _layout_error(info)
    followed = xlstsr.upscale(big, 2, method="sisr",
                              method_options={"model": _Context(), "channels_last": False})
    ref = xlstsr.upscale(_big(), 2, method=TorchModelMethod(_Context(), channels_last=False))
    np.testing.assert_allclose(followed.compute().values, ref.values, atol=1e-4)


class _Broken(torch.nn.Module):
    """Fails in either layout at the fixture's size (not the build-time check's), counting
    its forwards."""

    factor, n_guide, receptive_field, spatially_local = 4, 0, 0, True
    message = "broken at this size"
    calls = 0

    def forward(self, lst, guide=None):
        if lst.shape[-1] == 8:
            type(self).calls += 1
            raise RuntimeError(self.message)
        return F.interpolate(lst, scale_factor=4)


def test_a_model_failing_in_both_layouts_raises_its_error_when_the_advice_is_followed(lst):
    method = TorchModelMethod(_Broken())
    with pytest.raises(XlstsrError, match="broken at this size") as info:
        xlstsr.upscale(lst, 4, method=method)
    assert "channels_last=False" in str(info.value) and method.channels_last is True
    _Broken.calls = 0
    with pytest.raises(RuntimeError, match="broken at this size"):
        xlstsr.upscale(lst, 4, method=TorchModelMethod(_Broken(), channels_last=False))
    assert _Broken.calls == 1


def test_out_of_memory_on_the_cpu_is_raised_as_it_is_and_not_rerun(lst):
    class OutOfMemory(_Broken):
        message = "[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory"

    method = TorchModelMethod(OutOfMemory())
    OutOfMemory.calls = 0
    with pytest.raises(RuntimeError, match="can't allocate memory") as info:
        xlstsr.upscale(lst, 4, method=method)
    assert not isinstance(info.value, XlstsrError)
    assert OutOfMemory.calls == 1  # the batch was not run again in the other layout


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


@pytest.mark.parametrize("given", ["instance", "name"])
def test_lst_range_advice_for_disr_works_when_followed(given):
    from xlstsr.methods.deep import DISR

    scene = xlstsr.datasets.sample_scene(n_times=1, size=32)
    hot = scene["lst_1km"] + 45.0
    hot.attrs.update(scene["lst_1km"].attrs)
    method = DISR() if given == "instance" else "disr"
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        xlstsr.upscale(hot, 4, method=method, guide=scene["ndvi_250m"])
    said = [str(x.message) for x in w if "far outside" in str(x.message)]
    assert said
    with warnings.catch_warnings(record=True) as w:  # followed as said for how it was given
        warnings.simplefilter("always")
        if given == "instance":
            assert "DISR(conserve=True)" in said[0]
            out = xlstsr.upscale(hot, 4, method=DISR(conserve=True), guide=scene["ndvi_250m"])
        else:
            assert "method='disr' with method_options={'conserve': True}" in said[0]
            out = xlstsr.upscale(hot, 4, method="disr", guide=scene["ndvi_250m"],
                                 method_options={"conserve": True})
    assert not [x for x in w if "far outside" in str(x.message)]
    assert np.isfinite(out.values).any()
