"""Inputs and outputs: COG round trip with CRS, STAC items (local COGs, the shared MODIS catalog),
MODIS HDF4 granules (pyhdf), Zarr outputs to COGs."""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pystac
import pytest
import rioxarray
import xarray as xr
from helpers import dated_granule_copy, make_lst
from pyproj import CRS
from pystac.extensions.projection import ProjectionExtension

import xlstsr
from xlstsr.errors import XlstsrError
from xlstsr.grid import MODIS_SINUSOIDAL
from xlstsr.io import open_cog, open_stac, to_cogs


@pytest.fixture
def utm_cube():
    rng = np.random.default_rng(0)
    v = rng.uniform(280, 320, (3, 12, 10)).astype(np.float32)
    v[1, 2:5, 3:6] = np.nan
    da = make_lst(v, units="K")
    return da.assign_coords(
        time=np.array(["2020-01-01", "2020-01-02", "2020-01-03"], "datetime64[ns]")
    )


def _items(paths, da, *, epsg=None, wkt=None):
    items = []
    t = da.rio.transform()
    for i, p in enumerate(paths):
        it = pystac.Item(
            id=f"lst-{i}",
            geometry=None,
            bbox=None,
            properties={},
            datetime=dt.datetime(2020, 1, 1 + i, tzinfo=dt.timezone.utc),
        )
        pe = ProjectionExtension.ext(it, add_if_missing=True)
        if epsg:
            pe.code = f"EPSG:{epsg}"  # pystac 1.15 writes proj:code, not proj:epsg
        else:
            pe.wkt2 = wkt
        pe.shape = [da.sizes["y"], da.sizes["x"]]
        pe.transform = [t.a, t.b, t.c, t.d, t.e, t.f]
        it.add_asset("lst", pystac.Asset(href=str(p), media_type=pystac.MediaType.COG))
        items.append(it)
    return items


def test_cog_round_trip_keeps_values_crs_and_transform(tmp_path, utm_cube):
    paths = to_cogs(utm_cube, tmp_path, prefix="t")
    assert [p.name for p in paths] == ["t_2020-01-01.tif", "t_2020-01-02.tif", "t_2020-01-03.tif"]
    with rioxarray.open_rasterio(paths[0]) as r:  # a real COG, tiled
        assert r.rio.crs == utm_cube.rio.crs
    back = open_cog(paths, chunks={"x": 4, "y": 4}, times=utm_cube.time.values)
    assert back.chunks is not None
    assert back.rio.crs == utm_cube.rio.crs
    assert back.rio.transform() == utm_cube.rio.transform()
    np.testing.assert_array_equal(back.values, utm_cube.values)  # NaN included
    with pytest.raises(XlstsrError, match="exists"):
        to_cogs(utm_cube, tmp_path, prefix="t")


def test_cog_round_trip_modis_sinusoidal_super_resolved(tmp_path):
    scene = xlstsr.datasets.sample_scene(n_times=2, size=32)
    sr = xlstsr.upscale(scene["lst_1km"].chunk({"time": 1}), 4)
    paths = to_cogs(sr, tmp_path)
    back = open_cog(paths, chunks={}, times=sr.time.values)
    assert CRS.from_user_input(back.rio.crs).equals(CRS.from_user_input(MODIS_SINUSOIDAL))
    assert back.rio.transform().almost_equals(sr.rio.transform())
    np.testing.assert_array_equal(back.values, sr.values)
    single = open_cog(paths[0])
    assert single.dims == ("y", "x")


