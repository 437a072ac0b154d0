"""Thirty-second round of bad inputs (metrics' coarse-grid check, align_guide, check_factor):
a coarse LST up to half a coarse pixel off the SR's blocks (1.5, 1.99 fine pixels) was taken
as aligned and scored block by block; a guide on the fine grid stored south-up was resampled
with the reason "at 250 x 250 m instead of the fine grid's 250 x 250 m"; coarsen's refusal of
a fractional factor gave upscale's example, backwards ("4 for 1 km -> 250 m").
"""

from __future__ import annotations

import warnings

import dask.array as dsa
import numpy as np
import pytest
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr

import xlstsr
from xlstsr import errors
from xlstsr.grid import align_guide, fine_grid
from xlstsr.metrics import check_coarse_grid, coarse_consistency
from xlstsr.validate import check_factor


def _field(ny: int, nx: int, res: float, seed: int = 0, values: np.ndarray | None = None) -> xr.DataArray:
    """A north-up UTM field of ``res`` m pixels with pixel-centre labels."""
    x = 500000.0 + res * (np.arange(nx) + 0.5)
    y = 4000000.0 - res * (np.arange(ny) + 0.5)
    if values is None:
        values = 290 + 10 * np.random.default_rng(seed).random((ny, nx))
    da = xr.DataArray(values, dims=("y", "x"), coords={"y": y, "x": x}, name="lst",
                      attrs={"units": "K"})
    return da.rio.write_crs("EPSG:32633")


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# --- metrics.check_coarse_grid: the blocks' centres, not half a coarse pixel -------------------

@pytest.mark.parametrize("k", [0.25, 1.5, 1.99])
def test_coarse_lst_a_fraction_of_a_coarse_pixel_off_is_refused(k):
    fine = _field(16, 16, 250.0)
    coarse = _quiet(xlstsr.coarsen, fine, 4)
    # its own coarsen is on the blocks (and float round-off on the labels is not a shift)
    check_coarse_grid(fine, coarse, 4)
    check_coarse_grid(fine, coarse.assign_coords(x=coarse.x + 1e-7), 4)
    shifted = coarse.assign_coords(x=coarse.x + k * 250.0)
    with pytest.raises(errors.GridError, match="not on the factor-4 fine grid") as exc:
        coarse_consistency(fine, shifted, 4)
    assert f"{k:.3g} fine" in str(exc.value)
    sr = _quiet(xlstsr.upscale, coarse, 4, method="bicubic")
    ev = _quiet(xlstsr.evaluate, sr, fine, coarse=coarse)
    assert np.isfinite(float(ev["coarse_consistency"]))
    with pytest.raises(errors.GridError, match="compared block by block"):
        _quiet(xlstsr.evaluate, sr, fine, coarse=shifted)


def test_coarse_and_fine_both_labelled_by_corners_are_told_to_label_centres():
    fine = _field(8, 8, 250.0)
    coarse = _quiet(xlstsr.coarsen, fine, 4)
    # both labelled by their north-west corners: each coarse label is its block's first one
    fine_c = fine.assign_coords(x=fine.x - 125.0, y=fine.y + 125.0)
    coarse_c = coarse.assign_coords(x=coarse.x - 500.0, y=coarse.y + 500.0)
    with pytest.raises(errors.GridError, match="label both by pixel centres"):
        check_coarse_grid(fine_c, coarse_c, 4)
    with pytest.raises(errors.GridError) as exc:  # a plain shift gets no such hint
        check_coarse_grid(fine, coarse.assign_coords(x=coarse.x + 250.0), 4)
    assert "corners" not in str(exc.value)


# --- grid.align_guide: a south-up guide is flipped before the nesting test ---------------------

@pytest.mark.parametrize("lazy", [False, True])
@pytest.mark.parametrize("flip", [{"y": slice(None, None, -1)}, {"x": slice(None, None, -1)}])
def test_align_guide_flips_a_guide_on_the_fine_grid_stored_south_up(flip, lazy):
    lst = _field(8, 8, 1000.0, values=np.full((8, 8), 300.0))
    g = _field(40, 40, 250.0, seed=1)  # the fine grid and a margin
    src = g.isel(flip)
    if lazy:
        src = src.chunk(8)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = align_guide(src, lst, 4)
    msgs = [str(x.message) for x in w]
    assert not [m for m in msgs if "reprojected" in m], msgs
    fy, fx, ft = fine_grid(lst, 4)
    assert isinstance(out.variable.data, dsa.Array) == lazy
    np.testing.assert_array_equal(out.y.values, fy)
    np.testing.assert_array_equal(out.x.values, fx)
    np.testing.assert_array_equal(out.values, g.sel(y=fy, x=fx).values)  # sliced, not resampled
    assert out.dtype == g.dtype
    assert out.rio.transform() == ft


# --- validate.check_factor: an example that holds for coarsen too ------------------------------

def test_coarsen_refusal_of_a_fractional_factor_is_not_upscale_backwards():
    with pytest.raises(errors.GridError, match="positive integer") as exc:
        _quiet(xlstsr.coarsen, _field(16, 16, 250.0), 2.5)
    assert "1 km -> 250 m" not in str(exc.value)
    with pytest.raises(errors.GridError, match=r"e\.g\. 4 for 250 m -> 1 km\), got 2\.5"):
        check_factor(2.5, example="4 for 250 m -> 1 km")
    with pytest.raises(errors.GridError, match=r"e\.g\. 4 for 1 km -> 250 m\), got 'x'"):
        check_factor("x", example="4 for 1 km -> 250 m")
    assert check_factor(np.float64(4.0)) == 4
