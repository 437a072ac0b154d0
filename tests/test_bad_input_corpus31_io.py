"""Thirty-first round of bad inputs, I/O: temperature differences written as COGs, averaged COG
overviews, a GDAL-written Zarr's CRS, the advice for STAC .json files and date keywords, and the
date of one MODIS-named COG."""

from __future__ import annotations

import re

import numpy as np
import pystac
import pytest
import rasterio
import rioxarray
import xarray as xr
from rasterio.transform import from_origin

import xlstsr
from xlstsr import errors
from xlstsr.io import open_cog, open_path, open_stac, to_cogs
from xlstsr.qc import lst_error_k

H18V04 = "modis_h18v04_2020"


def _field(values: np.ndarray, units: str = "K") -> xr.DataArray:
    """A (y, x) float field on a small UTM grid, labelled ``units``."""
    t = from_origin(500000.0, 4200000.0, 1000.0, 1000.0)
    ny, nx = values.shape
    da = xr.DataArray(values, dims=("y", "x"),
                      coords={"y": t.f + t.e * (np.arange(ny) + 0.5),
                              "x": t.c + t.a * (np.arange(nx) + 0.5)},
                      name="lst", attrs={"units": units})
    return da.rio.write_crs("EPSG:32634").rio.write_transform(t)


def _code(message: str, needle: str) -> str:
    """The first `...` snippet of ``message`` that holds ``needle``."""
    return next(c for c in re.findall(r"`([^`]+)`", message) if needle in c)


# 1. to_cogs and temperature differences ---------------------------------------------------------

def test_to_cogs_writes_marked_temperature_differences(tmp_path):
    rng = np.random.default_rng(0)
    lst = _field(290.0 + 5.0 * rng.standard_normal((2, 16, 16)).cumsum(axis=0)[-1])
    diff = lst - float(lst.mean())  # sr - truth: xarray keeps units 'K'
    assert diff.attrs["units"] == "K"
    with pytest.raises(errors.PhysicalRangeError) as err:  # unmarked: may be Celsius in K
        to_cogs(diff, tmp_path / "unmarked")
    advice = _code(str(err.value), "units_metadata")
    exec(advice, {"da": diff})  # the advice, followed literally, marks it
    path = to_cogs(diff, tmp_path / "diff")[0]
    back = open_cog(path).compute()
    np.testing.assert_allclose(back.values, diff.values, atol=1e-5)
    assert back.attrs["units_metadata"] == "temperature: difference"
    # Celsius labelled K is still refused, with the Celsius advice kept
    with pytest.raises(errors.PhysicalRangeError, match="degC"):
        to_cogs(lst - 273.15, tmp_path / "celsius")


def test_lst_error_k_is_marked_and_written(tmp_path):
    qc = _field(np.array([[0b00000000, 0b01000000], [0b10000001, 0b00000010]] * 4,
                         dtype=np.uint8).repeat(8, axis=1), units="1")
    qc.attrs = {}
    err = lst_error_k(qc)
    assert err.attrs["units"] == "K"
    assert err.attrs["units_metadata"] == "temperature: difference"
    path = to_cogs(err, tmp_path)[0]  # was refused as Celsius labelled K
    with rasterio.open(path) as src:
        written = src.read(1)
    np.testing.assert_array_equal(written, err.values)


# 2. to_cogs overviews ---------------------------------------------------------------------------

def _ramp_with_gaps() -> xr.DataArray:
    rng = np.random.default_rng(1)
    v = 280.0 + rng.uniform(0.0, 30.0, (64, 64))
    v[rng.uniform(size=v.shape) < 0.1] = np.nan  # cloud gaps
    return _field(v)


def _overview(path) -> np.ndarray:
    with rasterio.open(path) as src:
        assert src.overviews(1), "no overviews written"
        return src.read(1, out_shape=(32, 32))