def test_stac_local_cogs_odc_with_modis_wkt(tmp_path):
    lst = xlstsr.datasets.sample_scene(n_times=2, size=32)["lst_1km"]
    paths = to_cogs(lst, tmp_path)
    wkt = CRS.from_user_input(MODIS_SINUSOIDAL).to_wkt()
    items = _items(paths, lst, wkt=wkt)
    da = open_stac(items, "lst", chunks={"time": 1, "x": 4, "y": 4})
    assert da.dims == ("time", "y", "x") and da.chunks[1] == (4, 4)
    np.testing.assert_array_equal(da.values, lst.values)
    assert CRS.from_user_input(da.rio.crs).equals(CRS.from_user_input(MODIS_SINUSOIDAL))
    assert da.rio.transform().almost_equals(lst.rio.transform())
    # explicit output CRS as a PROJ string (no EPSG code exists)
    da2 = open_stac(items, ["lst"], crs=MODIS_SINUSOIDAL, resolution=lst.rio.resolution()[0])
    assert da2.shape == lst.shape
    # and straight into the engine
    sr = xlstsr.upscale(da.assign_attrs(units="K"), 4)
    assert sr.shape == (2, 32, 32)


def test_stac_local_cogs_stackstac_epsg(tmp_path, utm_cube):
    paths = to_cogs(utm_cube, tmp_path)
    items = _items(paths, utm_cube, epsg=32631)
    assert "proj:epsg" not in items[0].properties
    for engine in ("stackstac", "odc"):
        da = open_stac(items, "lst", engine=engine, chunks={"time": 1, "x": 5, "y": 5})
        assert da.dims == ("time", "y", "x")
        assert da.rio.crs.to_epsg() == 32631
        np.testing.assert_array_equal(da.values, utm_cube.values)
        np.testing.assert_allclose(da.x.values, utm_cube.x.values)
    assert "proj:epsg" not in items[0].properties  # the user's items are not modified
    with pytest.raises(XlstsrError, match="odc"):
        open_stac(items, "lst", engine="stackstac", crs=MODIS_SINUSOIDAL)


def test_zarr_input_through_open_zarr(tmp_path, utm_cube):
    utm_cube.to_dataset(name="lst").to_zarr(tmp_path / "in.zarr", zarr_format=3, consolidated=False)
    ds = xr.open_zarr(tmp_path / "in.zarr", consolidated=False, decode_coords="all")
    assert ds.lst.rio.crs == utm_cube.rio.crs
    out = xlstsr.upscale_to_zarr(tmp_path / "in.zarr", tmp_path / "out.zarr", 2, progress=False)
    ref = xlstsr.upscale(utm_cube, 2)
    np.testing.assert_array_equal(out.values, ref.values)
    assert out.rio.crs == ref.rio.crs and out.rio.transform() == ref.rio.transform()


def test_to_cogs_of_an_upscale_to_zarr_output(tmp_path):
    """The Zarr store's _FillValue (encoding) does not clash with the GeoTIFF's nodata."""
    lst = xlstsr.datasets.sample_scene(n_times=2, size=32)["lst_1km"]
    out = xlstsr.upscale_to_zarr(lst, tmp_path / "sr.zarr", factor=4, progress=False)
    assert "_FillValue" in out.encoding
    paths = to_cogs(out, tmp_path / "cogs")
    back = open_cog(paths, times=out.time.values)
    np.testing.assert_array_equal(back.values, out.values)
    assert back.rio.transform().almost_equals(out.rio.transform())


# -- the shared MODIS STAC catalog (MOD11A1 uint16 DN x 0.02, nodata 0; MOD13A2 int16 x 1e-4) -----

H18V04 = "modis_h18v04_2020"
PIXEL = 926.6254331391667  # the tile's pixel size (m)
TOP = 5559752.598833  # the tile's upper edge (m)


def _catalog_items(root, collection, window, n):
    """The first ``n`` items of ``collection`` that hold 64 x 64 window ``window`` of the tile."""
    cat = pystac.Catalog.from_file(root / H18V04 / "catalog.json")
    items = [
        it
        for it in cat.get_items(recursive=True)
        if it.collection_id.startswith(collection) and window in it.properties["subset:windows"]
    ]
    return sorted(items, key=lambda it: it.datetime)[:n]


def _window_bbox(row, col):
    x0, y1 = col * 64 * PIXEL, TOP - row * 64 * PIXEL
    return (x0, y1 - 64 * PIXEL, x0 + 64 * PIXEL, y1)


