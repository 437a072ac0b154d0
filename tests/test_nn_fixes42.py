"""Fixes of probe 42 (neural runtime): batch-mixing models, adapt= under inference mode,
half-precision weights through save_model, a user's own Lightning .ckpt, device="auto" in
load_model, dates in save_model's metadata."""

import warnings

import numpy as np
import pytest
import torch

from xlstsr.errors import CheckpointError, XlstsrError
from xlstsr.methods.torch_model import TorchModelMethod
from xlstsr.nn import ResCNN, load_model, load_weights, save_model
from xlstsr.nn.adapt import Adaptation, adapt_model
from xlstsr.nn.checkpoint import load_checkpoint
from xlstsr.nn.ops import cubic_kernel_bank
from xlstsr.nn.runtime import resolve_device


class _Norm(torch.nn.Module):
    """A whole-image model normalising by its input's statistics: over the whole batch
    (``per_image=False``, the bug a user writes testing one image at a time) or per image."""

    factor, n_guide, receptive_field, spatially_local = 2, 0, 1, False

    def __init__(self, per_image: bool) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.per_image = per_image
        self.c = torch.nn.Conv2d(1, 4, 3, padding=1)

    def forward(self, lst, guide=None):
        dims = (1, 2, 3) if self.per_image else (0, 1, 2, 3)
        m, s = lst.mean(dims, keepdim=True), lst.std(dims, keepdim=True)
        d = torch.nn.functional.pixel_shuffle(self.c((lst - m) / s), 2)
        return torch.nn.functional.interpolate(lst, scale_factor=2) + s * d


def _dates():
    rng = np.random.default_rng(0)
    lst = 295.0 + 3.0 * rng.standard_normal((3, 12, 12))
    return lst + np.array([0.0, -25.0, 10.0])[:, None, None]


def test_batch_mixing_model_runs_one_image_per_forward():
    with pytest.warns(UserWarning, match="mixes the images of a batch"):
        meth = TorchModelMethod(_Norm(per_image=False), device="cpu")
    assert meth.batch_size == 1
    lst = _dates()
    valid = np.ones(lst.shape, bool)
    together = meth.upscale_block(lst, valid, None, 2)
    alone = np.concatenate([meth.upscale_block(lst[i : i + 1], valid[i : i + 1], None, 2)
                            for i in range(3)])
    np.testing.assert_allclose(together, alone, atol=1e-4)


def test_batch_mixing_model_refused_with_explicit_batch_size():
    with pytest.raises(XlstsrError, match="batch_size=1"):
        TorchModelMethod(_Norm(per_image=False), device="cpu", batch_size=4)


class _Sized(_Norm):
    """A batch-mixing model whose forward runs only on images of 64-pixel multiples (a deeper
    U-Net), declaring its tile or not."""

    def forward(self, lst, guide=None):
        if lst.shape[-1] % 64:
            raise RuntimeError("sizes must be multiples of 64")
        return super().forward(lst, guide)


@pytest.mark.parametrize("tile", [64, None])
def test_batch_mixing_found_at_the_sizes_the_model_runs(tile):
    model = _Sized(per_image=False)
    if tile is not None:
        model.tile_size = tile
    with pytest.warns(UserWarning, match="mixes the images of a batch"):
        meth = TorchModelMethod(model, device="cpu")
    assert meth.batch_size == 1


def test_compiled_xlstsr_network_skips_the_batch_check(monkeypatch):
    import xlstsr.methods.torch_model as tm

    calls = []
    monkeypatch.setattr(tm, "_batch_dependence", lambda *a: calls.append(a))
    net = ResCNN(factor=4).eval()
    TorchModelMethod(torch.compile(net), device="cpu")  # compiled lazily: no compile here
    assert calls == []
    TorchModelMethod(_Norm(per_image=True), device="cpu")  # a user's model is checked
    assert len(calls) == 1


def test_per_image_model_keeps_batching():
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*mixes the images")
        meth = TorchModelMethod(_Norm(per_image=True), device="cpu")
    assert meth.batch_size is None


def _scene():
    lst = np.full((16, 16), 300.0, np.float32)
    lst[4:8, 4:8] = 310.0
    return lst


