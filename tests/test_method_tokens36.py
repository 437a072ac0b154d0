"""Finding 36: custom methods with different options shared dask keys (their describe() was
the default {} or a built-in's), so computed together one result silently replaced the other."""

import dask
import numpy as np
import pytest
from dask.base import tokenize

import xlstsr
from xlstsr.methods import UpscaleMethod, get_method, register_method, unregister_method
from xlstsr.methods.tsharp import TsHARP


class _Offset(UpscaleMethod):
    def __init__(self, offset: float = 0.0, table=None):
        self.offset = offset
        self.table = np.zeros(3) if table is None else table

    def halo(self, factor):
        return 0

    def upscale_block(self, lst, valid, guide, factor):
        return lst.repeat(factor, -2).repeat(factor, -1) + self.offset + self.table[0]


class _TsHARPBias(TsHARP):
    def __init__(self, bias=0.0, **kw):
        super().__init__(**kw)
        self.bias = bias

    def predict(self, lst, valid, guide, factor):
        p = super().predict(lst, valid, guide, factor)
        return None if p is None else p + self.bias * (guide[0] - np.nanmean(guide[0]))


@pytest.fixture
def registered():
    names = []

    def reg(name, cls):
        register_method(name)(cls)
        names.append(name)

    yield reg
    for n in names:
        unregister_method(n)


def _scene():
    return xlstsr.datasets.sample_scene(n_times=1, size=32)


def test_registered_custom_options_get_own_keys(registered):
    registered("offset36", _Offset)
    lst = _scene()["lst_1km"].chunk({"x": 8, "y": 8})
    a = xlstsr.upscale(lst, 4, "offset36", offset=0.0)
    b = xlstsr.upscale(lst, 4, "offset36", offset=5.0)
    assert a.data.name != b.data.name
    ra, rb = dask.compute(a, b)
    np.testing.assert_allclose(float((rb - ra).mean()), 5.0, atol=1e-4)
    # identical settings still share their keys (computed once)
    assert xlstsr.upscale(lst, 4, "offset36", offset=5.0).data.name == b.data.name
    # provenance names the option (the default describe() reads it from the attribute)
    assert a.attrs["xlstsr_options"] != b.attrs["xlstsr_options"]
    assert '"offset": 5.0' in b.attrs["xlstsr_options"]


def test_option_describe_leaves_out_differs_by_content(registered):
    registered("offset36", _Offset)
    one, two = np.arange(3.0), np.arange(3.0) + 1
    assert get_method("offset36").describe() == {"offset": 0.0}  # the array is no JSON value
    assert tokenize(get_method("offset36", table=one)) == tokenize(
        get_method("offset36", table=one.copy()))
    assert tokenize(get_method("offset36", table=one)) != tokenize(
        get_method("offset36", table=two))
    assert "offset" not in _Offset(offset=float("nan")).describe()  # provenance stays JSON


def test_tsharp_subclass_extra_option_not_replaced(registered):
    registered("tsharp_bias36", _TsHARPBias)
    s = _scene()
    lst, ndvi = s["lst_1km"].chunk(), s["ndvi_250m"]
    kw = dict(guide=ndvi, guide_offset="ignore")
    with np.errstate(all="ignore"):
        a = xlstsr.upscale(lst, 4, "tsharp_bias36", bias=0.0, **kw)
        b = xlstsr.upscale(lst, 4, "tsharp_bias36", bias=20.0, **kw)
        assert a.data.name != b.data.name
        apart = float(abs(b.compute() - a.compute()).max())
        ra, rb = dask.compute(a, b)
    assert apart > 1.0
    np.testing.assert_allclose(float(abs(rb - ra).max()), apart, rtol=1e-6)


def test_builtin_tokens_unchanged_and_deterministic():
    assert tokenize(get_method("tsharp")) == tokenize(get_method("tsharp"))
    assert tokenize(get_method("tsharp", gain=0.5)) != tokenize(get_method("tsharp"))
    assert get_method("bicubic").describe() == {}
    assert get_method("bicubic").__dask_tokenize__()[-1] is None  # no state token added


def test_torch_subclass_and_module_attributes():
    torch = pytest.importorskip("torch")
    from xlstsr.methods.torch_model import TorchModelMethod

    class Up(torch.nn.Module):
        factor, n_guide, receptive_field = 2, 0, 0

        def forward(self, lst, guide=None):
            return torch.nn.functional.interpolate(lst, scale_factor=2, mode="nearest")

    class Shifted(TorchModelMethod):  # inherits TorchModelMethod's own __dask_tokenize__
        def __init__(self, model, shift=0.0):
            super().__init__(model, device="cpu")
            self.shift = shift

        def upscale_block(self, lst, valid, guide, factor):
            return super().upscale_block(lst, valid, guide, factor) + self.shift

    model = Up()
    assert tokenize(Shifted(model, 1.0)) != tokenize(Shifted(model, 2.0))

    class Holder(_Offset):  # a module held in an attribute: tokenized by its weights
        def __init__(self, net):
            super().__init__()
            self.net = net

    net = torch.nn.Linear(2, 2)
    m = Holder(net)
    before = tokenize(m)
    assert tokenize(m) == before
    with torch.no_grad():
        net.weight.add_(1.0)
    assert tokenize(m) != before
