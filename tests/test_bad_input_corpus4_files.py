"""Bad inputs, fourth round: real files of ../shared/data opened as a naive user would (notes:
/work/notes/audit4_files.md). Before its fix each case gave a silent wrong result (scaling
statistics of digital numbers, a 1 x 1 STAC cube from a resolution in the wrong units, Kelvin
truncated to whole degrees, a COG whose tags decode its Kelvin to 6 K, an evaluation threshold
in Celsius ignored, an RMSE of 1e35 from one float32 fill pixel), a raw error (odc-stac's
AssertionError, a hang, pandas' AttributeError, StopIteration, KeyError) or a misleading message
(an ASTER fill of 0 reported as fields that hardly correlate). Now each is an error that names
the problem and the fix.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rioxarray
import xarray as xr

import xlstsr
from xlstsr import errors


def _open(path: Path, **kw) -> xr.DataArray:
    return rioxarray.open_rasterio(path, **kw).squeeze("band", drop=True)


@pytest.fixture(scope="module")
def h18v04_dn(shared_data: Path) -> xr.DataArray:
    """Window 15 of the MOD11A1 COG of 2020-01-01 as stored (uint16 DN), attributes dropped as
    a user who rebuilds the array does."""
    f = shared_data / "modis_h18v04_2020/cogs/MOD11A1.A2020001.h18v04.061_LST_Day_1km.tif"
    da = _open(f).isel(y=slice(0, 64), x=slice(960, 1024))
    return da.drop_attrs().rio.write_crs(da.rio.crs)


@pytest.fixture(scope="module")
def pair001(shared_data: Path) -> dict[str, xr.DataArray]:
    d = shared_data / "modis_aster"
    lst = _open(d / "001_modis_lst_1km.tif")
    return {"lst": lst, "aster": _open(d / "001_aster_lst_250m.tif"),
            "sr": xlstsr.upscale(lst, 4)}


# -- scaling_stats -------------------------------------------------------------------------------

def test_scaling_stats_refuses_unlabelled_digital_numbers(h18v04_dn):
    # before: statistics of the DN field (structure function 2500x the Kelvin one), silently
    with pytest.raises(errors.ScaledIntegerError, match=r"scale_factor=0.02.*radiometric=False"):
        xlstsr.scaling_stats(h18v04_dn)
    st = xlstsr.scaling_stats(h18v04_dn, radiometric=False)  # digital numbers studied as such
    assert np.isfinite(st.hurst).all()


def test_scaling_stats_refuses_unlabelled_celsius(shared_data):
    sev = rioxarray.open_rasterio(shared_data / "seviri_athens/LSALST_20180819_Athens_15min.tif",
                                  masked=True)
    sev = sev.rename(band="time").isel(time=slice(40, 42))
    # fill masked by hand, attributes dropped: degrees Celsius without units, all above 0 (the
    # radiometric check of values <= 0 let it through)
    sev = sev.where(sev != -80).drop_attrs().rio.write_crs(sev.rio.crs)
    with pytest.raises(errors.UnitsError, match=r"degC.*radiometric=False"):
        xlstsr.scaling_stats(sev, lags=[1, 2], factors=[1, 2])


# -- evaluate / estimate_offset / coregister -----------------------------------------------------

@pytest.mark.parametrize("kw", [{"valid_min": -43.15}, {"valid_max": 50}])
def test_evaluate_refuses_thresholds_in_celsius(pair001, kw):
    # before: valid_min=-43.15 (230 K in Celsius) kept every cold cloud pixel (RMSE 14.6 K
    # instead of 3.7 K) without a word; valid_max=50 reported "no valid pixel"
    with pytest.raises(errors.XlstsrError, match=r"not a temperature in Kelvin.*273.15"):
        xlstsr.evaluate(pair001["sr"], pair001["aster"], reference_scale=0.1,
                        reference_nodata=0, erode=3, **kw)


def test_evaluate_refuses_an_undeclared_float32_fill_pixel(shared_data):
    d = shared_data / "yanco_modis_landsat"
    modis = _open(d / "MOD11A1_LST_cloudrm_20160205.tif")
    landsat = _open(d / "Landsat_LST_cloudrm_20160205.tif")  # one pixel of -3.4e38 (declared)
    sr = xlstsr.upscale(modis.coarsen(y=10, x=10).mean(), 10)
    ok = xlstsr.evaluate(sr, landsat)  # the file declares its fill: decoded as a gap
    assert float(ok.rmse) < 5
    stripped = landsat.drop_attrs().rio.write_crs(landsat.rio.crs)  # the declaration lost
    # before: RMSE 8.5e35 K, silently
    with pytest.raises(errors.UndeclaredFillError, match=r"1 reference pixel.*reference_nodata="):
        xlstsr.evaluate(sr, stripped)
    fill = float(np.asarray(landsat.values).min())
    by_nodata = xlstsr.evaluate(sr, stripped, reference_nodata=fill)
    assert float(by_nodata.rmse) == pytest.approx(float(ok.rmse))
    assert float(xlstsr.evaluate(sr, stripped, valid_min=230).rmse) == pytest.approx(
        float(ok.rmse))


def test_evaluate_coregister_names_the_masking_and_the_cli_flag(pair001):
    k = (pair001["aster"].where(pair001["aster"] > 0) * 0.1).assign_attrs(units="K")
    # before: "the fields do not match ... cover the same ground and date" only; since
    # session 44 the resampled 200 K fill band is named first, with its masking
    with pytest.raises(errors.UndeclaredFillError, match=r"valid_min=201, erode=3, clear=True"):
        xlstsr.evaluate(pair001["sr"], k, coarse=pair001["lst"], coregister=True)
    with pytest.raises(errors.XlstsrError, match="--coarse"):
        xlstsr.evaluate(pair001["sr"], k, coregister=True)
    ev = xlstsr.evaluate(pair001["sr"], k, coarse=pair001["lst"], coregister=True, erode=3,
                         valid_min=230, clear=True)
    # the masking it names works: the co-registered score is below the displaced one's
    as_given = xlstsr.evaluate(pair001["sr"], k, coarse=pair001["lst"], erode=3, valid_min=230,
                               clear=True)
    assert float(ev.rmse) < float(as_given.rmse)
    assert 1 < float(ev.rmse) < 4


def test_estimate_offset_names_an_undeclared_fill_of_the_fine_field(pair001):
    # before: CoregistrationError "the fields hardly correlate ... same ground and date"
    with pytest.raises(errors.UndeclaredFillError, match=r"holds 0 on 29%.*fine.where\(fine != 0\)"):
        xlstsr.estimate_offset(pair001["aster"], pair001["lst"])
    with pytest.raises(errors.UndeclaredFillError, match="holds 0"):
        xlstsr.coregister(pair001["aster"], pair001["lst"])


def test_estimate_offset_refuses_an_lst_resampled_onto_the_fine_grid(shared_data):
    d = shared_data / "yanco_modis_landsat"
    modis = _open(d / "MOD11A1_LST_cloudrm_20160205.tif")  # MODIS in 10 x 10 blocks at 100 m
    landsat = _open(d / "Landsat_LST_cloudrm_20160205.tif")
    # before: CoregistrationError "best shift at the search bound ... uncertainty inf"
    with pytest.raises(errors.GridError, match=r"blocks of 10 x 10.*coarsen\(y=10, x=10\)"):
        xlstsr.estimate_offset(landsat, modis)


# -- readers -------------------------------------------------------------------------------------

def test_landsat_and_desirex_readers_name_what_is_missing(shared_data):
    from xlstsr.io.landsat import open_desirex, open_landsat8_l1

    # before: a bare StopIteration (no MTL file) and FileNotFoundError "missing ..."
    with pytest.raises(errors.InputNotFoundError, match="MTL"):
        open_landsat8_l1(shared_data / "modis_aster")
    with pytest.raises(errors.InputNotFoundError, match=r"LST_100m.img"):
        open_desirex(shared_data / "madrid_desirex", resolution=30)
    with pytest.raises(FileNotFoundError):  # still a FileNotFoundError
        open_desirex(shared_data / "landsat8_gulf_l1")


def test_ecostress_scene_by_file_name_and_unknown_keys(shared_data):
    from xlstsr.datasets import ecostress_scenes, open_ecostress_scene

    scenes = ecostress_scenes(shared_data)
    key = scenes.index[0]
    by_name = open_ecostress_scene(scenes["file"].iloc[0], shared_data)  # before: raw KeyError
    assert by_name.attrs["key"] == key
    with pytest.raises(errors.VariableNotFoundError, match=r"doy key.*known: " + key):
        open_ecostress_scene("nope", shared_data)
    # before: pandas' AttributeError "Can only use .str accessor with string values!"
    with pytest.raises(errors.InputNotFoundError, match="no ECOSTRESS scene in"):
        ecostress_scenes(shared_data / "modis_aster")


# -- open_stac on the shared catalog ---------------------------------------------------------------

@pytest.fixture(scope="module")
def stac15(shared_data: Path):
    pystac = pytest.importorskip("pystac")
    pytest.importorskip("odc.stac")
    cat = pystac.Catalog.from_file(str(shared_data / "modis_h18v04_2020/catalog.json"))
    items = [i for i in cat.get_items(recursive=True)
             if i.id.startswith("MOD11A1") and 15 in i.properties["subset:windows"]][:1]
    px = 926.6254331
    return items, (960 * px, 5559752.598833 - 64 * px, 1024 * px, 5559752.598833)


@pytest.mark.parametrize("kw, match", [
    # before: a 1 x 1 all-NaN cube, upscaled without a word
    ({"crs": "EPSG:4326", "resolution": 1000, "bbox": (12.3, 49.5, 13.3, 50.0)},
     r"single pixel.*degrees \(1 km is about 0.009"),
    ({"resolution": 1e6}, "single pixel"),
    # before: a hang (7e6 x 6e6 pixels)
    ({"crs": "EPSG:32633", "resolution": 0.01, "bbox": (380000, 5480000, 450000, 5540000)},
     r"7e\+06 x 6e\+06 pixels.*metres"),
    ({"resolution": 0}, r"resolution must be a finite number > 0"),  # before: AssertionError
    # before: Kelvin truncated to whole degrees (uint16), wrapped to 14-19 "K" (int8)
    ({"dtype": "uint16"}, r"truncated to whole\s+degrees.*decode=False"),
    ({"dtype": "int8"}, "cannot hold decoded values"),
    ({"chunks": {"x": 0}}, r"chunks\['x'\]"),  # before: ZeroDivisionError
    ({"bbox": ("0", "1", "2", "3")}, "bbox value"),  # before: TypeError
])
def test_open_stac_refuses_options_that_load_a_wrong_cube(stac15, kw, match):
    items, box = stac15
    kw = {"bbox": box, **kw}
    with pytest.raises(errors.XlstsrError, match=match):
        xlstsr.io.open_stac(items, "LST_Day_1km", **kw)


def test_open_stac_refuses_an_empty_asset_list(stac15):
    items, box = stac15
    # before: "odc-stac could not load the items ... need the projection extension"
    with pytest.raises(errors.XlstsrError, match="assets is an empty list"):
        xlstsr.io.open_stac(items, [], bbox=box)
    ok = xlstsr.io.open_stac(items, "LST_Day_1km", bbox=box, dtype="float64")
    assert ok.sizes["x"] == 64 and 260 < float(ok.mean()) < 300


# -- to_cogs: a writer of LST must not write tags that decode its values wrong --------------------

def _cogs_in(d: Path) -> list[str]:
    return sorted(p.name for p in d.glob("*.tif")) if d.exists() else []


def test_to_cogs_refuses_kelvin_that_kept_a_products_scale(pair001, tmp_path):
    sr = pair001["sr"].assign_attrs(scale_factor=0.02, _FillValue=0)  # attrs of the DN kept
    # before: written; read back with mask_and_scale=True it was 6.3 K
    with pytest.raises(errors.PhysicalRangeError, match=r"decode them to 6.26 K.*pop\('scale_factor"):
        xlstsr.io.to_cogs(sr, tmp_path / "a")
    assert _cogs_in(tmp_path / "a") == []
    lazy = xr.concat([sr, sr + 1], "time").assign_coords(
        time=np.array(["2020-07-01", "2020-07-02"], "datetime64[ns]")).chunk({"time": 1})
    with pytest.raises(errors.PhysicalRangeError, match=r"lst_2020-07-01\.tif"):
        xlstsr.io.to_cogs(lazy, tmp_path / "b", prefix="lst")
    assert _cogs_in(tmp_path / "b") == []


@pytest.mark.parametrize("shift, units, match", [
    (-273.15, "K", r"look like degrees Celsius.*'degC'"),  # before: Celsius tagged K
    (0.0, "degC", r"look like Kelvin.*'K'"),
])
def test_to_cogs_refuses_mislabelled_units(pair001, tmp_path, shift, units, match):
    da = (pair001["sr"] + shift).assign_attrs(units=units)
    with pytest.raises(errors.PhysicalRangeError, match=match):
        xlstsr.io.to_cogs(da, tmp_path)
    assert _cogs_in(tmp_path) == []


def test_to_cogs_writes_celsius_labelled_degc_and_reads_it_back_as_kelvin(pair001, tmp_path):
    sr = pair001["sr"]
    (path,) = xlstsr.io.to_cogs((sr - 273.15).assign_attrs(units="degC"), tmp_path)
    back = xlstsr.validate.decode_lst(xlstsr.io.open_cog(path)).compute()
    np.testing.assert_allclose(back.values, sr.values, atol=1e-3)
    # digital numbers with their scale: written as stored, decoded by readers
    dn = (sr / 0.02).round().astype("uint16").assign_attrs(
        units="K", scale_factor=0.02, add_offset=0.0).rio.write_crs(sr.rio.crs)
    (p2,) = xlstsr.io.to_cogs(dn, tmp_path, prefix="dn")
    back = _open(p2, mask_and_scale=True)
    np.testing.assert_allclose(back.values, sr.values, atol=0.011)


# -- readers: where an input of another kind goes ---------------------------------------------------

def test_open_cog_sends_hdf_and_wildcards_to_the_right_reader(shared_data):
    hdf = next((shared_data / "mod11a1_hdf").glob("*.hdf"))
    # before: "cannot read ... as a GeoTIFF (not recognized ...); a NetCDF or Zarr file opens
    # with xr.open_dataset"
    with pytest.raises(errors.XlstsrError, match=r"HDF4 file.*open_modis"):
        xlstsr.io.open_cog(hdf)
    pattern = str(shared_data / "modis_h18v04_2020/cogs/MOD11A1.A2020*Day_1km.tif")
    with pytest.raises(errors.InputNotFoundError, match=r"does not expand\s+wildcards.*glob"):
        xlstsr.io.open_cog(pattern)
    with pytest.raises(errors.InputNotFoundError, match="wildcards are not expanded"):
        xlstsr.io.open_path(pattern)


@pytest.mark.parametrize("name, match", [("madrid_desirex/LST_100m.img", "open_cog"),
                                         ("modis_h18v04_2020/catalog.json", "open_stac")])
def test_open_path_names_the_reader_of_other_inputs(shared_data, name, match):
    with pytest.raises(errors.XlstsrError, match=match):
        xlstsr.io.open_path(shared_data / name)


# -- command line ------------------------------------------------------------------------------------

def test_cli_scale_for_files_without_scale_metadata(shared_data, tmp_path, capsys):
    from xlstsr.cli import main

    f = shared_data / "modis_croatia_8day/LST2006_07_12.LST_Day_1km.tif"  # uint16 DN, no tags
    out = tmp_path / "cr.tif"
    # before: the only advice was Python's `da.attrs.update(scale_factor=0.02)`: no flag did it
    assert main(["upscale", str(f), str(out), "--factor", "2", "--nodata", "0"]) == 2
    assert "--scale 0.02`) if they are MODIS LST digital numbers" in capsys.readouterr().err
    assert main(["upscale", str(f), str(out), "--factor", "2", "--nodata", "0",
                 "--scale", "0.02"]) == 0
    sr = _open(out, masked=True)
    assert 280 < float(sr.median()) < 320
    day = shared_data / "modis_h18v04_2020/cogs/MOD11A1.A2020001.h18v04.061_LST_Day_1km.tif"
    assert main(["upscale", str(day), str(tmp_path / "t.tif"), "--scale", "0.02"]) == 2
    assert "declares scale_factor=0.02 already" in capsys.readouterr().err


def test_open_modis_pattern_without_granules(shared_data):
    # before: a bare FileNotFoundError (not an XlstsrError: the CLI printed a traceback)
    with pytest.raises(errors.InputNotFoundError, match="no MODIS granule matches"):
        xlstsr.io.open_modis(str(shared_data / "mod11a1_hdf/MOD11A2*.hdf"))


def test_evaluate_refuses_an_undeclared_fill_pixel_of_a_lazy_reference(shared_data, tmp_path,
                                                                     capsys):
    from xlstsr.cli import main

    d = shared_data / "yanco_modis_landsat"
    modis = _open(d / "MOD11A1_LST_cloudrm_20160205.tif")
    landsat = _open(d / "Landsat_LST_cloudrm_20160205.tif")
    stripped = landsat.drop_attrs().rio.write_crs(landsat.rio.crs)
    sr = xlstsr.upscale(modis.coarsen(y=10, x=10).mean(), 10)
    lazy = xlstsr.evaluate(sr, stripped.chunk({"y": 100, "x": 100}))  # nothing computed yet
    with pytest.raises(errors.UndeclaredFillError, match="no temperature after decoding"):
        lazy.compute()
    # the command line opens the reference lazily: the same refusal, one line, exit 2
    sr.rio.to_raster(tmp_path / "sr.tif")
    stripped.rio.to_raster(tmp_path / "ref.tif")  # no nodata tag
    assert main(["evaluate", str(tmp_path / "sr.tif"), str(tmp_path / "ref.tif"),
                 str(tmp_path / "m.csv")]) == 2
    assert "--reference-nodata" in capsys.readouterr().err
    assert not (tmp_path / "m.csv").exists()


def test_scaling_stats_refuses_an_ndvi_that_inherited_a_band_scale(shared_data):
    cogs = shared_data / "modis_h18v04_2020/cogs"
    w = {"y": slice(0, 64), "x": slice(960, 1024)}
    lst = _open(cogs / "MOD11A1.A2020001.h18v04.061_LST_Day_1km.tif",
                mask_and_scale=True).isel(**w)
    red = _open(cogs / "MOD13A2.A2020001.h18v04.061_red.tif").isel(**w).astype(float)
    nir = _open(cogs / "MOD13A2.A2020001.h18v04.061_nir.tif").isel(**w).astype(float)
    ndvi = ((nir - red) / (nir + red)).rename("ndvi")  # keeps nir's scale_factor 0.0001
    assert ndvi.attrs.get("scale_factor") == 0.0001
    # before: guide_slope -26782 K per NDVI unit instead of -2.68, silently
    with pytest.raises(errors.GuideScaleError, match=r"10000x too small.*pop\('scale_factor'\)"):
        xlstsr.scaling_stats(lst, ndvi)
    for k in ("scale_factor", "add_offset", "_FillValue"):
        ndvi.attrs.pop(k, None)
    assert -10 < float(xlstsr.scaling_stats(lst, ndvi).guide_slope[0]) < 0


def test_cli_train_names_the_flags_that_declare_a_file(shared_data, tmp_path, capsys):
    from xlstsr.cli import main

    sev = shared_data / "seviri_athens/LSALST_20180819_Athens_15min.tif"  # fill -80, degC
    assert main(["train", "--lst", str(sev), "--mode", "sisr", "--arch", "rescnn", "--factor",
                 "2", "--patch", "8", "--epochs", "1", "--out", str(tmp_path / "s.pt")]) == 2
    err = capsys.readouterr().err
    # round 4: train had no --nodata, so the hint named a file fix; round 5 gave it the flags
    assert "--nodata -80" in err and not (tmp_path / "s.pt").exists()


# -- reader and writer options ------------------------------------------------------------------------

@pytest.mark.parametrize("chunks", [0, {"x": 0}, {"x": -5}, "abc"])
def test_open_cog_and_open_modis_refuse_chunk_sizes(shared_data, chunks):
    cog = shared_data / "modis_h18v04_2020/cogs/MOD11A1.A2020001.h18v04.061_LST_Day_1km.tif"
    # before: dask's ZeroDivisionError, or "cannot read ... as a GeoTIFF ... complete file?"
    with pytest.raises(errors.XlstsrError, match=r"chunks.* must be a whole number >= 1"):
        xlstsr.io.open_cog(cog, chunks=chunks)
    if chunks != "abc":
        with pytest.raises(errors.XlstsrError, match=r"chunks.* must be a whole number >= 1"):
            xlstsr.io.open_modis(next((shared_data / "mod11a1_hdf").glob("*.hdf")),
                                 chunks=chunks)
    assert xlstsr.io.open_cog(cog, chunks={"x": "8MiB", "y": -1}).shape == (1200, 1200)


@pytest.mark.parametrize("kw, match", [({"max_modland": 5}, "0 to 3"),
                                       ({"max_modland": -1}, "max_modland"),
                                       ({"decode": "no"}, "True or False")])
def test_open_modis_refuses_options_out_of_range(shared_data, kw, match):
    # before: -1 masked every pixel, 5 was taken as 3, "no" decoded
    with pytest.raises(errors.XlstsrError, match=match):
        xlstsr.io.open_modis(next((shared_data / "mod11a1_hdf").glob("*.hdf")), **kw)


def test_to_cogs_refuses_bad_creation_options(pair001, tmp_path):
    # before: an unknown compression wrote uncompressed files; blocksize 7 raised GDAL's own
    # CPLE_AppDefinedError
    with pytest.raises(errors.XlstsrError, match="not a COG compression"):
        xlstsr.io.to_cogs(pair001["sr"], tmp_path, compress="BOGUS")
    with pytest.raises(errors.XlstsrError, match=r"GDAL could not write.*blocksize=7"):
        xlstsr.io.to_cogs(pair001["sr"], tmp_path, blocksize=7)
    assert _cogs_in(tmp_path) == []


def test_scaling_stats_takes_lat_lon_dims(shared_data):
    from xlstsr.datasets import ecostress_scenes, open_ecostress_scene

    key = ecostress_scenes(shared_data).index[1]
    eco = open_ecostress_scene(key, shared_data).isel(lat=slice(0, 256), lon=slice(0, 256))
    # before: NoSpatialDimsError "the entry points rename them" (scaling_stats did not)
    st = xlstsr.scaling_stats(eco)
    assert np.isfinite(float(st.hurst)) and st.lag_m.attrs["units"] == "degree"


def test_estimate_offset_and_coregister_take_lat_lon_dims(shared_data):
    from xlstsr.datasets import ecostress_scenes, open_ecostress_scene

    key = ecostress_scenes(shared_data).index[1]
    # its own EPSG:4326 grid, dims lat/lon (a 25 x 25 km crop: the whole scene takes minutes)
    eco = open_ecostress_scene(key, shared_data).isel(lat=slice(300, 700), lon=slice(600, 1000))
    coarse = open_ecostress_scene(key, shared_data, resolution=1120)
    # before: NoSpatialDimsError "the entry points rename them" (estimate_offset did not)
    moved = xlstsr.coregister(eco, coarse)  # estimate_offset, then the move
    est = json.loads(moved.attrs["xlstsr_coregistration"])
    assert est["reliable"] == [True] and max(abs(est["shift_x"][0]), abs(est["shift_y"][0])) < 35
    assert moved.dims == eco.dims and moved.shape == eco.shape
