"""Sixth round of bad inputs at the front door of ``upscale`` (session 10, in-memory and lazy).

Probed: dims in other orders and names, extra and 2-D coordinates, odd dtypes, dask chunks of one
pixel or uneven, empty time dims, guides with more bands, shifted, rotated, in another CRS,
method options of wrong types, ``tile=``, ``scale_correction=``, ``guide_offset=``, method names
by case, attributes that lie, the accessor on a Dataset. Most were already refused with the fix
named; the cases below gave a raw traceback, a silent choice, or an error naming the wrong cause
before their fix.
"""

import numpy as np
import pytest
import xarray as xr
from affine import Affine
from helpers import raise_if_computed

import xlstsr
from xlstsr import errors


@pytest.fixture(scope="module")
def scene():
    return xlstsr.datasets.sample_scene(n_times=2, size=64)


def test_a_fill_attribute_that_is_not_a_number_names_the_attribute(scene):
    lst = scene["lst_1km"]
    for key, value in (("missing_value", "abc"), ("nodata", "none"), ("_FillValue", {"a": 1})):
        bad = lst.assign_attrs({key: value})
        # before: ValueError "could not convert string to float: 'abc'" from numpy, no attribute
        for da in (bad, bad.chunk({"time": 1})):
            with pytest.raises(errors.UnitsError, match=rf"'{key}' attribute .* not a number.*pop"):
                da.lstsr.upscale(4)
    # a numeric text fill still works as before
    out = lst.assign_attrs(_FillValue="0").lstsr.upscale(4)
    assert np.isfinite(out.values).any()


def test_a_list_of_names_as_variable_is_refused_with_the_names(scene):
    ds = xr.Dataset({"lst": scene["lst_1km"]})
    # before: TypeError "unhashable type: 'list'" from xarray
    with pytest.raises(errors.VariableNotFoundError, match=r"one Dataset variable.*\['lst'\].*variable='lst'"):
        ds.lstsr.upscale(4, variable=["lst"])


def _two_grids(scene):
    # kept apart as the merged-grid error advises: `ndvi.rename(x='x_250m', y='y_250m')`
    g = scene["ndvi_250m"].rename(x="x_250m", y="y_250m")
    return xr.Dataset({"lst": scene["lst_1km"], "ndvi": g, "albedo": 0.2 + 0.1 * g})


def test_a_guide_variable_on_renamed_dims_as_the_merge_error_advises(scene):
    ds = _two_grids(scene)
    ref = xlstsr.upscale(scene["lst_1km"], 4, "tsharp", guide=scene["ndvi_250m"])
    # before: NoSpatialDimsError on ('y_250m', 'x_250m'): the advice of the merged-grid error
    # (give each grid its own dim names) led to an error asking to rename them back
    out = ds.lstsr.upscale(4, "tsharp", guide="ndvi", variable="lst")
    np.testing.assert_allclose(out.values, ref.values, equal_nan=True)
    assert out.dims == ("time", "y", "x")


def test_a_guide_given_as_several_variable_names(scene):
    ds = _two_grids(scene)
    g = scene["ndvi_250m"]
    ref = xlstsr.upscale(scene["lst_1km"], 4, "tsharp", guide=[g, 0.2 + 0.1 * g])
    # before: a list or dict of names: "guide band 0 is a str, not an xarray DataArray: give it
    # its grid"; a tuple of names was looked up as one variable ('ndvi', 'albedo')
    for guide in (["ndvi", "albedo"], ("ndvi", "albedo"), {"ndvi": "ndvi", "albedo": "albedo"}):
        out = ds.lstsr.upscale(4, "tsharp", guide=guide, variable="lst")
        np.testing.assert_allclose(out.values, ref.values, equal_nan=True)
    with pytest.raises(errors.VariableNotFoundError, match=r"'NDVI' is not in the Dataset"):
        ds.lstsr.upscale(4, "tsharp", guide=["NDVI"], variable="lst")


