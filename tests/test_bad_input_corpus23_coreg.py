"""Bad-input corpus 23 (co-registration, evaluate, calibration): each test failed before its fix.

- a PSF width given to estimate_offset was clipped to 0.75 LST pixel without a word, and a free
  estimate pinned at that bound was reported reliable;
- evaluate(coregister=np.False_) co-registered; upscale(adapt=np.False_) was refused;
- evaluate's co-registration error advised `estimate_offset(..., errors='ignore')`, which fails
  on the unreliable estimate it follows (and the sentence was garbled);
- misfit_surface failed on lat/lon dims that estimate_offset takes;
- apply_calibration refused an NDVI on the LST's grid stored south-up.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import xarray as xr
from affine import Affine
from scipy import ndimage

import xlstsr
from xlstsr import errors
from xlstsr.calibration import Calibration, apply_calibration
from xlstsr.coregister import estimate_offset, misfit_surface
from xlstsr.evaluate import reference_mask
from xlstsr.grid import MODIS_250M, MODIS_SINUSOIDAL
from xlstsr.kernels.coregister import estimate_shift


def _fine(n: int = 192, seed: int = 0) -> xr.DataArray:
    """A smooth 250 m LST field (K) on the MODIS sinusoidal grid."""
    rng = np.random.default_rng(seed)
    v = 300 + 40 * ndimage.gaussian_filter(rng.standard_normal((n, n)), 5.0)
    x0, y0 = 200_000.0, 5_000_000.0
    da = xr.DataArray(v, dims=("y", "x"), attrs={"units": "K"}, coords={
        "y": y0 - (np.arange(n) + 0.5) * MODIS_250M, "x": x0 + (np.arange(n) + 0.5) * MODIS_250M})
    return da.rio.write_crs(MODIS_SINUSOIDAL).rio.write_transform(
        Affine(MODIS_250M, 0, x0, 0, -MODIS_250M, y0))


@pytest.fixture(scope="module")
def scene() -> dict[str, xr.DataArray]:
    s = xlstsr.datasets.sample_scene(n_times=1)
    lst, fine = s["lst_1km"].isel(time=0), s["lst_250m"].isel(time=0)
    return {"lst": lst, "fine": fine, "ndvi": s["ndvi_250m"],
            "sr": xlstsr.upscale(lst, 4, method="bicubic")}


def _moved(fine: xr.DataArray, dx: float) -> xr.DataArray:
    """``fine`` labelled ``dx`` metres east of where its content belongs."""
    res = fine.rio.resolution()[0]
    return fine.assign_coords(x=fine.x + dx).rio.write_transform(
        fine.rio.transform() * Affine.translation(dx / res, 0))


_SCORE = {"erode": 3, "valid_min": 230, "clear": True}


# -- 1. psf_sigma ------------------------------------------------------------------------------


def test_a_fixed_psf_sigma_is_used_as_given():
    fine = _fine()
    coarse = xlstsr.coarsen(fine, 4, psf=1000.0)  # 1.08 LST pixels
    # before: used and reported 695 m (0.75 LST pixel)
    est = estimate_offset(fine, coarse, psf=False, psf_sigma=1000.0)
    assert float(est.psf_sigma) == pytest.approx(1000.0)
    assert bool(est.reliable) and abs(float(est.shift_x)) < 10 and abs(float(est.shift_y)) < 10
    # the kernel likewise: the fixed width as given, a start beyond the bound refused
    f, c = np.asarray(fine.values), np.asarray(coarse.values)
    assert estimate_shift(f, c, 4, psf=False, sigma=4.3).sigma == 4.3
    with pytest.raises(ValueError, match="max_sigma"):
        estimate_shift(f, c, 4, psf=True, sigma=4.3)


def test_a_psf_estimate_at_its_bound_is_unreliable_and_a_start_beyond_refused():
    fine = _fine()
    coarse = xlstsr.coarsen(fine, 4, psf=1000.0)
    # before: pinned at 695 m and reliable=True
    with pytest.raises(errors.CoregistrationError, match=r"PSF width lies at its bound \(0.75 "
                       r"LST pixel, 695 m\).*psf=False, psf_sigma="):
        estimate_offset(fine, coarse)
    est = estimate_offset(fine, coarse, errors="ignore")
    assert not bool(est.reliable) and float(est.psf_sigma) == pytest.approx(695.0, abs=2)
    # before: the start silently clipped to 695 m; the fix the refusal names works
    with pytest.raises(errors.XlstsrError, match=r"bounded to 0.75 LST pixel.*psf=False, "
                       r"psf_sigma=1000"):
        estimate_offset(fine, coarse, psf=True, psf_sigma=1000.0)
    # a MODIS-like PSF inside the bound is still estimated and reliable
    est = estimate_offset(fine, xlstsr.coarsen(fine, 4, psf=350.0))
    assert bool(est.reliable) and float(est.psf_sigma) == pytest.approx(350.0, abs=10)


# -- 2. numpy bools ----------------------------------------------------------------------------


def test_evaluate_coregister_numpy_false_is_false(scene):
    moved = _moved(scene["fine"], 120.0)
    off = xlstsr.evaluate(scene["sr"], moved, coarse=scene["lst"], coregister=False)
    # before: co-registered (coregistration_shift_x -120 m, another RMSE)
    r = xlstsr.evaluate(scene["sr"], moved, coarse=scene["lst"], coregister=np.array([False])[0])
    assert "coregistration_shift_x" not in r
    assert float(r.rmse) == float(off.rmse)
    on = xlstsr.evaluate(scene["sr"], moved, coarse=scene["lst"], coregister=np.True_)
    assert float(on.coregistration_shift_x) == pytest.approx(-120.0, abs=15)


def test_upscale_adapt_accepts_numpy_bools(scene):
    from xlstsr.methods import get_method
    from xlstsr.nn.adapt import Adaptation

    # before: "adapt must be True, False, ... got bool"; bicubic: "cannot adapt"
    out = xlstsr.upscale(scene["lst"], 4, method="bicubic", adapt=np.False_)
    np.testing.assert_array_equal(out.values, scene["sr"].values)
    assert Adaptation.parse(np.False_) is None
    assert Adaptation.parse(np.True_) == Adaptation()
    assert get_method("sisr").with_adaptation(np.True_).describe()["adapt"]["steps"] == (
        Adaptation().steps)
    with pytest.raises(TypeError, match=r"got 'yes' \(builtins.str\)"):
        Adaptation.parse("yes")


# -- 3. evaluate's co-registration advice ------------------------------------------------------


def _advised(msg: str) -> str:
    """The `coregister=...` expression evaluate's message advises."""
    found = re.search(r"`coregister=(xlstsr\.estimate_offset\(.*?\))` for ASTER", msg)
    assert found, msg
    return found.group(1)


