"""Tenth round of bad inputs (session 16): stores given as objects, calibrations, resumes,
STAC and COG stacks, non-LST layers, offsets of another CRS.

Each case lost data, gave a silent wrong result or a message whose fix did not work before.
"""

import re
import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr import errors


@pytest.fixture(scope="module")
def scene():
    return xlstsr.datasets.sample_scene(n_times=3, size=64, cloud_fraction=0.0)


def test_a_store_object_over_the_input_is_refused(scene, tmp_path):
    """upscale_to_zarr(lazy, zarr.storage.LocalStore(<the input's store>), mode='w') deleted
    the input before reading it (the path form was refused), then blamed the input."""
    import zarr

    inp = tmp_path / "cube.zarr"
    scene["lst_1km"].to_dataset().to_zarr(inp, zarr_format=3, consolidated=False)
    lazy = xr.open_zarr(inp, consolidated=False, decode_coords="all")["lst_1km"]
    n = int(np.isfinite(lazy.values).sum())
    with pytest.raises(errors.XlstsrError, match="is the source being read"):
        xlstsr.upscale_to_zarr(lazy, zarr.storage.LocalStore(inp), mode="w", progress=False)
    with pytest.raises(errors.XlstsrError, match="is the source being read"):
        xlstsr.upscale_to_zarr(lazy, f"file://{inp}", mode="w", progress=False)
    back = xr.open_zarr(inp, consolidated=False)["lst_1km"]
    assert int(np.isfinite(back.values).sum()) == n  # nothing lost


def test_calibration_ndvi_keeps_every_pixel_and_date(scene):
    """An NDVI on the sr grid to round-off (1e-9 m) kept 50 x 37 of 64 x 64 pixels (xarray's
    exact-label join); an NDVI of 2 of 3 dates dropped the third, silently."""
    from xlstsr.calibration import apply_calibration

    sr = xlstsr.upscale(scene["lst_1km"], 4, "bicubic")
    ndvi = scene["ndvi_250m"]
    ndvi = ndvi.assign_coords(y=sr.y.values + 1e-9, x=sr.x.values - 1e-9)
    out = apply_calibration(sr, {"slope": 1.0, "offset": 0.5, "ndvi": -2.0}, ndvi=ndvi)
    assert out.sizes == sr.sizes
    np.testing.assert_allclose(out.values, sr.values + 0.5 - 2.0 * ndvi.values[None], atol=1e-3)
    two = xr.concat([ndvi] * 2, "time").assign_coords(time=sr.time.values[:2])
    # (the per-date advice since session 45: which date lacks one, and how to keep the others)
    with pytest.raises(errors.GridError, match=r"no ndvi step of that da(te|y)"):
        apply_calibration(sr, {"offset": 0.5, "ndvi": -2.0}, ndvi=two)


@pytest.mark.parametrize("lazy", [False, True])
def test_a_calibrated_field_no_surface_takes_is_refused(scene, lazy):
    """calibration={'offset': 273.15} gave 566-589 K 'calibrated to ASTER'; on dask, an LST in
    Celsius or digital numbers went through apply_calibration unchecked."""
    from xlstsr.calibration import apply_calibration

    lst = scene["lst_1km"].chunk({"time": 1}) if lazy else scene["lst_1km"]
    with pytest.raises(errors.ImplausibleOutputError, match=r"reaches 5\d\d.*offset=273\.15"):
        xlstsr.upscale(lst, 4, "bicubic", calibration={"offset": 273.15}).compute()
    celsius = (scene["lst_1km"] - 273.15).assign_attrs(units="K")
    if lazy:
        celsius = celsius.chunk({"time": 1})
        out = apply_calibration(celsius, {"offset": 0.5})  # lazy: raised when computed
        with pytest.raises(errors.ImplausibleOutputError, match="not in Kelvin"):
            out.compute()
    ok = apply_calibration(scene["lst_1km"], {"slope": 1.02, "offset": -5.0})
    assert float(ok.max()) < 400


def test_an_ndvi_term_calibration_in_upscale_names_the_way(scene):
    """upscale(..., calibration=<with an NDVI term>) said `pass ndvi=`, an argument upscale
    does not take (then a MethodOptionError)."""
    with pytest.raises(errors.XlstsrError, match=r"apply_calibration\(upscale\(\.\.\.\), "
                       r"calibration, ndvi="):
        xlstsr.upscale(scene["lst_1km"], 4, "bicubic",
                       calibration={"offset": 0.5, "ndvi": -2.0})


