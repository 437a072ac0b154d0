"""corpus33g: to_cogs names of integer labels, open_cog order of tagged files, input TIFFTAG_*
not copied, lossy/8-bit codecs refused on float LST, dated .tif bands described by date."""

import glob
import os
import subprocess
import sys

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

import xlstsr
from xlstsr.errors import XlstsrError
from xlstsr.io import open_cog, to_cogs


def _scene(n, size=16, seed=3):
    return xlstsr.datasets.sample_scene(n_times=n, size=size, seed=seed)["lst_1km"]


def test_to_cogs_zero_pads_integer_labels_and_a_sorted_glob_reads_them_in_order(tmp_path):
    da = _scene(12).rename(time="band").assign_coords(band=np.arange(1, 13))
    names = [p.name for p in to_cogs(da, tmp_path)]
    assert names == sorted(names)
    assert names[0] == "lst_1km_01.tif" and names[-1] == "lst_1km_12.tif"
    back = open_cog(sorted(glob.glob(str(tmp_path / "*.tif"))))
    assert list(back[back.dims[0]].values) == list(range(1, 13))
    np.testing.assert_array_equal(back.values, da.values)


def test_to_cogs_pads_day_of_year_labels_of_varying_width(tmp_path):
    doy = np.array([5, 40, 180])
    da = _scene(3).rename(time="doy").assign_coords(doy=doy)
    names = [p.name for p in to_cogs(da, tmp_path)]
    assert names == ["lst_1km_005.tif", "lst_1km_040.tif", "lst_1km_180.tif"]


def test_open_cog_sorts_files_by_their_tagged_dates_and_numbers(tmp_path):
    sc = _scene(3)
    paths = to_cogs(sc, tmp_path / "dates")
    back = open_cog([paths[2], paths[0], paths[1]])
    np.testing.assert_array_equal(back["time"].values, sc["time"].values)
    np.testing.assert_array_equal(back.values, sc.values)
    num = sc.rename(time="slot").assign_coords(slot=[30, 4, 17])
    p = to_cogs(num, tmp_path / "num")
    back = open_cog(p)  # written in the order 30, 4, 17
    assert list(back["time"].values) == [4, 17, 30]
    np.testing.assert_array_equal(back.sel(time=30).values, num.sel(slot=30).values)


def test_open_cog_keeps_the_files_order_for_text_labels(tmp_path):
    da = _scene(3).rename(time="pass").assign_coords(**{"pass": ["night", "day", "noon"]})
    back = open_cog(to_cogs(da, tmp_path))
    assert list(back["time"].values) == ["night", "day", "noon"]


def _tagged_tif(path):
    a = (290 + 3 * np.random.default_rng(0).standard_normal((32, 32))).astype("float32")
    with rasterio.open(path, "w", driver="GTiff", width=32, height=32, count=1,
                       dtype="float32", crs="EPSG:32631",
                       transform=from_origin(500000, 4e6, 1000, 1000)) as f:
        f.write(a, 1)
        f.update_tags(units="K", TIFFTAG_SOFTWARE="MATLAB 8.5",
                      TIFFTAG_DATETIME="2015:08:04 10:00:00",
                      TIFFTAG_IMAGEDESCRIPTION="MODIS 1 km LST, raw")


def test_upscale_drops_the_inputs_tifftags(tmp_path):
    src = tmp_path / "lst.tif"
    _tagged_tif(src)
    lst = open_cog(src)
    assert "TIFFTAG_SOFTWARE" in lst.attrs
    sr = xlstsr.upscale(lst, 2)
    assert not [k for k in sr.attrs if str(k).startswith("TIFFTAG_")]
    assert sr.attrs.get("units") == "K"
    p = to_cogs(sr, tmp_path / "cogs", prefix="sr")[0]
    with rasterio.open(p) as f:
        assert not [k for k in f.tags() if k.startswith("TIFFTAG_")]


