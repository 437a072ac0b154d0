"""Sixteenth round of bad inputs (session 18).

Each case scored, corrected or refused the wrong thing without a word (see the session's note).
"""

from __future__ import annotations

import numpy as np
import pytest
import rioxarray  # noqa: F401
import xarray as xr

import xlstsr
from xlstsr import errors

# -- evaluation ---------------------------------------------------------------------------------

def test_lazy_evaluate_with_no_valid_reference_pixel_is_refused_when_computed(scene):
    """In memory this is refused; lazily it returned NaN metrics with n_valid 0."""
    sr = xlstsr.upscale(scene["lst_1km"], 4)
    cloudy = xr.full_like(scene["lst_250m"], np.nan)
    lazy = xlstsr.evaluate(sr.chunk(), cloudy.chunk())  # builds, reads nothing
    with pytest.raises(errors.AllNaNError, match="no valid pixel after masking"):
        lazy.rmse.compute()
    holed = xr.full_like(sr, np.nan)  # the reference is fine, sr has no pixel
    with pytest.raises(errors.NoOverlapError, match="no pixel is valid in both"):
        xlstsr.evaluate(holed.chunk(), scene["lst_250m"].chunk()).compute()
    # a single cloudy step of a cube stays NaN, as in memory
    one_cloudy = scene["lst_250m"].copy()
    one_cloudy[0] = np.nan
    eager = xlstsr.evaluate(sr, one_cloudy)
    for chunks in ({}, {"time": 1}):
        ds = xlstsr.evaluate(sr.chunk(chunks), one_cloudy.chunk(chunks)).compute()
        assert np.isnan(ds.rmse[0]) and int(ds.n_valid[0]) == 0
        xr.testing.assert_allclose(ds, eager)


def test_lazy_evaluate_of_one_step_reads_that_step_only(scene):
    """A whole-cube check tied every step to the whole cube: one step read all of them."""
    import dask

    reads = []

    def count(block):
        reads.append(1)
        return block

    sr = xlstsr.upscale(scene["lst_1km"], 4).chunk({"time": 1})
    ref = scene["lst_250m"].chunk({"time": 1})
    ref = ref.copy(data=ref.data.map_blocks(count, dtype=ref.dtype))
    ds = xlstsr.evaluate(sr, ref)
    with dask.config.set(scheduler="synchronous"):
        ds.rmse.isel(time=0).compute()
    assert 0 < len(reads) < scene["lst_250m"].sizes["time"]


# -- stores -------------------------------------------------------------------------------------

def test_a_dict_store_is_named_by_its_size_not_its_content(scene):
    """A plain dict as the store printed every chunk it held in the 'exists' message."""
    store: dict = {}
    lst = scene["lst_1km"].isel(time=[0])
    xlstsr.upscale_to_zarr(lst, store, 2, method="bicubic")
    with pytest.raises(errors.XlstsrError, match=r"exists") as info:
        xlstsr.upscale_to_zarr(lst, store, 2, method="bicubic")
    assert "a dict of" in str(info.value) and len(str(info.value)) < 600


# -- training -----------------------------------------------------------------------------------

def _cube(a, res, units="K"):
    ny, nx = a.shape[-2:]
    da = xr.DataArray(a, dims=("time", "y", "x"), name="LST", coords={
        "time": np.array(["2020-06-01", "2020-06-02"], "datetime64[ns]"),
        "y": 4e6 - res * (np.arange(ny) + 0.5), "x": 5e5 + res * (np.arange(nx) + 0.5)})
    if units:
        da.attrs["units"] = units
    return da.rio.write_crs(32633)


@pytest.fixture
def celsius_truth_files(tmp_path):
    fine = 300 + np.random.default_rng(0).normal(0, 2, (2, 64, 64)).astype("float32")
    _cube(fine.reshape(2, 16, 4, 16, 4).mean(axis=(2, 4)), 1000.0).to_dataset().to_zarr(
        tmp_path / "lst.zarr")
    _cube(fine - 273.15, 250.0, units=None).to_dataset().to_zarr(tmp_path / "truth.zarr")
    return tmp_path


def test_train_declares_the_truths_units_with_its_own_flags(capsys, celsius_truth_files):
    """`xlstsr train` had no flag for the truth's units and told a user with a Celsius truth
    to pass `--units degC`, which converts the (Kelvin) LST instead."""
    from tests.helpers import run_cli

    d = celsius_truth_files
    common = ["train", "--lst", d / "lst.zarr", "--truth", d / "truth.zarr", "--mode",
              "supervised", "--patch", "16", "--epochs", "1", "--out", d / "m.pt"]
    code, err = run_cli(capsys, *common)
    assert code == 2 and "`--truth-units degC`" in err and "`--units" not in err
    code, err = run_cli(capsys, *common, "--truth-units", "degC")
    assert code == 0, err
    rec = torch_load_record(d / "m.pt")
    assert rec["training_data"]["truth_declared"] == {"units": "degC"}
    code, err = run_cli(capsys, "train", "--lst", d / "lst.zarr", "--truth-units", "degC",
                        "--out", d / "n.pt")
    assert code == 2 and "add --truth" in err


def test_fit_files_hint_names_truth_declare_for_the_truth(celsius_truth_files):
    from xlstsr.train import fit_files

    d = celsius_truth_files
    with pytest.raises(errors.UnitsError, match="truth_declare=") as info:
        fit_files(d / "lst.zarr", d / "m.pt", truth=d / "truth.zarr", mode="supervised",
                  patch=16, epochs=1)
    assert "declare what the LST file lacks" not in str(info.value)
    with pytest.raises(errors.XlstsrError, match="no truth= is given"):
        fit_files(d / "lst.zarr", d / "m.pt", truth_declare={"units": "degC"})


def torch_load_record(path):
    from xlstsr.nn.checkpoint import load_checkpoint

    return load_checkpoint(path)["metadata"]


# -- readers ------------------------------------------------------------------------------------

