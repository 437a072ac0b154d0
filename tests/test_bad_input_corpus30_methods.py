"""Corpus 30 (methods): TsHARP on float32 round-off of the guide's block means, the public
GuidedSharpener.sharpen arguments, the fallback advice against TsHARP's real floor of samples,
and `conserve` for a method that conserves by construction (nearest)."""

from __future__ import annotations

import ast
import re
import warnings

import numpy as np
import pytest

import xlstsr
from xlstsr.errors import GuideCoverageError, MethodOptionError
from xlstsr.kernels.aggregate import radiometric_mean
from xlstsr.kernels.interp import cubic_upsample
from xlstsr.kernels.sharpen import linear_fit, residual_correct
from xlstsr.methods import get_method
from xlstsr.methods.base import UpscaleMethod, register_method, unregister_method


@pytest.fixture(scope="module")
def scene():
    s = xlstsr.datasets.sample_scene(n_times=1, size=64, seed=3)
    return s["lst_1km"].fillna(300.0), s["ndvi_250m"]


def _caught(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = fn()
    return out, [str(x.message) for x in w]


def _detail_layer(g, offset: float):
    """A guide of within-pixel detail only: the band minus its own 4 x 4 block mean, in float32
    (its block means are equal up to float32 round-off)."""
    v = g.values.astype(np.float32)
    ny, nx = v.shape[0] // 4, v.shape[1] // 4
    bm = v.reshape(ny, 4, nx, 4).mean(axis=(1, 3), dtype=np.float32)
    up = np.repeat(np.repeat(bm, 4, 0), 4, 1)
    d = (np.float32(0.5) * (v - up) + np.float32(offset)).astype(np.float32)
    return g.copy(data=d).rename("ndvi_detail")


# -- 1. round-off of the guide's block means ---------------------------------------------------
def test_linear_fit_gives_no_slope_to_float32_roundoff():
    rng = np.random.default_rng(0)
    y = 300 + rng.normal(0, 3, 200)
    for mu in (0.4, 0.0):  # a column at round-off around 0.4, and around 0 (a detail layer)
        x = (mu + rng.normal(0, 2e-8, 200))[:, None]
        coef = linear_fit(x, y, scale=np.array([0.15]))
        assert coef[1] == 0.0 and coef[0] == pytest.approx(y.mean())
    # the default scale (|mean| + std of the column) catches the one around 0.4 too
    assert linear_fit((0.4 + rng.normal(0, 2e-8, 200))[:, None], y)[1] == 0.0
    # a genuine small spread keeps its slope
    x = rng.normal(0.4, 1e-3, 200)
    np.testing.assert_allclose(linear_fit(x[:, None], 290 + 50 * x)[1], 50.0, rtol=1e-6)


@pytest.mark.parametrize("offset", [0.4, 0.0])
def test_tsharp_detail_guide_falls_back_with_its_cause(scene, offset):
    lst, g = scene
    guide = _detail_layer(g, offset)
    out, msgs = _caught(lambda: xlstsr.upscale(lst, 4, method="tsharp", guide=guide))
    hit = [m for m in msgs if "round-off" in m]
    assert len(hit) == 1 and "none between them" in hit[0], msgs
    assert "without the guide" in hit[0] and "e.g. NDVI" in hit[0], hit
    # the documented fallback: bicubic, residual-corrected and conservative
    x = lst.values[0].astype(np.float64)
    ref = residual_correct(cubic_upsample(x, 4), x, 4)
    np.testing.assert_allclose(out.values[0], ref, atol=1e-3)
    np.testing.assert_allclose(radiometric_mean(out.values[0].astype(np.float64), 4), x,
                               atol=1e-3)


def test_dms_detail_guide_falls_back_with_its_cause(scene):
    lst, g = scene
    _, msgs = _caught(lambda: xlstsr.upscale(lst, 4, method="dms", guide=_detail_layer(g, 0.4)))
    assert any("round-off" in m and "without the guide" in m for m in msgs), msgs


def test_tsharp_real_guide_not_taken_for_roundoff(scene):
    lst, g = scene
    out, msgs = _caught(lambda: xlstsr.upscale(lst, 4, method="tsharp", guide=g))
    assert not [m for m in msgs if "round-off" in m or "without the guide" in m], msgs
    x = lst.values[0].astype(np.float64)
    assert np.abs(out.values[0] - residual_correct(cubic_upsample(x, 4), x, 4)).max() > 0.1


# -- 2. GuidedSharpener.sharpen's public arguments ---------------------------------------------
@pytest.mark.parametrize("name", ["tsharp", "dms"])
def test_sharpen_valid_none_means_all_observed(scene, name):
    lst, g = scene
    x = lst.values[0].astype(np.float64)
    m = get_method(name)
    full = m.sharpen(x, np.ones(x.shape, bool), g.values[None], 4)
    np.testing.assert_array_equal(m.sharpen(x, None, g.values[None], 4), full)
    bic = residual_correct(cubic_upsample(x, 4), x, 4)
    assert np.abs(full - bic).max() > 0.1  # guided, not the bicubic fallback


@pytest.mark.parametrize("name", ["tsharp", "dms"])
def test_sharpen_guide_shapes(scene, name):
    lst, g = scene
    x = lst.values[0].astype(np.float64)
    m = get_method(name)
    ones = np.ones(x.shape, bool)
    np.testing.assert_array_equal(m.sharpen(x, ones, g.values, 4),
                                  m.sharpen(x, ones, g.values[None], 4))
    for bad in (g.values[None, None], g.values[:, :-4][None], g.values[::2, ::2]):
        with pytest.raises(GuideCoverageError, match=r"\(c, 64, 64\).*got shape"):
            m.sharpen(x, ones, bad, 4)


# -- 3. the fallback advice against the real floor -----------------------------------------------
def _cloudy(lst, n_clear):
    v = np.full(lst.shape, np.nan, lst.dtype)
    v[0, 4, 4:4 + n_clear] = lst.values[0, 4, 4:4 + n_clear]
    return lst.copy(data=v)


def test_tsharp_fallback_names_its_floor_and_the_advice_works(scene):
    lst, g = scene
    cloudy = _cloudy(lst, 5)
    guide = [g, (g * 0.5 + 0.1 + 0.05 * np.sin(g.x / 3000.0)).rename("albedo")]

    def few(gd, **opts):
        _, msgs = _caught(lambda: xlstsr.upscale(cloudy, 4, method="tsharp", guide=gd,
                                                 method_options=opts))
        return [m for m in msgs if "too few" in m]

    for opts in ({"quadratic": True}, {"quadratic": True, "min_samples": 1}):
        hit = few(guide, **opts)
        assert len(hit) == 1 and "5 usable" in hit[0], hit
        assert "k + 2 = 6" in hit[0] and "lower `min_samples`" not in hit[0], hit[0]
        # each piece of advice, followed, fits: a linear fit of the two bands...
        advised = re.findall(r"pass method_options=(\{[^}]*\})", hit[0])
        assert len(advised) == 1, hit[0]
        assert not few(guide, **{**opts, **ast.literal_eval(advised[0])}), advised
        # ... or a quadratic fit of one band (with min_samples lowered where it is above 5)
        one = re.search(r"give at most 1 guide band\(s\) \(needs 4(; with method_options="
                        r"(\{[^}]*\}))?\)", hit[0])
        assert one, hit[0]
        lower = ast.literal_eval(one.group(2)) if one.group(2) else {}
        assert not few(g, **{**opts, **lower})


def test_tsharp_floor_matches_fit(scene):
    lst, g = scene
    m = get_method("tsharp", quadratic=True, min_samples=1)
    guide = np.stack([g.values, g.values ** 3])
    floor = m.min_fit_samples(2)
    assert floor == 6
    x = lst.values[0].astype(np.float64)
    for n, fits in ((floor - 1, False), (floor, True)):
        valid = np.zeros(x.shape, bool)
        valid[10, 2:2 + n] = True
        assert (m.fit(x, valid, guide, 4) is not None) is fits


def test_dms_fallback_still_advises_min_samples(scene):
    lst, g = scene
    _, msgs = _caught(lambda: xlstsr.upscale(_cloudy(lst, 8), 4, method="dms", guide=g))
    hit = [m for m in msgs if "too few" in m]
    assert len(hit) == 1 and "min_samples=8" in hit[0], hit


# -- 4. conserve for a method that conserves by construction -----------------------------------
def test_conserve_message_is_truthful(scene):
    lst, _ = scene
    with pytest.raises(MethodOptionError) as err:
        xlstsr.upscale(lst, 4, method="bicubic", conserve=True)
    assert "does not make its output's radiometric aggregate" not in str(err.value)
    assert "does not enforce" in str(err.value) and "tsharp" in str(err.value)


def test_conservative_method_accepts_conserve_as_noop(scene):
    lst, _ = scene

    @register_method("_c30_blocks")
    class Blocks(UpscaleMethod):
        conservative = True

        def halo(self, factor):
            return 0

        def upscale_block(self, lst, valid, guide, factor):
            return lst.repeat(factor, -2).repeat(factor, -1)

    try:
        out = xlstsr.upscale(lst, 4, method="_c30_blocks", conserve=True)
        np.testing.assert_array_equal(out.values, xlstsr.upscale(lst, 4, method="nearest").values)
        with pytest.raises(MethodOptionError, match="True or False"):
            get_method("_c30_blocks", conserve="yes")
        with pytest.raises(MethodOptionError, match="by construction"):
            get_method("bicubic", conserve=True)
    finally:
        unregister_method("_c30_blocks")


def test_nearest_conserve(scene):
    lst, _ = scene
    from xlstsr.methods.bicubic import Nearest

    if Nearest.conservative:  # declared conservative: conserve=True is accepted as a no-op
        out = xlstsr.upscale(lst, 4, method="nearest", conserve=True)
        np.testing.assert_array_equal(out.values, xlstsr.upscale(lst, 4, method="nearest").values)
    else:
        with pytest.raises(MethodOptionError) as err:
            xlstsr.upscale(lst, 4, method="nearest", conserve=True)
        assert "does not make its output's radiometric aggregate" not in str(err.value)
