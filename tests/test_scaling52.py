"""Probe 52 S (findings 1-4, 6, 8) and U (finding 2, scaling_stats): the grid advice of
scaling_stats, the CLI and radial_power_spectrum runs as written and keeps a typed fill out of
gdalwarp's means; a tiled file's own wrong tag gets the rewrite-a-copy advice; an unfinished
store is refused; heavy cloud masks warn with advice that reduces the bias; a finer guide of
the LST's shape is told its pixel size; the law refusal at factor 3 names what accepts it."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import warnings

import numpy as np
import pytest
import rasterio
import rasterio.enums
import rasterio.warp
import rioxarray  # noqa: F401
import xarray as xr
from helpers import cli_stderr, cli_streams, unfinished_store

import xlstsr
from xlstsr.datasets import fbm_surface
from xlstsr.errors import GridError, XlstsrError
from xlstsr.metrics import radial_power_spectrum


def _code(message: str) -> str:
    """The first Python call a message advises (after "e.g.")."""
    return re.search(r"e\.g\. `([^`]*)`", message).group(1)


def _field(n: int = 48, hurst: float = 0.6, seed: int = 0) -> np.ndarray:
    return fbm_surface(n, hurst, np.random.default_rng(seed))


# -- finding 1 (S/3): the gdalwarp command keeps a typed fill out of the means ------------------


def _gdalwarp(command: str, src, dst) -> None:
    """``command`` (gdalwarp's options as the advice gives them) run by rasterio's warper, the
    same GDAL warper and defaults (gdalwarp is not installed here): no ``-srcnodata``, no
    source fill (the file declares none); no ``-dstnodata``, the padding 0."""
    toks = shlex.split(command)
    assert toks[0] == "gdalwarp" and toks[-2:] == ["in.tif", "out.tif"]
    opts: dict[str, object] = {}
    i = 1
    while i < len(toks) - 2:
        if toks[i] == "-tr":
            opts["-tr"] = (float(toks[i + 1]), float(toks[i + 2]))
            i += 3
        else:
            opts[toks[i]] = toks[i + 1]
            i += 2
    with rasterio.open(src) as f:
        a = f.read(1)
        src_crs = opts.get("-s_srs") or f.crs
        dst_crs = opts.get("-t_srs") or src_crs
        transform, w, h = rasterio.warp.calculate_default_transform(
            src_crs, dst_crs, f.width, f.height, *f.bounds, resolution=opts["-tr"])
        src_transform = f.transform
    dst_fill = float(opts["-dstnodata"]) if "-dstnodata" in opts else 0.0
    out = np.full((h, w), dst_fill, np.float32)
    rasterio.warp.reproject(
        a, out, src_transform=src_transform, src_crs=src_crs, dst_transform=transform,
        dst_crs=dst_crs, resampling=rasterio.enums.Resampling[opts["-r"]],
        src_nodata=float(opts["-srcnodata"]) if "-srcnodata" in opts else None,
        dst_nodata=dst_fill if "-dstnodata" in opts else None)
    with rasterio.open(dst, "w", driver="GTiff", width=w, height=h, count=1, dtype="float32",
                       crs=dst_crs, transform=transform,
                       nodata=dst_fill if "-dstnodata" in opts else None) as f:
        f.write(out, 1)


def test_latlon_gdalwarp_advice_keeps_a_typed_fill_out_of_the_means(tmp_path):
    # a SEVIRI-like file: degC, 0.05 degree pixels at 38 N (square in degrees only), an
    # undeclared -80 fill over a corner and a strip; the user types --nodata -80
    n = 48
    a = (30.0 + 4.0 * _field(n)).astype("float32")
    a[:12, :12] = -80.0
    a[30:33, :] = -80.0
    src = tmp_path / "sev.tif"
    with rasterio.open(src, "w", driver="GTiff", width=n, height=n, count=1, dtype="float32",
                       crs="EPSG:4326",
                       transform=rasterio.transform.from_origin(23.0, 39.2, 0.05, 0.05)) as f:
        f.write(a, 1)
    rc, _, err = cli_streams("scaling", src, tmp_path / "a.csv", "--nodata", "-80", "--units",
                             "degC")
    assert rc == 0
    command = re.search(r"a file: `(gdalwarp [^`]*)`", err).group(1)
    _gdalwarp(command, src, tmp_path / "warped.tif")
    # followed: no fill averaged in, no 0 padding taken as data (before: values between the
    # fill and the data, and 0 degC around the scene)
    with rasterio.open(tmp_path / "warped.tif") as f:
        w = f.read(1)
    valid = a[a != -80.0]
    v = w[np.isfinite(w)]
    assert v.size > 0.5 * w.size
    assert v.min() >= valid.min() - 1e-3 and v.max() <= valid.max() + 1e-3
    rc, err = cli_stderr("scaling", tmp_path / "warped.tif", tmp_path / "b.csv", "--nodata",
                         "-80", "--units", "degC")
    assert rc == 0
    assert "-srcnodata -80" in command and "-dstnodata nan" in command


# -- finding 3 (S/1): the reproject advice on grids without a CRS runs as written ---------------


def test_latlon_advice_without_a_crs_writes_it_first():
    lst = xr.DataArray(300 + 3 * _field(64, 0.4), dims=("lat", "lon"),
                       coords={"lat": 45 - 0.01 * np.arange(64), "lon": 5 + 0.01 * np.arange(64)},
                       attrs={"units": "K"})
    with pytest.warns(UserWarning, match="square in degrees but not on the ground") as rec:
        xlstsr.scaling_stats(lst)
    message = next(str(w.message) for w in rec if "on the ground" in str(w.message))
    # before: MissingCRS ("CRS not found. Please set the CRS with 'rio.write_crs()'")
    out = eval(_code(message), {"lst": lst, "rasterio": rasterio})
    assert "-s_srs EPSG:4326" in message  # the file command knows the source CRS too
    assert out.rio.crs.to_epsg() == 32631
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # square ground metres now: silent
        assert np.isfinite(xlstsr.scaling_stats(out)["hurst"].values).all()
    # the same advice from radial_power_spectrum
    with pytest.warns(UserWarning, match="not on the ground") as rec:
        radial_power_spectrum(lst)
    message = next(str(w.message) for w in rec if "on the ground" in str(w.message))
    assert eval(_code(message), {"da": lst, "rasterio": rasterio}).rio.crs is not None


def test_non_square_metres_without_a_crs_get_a_regrid_that_needs_none():
    a = 300 + np.random.default_rng(0).standard_normal((64, 64))
    lst = xr.DataArray(a, dims=("y", "x"), attrs={"units": "K"},
                       coords={"y": 5e6 - 1000 * np.arange(64), "x": 2000 * np.arange(64.0)})
    with pytest.raises(GridError, match="not square") as err:
        xlstsr.scaling_stats(lst)
    out = eval(_code(str(err.value)), {"lst": lst, "rasterio": rasterio})  # before: MissingCRS
    assert out.sizes == {"y": 32, "x": 64}
    assert np.isfinite(xlstsr.scaling_stats(out)["hurst"].values).all()
    with pytest.raises(GridError, match="not square") as err:
        radial_power_spectrum(lst)
    out = eval(_code(str(err.value)), {"da": lst, "rasterio": rasterio})
    assert radial_power_spectrum(out).notnull().any()


# -- finding 8 (S/8): a tiled file's own wrong tag gets the rewrite-a-copy advice ---------------


def test_tiled_file_with_a_wrong_scale_tag_gets_the_rewrite_advice(tmp_path):
    n = 1100
    dn = (15000 + 300 * _field(n, 0.5, 1)).astype("uint16")
    src = tmp_path / "bad.tif"
    with rasterio.open(src, "w", driver="GTiff", width=n, height=n, count=1, dtype="uint16",
                       nodata=0, tiled=True, blockxsize=256, blockysize=256, crs="EPSG:32631",
                       transform=rasterio.transform.from_origin(5e5, 5e6, 1000, 1000)) as f:
        f.write(dn, 1)
        f.scales = (0.002,)  # MOD11A1's 0.02, mistyped
    # read in tiles, as a COG over 1024 pixels wide is (auto chunks: 1024 x 76 here)
    rc, err = cli_stderr("scaling", src, tmp_path / "a.csv")
    assert rc != 0
    # before: "set `da.attrs['scale_factor'] = 0.02` (on the command line: `--scale 0.02`)",
    # refused when followed as a scale declared twice
    assert "--scale 0.02" not in err
    command = re.search(r"rewrite it on a copy: `(python -c '.*?')`", err).group(1)
    subprocess.run([sys.executable, *shlex.split(command)[1:]], check=True, cwd=tmp_path)
    rc, err = cli_stderr("scaling", tmp_path / "bad_retagged.tif", tmp_path / "b.csv")
    assert rc == 0, err


# -- finding 4 (U/2): an unfinished store is refused -------------------------------------------


def test_scaling_stats_refuses_the_unwritten_steps_of_an_unfinished_store(tmp_path):
    lst = xlstsr.datasets.sample_scene(n_times=3, size=16)["lst_1km"].chunk({"time": 1})
    store = unfinished_store(lst, tmp_path / "out.zarr")
    sr = xr.open_zarr(store, consolidated=False, decode_coords="all")["lst_1km"]
    # before: all-NaN rows for the unwritten step, without a word
    with pytest.raises(XlstsrError, match=r"did not finish") as err:
        xlstsr.scaling_stats(sr)
    # the advised selection of the written steps runs
    call = re.search(r"`(xr\.open_zarr\(.*?\))`", str(err.value)).group(1)
    st = xlstsr.scaling_stats(eval(call, {"xr": xr}))
    assert st.sizes["time"] == 2 and np.isfinite(st["hurst"].values).all()


# -- finding 5 (S/2): a heavy, fragmented cloud mask warns, with advice that holds -------------


def _strips(n: int, clear: float) -> np.ndarray:
    """A mask clear in thin winding strips (a level band of a smooth random field), ``clear``
    of the pixels, as MODIS' QC mask leaves 80-90 % cloud."""
    from scipy import ndimage

    s = np.abs(ndimage.gaussian_filter(np.random.default_rng(3).standard_normal((n, n)), 6))
    return s < np.quantile(s, clear)


def _metric(a: np.ndarray) -> xr.DataArray:
    n = a.shape[0]
    return xr.DataArray(a, dims=("y", "x"), attrs={"units": "K"},
                        coords={"y": -1000.0 * np.arange(n), "x": 1000.0 * np.arange(n)})


def test_a_fragmented_clear_area_is_warned_and_hurst_holds():
    n = 256
    t = 300 + 3 * _field(n, 0.35)
    clear = xlstsr.scaling_stats(_metric(t))
    gappy = _metric(np.where(_strips(n, 0.15), t, np.nan))
    # before: no word (the isolated-gap warning did not come: no speckle)
    with pytest.warns(UserWarning, match="fragmented clear area") as rec:
        st = xlstsr.scaling_stats(gappy)
    message = next(str(w.message) for w in rec if "fragmented" in str(w.message))
    assert "does not remove" in message and "Read hurst" in message
    # the bias warned of is there; the advised statistic holds
    assert float(st["spectral_slope_ci"].sel(bound="lower")) > float(clear["spectral_slope"])
    assert abs(float(st["hurst"]) - float(clear["hurst"])) < 0.03
    # the same clear share in one compact window: silent
    box = np.zeros((n, n), bool)
    box[:99, :99] = True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        xlstsr.scaling_stats(_metric(np.where(box, t, np.nan)))


@pytest.mark.parametrize("shape", [(2, 2), (3, 1)])
def test_the_fragmented_area_check_takes_two_lead_dims(shape):
    # review 52f/1: a (time, band) stack raised a broadcast (2, 2) vs (4,) error or an
    # IndexError, clean or not; the fragmented step is named, the others are not
    n = 128
    t = 300 + 3 * _field(n, 0.35)
    a = np.broadcast_to(t, shape + t.shape).copy()
    a[-1, -1][~_strips(n, 0.15)] = np.nan
    da = _metric(t).expand_dims(time=shape[0], band=shape[1]).copy(data=a)
    da = da.assign_coords(time=np.arange(shape[0]), band=np.arange(shape[1]))
    with pytest.warns(UserWarning, match="fragmented clear area") as rec:
        st = xlstsr.scaling_stats(da)
    assert dict(st["hurst"].sizes) == {"time": shape[0], "band": shape[1]}
    message = next(str(w.message) for w in rec if "fragmented" in str(w.message))
    assert f"time={shape[0] - 1}" in message or f"{shape[0] - 1}" in message, message
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        xlstsr.scaling_stats(da.isel(time=slice(0, 1), band=slice(0, 1)))


def test_a_finer_guide_crop_advice_runs_on_a_south_up_lst():
    # review 52f/3: the advice named the north-up copy's y range: 0 rows of a south-up LST
    t = 300 + 3 * _field(64, 0.4)
    lst = _metric(t).isel(y=slice(None, None, -1)).rio.write_crs("EPSG:32631")
    fine = xr.DataArray(np.random.default_rng(1).normal(size=(64, 64)), dims=("y", "x"),
                        coords={"y": lst.y.values[-21] - 250 * np.arange(64),
                                "x": lst.x.values[20] + 250 * np.arange(64)})
    fine = fine.rio.write_crs("EPSG:32631")
    with pytest.raises(GridError, match="another pixel size") as err:
        xlstsr.scaling_stats(lst, guide=fine)
    code = re.search(r"`lst = (lst\.sel\([^`]*\))`", str(err.value)).group(1)
    cropped = eval(code, {"lst": lst})
    assert cropped.sizes["y"] == 15 and cropped.sizes["x"] == 15
    xlstsr.scaling_stats(cropped, guide=fine)


def test_the_cli_warns_of_a_fragmented_clear_area(tmp_path):
    n = 256
    a = np.where(_strips(n, 0.15), 300 + 3 * _field(n, 0.35), np.nan).astype("float32")
    path = tmp_path / "cloudy.nc"
    _metric(a).rename("LST").to_netcdf(path)
    rc, _, err = cli_streams("scaling", path, tmp_path / "a.csv")
    assert rc == 0 and "fragmented clear area" in err


# -- finding 6 (S/4): a finer guide of the LST's shape is told its pixel size -------------------


def test_a_finer_guide_of_the_lst_shape_is_told_its_pixel_size():
    lst, ndvi, _ = xlstsr.datasets.modis_aster_sample()
    lst, ndvi = lst.load(), ndvi.load()
    g = ndvi.isel(y=slice(0, 64), x=slice(0, 64))  # 250 m pixels, the 1 km LST's 64 x 64
    with pytest.raises(GridError, match=r"another pixel size: 231\.656 along 'y'") as err:
        xlstsr.scaling_stats(lst, guide=g)
    assert "off by" not in str(err.value)  # before: "its 'y' is off by 22239 (24 pixels)"
    code = re.search(r"`(lst = lst\.sel\([^`]*\))`", str(err.value)).group(1)
    scope = {"lst": lst}
    exec(code, scope)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (a small field)
        st = xlstsr.scaling_stats(scope["lst"], guide=g)
    assert np.isfinite(st["guide_correlation"].values).any()


# -- finding 7 (S/6): the law refusal at factor 3 names the factors and methods that take it ----


def test_law_refusal_at_factor_3_names_what_takes_it():
    lst = xlstsr.datasets.sample_scene(n_times=1, size=64)["lst_1km"]
    with pytest.raises(GridError, match=r"not 3; .*Or upscale by 2 or 4 with it: the bundled "
                                        r"'sisr' and 'disr' models take factor 4 only"):
        lst.lstsr.upscale(3, method="sisr", scale_correction="auto")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = lst.lstsr.upscale(4, method="sisr", scale_correction="auto")  # followed
    assert out.sizes["x"] == 4 * lst.sizes["x"]
