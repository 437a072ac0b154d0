"""Thirteenth round of bad inputs (session 17): resumes and stores, time labels of COG series,
the science functions on constant or lon/lat fields, training without validation.

Each case lost data, gave a silently wrong number or label, or refused a valid input.
"""

import pickle
import warnings

import cftime
import numpy as np
import pytest
import rioxarray  # noqa: F401
import xarray as xr
import zarr

import xlstsr
from xlstsr import errors
from xlstsr.calibration import apply_calibration, fit_calibration
from xlstsr.io import open_cog, to_cogs


@pytest.fixture(scope="module")
def scene():
    return xlstsr.datasets.sample_scene(n_times=4, size=256, cloud_fraction=0.1)


def _lonlat(values, res=0.0025, lat=45.5):
    n = values.shape[-1]
    return xr.DataArray(values, dims=("y", "x"), attrs={"units": "K"}, coords={
        "y": lat - (np.arange(n) + 0.5) * res, "x": 5.0 + (np.arange(n) + 0.5) * res,
    }).rio.write_crs("EPSG:4326")


def _interrupt(store, regions):
    """A store as an interrupted run leaves it: regions unmarked, their chunks unwritten."""
    done = zarr.open_array(store, path="xlstsr_progress/done", mode="r+")
    for i in regions:
        done[i] = 0
    zarr.open_group(store, mode="r+").attrs["xlstsr_status"] = "incomplete: interrupted"


# -- stores and resumes ----------------------------------------------------------------------

def test_a_resume_with_other_input_chunks_writes_whole_store_chunks(scene, tmp_path):
    """Tiles of the reopened input wrote parts of one Zarr chunk at once: 143 000 of 225 000
    pixels lost in a store then marked complete."""
    import dask

    lst = scene["lst_1km"]
    store = str(tmp_path / "sr.zarr")
    xlstsr.upscale_to_zarr(lst.chunk({"time": 1}), store, 4, time_chunk=1, progress=False)
    expected = xr.open_zarr(store, consolidated=False)["lst_1km"].values
    _interrupt(store, [1, 2, 3])
    zarr.open_array(store, path="lst_1km", mode="r+")[1:] = np.nan
    with dask.config.set(scheduler="threads", num_workers=8):
        out = xlstsr.upscale_to_zarr(lst.chunk({"time": 1, "y": 5, "x": 5}), store, 4,
                                     time_chunk=1, mode="resume", progress=False)
    np.testing.assert_array_equal(out.values, expected)
    assert zarr.open_group(store).attrs["xlstsr_status"] == "complete"


def test_an_array_inside_a_store_is_no_store(scene, tmp_path):
    """mode='w' on 'cube.zarr/lst' deleted the user's variable and nested a group there."""
    cube = tmp_path / "cube.zarr"
    rng = np.random.default_rng(0)
    xr.Dataset({"ndvi": (("y", "x"), rng.random((8, 8))),
                "lst": (("y", "x"), 300 + rng.random((8, 8)))}).to_zarr(
        cube, zarr_format=3, consolidated=False)
    with pytest.raises(errors.XlstsrError, match=r"is an array .* of the Zarr store"):
        xlstsr.upscale_to_zarr(scene["lst_1km"], str(cube / "lst"), 4, mode="w", progress=False)
    assert sorted(xr.open_zarr(cube, consolidated=False).data_vars) == ["lst", "ndvi"]


@pytest.mark.parametrize("kind", ["cftime", "object coordinate"])
def test_the_same_input_with_object_coordinates_resumes(scene, tmp_path, kind):
    """Object coordinates were fingerprinted by their addresses: a reopened cube was refused."""
    base = scene["lst_1km"].isel(time=slice(0, 3))

    def reopened():
        if kind == "cftime":
            return base.assign_coords(time=[cftime.DatetimeNoLeap(2020, 7, d) for d in (1, 2, 3)])
        names = np.array([f"MOD11A1.A20201{83 + i}.hdf" for i in range(3)], dtype=object)
        return base.assign_coords(granule=("time", names))

    store = str(tmp_path / "sr.zarr")
    xlstsr.upscale_to_zarr(reopened(), store, 4, time_chunk=1, progress=False)
    _interrupt(store, [2])
    xlstsr.upscale_to_zarr(reopened(), store, 4, mode="resume", progress=False)
    assert zarr.open_group(store).attrs["xlstsr_status"] == "complete"
    other = reopened().assign_coords(time=[cftime.DatetimeNoLeap(2020, 8, d) for d in (1, 2, 3)]
                                     ) if kind == "cftime" else reopened().assign_coords(
        granule=("time", np.array(["a", "b", "c"], dtype=object)))
    _interrupt(store, [2])
    with pytest.raises(errors.XlstsrError, match="differ in"):  # other labels: still refused
        xlstsr.upscale_to_zarr(other, store, 4, mode="resume", progress=False)


