"""Block statistics of xlstsr.kernels.aggregate against hand-computed values and explicit loops."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xlstsr.kernels.aggregate import (
    block_mean,
    block_moments,
    block_view,
    crop_to_multiple,
    within_block_covariance,
    within_block_variance,
)


def _gappy(seed: int, shape: tuple[int, ...], frac: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = 300 + 5 * rng.standard_normal(shape)
    a[rng.random(shape) < frac] = np.nan
    return a


def _blocks(a: np.ndarray, f: int):
    """(i, j, values of the valid pixels) of every f x f block of a 2-D array, by slicing."""
    for i, j in itertools.product(range(a.shape[0] // f), range(a.shape[1] // f)):
        b = a[i * f : (i + 1) * f, j * f : (j + 1) * f].ravel()
        yield i, j, b[np.isfinite(b)]


def test_block_mean_hand_computed():
    a = np.array(
        [
            [1.0, 3.0, 5.0, np.nan, np.nan, np.nan],
            [2.0, 6.0, np.nan, np.nan, np.nan, 7.0],
        ]
    )
    assert block_mean(a, 2, min_valid=0.0).tolist()[0][:2] == [3.0, 5.0]
    assert block_mean(a, 2, min_valid=0.0)[0, 2] == 7.0
    # min_valid is a fraction of the block: 1 of 4 pixels passes 0.25, not 0.5
    np.testing.assert_array_equal(block_mean(a, 2, min_valid=0.25), [[3.0, 5.0, 7.0]])
    np.testing.assert_array_equal(block_mean(a, 2, min_valid=0.5), [[3.0, np.nan, np.nan]])
    np.testing.assert_array_equal(block_mean(a, 2), [[3.0, np.nan, np.nan]])  # default: all valid
    # leading dims are kept; the result is float64
    stack = np.stack([a, 2 * a])
    out = block_mean(stack, 2, min_valid=0.0)
    assert out.shape == (2, 1, 3) and out.dtype == np.float64
    np.testing.assert_array_equal(out[1], 2 * out[0])
    with pytest.raises(ValueError, match="multiple of factor"):
        block_mean(a, 4)


def test_block_mean_is_the_nanmean_of_each_block_bit_for_bit():
    # the plain NaN-aware mean that training, guides and scaling all use: the same bits as
    # np.nanmean over each block (what train.block_nanmean computed)
    a = _gappy(0, (3, 16, 24), 0.4).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = np.nanmean(block_view(a.astype(np.float64), 4), axis=(-3, -1))
    np.testing.assert_array_equal(block_mean(a, 4, min_valid=0.0), ref)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31), st.sampled_from([1, 2, 3, 4]), st.floats(0.0, 0.9))
def test_block_moments_match_numpy_per_block(seed, f, gaps):
    a = _gappy(seed, (4 * f, 3 * f), gaps)
    n, mean, var = block_moments(a, f)
    for i, j, v in _blocks(a, f):
        assert n[i, j] == v.size
        if v.size:
            assert mean[i, j] == pytest.approx(np.mean(v), rel=1e-12)
            assert var[i, j] == pytest.approx(np.var(v), rel=1e-9, abs=1e-9)
        else:
            assert np.isnan(mean[i, j]) and np.isnan(var[i, j])


def test_block_moments_exact_on_a_constant_block():
    # centred (two-pass) variance: exactly 0 on a constant block at LST magnitude
    n, _, var = block_moments(np.full((4, 4), 301.37), 2)
    np.testing.assert_array_equal(var, 0.0)
    np.testing.assert_array_equal(n, 4)


@pytest.mark.parametrize("f", [2, 4])
def test_within_block_variance_is_the_mean_of_np_var_over_blocks(f):
    a = _gappy(1, (4 * f + 3, 5 * f + 1), 0.35)  # not a multiple: cropped
    expected = np.mean([np.var(v) for _, _, v in _blocks(a, f) if v.size >= 2])
    assert within_block_variance(a, f) == pytest.approx(expected, rel=1e-12)
    assert np.isnan(within_block_variance(np.full((4, 4), np.nan), 2))
    # blocks with a single valid pixel do not count (their variance 0 would bias the mean)
    one = np.full((2, 4), np.nan)
    one[0, 0] = 1.0
    one[:, 2:] = [[0.0, 2.0], [0.0, 2.0]]
    assert within_block_variance(one, 2) == 1.0


def test_within_block_covariance_pairwise():
    a = _gappy(2, (8, 12), 0.2)
    b = 0.5 * a + _gappy(3, (8, 12), 0.2)
    vals = []
    for i, j in itertools.product(range(4), range(6)):
        x = a[2 * i : 2 * i + 2, 2 * j : 2 * j + 2].ravel()
        y = b[2 * i : 2 * i + 2, 2 * j : 2 * j + 2].ravel()
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.sum() >= 2:
            vals.append(np.mean((x[ok] - x[ok].mean()) * (y[ok] - y[ok].mean())))
    assert within_block_covariance(a, b, 2) == pytest.approx(np.mean(vals), rel=1e-12)
    assert within_block_covariance(a, a, 2) == pytest.approx(within_block_variance(a, 2), rel=1e-14)


@pytest.mark.parametrize("f", [2, 4, 8])
def test_law_of_total_variance(f):
    # without gaps: variance = variance of the block means + mean within-block variance
    a = 300 + np.random.default_rng(4).standard_normal((32, 48)).cumsum(axis=1)
    total = np.var(a)
    between = np.var(block_mean(a, f))
    assert total == pytest.approx(between + within_block_variance(a, f), rel=1e-10)


def test_crop_to_multiple():
    a = np.arange(70.0).reshape(7, 10)
    assert crop_to_multiple(a, 3).shape == (6, 9)
    assert crop_to_multiple(a[None], 5).shape == (1, 5, 10)
    assert np.shares_memory(crop_to_multiple(a, 2), a)