def _cog_window(href, row, col):
    """The same window read independently: GDAL's own scale/offset/nodata decoding."""
    with rioxarray.open_rasterio(href, mask_and_scale=True) as r:
        win = r.isel(band=0, y=slice(row * 64, row * 64 + 64), x=slice(col * 64, col * 64 + 64))
        return win.values.astype(np.float64)


def test_open_stac_shared_catalog_decodes_raster_bands_into_upscale_to_zarr(shared_data, tmp_path):
    """The README workflow: a STAC catalog of MOD11A1 COGs -> open_stac -> upscale_to_zarr -> COGs."""
    items = _catalog_items(shared_data, "modis-11A1", 17, 2)  # window 17 = row 0, col 17
    assert items[0].assets["LST_Day_1km"].extra_fields["raster:bands"][0]["scale"] == 0.02
    lst = open_stac(items, "LST_Day_1km", bbox=_window_bbox(0, 17), chunks={"time": 1})
    assert lst.dims == ("time", "y", "x") and lst.shape == (2, 64, 64) and lst.chunks is not None
    assert lst.dtype == np.float32 and lst.attrs["units"] == "K"
    for i, it in enumerate(items):  # Kelvin, as GDAL decodes the same COG
        want = _cog_window(it.assets["LST_Day_1km"].get_absolute_href(), 0, 17)
        np.testing.assert_allclose(lst[i].values, want, rtol=0, atol=1e-4)
    assert 250 < float(lst.min()) and float(lst.max()) < 330
    # the stored integers with their CF attributes: the front door decodes them the same way
    raw = open_stac(items, "LST_Day_1km", bbox=_window_bbox(0, 17), decode=False)
    assert raw.dtype == np.uint16 and raw.attrs["scale_factor"] == 0.02
    assert raw.attrs["_FillValue"] == 0
    out = xlstsr.upscale_to_zarr(lst, tmp_path / "lst_250m.zarr", factor=4, progress=False)
    assert out.shape == (2, 256, 256) and out.rio.crs is not None
    np.testing.assert_allclose(out.values, xlstsr.upscale(raw, 4).values, rtol=0, atol=1e-3)
    np.testing.assert_allclose(float(out.rio.resolution()[0]) * 4, PIXEL)
    paths = to_cogs(out, tmp_path / "cogs")  # one COG per date, named by its datetime
    assert [p.name[:22] for p in paths] == ["LST_Day_1km_2020-01-01", "LST_Day_1km_2020-01-02"]


def test_open_stac_mod13a2_int16_fill_and_several_assets(shared_data):
    items = _catalog_items(shared_data, "modis-13A2", 17, 1)
    ds = open_stac(items, ["red", "nir"], bbox=_window_bbox(0, 17))
    assert set(ds.data_vars) == {"red", "nir"}
    want = _cog_window(items[0].assets["red"].get_absolute_href(), 0, 17)
    np.testing.assert_allclose(ds["red"][0].values, want, rtol=0, atol=1e-6)
    assert float(ds["red"].max()) < 1.0 and float(ds["red"].min()) > -0.01  # reflectance
    ndvi = (ds.nir - ds.red) / (ds.nir + ds.red)
    assert 0.2 < float(np.nanmedian(ndvi.values)) < 0.95