def test_guide_names_resolve_without_computing(scene):
    ds = _two_grids(scene).chunk({"time": 1})
    with raise_if_computed():
        out = ds.lstsr.upscale(4, "tsharp", guide=["ndvi", "albedo"], variable="lst")
    assert out.chunks is not None


def test_an_empty_guide_list_or_dict(scene):
    lst = scene["lst_1km"]
    for guide in ([], {}):
        # before: ValueError "must supply at least one object to concatenate" from xarray
        with pytest.raises(errors.InputTypeError, match=r"guide is an empty .*guide=\[ndvi"):
            lst.lstsr.upscale(4, "tsharp", guide=guide)


def test_method_given_as_a_list_none_or_a_class(scene):
    from xlstsr.methods.tsharp import TsHARP

    lst = scene["lst_1km"]
    # before: TypeError "unhashable type: 'list'" from the registry lookup
    with pytest.raises(errors.XlstsrError, match=r"method's name or an UpscaleMethod.*method='tsharp'"):
        lst.lstsr.upscale(4, ["bicubic"])
    # before: "unknown method <class ...TsHARP>" without saying to instantiate it
    with pytest.raises(errors.XlstsrError, match=r"give an instance, `method=TsHARP\(...\)`"):
        lst.lstsr.upscale(4, TsHARP, guide=scene["ndvi_250m"])


def test_method_name_by_case_or_whitespace_names_the_registered_one(scene):
    lst = scene["lst_1km"]
    # before: "unknown method 'TsHARP'" and the list, without the near match
    for name, near in (("TsHARP", "tsharp"), ("dms ", "dms"), ("Bicubic", "bicubic")):
        with pytest.raises(errors.XlstsrError, match=rf"lower case: `method='{near}'`"):
            lst.lstsr.upscale(4, name, guide=scene["ndvi_250m"])


def test_an_option_given_twice_is_refused(scene):
    lst, g = scene["lst_1km"], scene["ndvi_250m"]
    # before: gain=0.3 silently won over method_options={"gain": 0.5}
    with pytest.raises(errors.MethodOptionError, match=r"\['gain'\] given twice"):
        lst.lstsr.upscale(4, "tsharp", guide=g, method_options={"gain": 0.5}, gain=0.3)
    a = lst.lstsr.upscale(4, "tsharp", guide=g, method_options={"gain": 0.5}, conserve=True)
    assert '"gain": 0.5' in a.attrs["xlstsr_options"]


def test_a_rotated_transform_is_named(scene):
    lst = scene["lst_1km"]
    rot = lst.rio.transform() * Affine.rotation(5)
    bare = xr.DataArray(lst.values, dims=("time", "y", "x"), coords={"time": lst.time})
    rotated = bare.rio.write_crs(lst.rio.crs).rio.write_transform(rot)
    # before: MissingCRSError "no coordinates along 'y' and no transform": it has a transform
    with pytest.raises(errors.GridError, match=r"LST's transform is rotated.*north-up.*gdalwarp"):
        rotated.lstsr.upscale(4)
    g = scene["ndvi_250m"]
    grot = (xr.DataArray(g.values, dims=("y", "x")).rio.write_crs(g.rio.crs)
            .rio.write_transform(g.rio.transform() * Affine.rotation(5)))
    with pytest.raises(errors.GridError, match=r"guide's transform is rotated"):
        lst.lstsr.upscale(4, "tsharp", guide=grot)


def test_an_unreliable_or_nan_offset_as_guide_offset(scene):
    lst, g = scene["lst_1km"], scene["ndvi_250m"]
    off = xlstsr.estimate_offset(g, lst, errors="warn")  # the synthetic scene: too flat to tell
    assert not off.reliable.values.any()
    # before: CoregistrationError "no reliable offset estimate: the fine field is left as it is"
    # (read like a warning, named no way out)
    with pytest.raises(errors.CoregistrationError, match=r"no reliable step.*guide_offset='ignore'"):
        lst.lstsr.upscale(4, "tsharp", guide=g, guide_offset=off)
    good = off.assign(reliable=off.reliable | True, shift_x=0 * off.shift_x + 120.0,
                      shift_y=0 * off.shift_y - 80.0)
    moved = lst.lstsr.upscale(4, "tsharp", guide=g, guide_offset=good)
    assert moved.shape == (2, 64, 64)
    # before: GridError "the guide's 'x' coordinates hold NaN", the offset's NaN not named
    with pytest.raises(errors.CoregistrationError, match=r"shift_x/shift_y is not finite.*estimate_offset"):
        lst.lstsr.upscale(4, "tsharp", guide=g, guide_offset=good.assign(shift_x=np.nan * good.shift_x))


