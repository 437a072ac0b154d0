"""Review 48b of the fingerprint change 64f7e46: scripted quantized models with other weights
shared one hash (their packed weights are TorchScript objects), a user's torchmetrics Metric
subclass moved the hash on update() or forward (a resume was refused), torchmetrics' own
metrics' settings (``data_range``, ``squared``) were no longer hashed, and a scripted model's
attributes were listed once per submodule (a chain 300 deep took 14.8 s)."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

import xlstsr
from xlstsr.methods.torch_model import TorchModelMethod
from xlstsr.nn.fingerprint import _script_attribute_names, weights_hash

F = torch.nn.functional
nn = torch.nn
Q = torch.ao.quantization


def _lst(values=None):
    """An 8 x 8 scene of 1 km pixels (UTM): uniform 300 K, or ``values``."""
    data = np.full((1, 8, 8), 300.0, np.float32) if values is None else values
    lst = xr.DataArray(
        data, dims=("time", "y", "x"),
        coords={"time": pd.date_range("2020-01-01", periods=1),
                "y": 5e6 - 1000.0 * (np.arange(8) + 0.5), "x": 5e5 + 1000.0 * (np.arange(8) + 0.5)},
        name="lst", attrs={"units": "K"})
    return lst.rio.write_crs("EPSG:32633")


def _upscaled_mean(model, lst=None):
    """The mean of a x2 upscale by ``model`` (through the model cache)."""
    lst = _lst() if lst is None else lst
    out = xlstsr.upscale(lst, 2, method=TorchModelMethod(model, device="cpu", batch_size=1))
    return float(out.mean())


# -- 1. scripted quantized models ------------------------------------------------------------------


class _QNet(nn.Module):
    factor, n_guide = 2, 0

    def __init__(self) -> None:
        super().__init__()
        self.q = Q.QuantStub()
        self.c = nn.Conv2d(1, 4, 3, padding=1)
        self.r = nn.ReLU()
        self.l = nn.Linear(4, 1)
        self.dq = Q.DeQuantStub()

    def forward(self, x):
        up = F.interpolate(x, scale_factor=2.0, mode="nearest")
        y = self.r(self.c(self.q(up - 300.0)))
        return up + self.dq(self.l(y.permute(0, 2, 3, 1))).permute(0, 3, 1, 2)


def _scripted_quantized(seed, calib=1.0):
    """A statically quantized (fbgemm) conv + linear net, weights from ``seed``, calibrated on
    a spread of ``calib`` x 20 K, scripted."""
    torch.manual_seed(seed)
    m = _QNet().eval()
    m.qconfig = Q.get_default_qconfig("fbgemm")
    torch.manual_seed(99)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation
        p = Q.prepare(m)
        p(300.0 + (torch.rand(2, 1, 8, 8) - 0.5) * 20 * calib)
        s = torch.jit.script(Q.convert(p))
    s.factor, s.n_guide = 2, 0
    return s


def test_scripted_quantized_models_with_other_weights_get_their_own_outputs():
    a, b = _scripted_quantized(0), _scripted_quantized(1)
    assert weights_hash(a) == weights_hash(_scripted_quantized(0))
    assert weights_hash(a) != weights_hash(b)
    lst = _lst(np.random.default_rng(0).uniform(290, 310, (1, 8, 8)).astype(np.float32))
    x = torch.as_tensor(lst.values[:, None])
    with torch.no_grad():
        direct = float(a(x).mean()), float(b(x).mean())
    assert abs(direct[0] - direct[1]) > 0.1
    assert _upscaled_mean(a, lst) == pytest.approx(direct[0], abs=1e-3)
    assert _upscaled_mean(b, lst) == pytest.approx(direct[1], abs=1e-3)  # not a's


def test_a_scripted_quantized_models_hash_survives_save_and_load():
    a = _scripted_quantized(0)
    buf = io.BytesIO()
    torch.jit.save(a, buf)
    buf.seek(0)
    loaded = torch.jit.load(buf)
    loaded.factor, loaded.n_guide = 2, 0
    assert weights_hash(loaded) == weights_hash(a)


def test_scripted_quantized_models_with_another_output_scale_differ():
    """The same packed weights with another output quantization of one layer (a plain
    ``scale`` attribute once scripted, in ``state_dict`` in the Python form)."""
    def build(scale_factor):
        torch.manual_seed(0)
        m = _QNet().eval()
        m.qconfig = Q.get_default_qconfig("fbgemm")
        torch.manual_seed(99)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p = Q.prepare(m)
            p(300.0 + (torch.rand(2, 1, 8, 8) - 0.5) * 20)
            q = Q.convert(p)
            q.c.scale = float(q.c.scale) * scale_factor
            return torch.jit.script(q)

    a, b = build(1.0), build(4.0)
    x = 300.0 + torch.linspace(-10, 10, 64).reshape(1, 1, 8, 8)
    with torch.no_grad():
        assert not torch.equal(a(x), b(x))
    assert weights_hash(a) != weights_hash(b)
    assert weights_hash(a) == weights_hash(build(1.0))


# -- 2, 3. torchmetrics ----------------------------------------------------------------------------


def _user_metric_class():
    tm = pytest.importorskip("torchmetrics")

    class MyRMSE(tm.Metric):
        """A user's own metric: running sums in add_state, a setting of its own."""

        def __init__(self, offset: float = 0.0) -> None:
            super().__init__()
            self.offset = offset
            self.add_state("sse", default=torch.tensor(0.0), dist_reduce_fx="sum")
            self.add_state("n", default=torch.tensor(0), dist_reduce_fx="sum")

        def update(self, p, t):
            self.sse += ((p - t) ** 2).sum()
            self.n += t.numel()

        def compute(self):
            return (self.sse / self.n).sqrt() + self.offset

    return MyRMSE


