"""Round 34 (d): deep methods' advice and adaptation (weights names, NDVI guides to non-NDVI
models, adapt= on float64 / no_grad / TorchScript models, the lazy temperature-range warning)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import xarray as xr

torch = pytest.importorskip("torch")

import xlstsr  # noqa: E402
from xlstsr.errors import CheckpointError, GuideScaleError, XlstsrError  # noqa: E402
from xlstsr.nn import GuidedResCNN, ResCNN, save_model  # noqa: E402
from xlstsr.nn.weights import BUNDLED, list_weights, load_weights, weights_path  # noqa: E402


def _lst(size: int = 16, kelvin: float = 300.0, chunk: int | None = None) -> xr.DataArray:
    """The sample scene's LST (with its CRS), shifted to a median of ``kelvin``."""
    da = xlstsr.datasets.sample_scene(n_times=1, size=size * 4)["lst_1km"]
    da = (da - float(da.median()) + kelvin).assign_attrs(da.attrs)
    return da if chunk is None else da.chunk({"y": chunk, "x": chunk})


def _small_model(dtype: str | None = None) -> torch.nn.Module:
    m = ResCNN(4, channels=4, n_blocks=1).eval()
    return m if dtype is None else getattr(m, dtype)()


# -- 06: an unknown weights name is not "not installed" -------------------------------------------
@pytest.mark.parametrize("name, near", [("RESCNN", "rescnn"), ("unet2", "unet")])
def test_unknown_weights_name_names_the_known_ones_not_make_weights(name, near):
    assert name not in BUNDLED
    for call in (weights_path, load_weights):
        with pytest.raises(CheckpointError) as err:
            call(name)
        msg = str(err.value)
        assert "make weights" not in msg and "not installed" not in msg
        assert f"no bundled weights named {name!r}" in msg
        assert f"did you mean {near!r}" in msg
        assert all(k in msg for k in BUNDLED)


def test_known_weights_name_and_file_name_still_resolve():
    for name, fname in list(BUNDLED.items())[:2]:
        if (weights_path.__globals__["WEIGHTS_DIR"] / fname).is_file():
            assert weights_path(name).name == fname
            assert weights_path(fname).name == fname