def test_adapt_under_callers_inference_mode():
    model = load_weights("rescnn")
    cfg = Adaptation(steps=2)
    x = torch.from_numpy(_scene())[None, None]
    ref = adapt_model(model, _scene(), factor=4, config=cfg)
    with torch.inference_mode():
        tuned = adapt_model(model, _scene(), factor=4, config=cfg)
        with_loaded = load_weights("rescnn")  # a model loaded under inference mode too
        tuned2 = adapt_model(with_loaded, _scene(), factor=4, config=cfg)
    with torch.no_grad():
        assert torch.allclose(tuned(x), ref(x), atol=1e-4)
        assert torch.allclose(tuned2(x), ref(x), atol=1e-4)
        assert not torch.allclose(ref(x), model(x), atol=1e-4)  # it did adapt


def test_save_model_refuses_half_precision(tmp_path):
    m = ResCNN(4, channels=4, n_blocks=1).to(torch.bfloat16)
    with pytest.raises(CheckpointError, match=r"model\.float\(\)"):
        save_model(m, tmp_path / "bf16.pt")
    assert not (tmp_path / "bf16.pt").exists()


def test_float_after_bfloat16_rebuilds_cubic_kernel():
    exact = torch.as_tensor(cubic_kernel_bank(4), dtype=torch.float32)[:, None]
    m = load_weights("rescnn").to(torch.bfloat16).float()
    assert torch.equal(m.cubic_weight, exact)


def test_bfloat16_file_loads_with_exact_cubic_kernel_and_a_warning(tmp_path):
    # a file an older save_model wrote from a bfloat16 model
    m = ResCNN(4, channels=4, n_blocks=1)
    p = save_model(m, tmp_path / "m.pt")
    blob = torch.load(p, weights_only=True)
    blob["state_dict"] = {k: v.to(torch.bfloat16) for k, v in blob["state_dict"].items()}
    torch.save(blob, p)
    with pytest.warns(UserWarning, match="bfloat16"):
        loaded = load_model(p)
    assert torch.equal(loaded.cubic_weight, m.cubic_weight)


def test_own_lightning_ckpt_advice(tmp_path):
    net = ResCNN(4, channels=4, n_blocks=1)
    p = tmp_path / "mine.ckpt"
    torch.save({"pytorch-lightning_version": "2.4.0", "epoch": 0,
                "state_dict": {f"model.{k}": v for k, v in net.state_dict().items()},
                "hyper_parameters": {"lr": 1e-3}}, p)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(p)
    text = str(err.value)
    assert "class that wrote it" in text and "save_model" in text
    assert "SuperResolutionModule" not in text and "--out" not in text


def test_xlstsr_lightning_ckpt_keeps_its_advice(tmp_path):
    p = tmp_path / "sr.ckpt"
    torch.save({"pytorch-lightning_version": "2.4.0", "state_dict": {},
                "hyper_parameters": {"model": None, "config": {}, "mode": "sisr"}}, p)
    with pytest.raises(CheckpointError, match=r"SuperResolutionModule\.load_from_checkpoint"):
        load_checkpoint(p)


def test_load_weights_device_auto():
    m = load_weights("rescnn", device="auto")
    assert next(m.parameters()).device.type == torch.device(resolve_device("auto")).type


def test_save_model_datetime_metadata(tmp_path):
    m = ResCNN(4, channels=4, n_blocks=1)
    dates = np.array(["2020-01-01", "2020-01-09"], dtype="datetime64[ns]")
    for unit in ("ns", "s", "D"):
        p = save_model(m, tmp_path / f"{unit}.pt", training_dates=dates.astype(f"datetime64[{unit}]"),
                       first=dates[0].astype(f"datetime64[{unit}]"))
        meta = load_model(p).metadata
        got = meta["training_dates"]
        assert all(isinstance(v, str) for v in got), got
        np.testing.assert_array_equal(np.array(got, dtype="datetime64[ns]"), dates)
        assert np.datetime64(meta["first"], "ns") == dates[0]


def test_save_model_durations_in_one_form(tmp_path):
    import datetime

    import pandas as pd

    m = ResCNN(4, channels=4, n_blocks=1)
    p = save_model(m, tmp_path / "d.pt", a=np.timedelta64(1, "h"), b=datetime.timedelta(hours=1),
                   c=pd.Timedelta("1h"), d=np.array([[1, 2]], dtype="timedelta64[D]"))
    meta = load_model(p).metadata
    assert meta["a"] == meta["b"] == meta["c"]
    assert pd.Timedelta(meta["a"]) == pd.Timedelta("1h")
    assert [[pd.Timedelta(v).days for v in row] for row in meta["d"]] == [[1, 2]]
