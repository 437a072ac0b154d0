"""ONNX Runtime as the CPU backend of the deep methods (xlstsr.nn.onnx_runtime, issue 16 item 3)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import xlstsr
from xlstsr.errors import DeviceError, XlstsrError
from xlstsr.methods import get_method
from xlstsr.methods.torch_model import ONNX_TILE, TorchModelMethod
from xlstsr.nn import GuidedResCNN, MRUNet
from xlstsr.nn.onnx_runtime import ONNX_TOLERANCE_K, OnnxModel, onnx_available
from xlstsr.nn.weights import load_weights

pytestmark = pytest.mark.skipif(not onnx_available(), reason="onnxruntime / onnx not installed")


def _inputs(model, b, h, w, seed=0):
    rng = np.random.default_rng(seed)
    lst = torch.from_numpy((290 + 6 * rng.standard_normal((b, 1, h, w))).astype(np.float32))
    if not getattr(model, "n_guide", 0):
        return (lst,)
    f = model.factor
    g = rng.uniform(0, 0.8, (b, model.n_guide, h * f, w * f)).astype(np.float32)
    return lst, torch.from_numpy(g)


@pytest.mark.parametrize("name", ["rescnn", "unet", "fast"])
def test_bundled_models_equal_torch_on_every_tile_shape(name):
    # the export is traced on one shape; the engine's tiles come in many (edge tiles, odd sizes)
    m = load_weights(name)
    fast = OnnxModel(m)
    for b, h, w in [(1, 7, 9), (2, 24, 17), (1, 40, 33), (1, 1, 1)]:
        args = _inputs(m, b, h, w, seed=h)
        with torch.inference_mode():
            want = m(*args)
        got = fast(*args)
        assert got.shape == want.shape
        assert float((got - want).abs().max()) < 1e-3
        assert float((got - want).abs().max()) > 0 or h == 1  # it is not torch's own output


def test_unet_whose_factor_needs_padding_keeps_the_pad_for_other_sizes():
    # factor 2 and 2 levels: the fine grid is padded to a multiple of 4 for some sizes only; a
    # trace that froze "no pad" gives a wrong shape on the others (the check at export refuses)
    m = MRUNet(2, base=4, levels=2).eval()
    torch.nn.init.normal_(m.out.weight, std=0.1)
    fast = OnnxModel(m)
    for h, w in [(6, 6), (7, 5), (9, 10)]:
        (lst,) = _inputs(m, 1, h, w)
        with torch.inference_mode():
            want = m(lst)
        assert float((fast(lst) - want).abs().max()) < 1e-3


def test_coarse_grid_network_exports_with_separate_coarse_and_fine_sizes(capfd):
    # GuidedResCNN folds the fine guide onto the coarse grid: with one name for the coarse and
    # the fine sizes ONNX Runtime planned its buffers as if they were equal (and said so on stderr)
    m = GuidedResCNN(4, n_guide=1, channels=8, n_blocks=2, fine=4).eval()
    for p in m.parameters():
        torch.nn.init.normal_(p, std=0.1)
    fast = OnnxModel(m)
    for b, h, w in [(1, 37, 29), (2, 8, 13)]:
        args = _inputs(m, b, h, w, seed=w)
        with torch.inference_mode():
            want = m(*args)
        assert float((fast(*args) - want).abs().max()) < 1e-3
    assert "Shape mismatch" not in capfd.readouterr().err


class _SizeBranch(torch.nn.Module):
    """Output depends on a Python branch on the input size: a trace freezes it."""

    factor, n_guide, receptive_field = 2, 0, 0

    def forward(self, lst, guide=None):
        up = torch.nn.functional.interpolate(lst, scale_factor=2, mode="nearest")
        return up + 1.0 if lst.shape[-1] > 12 else up


def test_export_that_froze_a_branch_is_refused_naming_the_torch_backend():
    with pytest.raises(XlstsrError, match=r"differs from torch.*backend='torch'"):
        OnnxModel(_SizeBranch())
    lst = xlstsr.datasets.sample_scene(n_times=1, size=8)["lst_1km"]
    with pytest.raises(XlstsrError, match="differs from torch"):
        xlstsr.upscale(lst, 2, method=TorchModelMethod(_SizeBranch(), backend="onnxruntime"))
    sr = xlstsr.upscale(lst, 2, method=TorchModelMethod(_SizeBranch())).values  # torch runs it
    assert sr.shape[-2:] == (2 * lst.sizes["y"], 2 * lst.sizes["x"]) and np.isfinite(sr).any()


@pytest.mark.parametrize("method", ["sisr", "disr"])
def test_upscale_backends_agree_and_torch_is_the_default(method):
    scene = xlstsr.datasets.sample_scene(n_times=2, size=40)
    kw = {"guide": scene["ndvi_250m"]} if method == "disr" else {}
    lst = scene["lst_1km"].chunk(x=16, y=16)
    out = {b: xlstsr.upscale(lst, 4, method=method, tile=16, backend=b, **kw)
           for b in ("torch", "onnxruntime")}
    vals = {b: v.values for b, v in out.items()}
    diff = np.nanmax(np.abs(vals["onnxruntime"] - vals["torch"]))
    assert 0 < diff < ONNX_TOLERANCE_K
    np.testing.assert_array_equal(np.isnan(vals["onnxruntime"]), np.isnan(vals["torch"]))
    default = xlstsr.upscale(lst, 4, method=method, tile=16, **kw).values
    np.testing.assert_array_equal(default, vals["torch"])
    assert get_method(method).model().__class__ is not OnnxModel
    assert get_method(method, backend="onnxruntime").model().__class__ is OnnxModel
    # tiles with a halo (edge tiles of other shapes) equal one whole-image forward
    whole = xlstsr.upscale(scene["lst_1km"], 4, method=method, backend="onnxruntime",
                           tile=None, **kw).values
    np.testing.assert_allclose(vals["onnxruntime"], whole, atol=1e-4)
    assert '"backend": "onnxruntime"' in out["onnxruntime"].attrs["xlstsr_options"]
    assert "backend" not in out["torch"].attrs["xlstsr_options"]  # the default's as before
    assert get_method(method, backend="onnxruntime").tile_size(4) == ONNX_TILE


def test_one_session_per_thread_count_same_output():
    m = load_weights("rescnn")
    fast = OnnxModel(m)
    (lst,) = _inputs(m, 1, 30, 30)
    a, b = fast(lst, threads=1), fast(lst, threads=2)
    assert set(fast._sessions) >= {1, 2}
    assert float((a - b).abs().max()) < 1e-4


def test_backend_errors_name_the_fix(monkeypatch):
    with pytest.raises(XlstsrError, match="backend must be one of 'torch', 'onnxruntime'"):
        get_method("sisr", backend="tensorrt")
    m = get_method("sisr", backend="onnxruntime")
    with pytest.raises(DeviceError, match=r"CPU only.*backend='torch'"):
        m._backend_on("cuda")
    import xlstsr.methods.torch_model as tm

    monkeypatch.setattr(tm, "onnx_available", lambda: False)
    with pytest.raises(XlstsrError, match=r"pip install xlstsr\[onnx\]"):
        get_method("sisr", backend="onnxruntime")
    assert get_method("sisr")._backend_on("cpu") == "torch"  # the default needs neither


def test_device_auto_is_the_cpu_under_onnxruntime(monkeypatch):
    # on a machine with a GPU, device="auto" is CUDA for torch but the CPU for ONNX Runtime
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_method("sisr", backend="onnxruntime")._device() == "cpu"
    assert get_method("sisr")._device() == "cuda"


def test_adaptation_runs_the_torch_module_under_the_onnxruntime_backend():
    scene = xlstsr.datasets.sample_scene(n_times=1, size=24)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        sr = xlstsr.upscale(scene["lst_1km"], 4, method="sisr", backend="onnxruntime",
                            adapt={"steps": 1})
    assert np.isfinite(sr.values).mean() > 0.5



def test_cli_backend_option(tmp_path, capsys):
    """``xlstsr upscale --backend onnxruntime`` reaches the model; refused for bicubic."""
    import xarray as xr

    from xlstsr.cli import main

    lst = xlstsr.datasets.sample_scene(n_times=1, size=96)["lst_1km"].isel(time=0)
    src = tmp_path / "lst.tif"
    lst.rio.to_raster(src)
    assert main(["upscale", str(src), str(tmp_path / "sr.zarr"), "--method", "sisr",
                 "--backend", "onnxruntime", "--quiet"]) == 0
    got = xr.open_zarr(tmp_path / "sr.zarr", consolidated=False, decode_coords="all")
    sr = got[next(iter(got.data_vars))]
    assert '"backend": "onnxruntime"' in sr.attrs["xlstsr_options"]
    want = xlstsr.upscale(lst, 4, "sisr").values
    diff = np.nanmax(np.abs(sr.values - want))
    assert 0 < diff < ONNX_TOLERANCE_K
    capsys.readouterr()
    assert main(["upscale", str(src), str(tmp_path / "b.zarr"), "--backend", "onnxruntime"]) == 2
    assert "--backend are options of the deep methods" in capsys.readouterr().err
