"""Provenance of stacked files and QC choices of raw reads (findings 36a)."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401  (the .rio accessor)
import xarray as xr


@pytest.fixture(scope="module")
def granule(shared_data):
    pytest.importorskip("pyhdf", reason="pyhdf is not installed: no HDF4 reader")
    return next((shared_data / "mod11a1_hdf").glob("MOD11A1*.hdf"))


def _sds(path, name):
    from pyhdf.SD import SD, SDC

    sd = SD(str(path), SDC.READ)
    try:
        return sd.select(name)[:]
    finally:
        sd.end()


def test_open_modis_decode_false_applies_an_explicit_qc_as_fill(granule):
    from xlstsr.io import open_modis

    stored = _sds(granule, "LST_Day_1km")
    modland = _sds(granule, "QC_Day") & 3
    raw = open_modis(granule, decode=False, max_modland=0, qc="QC_Day")
    assert raw.dtype == stored.dtype  # still the stored integers
    np.testing.assert_array_equal(raw.values, np.where(modland <= 0, stored, 0))
    assert raw.attrs["qc"] == "QC_Day MODLAND bits 0-1 <= 0"
    assert raw.attrs["_FillValue"] == 0 and "scale_factor" in raw.attrs
    # the same pixels as the decoded read with the same choice
    decoded = open_modis(granule, max_modland=0)
    np.testing.assert_array_equal(raw.values > 0, decoded.notnull().values)
    # max_modland alone masks with the automatic QC layer
    np.testing.assert_array_equal(open_modis(granule, decode=False, max_modland=0).values,
                                  raw.values)
    # no QC choice: the stored integers as they are
    plain = open_modis(granule, decode=False)
    np.testing.assert_array_equal(plain.values, stored)
    assert "qc" not in plain.attrs
    np.testing.assert_array_equal(open_modis(granule, decode=False, qc=None, max_modland=0)
                                  .values, stored)


def _cog(path, day, granule_id, windows, value):
    da = xr.DataArray(np.full((32, 32), value, np.float32), dims=("y", "x"),
                      coords={"y": 1000.0 - np.arange(32) * 10.0, "x": np.arange(32) * 10.0})
    da = da.rio.write_crs("EPSG:32631")
    da.attrs = {"units": "K", "source": "the same archive", "source_granule": granule_id,
                "windows": windows}
    da.rio.to_raster(path, driver="COG")
    return path


@pytest.fixture()
def two_files(tmp_path):
    a = _cog(tmp_path / "MOD11A1.A2020001.h18v04.061_LST_Day_1km.tif", 1,
             "MOD11A1.A2020001.h18v04.061.2021003092415.hdf", "15,16", 300.0)
    b = _cog(tmp_path / "MOD11A1.A2020002.h18v04.061_LST_Day_1km.tif", 2,
             "MOD11A1.A2020002.h18v04.061.2021003094902.hdf", "17", 290.0)
    return a, b


def test_open_cog_stack_keeps_only_common_attrs_and_each_files_source(two_files):
    from xlstsr.io import open_cog

    a, b = two_files
    cube = open_cog([b, a])  # listed out of order: stacked in date order
    assert cube.attrs["units"] == "K" and cube.attrs["source"] == "the same archive"
    assert "windows" not in cube.attrs  # one file's own, not the stack's
    assert cube.attrs["source_granule"] == (
        "MOD11A1.A2020001.h18v04.061.2021003092415.hdf, "
        "MOD11A1.A2020002.h18v04.061.2021003094902.hdf")
    assert float(cube.isel(time=0).mean()) == 300.0
    assert not any(str(c).startswith("_xlstsr") for c in cube.coords)


def test_to_cogs_writes_each_dates_own_granule(two_files, tmp_path):
    from xlstsr.io import open_cog, to_cogs

    a, b = two_files
    tags = {}
    for f in (a, b):
        with rasterio.open(f) as r:
            tags[f] = r.tags()["source_granule"]
    cube = open_cog([b, a])
    out = to_cogs(cube, tmp_path / "out")
    for f, o in zip((a, b), out):
        with rasterio.open(o) as r:
            assert r.tags()["source_granule"] == tags[f]
    # one date taken from the stack: its own granule, by its date
    one = to_cogs(cube.isel(time=[1]), tmp_path / "one")
    with rasterio.open(one[0]) as r:
        assert r.tags()["source_granule"] == tags[b]
    assert cube.attrs["source_granule"].count(", ") == 1  # the caller's array is unchanged


def test_to_cogs_undated_stack_writes_no_granule_and_keeps_free_text_source(tmp_path):
    """Granules without a date in their names are not matched by position: the joined list
    does not follow a reordering of the steps (review 36c: isel(time=[1, 0]) tagged each
    file with the other's granule)."""
    from xlstsr.io import open_cog, to_cogs

    a = _cog(tmp_path / "a.tif", 1, "g1.hdf", "1", 300.0)
    b = _cog(tmp_path / "b.tif", 2, "g2.hdf", "2", 290.0)
    cube = open_cog([a, b])  # numbered steps 0, 1
    assert cube.attrs["source_granule"] == "g1.hdf, g2.hdf"
    cube.attrs["source"] = "ERA5, MODIS"  # free text, no list of files: written as it is
    out = to_cogs(cube.isel(time=[1, 0]), tmp_path / "out")
    for o in out:
        with rasterio.open(o) as r:
            assert "source_granule" not in r.tags()
            assert r.tags()["source"] == "ERA5, MODIS"


def test_open_cog_stack_keeps_units_spelled_otherwise_or_said_once(tmp_path):
    """Files whose units say one thing in two spellings, or only one file's: the stack kept
    none and upscale refused a Celsius stack as a class layer (review 36c)."""
    import xlstsr
    from xlstsr.io import open_cog

    s = xlstsr.datasets.sample_scene(n_times=2, size=32)["lst_1km"] - 273.15
    paths = []
    for i, units in enumerate(("degC", "Celsius")):
        p = tmp_path / f"lst_2020-07-0{i + 1}.tif"
        s.isel(time=i).assign_attrs(units=units).rio.to_raster(p)
        paths.append(p)
    cube = open_cog(paths)
    assert cube.attrs["units"] == "degC"
    sr = xlstsr.upscale(cube, 2, "bicubic")  # converted to Kelvin, as the same in Kelvin
    ref = xlstsr.upscale((cube + 273.15).assign_attrs(units="K"), 2, "bicubic")
    np.testing.assert_allclose(sr.values, ref.values, atol=1e-3)
