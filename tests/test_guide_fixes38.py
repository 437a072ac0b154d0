"""Session 38 (guide): an LST whose one date is a scalar coordinate is matched with a dated guide
with guide_time_tolerance; acquisition layers (angles, composite dates) of a MOD13Q1 Dataset are
not advised nor taken as bands; MOD13's -3000 fill inside an NDVI reaching below -0.3 is named;
infinite guide values are refused; a guide off by more than the offset search warns."""
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xlstsr
from xlstsr.errors import (
    GuideAlignmentWarning,
    GuideScaleError,
    GuideTimeError,
    UndeclaredFillError,
    XlstsrError,
)
from xlstsr.guide import guide_fields


@pytest.fixture(scope="module")
def one():
    s = xlstsr.datasets.sample_scene(n_times=1, size=64, seed=3)
    return s["lst_1km"].isel(time=0, drop=True), s["ndvi_250m"]


# -- 1: a scalar LST date against a dated guide ---------------------------------------------------

def test_scalar_lst_date_is_matched_with_the_tolerance(one):
    lst, ndvi = one
    g = xr.concat([ndvi, ndvi.roll(y=20, x=20, roll_coords=False)], "time").assign_coords(
        time=pd.to_datetime(["2020-06-25", "2020-07-11"])).rio.write_crs(ndvi.rio.crs)
    day = lst.assign_coords(time=pd.Timestamp("2020-07-10"))  # `cube.sel(time=t)`
    with pytest.raises(GuideTimeError, match=r"scalar 'time' coordinate.*guide_time_tolerance="
                                             r".*guide.isel\(time=i, drop=True\)"):
        xlstsr.upscale(day, 4, "tsharp", guide=g, guide_offset="ignore")
    out = xlstsr.upscale(day, 4, "tsharp", guide=g, guide_time_tolerance="15D",
                         guide_offset="ignore")
    # the composite of 2020-06-25 (whose period holds 07-10), as for a one-step time dim
    ref = xlstsr.upscale(day.expand_dims("time"), 4, "tsharp", guide=g,
                         guide_time_tolerance="15D", guide_offset="ignore").isel(time=0)
    first = xlstsr.upscale(lst, 4, "tsharp", guide=g.isel(time=0, drop=True),
                           guide_offset="ignore")
    np.testing.assert_array_equal(out.values, ref.values)
    np.testing.assert_array_equal(out.values, first.values)


# -- 2: acquisition layers of a MOD13Q1 Dataset ---------------------------------------------------

