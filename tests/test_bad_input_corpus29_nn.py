"""Corpus 29 (nn): model fingerprints, device errors on workers, default batches, checkpoint
writes and advice, empty windows, architecture arguments."""

from __future__ import annotations

import copy
import os
import pickle

import numpy as np
import pytest
import torch
import xarray as xr

from xlstsr import errors
from xlstsr.methods import torch_model
from xlstsr.methods.torch_model import TorchModelMethod
from xlstsr.nn import GuidedResCNN, GuidedUNet, MRUNet, ResCNN, load_model, save_model
from xlstsr.nn.runtime import weights_hash


class _Up(torch.nn.Module):
    factor, n_guide, receptive_field = 4, 0, 1

    def __init__(self) -> None:
        super().__init__()
        self.c = torch.nn.Conv2d(1, 1, 3, padding=1)
        torch.nn.init.zeros_(self.c.weight)
        torch.nn.init.zeros_(self.c.bias)

    def forward(self, lst, guide=None):
        return torch.nn.functional.interpolate(lst + self.c(lst), scale_factor=4, mode="nearest")


def _plus5(mod, inp, out):
    return out + 5.0


def test_forward_hooks_are_part_of_weights_hash():
    # a model differing only by a forward hook (+5 K) shared the plain one's cache entry
    plain = _Up()
    hooked = copy.deepcopy(plain)
    handle = hooked.register_forward_hook(_plus5)
    assert weights_hash(hooked) != weights_hash(plain)
    assert weights_hash(hooked) == weights_hash(copy.deepcopy(hooked))  # by content, not id
    pre = copy.deepcopy(plain)
    pre.c.register_forward_pre_hook(lambda mod, inp: (inp[0] * 2,))  # on a submodule
    assert weights_hash(pre) not in (weights_hash(plain), weights_hash(hooked))
    handle.remove()
    assert weights_hash(hooked) == weights_hash(plain)


class _Calibrated(torch.nn.Module):
    factor, n_guide, receptive_field = 4, 0, 0

    def __init__(self, offset: float) -> None:
        super().__init__()
        self._offset = float(offset)
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, lst, guide=None):
        up = torch.nn.functional.interpolate(lst, scale_factor=4, mode="nearest")
        return up + self._offset + 0 * self.dummy


def test_private_attributes_of_user_models_are_part_of_weights_hash():
    assert weights_hash(_Calibrated(0.0)) != weights_hash(_Calibrated(3.0))
    assert weights_hash(_Calibrated(3.0)) == weights_hash(_Calibrated(3.0))


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_cuda_on_a_worker_without_gpu_is_a_device_error(monkeypatch):
    # under a dask.distributed client the constructor leaves the CUDA check to the workers;
    # the worker's load_state raised torch's bare AssertionError
    monkeypatch.setattr(torch_model, "_distributed_client", lambda: True)
    method = TorchModelMethod(ResCNN(4, channels=4, n_blocks=1), device="cuda")
    payload = method.dump_state()
    shipped = pickle.loads(pickle.dumps(method))  # as a worker gets it: without its module
    with pytest.raises(errors.DeviceError, match="device='auto' or device='cpu'"):
        shipped.load_state(payload)


def test_default_batch_is_capped_by_pixels(monkeypatch):
    # batch_size=None ran every date of a block in one forward (~45 GB for 365 dates)
    n, h, f = 5, 8, 4
    monkeypatch.setattr(torch_model, "BATCH_PIXELS", 2 * (h * f) ** 2)
    seen = []
    forward = torch_model.runtime.forward

    def spy(model, x, g):
        seen.append(x.shape[0])
        return forward(model, x, g)

    monkeypatch.setattr(torch_model.runtime, "forward", spy)
    torch.manual_seed(0)
    model = ResCNN(f, channels=4, n_blocks=1)
    torch.nn.init.normal_(model.tail.weight, std=0.1)
    rng = np.random.default_rng(0)
    lst = (290 + 10 * rng.random((n, h, h))).astype("float32")
    valid = np.ones(lst.shape, bool)
    out = TorchModelMethod(model, device="cpu").upscale_block(lst, valid, None, f)
    assert seen == [2, 2, 1]
    seen.clear()
    one = TorchModelMethod(model, device="cpu", batch_size=n).upscale_block(lst, valid, None, f)
    assert seen == [n]
    np.testing.assert_allclose(out, one, atol=1e-4)  # float rounding only