def test_zarr_chunks_follow_the_largest_input_chunk_not_a_first_sliver(scene, tmp_path):
    lst = scene["lst_1km"].isel(time=slice(0, 2)).chunk({"time": 1, "y": 32, "x": 32})
    sub = lst.isel(y=slice(30, 64), x=slice(29, 64))  # chunks (2, 32) and (3, 32)
    store = str(tmp_path / "sr.zarr")
    out = xlstsr.upscale_to_zarr(sub, store, 4, progress=False)
    assert zarr.open_array(store, path="lst_1km").chunks == (1, 128, 128)
    np.testing.assert_allclose(out.values, xlstsr.upscale(sub.compute(), 4).values, atol=1e-4)


def test_a_lazy_result_pickles_with_the_standard_pickle(scene):
    lazy = scene["lst_1km"].isel(time=slice(0, 2)).chunk({"time": 1}).lstsr.upscale(4)
    back = pickle.loads(pickle.dumps(lazy))
    np.testing.assert_array_equal(back.values, lazy.values)


def test_cog_series_keep_labels_that_are_no_dates(scene, tmp_path):
    """'day'/'night' and 2020183 were written nowhere (files _00000, read back as 0, 1); date
    strings had no tag."""
    sr = scene["lst_1km"].isel(time=slice(0, 2), y=slice(0, 16), x=slice(0, 16))
    for labels, names in ((["day", "night"], ["lst_1km_day.tif", "lst_1km_night.tif"]),
                          ([2020183, 2020184], ["lst_1km_2020183.tif", "lst_1km_2020184.tif"]),
                          (["2020-07-01", "2020-07-02"], None)):
        folder = tmp_path / str(labels[0])
        paths = to_cogs(sr.assign_coords(time=labels), folder)
        if names:
            assert [p.name for p in paths] == names
        back = open_cog(paths)["time"].values
        if names:
            assert list(back) == labels
        else:
            assert back.dtype.kind == "M" and str(back[0])[:10] == "2020-07-01"
        assert "time_label" not in open_cog(paths[0]).attrs  # read, not left as an attribute


# -- science functions --------------------------------------------------------------------------

def test_an_ndvi_term_needs_ndvi_that_varies():
    """A constant NDVI gave an offset of -77 K and +131 K per NDVI unit: -64 K at NDVI 0.1."""
    rng = np.random.default_rng(0)
    t = 290 + 10 * rng.random((40, 40))
    truth = t + 1.5 + 0.3 * rng.standard_normal(t.shape)
    with pytest.raises(errors.XlstsrError, match="do not determine an NDVI term"):
        fit_calibration(t, truth, np.full(t.shape, 0.6))
    with pytest.raises(errors.XlstsrError, match="do not determine an NDVI term"):
        fit_calibration(t, truth, 0.6 + 0.001 * rng.random(t.shape))  # was -2.8 K per unit
    # a narrow but real spread over many pixels determines the term: fitted, not refused
    big = 290 + 10 * rng.random((100, 100))
    narrow = 0.6 + 0.015 * rng.standard_normal(big.shape)
    cal = fit_calibration(big, big + 1.5 - 25 * (narrow - 0.6)
                          + 0.5 * rng.standard_normal(big.shape), narrow)
    assert abs(cal.ndvi + 25) < 1.5
    ndvi = 0.2 + 0.6 * rng.random(t.shape)  # varied vegetation: the term is fitted, near 0
    cal = fit_calibration(t, truth + 0.0 * ndvi, ndvi)
    assert abs(cal.ndvi) < 0.5 and abs(cal.offset - 1.5) < 0.6
    sr = xr.DataArray(t, dims=("y", "x"), attrs={"units": "K"}, coords={
        "y": np.arange(40.0)[::-1] * 250, "x": np.arange(40.0) * 250}).rio.write_crs("EPSG:32631")
    assert abs(float((apply_calibration(sr, cal, ndvi=sr * 0 + 0.1) - sr).mean()) - 1.5) < 0.5


