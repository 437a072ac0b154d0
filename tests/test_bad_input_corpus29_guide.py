"""Guide, co-registration, scaling and partial-guide findings of session 29: a one-band LST's
`band` matched to a multi-band guide by label, co-registration reliability in fine pixels,
nearest-neighbour advice for a guide off the LST grid, reflectance bands taken as NDVI, and a
partial-guide warning that promised a bicubic fallback."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr import errors
from xlstsr.guide import prepare_guide


def _scene(size=64):
    s = xlstsr.datasets.sample_scene(n_times=1, size=size)
    lst = s["lst_1km"].isel(time=0, drop=True)
    return s, lst, s["ndvi_250m"]


# -- 1, 2: the LST's band=[1] against a multi-band guide -------------------------------------


def _banded(lst, ndvi, labels):
    lst1 = lst.expand_dims(band=[1])  # a one-band LST as rioxarray reads it
    two = xr.concat([ndvi, (0.5 * ndvi + 0.1) ** 2], dim="band").assign_coords(band=labels)
    return lst1, two


def test_lst_band1_does_not_silently_drop_guide_bands():
    _, lst, ndvi = _scene()
    lst1, two = _banded(lst, ndvi, [1, 2])
    with pytest.raises(errors.GuideTimeError, match=r"size-1 'band' dim.*dropped.*"
                       r"lst\.squeeze\('band', drop=True\)"):
        prepare_guide(two, lst1, 4, ("band",))
    with pytest.raises(errors.GuideTimeError, match=r"lst\.squeeze\('band', drop=True\)"):
        xlstsr.upscale(lst1, 4, "dms", guide=two)
    # the advice works: both bands are channels
    assert prepare_guide(two, lst1.squeeze("band", drop=True), 4, ()).shape[1] == 2
    # a one-band guide with the LST's label is still matched as before
    assert prepare_guide(two.sel(band=[1]), lst1, 4, ("band",)).shape[1] == 1


def test_guide_band_labels_other_than_the_lsts_name_the_lst_squeeze():
    _, lst, ndvi = _scene()
    lst1, two = _banded(lst, ndvi, [4, 5])
    with pytest.raises(errors.GuideTimeError) as info:
        xlstsr.upscale(lst1, 4, "dms", guide=two)
    msg = str(info.value)
    assert "lst.squeeze('band', drop=True)" in msg and "guide_time_tolerance" not in msg
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = xlstsr.upscale(lst1.squeeze("band", drop=True), 4, "dms", guide=two)
    assert np.isfinite(out.values).any()
    # a single guide band of another label: the same advice, not a time tolerance
    with pytest.raises(errors.GuideTimeError, match=r"lst\.squeeze\('band'"):
        prepare_guide(two.sel(band=[4]), lst1, 4, ("band",))


# -- 3: co-registration reliability in LST pixels, not nested-grid pixels ---------------------


def test_coreg_reliability_does_not_depend_on_the_fine_resolution():
    from rasterio.enums import Resampling

    s = xlstsr.datasets.sample_scene(n_times=1, size=64)
    f, c = s["lst_250m"].isel(time=0), s["lst_1km"].isel(time=0)
    c = c + np.random.default_rng(1).normal(0, 1.0, c.shape).astype("float32")
    finer = f.rio.write_nodata(np.nan, encoded=False).rio.reproject(
        f.rio.crs, resolution=231.656 / 4, resampling=Resampling.bilinear)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e4 = xlstsr.estimate_offset(f, c, errors="ignore")
        e16 = xlstsr.estimate_offset(finer, c, errors="ignore")
    assert (e4.attrs["factor"], e16.attrs["factor"]) == (4, 16)
    u4, u16 = float(e4.shift_uncertainty), float(e16.shift_uncertainty)
    # the same uncertainty in metres, above a quarter of a 58 m pixel, below a 16th of 1 km
    assert abs(u4 - u16) < 0.5 * u4 and u16 > 0.25 * e16.attrs["fine_pixel"]
    assert bool(e4.reliable) and bool(e16.reliable)
    # the threshold is in metres (the LST CRS's units) at both resolutions
    for e, u in ((e4, u4), (e16, u16)):
        fine = finer if e is e16 else f
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tight = xlstsr.estimate_offset(fine, c, errors="ignore",
                                           max_shift_uncertainty=0.5 * u)
        assert not bool(tight.reliable)
    with pytest.raises(errors.CoregistrationError, match=r"LST px.*max_shift_uncertainty="):
        xlstsr.estimate_offset(f, c, max_shift_uncertainty=0.5 * u4)


def test_coreg_reliability_unchanged_at_the_standard_factor():
    """1 km LST, 250 m grid (factor 4): the default is still a quarter of a fine pixel."""
    from xlstsr.coregister import _problems
    from xlstsr.kernels.coregister import ShiftEstimate

    def est(unc):
        return ShiftEstimate(0, 0, 0, 0.9, 0.9, 1, 1, 1, 1, unc, 500, False)

    from xlstsr.coregister import _MAX_UNCERTAINTY_LST_PX as default

    # _problems takes the limit in fine pixels (review29b: max_shift_uncertainty, CRS units)
    assert _problems(est(0.24), 30, 4 * default, 0.3, factor=4) == []
    assert _problems(est(0.26), 30, 4 * default, 0.3, factor=4)
    # at factor 16 (a 58 m grid) the same metres: 0.96 fine px is reliable, 1.04 is not
    assert _problems(est(0.96), 30, 16 * default, 0.3, factor=16) == []
    assert _problems(est(1.04), 30, 16 * default, 0.3, factor=16)


# -- 4: scaling_stats aligns a guide on another grid as upscale does --------------------------


def test_scaling_stats_aligns_a_guide_in_another_crs_or_resolution_by_its_footprint():
    from rasterio.enums import Resampling

    s = xlstsr.datasets.sample_scene(n_times=1, size=128)
    lst, ndvi = s["lst_1km"].isel(time=0, drop=True), s["ndvi_250m"]
    other_crs = ndvi.rio.reproject("EPSG:3857", resolution=300, resampling=Resampling.bilinear)
    finer = ndvi.rio.reproject(ndvi.rio.crs, resolution=50, resampling=Resampling.bilinear)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = xlstsr.scaling_stats(lst, ndvi)  # nested: sliced, then block means
        got = [xlstsr.scaling_stats(lst, g) for g in (other_crs, finer)]  # both were refused
        nearest = xlstsr.scaling_stats(lst, other_crs.rio.reproject_match(lst))

    def slope(st):
        return float(st.guide_slope.isel(factor=0))

    off_nearest = abs(slope(nearest) - slope(ref))
    for st in got:
        assert abs(slope(st) - slope(ref)) < 0.5 * off_nearest
        assert abs(float(st.guide_correlation.isel(factor=0) - ref.guide_correlation.isel(
            factor=0))) < 0.02
    with pytest.warns(errors.GuideAlignmentWarning):  # said, as upscale says it
        xlstsr.scaling_stats(lst, other_crs)


def test_scaling_stats_off_grid_guide_advice_averages():
    from rasterio.enums import Resampling

    s = xlstsr.datasets.sample_scene(n_times=1, size=64)
    lst = s["lst_1km"].isel(time=0, drop=True)
    nd = s["ndvi_250m"].coarsen(y=4, x=4).mean()
    nd = nd.assign_coords(y=lst.y.values + 300.0, x=lst.x.values).rio.write_crs(lst.rio.crs)
    with pytest.raises(errors.GridError, match=r"resampling=Resampling\.average") as info:
        xlstsr.scaling_stats(lst, nd)
    assert "reproject_match(lst)`" not in str(info.value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xlstsr.scaling_stats(lst, nd.rio.reproject_match(lst, resampling=Resampling.average))


# -- 5: guide bands on different grids, each aligned on its own ------------------------------


def test_guide_dict_bands_on_different_grids_are_each_aligned():
    from rasterio.enums import Resampling

    _, lst, ndvi = _scene()
    b2 = ((0.5 * ndvi + 0.1) ** 2).rename("b2")
    fine = b2.rio.reproject(b2.rio.crs, resolution=231.656 / 4, resampling=Resampling.bilinear)
    fine = fine + 0.02 * np.random.default_rng(0).standard_normal(fine.shape).astype("float32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pair = np.asarray(prepare_guide({"ndvi": ndvi, "b2": fine}, lst, 4, ()))
        alone = [np.asarray(prepare_guide(g, lst, 4, ())) for g in (ndvi, fine)]
        out = xlstsr.upscale(lst, 4, "dms", guide={"ndvi": ndvi, "b2": fine})  # was refused
    assert pair.shape == (1, 2, 4 * lst.sizes["y"], 4 * lst.sizes["x"])
    # each band as the library aligns it alone (footprint means), not nearest samples
    np.testing.assert_array_equal(pair[0, 0], alone[0][0, 0])
    np.testing.assert_allclose(pair[0, 1], alone[1][0, 0], equal_nan=True)
    assert out.shape == (4 * lst.sizes["y"], 4 * lst.sizes["x"])
    # guide_bands (one array) still needs one grid: its advice averages
    from xlstsr.guide import guide_bands

    with pytest.raises(errors.GridError, match=r"resampling=Resampling\.average"):
        guide_bands({"ndvi": ndvi, "b2": fine})
    # leading labels must still agree
    t1 = ndvi.expand_dims(time=np.array(["2020-07-01"], "datetime64[ns]"))
    t2 = fine.expand_dims(time=np.array(["2020-07-17"], "datetime64[ns]"))
    with pytest.raises(errors.GridError, match=r"same 'time' labels"):
        prepare_guide({"ndvi": t1, "b2": t2}, lst, 4, ())


# -- 6: reflectance bands by their product names (or long_name) are not NDVI ------------------


@pytest.mark.parametrize("name, attrs", [
    ("sur_refl_b02", {"long_name": "250m Surface Reflectance Band 2"}),  # MOD09GQ
    ("sur_refl_b02", {}),
    ("SR_B5", {}),  # Landsat Collection 2
    ("LC08_L2SP_198026_20200701_20200913_02_T1_SR_B5", {}),
    ("B08", {}),  # Sentinel-2
    ("Nadir_Reflectance_Band2", {}),  # MCD43A4
    ("band_data", {"long_name": "250m Surface Reflectance Band 2"}),  # name says nothing
    (None, {"standard_name": "surface_bidirectional_reflectance"}),
])
def test_reflectance_band_names_are_refused_as_ndvi(name, attrs):
    from xlstsr.guide import check_guide_labels, guide_labels

    _, _, ndvi = _scene(16)
    nir = (0.15 + 0.3 * ndvi).rename(name)
    nir.attrs = dict(attrs, units="1")
    labels = guide_labels(nir)
    with pytest.raises(errors.GuideScaleError, match=r"trained on 'ndvi'"):
        check_guide_labels(labels, ["ndvi"], "disr")
    with pytest.raises(errors.GuideScaleError):  # in a list too
        check_guide_labels(guide_labels([nir]), ["ndvi"], "disr")


@pytest.mark.parametrize("name, attrs", [
    ("250m 16 days NDVI", {"long_name": "250m 16 days NDVI"}),  # MOD13Q1
    ("NDVI", {}),
    ("band_data", {"long_name": "NDVI from surface reflectance"}),
    ("ndvi", {"long_name": "250m Surface Reflectance Band 2"}),  # the user's own name rules
    ("band_data", {}),
    ("band1", {}),
    ("b1", {}),  # a band number (Earth Engine's default name)
])
def test_real_ndvi_labels_still_pass(name, attrs):
    from xlstsr.guide import check_guide_labels, guide_labels

    _, _, ndvi = _scene(16)
    g = ndvi.rename(name)
    g.attrs = dict(attrs)
    check_guide_labels(guide_labels(g), ["ndvi"], "disr")
    # a model of reflectance bands still takes 'red'/'nir' labelled bands
    check_guide_labels(["red", "nir"], ["sur_refl_b01", "sur_refl_b02"], "disr")


def test_disr_refuses_a_mod09gq_nir_band_as_its_ndvi():
    _, lst, ndvi = _scene(64)
    nir = (0.15 + 0.3 * ndvi).clip(0.01, 0.6).rename("sur_refl_b02").assign_attrs(
        long_name="250m Surface Reflectance Band 2", units="reflectance")
    with pytest.raises(errors.GuideScaleError, match=r"labelled 'sur_refl_b02'"):
        xlstsr.upscale(lst, 4, "disr", guide=nir)


# -- 7: the partial-guide warning says what each kind of method does --------------------------


def test_partial_guide_warning_does_not_promise_a_bicubic_fallback():
    from rasterio.enums import Resampling

    from xlstsr.grid import align_guide

    _, lst, ndvi = _scene(64)
    part = ndvi.isel(x=slice(0, 52))  # 12 fine columns short, nested
    other = ndvi.rio.reproject("EPSG:3857", resolution=300,
                               resampling=Resampling.bilinear).isel(x=slice(0, 40))
    for g, counts in ((part, "misses 0 row(s) and 12 column(s)"), (other, "column(s)")):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            align_guide(g, lst, 4, min_coverage=0.5)
        msgs = [str(w.message) for w in caught
                if issubclass(w.category, errors.GuideAlignmentWarning) and "misses" in str(w.message)]
        assert msgs, [str(w.message) for w in caught]
        msg = msgs[0]
        assert counts in msg
        assert "methods fall back to bicubic" not in msg
        assert "tsharp, dms" in msg and "bicubic value" in msg
        assert "disr" in msg and "guide_fill_value" in msg and "as if guided" in msg
