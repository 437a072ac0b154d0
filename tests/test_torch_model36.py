"""Round 36 fixes of the torch model engine: per-band guide fill values, a user's module torch
cannot copy left as it was, a user's checkpoint under a bundled file's name, ONNX on 'cpu:0'."""

import threading

import numpy as np
import pytest

import xlstsr
from xlstsr.errors import XlstsrError

torch = pytest.importorskip("torch")

from xlstsr.kernels.interp import fill_gaps  # noqa: E402
from xlstsr.methods.torch_model import TorchModelMethod, fill_guide, resolve_model  # noqa: E402
from xlstsr.nn import GuidedResCNN, ResCNN, save_model  # noqa: E402


@pytest.fixture(scope="module")
def scene():
    return xlstsr.datasets.sample_scene(n_times=2, size=32)


# -- 1. each guide band's gaps get that band's own mean -------------------------------------------
def _guide_with_far_gap(n_bands):
    rng = np.random.default_rng(0)
    g = (rng.standard_normal((1, n_bands, 64, 64)) * 0.1 + 1.0).astype(np.float32)
    g[:, :, :, 10:50] = np.nan  # 40 px wide: beyond the local fill's reach (4 px)
    return g


def test_second_guide_band_is_filled_with_its_own_mean():
    m = GuidedResCNN(4, n_guide=2, channels=4, n_blocks=1, fine=4)
    m.set_normalisation(300.0, 10.0, guide_mean=[0.4, 5.0], guide_std=[0.2, 0.46])
    assert m.guide_fill_value == pytest.approx((0.4, 5.0))
    method = TorchModelMethod(m, device="cpu")
    filled = method.fill_guide_gaps(_guide_with_far_gap(2), 4)
    assert np.isfinite(filled).all()
    far = filled[0, :, :, 30]  # the middle of the gap: the constant
    np.testing.assert_allclose(far[0], 0.4, rtol=1e-6)
    np.testing.assert_allclose(far[1], 5.0, rtol=1e-6)  # it was band 1's 0.4


def test_single_band_guide_fill_is_unchanged():
    m = GuidedResCNN(4, n_guide=1, channels=4, n_blocks=1, fine=4)
    m.set_normalisation(300.0, 10.0, guide_mean=[0.37], guide_std=[0.2])
    method = TorchModelMethod(m, device="cpu")
    assert isinstance(m.guide_fill_value, float) and method.guide_fill_value == m.guide_fill_value
    g = _guide_with_far_gap(1)
    old = fill_gaps(g, 4, far_value=float(m.guide_fill_value))
    np.testing.assert_array_equal(method.fill_guide_gaps(g, 4), old)
    np.testing.assert_array_equal(fill_guide(g, 4, 0.37), fill_guide(g, 4, [0.37]))


def test_guide_fill_value_of_the_wrong_length_is_refused():
    class Net(torch.nn.Module):
        factor, n_guide, receptive_field = 2, 2, 0
        guide_fill_value = (0.1, 0.2, 0.3)

        def forward(self, lst, guide=None):
            return torch.nn.functional.interpolate(lst, scale_factor=2)

    with pytest.raises(XlstsrError, match="one per band"):
        TorchModelMethod(Net(), device="cpu")
    with pytest.raises(XlstsrError, match="one per band"):
        fill_guide(_guide_with_far_gap(2), 1, [1.0, 2.0, 3.0])


# -- 2. a module torch cannot copy keeps its modes and layout ---------------------------------------
class _Locked(torch.nn.Module):
    factor, n_guide, receptive_field = 4, 0, 2

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.c1 = torch.nn.Conv2d(1, 8, 3, padding=1)
        self.c2 = torch.nn.Conv2d(8, 16, 3, padding=1)
        self.drop = torch.nn.Dropout(0.5)
        self.lock = threading.Lock()  # neither deepcopy nor torch.save take it
        self.modes_seen = []

    def forward(self, lst, guide=None):
        self.modes_seen.append(self.training or self.drop.training)
        x = self.c2(self.drop(torch.relu(self.c1((lst - 300.0) / 10.0))))
        up = torch.nn.functional.interpolate(lst, scale_factor=4, mode="bicubic")
        return up + 0.01 * torch.nn.functional.pixel_shuffle(x, 4)


def test_uncopyable_module_keeps_its_modes_and_layout(scene):
    net = _Locked().train()
    net.c1.eval()  # a submodule the user froze: its own mode comes back too
    weight = net.c2.weight
    lst = scene["lst_1km"]
    a = xlstsr.upscale(lst, 4, method="sisr", method_options={"model": net}).values
    assert net.training and net.c2.training and net.drop.training and not net.c1.training
    assert net.c2.weight is weight and net.c2.weight.is_contiguous()
    assert not any(net.modes_seen)  # every forward (probe and upscale) ran in eval mode
    # on dask threads, forwards of several chunks at once: each in eval mode (no dropout)
    b = xlstsr.upscale(lst.chunk({"time": 1, "x": 16}), 4, method="sisr",
                       method_options={"model": net}).values
    np.testing.assert_allclose(b, a, atol=1e-4)
    assert net.training and not net.c1.training and not any(net.modes_seen)


def test_uncopyable_module_is_not_moved_to_another_device():
    net = _Locked()
    m = TorchModelMethod(net, device="cpu:0")
    assert m.model() is net
    if torch.cuda.is_available():  # pragma: no cover - CPU machines
        with pytest.raises(xlstsr.errors.DeviceError, match="cannot be copied"):
            TorchModelMethod(net, device="cuda").model()


# -- 3. a user's checkpoint under a bundled file's name -------------------------------------------
def test_user_file_named_like_a_bundled_file_is_the_users(scene, tmp_path, monkeypatch):
    from xlstsr.nn.weights import weights_path

    monkeypatch.chdir(tmp_path)
    bundled = resolve_model("sisr_rescnn_x4.pt")[1]  # no such file here: the bundled one
    assert bundled == str(weights_path("rescnn_granule"))
    mine = ResCNN(4, channels=4, n_blocks=1)
    with torch.no_grad():
        mine.tail.bias.fill_(0.5)
    save_model(mine, "sisr_rescnn_x4.pt", mode="sisr")
    assert resolve_model("sisr_rescnn_x4.pt")[1] == "sisr_rescnn_x4.pt"
    assert resolve_model("rescnn_granule")[1] == bundled  # short names stay the bundled ones
    lst = scene["lst_1km"].isel(time=[0])
    by_name = xlstsr.upscale(lst, 4, "sisr", method_options={"model": "sisr_rescnn_x4.pt"})
    by_path = xlstsr.upscale(lst, 4, "sisr", method_options={"model": "./sisr_rescnn_x4.pt"})
    np.testing.assert_array_equal(by_name.values, by_path.values)


# -- 4. ONNX Runtime on 'cpu:0' ----------------------------------------------------------------------
def test_onnxruntime_accepts_cpu0(scene):
    from xlstsr.nn.onnx_runtime import onnx_available

    if not onnx_available():
        pytest.skip("onnxruntime not installed")
    lst = scene["lst_1km"].isel(time=[0])
    ref = xlstsr.upscale(lst, 4, "sisr", method_options={"backend": "onnxruntime"})
    got = xlstsr.upscale(lst, 4, "sisr",
                         method_options={"device": "cpu:0", "backend": "onnxruntime"})
    np.testing.assert_array_equal(got.values, ref.values)