@pytest.mark.parametrize("codec", ["JPEG", "WEBP", "jpeg"])
def test_to_cogs_refuses_an_8bit_codec_for_float_before_any_work(tmp_path, codec):
    sr = _scene(2).lstsr.upscale(2)  # lazy: nothing computed before the refusal
    with pytest.raises(XlstsrError, match="compress=") as err:
        to_cogs(sr, tmp_path / "out", compress=codec)
    msg = str(err.value)
    assert all(c in msg for c in ("DEFLATE", "ZSTD", "LZW", "LERC"))
    assert "free space" not in msg and "blocksize" not in msg
    assert not (tmp_path / "out").exists()


def test_to_cogs_jxl_refused_or_written_never_a_write_failure(tmp_path):
    try:
        paths = to_cogs(_scene(1), tmp_path / "out", compress="JXL")
    except XlstsrError as err:
        assert "compress=" in str(err) and "free space" not in str(err)
        assert not (tmp_path / "out").exists()
    else:  # a GDAL with the JPEG-XL codec: float32 written losslessly
        assert len(paths) == 1


def test_to_cogs_jpeg_still_writes_8bit_data(tmp_path):
    da = _scene(1).fillna(0).clip(0, 255).astype("uint8").rio.write_crs(_scene(1).rio.crs)
    da.attrs = {}
    paths = to_cogs(da, tmp_path, compress="JPEG")
    with rasterio.open(paths[0]) as f:
        assert f.compression.name.upper() == "JPEG"


def test_write_failure_advice_names_compress(tmp_path, monkeypatch):
    from rioxarray.raster_array import RasterArray

    from xlstsr.io import cog

    def fail(*a, **k):
        raise rasterio.errors.RasterioIOError("No space left on device")

    monkeypatch.setattr(RasterArray, "to_raster", fail)
    step = _scene(1).isel(time=0)
    with pytest.raises(XlstsrError, match="compress='ZSTD'"):
        cog._write_cog(step, tmp_path / "a.tif", step.rio.crs, step.rio.transform(), "ZSTD", {})


def test_cli_multidate_tif_bands_described_by_date_and_read_back(tmp_path):
    lst = _scene(3, size=32, seed=2)
    lst["time"] = lst["time"].values + np.timedelta64(10 * 3600 + 30 * 60, "s")  # 10:30 UTC
    src = tmp_path / "cube.nc"
    lst.to_netcdf(src)
    out = tmp_path / "sr.tif"
    r = subprocess.run([sys.executable, "-m", "xlstsr", "upscale", str(src), str(out), "--quiet"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    dates = [str(t)[:19] for t in lst.time.values]
    with rasterio.open(out) as f:
        assert list(f.descriptions) == dates
    back = open_cog(out)
    np.testing.assert_array_equal(back["time"].values, lst["time"].values)
    # the descriptions alone (the JSON tag dropped, as a GIS copy may) date the bands too
    with rasterio.open(out, "r+", IGNORE_COG_LAYOUT_BREAK="YES") as f:
        tags = f.tags()
        f.update_tags(time_per_band="")
        assert "time_per_band" in tags
    again = open_cog(out)
    np.testing.assert_array_equal(again["time"].values, lst["time"].values)
    assert os.path.getsize(out) > 0


def test_open_cog_band_of_a_mixed_units_stack_takes_its_own_units(tmp_path):
    """A K and degC stack: ``band=`` picked one band but kept both units (a tuple), so the
    advised ``--band 1`` / ``--truth-band 1`` was refused again for mixed units."""
    import rioxarray  # noqa: F401
    import xarray as xr

    from xlstsr.io import open_cog

    a = xr.DataArray(np.stack([np.full((8, 8), 300.0), np.full((8, 8), 27.0)]).astype("float32"),
                     dims=("band", "y", "x"),
                     coords={"band": [1, 2], "y": 7500.0 - 1000.0 * np.arange(8),
                             "x": 500.0 + 1000.0 * np.arange(8)}).rio.write_crs("EPSG:32631")
    path = tmp_path / "mixed.tif"
    a.rio.to_raster(path)
    with rasterio.open(path, "r+") as f:
        f.units = ("K", "degC")
    assert [open_cog(path, band=b).attrs["units"] for b in (1, 2)] == ["K", "degC"]
