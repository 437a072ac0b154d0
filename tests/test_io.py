"""Inputs and outputs: COG round trip with CRS, STAC items over local COGs (odc-stac, stackstac)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pystac
import pytest
import rioxarray
import xarray as xr
from helpers import make_lst
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


def _granule_sds(path, name):
    from pyhdf.SD import SD, SDC

    sd = SD(str(path), SDC.READ)
    try:
        return sd.select(name)[:]
    finally:
        sd.end()


@pytest.mark.parametrize("variable", ["LST_Day_1km", "LST_Night_1km"])
def test_open_modis_masks_fill_and_modland_qc(shared_data, variable):
    """The HDF reader against the product definition: DN x 0.02 K, fill 0, QC bits 0-1 (MODLAND)."""
    from xlstsr.datasets import open_mod11a1_granule
    from xlstsr.io import open_modis

    path = next((shared_data / "mod11a1_hdf").glob("MOD11A1*.hdf"))
    raw = _granule_sds(path, variable).astype(np.float64)
    qc = _granule_sds(path, variable.replace("LST_", "QC_").replace("_1km", ""))
    modland = qc.astype(np.uint8) % 4  # bits 0-1, decoded here by arithmetic
    for max_modland in (0, 1):
        expected = np.where((raw > 0) & (modland <= max_modland), raw * 0.02, np.nan)
        da = open_modis(path, variable, max_modland=max_modland)
        assert da.dtype == np.float32 and da.shape == (1200, 1200)
        np.testing.assert_array_equal(da.values, expected.astype(np.float32))
    assert np.isfinite(da.values).mean() < 0.5  # mostly cloud: the QC mask is doing work
    raw_da = open_modis(path, variable, decode=False)
    np.testing.assert_array_equal(raw_da.values, raw.astype(raw_da.dtype))
    np.testing.assert_array_equal(open_mod11a1_granule(variable, shared_data).values, da.values)
