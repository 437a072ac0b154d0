"""Probe 51 R2 findings 8 and 7: an undeclared constant border (a warp without a nodata value)
in a fine field taken as data by estimate_offset and by the guide's auto offset; a stored 0 on a
large share dropped where no Kelvin reading fits; set_normalisation's None / array arguments
and an unguided model's guide statistics."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import xarray as xr

import xlstsr
from xlstsr.coregister import misfit_surface
from xlstsr.errors import UndeclaredFillError, XlstsrError


@pytest.fixture(scope="module")
def pair001(shared_data):
    from xlstsr.datasets import open_modis_aster_pair

    lst, ndvi, _ = open_modis_aster_pair("001")
    return lst, ndvi


def _bordered(ndvi: xr.DataArray) -> xr.DataArray:
    """The NDVI as a warp without -dstnodata writes it: 0 on the top 10 rows and a 5 x 10 block
    at the bottom-left corner (4 % of the pixels, the probe's field)."""
    a = ndvi.fillna(0).copy()
    a.values[:10, :] = 0
    a.values[-5:, :10] = 0
    return a


def constant_border(img: np.ndarray, **kw):
    from xlstsr.kernels.coregister import constant_border as found  # new in session 51

    return found(img, **kw)


def _shift(est: xr.Dataset) -> np.ndarray:
    return np.array([float(est.shift_x), float(est.shift_y)])


# --- the kernel ---------------------------------------------------------------------------

def test_constant_border_rows_and_corner_block():
    rng = np.random.default_rng(0)
    img = rng.uniform(-0.1, 0.9, (64, 64))
    assert constant_border(img) is None
    img[:3] = 0.0
    img[-4:, :6] = 0.0
    b = constant_border(img)
    assert b.value == 0.0
    assert b.where == "the top 3 rows, a 4 x 6 block at the bottom-left corner"
    assert b.mask[:3].all() and b.mask[-4:, :6].all()  # and the pixels next to them
    assert b.mask[3].all() and not b.mask[5:-6, 8:].any()


def test_constant_border_one_line_or_a_small_corner_is_no_band():
    rng = np.random.default_rng(1)
    img = rng.uniform(0.1, 0.9, (64, 64))
    img[:1] = 0.0  # one row: a genuine edge of one value can be this
    img[-3:, -3:] = 0.5  # 3 x 3 = 9 pixels < 16
    assert constant_border(img) is None


def test_constant_border_takes_a_warp_wedge_whole():
    rng = np.random.default_rng(2)
    img = rng.uniform(0.1, 0.9, (64, 64))
    yy, xx = np.mgrid[:64, :64]
    wedge = yy + xx < 20  # a rotated footprint's corner
    img[wedge] = 0.0
    b = constant_border(img)
    assert b is not None and b.value == 0.0
    assert b.mask[wedge].all()


def test_constant_border_counts_nearest_resampled_squares():
    # an LST resampled by nearest neighbour (yanco's 1 km on 100 m): two equal 10 x 10 squares
    # at a corner are data, not a band
    rng = np.random.default_rng(3)
    coarse = np.round(rng.uniform(300, 310, (12, 12)), 1)
    coarse[0, :2] = 306.0
    img = np.kron(coarse, np.ones((10, 10)))
    assert constant_border(img) is not None  # a 10 x 20 block as single pixels
    assert constant_border(img, block=10) is None
    coarse[:2, :] = 306.0  # two whole rows of squares: a band again
    assert constant_border(np.kron(coarse, np.ones((10, 10))), block=10) is not None


# --- estimate_offset ------------------------------------------------------------------------

def test_border_fill_warned_and_its_advice_works(pair001):
    lst, ndvi = pair001
    a = _bordered(ndvi)
    # warned, not refused (review 51e: a genuine constant edge, clipped or sea, was refused)
    with pytest.warns(UserWarning, match="top 10 rows, a 5 x 10 block") as info:
        xlstsr.estimate_offset(a, lst, radiometric=False)
    assert any("fine.where(fine != 0)" in str(w.message) for w in info)
    # the advice, followed: the estimate of the field with its fill declared
    fine = a.where(a != 0)
    est = xlstsr.estimate_offset(fine, lst, radiometric=False)
    assert bool(est.reliable)
    ref = xlstsr.estimate_offset(ndvi, lst, radiometric=False)
    # the border read as data put it (66, 359) m; as given (71, 31)
    assert np.all(np.abs(_shift(est) - _shift(ref)) < 15.0)


def test_border_fill_warned_and_left_out_or_left_out_silently(pair001):
    lst, ndvi = pair001
    a = _bordered(ndvi)
    declared = xlstsr.estimate_offset(a.where(a != 0), lst, radiometric=False)
    with pytest.warns(UserWarning, match="left out of the estimate"):
        warned = xlstsr.estimate_offset(a, lst, radiometric=False, errors="warn")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = xlstsr.estimate_offset(a, lst, radiometric=False, errors="ignore")
    for est in (warned, quiet):
        assert bool(est.reliable)
        # the advice masks interior 0s too; the border masked with its neighbours
        assert np.all(np.abs(_shift(est) - _shift(declared)) < 15.0)
        assert abs(float(est.shift_y)) < 100.0


def test_guide_auto_offset_not_moved_by_a_border(pair001):
    from xlstsr.guide import measure_offset

    lst, ndvi = pair001
    assert measure_offset(ndvi, lst, "auto") is None  # the clean guide is used as it is
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # it was moved (-47, -255) m by its 0 border
        assert measure_offset(_bordered(ndvi), lst, "auto") is None


def test_misfit_surface_leaves_the_border_out(pair001):
    lst, ndvi = pair001
    a = _bordered(ndvi)
    shifts = np.array([-200.0, 0.0, 200.0])
    with pytest.warns(UserWarning, match="constant band along its edge"):
        got = misfit_surface(a, lst, shifts, radiometric=False)
    want = misfit_surface(a.where(a != 0), lst, shifts, radiometric=False)
    # the declared field loses its interior 0s too: close, not equal
    assert int(np.argmin(got.values)) == int(np.argmin(want.values))
    assert np.allclose(got.values, want.values, atol=0.02)


def test_stored_zero_without_a_kelvin_reading_is_a_fill(pair001):
    # an NDVI x 10000 whose 0 (8 % of the pixels, scattered: no border) hides beside genuine
    # NDVI near 0: the stored-0 finding was dropped where no Kelvin scale fits
    lst, ndvi = pair001
    i16 = (ndvi * 10000).round().fillna(0).astype("int16")
    rng = np.random.default_rng(5)
    i16.values[rng.random(i16.shape) < 0.08] = 0
    for kw in ({}, {"radiometric": False}):
        with pytest.raises(UndeclaredFillError, match="holds 0 on 8% of its valid pixels"):
            xlstsr.estimate_offset(i16, lst, **kw)
    # the advice, followed
    est = xlstsr.estimate_offset(i16.where(i16 != 0), lst, radiometric=False)
    assert bool(est.reliable)


# --- set_normalisation ------------------------------------------------------------------------

@pytest.mark.parametrize("args, name", [
    ((None, 10.0), "lst_offset"),
    ((300.0, None), "lst_scale"),
    ((300.0, np.array([10.0, 5.0])), "lst_scale"),
    ((np.array([300.0, 290.0]), 10.0), "lst_offset"),
])
def test_set_normalisation_refuses_none_and_arrays(args, name):
    from xlstsr.nn import GuidedUNet
    from xlstsr.nn.base import normalisation_problem

    m = GuidedUNet(4, n_guide=2)
    with pytest.raises(XlstsrError, match=f"set_normalisation: {name} must be a finite number"):
        m.set_normalisation(*args)
    assert normalisation_problem(*args).startswith(name)
    m.set_normalisation(300.0, 10.0)  # numbers, as the message asks
    # one value in an array or tensor is a number, as before
    m.set_normalisation(np.array([290.0]), torch.tensor(8.0))
    assert m.normalisation()["lst_offset"] == 290.0 and m.normalisation()["lst_scale"] == 8.0


def test_unguided_model_refuses_guide_statistics():
    from xlstsr.nn import ResCNN

    u = ResCNN(4, channels=4, n_blocks=1)
    for mean, std in (([0.5], [0.2]), (0.5, None), (None, 0.2)):
        with pytest.raises(XlstsrError, match="it takes no guide: leave guide_"):
            u.set_normalisation(300.0, 10.0, mean, std)
    u.set_normalisation(300.0, 10.0)  # the advice, followed
    assert u.normalisation()["guide_mean"] == []


def test_a_genuine_clipped_corner_is_not_refused(pair001):
    """(review 51e/1) an LST clipped at the sensor's maximum in a corner (2 % of its pixels)
    was refused by estimate_offset and evaluate(coregister=True); it is warned and left out."""
    lst, ndvi = pair001
    fine = ndvi.copy()
    fine[:15, :6] = float(fine.max())  # a saturated corner block, one exact value
    with pytest.warns(UserWarning, match="left out of the estimate"):
        est = xlstsr.estimate_offset(fine, lst, radiometric=False)
    ref = xlstsr.estimate_offset(ndvi, lst, radiometric=False)
    assert np.all(np.abs(_shift(est) - _shift(ref)) < 15.0)
