"""Twenty-fourth round of bad inputs, outputs: exact grids and dates through COGs and STAC,
the grid attributes of an upscaled field, Zarr-writable chunks, Zarr v2 inputs to the writer."""

from __future__ import annotations

import warnings

import cftime
import numpy as np
import pystac
import pytest
import rasterio
import rioxarray
import xarray as xr
from affine import Affine

import xlstsr
from xlstsr.grid import _transform as exact_transform
from xlstsr.io import open_cog, open_stac, to_cogs
from xlstsr.io.cog import _tagged_time, _time_tags, band_time_tags


@pytest.fixture(scope="module")
def modis():
    """Two steps of the embedded real MOD11A1 sample (64 x 64 at 1 km, sinusoidal)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xlstsr.datasets.modis_sample()["lst_day"].isel(time=slice(0, 2)).load()


# -- to_cogs writes the exact transform, not one rebuilt from the labels ---------------------

def test_to_cogs_round_trip_keeps_the_results_exact_labels(modis, tmp_path):
    """to_cogs wrote rioxarray's transform recomputed from the labels (1e-12 m off the exact
    926.625.../4): read back, 34 of 256 y labels were 1e-9 m off the result's, and `sr - back`
    kept 222 of 256 rows, silently."""
    sr = modis.lstsr.upscale(4)
    paths = to_cogs(sr, tmp_path)
    with rasterio.open(paths[0]) as src:
        assert tuple(src.transform)[:6] == tuple(sr.rio.transform())[:6]
    back = open_cog(paths)
    np.testing.assert_array_equal(back.y.values, sr.y.values)
    np.testing.assert_array_equal(back.x.values, sr.x.values)
    assert (sr - back).sizes["y"] == sr.sizes["y"] and (sr - back).sizes["x"] == sr.sizes["x"]
    # a 250 m file on the grid nested under the 1 km file (rioxarray's own writer, exact
    # transform) has the same labels
    t = modis.rio.transform()
    nested = xr.DataArray(np.zeros((256, 256), np.float32), dims=("y", "x")).rio.write_crs(
        modis.rio.crs).rio.write_transform(Affine(t.a / 4, 0, t.c, 0, t.e / 4, t.f))
    nested.rio.to_raster(tmp_path / "nested.tif", recalc_transform=False)
    other = rioxarray.open_rasterio(tmp_path / "nested.tif").squeeze("band", drop=True)
    np.testing.assert_array_equal(back.y.values, other.y.values)


def test_exact_transform_is_the_written_one_when_the_labels_agree(modis):
    """The helper the writers use: the written transform (upscale's exact one), not the one
    rioxarray recomputes from the labels; recomputed when the labels were moved."""
    sr = modis.lstsr.upscale(4)
    assert exact_transform(sr) == sr.rio.transform()
    assert exact_transform(sr) != sr.rio.transform(recalc=True)  # what was written before
    moved = sr.assign_coords(x=sr.x + 1000.0)
    assert exact_transform(moved).c == pytest.approx(sr.rio.transform().c + 1000.0)


# -- open_stac keeps the items' own pixel grid ----------------------------------------------

#: a MODIS-like grid: the top edge 2e-9 pixel off a multiple of the pixel size (odc-stac
#: snapped the cube to the multiple, 2e-6 m north of the files' pixels)
_RES = 926.6254331391667
_T = Affine(_RES, 0.0, 0.0, 0.0, -_RES, 5559752.598833)
_SHAPE = (80, 80)


def _tif(path) -> str:
    a = (15000 + np.arange(_SHAPE[0] * _SHAPE[1]) % 500).reshape(_SHAPE).astype(np.uint16)
    with rasterio.open(path, "w", driver="GTiff", width=_SHAPE[1], height=_SHAPE[0], count=1,
                       dtype="uint16", crs="EPSG:32616", transform=_T, nodata=0) as dst:
        dst.write(a, 1)
    return str(path)


def _item(href, when) -> pystac.Item:
    it = pystac.Item.from_dict({
        "type": "Feature", "stac_version": "1.1.0", "id": f"lst-{when[:10]}", "geometry": None,
        "links": [],
        "properties": {"datetime": when, "proj:code": "EPSG:32616",
                       "proj:transform": list(_T)[:6], "proj:shape": list(_SHAPE)},
        "stac_extensions": ["https://stac-extensions.github.io/projection/v2.0.0/schema.json",
                            "https://stac-extensions.github.io/raster/v1.1.0/schema.json"],
        "assets": {}})
    it.add_asset("lst", pystac.Asset(href, media_type="image/tiff", roles=["data"],
                                     extra_fields={"raster:bands": [
                                         {"nodata": 0, "scale": 0.02, "unit": "K"}]}))
    return it


@pytest.mark.parametrize("engine", ["odc", "stackstac"])
@pytest.mark.parametrize("bbox", [None, (20000.3, 5500000.7, 50000.0, 5540000.0)])
def test_open_stac_cube_is_on_the_files_own_grid(tmp_path, engine, bbox):
    """open_stac's labels are the files' (open_cog of the same COG), to the last bit, and its
    values the same pixels: `lst - cog` kept no row."""
    href = _tif(tmp_path / "lst.tif")
    items = [_item(href, "2020-01-01T10:30:00Z"), _item(href, "2020-01-02T10:30:00Z")]
    lst = open_stac(items, "lst", bbox=bbox, engine=engine)
    cog = open_cog(href)
    win = cog.sel(y=lst.y, x=lst.x, method="nearest")
    np.testing.assert_array_equal(win.y.values, lst.y.values)
    np.testing.assert_array_equal(win.x.values, lst.x.values)
    step = lst.isel(time=0, drop=True)
    assert (step - cog).shape == step.shape
    np.testing.assert_allclose(step.values, win.values * 0.02, rtol=1e-6)
    t = lst.rio.transform()
    assert (t.a, t.e) == (_RES, -_RES)
    assert ((t.f - _T.f) / _RES) == pytest.approx(round((t.f - _T.f) / _RES), abs=1e-12)


def test_open_stac_modis_catalog_meets_open_cog(shared_data):
    """The README's call on the real MOD11A1 items: the cube's labels were 2e-6 m off the
    files', and `lst - cog` was empty."""
    cat = pystac.Catalog.from_file(str(shared_data / "modis_h18v04_2020" / "catalog.json"))
    items = [it for it in cat.get_items(recursive=True)
             if it.collection_id.startswith("modis-11A1") and 17 in it.properties["subset:windows"]]
    lst = open_stac(items[:2], "LST_Day_1km", bbox=(1008169, 5500449, 1067472, 5559752))
    cog = open_cog(sorted(items, key=lambda i: i.datetime)[0].assets["LST_Day_1km"]
                   .get_absolute_href()).squeeze(drop=True)
    step = lst.isel(time=0, drop=True)
    assert (step - cog).shape == step.shape == (64, 64)


# -- upscale does not keep the input's grid attributes ---------------------------------------

def test_upscale_drops_the_inputs_grid_attributes(s):
    """A reader's `resolution_m=280` stayed on the 70 m result (written into every file saved),
    and a legacy `transform` attr that rioxarray falls back to; coarsen drops them."""
    grid = {"resolution_m": 1000.0, "resolution": 1000.0, "res": (1000.0, 1000.0),
            "transform": (1000.0, 0.0, 0.0, 0.0, -1000.0, 0.0), "GeoTransform": "0 1000 0 0 0 -1000"}
    lst = s["lst_1km"].assign_attrs(source="MOD11A1", **grid)
    sr = xlstsr.upscale(lst, 4)
    assert not set(grid) & set(sr.attrs)
    assert sr.attrs["source"] == "MOD11A1"  # the field's own attributes stay


# -- a COG's time tag keeps the sub-seconds ------------------------------------------------

def test_cog_time_tags_keep_sub_seconds(s, tmp_path):
    """A Landsat scene dated 16:19:21.7917421 came back 16:19:21 (the tag cut to seconds):
    `coarse - back` was empty and `sel(time=back.time)` raised a KeyError."""
    times = np.array(["2015-08-04T16:19:21.791742100", "2015-08-20T16:19:21.5"],
                     dtype="datetime64[ns]")
    lst = s["lst_1km"].assign_coords(time=times)
    back = open_cog(to_cogs(lst, tmp_path))
    np.testing.assert_array_equal(back.time.values, times)
    assert (lst - back).sizes["time"] == 2
    assert _time_tags(times[1]) == {"time": "2015-08-20T16:19:21.5"}
    # whole seconds are written as before, and the tags of older files still read
    assert band_time_tags(np.array(["2020-07-01"], "datetime64[ns]")) == {
        "time": "2020-07-01T00:00:00"}
    assert _tagged_time({"time": "2020-07-01T10:30:00"}) == np.datetime64("2020-07-01T10:30")


def test_cftime_tags_keep_microseconds():
    """cftime dates were cut to 19 characters (isoformat()[:19]) and read back so."""
    d = cftime.datetime(2000, 2, 30, 10, 30, 21, 791742, calendar="360_day")
    tags = _time_tags(d)
    assert _tagged_time(tags) == d
    old = {"time": "2000-02-30T10:30:21", "time_calendar": "360_day"}  # an older file's
    assert _tagged_time(old) == d.replace(microsecond=0)


# -- the result's chunks are Zarr-writable -------------------------------------------------

def test_result_of_chunks_narrower_than_the_halo_is_zarr_writable(modis, tmp_path):
    """An input whose last chunk is narrower than the method's halo: the engine merged it into
    its neighbour's tile and output chunk, larger than the first, and `sr.to_zarr` raised
    "Final chunk of Zarr array must be the same size or smaller than the first"."""
    lazy = modis.chunk({"time": 1, "y": 7, "x": 13})
    sr = lazy.lstsr.upscale(4)
    for axis, size in ((-2, 7), (-1, 13)):
        ch = sr.chunks[axis]
        assert set(ch[:-1]) == {4 * size} and ch[-1] <= ch[0]
    sr.rename("lst").to_dataset().to_zarr(tmp_path / "sr.zarr", zarr_format=3,
                                          consolidated=False)
    ref = modis.lstsr.upscale(4)
    back = xr.open_zarr(tmp_path / "sr.zarr", consolidated=False)["lst"]
    np.testing.assert_array_equal(back.values, ref.values)
    out = xlstsr.upscale_to_zarr(lazy, tmp_path / "s2.zarr", factor=4, progress=False)
    np.testing.assert_array_equal(out.values, ref.values)


def test_engine_output_chunks_follow_the_split_input_chunks():
    """The array layer: a 1-pixel last chunk (narrower than bicubic's halo, 2) gives a 4-pixel
    last output chunk, not a merged 164-pixel one; values as whole-array inference."""
    import dask.array as dsa

    from xlstsr.engine import upscale_array
    from xlstsr.methods import get_method

    m = get_method("bicubic")
    a = 290.0 + np.random.default_rng(0).normal(0, 2, (1, 41, 41))
    out = upscale_array(m, dsa.from_array(a, chunks=(1, 40, 40)), None, 4, tile=None)
    assert out.chunks[1:] == ((160, 4), (160, 4))
    np.testing.assert_allclose(out.compute(), upscale_array(m, a, None, 4), rtol=0, atol=1e-4)


# -- upscale_to_zarr on a Zarr v2 input, and a template that cannot be written -------------

def test_upscale_to_zarr_on_a_zarr_v2_input(modis, tmp_path):
    """A cube read from a Zarr v2 store (most existing stores): its coordinates' numcodecs
    compressors went into the v3 template (zarr's raw TypeError), and a half-written store
    marked incomplete was left, which a resume could not complete."""
    modis.to_dataset().to_zarr(tmp_path / "v2.zarr", zarr_format=2, consolidated=True)
    cube = xr.open_zarr(tmp_path / "v2.zarr", decode_coords="all")["lst_day"]
    out = xlstsr.upscale_to_zarr(cube, tmp_path / "sr.zarr", factor=4, progress=False)
    np.testing.assert_array_equal(out.values, xlstsr.upscale(cube, 4).values)
    np.testing.assert_array_equal(out.time.values, modis.time.values)


def test_upscale_to_zarr_drops_the_results_storage_encodings(modis, tmp_path, monkeypatch):
    """The writer itself clears the storage encodings of the result's coordinates (an upscale
    that kept a v2 store's ones, as with_grid did, crashed the v3 template)."""
    import importlib

    import numcodecs

    up = importlib.import_module("xlstsr.upscale")  # the module (xlstsr.upscale is the function)

    modis.to_dataset().to_zarr(tmp_path / "v2.zarr", zarr_format=2, consolidated=True)
    cube = xr.open_zarr(tmp_path / "v2.zarr", decode_coords="all")["lst_day"]
    real = up.upscale

    def keeping(*args, **kwargs):
        sr = real(*args, **kwargs)
        for c in sr.coords:  # a v2 store's encodings, as an upscale keeping them gave
            sr[c].encoding.update(compressors=(numcodecs.Blosc(),), filters=(), chunks=(2,))
        sr.encoding.update(compressors=(numcodecs.Blosc(),), dtype="uint16", _FillValue=0)
        return sr

    ref = real(cube, 4).values
    monkeypatch.setattr(up, "upscale", keeping)
    out = xlstsr.upscale_to_zarr(cube, tmp_path / "sr.zarr", factor=4, progress=False)
    assert xr.open_zarr(tmp_path / "sr.zarr", consolidated=False).attrs["xlstsr_status"] == \
        "complete"
    np.testing.assert_array_equal(out.values, ref)
    assert cube["time"].encoding.get("compressors")  # the input's own are untouched


@pytest.mark.parametrize("before", ["none", "empty folder", "store"])
def test_a_template_that_fails_leaves_no_half_written_store(modis, tmp_path, monkeypatch,
                                                            before):
    """The template written in part, then an error: the store this call started is removed
    (an empty folder given stays, emptied); a store mode='w' replaces is put back; the error
    is the writer's own."""
    path = tmp_path / "sr.zarr"
    if before == "empty folder":
        path.mkdir()
    if before == "store":
        xlstsr.upscale_to_zarr(modis, path, factor=4, progress=False)
    real = xr.Dataset.to_zarr

    def half(self, *args, **kwargs):
        real(self, *args, **kwargs)  # metadata landed, then the failure
        raise TypeError("Expected a BytesBytesCodec. Got <class 'numcodecs.blosc.Blosc'>")

    monkeypatch.setattr(xr.Dataset, "to_zarr", half)
    with pytest.raises(TypeError, match="BytesBytesCodec"):
        xlstsr.upscale_to_zarr(modis + 1.0, path, factor=4, progress=False, mode="w")
    monkeypatch.undo()
    if before == "none":
        assert not path.exists()
    elif before == "empty folder":
        assert path.is_dir() and not any(path.iterdir())
    else:  # the earlier result, complete, as it was
        kept = xr.open_zarr(path, consolidated=False)
        assert kept.attrs["xlstsr_status"] == "complete"
        np.testing.assert_array_equal(kept["lst_day"].values, modis.lstsr.upscale(4).values)
    # a corrected rerun needs no mode="w"
    if before != "store":
        xlstsr.upscale_to_zarr(modis, path, factor=4, progress=False)


def test_open_stac_mixed_resolutions_on_the_finest_files_grid(tmp_path):
    """Assets of 1000 m and 500 m in one item: odc-stac loads them at 500 m, but the anchor
    was taken from the first (1000 m) asset: the cube came out 125 m off every file's grid
    (found in the review of session 23). The anchor is now the finest asset's."""
    import datetime as dt

    import pystac
    import rioxarray  # noqa: F401
    import xarray as xr
    from affine import Affine
    from pyproj import Transformer

    from xlstsr.io.stac import open_stac

    x0, y0 = 100250.0, 5000750.0

    def tif(path, res, n):
        t = Affine(res, 0, x0, 0, -res, y0)
        xs = x0 + (np.arange(n) + 0.5) * res
        ys = y0 - (np.arange(n) + 0.5) * res
        da = xr.DataArray((300 + np.random.default_rng(0).random((n, n))).astype("float32"),
                          dims=("y", "x"), coords={"y": ys, "x": xs})
        da.rio.write_crs("EPSG:32631").rio.write_transform(t).rio.to_raster(path)
        return list(t)[:6], xs

    ta, _ = tif(tmp_path / "coarse.tif", 1000.0, 16)
    tb, xb = tif(tmp_path / "fine.tif", 500.0, 32)
    tr = Transformer.from_crs(32631, 4326, always_xy=True)
    lo0, la0 = tr.transform(x0, y0 - 16000)
    lo1, la1 = tr.transform(x0 + 16000, y0)
    geom = {"type": "Polygon",
            "coordinates": [[[lo0, la0], [lo1, la0], [lo1, la1], [lo0, la1], [lo0, la0]]]}
    it = pystac.Item("i1", geometry=geom, bbox=[lo0, la0, lo1, la1],
                     datetime=dt.datetime(2020, 1, 1), properties={"proj:epsg": 32631},
                     stac_extensions=[
                         "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
                         "https://stac-extensions.github.io/raster/v1.1.0/schema.json"])
    for key, t, n in (("coarse", ta, 16), ("fine", tb, 32)):
        it.add_asset(key, pystac.Asset(str(tmp_path / f"{key}.tif"), extra_fields={
            "proj:transform": t, "proj:shape": [n, n], "raster:bands": [{"unit": "K"}]}))
    ds = open_stac([it], ["coarse", "fine"])
    x = ds.x.values
    assert float(x[1] - x[0]) == 500.0
    assert np.isin(x, xb).all()