def test_to_cogs_overviews_are_block_means(tmp_path):
    lst = _ramp_with_gaps()
    ov = _overview(to_cogs(lst, tmp_path, blocksize=16)[0])
    blocks = lst.values.reshape(32, 2, 32, 2)
    valid = np.isfinite(blocks).any(axis=(1, 3))
    assert np.isfinite(ov[valid]).all()  # a gap does not spread over its neighbours
    with np.errstate(all="ignore"):
        mean = np.nanmean(blocks, axis=(1, 3))
    np.testing.assert_allclose(ov[valid], mean[valid], atol=1e-3)


def test_to_cogs_overview_resampling_given_wins(tmp_path):
    lst = _ramp_with_gaps()
    ov = _overview(to_cogs(lst, tmp_path, blocksize=16, overview_resampling="nearest")[0])
    blocks = lst.values.reshape(32, 2, 32, 2).transpose(0, 2, 1, 3).reshape(32, 32, 4)
    ok = np.isfinite(ov)
    # nearest: each overview pixel is one of its block's pixels (a mean mostly is none)
    assert np.all(np.any(np.isclose(blocks[ok], ov[ok][:, None], atol=1e-4), axis=1))


# 3. a Zarr store written by GDAL ----------------------------------------------------------------

def test_open_zarr_reads_gdal_crs_and_dims(tmp_path):
    if "Zarr" not in rasterio.drivers.raster_driver_extensions().values():
        with rasterio.Env() as env:
            if "Zarr" not in env.drivers():
                pytest.skip("this GDAL has no Zarr driver")
    lst = _field(290.0 + np.arange(256.0).reshape(16, 16) / 10)
    store = tmp_path / "g.zarr"
    with rasterio.open(store, "w", driver="Zarr", width=16, height=16, count=1,
                       dtype="float32", crs=lst.rio.crs, transform=lst.rio.transform(),
                       nodata=np.nan, FORMAT="ZARR_V2") as dst:
        dst.write(lst.values.astype("f4"), 1)
    da = open_path(store)["g"]
    assert da.dims == ("Y", "X")  # GDAL's names
    assert "_CRS" not in da.attrs
    assert da.rio.crs == lst.rio.crs
    assert da.rio.transform().almost_equals(lst.rio.transform())
    # no rename needed: Y/X are found as spatial dims, and the CRS travels
    sr = xlstsr.upscale(da.assign_attrs(units="K"), 2)
    assert sr.rio.crs == lst.rio.crs and sr.sizes["Y"] == 32


# 4. the advice for a STAC .json -----------------------------------------------------------------

def _followed(message: str) -> xr.DataArray:
    """Run the advice's open_stac snippet as pasted; return what open_stac returned."""
    code = _code(message, "open_stac").replace("xlstsr.io.open_stac", "out = xlstsr.io.open_stac")
    ns = {"pystac": pystac, "xlstsr": xlstsr}
    exec(code, ns)
    return ns["out"]


def test_json_catalog_advice_works_on_shared_catalog(shared_data):
    path = shared_data / H18V04 / "catalog.json"  # MOD11A1 and MOD13A2 items
    with pytest.raises(errors.XlstsrError) as err:
        open_path(path)
    lst = _followed(str(err.value))
    n = sum(1 for i in pystac.Catalog.from_file(str(path)).get_items(recursive=True)
            if i.id.startswith("MOD11A1"))
    assert lst.sizes["time"] == n


def test_json_item_advice_works_on_an_item_file(shared_data):
    path = next((shared_data / H18V04 / "items").glob("MOD11A1.*.json"))
    with pytest.raises(errors.XlstsrError) as err:
        open_path(path)
    assert "Catalog.from_file" not in str(err.value)
    lst = _followed(str(err.value))
    assert lst.sizes["time"] == 1


# 5. open_stac's date keywords -------------------------------------------------------------------

@pytest.fixture(scope="module")
def window_items(shared_data):
    cat = pystac.Catalog.from_file(str(shared_data / H18V04 / "catalog.json"))
    return [i for i in cat.get_items(recursive=True)
            if i.collection_id.startswith("modis-11A1") and 231 in i.properties["subset:windows"]]


