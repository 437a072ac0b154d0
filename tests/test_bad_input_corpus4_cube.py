"""Bad inputs, fourth round (the structure of datacubes and guides): each case was found by
probing the public API (notes: audit4_cube.md) and, before its fix, destroyed a user's data
(``upscale_to_zarr`` into the store a lazy input or guide reads: deleted, then "no valid pixel"),
gave a silent wrong result (an unlabelled NDVI guide x 3 or a band labelled 'red' fed to a model
trained on NDVI, method options such as ``conserve="no"`` or ``n_estimators=2.5`` taken as True
or 2), a raw error (NotADirectoryError, sklearn's, joblib's, torch's) or a misleading message
(a 10x wrong scale_factor called Celsius, a Dataset merging two grids called "not regularly
spaced", a missing column called irregular spacing, an LST time coordinate along another dim
called "no time"). Now each is an error that names the problem and the fix.
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr import errors

# -- upscale_to_zarr: the store and the inputs it reads ------------------------------------------


def _listing(p):
    return sorted(os.listdir(p))


@pytest.fixture()
def zstores(s, tmp_path):
    """An LST and a guide Zarr store, and the lazy DataArrays opened from them."""
    lst_store, guide_store = tmp_path / "in.zarr", tmp_path / "g.zarr"
    s["lst_1km"].to_dataset(name="LST").to_zarr(lst_store, zarr_format=3, consolidated=False)
    s["ndvi_250m"].to_dataset(name="ndvi").to_zarr(guide_store, zarr_format=3, consolidated=False)
    lst = xr.open_zarr(lst_store, decode_coords="all", consolidated=False)["LST"]
    guide = xr.open_zarr(guide_store, decode_coords="all", consolidated=False)["ndvi"]
    return lst_store, guide_store, lst, guide


@pytest.mark.parametrize("mode", ["w", "resume"])
def test_upscale_to_zarr_never_writes_over_the_store_a_lazy_input_reads(zstores, mode):
    """mode='w' deleted the input store the lazy DataArray reads, then reported 'no valid
    pixel' (the regions read the deleted store as NaN): the user's data was lost."""
    lst_store, guide_store, lst, guide = zstores
    before = _listing(lst_store)
    with pytest.raises(errors.XlstsrError, match=r"is the source being read.*lazy array"):
        xlstsr.upscale_to_zarr(lst, lst_store, 4, mode=mode, progress=False)
    assert _listing(lst_store) == before
    with pytest.raises(errors.XlstsrError, match="is the guide being read"):
        xlstsr.upscale_to_zarr(lst, guide_store, 4, "tsharp", guide, mode="w", progress=False)
    assert xr.open_zarr(guide_store, consolidated=False)["ndvi"].notnull().any()
    assert xr.open_zarr(lst_store, consolidated=False)["LST"].notnull().any()


def test_upscale_to_zarr_refuses_a_store_inside_or_around_its_input(zstores, tmp_path):
    lst_store, _, lst, _ = zstores
    before = _listing(lst_store)
    for source in (lst, str(lst_store)):  # a lazy array or the path: a store inside the input
        with pytest.raises(errors.XlstsrError, match="lies inside the source being read"):
            xlstsr.upscale_to_zarr(source, lst_store / "sr.zarr", 4, mode="w", progress=False)
    assert _listing(lst_store) == before
    # a Zarr folder that holds the input store: mode='w' deleted both
    outer = tmp_path / "project.zarr"
    inner = outer / "in.zarr"
    lst.to_dataset().to_zarr(inner, zarr_format=3, consolidated=False)
    (outer / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group", "attributes": {}}')
    with pytest.raises(errors.XlstsrError, match="holds the source being read"):
        xlstsr.upscale_to_zarr(str(inner), outer, 4, mode="w", progress=False)
    assert xr.open_zarr(inner, consolidated=False)["LST"].notnull().any()


def test_upscale_to_zarr_names_a_store_that_cannot_be_created(s, tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(errors.XlstsrError, match="afile is a file, not a folder"):
        xlstsr.upscale_to_zarr(s["lst_1km"], tmp_path / "afile" / "out.zarr", 4, progress=False)
    assert (tmp_path / "afile").read_text() == "x"


# -- guides: what the model was trained on --------------------------------------------------------


def _unlabelled(g):
    # a copy: rename() shares the Variable, and clearing its attrs cleared the module's fixture
    # (a later test then passed or failed by the order xdist ran them in)
    g = g.rename(None).copy()
    g.attrs = {}
    return g


@pytest.mark.parametrize("lazy", [False, True])
def test_an_unlabelled_guide_beyond_the_ndvi_range_is_refused_for_a_model_trained_on_ndvi(s, lazy):
    """NDVI x 3 without an NDVI label passed the statistics test (within 10 training standard
    deviations) and disr made 285-326 K of it."""
    lst, g = s["lst_1km"], _unlabelled(s["ndvi_250m"] * 3)
    if lazy:
        lst, g = lst.chunk(), g.chunk()
    with pytest.raises(errors.GuideScaleError, match=r"model's channel 'ndvi'.*\[-1, 1\].*divide it back"):
        xlstsr.upscale(lst, 4, "disr", g, guide_offset="ignore").compute()
    # the same guide unscaled is fine; tsharp (a regression fitted per scene) takes any scale
    xlstsr.upscale(s["lst_1km"], 4, "disr", _unlabelled(s["ndvi_250m"]), guide_offset="ignore")
    xlstsr.upscale(s["lst_1km"], 4, "tsharp", _unlabelled(s["ndvi_250m"] * 3), guide_offset="ignore")


def test_a_guide_band_labelled_as_another_quantity_is_refused(s):
    """A red reflectance given as {'red': ...} to disr (trained on 'ndvi') was used as NDVI."""
    red = s["ndvi_250m"] * 0.1 + 0.05
    for guide in ({"red": red}, [red.rename("MOD09GQ_red")], red.rename("red")):
        with pytest.raises(errors.GuideScaleError, match=r"labelled '.*red' but method 'disr' was trained on 'ndvi'.*nir - red"):
            xlstsr.upscale(s["lst_1km"], 4, "disr", guide, guide_offset="ignore")
    # a model whose checkpoint names no channel ('guide0') takes any label
    from xlstsr.guide import check_guide_labels

    check_guide_labels(["red"], ["guide0"], "torch")
    # names that say nothing (rioxarray's 'band_data', a band number) are judged by the values
    for name in ("band_data", "b1", "NDVI_250m"):
        xlstsr.upscale(s["lst_1km"], 4, "disr", s["ndvi_250m"].rename(name), guide_offset="ignore")
    # an NDVI that kept the LST's name (lst.copy(data=ndvi)) is judged by its values, which pass;
    # an LST given as the guide is refused by them
    xlstsr.upscale(s["lst_1km"], 4, "disr", s["ndvi_250m"].rename("lst_250m"), guide_offset="ignore")
    with pytest.raises(errors.XlstsrError):
        xlstsr.upscale(s["lst_1km"], 4, "disr", xlstsr.upscale(s["lst_1km"], 4).rename("lst"),
                       guide_offset="ignore")


def test_guide_channels_in_another_order_than_the_model_s_are_refused(s, method_registry):
    from xlstsr.methods.base import UpscaleMethod, register_method

    @register_method("two_band_model")
    class TwoBands(UpscaleMethod):
        guided = True
        n_guide = 2

        def guide_statistics(self):
            return {"mean": [0.6, 0.2], "std": [0.2, 0.1], "names": ["ndvi", "albedo"]}

        def upscale_block(self, lst, valid, guide, factor):
            return np.repeat(np.repeat(lst, factor, 1), factor, 2)

    ndvi, albedo = s["ndvi_250m"], s["ndvi_250m"] * 0.2 + 0.1
    with pytest.raises(errors.GuideScaleError, match=r"labelled \['albedo', 'ndvi'\].*\['ndvi', 'albedo'\] in that order"):
        xlstsr.upscale(s["lst_1km"], 4, "two_band_model", {"albedo": albedo, "ndvi": ndvi},
                       guide_offset="ignore")
    band = xr.concat([albedo, ndvi], dim="band").assign_coords(band=["albedo", "ndvi"])
    with pytest.raises(errors.GuideScaleError, match="in that order"):
        xlstsr.upscale(s["lst_1km"], 4, "two_band_model", band, guide_offset="ignore")
    out = xlstsr.upscale(s["lst_1km"], 4, "two_band_model", {"ndvi": ndvi, "albedo": albedo},
                         guide_offset="ignore")
    assert out.shape == (2, 64, 64)


# -- method options of the wrong type -------------------------------------------------------------


@pytest.mark.parametrize(("method", "options", "match"), [
    ("tsharp", {"quadratic": "no"}, "quadratic of method 'tsharp' must be True or False.*truthy"),
    ("tsharp", {"conserve": "no"}, "conserve of method 'tsharp' must be True or False"),
    ("tsharp", {"min_samples": 2.5}, r"min_samples .* whole number >= 1 \(e.g. 10\), got 2.5"),
    ("tsharp", {"min_samples": "x"}, "min_samples .* whole number"),
    ("dms", {"n_estimators": 2.5}, "n_estimators .* whole number >= 1"),
    ("dms", {"n_estimators": 0}, "n_estimators .* whole number >= 1"),
    ("dms", {"window": -3}, "window .* >= 0 .*0 for no local models"),
    ("dms", {"t4": "no"}, "t4 .* True or False"),
    ("dms", {"max_leaf_nodes": 1}, "max_leaf_nodes .* >= 2"),
    ("dms", {"min_samples_leaf": 0}, "min_samples_leaf .* >= 1"),
    ("dms", {"random_state": "a"}, "random_state .* whole number >= 0"),
    ("dms", {"n_jobs": 0}, "n_jobs .* other than 0.*-1 for every core"),
    ("dms", {"gain": None}, r"gain must be a number in \[0, 1\], got None"),
    ("sisr", {"conserve": "no"}, "conserve of method 'sisr' must be True or False"),
    ("disr", {"conserve": 2}, "conserve of method 'disr' must be True or False, got 2"),
    ("sisr", {"batch_size": 2.5}, "batch_size .* whole number >= 1 or None"),
    ("sisr", {"num_threads": 0}, "num_threads .* whole number >= 1 or None"),
])
def test_method_options_of_the_wrong_type_are_named(s, method, options, match):
    """Before: "no" and 2 taken as True, 2.5 as 2, "10" as 10; 0 reached sklearn, joblib or
    torch as their raw errors."""
    with pytest.raises(errors.XlstsrError, match=match):
        xlstsr.upscale(s["lst_1km"], 4, method, s["ndvi_250m"] if method != "sisr" else None,
                       guide_offset="ignore", method_options=options)


def test_method_options_in_numpy_or_float_form_still_pass():
    from xlstsr.methods import get_method

    m = get_method("dms", n_estimators=np.int64(4), window=16.0, t4=np.False_, n_jobs=-1, gain=0)
    assert (m.n_estimators, m.window, m.t4, m.n_jobs) == (4, 16, False, -1)
    assert get_method("sisr", batch_size=np.int32(4), conserve=1).batch_size == 4


# -- the structure of the LST cube ---------------------------------------------------------------


def test_a_scale_factor_a_power_of_ten_off_is_named_beside_celsius(s):
    """0.002 (10x too small) on MOD11A1 digital numbers read as 30 K: only 'Celsius' was named."""
    lst = s["lst_1km"]
    dn = (lst / 0.02).fillna(0).round().astype("uint16")
    dn.attrs = {"scale_factor": 0.002, "_FillValue": 0, "units": "K"}
    with pytest.raises(errors.PhysicalRangeError,
                       match=r"0.002 is 10 times too small: with 0.02 the median would be "
                             r"30\d.\d K.*scale_factor'\] = 0.02.*degrees Celsius after all"):
        xlstsr.upscale(dn, 4)
    del dn.attrs["units"]  # no units: the scale reading leads (probe 50 R1/4), Celsius after it
    with pytest.raises(errors.UnitsError, match=r"look like degrees Celsius.*0.002 is 10 times too small"):
        xlstsr.upscale(dn, 4)
    dn.attrs["scale_factor"] = 0.2  # 10x too large: was "values look scaled ... 0.02"
    with pytest.raises(errors.PhysicalRangeError, match=r"0.2 is 10 times too large: with 0.02"):
        xlstsr.upscale(dn, 4)
    dn.attrs["scale_factor"] = 0.02  # right: Kelvin
    np.testing.assert_allclose(xlstsr.upscale(dn, 4).mean(), xlstsr.upscale(lst, 4).mean(), atol=0.05)


def test_a_dataset_merging_two_grids_is_named(s):
    """LST (1 km) and NDVI (250 m) in one Dataset under the same dim names: xarray put both on
    the union of the grids, and upscale said only 'not regularly spaced' (scaling_stats
    returned statistics of the NaN-padded union)."""
    ds = xr.Dataset({"lst": s["lst_1km"], "ndvi": s["ndvi_250m"]})
    match = r"variables \['lst', 'ndvi'\] share them.*union of both grids.*separate DataArrays"
    with pytest.raises(errors.GridError, match=match):
        xlstsr.upscale(ds, 4, "tsharp", "ndvi", variable="lst")
    with pytest.raises(errors.GridError, match=match):
        ds.lstsr.upscale(4, variable="lst")
    with pytest.raises(errors.GridError, match=match):
        xlstsr.scaling_stats(ds, "ndvi", variable="lst")
    # the fix the message gives: each grid its own dim names
    ok = xr.Dataset({"lst": s["lst_1km"], "ndvi": s["ndvi_250m"].rename(x="x_250m", y="y_250m")})
    assert xlstsr.upscale(ok, 4, variable="lst").shape == (2, 64, 64)


def test_a_missing_column_is_named_with_its_fix_and_jitter_is_told_from_irregularity(s):
    lst = s["lst_1km"]
    gap = lst.isel(x=[i for i in range(16) if i != 7])
    with pytest.raises(errors.GridError, match=r"skip 1 column\(s\).*reindex\(x=") as err:
        xlstsr.upscale(gap, 4)
    fix = str(err.value).split("`da = ")[1].split("`")[0]  # the message's own fix, run
    fixed = eval(fix, {"da": gap, "np": np})
    out = xlstsr.upscale(fixed, 4)
    assert out.sizes["x"] == 64 and np.isnan(out.isel(x=slice(28, 32))).all()
    rng = np.random.default_rng(0)
    jit = lst.assign_coords(x=lst.x.values + 1e-3 * 926.6 * rng.uniform(-1, 1, 16))
    with pytest.raises(errors.GridError, match=r"deviate from a regular grid by up to 0.00.*Snap them") as err:
        xlstsr.upscale(jit, 4)
    fix = str(err.value).split("`da = ")[1].split("`")[0]
    np.testing.assert_allclose(xlstsr.upscale(eval(fix, {"da": jit, "np": np}), 4),
                               xlstsr.upscale(lst, 4), atol=1e-3)


def test_an_lst_time_label_that_is_not_a_dim_is_named_against_a_guide_time_dim(s):
    """Both cases were reported as 'the LST has none' (no time)."""
    lst = s["lst_1km"]
    g = xr.concat([s["ndvi_250m"], s["ndvi_250m"] * 0.9], "time").assign_coords(time=lst.time.values)
    step = lst.drop_vars("time").rename(time="step").assign_coords(time=("step", lst.time.values))
    with pytest.raises(errors.GuideTimeError, match=r"coordinate along its dim 'step'.*swap_dims"):
        xlstsr.upscale(step, 4, "tsharp", g, guide_offset="ignore")
    out = xlstsr.upscale(step.swap_dims({"step": "time"}), 4, "tsharp", g, guide_offset="ignore")
    one = lst.isel(time=1)  # a scalar time coordinate: matched by its label as a one-step dim
    matched = xlstsr.upscale(one, 4, "tsharp", g, guide_offset="ignore")
    same = xlstsr.upscale(one, 4, "tsharp", g.sel(time=one["time"].values), guide_offset="ignore")
    np.testing.assert_array_equal(matched.values, same.values)
    np.testing.assert_array_equal(same.values, out.isel(time=1).values)


def test_upscale_to_zarr_names_squeeze_for_a_length_one_band(s, tmp_path):
    lst = s["lst_1km"].expand_dims(band=[1], axis=1)
    with pytest.raises(errors.XlstsrError, match=r"\['time', 'band'\].*squeeze\('band', drop=True\)"):
        xlstsr.upscale_to_zarr(lst, tmp_path / "o.zarr", 4, progress=False)
    assert not (tmp_path / "o.zarr").exists()


def test_a_guide_given_as_the_lst_is_named_by_its_units(s):
    ndvi = s["ndvi_250m"].copy()
    ndvi.attrs = {"units": "1"}  # no long_name: named by its units
    with pytest.raises(errors.UnitsError, match=r"dimensionless band.*guide.*given as the LST"):
        xlstsr.upscale(ndvi, 4, "tsharp", s["lst_1km"])
    # labelled: named by its label
    with pytest.raises(errors.UnitsError, match=r"labelled 'NDVI at 250 m' \(ndvi\), not a land"):
        xlstsr.upscale(s["ndvi_250m"].assign_attrs(units="1"), 4, "tsharp", s["lst_1km"])


@pytest.mark.filterwarnings("ignore:guide reprojected")
def test_a_guide_not_finer_than_the_lst_is_warned_about_as_such(s):
    """A 1 km guide (MOD13A2 NDVI) for 1 km LST: only 'reprojected ... at 926 m instead of 232 m'."""
    g = s["ndvi_250m"].coarsen(x=4, y=4).mean()
    g = g.rio.write_transform(g.rio.transform(recalc=True))
    with pytest.warns(errors.GuideAlignmentWarning, match="not finer than the LST's.*no better than bicubic"):
        xlstsr.upscale(s["lst_1km"], 4, "tsharp", g, guide_offset="ignore")


def test_a_swath_with_2d_lat_lon_is_named_as_such(s):
    lst = s["lst_1km"]
    rng = np.random.default_rng(0)
    swath = xr.DataArray(lst.values, dims=("time", "y", "x"), attrs={"units": "K"}, coords={
        "lat": (("y", "x"), 45 + rng.random((16, 16))), "lon": (("y", "x"), 2 + rng.random((16, 16)))})
    for da in (swath, swath.rio.write_crs("EPSG:4326"), swath.rename(y="nrows", x="ncols")):
        with pytest.raises(errors.XlstsrError, match=r"\['lat', 'lon'\] are 2-D: a swath.*regular grid"):
            xlstsr.upscale(da, 4)


def test_day_of_year_labels_against_dates_get_a_fix_that_makes_dates(s):
    """pd.to_datetime of 182 gives 1970-01-01 00:00:00.000000182: the old hint for numbers."""
    lst = s["lst_1km"].assign_coords(time=[183, 184])
    g = s["ndvi_250m"].expand_dims(time=s["lst_1km"].time.values)
    g = xr.concat([g.isel(time=[0]), g.isel(time=[1]) * 0.9], "time")
    with pytest.raises(errors.GuideTimeError, match="for days of the year") as err:
        xlstsr.upscale(lst, 4, "tsharp", g, guide_offset="ignore")
    fix = re.search(r"for days of the year[^`]*`([^`]*)`", str(err.value)).group(1)
    import pandas as pd

    exec(fix, {"lst": lst, "pd": pd})  # 2020 is a leap year: day 183 is 2020-07-01
    assert xlstsr.upscale(lst, 4, "tsharp", g, guide_offset="ignore").time.values.tolist() == \
        s["lst_1km"].time.values.tolist()


def test_pixel_corner_coordinates_on_a_raster_with_its_transform_are_warned_about(s):
    """Corner coordinates (np.arange(left, right, res)) on a raster read with its transform
    shifted the result by half a pixel silently."""
    lst = s["lst_1km"]
    res = float(lst.x[1] - lst.x[0])
    corners = lst.assign_coords(x=lst.x.values - res / 2, y=lst.y.values + res / 2)
    with pytest.warns(UserWarning, match="half a pixel up and left.*pixel corners") as rec:
        xlstsr.upscale(corners, 4)
    fix = str(next(w.message for w in rec if "corners" in str(w.message))).split("(`da = ")[1].split("`")[0]
    np.testing.assert_allclose(xlstsr.upscale(eval(fix, {"da": corners}), 4).x, xlstsr.upscale(lst, 4).x, atol=1e-3)
    import warnings

    with warnings.catch_warnings():  # centres, or a stale transform of another resolution: quiet
        warnings.simplefilter("error")
        xlstsr.upscale(lst, 4)
        xlstsr.upscale(lst.isel(x=slice(1, None)), 4)


def test_the_new_checks_compute_nothing_on_lazy_inputs(s, zstores):
    from helpers import raise_if_computed

    _, _, lst, guide = zstores  # lazy, read from Zarr stores
    ds = xr.Dataset({"lst": lst, "qc": lst * 0}).chunk()
    with raise_if_computed():
        xlstsr.upscale(lst, 4, "disr", guide, guide_offset="ignore")  # labels, model NDVI range
        xlstsr.upscale(ds, 4, variable="lst")  # merged-grid check: coordinates only
        xlstsr.upscale(lst, 4, method_options={})


def test_resume_recognises_the_same_input_opened_with_other_chunks(s, tmp_path):
    """The digest hashed whole chunks: the same cube reopened with other chunks (or loaded in
    memory) was refused as 'differ in ['input']'."""
    import zarr

    lst = s["lst_1km"]
    store = tmp_path / "sr.zarr"
    xlstsr.upscale_to_zarr(lst.chunk({"time": 1}), store, 4, time_chunk=1, progress=False)
    done = zarr.open_array(store, path="xlstsr_progress/done", mode="r+")
    for source in (lst.chunk({"time": 1, "x": 5, "y": 3}), lst):
        done[1] = 0  # as if interrupted before the second region
        out = xlstsr.upscale_to_zarr(source, store, 4, time_chunk=1, mode="resume", progress=False)
        np.testing.assert_array_equal(out.values, xlstsr.upscale(lst, 4).values)
    with pytest.raises(errors.XlstsrError, match=r"differ in \['input'\]"):  # other values
        xlstsr.upscale_to_zarr(lst + 1, store, 4, time_chunk=1, mode="resume", progress=False)


def test_pixel_index_coordinates_under_a_projected_crs_are_refused(s):
    """xr.DataArray(a, coords={'y': np.arange(ny), ...}).rio.write_crs(...): the output was
    placed at the CRS's origin with 1 m pixels, and the ascending y index read as south-up."""
    from affine import Affine

    lst = s["lst_1km"]
    idx = xr.DataArray(lst.values, dims=lst.dims, attrs={"units": "K"},
                       coords={"time": lst.time.values, "y": np.arange(16), "x": np.arange(16)})
    idx = idx.rio.write_crs(lst.rio.crs)
    with pytest.raises(errors.GridError, match=r"pixel indices.*write_transform\(Affine"):
        xlstsr.upscale(idx, 4)
    fixed = idx.drop_vars(["y", "x"]).rio.write_transform(Affine.from_gdal(*lst.rio.transform().to_gdal()))
    np.testing.assert_array_equal(xlstsr.upscale(fixed, 4).values, xlstsr.upscale(lst, 4).values)
    # geographic degrees may be whole numbers (a 1-degree grid)
    deg = idx.assign_coords(y=np.arange(16.0)[::-1] + 30).rio.write_crs("EPSG:4326")
    assert xlstsr.upscale(deg, 2).shape == (2, 32, 32)