def test_open_stac_refuses_a_truncated_local_cog(shared_data, tmp_path):
    """open_cog refused a truncated download; open_stac built the cube, which failed only when
    computed, with GDAL's 'Read failed' naming no file."""
    import glob

    import pystac

    from xlstsr.io import open_stac

    paths = sorted(glob.glob(str(shared_data / "modis_h18v04_2020" / "items" / "MOD11A1*.json")))
    items = [pystac.Item.from_file(p) for p in paths[:2]]
    src = items[1].assets["LST_Day_1km"].get_absolute_href()
    cut = tmp_path / "cut.tif"
    data = open(src, "rb").read()
    cut.write_bytes(data[: len(data) * 2 // 3])
    items[1].assets["LST_Day_1km"].href = str(cut)
    with pytest.raises(errors.XlstsrError, match=r"'LST_Day_1km' of item .*cut\.tif is truncated"):
        open_stac(items, "LST_Day_1km")
    cut.write_bytes(b"not a tiff at all")
    with pytest.raises(errors.XlstsrError, match="cannot be read as a raster by GDAL"):
        open_stac(items, "LST_Day_1km")


# -- metrics, calibration, corrections, scaling laws --------------------------------------------

def test_metrics_refuse_stored_values_and_take_round_off_grids(scene):
    """The metrics scored a scene against itself as stored (DN x 0.02, fill 0) at 14 841 K, and
    refused upscale's fine grid against the truth's over 1e-9 m of round-off."""
    truth = scene["lst_250m"].isel(time=0, drop=True)
    sr = xlstsr.upscale(scene["lst_1km"].isel(time=0, drop=True), 4, "bicubic")
    moved = sr.assign_coords(y=sr.y + 1e-7, x=sr.x - 1e-7)  # round-off of the grid arithmetic
    assert float(xlstsr.metrics.rmse(moved, truth)) == pytest.approx(
        float(xlstsr.metrics.rmse(sr, truth)))
    with pytest.raises(errors.GridError):  # a real offset (a tenth of a pixel) stays refused
        xlstsr.metrics.rmse(sr.assign_coords(x=sr.x + 25.0), truth)
    stored = (truth / 0.02).fillna(0).round().astype("uint16").assign_attrs(
        units="K", scale_factor=0.02, _FillValue=0)
    with pytest.raises(errors.ScaledIntegerError, match="mask_and_scale=True"):
        xlstsr.metrics.rmse(sr, stored)
    unmasked = truth.fillna(-9999.0).assign_attrs(units="K", _FillValue=-9999.0)
    with pytest.raises(errors.ScaledIntegerError, match="fill value -9999"):
        xlstsr.metrics.n_valid(sr, unmasked)


def test_upscale_keeps_a_calibrated_lst_calibrated(scene):
    """An LST calibrated before upscaling came back labelled 'input sensor', and a second
    calibration (+0.9 K became +1.8 K) went through."""
    from xlstsr.calibration import Calibration, apply_calibration

    cal = Calibration(offset=0.9, target="ASTER")
    lst_cal = apply_calibration(scene["lst_1km"], cal)
    sr = xlstsr.upscale(lst_cal, 4, "bicubic")
    assert sr.attrs["xlstsr_product"] == "calibrated to ASTER"
    assert "xlstsr_calibration" in sr.attrs
    with pytest.raises(errors.XlstsrError, match="apply it once"):
        apply_calibration(sr, cal)
    with pytest.raises(errors.XlstsrError, match="already 'calibrated to ASTER'"):
        xlstsr.upscale(lst_cal, 4, "bicubic", calibration=cal)
    assert xlstsr.upscale(scene["lst_1km"], 4, "bicubic").attrs["xlstsr_product"] == "input sensor"


def test_apply_calibration_refuses_stored_values_lazily_too(scene):
    from xlstsr.calibration import Calibration, apply_calibration

    dn = (scene["lst_1km"] / 0.02).fillna(0).round().astype("uint16").assign_attrs(
        units="K", scale_factor=0.02, _FillValue=0)
    for da in (dn, dn.chunk()):  # lazy: accepted, then failed on compute blaming the mapping
        with pytest.raises(errors.ScaledIntegerError, match="stored values"):
            apply_calibration(da, Calibration(offset=0.9))


def test_detail_gain_of_a_method_without_detail_is_one(scene):
    """bicubic's float32 round-off (1e-5 K) was taken as detail: a gain of 112 came back."""
    from xlstsr.correction import calibrate_detail_gain

    lst = scene["lst_1km"]
    sr = xlstsr.upscale(lst, 4, "bicubic")
    assert calibrate_detail_gain(sr, lst, scene["lst_250m"], 4) == 1.0
    # a method with detail keeps its calibrated gain
    noisy = sr + 0.3 * np.sign(np.sin(np.arange(sr.sizes["x"])))
    assert calibrate_detail_gain(noisy, lst, scene["lst_250m"], 4) != 1.0


def test_scaling_stats_of_a_small_field_warns_with_default_scales(scene):
    small = scene["lst_1km"].isel(time=0, drop=True, y=slice(0, 16), x=slice(0, 16))
    with pytest.warns(UserWarning, match="not reliable below 32 x 32"):
        small.lstsr.scaling_stats()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scene["lst_1km"].isel(time=0, drop=True, y=slice(0, 32), x=slice(0, 32)).lstsr.scaling_stats()


# -- structure: CF grid mappings, Datasets, STAC item sets ----------------------------------------

@pytest.fixture
def cf_netcdf(scene, tmp_path):
    """A NetCDF whose CRS is in a CF grid-mapping variable named `crs` (GDAL's writer names it
    `sinusoidal` or `transverse_mercator`), not rioxarray's `spatial_ref`."""
    lst = scene["lst_1km"].isel(time=0, drop=True)
    crs = lst.rio.crs
    cf = lst.drop_vars("spatial_ref").rio.write_crs(crs, grid_mapping_name="crs")
    path = tmp_path / "lst.nc"
    cf.rename("Band1").to_dataset().to_netcdf(path)
    return path, lst


def test_a_cf_grid_mapping_of_another_name_is_carried(cf_netcdf):
    """upscale and coarsen ran the whole job, then failed with rioxarray's raw MissingCRS."""
    path, lst = cf_netcdf
    with xr.open_dataset(path, decode_coords="all") as ds:
        da = ds["Band1"].load()
    assert da.rio.grid_mapping == "crs"
    out = da.lstsr.upscale(4, method="bicubic")
    assert out.rio.crs == lst.rio.crs
    np.testing.assert_allclose(out.x.values, xlstsr.upscale(lst, 4, "bicubic").x.values)
    assert da.lstsr.coarsen(2).rio.crs == lst.rio.crs
    assert da.rio.grid_mapping == "crs" and da.rio.crs == lst.rio.crs  # the caller's untouched


def test_a_dataset_of_one_raster_beside_its_grid_mapping(cf_netcdf):
    """The message offered the 0-d grid mapping as `variable=`, and a Dataset whose only
    raster is GDAL's `Band1` was refused."""
    path, lst = cf_netcdf
    with xr.open_dataset(path) as ds:  # `crs` a data variable, beside Band1
        ds = ds.load()
    assert set(ds.data_vars) == {"Band1", "crs"}
    out = ds.lstsr.upscale(4, method="bicubic")
    assert out.name == "Band1" and out.rio.crs == lst.rio.crs
    two = ds.assign(other=ds["Band1"] + 1)
    with pytest.raises(errors.VariableNotFoundError, match=r"variable='Band1'") as info:
        two.lstsr.upscale(4, method="bicubic")
    assert "'crs'" not in str(info.value)


def _shared_items(shared_data, n=4):
    import glob

    import pystac

    paths = sorted(glob.glob(str(shared_data / "modis_h18v04_2020" / "items" / "MOD11A1*.json")))
    return [pystac.Item.from_file(p) for p in paths[:n]]


def test_open_stac_refuses_granules_of_one_time_and_footprint(shared_data):
    """Terra and Aqua items of one day (datetime null, the day as start_datetime) were fused
    into one step by odc-stac's groupby='time': every Aqua field dropped without a word."""
    from xlstsr.io import open_stac

    terra = _shared_items(shared_data, 2)
    for it in terra:
        it.make_asset_hrefs_absolute()
    day = terra[0].datetime.replace(hour=0, minute=0)
    pair = []
    for suffix in ("", ".reprocessed"):  # two granules of one product, one day
        it = terra[0].clone()
        it.id = it.id + suffix
        it.properties["start_datetime"] = day.isoformat()
        it.properties["end_datetime"] = day.replace(hour=23).isoformat()
        it.datetime = None
        pair.append(it)
    with pytest.raises(errors.XlstsrError, match="groupby='id'"):
        open_stac(pair, "LST_Day_1km")
    cube = open_stac(pair, "LST_Day_1km", groupby="id")
    assert cube.sizes["time"] == 2
    aqua = pair[1].clone()
    aqua.id = aqua.id.replace("MOD11A1", "MYD11A1")
    with pytest.raises(errors.XlstsrError, match="2 products"):  # Terra + Aqua: never one series
        open_stac([pair[0], aqua], "LST_Day_1km", groupby="id")
    assert open_stac(terra, "LST_Day_1km").sizes["time"] == 2  # other days pass


def test_open_stac_reads_the_bbox_in_the_crs_most_items_share(shared_data):
    """One UTM item listed first made the bbox (in the items' sinusoidal metres) meet none."""
    from xlstsr.io import open_stac

    items = [it for it in _shared_items(shared_data, 40)
             if 17 in it.properties["subset:windows"]][:3]  # one window: one footprint
    for it in items:
        it.make_asset_hrefs_absolute()
    utm = items[0].clone()
    utm.id = "utm-copy"
    for key in ("proj:wkt2", "proj:projjson", "proj:epsg"):
        utm.properties.pop(key, None)
    utm.properties["proj:code"] = "EPSG:32633"
    bbox = (1008169, 5500449, 1067472, 5559752)  # window 17, sinusoidal metres
    ref = open_stac(items[1:], "LST_Day_1km", bbox=bbox)
    first = open_stac([utm, *items[1:]], "LST_Day_1km", bbox=bbox)
    last = open_stac([*items[1:], utm], "LST_Day_1km", bbox=bbox)
    assert first.rio.crs == last.rio.crs == ref.rio.crs
    assert first.sizes == last.sizes


# -- readers and co-registration on real files (round 17a) ---------------------------------------

def test_open_modis_divides_by_a_scale_factor_above_one(shared_data, tmp_path):
    """MOD13's NDVI (scale_factor 10000, 'divide') read 6.5e7 for 0.65."""
    SD = pytest.importorskip("pyhdf.SD")
    from xlstsr.io import open_modis

    granule = next((shared_data / "mod11a1_hdf").glob("MOD11A1*.hdf"))
    src = SD.SD(str(granule))
    struct = src.attributes()["StructMetadata.0"]
    src.end()
    path = tmp_path / "MOD13A2.A2019305.h14v09.061.2020210000000.hdf"
    sd = SD.SD(str(path), SD.SDC.WRITE | SD.SDC.CREATE)
    sd.attr("StructMetadata.0").set(SD.SDC.CHAR, struct.replace("MODIS_Grid_Daily_1km_LST",
                                                                "MODIS_Grid_16DAY_1km_VI"))
    v = sd.create("1 km 16 days NDVI", SD.SDC.INT16, (1200, 1200))
    stored = np.full((1200, 1200), 6500, np.int16)
    stored[:10] = -3000
    v[:] = stored
    v.attr("valid_range").set(SD.SDC.INT16, [-2000, 10000])
    v.attr("_FillValue").set(SD.SDC.INT16, -3000)
    v.attr("scale_factor").set(SD.SDC.FLOAT64, 10000.0)
    v.attr("add_offset").set(SD.SDC.FLOAT64, 0.0)
    v.endaccess()
    sd.end()
    da = open_modis(path, "1 km 16 days NDVI")
    assert float(da[100, 100]) == pytest.approx(0.65, abs=1e-4)
    assert np.isnan(float(da[0, 0]))


def test_open_landsat8_l1_reads_a_collection_1_bqa(shared_data, tmp_path):
    """A Collection-1 BQA read in the pre-collection layout: every pixel water, then, with
    mask_water=False, no cloud (15 % of the scene kept as data)."""
    import shutil

    import rioxarray as rxr

    from xlstsr.io import open_landsat8_l1

    src = shared_data / "landsat8_gulf_l1"
    prefix = "LC08_L1TP_020039_20150804_20170406_01_T1_"
    for b in ("B4", "B5", "B10"):
        shutil.copy(src / f"l8_{b}.tif", tmp_path / f"{prefix}{b}.TIF")
    mtl = (src / "l8_MTL.txt").read_text()
    first = mtl.index("LANDSAT_SCENE_ID")
    (tmp_path / f"{prefix}MTL.txt").write_text(
        mtl[:first] + "COLLECTION_NUMBER = 01\n    " + mtl[first:])
    pre = rxr.open_rasterio(src / "l8_BQA.tif").squeeze("band", drop=True)
    q = pre.values
    cloudy = ((q >> 14) & 0b11) >= 2
    pre.copy(data=np.where(q & 1, 1, np.where(cloudy, 2800, 2720)).astype(np.uint16)).rio.to_raster(
        tmp_path / f"{prefix}BQA.TIF")
    with pytest.warns(UserWarning, match="no water bits"):
        ds = open_landsat8_l1(tmp_path, prefix=prefix)
    assert not (np.isfinite(ds["bt"].values) & cloudy).any()
    assert np.isfinite(ds["bt"].values[~cloudy & ((q & 1) == 0)]).mean() > 0.99
    (tmp_path / f"{prefix}MTL.txt").write_text(
        mtl[:first] + "COLLECTION_NUMBER = 02\n    " + mtl[first:])
    with pytest.raises(errors.XlstsrError, match="Collection 2"):
        open_landsat8_l1(tmp_path, prefix=prefix)


def _yanco(shared_data):
    import rioxarray as rxr

    d = shared_data / "yanco_modis_landsat"
    landsat = rxr.open_rasterio(d / "Landsat_LST_cloudrm_20160205.tif", masked=True).squeeze(
        "band", drop=True).assign_attrs(units="K")
    modis = rxr.open_rasterio(d / "MOD11A1_LST_cloudrm_20160205.tif", masked=True).squeeze(
        "band", drop=True).assign_attrs(units="K")
    return landsat, modis


def test_estimate_offset_takes_an_lst_brought_back_to_its_grid(shared_data):
    """`lst.coarsen(y=10, x=10).mean()`, as the refusal of a resampled LST advised, kept the
    stale GeoTransform of the 0.001 degree grid: refused again, in a loop."""
    landsat, modis = _yanco(shared_data)
    with pytest.raises(errors.GridError, match=r"coarsen\(y=10, x=10\)"):
        xlstsr.estimate_offset(landsat, modis, errors="ignore")
    coarse = modis.coarsen(y=10, x=10).mean().assign_attrs(units="K")
    stale = str(coarse.spatial_ref.attrs["GeoTransform"])
    est = xlstsr.estimate_offset(landsat, coarse, errors="ignore")
    assert est.attrs["factor"] == 10
    assert str(coarse.spatial_ref.attrs["GeoTransform"]) == stale  # the caller's array untouched


def test_estimate_offset_lengths_in_the_wrong_units_are_refused(shared_data):
    """max_shift=500 (metres) on a lon/lat LST was 500 degrees: numpy asked for 7 TiB."""
    landsat, modis = _yanco(shared_data)
    coarse = modis.coarsen(y=10, x=10).mean().assign_attrs(units="K")
    for kw in ({"max_shift": 500}, {"psf_sigma": 350, "psf": False}, {"search_step": 50}):
        with pytest.raises(errors.XlstsrError, match="units of the LST's CRS"):
            xlstsr.estimate_offset(landsat, coarse, errors="ignore", **kw)


# -- datasets and the demo (round 16b) ------------------------------------------------------------

def test_modis_aster_reader_honours_a_declared_nodata(shared_data, tmp_path):
    """A user's folder laid out like modis_aster/ with -9999 / -3000 declared in the GeoTIFFs:
    the fills came back as data (then NaN replaced the declaration)."""
    import os

    import rasterio

    from xlstsr.datasets import modis_aster_arrays, open_modis_aster_pair

    src = shared_data / "modis_aster"
    d = tmp_path / "modis_aster"
    d.mkdir()
    (d / "pairs.csv").write_text("pair,aster_view_angle_deg\n001,12.0\n")
    os.symlink(src / "001_aster_lst_250m.tif", d / "001_aster_lst_250m.tif")
    for name, fill in (("001_modis_lst_1km.tif", -9999.0), ("001_modis_ndvi_250m.tif", -3000.0)):
        with rasterio.open(src / name) as s:
            a, prof = s.read(1), s.profile
        a[: a.shape[0] // 4, : a.shape[1] // 4] = fill
        prof.update(nodata=fill)
        with rasterio.open(d / name, "w", **prof) as dst:
            dst.write(a, 1)
    lst, ndvi, _ = open_modis_aster_pair("001", tmp_path)
    assert float(lst.min()) > 200 and float(ndvi.min()) > -1
    assert int(np.isnan(lst.values).sum()) >= (lst.shape[0] // 4) * (lst.shape[1] // 4)
    arr = modis_aster_arrays(["001"], tmp_path)
    assert not (arr["lst"] == -9999).any() and not (arr["ndvi"] == -3000).any()


def test_demo_writes_the_series_with_the_method_asked_for(tmp_path):
    """`xlstsr demo --method nearest` wrote a bicubic series (the best scored)."""
    from xlstsr.demo import run_demo

    res = run_demo(tmp_path / "n", method="nearest", progress=False, n_times=1)
    assert res.series_method == "nearest"
    assert xr.open_zarr(res.store, consolidated=False)["lst"].attrs["xlstsr_method"] == "nearest"
    guided = run_demo(tmp_path / "g", method="tsharp", progress=False, n_times=1)
    assert guided.series_method == "bicubic" and "`tsharp`, asked for, needs a guide" in \
        guided.recommendation


# -- review of round 16 ---------------------------------------------------------------------------

def test_coarse_consistency_and_lazy_fills_refused_as_stored_values(scene):
    """coarse_consistency against DN read 14 456 K; a lazy field with its fill among the values
    (a Landsat file read with rioxarray's defaults) scored 8.5e35 K."""
    lst = scene["lst_1km"]
    sr = xlstsr.upscale(lst, 4, "bicubic")
    dn = (lst / 0.02).fillna(0).round().astype("uint16").assign_attrs(
        units="K", scale_factor=0.02, _FillValue=0)
    with pytest.raises(errors.ScaledIntegerError, match="the coarse LST holds stored values"):
        xlstsr.metrics.coarse_consistency(sr, dn, 4)
    filled = scene["lst_250m"].fillna(-3.4e38).assign_attrs(units="K", _FillValue=-3.4e38)
    lazy = xlstsr.metrics.rmse(sr.chunk(), filled.astype("float32").chunk())  # builds
    with pytest.raises(errors.ScaledIntegerError, match="among its values"):
        lazy.compute()
    masked = scene["lst_250m"].assign_attrs(units="K", _FillValue=-3.4e38)  # masked already
    assert np.isfinite(xlstsr.metrics.rmse(sr.chunk(), masked.chunk()).compute()).all()


def test_train_truth_fill_names_the_truth_nodata_flag(capsys, tmp_path):
    from tests.helpers import run_cli

    fine = 300 + np.random.default_rng(0).normal(0, 2, (2, 64, 64)).astype("float32")
    _cube(fine.reshape(2, 16, 4, 16, 4).mean(axis=(2, 4)), 1000.0).to_dataset().to_zarr(
        tmp_path / "lst.zarr")
    holed = fine.copy()
    holed[:, :40] = -9999.0
    _cube(holed, 250.0).to_dataset().to_zarr(tmp_path / "truth.zarr")
    code, err = run_cli(capsys, "train", "--lst", tmp_path / "lst.zarr", "--truth",
                        tmp_path / "truth.zarr", "--mode", "supervised", "--patch", "16",
                        "--epochs", "1", "--out", tmp_path / "m.pt")
    assert code == 2 and "`--truth-nodata -9999`" in err and "`--nodata" not in err


def test_a_store_mapper_is_named_by_its_location(scene, tmp_path):
    fsspec = pytest.importorskip("fsspec")
    lst = scene["lst_1km"].isel(time=[0])
    xlstsr.upscale_to_zarr(lst, tmp_path / "out.zarr", 2, method="bicubic")
    mapper = fsspec.get_mapper(str(tmp_path / "out.zarr"))
    with pytest.raises(errors.XlstsrError, match="exists") as info:
        xlstsr.upscale_to_zarr(lst, mapper, 2, method="bicubic")
    assert str(tmp_path / "out.zarr") in str(info.value) and "in memory" not in str(info.value)


def test_data_root_given_as_a_file_is_named_a_file(shared_data):
    from xlstsr.datasets import modis_aster_pairs

    with pytest.raises(FileNotFoundError, match="is a file, not a folder"):
        modis_aster_pairs(shared_data / "modis_aster" / "pairs.csv")


def test_ecostress_partial_folder_leaves_out_scenes_without_files(shared_data, tmp_path):
    """A copy of 2 scenes with the full scenes.csv: all 22 listed, then rasterio's raw 'No such
    file or directory' on the third."""
    import shutil

    from xlstsr.datasets import ecostress_scenes, open_ecostress_scene

    src = shared_data / "ecostress_la"
    full = ecostress_scenes(src)
    d = tmp_path / "ecostress_la"
    for sub in ("LST", "cloud_mask", "water_mask"):
        (d / sub).mkdir(parents=True)
    shutil.copy(src / "scenes.csv", d / "scenes.csv")
    keep = full.index[:2]
    for key in keep:
        row = full.loc[key]
        shutil.copy(src / "LST" / row["file"], d / "LST" / row["file"])
        shutil.copy(src / "cloud_mask" / row["cloud_mask"], d / "cloud_mask" / row["cloud_mask"])
    row = full.loc[keep[0]]  # the second scene lacks its water mask
    shutil.copy(src / "water_mask" / row["water_mask"], d / "water_mask" / row["water_mask"])
    with pytest.warns(UserWarning, match=f"{len(full) - 2} of the {len(full)} scenes"), \
            pytest.warns(UserWarning, match=f"no cloud_mask or water_mask file.*{keep[1]}"):
        part = ecostress_scenes(d)
    # (session 20: a scene without its masks is left out by name too, as one without its LST)
    assert list(part.index) == list(keep[:1])
    with pytest.raises(errors.XlstsrError, match=f"no ECOSTRESS scene .{keep[1]}"):
        open_ecostress_scene(keep[1], d)


def test_modis_sample_chunks_by_the_dims_it_returns():
    from xlstsr.datasets import modis_sample

    assert modis_sample(chunks={"time": 2}).lst_day.chunks[0] == (2, 2, 2, 2)
    assert isinstance(modis_sample(chunks=False).lst_day.data, np.ndarray)
    assert modis_sample(chunks=(1, 64, 64)).lst_day.chunks[0] == (1,) * 8  # dask's tuple form
    with pytest.raises(errors.XlstsrError, match="name no dim"):
        modis_sample(chunks={"date": 2})


def test_docs_name_the_default_disr_network():
    """models.md and calibration.md called the default disr the U-Net (it is the distilled
    GuidedResCNN, weights='fast')."""
    from pathlib import Path

    from xlstsr.methods import get_method

    docs = Path(__file__).resolve().parents[1] / "docs"
    net = type(get_method("disr").model()).__name__
    assert net == "GuidedResCNN"
    models, calib = (docs / "models.md").read_text(), (docs / "calibration.md").read_text()
    assert "# bundled U-Net" not in models and "(not the default: it lost" not in models
    assert '`disr` weights (`"unet"`)' not in calib


# -- guides (round 17b) ---------------------------------------------------------------------------

def test_guide_offset_is_measured_on_the_composite_matched_by_tolerance(shared_data):
    """With 16-day composites labelled by their first day, the offset was measured on the first
    (January, cloudy) composite for a July LST: the 0.74 px offset of the one used stayed."""
    import warnings

    import pandas as pd

    from xlstsr.datasets import open_modis_aster_pair

    lst, ndvi, _ = open_modis_aster_pair("202", shared_data)
    t = pd.Timestamp("2020-07-10T10:30")
    cube = lst.expand_dims(time=[t])
    winter = ndvi.copy(data=np.full(ndvi.shape, np.nan, np.float32))
    winter[:40, :40] = 0.2

    def run(labels, tol):
        g = xr.concat([winter, ndvi], dim="time").assign_coords(time=labels)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            out = xlstsr.upscale(cube, 4, "tsharp", guide=g, guide_time_tolerance=tol,
                                 mask_out_of_range=True)
        return out, any("offset from the LST" in str(x.message) for x in w)

    exact, moved = run([pd.Timestamp("2020-01-01"), t], None)
    tolerant, moved_tol = run([pd.Timestamp("2020-01-01"), pd.Timestamp("2020-07-03")], "16D")
    assert moved and moved_tol
    np.testing.assert_allclose(tolerant.values, exact.values, atol=1e-3)


def test_upscale_to_zarr_moves_an_in_memory_guide_as_upscale_does(shared_data, tmp_path):
    """upscale_to_zarr checked nothing on in-memory inputs (chunked before upscale): its store
    differed from upscale's result by up to 11 K on a real pair."""
    import warnings

    from xlstsr.datasets import open_modis_aster_pair

    lst, ndvi, _ = open_modis_aster_pair("202", shared_data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mem = xlstsr.upscale(lst, 4, "tsharp", guide=ndvi, mask_out_of_range=True)
        stored = xlstsr.upscale_to_zarr(lst, tmp_path / "o.zarr", 4, "tsharp", guide=ndvi,
                                        mask_out_of_range=True)
    np.testing.assert_allclose(stored.values, mem.values, atol=1e-3, equal_nan=True)


def test_a_guide_dataset_with_quality_layers_is_refused(scene):
    """MOD13Q1 as delivered (NDVI, VI_Quality bits, pixel_reliability classes): the quality
    layers became regression inputs (dms moved by 2.3 K)."""
    ndvi = scene["ndvi_250m"]
    ds = xr.Dataset({
        "NDVI": ndvi,
        "VI_Quality": xr.full_like(ndvi, 2116, dtype="uint16"),
        "pixel_reliability": xr.full_like(ndvi, 0, dtype="int8"),
    })
    with pytest.raises(errors.XlstsrError, match=r"quality or class layers \['VI_Quality', "
                                                 r"'pixel_reliability'\]"):
        xlstsr.upscale(scene["lst_1km"], 4, "dms", guide=ds)
    out = xlstsr.upscale(scene["lst_1km"], 4, "dms", guide=ds[["NDVI"]])
    assert np.isfinite(out).any()


def test_a_guide_scale_factor_above_one_is_named_as_the_hdf_divisor(scene):
    ndvi = scene["ndvi_250m"]
    dn = (ndvi * 10000).fillna(-3000).round().astype("int16").assign_attrs(
        scale_factor=10000.0, _FillValue=-3000, long_name="250m 16 days NDVI")
    with pytest.raises(errors.GuideScaleError, match=r"scale_factor'\] = 0.0001"):
        xlstsr.upscale(scene["lst_1km"], 4, "disr", guide=dn)
    ok = dn.assign_attrs(scale_factor=1e-4)
    assert np.isfinite(xlstsr.upscale(scene["lst_1km"], 4, "disr", guide=ok)).any()


# -- command line and figures (round 17c) ---------------------------------------------------------

def test_figures_draw_a_celsius_result_in_kelvin(scene):
    """A degC result was drawn at 40 beside a 313 K input, its error map at -275 K."""
    pytest.importorskip("matplotlib")
    from xlstsr import plot

    lst = scene["lst_1km"].isel(time=0, drop=True)
    truth = scene["lst_250m"].isel(time=0, drop=True)
    sr = xlstsr.upscale(lst, 4, "bicubic")
    sr_c = (sr - 273.15).assign_attrs(units="degC")
    fig = plot.truth_maps(lst, {"bicubic": sr_c}, truth)
    lims = [ax.images[0].get_clim()[1] for ax in fig.axes
            if ax.images and ax.get_title().endswith("- truth")]
    assert lims and max(lims) < 20
    fig2 = plot.comparison(lst, sr_c)
    drawn = [float(np.nanmedian(np.asarray(ax.images[0].get_array(), float)))
             for ax in fig2.axes if ax.images and ax.get_title() == "bicubic"]
    assert drawn and drawn[0] > 250
    with pytest.raises(errors.AllNaNError, match="the truth has no valid pixel"):
        plot.truth_maps(lst, {"bicubic": sr}, truth * np.nan)


def test_compare_labels_the_scales_in_their_own_unit(scene):
    pytest.importorskip("matplotlib")
    from xlstsr import plot

    lst = scene["lst_1km"].isel(time=0, drop=True)
    geo = lst.rio.reproject("EPSG:4326")
    st = xlstsr.scaling_stats(geo.where(np.isfinite(geo)))
    fig = plot.compare({"lon/lat": st})
    labels = [ax.get_xlabel() for ax in fig.axes]
    assert any("degree" in lab for lab in labels) and not any("(m)" in lab for lab in labels)


def test_cli_negative_scientific_nodata_and_banded_units(capsys, scene, tmp_path):
    """`--nodata -3.4e+38` (what the fill messages suggest) stopped on 'expected one
    argument'; a day/night GeoTIFF with units ('K', 'K') was refused as unknown units."""
    from tests.helpers import run_cli

    lst = scene["lst_1km"]
    two = lst.isel(time=[0, 1]).rename(time="band").assign_coords(band=[1, 2])
    two = two.fillna(-3.4e38).astype("float32")
    two.attrs = {}
    two.rio.to_raster(tmp_path / "dn.tif")
    import rasterio

    with rasterio.open(tmp_path / "dn.tif", "r+") as dst:
        dst.units = ("K", "K")  # per band, as GDAL writes a day/night stack
    code, err = run_cli(capsys, "scaling", tmp_path / "dn.tif", tmp_path / "fits.csv",
                        "--nodata", "-3.4e+38")
    assert code == 0, err


def test_fill_hint_gives_the_stored_value_exactly():
    from xlstsr.validate import _fill_text

    assert _fill_text(float(np.finfo(np.float32).max)) == "3.4028235e+38"
    assert _fill_text(-9999.0) == "-9999" and _fill_text(0.0) == "0"
    assert _fill_text(-80.0000061035156, 3e-5) == "-80"  # a degC fill decoded through float32 K
    assert np.float32(float(_fill_text(float(np.finfo(np.float32).max)))) == np.finfo(np.float32).max


def test_cli_evaluate_reference_band_and_nc_name_and_symlinked_store(capsys, scene, tmp_path):
    from tests.helpers import run_cli

    lst = scene["lst_1km"].isel(time=0, drop=True)
    truth = scene["lst_250m"].isel(time=0, drop=True)
    lst.rio.to_raster(tmp_path / "lst.tif")
    code, err = run_cli(capsys, "upscale", tmp_path / "lst.tif", tmp_path / "sr.nc")
    assert code == 0, err
    with xr.open_dataset(tmp_path / "sr.nc") as ds:
        assert "lst" in ds.data_vars and "__xarray_dataarray_variable__" not in ds.data_vars
    banded = xr.concat([truth, truth * 0 + 0.98], dim="band").assign_coords(band=[1, 2])
    banded.rio.to_raster(tmp_path / "ref.tif")
    code, err = run_cli(capsys, "evaluate", tmp_path / "sr.nc", tmp_path / "ref.tif",
                        tmp_path / "s.csv")
    assert code == 2 and "--reference-band" in err
    code, err = run_cli(capsys, "evaluate", tmp_path / "sr.nc", tmp_path / "ref.tif",
                        tmp_path / "s.csv", "--reference-band", "1")
    assert code == 0, err
    real = tmp_path / "real.zarr"
    xlstsr.upscale_to_zarr(scene["lst_1km"].isel(time=[0]), real, 2, method="bicubic")
    (tmp_path / "link.zarr").symlink_to(real)
    code, err = run_cli(capsys, "upscale", tmp_path / "lst.tif", tmp_path / "link.zarr",
                        "--overwrite")
    assert code == 2 and "symbolic link" in err and real.is_dir()


def test_cli_guide_variable_hint_names_the_guides_flag(capsys, scene, tmp_path):
    from tests.helpers import run_cli

    lst = scene["lst_1km"].isel(time=0, drop=True)
    ndvi = scene["ndvi_250m"]
    ds = xr.Dataset({"LST_Day_1km": lst.rename("LST_Day_1km")})
    ds.to_netcdf(tmp_path / "lst.nc")
    xr.Dataset({"NDVI": ndvi, "EVI": ndvi * 0.8}).to_netcdf(tmp_path / "g.nc")
    code, err = run_cli(capsys, "upscale", tmp_path / "lst.nc", tmp_path / "o.tif",
                        "--method", "dms", "--guide", tmp_path / "g.nc")
    assert code == 2 and "--guide-variable" in err and "`--variable" not in err


# -- models and checkpoints (round 18a) -----------------------------------------------------------

def test_a_scene_wide_model_runs_on_whole_images(scene):
    """A module with InstanceNorm measured a receptive field of 64 (the probe's edge) and was
    tiled with a 64 px margin: 0.6 K off its whole-image forward, without a word."""
    import torch

    torch.manual_seed(0)

    class SceneWide(torch.nn.Module):
        factor, n_guide = 4, 0

        def __init__(self):
            super().__init__()
            self.c1 = torch.nn.Conv2d(1, 8, 3, padding=1)
            self.norm = torch.nn.InstanceNorm2d(8)
            self.c2 = torch.nn.Conv2d(8, 16, 3, padding=1)

        def forward(self, lst, guide=None):
            up = torch.nn.functional.interpolate(lst, scale_factor=4, mode="bilinear")
            d = self.c2(torch.relu(self.norm(self.c1(lst - 300))))
            return up + torch.nn.functional.pixel_shuffle(d, 4)

    n = 160
    rng = np.random.default_rng(0)
    base = (300 + 10 * np.linspace(0, 1, n)[None, :] + rng.normal(0, 1, (n, n))).astype("float32")
    lst = xr.DataArray(base[None], dims=("time", "y", "x"), attrs={"units": "K"}, coords={
        "time": [np.datetime64("2020-01-01", "ns")], "y": (np.arange(n)[::-1] + 0.5) * 1000.0,
        "x": (np.arange(n) + 0.5) * 1000.0}).rio.write_crs("EPSG:32631")
    model = SceneWide().eval()
    with torch.no_grad():
        whole = model(torch.from_numpy(base[None, None]))[0, 0].numpy()
    with pytest.warns(UserWarning, match="depends on the whole image"):
        sr = xlstsr.upscale(lst.chunk({"y": 64, "x": 64}), 4, method="sisr",
                            method_options={"model": model}).compute()
    np.testing.assert_allclose(sr.values[0], whole, atol=1e-3)


def test_trained_guide_labels_are_recorded(scene, tmp_path):
    """fit_cube/fit_files recorded the guide bands as guide0, guide1: a guide with its bands
    swapped ran without a word."""
    from xlstsr.nn.checkpoint import load_checkpoint
    from xlstsr.train import fit_cube
    from xlstsr.train.cube import _input_labels

    ndvi = scene["ndvi_250m"]
    assert _input_labels({"swir1": ndvi, "nir": ndvi}, 2) == ["lst", "swir1", "nir"]
    # an unnamed piece is labelled by its own description (session 51), an undescribed one not
    assert _input_labels([ndvi.rename(None)], 1) == ["lst", ndvi.attrs["long_name"]]
    assert _input_labels([ndvi.rename(None).drop_attrs()], 1) == ["lst", "guide0"]
    banded = xr.concat([ndvi, ndvi * 0.5 + 0.2], dim="band").assign_coords(band=["swir1", "nir"])
    model, rec = fit_cube(scene["lst_1km"], guide=banded,
                          mode="degraded_disr", arch="guided_rescnn", patch=16, epochs=1,
                          batch_size=4, trainer_options={"enable_progress_bar": False,
                                                         "enable_model_summary": False})
    assert rec["inputs"] == ["lst", "swir1", "nir"]
    from xlstsr.nn import save_model

    save_model(model, tmp_path / "m.pt")  # the labels travel with the model itself
    assert load_checkpoint(tmp_path / "m.pt")["metadata"]["inputs"] == ["lst", "swir1", "nir"]
    # the same bands under other names (not a known other quantity for the model) still run
    from xlstsr.guide import check_guide_labels

    check_guide_labels(["red", "nir"], ["sur_refl_b01", "sur_refl_b02"], "disr")
    with pytest.raises(errors.GuideScaleError):
        check_guide_labels(["red"], ["ndvi"], "disr")
    with pytest.raises(errors.GuideScaleError, match="in that order"):
        xlstsr.upscale(scene["lst_1km"], 4, "disr", guide={"nir": ndvi * 0.5 + 0.2, "swir1": ndvi},
                       method_options={"model": tmp_path / "m.pt"})


def test_a_bare_bundled_name_is_the_bundled_weights(scene, tmp_path, monkeypatch):
    """A file named like a bundled weights name in the working folder replaced the default
    (or, not a checkpoint, made the default sisr fail)."""
    monkeypatch.chdir(tmp_path)
    lst = scene["lst_1km"].isel(time=0, drop=True)
    expected = xlstsr.upscale(lst, 4, method="sisr")
    (tmp_path / "rescnn").write_text("notes of a rescnn experiment\n")
    np.testing.assert_allclose(xlstsr.upscale(lst, 4, method="sisr").values, expected.values)


def test_a_training_wrapper_is_taken_for_its_network(scene, tmp_path):
    from xlstsr.nn import save_model
    from xlstsr.train import SuperResolutionModule

    module = SuperResolutionModule("guided_rescnn", config={"factor": 4, "n_guide": 1},
                                   mode="degraded_disr")
    out = xlstsr.upscale(scene["lst_1km"], 4, method="disr", guide=scene["ndvi_250m"],
                         method_options={"model": module}, output_check=False)
    assert out.shape[-1] == scene["lst_1km"].shape[-1] * 4
    with pytest.raises(errors.CheckpointError, match="use method='disr'"):
        xlstsr.upscale(scene["lst_1km"], 4, method="sisr", method_options={"model": module})
    assert save_model(module, tmp_path / "m.pt").is_file()


# -- review of rounds 16b-17c ---------------------------------------------------------------------

def test_a_resumed_store_keeps_the_guide_offset_it_was_started_with(shared_data, tmp_path):
    """Started in memory (the guide moved back), resumed on the same data opened lazily (the
    guide not moved): the 'complete' store mixed the two, 11 K apart."""
    import warnings

    import pandas as pd

    from xlstsr.datasets import open_modis_aster_pair
    from xlstsr.methods.base import get_method

    lst, ndvi, _ = open_modis_aster_pair("202", shared_data)
    lst, ndvi = lst.load(), ndvi.load()
    t = pd.date_range("2020-07-01", periods=4, freq="D")
    cube = xr.concat([lst + 5.0 * (i >= 2) for i in range(4)],
                     dim=xr.DataArray(t, dims="time", name="time")).assign_attrs(lst.attrs)
    m = get_method("tsharp")
    orig, thr = m.upscale_block, float(np.nanmean(lst.values)) + 2.5

    def interrupted(block, *a, **k):
        if np.nanmean(block) > thr:
            raise RuntimeError("simulated interruption")
        return orig(block, *a, **k)

    m.upscale_block = interrupted
    store = tmp_path / "o.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = xlstsr.upscale(cube, 4, "tsharp", guide=ndvi, mask_out_of_range=True).compute()
        with pytest.raises(RuntimeError):
            xlstsr.upscale_to_zarr(cube, store, 4, m, guide=ndvi, mask_out_of_range=True,
                                   time_chunk=1)
        out = xlstsr.upscale_to_zarr(cube.chunk({"time": 1}), store, 4, "tsharp",
                                     guide=ndvi.chunk(), mask_out_of_range=True, mode="resume",
                                     time_chunk=1)
    np.testing.assert_allclose(out.values, ref.values, atol=1e-3, equal_nan=True)
    # "resume" on a store not yet there is a fresh write: the in-memory default applies
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fresh = xlstsr.upscale_to_zarr(cube, tmp_path / "new.zarr", 4, "tsharp", guide=ndvi,
                                       mask_out_of_range=True, mode="resume", time_chunk=1)
    np.testing.assert_allclose(fresh.values, ref.values, atol=1e-3, equal_nan=True)


def test_quality_layer_rules_for_geotiff_bands_flags_and_scales(scene):
    """A GeoTIFF pixel_reliability (rioxarray writes scale_factor 1.0) passed as a predictor;
    a scaled NDVI with CF flags was refused as a quality layer; an elevation in 5 m steps
    (scale_factor 5) was refused as the HDF4 divisor."""
    from xlstsr.guide import _quality_layer

    ndvi = scene["ndvi_250m"]
    rel = xr.full_like(ndvi, 0, dtype="int16").assign_attrs(scale_factor=1.0, add_offset=0.0)
    assert _quality_layer("pixel_reliability", rel)
    flagged = (ndvi * 250).round().astype("uint8").assign_attrs(
        scale_factor=0.004, flag_values=[254, 255], flag_meanings="water missing")
    assert not _quality_layer("NDVI", flagged)
    elev = (ndvi * 0 + 40).astype("int16").assign_attrs(scale_factor=5.0)
    from xlstsr.validate import decode_guide

    assert float(decode_guide(elev).max()) == 200.0


def test_reference_band_of_a_file_with_a_unitless_band(capsys, scene, tmp_path):
    """A reference with its LST band in 'K' beside a band without units was refused as bands
    of different units, even with --reference-band 1; hints named evaluate's missing --band."""
    import rasterio

    from tests.helpers import run_cli

    lst = scene["lst_1km"].isel(time=0, drop=True)
    truth = scene["lst_250m"].isel(time=0, drop=True)
    lst.rio.to_raster(tmp_path / "lst.tif")
    run_cli(capsys, "upscale", tmp_path / "lst.tif", tmp_path / "sr.nc")
    xr.concat([truth, truth * 0 + 1], dim="band").assign_coords(band=[1, 2]).rio.to_raster(
        tmp_path / "ref.tif")
    with rasterio.open(tmp_path / "ref.tif", "r+") as dst:
        dst.units = ("K", "")
    code, err = run_cli(capsys, "evaluate", tmp_path / "sr.nc", tmp_path / "ref.tif",
                        tmp_path / "s.csv", "--reference-band", "1")
    assert code == 0, err
    code, err = run_cli(capsys, "evaluate", tmp_path / "sr.nc", tmp_path / "ref.tif",
                        tmp_path / "t.csv", "--reference-band", "3")
    assert code == 2 and "--reference-band 1 to 2" in err and "`--band" not in err


def test_minor_messages_of_the_review(scene, capsys):
    """`--nodata -inf` read as a missing argument; a lon/lat guide's reprojection note in
    metres; truth_maps with a result without a CRS failed with rioxarray's MissingCRS."""
    pytest.importorskip("matplotlib")
    from xlstsr import plot
    from xlstsr.cli import build_parser

    assert build_parser().parse_args(["upscale", "a.tif", "b.zarr", "--nodata", "-inf"]).nodata \
        == -np.inf
    lst = scene["lst_1km"].isel(time=0, drop=True)
    geo = lst.rio.reproject("EPSG:4326")
    ndvi = scene["ndvi_250m"].rio.reproject("EPSG:4326", resolution=0.0013)
    with pytest.warns(errors.GuideAlignmentWarning, match="degree instead of") as rec:
        xlstsr.upscale(geo, 4, "dms", guide=ndvi)
    assert not any(" m instead of" in str(w.message) for w in rec)
    sr = xlstsr.upscale(lst, 4, "bicubic")
    with pytest.raises(errors.GridError, match=r"results\['b'\] has no CRS"):
        plot.truth_maps(lst, {"b": sr.drop_vars("spatial_ref")},
                        scene["lst_250m"].isel(time=0, drop=True))


def test_a_guide_step_all_cloud_is_said(scene):
    """A daily guide all NaN on a clear LST day: disr ran from a constant fill guide (up to
    9 K off its guided result) without a word."""
    lst = scene["lst_1km"].isel(time=[0, 1])
    guide = xr.concat([scene["ndvi_250m"], scene["ndvi_250m"].where(False)], dim="time")
    guide = guide.assign_coords(time=lst.time.values)
    with pytest.warns(UserWarning, match=r"no valid pixel at step\(s\) \[1\] of 2 where the LST"):
        xlstsr.upscale(lst, 4, "disr", guide=guide)
    import warnings

    cloudy = lst.copy()
    cloudy[1] = np.nan  # the same cloud over both: NaN anyway, nothing to say
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        xlstsr.upscale(cloudy, 4, "disr", guide=guide)
    assert not any("no valid pixel at step" in str(w.message) for w in rec)


def test_an_empty_dataset_reference_keeps_its_message(scene):
    sr = xlstsr.upscale(scene["lst_1km"], 4, "bicubic")
    with pytest.raises(errors.VariableNotFoundError, match="no data variable"):
        xlstsr.evaluate(sr, xr.Dataset())


def test_dataset_evaluate_takes_the_reference_by_name():
    """`ds.lstsr.evaluate("lst_night", variable="lst_day")` was refused as "LST needs its grid";
    a Dataset reference was told to use `ds.lstsr.upscale(variable=...)`."""
    from xlstsr.datasets import modis_sample

    ds = modis_sample(chunks=False).isel(time=[0])
    by_name = ds.lstsr.evaluate("lst_night", variable="lst_day")
    direct = xlstsr.evaluate(ds["lst_day"], ds["lst_night"])
    xr.testing.assert_allclose(by_name, direct)
    with pytest.raises(errors.VariableNotFoundError, match="not a variable of the Dataset"):
        ds.lstsr.evaluate("lst_evening", variable="lst_day")
    with pytest.raises(errors.VariableNotFoundError, match=r"reference Dataset .*reference=ds\["):
        ds["lst_day"].lstsr.evaluate(ds)
