"""Session 54: speed of the grid checks every step repeats."""

from __future__ import annotations

import numpy as np

import xlstsr
from xlstsr import grid


def test_an_axis_fitted_again_is_not_searched_again() -> None:
    # before: each fine_grid / coarse_grid of the same field searched its axes' forms again
    # (1281 fits of 232 axes in a sample of the tests, a tenth of their time)
    lst = xlstsr.datasets.sample_scene(n_times=1, size=64)["lst_1km"]
    grid._fit_search.cache_clear()
    first = grid.fine_grid(lst, 4)
    misses = grid._fit_search.cache_info().misses
    again = grid.fine_grid(lst, 4)
    info = grid._fit_search.cache_info()
    assert misses > 0 and info.misses == misses and info.hits >= misses
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


def test_a_view_and_its_copy_fit_alike_and_a_float32_edge_is_its_own_key() -> None:
    labels = 500.0 + 1000.0 * np.arange(16.0)
    view = np.stack([labels, labels], axis=1)[:, 0]  # strided, not contiguous
    assert not view.flags.c_contiguous
    assert grid._fit_axis(view, 0.0, 1000.0) == grid._fit_axis(labels.copy(), 0.0, 1000.0)
    assert grid._fit_axis(labels, 0.0, 1000.0) is not None
    grid._fit_search.cache_clear()
    grid._fit_axis(labels, 0.0, 1000.0)
    grid._fit_axis(labels, np.float32(0.0), 1000.0)
    assert grid._fit_search.cache_info().misses == 2  # typed: not the float64 edge's answer
    # labels that no transform computes are not fitted, cached or not
    odd = labels + np.linspace(0, 0.3, 16)
    assert grid._fit_axis(odd, 0.0, 1000.0) is None and grid._fit_axis(odd, 0.0, 1000.0) is None