def test_save_model_replaces_the_file_atomically(tmp_path):
    resource = pytest.importorskip("resource")
    signal = pytest.importorskip("signal")
    if not hasattr(resource, "RLIMIT_FSIZE") or not hasattr(signal, "SIGXFSZ"):
        pytest.skip("needs RLIMIT_FSIZE (POSIX) to make a write fail midway")
    p = tmp_path / "model.pt"
    save_model(ResCNN(4, channels=4, n_blocks=1), p)
    size = p.stat().st_size
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    try:  # a full disk: the write stops with EFBIG halfway through the bigger model
        resource.setrlimit(resource.RLIMIT_FSIZE, (size // 2, old_limit[1]))
        with pytest.raises(OSError):
            save_model(ResCNN(4, channels=8, n_blocks=2), p)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)
    assert load_model(p).config == {"factor": 4, "channels": 4, "n_blocks": 1}
    assert sorted(os.listdir(tmp_path)) == ["model.pt"]  # no temporary file left
    save_model(ResCNN(4, channels=8, n_blocks=2), p)  # a save that succeeds replaces it
    assert load_model(p).config["channels"] == 8
    assert sorted(os.listdir(tmp_path)) == ["model.pt"]


def test_keras_model_file_is_not_told_to_be_the_input(tmp_path):
    h5 = tmp_path / "lst_sr_model.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(errors.CheckpointError) as e:
        load_model(h5)
    assert "PyTorch" in str(e.value) and "give it as the input" not in str(e.value)
    keras = tmp_path / "model.h5"
    keras.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 50 + b"keras_version" + b"\0" * 50)
    with pytest.raises(errors.CheckpointError, match=r"Keras/TensorFlow model.*PyTorch models only"):
        load_model(keras)
    with pytest.raises(errors.CheckpointError, match="Keras/TensorFlow model"):
        (tmp_path / "m.keras").write_bytes(b"PK\x03\x04" + b"\0" * 100)
        load_model(tmp_path / "m.keras")
    nc = tmp_path / "lst.nc"
    nc.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)  # a data file keeps its advice
    with pytest.raises(errors.CheckpointError, match="give it as the input"):
        load_model(nc)


def test_window_samples_refuses_no_windows_and_no_dates():
    from xlstsr.train.windows import window_samples

    cube = xr.DataArray(300 + np.zeros((2, 16, 16), "float32"), dims=("time", "y", "x"),
                        name="lst", attrs={"units": "K"})
    with pytest.raises(errors.XlstsrError, match="windows is empty") as e:
        window_samples(cube, {}, 8, min_valid=0.0)
    assert "min_valid" not in str(e.value)  # it was told to lower min_valid
    with pytest.raises(errors.XlstsrError, match="no time step") as e:
        window_samples(cube.isel(time=slice(0, 0)), {"a": (0, 0)}, 8)
    assert "min_valid" not in str(e.value)


@pytest.mark.parametrize("build, err, msg", [
    (lambda: ResCNN(factor=2.5), errors.GridError, "factor must be a positive integer, got 2.5"),
    (lambda: ResCNN(n_blocks=-1), errors.XlstsrError, "n_blocks must be a whole number >= 0"),
    (lambda: ResCNN(channels=0), errors.XlstsrError, "channels must be a positive integer"),
    (lambda: MRUNet(4, base=4, levels=-1), errors.XlstsrError, "levels must be a whole number"),
    (lambda: GuidedUNet(4, n_guide=1.5), errors.XlstsrError, "n_guide must be a whole number"),
    (lambda: GuidedResCNN(4, fine=True), errors.XlstsrError, "fine must be a positive integer"),
    (lambda: GuidedResCNN(4, fine_blocks=-2), errors.XlstsrError, "fine_blocks must be"),
])
def test_architecture_arguments_are_checked(build, err, msg):
    with pytest.raises(err, match=msg):
        build()


def test_architecture_arguments_accept_whole_floats_and_numpy():
    assert ResCNN(np.int64(4), channels=4.0, n_blocks=1).config == {
        "factor": 4, "channels": 4, "n_blocks": 1}
