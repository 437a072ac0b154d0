"""Review 48e findings 1-4 and regression probe 48 F1: a float NDVI beside an undeclared fill is
told its fill (not MOD13's scale, which followed divided it by 10,000); the gap-ring advice
gives only the steps not taken (a declared fill not asked for again, ``--clear`` on the command
line); a fill-mixed scene border is warned beside clean NaN holes; ECOSTRESS boxes at +-180
read on their side, a box around the world refused."""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr

import xlstsr
from xlstsr.cli import main
from xlstsr.datasets import open_modis_aster_pair
from xlstsr.datasets.ecostress import ecostress_crs, ecostress_grid
from xlstsr.datasets.sample import SAMPLE_DIR
from xlstsr.errors import UndeclaredFillError, XlstsrError

RING = "reference pixels kept next to its gaps"


# -- 48e/1: float NDVI with an undeclared fill ---------------------------------------------------


@pytest.mark.parametrize("fill", [-9999.0, -3000.0])
def test_float_ndvi_with_undeclared_fill_is_told_its_fill(tmp_path, fill):
    folder = tmp_path / "modis_aster"
    shutil.copytree(SAMPLE_DIR / "modis_aster", folder)
    _, ndvi0, _ = open_modis_aster_pair("002", root=SAMPLE_DIR)
    path = folder / "002_modis_ndvi_250m.tif"
    with rasterio.open(path, "r+") as f:
        a = f.read(1)
        a[::10] = fill  # 10 % of the rows
        f.write(a, 1)
    with pytest.raises(UndeclaredFillError) as err:
        open_modis_aster_pair("002", root=tmp_path)
    msg = str(err.value)
    assert f"-a_nodata {fill:g}" in msg and "0.0001" not in msg
    code = msg.split("in Python `", 1)[1].split("`", 1)[0]
    exec(code.replace(": f.", ":\n    f."), {"rasterio": rasterio})  # the advice as written
    _, ndvi, _ = open_modis_aster_pair("002", root=tmp_path)
    kept = ndvi.notnull().values
    assert not kept[::10].any() and kept[1::10].any()
    np.testing.assert_allclose(ndvi.values[kept], ndvi0.values[kept])  # not divided by 10^4


# -- 48e/2, regr48 F1: the gap-ring advice gives only the steps not taken ------------------------


def _sr_tif(tmp_path: Path) -> tuple[str, str]:
    lst, ndvi, _ = open_modis_aster_pair("002", root=SAMPLE_DIR)
    sr = lst.interp(y=ndvi.y, x=ndvi.x, method="linear").rio.write_crs(lst.rio.crs)
    sr.attrs = {"units": "K"}
    sr.rio.to_raster(tmp_path / "sr.tif")
    return str(tmp_path / "sr.tif"), str(SAMPLE_DIR / "modis_aster" / "002_aster_lst_250m.tif")


def _ring(capsys) -> str:
    lines = [ln for ln in capsys.readouterr().err.splitlines() if RING in ln]
    return lines[0] if lines else ""


def test_declared_fill_not_asked_again_and_cli_names_clear(tmp_path, capsys):
    sr, ref = _sr_tif(tmp_path)
    base = ["evaluate", sr, ref, str(tmp_path / "ev.csv"), "--overwrite", "--reference-scale",
            "0.1", "--valid-min", "230", "--erode", "3"]
    assert main([*base, "--reference-nodata", "0"]) == 0
    ring = _ring(capsys)
    assert ring and "reference_nodata" not in ring and "Declare the fill" not in ring
    flags = ring.split("On the command line:", 1)[1]
    assert re.findall(r"`([^`]+)`", flags) == ["--clear"]
    # followed: the ring is gone
    assert main([*base, "--reference-nodata", "0", "--clear"]) == 0
    assert _ring(capsys) == ""
    # without the fill declared, both steps (and only they)
    assert main(base) == 0
    flags = _ring(capsys).split("On the command line:", 1)[1]
    assert re.findall(r"`([^`]+)`", flags) == ["--reference-nodata 0", "--clear"]


