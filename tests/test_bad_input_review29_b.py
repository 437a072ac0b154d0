"""Regressions of session 29's guide / grid / co-registration changes (review29b): a dask guide
dict with bands on other grids, size-1 label dims refused as bands, estimate_offset's
max_uncertainty silently changing unit, crop advice that did not remove the gap, CF's NDVI
standard_name refused as reflectance, the first band's offset applied to every band."""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import xarray as xr
from rasterio.enums import Resampling

import xlstsr
from xlstsr import errors
from xlstsr.grid import align_guide
from xlstsr.guide import check_guide_labels, guide_labels, measure_offset, prepare_guide


@pytest.fixture(scope="module")
def scene():
    return xlstsr.datasets.sample_scene(n_times=2, size=32)


def _quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


def _other_grid_dict(scene):
    nd = scene["ndvi_250m"]
    alb = ((0.5 * nd + 0.1) ** 2).rename("alb")
    fine = alb.rio.reproject(alb.rio.crs, resolution=231.656 / 4, resampling=Resampling.bilinear)
    return {"ndvi": nd, "alb": fine}


def test_dask_guide_dict_with_bands_on_other_grids_upscale(scene):
    """The lazy reprojection dropped the band's scalar guide_band label: xarray's raw
    "coordinate 'guide_band' not present in all datasets"."""
    g = _other_grid_dict(scene)
    lst = scene["lst_1km"]
    ref = _quiet(xlstsr.upscale, lst, 4, "dms", guide=g)
    lazy = {k: v.chunk({"x": -1, "y": -1}) for k, v in g.items()}
    out = _quiet(xlstsr.upscale, lst.chunk({"time": 1}), 4, "dms", guide=lazy).compute()
    np.testing.assert_allclose(out.values, ref.values, atol=1e-3, equal_nan=True)


def test_dask_guide_dict_with_bands_on_other_grids_upscale_to_zarr(scene, tmp_path):
    g = _other_grid_dict(scene)
    lst = scene["lst_1km"]
    ref = _quiet(xlstsr.upscale, lst, 4, "dms", guide=g)
    lazy = {k: v.chunk({"x": -1, "y": -1}) for k, v in g.items()}
    _quiet(xlstsr.upscale_to_zarr, lst, str(tmp_path / "o.zarr"), factor=4, method="dms",
           guide=lazy)
    # (decode_coords="all": else spatial_ref is a data variable too, in directory order)
    z = xr.open_zarr(tmp_path / "o.zarr", consolidated=False, decode_coords="all")
    got = z[next(iter(z.data_vars))].values
    np.testing.assert_allclose(got, ref.values, atol=1e-3, equal_nan=True)


def test_size1_label_dim_other_than_bands_matched_by_label(scene):
    """LST overpass=['day'] with a guide of 'day' and 'night': the day guide is taken (matched
    by label), not refused as if the overpasses were bands."""
    lst = scene["lst_1km"].isel(time=0, drop=True).expand_dims(overpass=["day"])
    nd = scene["ndvi_250m"]
    nd = nd.isel(time=0, drop=True) if "time" in nd.dims else nd
    go = xr.concat([nd, nd * 0.5], dim="overpass").assign_coords(overpass=["day", "night"])
    got = _quiet(prepare_guide, go, lst, 4, ("overpass",))
    want = _quiet(prepare_guide, go.sel(overpass=["day"]), lst, 4, ("overpass",))
    assert got.shape == want.shape and got.shape[1] == 1
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


@pytest.mark.parametrize("dim, labels", [("band", [1, 2]), ("band", [4, 5]),
                                         ("channel", ["a", "b"]), ("b", [1, 2])])
def test_size1_band_dim_still_refused(scene, dim, labels):
    """A band-like dim (named so, or rioxarray's band numbers 1..n) is still refused, not
    matched by label (which dropped band 2)."""
    nd = scene["ndvi_250m"]
    nd = nd.isel(time=0, drop=True) if "time" in nd.dims else nd
    lab1 = 1 if isinstance(labels[0], int) else labels[0]
    lst = scene["lst_1km"].isel(time=0, drop=True).expand_dims({dim: [lab1]})
    g = xr.concat([nd, nd * 0.5], dim=dim).assign_coords({dim: labels})
    with pytest.raises(errors.GuideTimeError, match=rf"lst.squeeze\('{dim}'"):
        _quiet(prepare_guide, g, lst, 4, (dim,))


def _noisy_pair():
    s = xlstsr.datasets.sample_scene(n_times=1, size=64)
    f, c0 = s["lst_250m"].isel(time=0), s["lst_1km"].isel(time=0)
    c = c0 + np.random.default_rng(1).normal(0, 4, c0.shape).astype("float32")
    return f, c


def test_max_uncertainty_keeps_its_fine_pixel_meaning_with_a_future_warning():
    f, c = _noisy_pair()
    est = _quiet(xlstsr.estimate_offset, f, c, errors="ignore")
    fpx = est.attrs["fine_pixel"]
    u = float(est.shift_uncertainty) / fpx  # fine pixels
    limit = 0.5 * u  # below the estimate's error: refused in fine pixels
    with pytest.warns(FutureWarning, match=r"max_uncertainty.*max_shift_uncertainty="):
        old = xlstsr.estimate_offset(f, c, errors="ignore", max_uncertainty=limit)
    assert not bool(old.reliable)
    loose = _quiet(xlstsr.estimate_offset, f, c, errors="ignore", max_uncertainty=2 * u)
    assert bool(loose.reliable)  # the same estimate, within twice its error
    # the new keyword, in the LST CRS's units, gives the same verdicts
    new = _quiet(xlstsr.estimate_offset, f, c, errors="ignore",
                 max_shift_uncertainty=limit * fpx)
    assert not bool(new.reliable)
    with pytest.raises(errors.CoregistrationError, match=r"max_shift_uncertainty=.* m"):
        _quiet(xlstsr.estimate_offset, f, c, max_shift_uncertainty=limit * fpx)
    with pytest.raises(errors.XlstsrError, match="not both"):
        xlstsr.estimate_offset(f, c, max_uncertainty=0.25, max_shift_uncertainty=50.0)


