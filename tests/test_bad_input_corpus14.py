"""Fourteenth round of bad inputs (session 17): the readers (Landsat MTL groups, MODIS COG
stacks, STAC hrefs and bboxes, truncated files) and a review of round 13's own changes.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401
import xarray as xr
import zarr
from affine import Affine

import xlstsr
from xlstsr import errors
from xlstsr.io import open_cog, open_stac, to_cogs
from xlstsr.io.landsat import read_mtl

P = "LC08_L2SP_044034_20230815_20230822_02_T1_"
# the relevant groups of a Collection 2 Level-2 MTL, in their real order: REFLECTANCE_* twice
MTL = f"""GROUP = LANDSAT_METADATA_FILE
  GROUP = PRODUCT_CONTENTS
    LANDSAT_PRODUCT_ID = "{P.rstrip('_')}"
  END_GROUP = PRODUCT_CONTENTS
  GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS
    REFLECTANCE_MULT_BAND_4 = 2.75E-05
    REFLECTANCE_MULT_BAND_5 = 2.75E-05
    REFLECTANCE_ADD_BAND_4 = -0.200000
    REFLECTANCE_ADD_BAND_5 = -0.200000
  END_GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS
  GROUP = LEVEL2_SURFACE_TEMPERATURE_PARAMETERS
    TEMPERATURE_MULT_BAND_ST_B10 = 0.00341802
    TEMPERATURE_ADD_BAND_ST_B10 = 149.0
  END_GROUP = LEVEL2_SURFACE_TEMPERATURE_PARAMETERS
  GROUP = LEVEL1_RADIOMETRIC_RESCALING
    REFLECTANCE_MULT_BAND_4 = 2.0000E-05
    REFLECTANCE_MULT_BAND_5 = 2.0000E-05
    REFLECTANCE_ADD_BAND_4 = -0.100000
    REFLECTANCE_ADD_BAND_5 = -0.100000
  END_GROUP = LEVEL1_RADIOMETRIC_RESCALING