def test_a_factor_computed_as_a_ratio_of_resolutions(scene):
    lst = scene["lst_1km"]
    ratio = 926.6254330555 / 231.65635826395  # 3.999999999998705
    # before: "factor must be a positive integer, got 3.999999999998705", no way out named
    with pytest.raises(errors.GridError, match=r"off 4 by round-off\? pass `factor=round\(ratio\)`"):
        lst.lstsr.upscale(ratio)
    with pytest.raises(errors.GridError, match=r"got 4.5$"):  # not near a whole number: no hint
        lst.lstsr.upscale(4.5)
    # before: a 0-d array (`(a / b).values`) was refused as "not a positive integer, got array(4)"
    assert lst.lstsr.upscale(np.array(4)).shape == (2, 64, 64)


def test_dataset_accessor_coarsen_and_evaluate_name_merged_grids(scene):
    ds = xr.Dataset({"lst": scene["lst_1km"], "ndvi": scene["ndvi_250m"]})  # union of 2 grids
    # before: coarsen said "the LST's 'y' coordinates are not regularly spaced", not why
    with pytest.raises(errors.GridError, match=r"variables \['lst', 'ndvi'\] share them.*different grids"):
        ds.lstsr.coarsen(4, variable="lst")
    with pytest.raises(errors.GridError, match=r"share them"):
        ds.lstsr.evaluate(scene["lst_250m"], variable="lst")
    ok = xr.Dataset({"lst": scene["lst_1km"]}).lstsr.coarsen(2)
    np.testing.assert_allclose(ok.values, scene["lst_1km"].lstsr.coarsen(2).values, equal_nan=True)


def test_guide_bands_on_different_grids_are_named(scene):
    lst, g = scene["lst_1km"], scene["ndvi_250m"]
    rng = np.random.default_rng(0)
    alb = (0.15 + 0.01 * rng.standard_normal(g.shape)).astype("float32") + 0 * g
    alb500 = alb.coarsen(x=2, y=2).mean().rename("albedo")  # an albedo at 500 m beside NDVI
    # before: xarray's AlignmentError "cannot align objects with join='exact'" (no band, no fix);
    # then refused with nearest-neighbour advice; now each band is aligned on its own (session 29)
    for guide in ([g, alb500], {"ndvi": g, "albedo": alb500}):
        with pytest.warns(errors.GuideAlignmentWarning, match="guide reprojected"):
            out = lst.lstsr.upscale(4, "tsharp", guide=guide)
        assert out.shape == (2, 64, 64)


def test_a_guide_with_the_wrong_crs_written_is_named(scene):
    lst, g = scene["lst_1km"], scene["ndvi_250m"]
    # same coordinates as the LST's, another (projected) CRS written on it by mistake
    # before: "the guide covers 0% of the LST extent ... provide a guide over the same area"
    with pytest.raises(errors.GuideCoverageError, match=r"own coordinates span the LST's bounds.*"
                                                        r"wrong CRS.*write_crs\(lst.rio.crs\)"):
        lst.lstsr.upscale(4, "tsharp", guide=g.rio.write_crs("EPSG:32631"))
    # a guide really elsewhere keeps the coverage message alone
    far = g.assign_coords(x=g.x + 1e6)
    with pytest.raises(errors.GuideCoverageError) as info:
        lst.lstsr.upscale(4, "tsharp", guide=far)
    assert "wrong CRS" not in str(info.value)