def test_open_stac_modifier_patches_hrefs_on_copies(shared_data, caplog):
    """A modifier (as planetary_computer.sign_inplace) rewrites hrefs; the caller's items stay."""
    items = [it.clone() for it in _catalog_items(shared_data, "modis-11A1", 17, 1)]
    real = items[0].assets["LST_Day_1km"].get_absolute_href()
    items[0].assets["LST_Day_1km"].href = "https://example.invalid/private/lst.tif"
    seen = []

    def sign(item):  # in place, returns None
        seen.append(item.id)
        item.assets["LST_Day_1km"].href = real

    with caplog.at_level(logging.INFO, logger="xlstsr"):
        lst = open_stac(items, "LST_Day_1km", bbox=_window_bbox(0, 17), modifier=sign)
    assert "decoding LST_Day_1km" in caplog.text  # logged, not printed
    assert seen == [items[0].id] and 250 < float(lst.mean()) < 330
    assert items[0].assets["LST_Day_1km"].href.startswith("https://example.invalid")

    def sign_copy(item):  # returns a new item
        new = item.clone()
        new.assets["LST_Day_1km"].href = real
        return new

    again = open_stac(items, "LST_Day_1km", bbox=_window_bbox(0, 17), modifier=sign_copy)
    np.testing.assert_array_equal(again.values, lst.values)


def test_open_stac_items_that_disagree_on_the_coding(shared_data):
    items = [it.clone() for it in _catalog_items(shared_data, "modis-11A1", 17, 2)]
    items[1].assets["LST_Day_1km"].extra_fields["raster:bands"][0]["scale"] = 0.01
    with pytest.raises(XlstsrError, match="disagree"):
        open_stac(items, "LST_Day_1km")


# -- MODIS HDF4 granules (pyhdf) ----------------------------------------------------------------


@pytest.fixture(scope="module")
def granule(shared_data):
    pytest.importorskip(
        "pyhdf", reason="pyhdf is not installed (pip install 'xlstsr[hdf]'): no HDF4 reader"
    )
    return next((shared_data / "mod11a1_hdf").glob("MOD11A1*.hdf"))


def _granule_sds(path, name):
    from pyhdf.SD import SD, SDC

    sd = SD(str(path), SDC.READ)
    try:
        return sd.select(name)[:]
    finally:
        sd.end()


@pytest.mark.parametrize("variable", ["LST_Day_1km", "LST_Night_1km"])
def test_open_modis_masks_fill_and_modland_qc(granule, shared_data, variable):
    """The HDF reader against the product definition: DN x 0.02 K, fill 0, QC bits 0-1 (MODLAND)."""
    from xlstsr.datasets import open_mod11a1_granule
    from xlstsr.io import open_modis

    raw = _granule_sds(granule, variable).astype(np.float64)
    qc = _granule_sds(granule, variable.replace("LST_", "QC_").replace("_1km", ""))
    modland = qc.astype(np.uint8) % 4  # bits 0-1, decoded here by arithmetic
    for max_modland in (0, 1):
        expected = np.where((raw > 0) & (modland <= max_modland), raw * 0.02, np.nan)
        da = open_modis(granule, variable, max_modland=max_modland)
        assert da.dtype == np.float32 and da.shape == (1200, 1200)
        np.testing.assert_array_equal(da.values, expected.astype(np.float32))
    assert np.isfinite(da.values).mean() < 0.5  # mostly cloud: the QC mask is doing work
    raw_da = open_modis(granule, variable, decode=False)
    np.testing.assert_array_equal(raw_da.values, raw.astype(raw_da.dtype))
    np.testing.assert_array_equal(open_mod11a1_granule(variable, shared_data).values, da.values)


def test_open_modis_is_lazy_dated_and_qc_layers_stay_raw(granule):
    from helpers import raise_if_computed

    from xlstsr.io import open_modis
    from xlstsr.qc import lst_error_k, modland, modland_mask

    with raise_if_computed():
        lst = open_modis(granule, chunks={"y": 600, "x": 600})
        qc = open_modis(granule, "QC_Day")  # the QC layer itself: never masked by QC
        good = modland_mask(qc, accept_other_quality=True, max_error_k=2)
        masked = lst.where(good)
        sr = lst.isel(y=slice(0, 128), x=slice(0, 128)).lstsr.upscale(4)
    assert lst.chunks == ((600, 600), (600, 600))
    assert str(lst.time.values)[:10] == "2019-11-01"  # A2019305 = 1 November 2019
    assert sr.shape == (512, 512) and "time" in sr.coords
    raw_qc = _granule_sds(granule, "QC_Day")
    assert qc.dtype == np.uint8
    np.testing.assert_array_equal(qc.values, raw_qc)
    for got, fn in ((good, None), (modland(qc), modland), (lst_error_k(qc), lst_error_k)):
        assert isinstance(got, xr.DataArray) and got.dims == ("y", "x") and got.rio.crs is not None
        if fn is not None:
            np.testing.assert_array_equal(got.values, fn(raw_qc))
    assert 0 < float(masked.notnull().mean()) <= float(lst.notnull().mean())