def test_python_advice_with_fill_declared_names_clear_only():
    lst, ndvi, _ = open_modis_aster_pair("002", root=SAMPLE_DIR)
    sr = lst.interp(y=ndvi.y, x=ndvi.x, method="linear").rio.write_crs(lst.rio.crs)
    sr.attrs = {"units": "K"}
    import rioxarray

    raw = rioxarray.open_rasterio(SAMPLE_DIR / "modis_aster" / "002_aster_lst_250m.tif")
    raw = raw.squeeze("band", drop=True)
    kw = dict(reference_scale=0.1, reference_nodata=0, valid_min=230, erode=3)
    with pytest.warns(UserWarning, match=RING) as rec:
        xlstsr.evaluate(sr, raw, **kw)
    msg = next(str(w.message) for w in rec if RING in str(w.message))
    assert "clear=True" in msg and "reference_nodata" not in msg
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        xlstsr.evaluate(sr, raw, clear=True, **kw)
    assert not [w for w in rec if RING in str(w.message)]


# -- 48e/3: a mixed border beside clean NaN holes --------------------------------------------------


def _diamond(holes: bool) -> tuple[xr.DataArray, xr.DataArray]:
    n = 256
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:n, 0:n] / n
    t = 310 + 6 * np.sin(6 * x) * np.cos(4 * y) + rng.normal(0, 1.0, (n, n))
    yy, xx = np.mgrid[0:n, 0:n] - (n - 1) / 2
    r = np.abs(xx) + np.abs(yy)
    inside = r < 0.62 * n
    ref = np.where(inside & (r >= 0.62 * n - 3), 0.8 * t, t)  # 3 px mixed with a 20 % fill
    ref = np.where(inside, ref, np.nan)
    if holes:  # clean 2x2 NaN holes (a water / cloud mask)
        h = (np.arange(n)[:, None] % 12 < 2) & (np.arange(n)[None, :] % 12 < 2) & (r < 0.5 * n)
        ref = np.where(h, np.nan, ref)

    def grid(a: np.ndarray) -> xr.DataArray:
        return xr.DataArray(a, dims=("y", "x"), attrs={"units": "K"}, coords={
            "y": 5e6 - 250 * (np.arange(n) + 0.5), "x": 5e5 + 250 * (np.arange(n) + 0.5)},
        ).rio.write_crs("EPSG:32631")

    return grid(t + rng.normal(0, 1.0, t.shape)), grid(ref)


@pytest.mark.parametrize("erode", [1, 2])
def test_mixed_border_warned_beside_clean_holes(erode):
    sr, ref = _diamond(holes=True)
    with pytest.warns(UserWarning, match=RING):
        xlstsr.evaluate(sr, ref, erode=erode)


def test_clean_holes_alone_do_not_warn():
    sr, ref = _diamond(holes=True)
    ref = ref.where(np.abs(ref - sr) < 10)  # the mixed border removed, the holes kept
    for erode in (0, 1, 3):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            xlstsr.evaluate(sr, ref, erode=erode)
        assert not [w for w in rec if RING in str(w.message)], erode


# -- 48e/4: ECOSTRESS boxes at +-180 ---------------------------------------------------------------


@pytest.mark.parametrize("box, crs", [((180, -18, -179.5, -17), "EPSG:32701"),
                                      ((179.5, -18, -180, -17), "EPSG:32760")])
def test_box_at_180_read_on_its_side(box, crs):
    assert ecostress_crs(box) == crs
    x, _ = ecostress_grid(8960, box)
    assert 40e3 < x.max() - x.min() < 200e3


@pytest.mark.parametrize("box", [(-180, -18, 180, -17), (-100, 30, -20, 40)])
def test_box_wider_than_the_common_grid_refused(box):
    with pytest.raises(XlstsrError, match="degrees of longitude"):
        ecostress_crs(box)


def test_antimeridian_advice_never_offers_a_zero_width_half():
    for box in ((180, -18, 180, -17), (-180, -18, -180, -17)):
        with pytest.raises(XlstsrError, match="no width"):
            ecostress_crs(box)
    with pytest.raises(XlstsrError, match="antimeridian") as err:
        ecostress_crs((179.5, -18, -179.5, -17))
    for half in re.findall(r"\(([-\d., ]+)\)", str(err.value).split("split it", 1)[1])[:2]:
        w, _, e, _ = (float(v) for v in half.split(","))
        assert w < e
        ecostress_crs((w, -18, e, -17))