def _mod13q1(ndvi):
    def layer(v, dtype, **attrs):
        da = xr.DataArray(np.asarray(v).astype(dtype), dims=ndvi.dims, coords=ndvi.coords)
        return da.assign_attrs(attrs).rio.write_crs(ndvi.rio.crs)

    ny, nx = ndvi.shape
    xx = np.linspace(0, 1, nx)[None, :].repeat(ny, 0)
    doy = 177 + (np.arange(ny)[:, None] // 16 + np.arange(nx)[None, :] // 16) % 16
    p = "_250m_16_days_"
    return xr.Dataset({
        p + "NDVI": layer(np.round(ndvi.values * 1e4), "int16", scale_factor=1e-4),
        p + "EVI": layer(np.round(ndvi.values * 6e3), "int16", scale_factor=1e-4),
        p + "pixel_reliability": layer(np.zeros((ny, nx)), "int8"),
        p + "composite_day_of_the_year": layer(doy, "int16"),
        p + "view_zenith_angle": layer(np.round((5 + 50 * xx) * 100), "int16", scale_factor=0.01),
        p + "relative_azimuth_angle": layer(np.round(xx * 1000), "int16", scale_factor=0.1),
    }), p


def test_angles_and_composite_days_are_not_advised_as_bands(one):
    lst, ndvi = one
    ds, p = _mod13q1(ndvi)
    with pytest.raises(XlstsrError, match=r"quality or class layers .*pixel_reliability.* and "
                                          r"acquisition layers") as e:
        xlstsr.upscale(lst, 4, "dms", guide=ds, guide_offset="ignore")
    sel = re.search(r"`guide=(ds\[[^`]*\])`", str(e.value)).group(1)
    assert list(guide_fields(eval(sel, {"ds": ds}))) == [p + "NDVI", p + "EVI"]
    # given without the quality layer, the angles and dates are refused on their own
    no_qc = ds.drop_vars(p + "pixel_reliability")
    with pytest.raises(XlstsrError, match=r"acquisition layers .*view_zenith_angle"):
        xlstsr.upscale(lst, 4, "dms", guide=no_qc, guide_offset="ignore")


@pytest.mark.parametrize("name", ["SolarZenith", "sza", "Day_view_angl", "Day_view_time",
                                  "DOY", "sensor_azimuth_angle"])
def test_acquisition_names_refused(one, name):
    _, ndvi = one
    with pytest.raises(XlstsrError, match="acquisition layers"):
        guide_fields(xr.Dataset({"NDVI": ndvi, name: ndvi * 0 + 1.0}))


@pytest.mark.parametrize("name", ["slope", "slope_angle", "aspect", "albedo", "doyle", "daytime"])
def test_terrain_and_other_predictors_accepted(one, name):
    _, ndvi = one
    assert list(guide_fields(xr.Dataset({"NDVI": ndvi, name: ndvi * 2}))) == ["NDVI", name]


def test_acquisition_band_by_description_refused(one):
    _, ndvi = one
    lst = one[0]
    st = xr.concat([ndvi, ndvi * 0 + 30.0], "band").assign_coords(
        band=["NDVI", "view_zenith_angle"]).rio.write_crs(ndvi.rio.crs)
    with pytest.raises(XlstsrError, match=r"acquisition layers .*\['view_zenith_angle'\]") as e:
        xlstsr.upscale(lst, 4, "dms", guide=st, guide_offset="ignore")
    sel = re.search(r"`guide=(guide\.sel\([^`]*\))`", str(e.value)).group(1)
    assert eval(sel, {"guide": st})["band"].values.tolist() == ["NDVI"]


# -- 3: MOD13's -3000 inside an NDVI with water below -0.3 ----------------------------------------

def _stored_ndvi(ndvi, patch, water=(-0.45, -0.1)):
    rng = np.random.default_rng(1)
    v = ndvi.values.copy()
    v[:16, :] = rng.uniform(*water, (16, v.shape[1]))  # water reaching below -0.3
    q = np.round(v * 1e4)
    if patch:
        q[40:56, 20:60] = -3000  # a cloud-masked patch, fill undeclared
    return ndvi.copy(data=q.astype("int16")).assign_attrs(long_name="250m 16 days NDVI")


def test_fill_inside_the_ndvi_values_is_named(one):
    lst, ndvi = one
    dn = _stored_ndvi(ndvi, patch=True)
    assert float(dn.min()) < -3000  # the fill is not at the edge of the values
    with pytest.raises(UndeclaredFillError, match=r"stores -3000 on 640 .*_FillValue'\] = -3000"):
        xlstsr.upscale(lst, 4, "tsharp", guide=dn.assign_attrs(scale_factor=1e-4),
                       guide_offset="ignore")
    with pytest.raises(GuideScaleError, match=r"holding -3000 on 640 .*_FillValue=-3000"):
        xlstsr.upscale(lst, 4, "tsharp", guide=dn, guide_offset="ignore")
    ok = dn.assign_attrs(scale_factor=1e-4, _FillValue=-3000)
    assert np.isfinite(xlstsr.upscale(lst, 4, "tsharp", guide=ok, guide_offset="ignore")).any()


def test_genuine_water_ndvi_is_not_a_fill(one):
    lst, ndvi = one
    # a lake of NDVI -0.3 +- 0.002: -3000 is stored on more than 16 pixels, as its neighbours are
    dn = _stored_ndvi(ndvi, patch=False, water=(-0.302, -0.298))
    assert int((dn == -3000).sum()) >= 16
    out = xlstsr.upscale(lst, 4, "tsharp", guide=dn.assign_attrs(scale_factor=1e-4),
                         guide_offset="ignore")
    assert np.isfinite(out).any()


# -- 4: infinite guide values ---------------------------------------------------------------------

@pytest.mark.parametrize("method", ["tsharp", "dms"])
def test_infinite_guide_values_refused(one, method):
    lst, ndvi = one
    g = ndvi.copy()
    g[10, 10], g[20, 30] = np.inf, -np.inf
    with pytest.raises(XlstsrError, match=r"2 infinite value.*guide.where\(np.isfinite\(guide\)\)"):
        xlstsr.upscale(lst, 4, method, guide=g, guide_offset="ignore")
    with pytest.raises(XlstsrError, match="infinite"):  # lazily too
        xlstsr.upscale(lst, 4, method, guide=g.chunk({"y": 64}), guide_offset="ignore").compute()
    fixed = g.where(np.isfinite(g))
    assert np.isfinite(xlstsr.upscale(lst, 4, method, guide=fixed, guide_offset="ignore")).any()


def test_dms_band_scale_ignores_infinite_values(one):
    from xlstsr.methods.dms import DMS

    lst, ndvi = one
    g = ndvi.values[None].astype(np.float64)
    g[0, 5, 5] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        out = DMS().predict(lst.values, np.isfinite(lst.values), g, 4)
    assert np.isfinite(out).any()


# -- 5: a guide off by more than the offset search -------------------------------------------------

@pytest.mark.realdata
def test_guide_off_by_an_lst_pixel_warns(shared_data):
    import rioxarray

    lst = rioxarray.open_rasterio(shared_data / "modis_aster" / "002_modis_lst_1km.tif")
    ndvi = rioxarray.open_rasterio(shared_data / "modis_aster" / "002_modis_ndvi_250m.tif")
    lst, ndvi = lst.squeeze("band", drop=True), ndvi.squeeze("band", drop=True)
    off = ndvi.assign_coords(x=ndvi.x + 926.6)
    for mode in (None, "check"):
        with pytest.warns(GuideAlignmentWarning, match=r"search limit .*xlstsr.coregister") as w:
            xlstsr.upscale(lst, 4, "tsharp", guide=off, guide_offset=mode)
    advice = next(str(x.message) for x in w if "search limit" in str(x.message))
    # the advice, as given, runs: its estimate is reliable and finds the LST pixel
    call = re.search(r"`(xlstsr\.estimate_offset\(guide, lst, max_shift=[0-9.]+\))`", advice)
    est = eval(call.group(1), {"xlstsr": xlstsr, "guide": off, "lst": lst})
    assert bool(est.reliable) and abs(float(est.shift_x) + 926.6) < 120
    call = re.search(r"`guide = (xlstsr\.coregister\(guide, lst, max_shift=[0-9.]+\))`", advice)
    back = eval(call.group(1), {"xlstsr": xlstsr, "guide": off, "lst": lst})
    np.testing.assert_allclose(back.x.values, ndvi.x.values, atol=120)
    with warnings.catch_warnings(record=True) as w:  # the guide as placed: no such warning
        warnings.simplefilter("always")
        xlstsr.upscale(lst, 4, "tsharp", guide=ndvi, guide_offset="check")
    assert not [x for x in w if "search limit" in str(x.message)]
    # the advice's wider search finds the LST pixel and moves the guide back
    moved = xlstsr.coregister(off, lst, max_shift=1853.3)
    np.testing.assert_allclose(moved.x.values, ndvi.x.values, atol=120)
    # farther than the wider search reaches (its shift at its own limit, the correlation
    # rising): warned too, not used without a word (review 38f)
    with pytest.warns(GuideAlignmentWarning, match=r"search limit .*at that search's limit"):
        xlstsr.upscale(lst, 4, "tsharp", guide=ndvi.assign_coords(x=ndvi.x + 1200.0),
                       guide_offset="check")


# -- review 38c ------------------------------------------------------------------------------------

def test_quality_layer_beside_acquisition_layers_alone_is_refused(one):
    lst, ndvi = one
    ds, p = _mod13q1(ndvi)
    only = ds[[p + "pixel_reliability", p + "view_zenith_angle"]]
    with pytest.raises(XlstsrError, match=r"quality or class layers .*pixel_reliability.* and "
                                          r"acquisition layers .*no other field.*surface bands"):
        xlstsr.upscale(lst, 4, "dms", guide=only, guide_offset="ignore")
    # acquisition layers alone are no quality layer: taken as before
    assert list(guide_fields(ds[[p + "view_zenith_angle"]])) == [p + "view_zenith_angle"]


def test_appeears_date_labels_keep_the_quality_refusal(one):
    lst, ndvi = one
    rel = (ndvi * 0 + (ndvi.values > 0.5)).astype("int8").rio.write_crs(ndvi.rio.crs)
    p, s = "MOD13Q1.061__250m_16_days_", "_doy2020177_aid0001"
    ds = xr.Dataset({p + "NDVI" + s: ndvi, p + "pixel_reliability" + s: rel})
    with pytest.raises(XlstsrError, match=r"quality or class layers .*pixel_reliability_doy") as e:
        xlstsr.upscale(lst, 4, "dms", guide=ds, guide_offset="ignore")
    sel = re.search(r"`guide=(ds\[[^`]*\])`", str(e.value)).group(1)
    assert list(guide_fields(eval(sel, {"ds": ds}))) == [p + "NDVI" + s]
    dn = (ndvi * 1e4).round().astype("int16").rio.write_crs(ndvi.rio.crs)
    st = xr.concat([dn, rel.astype("int16")], "band").assign_coords(
        band=["NDVI doy 177", "pixel reliability doy 177"])
    with pytest.raises(XlstsrError, match=r"quality or class layers \['pixel reliability doy 177'\]"
                                          r".*beside its bands \['NDVI doy 177'\]"):
        guide_fields(st)


@pytest.mark.parametrize("name", [
    "MOD13Q1.061__250m_16_days_NDVI_doy2020177_aid0001", "NDVI_doy2020177", "NDVI_doy_smoothed",
    "NDVI 2020-07-01 doy183", "slope_azimuth", "aspect (azimuth, degrees)", "greenup_doy",
    "SOS_DOY", "julian_day_of_peak", "Zenith", "angle", "daytime_ndvi", "elevation"])
def test_surface_names_with_dates_or_azimuths_accepted(one, name):
    _, ndvi = one
    assert list(guide_fields(xr.Dataset({"NDVI": ndvi, name: ndvi * 2}))) == ["NDVI", name]


def test_hillshade_described_by_its_sun_azimuth_accepted(one):
    lst, ndvi = one
    hs = (ndvi * 0.2).assign_attrs(long_name="hillshade (sun azimuth 315 deg, altitude 45 deg)")
    out = xlstsr.upscale(lst, 4, "dms", guide=xr.Dataset({"NDVI": ndvi, "hillshade": hs}),
                         guide_offset="ignore")
    assert np.isfinite(out).any()


@pytest.mark.parametrize("name", [
    "view_zenith_angle", "sun_zenith_angle", "relative_azimuth_angle",
    "composite_day_of_the_year", "MOD13Q1.061__250m_16_days_view_zenith_angle_doy2020177_aid0001",
    "MOD11A1.061_Day_view_time_doy2020177_aid0001", "Sun Zenith", "DOY_composite",
    # review 38f: MOD09A1's layers (reflectance names are no exemption) and SLSTR's angles
    "sur_refl_day_of_year", "sur_refl_vzen", "sur_refl_szen", "sur_refl_raz", "sat_zenith_tn",
    "sat_azimuth_in"])
def test_acquisition_names_with_date_labels_still_refused(one, name):
    _, ndvi = one
    with pytest.raises(XlstsrError, match="acquisition layers"):
        guide_fields(xr.Dataset({"NDVI": ndvi, name: ndvi * 0 + 1.0}))


def test_infinite_guide_values_outside_the_part_used_are_no_refusal():
    s = xlstsr.datasets.sample_scene(n_times=1, size=128, seed=3)
    lst, ndvi = s["lst_1km"].isel(time=0, drop=True), s["ndvi_250m"]
    sub = lst.isel(y=slice(0, 16), x=slice(0, 16))  # the guide's top-left quarter
    g = ndvi.copy()
    g[120, 120] = np.inf  # far outside that window
    ref = xlstsr.upscale(sub, 4, "tsharp", guide=ndvi, guide_offset="ignore")
    for gg in (g, g.chunk({"y": 64, "x": 64})):  # eager and lazy agree
        out = xlstsr.upscale(sub, 4, "tsharp", guide=gg, guide_offset="ignore").compute()
        np.testing.assert_array_equal(out.values, ref.values)
    g[5, 5] = -np.inf  # inside it: refused, both ways
    with pytest.raises(XlstsrError, match=r"2 infinite value\(s\) \(1 output pixel\(s\) of the "
                                          r"part used"):
        xlstsr.upscale(sub, 4, "tsharp", guide=g, guide_offset="ignore")
    with pytest.raises(XlstsrError, match=r"holds infinite values \(1 in one block read\)"):
        xlstsr.upscale(sub, 4, "tsharp", guide=g.chunk({"y": 64, "x": 64}),
                       guide_offset="ignore").compute()


def test_infinite_value_in_an_unused_guide_step_is_no_refusal(one):
    lst, ndvi = one
    late = ndvi.copy()
    late[3, 3] = np.inf
    g = xr.concat([ndvi, late], "time").assign_coords(
        time=pd.to_datetime(["2020-06-25", "2020-07-11"])).rio.write_crs(ndvi.rio.crs)
    day = lst.expand_dims(time=pd.to_datetime(["2020-07-01"]))
    out = xlstsr.upscale(day, 4, "tsharp", guide=g, guide_time_tolerance="15D",
                         guide_offset="ignore")
    ref = xlstsr.upscale(day, 4, "tsharp", guide=ndvi, guide_offset="ignore")
    np.testing.assert_array_equal(out.values, ref.values)
    with pytest.raises(XlstsrError, match="infinite"):  # the step used holds it
        xlstsr.upscale(day.assign_coords(time=pd.to_datetime(["2020-07-12"])), 4, "tsharp",
                       guide=g, guide_time_tolerance="15D", guide_offset="ignore")


def test_infinite_value_of_a_finer_guide_is_refused_after_averaging(one):
    lst, ndvi = one
    # a 125 m guide averaged onto the 250 m grid: the average of an inf pixel was NaN
    x = np.linspace(float(ndvi.x[0]) - 62.5, float(ndvi.x[-1]) + 62.5, 2 * ndvi.sizes["x"])
    y = np.linspace(float(ndvi.y[0]) + 62.5, float(ndvi.y[-1]) - 62.5, 2 * ndvi.sizes["y"])
    fine = ndvi.interp(x=x, y=y, method="nearest", kwargs={"fill_value": "extrapolate"})
    fine = fine.rio.write_crs(ndvi.rio.crs)
    fine[40, 41] = np.inf
    for gg in (fine, fine.chunk({"y": 64})):
        with pytest.raises(XlstsrError, match="infinite"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", GuideAlignmentWarning)
                xlstsr.upscale(lst, 4, "tsharp", guide=gg, guide_offset="ignore").compute()


def test_guide_date_dim_against_a_scalar_time_advises_a_rename(one):
    lst, ndvi = one
    g = xr.concat([ndvi, ndvi * 0.9], "date").assign_coords(
        date=pd.to_datetime(["2020-06-25", "2020-07-11"])).rio.write_crs(ndvi.rio.crs)
    day = lst.assign_coords(time=pd.Timestamp("2020-07-10"))
    with pytest.raises(GuideTimeError, match=r"guide.rename\(date='time'\).*guide_time_tolerance"
                       ) as e:
        xlstsr.upscale(day, 4, "tsharp", guide=g, guide_time_tolerance="15D",
                       guide_offset="ignore")
    assert "nearest" not in str(e.value)
    out = xlstsr.upscale(day, 4, "tsharp", guide=g.rename(date="time"),
                         guide_time_tolerance="15D", guide_offset="ignore")
    ref = xlstsr.upscale(day, 4, "tsharp", guide=ndvi, guide_offset="ignore")
    np.testing.assert_array_equal(out.values, ref.values)


def test_match_steps_keeps_its_default_advice(one):
    from xlstsr.guide import match_steps

    _, ndvi = one
    g = xr.concat([ndvi, ndvi], "time").assign_coords(time=pd.to_datetime(["2020-06-25",
                                                                           "2020-07-11"]))
    lst = ndvi.expand_dims(time=pd.to_datetime(["2020-07-01"]))
    # a guide of several steps is advised a step of it (squeeze raised ValueError on two), and
    # the composites' tolerance its 16-day spacing tells
    with pytest.raises(GuideTimeError, match=r"guide_time_tolerance='15D'.*guide.isel\(time=0, "
                                             r"drop=True\)` to use one of its 2 steps"):
        match_steps(g, lst, "time")
    assert match_steps(g, lst, "time", "15D").sizes["time"] == 1  # the advice, followed


@pytest.mark.realdata
def test_guide_in_place_with_a_broad_peak_does_not_warn(shared_data):
    import rioxarray

    d = shared_data / "modis_aster"
    lst = rioxarray.open_rasterio(d / "136_modis_lst_1km.tif").squeeze("band", drop=True)
    ndvi = rioxarray.open_rasterio(d / "136_modis_ndvi_250m.tif").squeeze("band", drop=True)
    for mode in ("auto", "check"):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            xlstsr.upscale(lst, 4, "tsharp", guide=ndvi, guide_offset=mode)
        assert not [x for x in w if "search limit" in str(x.message)]
