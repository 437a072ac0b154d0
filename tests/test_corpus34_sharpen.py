"""Corpus 34 (c): the guided sharpeners' residual over gaps, sharpen() with NaN gaps, fill_gaps on
an all-NaN image of a stack, and a guide constant within every LST pixel."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import ndimage

import xlstsr
from xlstsr.errors import GuideAlignmentWarning
from xlstsr.kernels.aggregate import radiometric_mean
from xlstsr.kernels.interp import cubic_upsample, fill_gaps
from xlstsr.kernels.sharpen import residual_correct
from xlstsr.methods import get_method
from xlstsr.methods.guided import constant_in_blocks

F = 4


def _exact_law_scene(size=64):
    """A scene whose 250 m LST is an exact linear law of NDVI, and its 1 km LST."""
    s = xlstsr.datasets.sample_scene(n_times=1, size=size, seed=3, cloud_fraction=0)
    ndvi = s["ndvi_250m"]
    truth = 320.0 - 20.0 * ndvi.values.astype(np.float64)
    lst = s["lst_1km"].copy(data=radiometric_mean(truth, F)[None].astype("float32"))
    return lst, ndvi, truth


@pytest.mark.parametrize("method", ["tsharp", "dms"])
def test_clear_pixels_beside_a_gap_do_not_depend_on_the_gap_filling(method):
    lst, ndvi, _ = _exact_law_scene()
    x = lst.values.astype(np.float64)
    valid = np.ones(x.shape, bool)
    valid[0, 6:11, 6:11] = False  # a 5 x 5 coarse-pixel cloud
    g = ndvi.values[None, None].astype(np.float64)
    m = get_method(method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # two gap fillings (the engine's, and one 15 K warmer): the fits train on the clear
        # pixels only, so the clear pixels' output must not change
        a = m.upscale_block(fill_gaps(np.where(valid, x, np.nan), 2), valid, g, F)[0]
        b = m.upscale_block(np.where(valid, x, x + 15.0), valid, g, F)[0]
    clear = np.repeat(np.repeat(valid[0], F, 0), F, 1)
    # the filled gaps' coarse residual was cubic-interpolated into them (~4 K here)
    assert np.abs(a - b)[clear].max() < 1e-6


def test_tsharp_on_an_exact_law_stays_exact_beside_a_cloud():
    lst, ndvi, truth = _exact_law_scene()
    cloudy = lst.copy()
    cloudy.values[0, 6:11, 6:11] = np.nan
    gap = np.isnan(cloudy.values[0])
    near = np.repeat(np.repeat(ndimage.distance_transform_cdt(~gap, metric="chessboard") == 1,
                               F, 0), F, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = xlstsr.upscale(cloudy, F, method="tsharp", guide=ndvi, guide_offset="ignore")
    assert np.abs(out.values[0] - truth)[near].max() < 0.1  # was ~3 K


def test_residual_correct_takes_the_residual_at_observed_pixels_and_conserves():
    rng = np.random.default_rng(0)
    coarse = 300.0 + rng.standard_normal((12, 12))
    fine = cubic_upsample(coarse, F) + 0.3 * rng.standard_normal((12 * F, 12 * F))
    valid = np.ones((12, 12), bool)
    valid[4:8, 4:8] = False
    other = coarse.copy()
    other[4:8, 4:8] += 20.0  # another gap filling: other invented values under the cloud
    clear = ~np.repeat(np.repeat(ndimage.binary_dilation(~valid, iterations=2), F, 0), F, 1)
    beside = np.repeat(np.repeat(valid, F, 0), F, 1) & ~clear
    for residual in ("bicubic", "nearest"):
        a = residual_correct(fine, coarse, F, residual=residual, valid=valid)
        b = residual_correct(fine, other, F, residual=residual, valid=valid)
        assert np.allclose(a[beside], b[beside], atol=1e-9)
        # conservation holds in every block, gaps included (re-masked by the engine)
        assert np.allclose(radiometric_mean(a, F), coarse, atol=1e-9)
        assert np.allclose(radiometric_mean(b, F), other, atol=1e-9)
    # without `valid`, the filled values leak into the clear pixels beside the gap
    a = residual_correct(fine, coarse, F)
    b = residual_correct(fine, other, F)
    assert np.abs(a - b)[beside].max() > 1.0
    # all observed, or none: as without `valid`
    assert np.array_equal(residual_correct(fine, coarse, F, valid=np.ones_like(valid)), a)
    assert np.array_equal(residual_correct(fine, coarse, F, valid=np.zeros_like(valid)), a)


@pytest.mark.parametrize("method", ["tsharp", "dms"])
def test_sharpen_with_nan_gaps_keeps_them_in_their_own_blocks(method):
    s = xlstsr.datasets.sample_scene(n_times=1, size=64, seed=3, cloud_fraction=0)
    lst = s["lst_1km"].values[0].astype(np.float64)
    g = s["ndvi_250m"].values
    lst[5, 5] = np.nan
    m = get_method(method)
    out = m.sharpen(lst, None, g, F)
    block = np.zeros(out.shape, bool)
    block[5 * F : 6 * F, 5 * F : 6 * F] = True
    assert np.isnan(out[block]).all() and np.isfinite(out[~block]).all()
    # as the engine does it: filled (the method's halo), sharpened, re-masked
    ref = m.sharpen(fill_gaps(lst, m.halo(F)), np.isfinite(lst), g, F)
    assert np.allclose(out[~block], ref[~block])
    # an explicit `valid` that misses the NaN: the NaN is a gap all the same
    out2 = m.sharpen(lst, np.ones(lst.shape, bool), g, F)
    assert np.array_equal(np.isnan(out2), block)
    # nothing observed: NaN, as the engine skips such an image
    assert np.isnan(m.sharpen(np.full_like(lst, np.nan), None, g, F)).all()


def test_fill_gaps_leaves_an_all_nan_image_of_a_stack_nan():
    a = np.full((3, 4, 5), np.nan)
    a[0] = 300.0
    a[2, 1, 1] = 290.0
    out = fill_gaps(a, 1)
    assert np.isnan(out[1]).all()  # was 0.0 (0 K) in a stack, NaN alone
    assert np.array_equal(np.isnan(fill_gaps(a[1], 1)), np.isnan(out[1]))
    assert (out[0] == 300.0).all() and np.isfinite(out[2]).all()
    assert (fill_gaps(a, 1, far_value=280.0)[1] == 280.0).all()  # far_value still fills it


@pytest.mark.parametrize("method", ["tsharp", "dms"])
def test_guide_constant_within_every_lst_pixel_warns(method):
    s = xlstsr.datasets.sample_scene(n_times=1, size=64, seed=3)
    lst, ndvi = s["lst_1km"], s["ndvi_250m"]
    coarse = ndvi.values.reshape(16, F, 16, F).mean(axis=(1, 3))
    blocky = ndvi.copy(data=coarse.repeat(F, 0).repeat(F, 1))  # 1 km NDVI resampled (nearest)

    def no_detail_warnings(guide):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            xlstsr.upscale(lst, F, method=method, guide=guide, guide_offset="ignore")
        return [x for x in w if issubclass(x.category, GuideAlignmentWarning)
                and "no detail below the LST's resolution" in str(x.message)]

    hits = no_detail_warnings(blocky)
    assert len(hits) == 1 and "constant within every LST pixel" in str(hits[0].message)
    assert not no_detail_warnings(ndvi)  # the 250 m guide itself: no such warning


def test_constant_in_blocks_ignores_gaps_and_untrained_blocks():
    g = np.arange(16.0).reshape(1, 4, 4).repeat(F, 1).repeat(F, 2)  # (1, 16, 16)
    valid = np.ones((4, 4), bool)
    assert constant_in_blocks(g, valid, F)
    g2 = g.copy()
    g2[0, 0, 1] += 1.0  # detail inside block (0, 0)
    assert not constant_in_blocks(g2, valid, F)
    v = valid.copy()
    v[0, 0] = False  # ... which is not a training pixel
    assert constant_in_blocks(g2, v, F)
    g3 = g2.copy()
    g3[0, 0, 0] = np.nan  # ... or whose guide block is incomplete
    assert constant_in_blocks(g3, valid, F)
    assert not constant_in_blocks(g, np.zeros((4, 4), bool), F)  # nothing to tell from
    two = np.concatenate([g, g2])  # one band with detail in a block: not constant
    assert not constant_in_blocks(two, valid, F)