class _Holder(nn.Module):
    """A model holding a metric it updates in a validation method (``in_forward``: its forward
    adds 0.01 x the metric of its output against it + 0.1)."""

    factor, n_guide = 2, 0

    def __init__(self, metric, in_forward=False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1)
        self.metric = metric
        self.in_forward = in_forward

    def forward(self, x):
        up = F.interpolate(x, scale_factor=2.0, mode="nearest") + 0.0 * self.conv(x).mean()
        return up + 0.01 * self.metric(up, up + 0.1) if self.in_forward else up

    def val(self, x, y):
        self.metric.update(self(x), y)


def test_a_users_metric_subclass_leaves_the_hash_alone_after_update_and_forward(tmp_path):
    MyRMSE = _user_metric_class()
    torch.manual_seed(0)
    m = _Holder(MyRMSE())
    before = weights_hash(m)
    m.val(torch.rand(2, 1, 4, 4), torch.rand(2, 1, 8, 8))
    assert float(m.metric.n) > 0
    assert weights_hash(m) == before
    fresh = _Holder(MyRMSE())
    fresh.load_state_dict(m.state_dict())
    assert weights_hash(fresh) == before
    # a resume in a fresh process's model with the same weights proceeds
    store = str(tmp_path / "out.zarr")
    xlstsr.upscale_to_zarr(_lst(), store, 2, progress=False,
                           method=TorchModelMethod(m, device="cpu", batch_size=1))
    xlstsr.upscale_to_zarr(_lst(), store, 2, progress=False, mode="resume",
                           method=TorchModelMethod(fresh, device="cpu", batch_size=1))
    # used in forward: a forward fills its sums, the hash stays
    torch.manual_seed(0)
    f = _Holder(MyRMSE(), in_forward=True)
    h = weights_hash(f)
    f(torch.full((1, 1, 4, 4), 300.0))
    assert weights_hash(f) == h
    # its own setting still counts
    torch.manual_seed(0)
    assert weights_hash(_Holder(MyRMSE(offset=1.0), in_forward=True)) != h


@pytest.mark.parametrize("which", ["psnr_data_range", "mse_squared"])
def test_a_torchmetrics_metrics_settings_are_hashed(which):
    tm = pytest.importorskip("torchmetrics")
    if which == "psnr_data_range":
        make = (lambda: tm.PeakSignalNoiseRatio(data_range=1.0),
                lambda: tm.PeakSignalNoiseRatio(data_range=255.0))
    else:
        make = (lambda: tm.MeanSquaredError(squared=True),
                lambda: tm.MeanSquaredError(squared=False))
    torch.manual_seed(0)
    a = _Holder(make[0](), in_forward=True)
    torch.manual_seed(0)
    b = _Holder(make[1](), in_forward=True)
    ha, hb = weights_hash(a), weights_hash(b)
    assert ha != hb
    x = torch.full((1, 1, 8, 8), 300.0)
    with torch.no_grad():
        direct = float(a(x).mean()), float(b(x).mean())
    gap = abs(direct[0] - direct[1])
    assert gap > 5e-4
    assert abs(_upscaled_mean(a) - direct[0]) < gap / 4
    assert abs(_upscaled_mean(b) - direct[1]) < gap / 4  # not a's
    # the settings are fixed: the hash does not move with the running state
    a(x)
    assert weights_hash(a) == ha


# -- 4. one attribute listing per scripted model ---------------------------------------------------


class _Chain(nn.Module):
    def __init__(self, n: int, k: float) -> None:
        super().__init__()
        self.k = k
        self.c = nn.Conv2d(1, 1, 1)
        self.next = _Chain(n - 1, k + 1.0) if n > 1 else None

    def forward(self, x):
        y = self.c(x) + self.k
        if self.next is not None:
            y = self.next(y)
        return y


def test_a_scripted_models_attributes_are_listed_once(monkeypatch):
    torch.manual_seed(0)
    s = torch.jit.script(_Chain(40, 0.0))
    expected = {id(m): _script_attribute_names(m._c) for m in s.modules()}
    h = weights_hash(s)
    listing = torch._C._jit_debug_module_iterators
    calls = []

    def counted(c):
        calls.append(c)
        return listing(c)

    monkeypatch.setattr(torch._C, "_jit_debug_module_iterators", counted)
    assert weights_hash(s) == h
    assert len(calls) == 1  # not one per submodule (41)
    from xlstsr.nn.fingerprint import _script_attribute_table

    assert _script_attribute_table(s) == expected  # the same names as listed one by one
    # a scripted chain held by a Python model: one listing for the scripted part
    holder = nn.Sequential(nn.Conv2d(1, 1, 1), s)
    calls.clear()
    weights_hash(holder)
    assert len(calls) == 1