@pytest.mark.parametrize("method", ["disr", "tsharp", "dms"])
def test_an_ndvi_that_inherited_a_band_scale_is_refused_by_upscale(s, method):
    """An NDVI computed from undecoded bands keeps nir's scale_factor 0.0001 (xarray keeps the
    attributes): decoded, every method read NDVI x 1e-4 without a word."""
    g = s["ndvi_250m"].copy()
    g.attrs.update(scale_factor=0.0001, add_offset=0.0)
    with pytest.raises(errors.GuideScaleError, match=r"scale_factor=0.0001.*10000x too small"):
        xlstsr.upscale(s["lst_1km"], 4, method, g, guide_offset="ignore")
    g.attrs.pop("scale_factor")
    assert np.isfinite(xlstsr.upscale(s["lst_1km"], 4, method, g, guide_offset="ignore")).any()


def test_scaled_values_get_only_the_scales_that_give_a_temperature(s):
    """Landsat L1 thermal counts (~23,658) were told 'x 0.02 or x 0.1' (473 K, 2366 K)."""
    lst = s["lst_1km"]
    counts = (lst * 78.8).assign_attrs(units="K")  # median ~23,650
    with pytest.raises(errors.PhysicalRangeError, match=r"scale_factor=0.01\).*Kelvin x 100.*"
                       r"open_landsat8_l1") as e:
        xlstsr.upscale(counts, 4)
    assert "scale_factor=0.02" not in str(e.value) and "scale_factor=0.1)" not in str(e.value)
    with pytest.raises(errors.PhysicalRangeError, match=r"no temperature at any usual LST scale"):
        xlstsr.upscale((lst * 300).assign_attrs(units="K"), 4)
    with pytest.raises(errors.PhysicalRangeError, match=r"scale_factor=0.02\).*MODIS LST digital"):
        xlstsr.upscale((lst * 50).assign_attrs(units="K"), 4)
