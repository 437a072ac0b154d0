"""Physics options found wanting in session 23 (conservation, scale laws, calibration)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import xlstsr
from xlstsr.kernels.aggregate import conserve_radiometric, radiometric_mean


def test_conservation_with_few_free_pixels_scales_the_whole_block():
    """A block whose guided (free) pixels are 1 of 16, the rest a bicubic fallback held fixed:
    the one pixel took the block's whole radiance deficit (300 K -> 342 K for a 3 K deficit).
    Fewer free pixels than half the block's valid ones now scale the whole block."""
    fine = np.full((4, 4), 300.0)
    fixed = np.ones((4, 4), bool)
    fixed[1, 1] = False
    out = conserve_radiometric(fine, np.array([[303.0]]), 4, fixed=fixed)
    assert abs(float(radiometric_mean(out, 4)[0, 0]) - 303.0) < 1e-6
    assert np.ptp(out) < 1e-9 and abs(out[1, 1] - 303.0) < 1e-6
    # a missing guide row (4 fixed of 16): the guided pixels still carry the block's residual
    fixed = np.zeros((4, 4), bool)
    fixed[3] = True
    out = conserve_radiometric(fine, np.array([[301.0]]), 4, fixed=fixed)
    np.testing.assert_array_equal(out[3], 300.0)
    assert abs(float(radiometric_mean(out, 4)[0, 0]) - 301.0) < 1e-6


@pytest.mark.realdata
@pytest.mark.parametrize("method", ["tsharp", "dms"])
def test_a_lake_masked_in_the_guide_makes_no_hot_spot(shared_data, method):
    """A round lake masked in the NDVI (water is a gap) left one guided pixel in a block of 16:
    it came out at 332 K where every input pixel of its 3 x 3 coarse neighbourhood was at most
    318 K. The excursion beyond the neighbourhood is now no larger than without the mask."""
    from scipy import ndimage

    from xlstsr.datasets.modis_aster import open_modis_aster_aligned

    p = open_modis_aster_aligned("001", shared_data)
    lst, ndvi = p["lst"], p["ndvi"]
    L = lst.values.astype(float)
    yy, xx = np.mgrid[0:256, 0:256]
    lake = (yy - 124.94) ** 2 + (xx - 212.13) ** 2 < 28.417**2
    g = ndvi.copy()
    g.values[lake] = np.nan
    hi = np.repeat(np.repeat(ndimage.maximum_filter(L, 3), 4, 0), 4, 1)
    lo = np.repeat(np.repeat(ndimage.minimum_filter(L, 3), 4, 0), 4, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = xlstsr.upscale(lst, 4, method, guide=g, guide_offset="ignore").values.astype(float)
        ref = xlstsr.upscale(lst, 4, method, guide=ndvi, guide_offset="ignore").values.astype(float)
    beyond = np.nanmax(np.where(lake, -np.inf, np.maximum(out - hi, lo - out)))
    beyond_ref = np.nanmax(np.maximum(ref - hi, lo - ref))
    assert beyond <= beyond_ref + 0.5, (beyond, beyond_ref)
    assert np.nanmax(np.abs(radiometric_mean(out, 4) - L)) < 1e-3  # still coarse-consistent