@pytest.mark.parametrize("method", ["tsharp", "dms"])
def test_an_image_sharpened_without_its_guide_is_said(scene, method):
    """Below min_samples an image is upscaled without the guide, labelled as the method."""
    s = xlstsr.datasets.sample_scene(n_times=1, size=24, cloud_fraction=0)
    lst = s["lst_1km"].copy()
    lst[0, :2, :4] = np.nan  # 28 clear coarse pixels
    if method == "tsharp":
        lst[0, :5, :] = np.nan  # 6 clear coarse pixels, below tsharp's 10
    with pytest.warns(UserWarning, match=rf"method '{method}': 1 of 1 image\(s\) had too few"):
        xlstsr.upscale(lst, 4, method=method, guide=s["ndvi_250m"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # enough pixels: no word
        xlstsr.upscale(scene["lst_1km"].isel(time=[0]).fillna(300.0), 4, method=method,
                       guide=scene["ndvi_250m"])


def test_spectral_ratio_against_a_reference_without_detail_is_nan(scene):
    sr = scene["lst_250m"].isel(time=0)
    flat = sr * 0 + 300.0
    with pytest.warns(UserWarning, match="spectral ratios are undefined"):
        m = xlstsr.evaluate(sr, flat, factor=4)
    assert np.isnan(float(m["spectral_ratio"])) and np.isnan(float(m["spectral_ratio_sym"]))
    ok = xlstsr.evaluate(sr, sr + 0.01 * np.sin(np.arange(sr.sizes["x"])), factor=4)
    assert np.isfinite(float(ok["spectral_ratio"]))  # a faint but real detail keeps its ratio


def test_each_spectral_ratio_keeps_its_own_long_name(scene):
    sr = scene["lst_250m"].isel(time=0)
    m = xlstsr.evaluate(sr, sr + 0.5, factor=4)
    assert m["spectral_ratio"].attrs["long_name"] != m["spectral_ratio_sym"].attrs["long_name"]


def test_offsets_on_lon_lat_grids_are_labelled_in_degrees():
    """A 230 m offset on EPSG:4326 read '-0.003 m'."""
    from scipy import ndimage

    rng = np.random.default_rng(0)
    fine = _lonlat(290 + ndimage.gaussian_filter(rng.standard_normal((128, 128)), 3) * 30)
    lst = xlstsr.coarsen(fine, 4)
    shifted = fine.assign_coords(x=fine.x + 0.003).rio.write_crs("EPSG:4326")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = xlstsr.estimate_offset(shifted, lst)
    assert est["shift_x"].attrs["units"] == "degree" and est["psf_sigma"].attrs["units"] == "degree"
    assert abs(float(est["shift_x"]) + 0.003) < 0.001
    metric = xlstsr.estimate_offset(*(a.rio.reproject("EPSG:32631") for a in (fine, lst)))
    assert metric["shift_x"].attrs["units"] == "m"


def test_the_modis_psf_preset_is_converted_on_lon_lat_grids():
    """psf='modis' read as 350 degrees on a lon/lat grid, refused by a message advising it."""
    rng = np.random.default_rng(0)
    lst = _lonlat(290 + 3 * rng.standard_normal((64, 64)))
    out = xlstsr.coarsen(lst, 4, psf="modis")
    assert out.shape == (16, 16) and "psf_sigma_m=350" in out.attrs["xlstsr_degradation"]
    box = xlstsr.coarsen(lst, 4)
    # blurred: a smaller spread than the box average, not a field blurred into one value
    assert 0.3 < float(out.std() / box.std()) < 1.0
    with pytest.raises(errors.XlstsrError, match="degrees on a lon/lat one"):
        xlstsr.coarsen(lst, 4, psf=350)  # a number stays in the CRS's units


def test_coarsen_with_a_psf_on_chunks_narrower_than_its_halo():
    """dask's 'adjust_chunks specified with 4 blocks' came out of chunks of 32 for a halo of 40."""
    rng = np.random.default_rng(0)
    n = 128
    lst = xr.DataArray(300 + 3 * rng.standard_normal((n, n)), dims=("y", "x"), attrs={"units": "K"},
                       coords={"y": 1e5 - (np.arange(n) + 0.5) * 100,
                               "x": (np.arange(n) + 0.5) * 100}).rio.write_crs("EPSG:32631")
    ref = xlstsr.coarsen(lst, 8, psf=1000)
    lazy = xlstsr.coarsen(lst.chunk({"y": 32, "x": 32}), 8, psf=1000)
    np.testing.assert_allclose(lazy.values, ref.values, atol=1e-9)
    one = xlstsr.coarsen(lst.chunk({"y": 32, "x": -1}), 8, psf=1000)  # one chunk along x
    np.testing.assert_allclose(one.values, ref.values, atol=1e-9)


def test_a_lazy_emissivity_is_checked_as_its_blocks_are_read():
    rng = np.random.default_rng(1)
    n = 32
    lst = xr.DataArray(300 + 5 * rng.standard_normal((n, n)), dims=("y", "x"), attrs={"units": "K"},
                       coords={"y": 5e5 - (np.arange(n) + 0.5) * 250,
                               "x": 4e5 + (np.arange(n) + 0.5) * 250}).rio.write_crs("EPSG:32631")
    eps = xr.full_like(lst, 0.97)
    eps[:4, :2] = -0.97  # gave an infinite coarse LST
    lazy = xlstsr.coarsen(lst.chunk({"y": 16}), 4, emissivity=eps.chunk({"y": 16}))
    with pytest.raises(errors.XlstsrError, match=r"emissivity values from -0\.97"):
        lazy.compute()
    good = xlstsr.coarsen(lst.chunk({"y": 16}), 4, emissivity=(eps * 0 + 0.97).chunk({"y": 16}))
    np.testing.assert_allclose(good.values, xlstsr.coarsen(lst, 4).values, atol=1e-9)


def test_scaling_stats_of_constant_steps_and_guides(scene):
    lst, nd = scene["lst_1km"].isel(time=[0, 1]).fillna(300.0), scene["ndvi_250m"]
    cube = xr.concat([lst.isel(time=[0]), lst.isel(time=[1]) * 0 + 300], "time")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        st = cube.lstsr.scaling_stats()
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
    label = np.datetime_as_string(cube.time.values[1], unit="s").removesuffix("T00:00:00")
    assert any(f"steps time={label} of the field are constant" in str(w.message)
               for w in caught)
    assert st["within_block_exponent"].isel(time=1).isnull() and np.isfinite(
        st["within_block_exponent"].isel(time=0))
    with pytest.warns(UserWarning, match="the guide is constant"):
        st = lst.isel(time=[0]).lstsr.scaling_stats(guide=nd * 0 - 0.2)
    assert st["guide_within_block_exponent"].isnull().all()


# -- training ----------------------------------------------------------------------------------

def test_val_loss_is_nan_without_validation_and_a_constant_cube_is_refused():
    from xlstsr.nn import ResCNN
    from xlstsr.train import CubeDataModule, fit

    rng = np.random.default_rng(0)
    cube = xr.DataArray(300 + rng.normal(0, 2, (3, 32, 32)), dims=("time", "y", "x"),
                        attrs={"units": "K"})
    quiet = {"enable_progress_bar": False, "enable_model_summary": False}
    hist = fit(ResCNN(4, channels=4, n_blocks=1), CubeDataModule(cube, patch=16, batch_size=8),
               epochs=2, trainer_options=quiet)
    assert not hist["validated"] and np.isnan(hist["val_loss"]).all()  # was train_loss
    assert np.isfinite(hist["train_loss"]).all()
    with pytest.raises(errors.XlstsrError, match="the LST cube is constant"):
        fit(ResCNN(4, channels=4, n_blocks=1), CubeDataModule(cube * 0 + 300, patch=16),
            epochs=1, trainer_options=quiet)