BBOX = (889560.415814, 4788800.238461, 948864.443535, 4848104.266182)


@pytest.mark.parametrize("engine", ["odc", "stackstac"])
@pytest.mark.parametrize(("kw", "month"), [
    ({"datetime": "2020-04"}, {4}),
    ({"time": ("2020-04-01", "2020-04-30")}, {4}),
    ({"datetime": "2020-06-01T00:00:00Z/2020-08-31T23:59:59Z"}, {6, 7, 8}),  # STAC's, zoned
    ({"start": "2020-10-01"}, {10, 11, 12}),  # open at the end
    ({"end_date": "2020-02-29"}, {1, 2}),  # open at the start
])
def test_open_stac_date_keywords_advice_picks_dates(window_items, kw, month, engine):
    items = window_items
    wanted = [i for i in items if i.datetime.month in month]
    assert wanted and len(wanted) < len(items)
    with pytest.raises(errors.XlstsrError) as err:
        open_stac(items, "LST_Day_1km", bbox=BBOX, engine=engine, **kw)
    msg = str(err.value)
    # after loading: the .sel the advice gives, with the dates asked for
    sel = re.search(r"\.sel\(time=slice\(([^)]*)\)\)", _code(msg, ".sel(")).group(1)
    lazy = eval(f"open_stac(items, 'LST_Day_1km', bbox=BBOX).sel(time=slice({sel}))",
                {"open_stac": open_stac, "items": items, "BBOX": BBOX})
    assert lazy.sizes["time"] == len(wanted)


# 6. one MODIS-named COG -------------------------------------------------------------------------

def test_open_cog_one_modis_named_file_combines_with_another_date(tmp_path):
    # a path alone is not dated by its name (a scalar date made an LST and a guide layer of
    # another date conflict in one Dataset: review31a 04); a list of one is, as documented
    lst = _field(np.full((16, 16), 290.0))
    names = ["MOD11A1.A2020011.h18v04.061_LST_Day_1km.tif",
             "MOD13A2.A2020003.h18v04.061_nir.tif"]
    for n in names:
        lst.rio.to_raster(tmp_path / n)  # no time tag: dated by the name only
    one = open_cog(tmp_path / names[0])
    assert one.dims == ("y", "x") and "time" not in one.coords
    ds = xr.Dataset({"lst": one, "nir": open_cog(tmp_path / names[1])})
    assert set(ds.data_vars) == {"lst", "nir"}
    listed = open_cog([tmp_path / names[0]])
    assert listed["time"].values[0] == np.datetime64("2020-01-11", "ns")
    assert rioxarray  # registers .rio


# 7. open_stac's refusal of items without the asset (corpus31d 02) ------------------------------

def test_open_stac_missing_asset_advice_lists_no_asset_of_other_items(shared_data):
    cat = pystac.Catalog.from_file(str(shared_data / H18V04 / "catalog.json"))
    items = list(cat.get_items(recursive=True))  # MOD11A1 and MOD13A2 items
    with pytest.raises(errors.XlstsrError) as err:
        open_stac(items, "LST_Day_1km")
    msg = str(err.value)
    # no asset list that holds the asset asked for, or assets some items lack
    assert "their assets are" not in msg
    listed = msg.split("every item has:")[1] if "every item has:" in msg else ""
    assert all(name in i.assets for name in re.findall(r"'(\w+)'", listed) for i in items)
    ns = {"items": items}
    exec("items = " + _code(msg, "in i.assets"), ns)
    lst = open_stac(ns["items"], "LST_Day_1km")
    assert lst.sizes["time"] == sum(1 for i in items if "LST_Day_1km" in i.assets)


def test_open_stac_asset_no_item_has_lists_theirs(window_items):
    with pytest.raises(errors.XlstsrError, match=r"pass one of the assets they have: \[.*'LST_Night_1km'"):
        open_stac(window_items, "ndvi")
