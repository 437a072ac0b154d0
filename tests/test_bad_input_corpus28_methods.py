"""Bad-input corpus 28 (methods, registry, engine): a guide mostly filled with a constant, the
registry's aliases and clashes, the guided sharpeners' fallback advice, custom methods' NaN
output and halo."""

from __future__ import annotations

import warnings

import dask.array as dsa
import numpy as np
import pytest

import xlstsr
from xlstsr.errors import GuideAlignmentWarning, ImplausibleOutputError, XlstsrError
from xlstsr.methods import UpscaleMethod, get_method, register_method
from xlstsr.methods.bicubic import Bicubic

torch = pytest.importorskip("torch")


def _warnings(fn, *args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(*args, **kwargs)
    return out, [str(w.message) for w in caught if not issubclass(w.category, GuideAlignmentWarning)]


# -- 1. a gap-filling model given a guide that is mostly gaps -------------------------------------
class _GuidedUp(torch.nn.Module):
    """A tiny guided x4 model: nearest LST plus the guide (filled gaps included)."""

    factor, n_guide, receptive_field = 4, 1, 1
    guide_fill_value = 0.5

    def forward(self, lst, guide=None):
        return torch.nn.functional.interpolate(lst, scale_factor=4, mode="nearest") + guide


@pytest.fixture(scope="module")
def guided_model():
    return xlstsr.methods.TorchModelMethod(_GuidedUp(), device="cpu")


def _constant_fill_warnings(msgs):
    return [m for m in msgs if "beyond the reach of the model's local gap filling" in m]


def test_model_warns_when_most_of_its_guide_is_a_constant_fill(s, guided_model):
    lst, ndvi = s["lst_1km"].isel(time=0), s["ndvi_250m"]
    cloudy = ndvi.copy()
    cloudy[8:, :] = np.nan  # a cloud-masked daily NDVI: its top rows clear
    _, msgs = _warnings(xlstsr.upscale, lst, 4, method=guided_model, guide=cloudy,
                        guide_offset="ignore")
    hits = _constant_fill_warnings(msgs)
    assert len(hits) == 1, msgs
    far = np.zeros(ndvi.shape, bool)
    far[8 + 4:] = True  # rows farther than the 4 fine pixels its filling reaches
    clear = np.isfinite(lst.values).repeat(4, 0).repeat(4, 1)
    share = far[clear].mean()  # of the guide under the clear LST
    assert f"{share:.0%}" in hits[0] and "method='sisr'" in hits[0] and "composite" in hits[0]
    # the whole guide, or scattered gaps the local filling reaches: no warning
    rng = np.random.default_rng(0)
    speckled = ndvi.where(rng.random(ndvi.shape) > 0.5)
    for g in (ndvi, speckled):
        _, msgs = _warnings(xlstsr.upscale, lst, 4, method=guided_model, guide=g,
                            guide_offset="ignore")
        assert not _constant_fill_warnings(msgs), msgs


def test_constant_fill_warning_names_the_steps_and_reads_nothing_lazily(s, guided_model):
    lst = s["lst_1km"]  # two dates
    guide = xlstsr.datasets.sample_scene(n_times=2, size=64)["ndvi_250m"]
    guide = guide.expand_dims(time=lst.time).copy()
    guide[1, 4:, :] = np.nan
    _, msgs = _warnings(xlstsr.upscale, lst, 4, method=guided_model, guide=guide,
                        guide_offset="ignore")
    hits = _constant_fill_warnings(msgs)
    assert len(hits) == 1 and "step(s) [1] of 2" in hits[0], msgs
    # dask inputs: nothing is read while the graph is built, so no such warning
    lazy, msgs = _warnings(xlstsr.upscale, lst.chunk({"x": 8}), 4, method=guided_model,
                           guide=guide.chunk({"x": 32}), guide_offset="ignore")
    assert isinstance(lazy.data, dsa.Array) and not _constant_fill_warnings(msgs)


def test_constant_mask_is_what_the_guide_filling_gives_its_constant(guided_model):
    from xlstsr.methods.torch_model import beyond_fill_reach, fill_guide

    rng = np.random.default_rng(1)
    g = rng.random((2, 1, 24, 28)).astype(np.float32)
    g[rng.random(g.shape) < 0.85] = np.nan
    g[0, 0, 3:20, 2:25] = np.nan
    for radius in (0, 1, 3):
        filled = fill_guide(g, radius, -7.0)
        np.testing.assert_array_equal(beyond_fill_reach(g, radius), filled == -7.0)
    np.testing.assert_array_equal(guided_model.guide_constant_mask(g, 4),
                                  beyond_fill_reach(g, 4)[:, 0])


# -- 2. the registry ----------------------------------------------------------------------------
def test_alias_of_a_builtin_keeps_its_name_and_checks(s, method_registry):
    lst = s["lst_1km"]
    assert register_method("cubic")(Bicubic) is Bicubic
    assert Bicubic.name == "bicubic" and get_method("cubic").name == "bicubic"
    assert type(get_method("cubic")) is Bicubic  # the same class, not a subclass (picklable)
    assert xlstsr.upscale(lst, 4, method="bicubic").attrs["xlstsr_method"] == "bicubic"
    with pytest.raises(XlstsrError, match="adds none"):
        xlstsr.upscale(lst, 4, method="bicubic", scale_correction=0.5)


def test_a_registered_name_is_not_silently_replaced(method_registry):
    class Mine(UpscaleMethod):
        def upscale_block(self, lst, valid, guide, factor):
            return lst.repeat(factor, -2).repeat(factor, -1)

    with pytest.raises(XlstsrError, match=r"'bicubic' is registered already.*built in.*replace=True"):
        register_method("bicubic")(Mine)
    assert type(get_method("bicubic")) is Bicubic
    register_method("bicubic", replace=True)(Mine)
    assert type(get_method("bicubic")) is Mine
    # the same class defined again (a notebook cell run twice) replaces its former self
    register_method("mine")(Mine)

    class Mine(UpscaleMethod):
        def upscale_block(self, lst, valid, guide, factor):
            return lst.repeat(factor, -2).repeat(factor, -1)

    register_method("mine")(Mine)
    assert type(get_method("mine")) is Mine


def test_bad_names_and_classes_are_refused(method_registry):
    before = xlstsr.available_methods()
    with pytest.raises(XlstsrError, match=r'@register_method\("forgot"\)'):
        @register_method
        class Forgot(UpscaleMethod):
            pass
    for name in (4, "", None):
        with pytest.raises(XlstsrError, match="non-empty string"):
            register_method(name)
    with pytest.raises(XlstsrError, match=r"subclass of xlstsr\.methods\.UpscaleMethod"):
        register_method("not_a_method")(dict)
    assert xlstsr.available_methods() == before


# -- 3. the guided sharpeners' fallback advice --------------------------------------------------
@pytest.mark.parametrize("method", ["tsharp", "dms"])
def test_fallback_advice_fits_the_usable_pixels(s, method):
    lst, ndvi = s["lst_1km"].isel(time=0), s["ndvi_250m"]
    rng = np.random.default_rng(0)
    speckled = ndvi.where(rng.random(ndvi.shape) > 0.5)  # no complete 4 x 4 guide block
    for opts in ({}, {"min_samples": 1}):
        _, msgs = _warnings(xlstsr.upscale, lst, 4, method=method, guide=speckled,
                            guide_offset="ignore", **opts)
        hit = [m for m in msgs if "too few clear coarse pixels" in m]
        assert len(hit) == 1, msgs
        assert "0 usable" in hit[0] and "lower `min_samples`" not in hit[0]
        assert "whole 4 x 4 guide block" in hit[0] and "'disr'" in hit[0]
    # a few usable pixels, fewer than min_samples: lowering it is the advice that works
    few = ndvi.copy()
    few[8:, :] = np.nan  # two rows of complete blocks: 32 usable pixels
    _, msgs = _warnings(xlstsr.upscale, lst, 4, method=method, guide=few, guide_offset="ignore",
                        min_samples=40)
    hit = [m for m in msgs if "too few clear coarse pixels" in m]
    assert len(hit) == 1 and "32 usable" in hit[0] and "lower `min_samples`" in hit[0], msgs


# -- 4. custom methods' output and halo -----------------------------------------------------------
def test_custom_method_nan_on_clear_pixels_is_refused(s, method_registry):
    @register_method("holes")
    class Holes(UpscaleMethod):
        def upscale_block(self, lst, valid, guide, factor):
            out = lst.repeat(factor, -2).repeat(factor, -1).astype(np.float64)
            out[:, ::3, ::3] = np.nan
            return out

    lst = s["lst_1km"]
    for inp in (lst, lst.chunk({"x": 8})):
        with pytest.raises(ImplausibleOutputError, match=r"method 'holes' returned NaN.* at \d+ of"):
            xlstsr.upscale(inp, 4, method="holes").compute()


def test_custom_method_nan_under_gaps_only_passes(s, method_registry):
    @register_method("holes_in_gaps")
    class HolesInGaps(UpscaleMethod):
        def upscale_block(self, lst, valid, guide, factor):
            out = lst.repeat(factor, -2).repeat(factor, -1).astype(np.float64)
            out[~valid.repeat(factor, -2).repeat(factor, -1)] = np.nan
            return out

    lst = s["lst_1km"].copy()
    lst[:, 2:5, 3:7] = np.nan
    sr = xlstsr.upscale(lst, 4, method="holes_in_gaps")
    parent = np.isnan(lst.values).repeat(4, -2).repeat(4, -1)
    np.testing.assert_array_equal(np.isnan(sr.values), parent)


@pytest.mark.parametrize("value", [-1, None, 2.5])
def test_bad_halo_is_named(s, method_registry, value):
    @register_method("bad_halo")
    class BadHalo(UpscaleMethod):
        def halo(self, factor, _h=value):
            return _h

        def upscale_block(self, lst, valid, guide, factor):
            return lst.repeat(factor, -2).repeat(factor, -1)

    lst = s["lst_1km"]
    for inp in (lst, lst.chunk({"x": 8})):
        with pytest.raises(XlstsrError, match=r"halo\(4\) of method 'bad_halo' must be a whole "
                                              r"number >= 0"):
            xlstsr.upscale(inp, 4, method="bad_halo").compute()