def test_open_modis_stacks_granules_along_time(granule, tmp_path):
    from xlstsr.io import open_modis

    names = ["MOD11A1.A2019307.h14v09.006.2019308000000.hdf", granule.name,
             "MOD11A1.A2019306.h14v09.006.2019307000000.hdf"]
    for n in names:  # copies dated as their names say (a renamed granule is refused)
        dated_granule_copy(granule, tmp_path / n)
    cube = open_modis(str(tmp_path / "MOD11A1.A2019*.hdf"), "LST_Night_1km")
    assert cube.dims == ("time", "y", "x") and cube.chunks is not None
    assert [str(t)[:10] for t in cube.time.values] == ["2019-11-01", "2019-11-02", "2019-11-03"]
    assert cube.rio.crs is not None and cube.rio.transform() == open_modis(granule).rio.transform()
    dated_granule_copy(granule, tmp_path / "MYD11A1.A2019306.h14v09.006.2019307000000.hdf")
    with pytest.raises(XlstsrError, match="share the date"):
        open_modis(sorted(tmp_path.glob("*.hdf")))
    with pytest.raises(FileNotFoundError, match="no MODIS granule matches"):
        open_modis(str(tmp_path / "MOD13*.hdf"))


def test_open_modis_refuses_what_is_not_hdf4(granule, tmp_path):
    from xlstsr.errors import VariableNotFoundError
    from xlstsr.io import open_modis

    fake = tmp_path / "MOD11A1.A2019305.h14v09.006.hdf"
    fake.write_bytes(b"not an HDF file at all")
    with pytest.raises(XlstsrError, match="not a readable HDF4 file"):
        open_modis(fake)
    with pytest.raises(VariableNotFoundError, match="LST_Day_1km"):
        open_modis(granule, "LST_Day")


def test_readme_stac_example_runs_on_the_shared_catalog(shared_data, tmp_path, monkeypatch):
    """The README's STAC example, as written, on the shared catalog (8 dates of one window)."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    code = next(b for b in blocks if "open_stac(items" in b)
    code = code.replace("../shared/data", str(shared_data))
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)
    lst, sr = ns["lst"], ns["sr"]
    assert lst.shape == (8, 64, 64) and lst.attrs["units"] == "K"
    assert 250 < float(lst.min()) and float(lst.max()) < 330 and not lst.isnull().any()
    assert sr.shape == (8, 256, 256) and sr.rio.crs is not None
    assert len(list((tmp_path / "lst_day_250m_cogs").glob("*.tif"))) == 8


def test_open_stac_refuses_a_bbox_beside_every_item(shared_data):
    # a box in the wrong units (lon/lat for sinusoidal metres) or beside the items loaded a cube
    # of NaN only; a box on the items still loads
    items = _catalog_items(shared_data, "modis-11A1", 17, 1)
    with pytest.raises(xlstsr.errors.NoOverlapError, match=r"meets none of the 1 items.*not "
                                                            r"longitude/latitude"):
        open_stac(items, "LST_Day_1km", bbox=(10.0, 44.0, 11.0, 45.0))
    far = _window_bbox(0, 17)
    with pytest.raises(xlstsr.errors.NoOverlapError):
        open_stac(items, "LST_Day_1km", bbox=(far[0] + 3e6, far[1], far[2] + 3e6, far[3]))
    assert open_stac(items, "LST_Day_1km", bbox=far).shape[-2:] == (64, 64)