def test_resume_with_other_method_options_is_refused(scene, tmp_path):
    """A custom method whose describe() leaves out an option resumed a run with another value
    of it: two settings in one 'complete' store."""
    from xlstsr.methods import get_method

    store = tmp_path / "o.zarr"
    lst = scene["lst_1km"].chunk({"time": 1})
    xlstsr.upscale_to_zarr(lst, store, method="bicubic", progress=False)
    import json

    import zarr

    recorded = json.loads(zarr.open_group(store, mode="r").attrs["xlstsr_arguments"])
    assert "given_method_options" not in recorded  # none given: older stores still resume
    m = get_method("sisr")
    store2 = tmp_path / "s.zarr"
    xlstsr.upscale_to_zarr(lst.isel(time=[0]), store2, method=m.name,
                           method_options={"conserve": False}, progress=False)
    with pytest.raises(errors.XlstsrError, match=r"differ in.*conserve"):
        xlstsr.upscale_to_zarr(lst.isel(time=[0]), store2, method=m.name,
                               method_options={"conserve": True}, mode="resume", progress=False)
    # a runtime setting (a smaller batch after running out of memory) resumes
    xlstsr.upscale_to_zarr(lst.isel(time=[0]), store2, method=m.name,
                           method_options={"conserve": False, "batch_size": 2},
                           mode="resume", progress=False)


def test_stac_crs_in_other_units_needs_a_resolution(shared_data):
    """crs='EPSG:4326' without resolution= read the items' 926.6 m pixel as 926.6 degrees: one
    all-NaN pixel per date, silently."""
    import pystac

    from xlstsr.io import open_stac

    cat = pystac.Catalog.from_file(shared_data / "modis_h18v04_2020" / "catalog.json")
    items = [i for i in cat.get_items(recursive=True)
             if i.collection_id.startswith("modis-11A1")][:2]
    with pytest.raises(errors.XlstsrError, match=r"degrees.*resolution=0\.01"):
        open_stac(items, "LST_Day_1km", crs="EPSG:4326", bbox=(13.0, 49.2, 13.5, 49.6))


def test_cog_files_of_other_codings_are_not_stacked(tmp_path):
    """A file of scale 0.01 after one of 0.02 was decoded with the first's scale (2x too hot),
    and the range error then advised a scale that broke the first date."""
    import rioxarray  # noqa: F401

    from xlstsr.io import open_cog

    y = 4e6 - (np.arange(8) + 0.5) * 1000.0
    x = (np.arange(8) + 0.5) * 1000.0
    kelvin = 290 + np.random.default_rng(0).random((8, 8))
    files = []
    for i, (scale, fill) in enumerate(((0.02, 0), (0.01, 65535))):
        dn = xr.DataArray(np.round(kelvin / scale).astype("uint16"), dims=("y", "x"),
                          coords={"y": y, "x": x}, attrs={"scale_factor": scale,
                                                          "add_offset": 0.0, "units": "K"})
        dn = dn.rio.write_crs("EPSG:32631").rio.write_nodata(fill)
        files.append(tmp_path / f"d{i}.tif")
        dn.rio.to_raster(files[-1])
    with pytest.raises(errors.XlstsrError, match=r"stored differently.*scale_factor 0\.02 there, "
                       r"0\.01 here"):
        open_cog(files, times=["2020-01-01", "2020-01-02"])
    same = open_cog([files[0], files[0]], times=["2020-01-01", "2020-01-02"])
    assert same.sizes["time"] == 2


@pytest.mark.parametrize("name", ["Band 31 emissivity", "day clear-sky coverage"])
def test_a_layer_that_is_no_temperature_is_named(scene, name):
    """MOD11A1's emissivity (values near 1) 'looked like degrees Celsius'; following the advice
    (units='degC') gave a 274 K 'LST'."""
    other = xr.full_like(scene["lst_1km"], 0.98)
    other.attrs = {"long_name": name}  # as open_modis labels the layer
    with pytest.raises(errors.UnitsError, match=re.escape(name) + r".*not a land surface "
                       r"temperature.*LST_Day_1km"):
        xlstsr.upscale(other, 4)
    with pytest.raises(errors.UnitsError, match="not a land surface temperature"):
        xlstsr.upscale(other.assign_attrs(units="degC"), 4)
    # an LST labelled as such passes
    xlstsr.upscale(scene["lst_1km"].assign_attrs(long_name="Daytime LST"), 4)


