"""Bad inputs, third round: each case was found by probing the public API (notes: audit3.md) and,
before its fix, destroyed a user's data (an output path that is also the input: the input Zarr
store deleted, a GeoTIFF replaced by its own upscaling), gave a silent wrong result (timezone-aware
dates turned into integers, a complex or datetime guide cast to numbers, a calibration fitted or
applied on Celsius, fields of other dates paired by position, a finer field passed as the coarse
LST), a false refusal (a guide's stale GeoTransform read as partial coverage), a raw error
(rasterio's, pandas', xbatcher's, distributed's, AttributeError, ZeroDivisionError) or a misleading
message (reference_scale reported as attributes to drop). Now each is an error that names the
problem and the fix.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rioxarray  # also registers .rio
import xarray as xr

import xlstsr
from xlstsr import errors
from xlstsr.cli import main


def _utc(da: xr.DataArray) -> xr.DataArray:
    return da.assign_coords(time=pd.DatetimeIndex(da.time.values).tz_localize("UTC"))


# -- the input front door ----------------------------------------------------------------------


def test_timezone_aware_dates_are_named_not_turned_into_integers(s, sr):
    with pytest.raises(errors.GridError, match=r"timezone-aware \(UTC\).*tz_convert\(None\)"):
        xlstsr.upscale(_utc(s["lst_1km"]), 4)
    with pytest.raises(errors.GridError, match="timezone-aware"):
        xlstsr.evaluate(_utc(sr), s["lst_250m"])
    # a guide's tz-aware dates are only matched with the LST's: they keep working
    g = s["ndvi_250m"].expand_dims(time=pd.DatetimeIndex(s["lst_1km"].time.values).tz_localize("UTC"))
    out = xlstsr.upscale(s["lst_1km"], 4, guide=g, method="tsharp")
    assert out.time.dtype.kind == "M"


@pytest.mark.parametrize("dtype", ["complex64", "datetime64[ns]", "object", "<U32"])
def test_a_guide_of_non_real_values_is_refused_not_cast(s, dtype):
    g = s["ndvi_250m"]
    g = xr.zeros_like(g, dtype=dtype) if dtype.startswith("datetime") else g.astype(dtype)
    with pytest.raises(errors.InputTypeError, match=f"guide holds {dtype[:8]}.*astype"):
        xlstsr.upscale(s["lst_1km"], 4, guide=g, method="tsharp")


def test_a_stale_geotransform_does_not_fake_partial_coverage(s):
    """`coarsen(...).mean()` keeps the 1 km GeoTransform on a 2 km grid; the coverage came from
    it (88 %) and a guide covering the whole LST was refused."""
    lst = s["lst_1km"]
    # a guide with detail (a constant one is refused as carrying none)
    stale = (0.5 + 0.001 * (lst.coarsen(x=2, y=2).mean() - 300)).rio.write_crs(lst.rio.crs)
    fresh = stale.rio.write_transform(stale.rio.transform(recalc=True))
    with pytest.warns(errors.GuideAlignmentWarning):
        a = xlstsr.upscale(lst, 4, guide=stale, method="tsharp")
    with pytest.warns(errors.GuideAlignmentWarning):
        b = xlstsr.upscale(lst, 4, guide=fresh, method="tsharp")
    np.testing.assert_array_equal(a.values, b.values)


def test_reference_scale_applied_to_kelvin_names_reference_scale(sr, s):
    with pytest.raises(errors.PhysicalRangeError, match="drop `reference_scale`"):
        xlstsr.evaluate(sr, s["lst_250m"], reference_scale=0.1)


# -- outputs that are inputs, output folders ---------------------------------------------------


def test_upscale_to_zarr_refuses_to_overwrite_its_own_source(s, tmp_path):
    store = tmp_path / "in.zarr"
    xlstsr.upscale_to_zarr(s["lst_1km"], store, 4, progress=False)
    before = sorted(p.name for p in store.iterdir())
    for mode in ("w", "w-", "resume"):
        with pytest.raises(errors.XlstsrError, match="is the source being read"):
            xlstsr.upscale_to_zarr(str(store) + "/", store, 4, mode=mode, progress=False)
    assert sorted(p.name for p in store.iterdir()) == before
    assert xr.open_zarr(store, consolidated=False)["lst_1km"].notnull().any()


@pytest.fixture()
def files(s, tmp_path):
    lst = tmp_path / "lst.tif"
    s["lst_1km"].isel(time=0).rio.to_raster(lst)
    truth = tmp_path / "truth.tif"
    s["lst_250m"].isel(time=0).rio.to_raster(truth)
    sr_tif = tmp_path / "sr.tif"
    assert main(["upscale", str(lst), str(sr_tif)]) == 0
    return lst, truth, sr_tif


@pytest.mark.parametrize("argv", [
    ["upscale", "{lst}", "{lst}", "--overwrite"],
    ["upscale", "{zarr}", "{zarr}/", "--overwrite"],
    ["upscale", "{lst}", "{sr}", "--method", "tsharp", "--guide", "{sr}", "--overwrite"],
    ["evaluate", "{sr}", "{truth}", "{truth}", "--overwrite"],
    ["scaling", "{lst}", "{dir}/s.csv", "--figure", "{lst}", "--overwrite"],
    ["train", "--lst", "{lst}", "--out", "{lst}", "--overwrite"],
])
def test_cli_refuses_an_output_that_is_an_input(files, tmp_path, capsys, argv):
    lst, truth, sr_tif = files
    zarr = tmp_path / "in.zarr"
    assert main(["upscale", str(lst), str(zarr), "--quiet"]) == 0
    stamps = {p: p.stat().st_mtime_ns for p in (lst, truth, sr_tif, zarr / "zarr.json")}
    args = [a.format(lst=lst, truth=truth, sr=sr_tif, zarr=zarr, dir=tmp_path) for a in argv]
    assert main(args) == 2
    assert "is also an input" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


def test_cli_creates_missing_output_folders(files, tmp_path, capsys):
    lst, truth, sr_tif = files
    assert main(["upscale", str(lst), str(tmp_path / "a" / "b" / "out.tif")]) == 0
    assert main(["upscale", str(lst), str(tmp_path / "c" / "out.nc")]) == 0
    assert main(["evaluate", str(sr_tif), str(truth), str(tmp_path / "d" / "m.csv")]) == 0
    assert main(["scaling", str(lst), str(tmp_path / "e" / "s.csv")]) == 0
    for p in ("a/b/out.tif", "c/out.nc", "d/m.csv", "e/s.csv"):
        assert (tmp_path / p).is_file()


def test_cli_names_a_scheduler_that_is_no_address(files, tmp_path, capsys):
    lst, _, _ = files
    assert main(["upscale", str(lst), str(tmp_path / "o.tif"), "--scheduler", "bogus"]) == 2
    assert "--scheduler 'bogus' is not threads, sync, processes" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--patch", "--window", "--factor"])
def test_cli_train_sizes_must_be_positive(files, tmp_path, capsys, option):
    lst, _, _ = files
    with pytest.raises(SystemExit) as info:
        main(["train", "--lst", str(lst), "--out", str(tmp_path / "m.pt"), option, "0"])
    assert info.value.code == 2
    # a factor below 2 raises nothing (one message since session 41: 0 was told ">= 1")
    least = 2 if option == "--factor" else 1
    assert f"argument {option}: must be >= {least}" in capsys.readouterr().err


# -- calibration -------------------------------------------------------------------------------


def test_a_calibration_is_not_fitted_on_celsius(sr, s):
    from xlstsr.calibration import fit_calibration

    with pytest.raises(errors.PhysicalRangeError, match="degC"):  # no units: refused
        fit_calibration(sr, s["lst_250m"] - 273.15)
    with pytest.raises(errors.PhysicalRangeError, match="not Kelvin"):  # numpy: checked too
        fit_calibration(sr.values, s["lst_250m"].values - 273.15)
    # with its units it is decoded: the same mapping as in Kelvin
    celsius = (s["lst_250m"] - 273.15).assign_attrs(units="degC")
    a, b = fit_calibration(sr, celsius), fit_calibration(sr, s["lst_250m"])
    assert a.offset == pytest.approx(b.offset, abs=1e-6) and abs(a.offset) < 50


def test_a_calibration_does_not_pair_other_dates_by_position(sr, s):
    from xlstsr.calibration import fit_calibration

    truth = s["lst_250m"]
    later = truth.assign_coords(time=truth.time + np.timedelta64(3, "D"))
    with pytest.raises(errors.XlstsrError, match=r"labels differ.*share no step"):
        fit_calibration(sr, later)
    # the same dates in another order are paired by label: the same fit
    a, b = fit_calibration(sr, truth), fit_calibration(sr, truth.isel(time=[1, 0]))
    assert (a.slope, a.offset) == pytest.approx((b.slope, b.offset), abs=1e-9)


@pytest.mark.parametrize("aggregate", [0, 2.5, True])
def test_calibration_aggregate_must_be_a_whole_number(sr, s, aggregate):
    from xlstsr.calibration import fit_calibration

    with pytest.raises(errors.XlstsrError, match="aggregate must be a whole number"):
        fit_calibration(sr, s["lst_250m"], aggregate=aggregate)


def test_a_calibration_is_not_applied_to_celsius_or_numpy(sr):
    from xlstsr.calibration import Calibration, apply_calibration

    cal = Calibration(offset=0.5)
    with pytest.raises(errors.UnitsError, match=r"degrees Celsius.*\+ 273.15"):
        apply_calibration((sr - 273.15).assign_attrs(units="degC"), cal)
    with pytest.raises(errors.PhysicalRangeError, match="not Kelvin"):
        apply_calibration(sr - 273.15, cal)
    with pytest.raises(errors.InputTypeError, match="DataArray"):
        apply_calibration(sr.values, cal)
    with pytest.raises(errors.XlstsrError, match="slope must be a finite number"):
        apply_calibration(sr, {"slope": "a", "offset": 0})
    assert float((apply_calibration(sr, cal) - sr).mean()) == pytest.approx(0.5, abs=1e-4)


# -- evaluate ----------------------------------------------------------------------------------


def test_evaluate_pairs_the_coarse_input_by_label(sr, s):
    lst = s["lst_1km"]
    with pytest.raises(errors.GridError, match="no coarse input step with that label"):
        xlstsr.evaluate(sr, s["lst_250m"], coarse=lst.assign_coords(time=lst.time + np.timedelta64(5, "D")))
    a = xlstsr.evaluate(sr, s["lst_250m"], coarse=lst)
    b = xlstsr.evaluate(sr, s["lst_250m"], coarse=lst.isel(time=[1, 0]))
    np.testing.assert_allclose(a.coarse_consistency.values, b.coarse_consistency.values)


def test_evaluate_refuses_a_factor_other_than_the_one_sr_was_made_with(sr, s):
    with pytest.raises(errors.GridError, match="made with factor 4"):
        xlstsr.evaluate(sr, s["lst_250m"], factor=2)
    assert int(xlstsr.evaluate(sr, s["lst_250m"], factor=4).attrs["factor"]) == 4


@pytest.mark.parametrize("kw", [{"valid_min": "abc"}, {"reference_nodata": "x"},
                                {"reference_scale": "x"}, {"coregister": "yes"},
                                {"coregister": xr.Dataset({"a": 1})}])
def test_evaluate_options_of_the_wrong_kind_are_named(sr, s, kw):
    with pytest.raises(errors.XlstsrError, match=f"{next(iter(kw))}"):
        xlstsr.evaluate(sr, s["lst_250m"], coarse=s["lst_1km"], **kw)


# -- estimate_offset ---------------------------------------------------------------------------


def test_estimate_offset_refuses_swapped_arguments(s):
    with pytest.raises(errors.GridError, match="arguments swapped"):
        xlstsr.estimate_offset(s["lst_1km"].isel(time=0), s["lst_250m"].isel(time=0))


def test_estimate_offset_does_not_pair_other_dates_by_position(s):
    fine = s["lst_250m"].assign_coords(time=s["lst_250m"].time + np.timedelta64(3, "D"))
    with pytest.raises(errors.GridError, match=r"labels differ.*share no step"):
        xlstsr.estimate_offset(fine, s["lst_1km"])


@pytest.mark.parametrize("kw", [{"max_shift": np.nan}, {"max_shift": -5}, {"search_step": 0},
                                {"psf_sigma": -1}, {"errors": "bogus"}])
def test_estimate_offset_options_out_of_range_are_named(s, kw):
    with pytest.raises(errors.XlstsrError, match=next(iter(kw))):
        xlstsr.estimate_offset(s["lst_250m"].isel(time=0), s["lst_1km"].isel(time=0), **kw)


def test_estimate_offset_names_a_numpy_fine_field(s):
    with pytest.raises(errors.InputTypeError, match="xarray DataArray"):
        xlstsr.estimate_offset(s["lst_250m"].isel(time=0).values, s["lst_1km"].isel(time=0))


def test_a_refused_scheduler_leaves_dask_as_it_was(files, tmp_path, s):
    import dask

    lst, _, _ = files
    before = dask.config.get("scheduler", None)
    assert main(["upscale", str(lst), str(tmp_path / "o.tif"), "--scheduler", "bogus"]) == 2
    assert dask.config.get("scheduler", None) == before
    xlstsr.upscale(s["lst_1km"].chunk({"time": 1}), 4).compute()  # no "no Client active"


# -- xlstsr.train: one front door for the arrays, the window cutter and fit (audit3 "Left") ---


def _train_arrays():
    lst = 300 + np.random.default_rng(0).normal(0, 2, (2, 8, 8)).astype("float32")
    return lst, np.repeat(np.repeat(lst, 4, 1), 4, 2)


@pytest.mark.parametrize("kw, err, match", [
    ({"patch": 0}, errors.XlstsrError, r"patch must be a whole number >= 1.*e\.g\. 64"),
    ({"patch": -8}, errors.XlstsrError, "patch must be a whole number"),
    ({"patch": 2.5}, errors.XlstsrError, "patch must be a whole number"),
    ({"patch": 8, "stride": 0}, errors.XlstsrError, "stride must be a whole number"),
    ({"patch": 64}, errors.GridError, r"larger than the fine images \(32 x 32.*lower `patch`"),
    ({"patch": 6}, errors.GridError, "multiples of factor 4.*e.g. patch=4"),
    ({"factor": 0}, errors.GridError, "factor must be a positive integer"),
    ({"lst_coarse": "2d"}, errors.GridError, r"\(n, h, w\).*`lst\[None\]`"),
    ({"lst_coarse": "4d"}, errors.GridError, r"\(n, h, w\).*got \(1, 2, 8, 8\)"),
    ({"guide": np.zeros((2, 1, 16, 16))}, errors.GridError, r"guide must have the shape.*32, 32"),
    ({"target": np.zeros((2, 16, 16))}, errors.GridError, r"target must have the shape.*32, 32"),
    ({"lst_coarse": "celsius"}, errors.PhysicalRangeError, r"not Kelvin.*Celsius.*273\.15"),
    ({"lst_coarse": "dn"}, errors.PhysicalRangeError, r"not Kelvin.*digital numbers.*0\.02"),
    ({"target": "celsius"}, errors.PhysicalRangeError, r"target values .* not Kelvin"),
    ({"lst_coarse": "complex"}, errors.InputTypeError, "complex128 values.*astype"),
    ({"lst_coarse": "nan"}, errors.AllNaNError, "no valid pixel"),
    ({"max_nan_fraction": 2}, errors.XlstsrError, r"max_nan_fraction .*<= 1"),
    ({"scene_ids": [1]}, errors.XlstsrError, "one id per step"),
])
def test_make_patches_checks_its_arrays_and_sizes_first(kw, err, match):
    lst, fine = _train_arrays()
    named = {"2d": lst[0], "4d": lst[None], "celsius": lst - 273.15, "dn": lst / 0.02,
             "complex": lst.astype(complex), "nan": lst * np.nan}
    args = {"lst_coarse": lst, "factor": 4, "patch": 8}
    for k, v in kw.items():
        args[k] = (fine - 273.15 if k == "target" else named[v]) if isinstance(v, str) else v
    with pytest.raises(err, match=match):
        xlstsr.train.make_patches(**args)


def test_training_pairs_check_factor_units_and_guide():
    lst, fine = _train_arrays()
    with pytest.raises(errors.GridError, match="factor"):
        xlstsr.train.degraded_pairs(fine, 0)
    with pytest.raises(errors.PhysicalRangeError, match="Celsius"):
        xlstsr.train.degraded_pairs(fine - 273.15, 4)
    with pytest.raises(errors.GridError, match="guide must have the shape"):
        xlstsr.train.degraded_pairs(fine, 4, np.zeros((2, 1, 8, 8)))
    with pytest.raises(errors.PhysicalRangeError, match="digital numbers"):
        xlstsr.train.target_scale_pairs(lst / 0.02, 4)
    with pytest.raises(errors.InputTypeError, match="Dataset"):
        xlstsr.train.make_patches(xr.Dataset({"LST": (("t", "y", "x"), lst)}), 4, patch=8)
    # valid shapes keep working: a 3-D guide is one band, a (n, 1, H, W) target one image
    ps = xlstsr.train.make_patches(lst, 4, guide=np.zeros((2, 32, 32)), target=fine[:, None],
                                   patch=8)
    assert tuple(ps.guide.shape[1:]) == (1, 8, 8) and tuple(ps.target.shape[1:]) == (1, 8, 8)


def test_window_samples_checks_the_cube_and_windows_first():
    cube = xr.DataArray(np.full((2, 8, 8), 300.0, "float32"), dims=("time", "y", "x"),
                        coords={"time": [1, 2]})
    ws = xlstsr.train.window_samples
    with pytest.raises(errors.InputTypeError, match=r"xr\.DataArray\(a, dims"):
        ws(cube.values, {"a": (0, 0)}, 4)
    with pytest.raises(errors.GridError, match=r"no 'time' dimension.*time_dim="):
        ws(cube.rename(time="t"), {"a": (0, 0)}, 4)
    with pytest.raises(errors.XlstsrError, match="size must be a whole number"):
        ws(cube, {"a": (0, 0)}, 0)
    with pytest.raises(errors.GridError, match="whole numbers >= 0"):
        ws(cube, {"a": (-1, 0)}, 4)
    with pytest.raises(errors.GridError, match=r"not inside the cube.*move it"):
        ws(cube, {"a": (6, 0)}, 4)
    with pytest.raises(errors.XlstsrError, match="min_valid"):
        ws(cube, {"a": (0, 0)}, 4, min_valid=2)
    assert list(ws(cube, {"a": (0, 0)}, 4).data_vars) == ["LST"]  # an unnamed DataArray works


@pytest.mark.parametrize("kw, match", [
    ({"lr": -1}, "lr must be a finite number > 0"), ({"lr": np.nan}, "lr must be"),
    ({"batch_size": 0}, "batch_size must be a whole number >= 1"),
    ({"epochs": 0}, "epochs must be a whole number >= 1"),
    ({"augmentation": "no"}, "augmentation must be True or False.*string is truthy"),
])
def test_fit_checks_its_settings_first(kw, match):
    from xlstsr.nn import ResCNN

    lst, _ = _train_arrays()
    ps = xlstsr.train.make_patches(**xlstsr.train.degraded_pairs(np.repeat(np.repeat(
        lst, 2, 1), 2, 2), 4), factor=4, patch=8)
    with pytest.raises(errors.XlstsrError, match=match):
        xlstsr.train.fit(ResCNN(4, channels=4, n_blocks=1), ps, **kw)
    with pytest.raises(errors.InputTypeError, match="cut numpy stacks into patches first"):
        xlstsr.train.fit(ResCNN(4, channels=4, n_blocks=1), lst)


# -- io: to_cogs checks everything before its first file; open_cog names other grids ----------


def test_to_cogs_refuses_before_writing_anything(s, tmp_path):
    from xlstsr.io import to_cogs

    lst = s["lst_1km"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(errors.XlstsrError, match=r"is a file, not a directory.*folder path"):
        to_cogs(lst, tmp_path / "file")
    with pytest.raises(errors.InputTypeError, match=r"got a Dataset.*ds\['LST'\]"):
        to_cogs(lst.to_dataset(name="LST"), tmp_path / "ds")
    with pytest.raises(errors.InputTypeError, match="got ndarray"):
        to_cogs(lst.values, tmp_path / "np")
    with pytest.raises(errors.XlstsrError, match=r"same file name.*assign_coords\(overpass="):
        to_cogs(lst.assign_coords(time=[lst.time.values[0]] * 2), tmp_path / "dup")
    with pytest.raises(errors.XlstsrError, match="prefix must be a file name prefix"):
        to_cogs(lst, tmp_path / "p", prefix="../../escape")
    with pytest.raises(errors.XlstsrError, match="overwrite must be True or False"):
        to_cogs(lst, tmp_path / "o", overwrite="no")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # nothing half-written
    # a step that fails while it is computed removes the files of the steps before it
    import dask.array as dsa

    data = dsa.from_array(lst.values, chunks=(1, -1, -1)).map_blocks(_fail, dtype=lst.dtype)
    bad = lst.copy(data=data)
    with pytest.raises(RuntimeError, match="disk full"):
        to_cogs(bad, tmp_path / "fail")
    assert list((tmp_path / "fail").iterdir()) == []


def _fail(block, block_info=None):
    if block_info is not None and block_info[0]["chunk-location"][0] == 1:
        raise RuntimeError("disk full")  # the second step fails, after the first was written
    return block


def test_open_cog_names_files_on_different_grids(s, tmp_path):
    from xlstsr.io import open_cog, to_cogs

    a = to_cogs(s["lst_1km"], tmp_path / "a")
    b = to_cogs(s["ndvi_250m"].expand_dims(time=[0]), tmp_path / "b")
    with pytest.raises(errors.XlstsrError, match=r"different grids: .*16 x 16 .*64 x 64.*"
                                                 r"reproject_match"):
        open_cog([a[0], b[0]])
    with pytest.raises(errors.XlstsrError, match=r"no band 3.*band="):
        open_cog(a[0], band=3)
    nc = tmp_path / "lst.nc"
    s["lst_1km"].to_netcdf(nc)
    with pytest.raises(errors.XlstsrError, match="open_dataset"):
        open_cog(nc)
    assert open_cog(a).shape == (2, 16, 16)


# -- the small ones: scale attributes, statistics and co-registration options, bool options ----


def test_scale_attributes_of_the_wrong_kind_are_named(s):
    lst = s["lst_1km"].compute()
    dn = (lst / 0.02).astype("uint16")
    dn.attrs.update(scale_factor="abc")
    with pytest.raises(errors.UnitsError, match=r"'scale_factor' attribute 'abc' is not a number"
                                                r".*0\.02"):
        xlstsr.upscale(dn, 4)
    stale = lst.copy()
    stale.attrs["valid_range"] = [7500, 65535]  # the DN range left on decoded Kelvin
    with pytest.raises(errors.UnitsError, match=r"valid_range.*above 400 K.*attrs\.pop"):
        xlstsr.upscale(stale, 4)
    dn = (lst / 0.02).astype("uint16")
    dn.attrs.update(scale_factor=0.02, valid_range=[7500, 65535])  # a real DN range still works
    assert float(xlstsr.upscale(dn, 4).mean()) == pytest.approx(float(lst.mean()), abs=0.05)


@pytest.mark.parametrize("kw, match", [
    ({"nbins": 2.5}, "nbins must be a whole number >= 2"), ({"nbins": 0}, "nbins"),
    ({"moments": [0]}, "each moment must be a whole number >= 1"),
    ({"moments": [-1]}, "moment"), ({"moments": 3}, "moments must be a sequence"),
    ({"min_valid": 2}, r"min_valid .*> 0 and <= 1"), ({"min_valid": -1}, "min_valid"),
    ({"fit_lags": (8, 1)}, "0 < low < high"), ({"fit_wavenumbers": (-1, 0.3)}, "0 < low < high"),
    ({"fit_lags": (100, 200)}, "holds 0 of the lags.*at least 2 points"),
    ({"fit_wavenumbers": (2, 3)}, "outside the spectrum"),
    ({"radiometric": "no"}, "radiometric must be True or False"),
])
def test_scaling_stats_options_out_of_range_are_named(s, kw, match):
    with pytest.raises(errors.XlstsrError, match=match):
        xlstsr.scaling_stats(s["lst_1km"], **kw)


@pytest.mark.parametrize("kw, match", [
    ({"min_pixels": "x"}, "min_pixels must be a whole number"), ({"min_pixels": 0}, "min_pixels"),
    ({"max_uncertainty": np.nan}, "max_uncertainty"), ({"min_correlation": 2}, "min_correlation"),
    ({"psf": "no"}, "psf must be True or False"),
])
def test_estimate_offset_more_options_are_named(s, kw, match):
    with pytest.raises(errors.XlstsrError, match=match):
        xlstsr.estimate_offset(s["lst_250m"].isel(time=0), s["lst_1km"].isel(time=0), **kw)


def test_estimate_offset_names_a_one_pixel_wide_lst(s):
    with pytest.raises(errors.GridError, match=r"16 x 1 pixels.*larger area"):
        xlstsr.estimate_offset(s["lst_250m"].isel(time=0), s["lst_1km"].isel(time=0, x=[0]))


def test_truthy_strings_for_bool_options_are_refused(s, sr):
    with pytest.raises(errors.XlstsrError, match=r"clear must be True or False.*truthy"):
        xlstsr.evaluate(sr, s["lst_250m"], clear="no")
    with pytest.raises(errors.XlstsrError, match="mask_out_of_range must be True or False"):
        xlstsr.upscale(s["lst_1km"], 4, mask_out_of_range="no")
    with pytest.raises(errors.XlstsrError, match="keep_attrs must be True or False"):
        xlstsr.upscale(s["lst_1km"], 4, keep_attrs="False")
    assert xlstsr.evaluate(sr, s["lst_250m"], clear=np.bool_(True)) is not None


# -- valid inputs the new checks must keep taking (review of round 3) --------------------------

@pytest.mark.parametrize("value, expected", [(16, 16), (16.0, 16), (np.int64(16), 16),
                                             (np.float32(16), 16), (np.array(16), 16)])
def test_whole_numbers_in_any_numeric_form_pass(value, expected):
    from xlstsr.validate import check_whole

    assert check_whole("patch", value) == expected


def test_numpy_scalars_and_zero_d_arrays_pass_the_option_checks(s, sr):
    from xlstsr.validate import check_bool, check_number

    assert check_number("valid_min", np.array(230.0)) == 230.0
    assert check_bool("keep_attrs", 1) is True and check_bool("clear", np.array(False)) is False
    with pytest.raises(errors.XlstsrError, match="True or False"):
        check_bool("clear", 2)
    ev = xlstsr.evaluate(sr, s["lst_250m"], valid_min=np.array(230.0))
    assert np.isfinite(float(ev.rmse.mean()))
    out = xlstsr.upscale(s["lst_1km"], 4, keep_attrs=1)
    assert out.sizes["x"] == 4 * s["lst_1km"].sizes["x"]
    st = xlstsr.scaling_stats(s["lst_250m"].isel(time=0), moments=(1.0, 2.0))
    assert st.sizes["moment"] == 2


def test_a_wholly_cloudy_granule_decodes_to_nan_not_a_units_error():
    """Every pixel at the fill value with a stored-count valid_range: all fill, not other units."""
    from xlstsr.validate import decode_guide, decode_lst

    raw = xr.DataArray(np.zeros((2, 4, 4), np.uint16), dims=("time", "y", "x"),
                       attrs={"_FillValue": 0, "valid_range": (7500, 65535),
                              "scale_factor": 0.02})
    assert np.isnan(decode_lst(raw).values).all()
    ndvi = xr.DataArray(np.full((8, 8), -3000, np.int16), dims=("y", "x"),
                        attrs={"_FillValue": -3000, "valid_range": (-2000, 10000),
                               "scale_factor": 0.0001})
    assert np.isnan(decode_guide(ndvi).values).all()


# -- after round 3: NDVI beyond [-1, 1]; text time labels against dates ----------------------


@pytest.mark.parametrize("method", ["tsharp", "dms", "disr"])
def test_an_ndvi_guide_beyond_minus_one_one_is_refused(s, method):
    """NDVI x 3 (up to ~2.7) sat inside the disr scale tolerance and was fitted by TsHARP/DMS."""
    bad = s["ndvi_250m"] * 3
    with pytest.raises(errors.GuideScaleError,
                       match=r"declared as NDVI \(its name 'ndvi_250m'\).*outside \[-1.05, 1.05\]"
                             r".*range -0.45 to 2.8.*NDVI lies in \[-1, 1\].*scale_factor 0.0001"
                             r".*If the band is not NDVI"):
        xlstsr.upscale(s["lst_1km"], 4, guide=bad, method=method)
    # lazy: refused when the result is computed
    lazy = xlstsr.upscale(s["lst_1km"].chunk(8), 4, guide=bad.chunk(32), method=method,
                          guide_offset="ignore")
    with pytest.raises(errors.GuideScaleError, match="declared as NDVI"):
        lazy.compute()


def test_ndvi_is_declared_by_name_label_or_long_name_other_bands_may_exceed_one(s):
    lst, ndvi = s["lst_1km"], s["ndvi_250m"]
    band = (ndvi * 3).rename("red")
    band.attrs = {}
    assert xlstsr.upscale(lst, 4, guide=band, method="dms").sizes["x"] == 64  # accepted
    assert xlstsr.upscale(lst, 4, guide={"red": band, "ndvi": ndvi}, method="dms").sizes["x"] == 64
    with pytest.raises(errors.GuideScaleError, match=r"channel 1 is declared as NDVI \(its band label 'ndvi'"):
        xlstsr.upscale(lst, 4, guide={"red": ndvi, "ndvi": band}, method="tsharp")
    named = band.assign_attrs(long_name="MODIS NDVI")
    with pytest.raises(errors.GuideScaleError, match="its long_name 'MODIS NDVI'"):
        xlstsr.upscale(lst, 4, guide=named, method="tsharp")
    with pytest.raises(errors.GuideScaleError, match="NDVI in percent"):
        xlstsr.upscale(lst, 4, guide=ndvi * 100, method="tsharp")


def test_the_real_modis_ndvi_stays_inside_the_ndvi_range(shared_data):
    """The rule never trips on real NDVI: the 55 MODIS/ASTER pairs' decoded NDVI."""
    from xlstsr.guide import NDVI_LIMIT, NDVI_MAX_OUTSIDE
    from xlstsr.validate import decode_guide

    files = sorted((shared_data / "modis_aster").glob("*_modis_ndvi_250m.tif"))
    assert files
    for f in files:
        v = decode_guide(rioxarray.open_rasterio(f, mask_and_scale=True)).values
        v = v[np.isfinite(v)]
        assert (np.abs(v) > NDVI_LIMIT).mean() <= NDVI_MAX_OUTSIDE / 10, f.name


@pytest.mark.parametrize("side", ["lst", "guide"])
def test_text_time_labels_against_dates_name_both_kinds_and_the_fix(s, side):
    lst = s["lst_1km"]
    g = s["ndvi_250m"].expand_dims(time=lst.time.values)
    text = [str(t)[:10] for t in lst.time.values]
    if side == "lst":
        lst = lst.assign_coords(time=text)
    else:
        g = g.assign_coords(time=text)
    kinds = r"LST's 'time' labels are text .*guide's are dates" if side == "lst" else \
        r"LST's 'time' labels are dates .*guide's are text"
    with pytest.raises(errors.GuideTimeError,
                       match=kinds + rf".*never match.*`{side}\['time'\] = pd.to_datetime\({side}\['time'\]\)`"):
        xlstsr.upscale(lst, 4, guide=g, method="tsharp")