def test_max_shift_uncertainty_default_is_a_sixteenth_of_an_lst_pixel():
    f, c = _noisy_pair()
    est = _quiet(xlstsr.estimate_offset, f, c, errors="ignore")
    lres = est.attrs["fine_pixel"] * est.attrs["factor"]
    same = _quiet(xlstsr.estimate_offset, f, c, errors="ignore", max_shift_uncertainty=lres / 16)
    assert bool(same.reliable) == bool(est.reliable)
    unc = float(est.shift_uncertainty)
    for lim, ok in ((0.5 * unc, False), (2 * unc, True)):
        e = _quiet(xlstsr.estimate_offset, f, c, errors="ignore", max_shift_uncertainty=lim)
        assert bool(e.reliable) == ok
    assert bool(est.reliable) == (unc <= lres / 16)


def _advised_crop(msg, lst, guide):
    code = re.search(r"inside the guide: `([^`]*)`", msg)
    assert code, msg
    ns = {"lst": lst, "guide": guide}
    exec(code.group(1), ns)  # the advice, followed literally
    return ns["lst"]


def _misses(guide, lst):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        align_guide(guide, lst, 4, min_coverage=0.5)
    return [str(x.message) for x in w if "misses" in str(x.message)]


@pytest.mark.parametrize("sl", [dict(x=slice(0, 58)), dict(x=slice(3, 64), y=slice(1, 61))])
@pytest.mark.parametrize("regrid", [False, True])
def test_partial_guide_crop_advice_removes_the_gap(sl, regrid):
    """The advised `lst.rio.clip_box(*guide.rio.bounds())` kept an LST pixel the guide covers
    in part (rioxarray rounds the window outward), and with it the gap."""
    s = xlstsr.datasets.sample_scene(n_times=1, size=64)
    lst, nd = s["lst_1km"].isel(time=0, drop=True), s["ndvi_250m"]
    guide = nd.isel(**sl)
    if regrid:
        guide = guide.rio.reproject(guide.rio.crs, resolution=200.0)
    msg = _misses(guide, lst)
    assert msg
    cropped = _advised_crop(msg[0], lst, guide)
    assert cropped.sizes["x"] >= lst.sizes["x"] - 3
    assert _misses(guide, cropped) == []


def test_coverage_error_crop_advice_works():
    s = xlstsr.datasets.sample_scene(n_times=1, size=64)
    lst, nd = s["lst_1km"].isel(time=0, drop=True), s["ndvi_250m"]
    guide = nd.isel(x=slice(0, 26))  # 40 % of the LST
    with pytest.raises(errors.GuideCoverageError) as err:
        _quiet(align_guide, guide, lst, 4)
    cropped = _advised_crop(str(err.value), lst, guide)
    assert _misses(guide, cropped) == []


@pytest.mark.parametrize("attrs", [
    {"standard_name": "normalized_difference_vegetation_index",
     "long_name": "Vegetation index from red and NIR surface reflectance"},
    {"long_name": "Normalised_Difference_Vegetation_Index from red and NIR reflectance"},
])
def test_cf_ndvi_standard_name_is_not_taken_for_reflectance(attrs):
    nd = xlstsr.datasets.sample_scene(n_times=1, size=16)["ndvi_250m"]
    g = nd.rename(None)
    g.attrs = dict(attrs)
    for labels in (guide_labels(g), guide_labels([g])):
        check_guide_labels(labels, ["ndvi"], "disr")  # no GuideScaleError
    red = nd.rename(None)
    red.attrs = {"long_name": "red surface reflectance"}
    with pytest.raises(errors.GuideScaleError):
        check_guide_labels(guide_labels(red), ["ndvi"], "disr")


def test_offset_warning_says_the_first_band_stands_for_every_band():
    s = xlstsr.datasets.sample_scene(n_times=1, size=64)
    lst = s["lst_1km"].isel(time=0, drop=True)
    nd = s["lst_250m"]  # a fine field whose offset the scene measures reliably
    nd = nd.isel(time=0, drop=True) if "time" in nd.dims else nd
    t = nd.rio.transform()
    dx = 0.6 * t.a  # 0.6 fine pixel east
    moved = nd.assign_coords(x=nd.x + dx).rio.write_transform(
        t * type(t).translation(0.6, 0))
    other = moved.rio.reproject(moved.rio.crs, resolution=231.656 / 8,
                                resampling=Resampling.bilinear)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        one = measure_offset(moved, lst, "auto", factor=4)
    if one is None:
        pytest.skip("no reliable offset measured on the synthetic scene")
    single = [str(x.message) for x in w if "offset from the LST" in str(x.message)]
    assert single and "first band" not in single[0]
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        measure_offset({"ndvi": moved, "alb": other}, lst, "auto", factor=4)
    said = [str(x.message) for x in w if "offset from the LST" in str(x.message)]
    assert said and re.search(r"first band \('ndvi'\), of 2.*every band", said[0])