def test_an_offset_of_another_crs_is_converted(scene):
    """An offset estimated against the LST reprojected to EPSG:4326 (shifts in degrees) was
    applied as metres: nothing moved, and the scores reported a co-registration. Refused since
    session 10; since session 40 an estimate recording its CRS is converted from it."""
    from xlstsr.coregister import apply_offset

    lst, fine = scene["lst_1km"], scene["lst_250m"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = xlstsr.estimate_offset(fine, lst.rio.reproject("EPSG:4326"), errors="ignore")
        est["shift_y"] = est["shift_y"] * 0 + 0.002  # a known shift, in degrees of latitude
        est["shift_x"] = est["shift_x"] * 0
        moved = apply_offset(fine, est, lst.rio.crs)
    dy = float(moved.y[0] - fine.y[0])
    assert 0.002 * 110e3 < dy < 0.002 * 112e3  # metres north, not 0.002 m
    sr = xlstsr.upscale(lst, 4, "bicubic")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isfinite(xlstsr.evaluate(sr, fine, coarse=lst, coregister=est).rmse).all()
    ok = xlstsr.estimate_offset(fine, lst)
    assert np.isfinite(xlstsr.evaluate(sr, fine, coarse=lst, coregister=ok).rmse).all()


def test_scaling_command_line_names_its_own_flags(scene, tmp_path, capsys):
    """`xlstsr scaling --units degC` on a Kelvin file advised `--mask-out-of-range`, a flag the
    command does not have."""
    from xlstsr.cli import main

    f = tmp_path / "lst.tif"
    scene["lst_1km"].isel(time=0).rio.to_raster(f)
    assert main(["scaling", str(f), str(tmp_path / "o.csv"), "--units", "degC"]) == 2
    err = capsys.readouterr().err
    # every flag named is one of the command's (--mask-out-of-range is, since session 28)
    import re

    from xlstsr.cli import build_parser

    flags = set(build_parser()._subparsers._group_actions[0].choices["scaling"]
                ._option_string_actions)
    assert set(re.findall(r"--[a-z][a-z-]+", err)) <= flags
    assert "`--units K`" in err


def test_scale_correction_of_nearest_is_refused(scene):
    """'law' on nearest amplified its block edges: 18.6 K changes, RMSE 2.29 -> 3.83 K."""
    with pytest.raises(errors.XlstsrError, match="'nearest' adds none"):
        xlstsr.upscale(scene["lst_1km"], 4, "nearest", scale_correction="law")
    xlstsr.upscale(scene["lst_1km"], 4, "nearest", scale_correction="auto")


def test_a_fixed_detail_gain_is_continuous_at_one(scene):
    """A fixed gain of 1 returned sisr's output as it was, 1 + 1e-9 a coarse-consistent one:
    0.97 K apart (bicubic 1.74 K), so a calibrated gain near 1 jumped."""
    lst = scene["lst_1km"]
    with pytest.raises(errors.XlstsrError, match="'bicubic' adds none"):  # (round 14: edges)
        xlstsr.upscale(lst, 4, "bicubic", scale_correction=1.0)
    for method in ("sisr",):
        one = xlstsr.upscale(lst, 4, method, scale_correction=1.0)
        near = xlstsr.upscale(lst, 4, method, scale_correction=1.0 + 1e-6)
        assert float(abs(one - near).max()) < 1e-3
        cons = float(abs(xlstsr.coarsen(one, 4) - lst).max())
        assert cons < 0.02, cons  # made coarse-consistent at 1 too


def test_spectral_ratio_cut_off_stays_physical_on_a_reference_of_other_pixels():
    """Against a reference 1.43x finer, the band's cut-off was taken in the reference's pixels
    (0.89 cycles/km for 0.625): a perfect sr read 0.70 where the right band reads 0.79."""
    from xlstsr.datasets import sample_scene

    truth = sample_scene(n_times=1, size=128, cloud_fraction=0.0)["lst_250m"].isel(time=0)
    sr = xlstsr.coarsen(truth, 2)  # a "perfect" product at twice the truth's pixel
    same = xlstsr.evaluate(sr, xlstsr.coarsen(truth, 2), factor=4)
    assert same.attrs["resampling"].startswith("none")
    fine = xlstsr.evaluate(sr, truth, factor=4)  # 2x finer reference (warned)
    assert fine.attrs["resampling"].startswith("sr reprojected")
    # the cut-off at half the coarse Nyquist in physical units: on the reference's grid, with
    # factor 4 x 2 in its pixels
    from xlstsr.kernels.spectra import spectral_ratio

    sr_on = sr.rio.reproject_match(truth, resampling=__import__("rasterio").enums.Resampling.bilinear)
    expect = spectral_ratio(sr_on.values, truth.values, 8)
    assert float(fine.spectral_ratio) == pytest.approx(float(expect), rel=1e-6)


def test_store_objects_and_units_of_the_session_checks(scene, tmp_path):
    """Reviewed: a DataArray's 'path' attribute is no store; an offset applied in the same CRS
    written another way is accepted; files of one coding with other fills (each masked) stack;
    a reference in US feet is compared in metres."""
    from xlstsr.io import open_cog
    from xlstsr.io.zarr import local_path

    assert local_path(xr.DataArray([1.0], attrs={"path": "in.tif"})) is None
    lst, fine = scene["lst_1km"], scene["lst_250m"]
    est = xlstsr.estimate_offset(fine, lst)
    from xlstsr.coregister import apply_offset

    wkt = lst.rio.crs.to_proj4()  # the same sinusoidal CRS as a PROJ string
    assert apply_offset(fine, est, wkt).shape == fine.shape
    a, b = tmp_path / "a.tif", tmp_path / "b.tif"
    lst.isel(time=0).rio.write_nodata(-9999.0).rio.to_raster(a)
    lst.isel(time=1).rio.to_raster(b)
    assert open_cog([a, b], times=["2020-07-01", "2020-07-02"]).sizes["time"] == 2
    feet = fine.isel(time=0).rio.reproject(
        "+proj=tmerc +lat_0=0 +lon_0=15 +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=us-ft",
        resolution=231.65 / 0.3048006)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev = xlstsr.evaluate(xlstsr.upscale(lst.isel(time=0), 4, "bicubic"), feet)
    assert np.isfinite(float(ev.rmse))