# -- 04: a bundled weights name given as method= ---------------------------------------------------
@pytest.mark.parametrize("name", ["unet", "mrunet", "fast"])
def test_bundled_weights_name_as_method_gets_the_runnable_advice(name):
    info = list_weights().get(name)
    if info is None:
        pytest.skip(f"bundled weights {name!r} not installed")
    method = "disr" if info["n_guide"] else "sisr"
    with pytest.raises(XlstsrError) as err:
        _ = xlstsr.upscale(_lst(), 4, method=name)
    msg = str(err.value)
    assert "register_method" not in msg
    assert f"method={method!r}" in msg and f"weights={name!r}" in msg
    # the advice runs
    scene = xlstsr.datasets.sample_scene(n_times=1, size=32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw = {"guide": scene["ndvi_250m"]} if method == "disr" else {}
        out = xlstsr.upscale(scene["lst_1km"], 4, method=method, weights=name, **kw)
    assert np.isfinite(out.values).any()


# -- 03: an NDVI guide to a model trained on another named quantity -------------------------------
@pytest.fixture(scope="module")
def albedo_model(tmp_path_factory):
    m = GuidedResCNN(4, n_guide=1, channels=4, n_blocks=1)
    sd = m.state_dict()
    sd["guide_mean"].fill_(0.25)
    sd["guide_std"].fill_(0.08)
    m.load_state_dict(sd)
    return save_model(m, tmp_path_factory.mktemp("c34d") / "albedo.pt", inputs=["lst", "albedo"])


def test_ndvi_labelled_guide_refused_by_a_model_trained_on_albedo(albedo_model):
    scene = xlstsr.datasets.sample_scene(n_times=1, size=32)
    lst, ndvi = scene["lst_1km"], scene["ndvi_250m"]
    for guide in ({"ndvi": ndvi}, ndvi, ndvi.rename("NDVI")):
        with pytest.raises(GuideScaleError, match="trained on 'albedo'") as err:
            _ = xlstsr.upscale(lst, 4, method="disr", guide=guide,
                           method_options={"model": str(albedo_model)}).values
        assert "label it so" in str(err.value)
    # the albedo band labelled so, or unlabelled, still reaches it
    albedo = (0.25 + 0.1 * (ndvi - ndvi.mean())).rename("albedo")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _ = xlstsr.upscale(lst, 4, method="disr", guide={"albedo": albedo},
                       method_options={"model": str(albedo_model)}).values


def test_ndvi_label_check_keeps_ndvi_models():
    from xlstsr.guide import check_guide_labels

    check_guide_labels(["ndvi_250m"], ["ndvi"], "disr")
    check_guide_labels(["ndvi"], ["guide0"], "torch")  # a model that names no channel
    check_guide_labels(["ndvi"], ["sur_refl_b01"], "torch")  # no known quantity: values judge
    with pytest.raises(GuideScaleError, match="labelled 'ndvi'"):
        check_guide_labels(["ndvi"], ["lai"], "torch")


# -- 05: adapt= on a float64 / float16 model, or a forward under no_grad --------------------------
@pytest.mark.parametrize("dtype", ["double", "half"])
def test_adapt_on_a_non_float32_model_says_model_float(dtype):
    from xlstsr.nn.adapt import Adaptation, adapt_model

    m = _small_model(dtype)
    with pytest.raises(XlstsrError, match=r"model\.float\(\)"):
        adapt_model(m, _lst().values[0], factor=4, config=Adaptation(steps=2, window=8))
    with pytest.raises(XlstsrError, match=r"model\.float\(\)"):
        _ = xlstsr.upscale(_lst(), 4, method="sisr", model=m, adapt={"steps": 2}).values


def test_adapt_on_a_no_grad_forward_says_drop_adapt():
    class NoGrad(torch.nn.Module):
        factor, n_guide = 4, 0

        def __init__(self):
            super().__init__()
            self.m = _small_model()

        def forward(self, lst, guide=None):
            with torch.no_grad():
                return self.m(lst)

    with pytest.raises(XlstsrError, match="differentiable forward") as err:
        _ = xlstsr.upscale(_lst(), 4, method="sisr", model=NoGrad(), adapt={"steps": 2}).values
    assert "drop adapt=" in str(err.value)


# -- 02: adapt= on the TorchScript wrapper the checkpoint refusal advises -------------------------
def test_adapt_on_a_wrapped_torchscript_model(tmp_path):
    from xlstsr.nn.adapt import copy_model

    inner = _small_model()
    path = tmp_path / "traced.pt"
    torch.jit.trace(inner, torch.rand(1, 1, 8, 8) + 300).save(str(path))

    class Wrapped(torch.nn.Module):
        factor, n_guide = 4, 0

        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, lst, guide=None):
            return self.m(lst)

    w = Wrapped(torch.jit.load(str(path)))
    before = [p.detach().clone() for p in w.parameters()]
    c = copy_model(w)
    assert all(p.is_leaf for p in c.parameters() if p.is_floating_point())
    lst = _lst(kelvin=300.0)
    lst[0, 4:8, 4:8] += 8.0
    plain = xlstsr.upscale(lst, 4, method="sisr", model=w).values
    tuned = xlstsr.upscale(lst, 4, method="sisr", model=w,
                           adapt={"steps": 3, "lr": 1e-3, "window": 8}).values
    assert tuned.shape == plain.shape
    assert np.array_equal(np.isfinite(tuned), np.isfinite(plain))
    assert not np.allclose(tuned, plain, equal_nan=True)  # adapted
    assert all(torch.equal(a, b) for a, b in zip(before, w.parameters()))  # the original kept


# -- 01: the lazy temperature-range warning names the block it was decided on ---------------------
def _range_warnings(lst: xr.DataArray) -> list[str]:
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        _ = xlstsr.upscale(lst, 4, method="sisr", method_options={"model": "mrunet"}).values
    return [str(w.message) for w in rec if "lies far outside" in str(w.message)]


def test_lazy_temperature_range_warning_says_it_is_one_blocks_median():
    if "mrunet" not in list_weights():
        pytest.skip("bundled weights 'mrunet' not installed")
    eager = _range_warnings(_lst(kelvin=350.0))
    assert len(eager) == 1
    assert "the LST's median" in eager[0]
    lazy = _range_warnings(_lst(kelvin=350.0, chunk=8))
    assert len(lazy) == 1
    assert "the LST's median" not in lazy[0]
    where = re.search(r"one dask block of the LST \(step 0, y (\d+):(\d+), x (\d+):(\d+)\)",
                      lazy[0])
    assert where is not None, lazy[0]
    y0, y1, x0, x1 = map(int, where.groups())
    assert y1 - y0 == 8 and x1 - x0 == 8 and y0 % 8 == 0 and x0 % 8 == 0