def test_evaluate_coregistration_advice_on_too_small_a_reference_works(scene):
    crop = scene["fine"].isel(y=slice(100, 116), x=slice(100, 116))  # 4 x 4 LST pixels
    with pytest.raises(errors.CoregistrationError) as info:
        xlstsr.evaluate(scene["sr"], crop, coarse=scene["lst"], coregister=True, **_SCORE)
    msg = str(info.value)
    # before: advised errors='ignore' (then "the offset has no reliable step"), and read
    # "mask clouds in both, Within evaluate, ..."
    assert "errors='ignore'" not in msg and "errors='warn'" not in msg
    assert "in both, Within" not in msg and "mask clouds in both." in msg
    assert "larger area" in msg and "coregister=False" in msg
    # every fix it names works: an offset from a larger area of the scene, or none
    est = eval(_advised(msg), {"xlstsr": xlstsr, "reference_mask": reference_mask,
                               "larger": scene["fine"], "coarse": scene["lst"]})
    ev = xlstsr.evaluate(scene["sr"], crop, coarse=scene["lst"], coregister=est, **_SCORE)
    assert np.isfinite(float(ev.rmse)) and "coregistration_shift_x" in ev
    xlstsr.evaluate(scene["sr"], crop, coarse=scene["lst"], coregister=False, **_SCORE)
    # what the old advice gave: an estimate with no reliable step, refused
    est = estimate_offset(crop, scene["lst"], errors="ignore")
    with pytest.raises(errors.CoregistrationError, match="no reliable step"):
        xlstsr.evaluate(scene["sr"], crop, coarse=scene["lst"], coregister=est, **_SCORE)


