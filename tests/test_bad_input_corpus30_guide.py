"""Guide and co-registration findings of session 30: scattered NaN in a guide made the offset
check move an aligned guide (the coarse pixels compared changed with the candidate shift), and
a leaf-area-index guide was advised to be divided by 10 to pass for DISR's NDVI."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from scipy import ndimage

import xlstsr
from xlstsr import errors
from xlstsr.kernels import coregister as kc

DATA = "/work/shared/data/modis_aster"


# -- 1: scattered NaN in the fine field must not move the co-registration estimate ----------


def _weak_pair(seed: int, size: int = 128, frac: float = 0.05):
    """A fine field, the coarse field it explains (r ~ -0.7, aligned: true shift 0) and the
    fine field with ``frac`` of its pixels masked at random."""
    rng = np.random.default_rng(seed)
    base = ndimage.gaussian_filter(rng.standard_normal((size, size)), 1.5)
    fine = 0.5 + 0.2 * base / base.std()
    sig = kc.forward_model(fine, 4, 0, 0, sigma=1.6, min_weight=0)
    noise = ndimage.gaussian_filter(rng.standard_normal(sig.shape), 1.0)
    coarse = 300 - 20 * sig + 20 * sig.std() * noise / noise.std()
    masked = fine.copy()
    masked[rng.uniform(size=fine.shape) < frac] = np.nan
    return fine, coarse, masked


def test_every_candidate_shift_is_compared_on_the_same_coarse_pixels(monkeypatch):
    _, coarse, masked = _weak_pair(0)
    counts: list[int] = []
    fit, fit_many = kc._fit, kc._fit_many

    def spy_fit(pred, target):
        out = fit(pred, target)
        counts.append(out[3])
        return out

    def spy_fit_many(pred, target):
        counts.extend((np.isfinite(pred) & np.isfinite(target)).sum(axis=(1, 2)).tolist())
        return fit_many(pred, target)

    monkeypatch.setattr(kc, "_fit", spy_fit)
    monkeypatch.setattr(kc, "_fit_many", spy_fit_many)
    est = kc.estimate_shift(masked, coarse, 4, psf=False, max_shift=2.0, step=1.0)
    # the grid, the refinement and the curvature: one sample (it held 1820 coarse pixels at no
    # shift and 2350 at half a pixel on a real NDVI with 5 % masked, and the fit preferred
    # the shifts that kept more)
    assert len(counts) > 30 and set(counts) == {est.n_valid}


def test_scattered_guide_nan_give_no_confident_spurious_shift():
    for seed in range(8):
        fine, coarse, masked = _weak_pair(seed)
        est = kc.estimate_shift(masked, coarse, 4, psf=False, max_shift=2.0, step=1.0)
        clean = kc.estimate_shift(fine, coarse, 4, psf=False, max_shift=2.0, step=1.0)
        # the truth is no shift: within twice the standard error reported (old: up to 4.6)
        assert np.hypot(est.dy, est.dx) < 2 * est.uncertainty, seed
        # fewer pixels compared, a wider uncertainty (old: tighter than the clean field's)
        assert est.n_valid < clean.n_valid and est.uncertainty > clean.uncertainty, seed


@pytest.mark.skipif(not os.path.exists(f"{DATA}/002_modis_ndvi_250m.tif"),
                    reason="the real MODIS/ASTER pairs (/work/shared/data/modis_aster) are absent")
@pytest.mark.parametrize("pid", ["002", "020"])
def test_masked_real_ndvi_guide_is_not_moved(pid):
    import rioxarray

    from xlstsr.guide import measure_offset
    from xlstsr.validate import prepare_lst

    lst = rioxarray.open_rasterio(f"{DATA}/{pid}_modis_lst_1km.tif", masked=True)
    lst = prepare_lst(lst.squeeze("band", drop=True).rename("lst").assign_attrs(units="K"),
                      mask_out_of_range=True)
    g = rioxarray.open_rasterio(f"{DATA}/{pid}_modis_ndvi_250m.tif", masked=True)
    g = g.squeeze("band", drop=True).rename("ndvi")
    v = g.values.copy()
    v[np.random.default_rng(0).uniform(size=v.shape) < 0.05] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error", errors.GuideAlignmentWarning)
        assert measure_offset(g, lst, "auto", factor=4) is None  # aligned, as before
        # old: moved by (-106, -57) m on 002, (+192, -7) m on 020, +/- ~25 m
        assert measure_offset(g.copy(data=v), lst, "auto", factor=4) is None


# -- 2: a leaf-area-index guide is not NDVI, rescaled or not ---------------------------------


def _lai():
    s = xlstsr.datasets.sample_scene(n_times=1, size=32, seed=3)
    lai = (s["ndvi_250m"] * 3 + 3).rename("lai").assign_attrs(long_name="leaf area index",
                                                               units="m2/m2")
    return s["lst_1km"], lai


def test_lai_guide_is_refused_as_not_ndvi_not_advised_a_rescale():
    lst, lai = _lai()
    with pytest.raises(errors.GuideScaleError, match=r"labelled 'lai'.*trained on 'ndvi'") as info:
        xlstsr.upscale(lst, 4, method="disr", guide=lai)
    assert "divide" not in str(info.value)
    # the rescale the old message advised is refused too (the name still says LAI)
    with pytest.raises(errors.GuideScaleError, match=r"labelled 'lai'"):
        xlstsr.upscale(lst, 4, method="disr", guide=lai / 10)


def test_lai_said_by_long_or_standard_name_only_is_refused():
    lst, lai = _lai()
    for attrs in ({"long_name": "Leaf Area Index"}, {"standard_name": "leaf_area_index"}):
        band = (lai / 10).rename("band_data").assign_attrs(attrs)
        with pytest.raises(errors.GuideScaleError, match=r"band_data \(Leaf|band_data \(leaf"):
            xlstsr.upscale(lst, 4, method="disr", guide=band)
    # an NDVI is still taken
    s = xlstsr.datasets.sample_scene(n_times=1, size=32, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isfinite(xlstsr.upscale(lst, 4, method="disr", guide=s["ndvi_250m"])).any()