END_GROUP = LANDSAT_METADATA_FILE
END
"""


def _write(path, values):
    t = Affine(30.0, 0, 500_000.0, 0, -30.0, 4_200_000.0)
    with rasterio.open(path, "w", driver="GTiff", height=values.shape[0], width=values.shape[1],
                       count=1, dtype="uint16", crs="EPSG:32611", transform=t) as dst:
        dst.write(values.astype("uint16"), 1)


def test_landsat_level2_reflectance_from_its_own_group(tmp_path):
    """The Level-1 REFLECTANCE_* later in the MTL won: every NDVI 0.49 for 0.69."""
    shape, red, nir = (8, 8), 0.05, 0.27
    _write(tmp_path / f"{P}ST_B10.TIF", np.full(shape, round((300.0 - 149.0) / 0.00341802)))
    _write(tmp_path / f"{P}SR_B4.TIF", np.full(shape, round((red + 0.2) / 2.75e-5)))
    _write(tmp_path / f"{P}SR_B5.TIF", np.full(shape, round((nir + 0.2) / 2.75e-5)))
    _write(tmp_path / f"{P}QA_PIXEL.TIF", np.full(shape, 1 << 6))
    (tmp_path / f"{P}MTL.txt").write_text(MTL)
    scene = xlstsr.io.open_landsat_c2l2(tmp_path)
    assert float(scene["ndvi"].mean()) == pytest.approx((nir - red) / (nir + red), abs=2e-3)
    assert float(scene["lst"].mean()) == pytest.approx(300.0, abs=0.01)
    mtl = tmp_path / f"{P}MTL.txt"
    assert read_mtl(mtl)["REFLECTANCE_MULT_BAND_4"] == "2.0000E-05"  # flattened: the last
    assert read_mtl(mtl, "LEVEL2_SURFACE_REFLECTANCE_PARAMETERS")["REFLECTANCE_ADD_BAND_4"] \
        == "-0.200000"


def test_modis_aster_arrays_takes_a_list_of_ids(shared_data):
    from xlstsr.datasets import modis_aster_arrays

    with pytest.raises(errors.InputTypeError, match="list of pair ids"):
        modis_aster_arrays("12", shared_data / "modis_aster")  # was pairs 001 and 002
    with pytest.raises(errors.XlstsrError, match="pair_ids is empty"):
        modis_aster_arrays([], shared_data / "modis_aster")


def _cogs(shared_data):
    return shared_data / "modis_h18v04_2020" / "cogs"


def test_day_and_night_cogs_are_not_one_series_and_modis_names_give_dates(shared_data):
    both = sorted(glob.glob(str(_cogs(shared_data) / "MOD11A1.A202000[56].*_LST_*_1km.tif")))
    with pytest.raises(errors.XlstsrError, match=r"different layers .*LST_Day_1km.*LST_Night_1km"):
        open_cog(both)
    day = [p for p in both if "Day" in p]
    cube = open_cog(day)
    assert [str(t)[:10] for t in cube["time"].values] == ["2020-01-05", "2020-01-06"]


def test_a_truncated_cog_is_named_when_opened(shared_data, tmp_path):
    src = sorted(_cogs(shared_data).glob("MOD11A1.*_LST_Day_1km.tif"))[0]
    cut = tmp_path / src.name
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    with pytest.raises(errors.XlstsrError, match=rf"{cut.name} is truncated"):
        open_cog(cut)
    assert open_cog(src).shape == (1200, 1200)  # whole files open as before


def _items(shared_data, n=2):
    import pystac

    paths = sorted(glob.glob(str(shared_data / "modis_h18v04_2020" / "items" / "MOD11A1*.json")))
    items = [pystac.Item.from_file(p) for p in paths]
    return [i for i in items if 250 in i.properties["subset:windows"]][:n]


def test_stackstac_reads_a_catalogues_relative_hrefs(shared_data, monkeypatch, tmp_path):
    pytest.importorskip("stackstac")
    monkeypatch.chdir(tmp_path)  # relative hrefs are the items', not the working folder's
    kw = dict(crs="EPSG:32633", resolution=1000, bbox=(200000, 4700000, 260000, 4760000))
    items = _items(shared_data)
    odc = open_stac(items, "LST_Day_1km", **kw).compute()
    st = open_stac(items, "LST_Day_1km", engine="stackstac", **kw).compute()
    np.testing.assert_allclose(st.values, odc.values, equal_nan=True)


def test_stac_item_dicts_with_relative_hrefs_and_a_bbox_in_metres(shared_data):
    items = _items(shared_data)
    dicts = [it.to_dict(include_self_link=False) for it in items]
    with pytest.raises(errors.XlstsrError, match=r"relative href .* no location"):
        open_stac(dicts, "LST_Day_1km")
    with pytest.raises(errors.XlstsrError, match=r"is not in degrees.*lon/lat"):
        open_stac(items, "LST_Day_1km", crs="EPSG:4326", resolution=0.01,
                  bbox=(948864.4, 4729496.2, 1008168.5, 4788800.2))


# -- round 13's own changes, reviewed ----------------------------------------------------------

def _field(n=16, seed=0):
    v = (300 + np.random.default_rng(seed).standard_normal((n, n))).astype("float32")
    return xr.DataArray(v, dims=("y", "x"), attrs={"units": "K"}, name="lst", coords={
        "y": 5e6 - 250 * (np.arange(n) + 0.5), "x": 250 * (np.arange(n) + 0.5),
    }).rio.write_crs("EPSG:32631")


def test_text_labels_that_look_like_numbers_or_years_stay_labels(tmp_path):
    sr = xr.concat([_field(seed=i) for i in range(3)], "time")
    paths = to_cogs(sr.assign_coords(time=["007", "2020", "1e3"]), tmp_path)
    assert [p.name for p in paths] == ["lst_007.tif", "lst_2020.tif", "lst_1e3.tif"]
    assert list(open_cog(paths)["time"].values) == ["007", "2020", "1e3"]


def test_a_rasters_own_band_numbers_are_not_written_as_dates(tmp_path):
    from xlstsr.cli import main

    bands = xr.concat([_field(seed=i) for i in range(2)], "band").assign_coords(band=[1, 2])
    bands.rio.to_raster(tmp_path / "lst.tif")
    assert main(["upscale", str(tmp_path / "lst.tif"), str(tmp_path / "sr.tif"), "--quiet"]) == 0
    assert open_cog(tmp_path / "sr.tif").dims == ("band", "y", "x")


def test_files_of_several_dated_bands_stack_along_time(tmp_path):
    from xlstsr.cli import main

    days = np.array(["2020-07-01", "2020-07-02", "2020-07-03", "2020-07-04"], "datetime64[ns]")
    cube = xr.concat([_field(seed=i) for i in range(4)], "time").assign_coords(time=days)
    for k, part in enumerate((cube.isel(time=[0, 1]), cube.isel(time=[2, 3]))):
        part.to_dataset().to_netcdf(tmp_path / f"p{k}.nc")
        assert main(["upscale", str(tmp_path / f"p{k}.nc"), str(tmp_path / f"p{k}.tif"),
                     "--quiet"]) == 0
    both = open_cog([tmp_path / "p0.tif", tmp_path / "p1.tif"])
    assert list(both["time"].values) == list(days)
    with pytest.raises(errors.XlstsrError, match="several dated steps each"):
        open_cog([tmp_path / "p0.tif", tmp_path / "p1.tif"], times=[0, 1])


def test_a_store_that_is_an_array_of_its_own_is_overwritten(tmp_path):
    store = tmp_path / "a.zarr"
    zarr.save_array(str(store), np.zeros((4, 4)))  # nobody's variable: a store
    lst = xr.concat([_field(seed=i) for i in range(2)], "time")
    xlstsr.upscale_to_zarr(lst, store, 4, mode="w", progress=False)
    assert zarr.open_group(store).attrs["xlstsr_status"] == "complete"


def test_an_interrupted_template_puts_the_earlier_store_back(tmp_path, monkeypatch):
    lst = xr.concat([_field(seed=i) for i in range(2)], "time")
    store = tmp_path / "sr.zarr"
    xlstsr.upscale_to_zarr(lst, store, 4, progress=False)
    before = xr.open_zarr(store, consolidated=False)["lst"].values
    orig = xr.Dataset.to_zarr

    def interrupted(self, *a, **k):
        orig(self, *a, **k)
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.Dataset, "to_zarr", interrupted)
    with pytest.raises(KeyboardInterrupt):
        xlstsr.upscale_to_zarr(lst + 1, store, 4, mode="w", progress=False)
    monkeypatch.undo()
    assert not [p for p in os.listdir(tmp_path) if "replaced" in p]
    np.testing.assert_array_equal(xr.open_zarr(store, consolidated=False)["lst"].values, before)


def test_a_lat_lon_file_to_tif(tmp_path):
    from xlstsr.cli import main

    n = 16
    da = xr.DataArray((300 + np.random.default_rng(0).standard_normal((n, n))).astype("f4"),
                      dims=("lat", "lon"), name="lst", attrs={"units": "K"},
                      coords={"lat": 40.3 - 0.01 * (np.arange(n) + 0.5),
                              "lon": 10 + 0.01 * (np.arange(n) + 0.5)}).rio.write_crs(4326)
    da.to_dataset().to_netcdf(tmp_path / "lst.nc")
    assert main(["upscale", str(tmp_path / "lst.nc"), str(tmp_path / "sr.tif"), "--quiet"]) == 0
    assert Path(tmp_path / "sr.tif").exists() and open_cog(tmp_path / "sr.tif").shape == (64, 64)