def test_evaluate_coregistration_advice_beyond_the_search_works(scene):
    moved = _moved(scene["fine"], 700.0)  # beyond the default search (half an LST pixel)
    with pytest.raises(errors.CoregistrationError, match="search bound") as info:
        xlstsr.evaluate(scene["sr"], moved, coarse=scene["lst"], coregister=True, **_SCORE)
    msg = str(info.value)
    assert "errors='ignore'" not in msg and "max_shift=..." in msg
    est = eval(_advised(msg).replace("max_shift=...", "max_shift=1000"),
               {"xlstsr": xlstsr, "reference_mask": reference_mask, "reference": moved,
                "coarse": scene["lst"]})
    ev = xlstsr.evaluate(scene["sr"], moved, coarse=scene["lst"], coregister=est, **_SCORE)
    assert float(ev.coregistration_shift_x) == pytest.approx(-700.0, abs=15)
    as_given = xlstsr.evaluate(scene["sr"], scene["fine"], **_SCORE)
    assert float(ev.rmse) == pytest.approx(float(as_given.rmse), abs=0.05)


def test_evaluate_coregistration_advice_on_a_cube_names_no_ignored_estimate():
    s = xlstsr.datasets.sample_scene(n_times=2)
    sr = xlstsr.upscale(s["lst_1km"], 4, method="bicubic")
    crop = s["lst_250m"].isel(y=slice(100, 116), x=slice(100, 116))
    # no step reliable: an estimate with errors='ignore' would be refused as well
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(errors.CoregistrationError) as info:
            xlstsr.evaluate(sr, crop, coarse=s["lst_1km"], coregister=True, **_SCORE)
    msg = str(info.value)
    assert "errors='ignore'" not in msg and "larger area" in msg
    est = eval(_advised(msg), {"xlstsr": xlstsr, "reference_mask": reference_mask,
                               "larger": s["lst_250m"], "coarse": s["lst_1km"]})
    with pytest.warns(UserWarning, match="fewer than 100 pixels"):  # a small crop's scores
        ev = xlstsr.evaluate(sr, crop, coarse=s["lst_1km"], coregister=est, **_SCORE)
    assert np.isfinite(ev.rmse.values).all()


# -- 4. misfit_surface -------------------------------------------------------------------------


def test_misfit_surface_takes_lat_lon_dims():
    fine = _fine(96).rio.reproject("EPSG:4326", resolution=0.0025)
    fine = fine.where(np.isfinite(fine)).isel(y=slice(8, 88), x=slice(8, 88))
    latlon = fine.rename(y="lat", x="lon")
    coarse = xlstsr.coarsen(latlon, 4, min_valid=0.9)
    shifts = np.linspace(-0.003, 0.003, 7)
    # before: MissingSpatialDimensionError inside rioxarray (estimate_offset took them)
    m = misfit_surface(latlon, coarse, shifts, radiometric=False)
    ref = misfit_surface(fine, coarse.rename(lat="y", lon="x"), shifts, radiometric=False)
    np.testing.assert_allclose(m.values, ref.values)
    assert np.unravel_index(int(np.argmin(m.values)), m.shape) == (3, 3)
    # the same front door: a Dataset is named, a unit slip refused
    m2 = misfit_surface(latlon.to_dataset(name="lst"), coarse, shifts, radiometric=False)
    np.testing.assert_allclose(m2.values, m.values)
    with pytest.raises(errors.XlstsrError, match=r"shifts=500 is .* LST pixels"):
        misfit_surface(latlon, coarse, np.array([-500.0, 500.0]))


# -- 5. apply_calibration ----------------------------------------------------------------------


def test_apply_calibration_takes_a_south_up_ndvi_on_the_lst_grid(scene):
    sr, ndvi = scene["sr"], scene["ndvi"]
    cal = Calibration(slope=1.02, offset=-5.0, ndvi=3.0)
    ref = apply_calibration(sr, cal, ndvi=ndvi)
    # before: "ndvi (256 x 256) is not on the LST's grid (256 x 256)"
    out = apply_calibration(sr, cal, ndvi=ndvi.isel(y=slice(None, None, -1)))
    np.testing.assert_allclose(out.values, ref.values)
    out = apply_calibration(sr, cal, ndvi=ndvi.isel(x=slice(None, None, -1)))
    np.testing.assert_allclose(out.values, ref.values)
    with pytest.raises(errors.XlstsrError, match="not on the LST's grid"):  # a true mismatch
        apply_calibration(sr, cal, ndvi=ndvi.assign_coords(x=ndvi.x + 1000.0))
