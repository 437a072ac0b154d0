"""Probe 52 R1 findings 1, 2, 9, 3, 4, 5 and probe 52 U findings 5, 6 (validate / open_stac
advice). A several-band GeoTIFF with its own wrong scale tag is given the rewrite command
again where the band read is known (every band read, or one band picked by ``--band`` told
by its values); each advice is followed as written and the values checked against the right
decoding."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import xarray as xr
from test_validate51 import _command, _dn, _profile, _upscale_error

from xlstsr.cli import main
from xlstsr.errors import XlstsrError

# -- R1/1: a several-band file with its own wrong tag ----------------------------------------


def _two_dates(path, descriptions=None):
    """Two MOD11A1-like bands (two dates) of uint16 DNs, both tagged 0.002 (MODIS's 0.02)."""
    import rasterio

    a, b = _dn(1), _dn(2) + 100
    with rasterio.open(path, "w", **_profile(2)) as f:
        f.write(a, 1)
        f.write(b, 2)
        f.scales = (0.002, 0.002)
        if descriptions:
            f.descriptions = descriptions
    return a, b


def test_every_band_read_gets_the_every_band_rewrite_and_it_runs(tmp_path, capsys):
    import rasterio

    a, b = _two_dates(tmp_path / "two.tif", ("2020-04-05", "2020-04-06"))
    msg = _upscale_error(tmp_path / "two.tif", tmp_path / "o.tif", capsys)
    # was "not given here: ... (`.sel(band=[n])`, or open_cog's `band=`)"
    assert "not given here" not in msg, msg
    subprocess.run(_command(msg), shell=True, check=True)
    with rasterio.open(tmp_path / "two_retagged.tif") as f:
        assert f.scales == (0.02, 0.02)
    out = tmp_path / "o.tif"
    assert main(["upscale", str(tmp_path / "two_retagged.tif"), str(out), "--factor", "2",
                 "--method", "bicubic", "--quiet"]) == 0
    with rasterio.open(out) as f:
        got = f.read(masked=True).astype(float)
    for band, dn in zip(got, (a, b)):
        assert abs(float(np.ma.median(band)) - float(np.median(dn * 0.02))) < 0.1


@pytest.mark.parametrize("descriptions", [None, ("LST_Day_1km", "LST_Day_1km")])
def test_band_picked_on_the_command_line_gets_its_own_rewrite(tmp_path, capsys,
                                                              descriptions):
    import rasterio

    _, b = _two_dates(tmp_path / "two.tif", descriptions)
    msg = _upscale_error(tmp_path / "two.tif", tmp_path / "o.tif", capsys, "--band", "2")
    assert "not given here" not in msg, msg
    subprocess.run(_command(msg), shell=True, check=True)
    with rasterio.open(tmp_path / "two_retagged.tif") as f:
        assert f.scales == (0.002, 0.02)  # only band 2, the one judged
    out = tmp_path / "o.tif"
    assert main(["upscale", str(tmp_path / "two_retagged.tif"), str(out), "--factor", "2",
                 "--method", "bicubic", "--quiet", "--band", "2"]) == 0
    with rasterio.open(out) as f:
        got = f.read(1, masked=True).astype(float)
    assert abs(float(np.ma.median(got)) - float(np.median(b * 0.02))) < 0.1


def test_a_band_dropped_from_a_bigger_array_still_gets_no_every_band_command(tmp_path):
    import rioxarray

    _two_dates(tmp_path / "two.tif")
    # one band of a stack whose other band holds the same values: which band it is cannot
    # be told, so no command that retags a band not judged
    da = rioxarray.open_rasterio(tmp_path / "two.tif", mask_and_scale=False)
    da = xr.concat([da.isel(band=0, drop=True)] * 2, "time").isel(time=0)
    with pytest.raises(XlstsrError) as err:
        da.lstsr.upscale(factor=2, method="bicubic")
    assert "f.count" not in str(err.value), str(err.value)


# -- R1/2: one step of a cube that reads as degrees Celsius ----------------------------------

def test_one_step_reading_as_celsius_gets_no_file_wide_advice_and_its_drop_runs():
    import pandas as pd

    dn = _dn(3)
    # step 1 MOD11A1 DNs, step 2 stored as DN // 10 under the same 0.02: reads 30 "K"
    da = xr.DataArray(np.stack([dn, dn // 10]), dims=("time", "y", "x"),
                      coords={"time": pd.to_datetime(["2020-04-05", "2020-04-06"]),
                              "y": 4500000.0 - 1000 * np.arange(64),
                              "x": 500000.0 + 1000 * np.arange(64)},
                      attrs={"scale_factor": 0.02}).rio.write_crs("EPSG:32631")
    with pytest.raises(XlstsrError) as err:
        da.lstsr.upscale(factor=2, method="bicubic")
    msg = str(err.value)
    assert "2020-04-06" in msg, msg
    # was "set da.attrs['scale_factor'] = 0.2" (or units degC) for the whole array: followed,
    # the good step was refused and advised dropped
    assert "scale_factor'] =" not in msg and "'units'] = 'degC'" not in msg, msg
    assert "drop_sel(time=['2020-04-06T00:00:00'])" in msg, msg
    out = da.drop_sel(time=["2020-04-06T00:00:00"]).lstsr.upscale(factor=2, method="bicubic")
    assert [str(t)[:10] for t in out["time"].values] == ["2020-04-05"]
    assert abs(float(out.median()) - float(np.median(dn * 0.02))) < 0.1


# -- R1/9: degrees Celsius' fills converted to Kelvin ----------------------------------------

@pytest.mark.parametrize("fill", [-80.0, 0.0])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_celsius_fill_converted_to_kelvin_on_a_few_pixels_is_refused(fill, dtype):
    from xlstsr.errors import UndeclaredFillError
    from xlstsr.validate import decode_lst

    c = _dn() * 0.02 - 273.15  # a summer scene, 27-43 degC
    c[:6, :6] = fill  # SEVIRI's -80 (or a tool's 0) on 36 of 4096 pixels, undeclared
    da = xr.DataArray((c + 273.15).astype(dtype), dims=("y", "x"), attrs={"units": "K"})
    k = da.values[0, 0]
    # was upscaled as 193.15 K / 273.15 K of temperature, smeared into its neighbours
    with pytest.raises(UndeclaredFillError, match="converted to Kelvin") as err:
        decode_lst(da)
    m = __import__("re").search(r"--nodata (\S+)` on the command line", str(err.value))
    assert m is not None, str(err.value)
    out = decode_lst(da.assign_attrs(_FillValue=float(m[1])))  # the advice followed
    assert int(np.isnan(out.values).sum()) == 36
    assert int(np.isnan(decode_lst(da.where(da != k)).values).sum()) == 36


def test_a_real_freezing_pixel_set_among_a_winter_scene_stays_data():
    from xlstsr.validate import decode_lst

    rng = np.random.default_rng(5)
    k = np.round(rng.normal(270.0, 2.0, (64, 64)), 2)  # a winter scene around 273 K
    k[:6, :6] = 273.15
    da = xr.DataArray(k, dims=("y", "x"), attrs={"units": "K"})
    assert int(np.isnan(decode_lst(da).values).sum()) == 0


# -- R1/3: Kelvin x 10 with an undeclared 0 fill ----------------------------------------------

def test_kelvin_x10_with_an_undeclared_zero_fill_is_offered_its_reading_first():
    from xlstsr.validate import decode_lst

    k = _dn() * 0.02 - 10.0  # a 290-306 K scene
    stored = np.round(k * 10).astype("float32")  # ASTER's K x 10, read as floats
    stored[:10, :12] = 0  # undeclared fill on 120 of 4096 pixels (2.9 %)
    da = xr.DataArray(stored, dims=("y", "x"))
    with pytest.raises(XlstsrError) as err:
        decode_lst(da)
    msg = str(err.value)
    # was only `scale_factor=0.01, units='degC'` (followed: 302 K for 291 K)
    m = __import__("re").search(r"values look scaled: `da\.attrs\.update\(([^)]*)\)`", msg)
    assert m is not None and m[1] == "scale_factor=0.1, _FillValue=0", msg
    assert "--scale 0.1 --nodata 0" in msg, msg
    out = decode_lst(da.assign_attrs(scale_factor=0.1, _FillValue=0))  # followed
    assert int(np.isnan(out.values).sum()) == 120
    assert abs(float(out.median()) - float(np.median(k))) < 0.1


# -- R1/4: open_stac under a tenfold scale typo in the items ----------------------------------

def test_open_stac_with_a_tenfold_items_scale_typo_is_told_the_scale_first(tmp_path):
    pytest.importorskip("odc.stac")
    import rasterio
    from helpers import utm33_cog_item
    from rasterio.transform import from_origin

    from xlstsr.io import open_stac

    items, dns = [], []
    for i in range(2):
        dn = _dn(10 + i)
        p = tmp_path / f"lst_{i}.tif"
        with rasterio.open(p, "w", driver="GTiff", height=64, width=64, count=1,
                           dtype="uint16", crs="EPSG:32633", nodata=0,
                           transform=from_origin(1000000, 5500000, 1000, 1000)) as d:
            d.write(dn[None])
        band = {"scale": 0.002, "offset": 0, "nodata": 0, "data_type": "uint16", "unit": "K"}
        items.append(utm33_cog_item(i, p, 64, band, [14, 44, 20, 49]))
        dns.append(dn)
    lst = open_stac(items, "LST")  # MOD11A1's 0.02 typed 0.002: 30 "K"
    with pytest.raises(XlstsrError) as err:
        lst.lstsr.upscale(factor=2, method="bicubic").compute()
    msg = str(err.value)
    # was "values look like degrees Celsius: set da.attrs['units'] = 'degC'" alone
    # (followed: 302.4 K for 292.5 K)
    assert "0.002 is 10 times too small" in msg, msg
    assert msg.index("times too small") < msg.index("'degC'"), msg
    out = (lst * 10).lstsr.upscale(factor=2, method="bicubic").compute()  # the advice
    assert abs(float(out.median()) - float(np.median(np.stack(dns)) * 0.02)) < 0.2


# -- R1/5: Landsat C2's scale as the file's own tag, without its offset -----------------------

def _c2l2_file(path, scale_tag):
    import rasterio

    k = _dn() * 0.02
    dn = np.round((k - 149.0) / 0.00341802).astype("uint16")
    with rasterio.open(path, "w", **_profile()) as f:
        f.write(dn, 1)
        if scale_tag:
            f.scales = (0.00341802,)
    return k


def test_c2l2_own_scale_tag_is_advised_the_offset_alone_and_it_runs(tmp_path, capsys):
    import rasterio

    k = _c2l2_file(tmp_path / "st.tif", True)
    msg = _upscale_error(tmp_path / "st.tif", tmp_path / "o.tif", capsys)
    # was `--scale 0.00341802 --offset 149 --nodata 0`, refused as declaring the scale twice
    m = __import__("re").search(r"\(`([^`]*)` on the command line", msg)
    assert m is not None and m[1] == "--offset 149 --nodata 0", msg
    out = tmp_path / "o.tif"
    assert main(["upscale", str(tmp_path / "st.tif"), str(out), "--factor", "2", "--method",
                 "bicubic", "--quiet", *m[1].split()]) == 0
    with rasterio.open(out) as f:
        assert abs(float(np.ma.median(f.read(1, masked=True))) - float(np.median(k))) < 0.1


def test_c2l2_typed_scale_is_still_advised_both_flags(tmp_path, capsys):
    _c2l2_file(tmp_path / "st.tif", False)
    msg = _upscale_error(tmp_path / "st.tif", tmp_path / "o.tif", capsys,
                         "--scale", "0.00341802")
    assert "`--scale 0.00341802 --offset 149 --nodata 0` on the command line" in msg, msg


# -- U/5: upscaling an xlstsr output on the command line -------------------------------------

def test_upscaling_an_output_again_is_told_the_command_line_route(tmp_path, capsys):
    import rasterio

    src = tmp_path / "k.tif"
    with rasterio.open(src, "w", **{**_profile(), "dtype": "float32", "nodata": None}) as f:
        f.write((_dn() * 0.02).astype("float32"), 1)
        f.update_tags(1, units="K")
    once = tmp_path / "once.nc"
    assert main(["upscale", str(src), str(once), "--factor", "2", "--method", "bicubic",
                 "--quiet"]) == 0
    capsys.readouterr()
    assert main(["upscale", str(once), str(tmp_path / "twice.nc"), "--factor", "2",
                 "--method", "bicubic", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "already super-resolved" in err, err
    # was only `lst.attrs.pop('xlstsr_method')`, which a command-line user cannot follow
    assert "on the command line, give the sensor's own file with `--factor` 2 times" in err, err


# -- U/6: spatial coordinates all one value ------------------------------------------------

def _kelvin_da():
    from rasterio.transform import from_origin

    da = xr.DataArray((_dn() * 0.02).astype("float32"), dims=("y", "x"),
                      coords={"y": 4499500.0 - 1000 * np.arange(64),
                              "x": 500500.0 + 1000 * np.arange(64)},
                      attrs={"units": "K"}).rio.write_crs("EPSG:32631")
    return da, from_origin(500000, 4500000, 1000, 1000)


def test_constant_coordinates_with_a_written_transform_are_told_to_be_dropped():
    from xlstsr.errors import GridError

    good, transform = _kelvin_da()
    da = good.rio.write_transform(transform).assign_coords(y=np.full(64, 4499500.0))
    with pytest.raises(GridError) as err:
        da.lstsr.upscale(factor=2, method="bicubic")
    msg = str(err.value)
    # was "not regularly spaced ... np.linspace(4499500, 4499500, 64)": InvalidIndexError
    assert "every one the same" in msg and "linspace" not in msg, msg
    assert "`da = da.drop_vars('y')`" in msg, msg
    out = da.drop_vars("y").lstsr.upscale(factor=2, method="bicubic")  # followed
    ref = good.lstsr.upscale(factor=2, method="bicubic")
    np.testing.assert_allclose(out.values, ref.values)


def test_an_edge_padded_array_is_not_told_to_rebuild_its_labels_from_its_old_transform():
    # review 52g/1: xarray's edge pad repeats the border labels and keeps the unpadded grid's
    # transform; dropped as advised, every pixel moved by the pad (1.85 km) without a word
    from xlstsr.errors import GridError

    good, transform = _kelvin_da()
    da = good.rio.write_transform(transform).pad(y=(2, 2), mode="edge")
    with pytest.raises(GridError) as err:
        da.lstsr.upscale(factor=2, method="bicubic")
    msg = str(err.value)
    assert "drop_vars" not in msg and "assign_coords(y=FIRST" in msg, msg


def test_constant_coordinates_without_a_transform_are_told_to_be_assigned():
    from xlstsr.errors import GridError

    good, _ = _kelvin_da()
    da = good.assign_coords(y=np.full(64, 4499500.0))
    with pytest.raises(GridError) as err:
        da.lstsr.upscale(factor=2, method="bicubic")
    msg = str(err.value)
    assert "linspace" not in msg, msg
    m = __import__("re").search(r"`da = da\.assign_coords\(y=FIRST \+ STEP \* "
                                r"np\.arange\((\d+)\)\)`", msg)
    assert m is not None and m[1] == "64", msg
    fixed = da.assign_coords(y=4499500.0 + -1000.0 * np.arange(int(m[1])))  # followed
    np.testing.assert_allclose(fixed.lstsr.upscale(factor=2, method="bicubic").values,
                               good.lstsr.upscale(factor=2, method="bicubic").values)
