"""Read-through 49: the aggregate-first advice for a scaled reference masks a typed
--reference-nodata before decoding (followed, its undeclared 0 fill was averaged in as 0 K),
ecostress_box's antimeridian sides worded by their longitudes, a pair's NDVI wholly at a fill
told as empty, the dead _fill_like_integer removed, and the fill-free spread of a range refusal
computed once and only where a declared scale is judged."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rioxarray
import xarray as xr

import xlstsr.datasets.ecostress as ecostress
import xlstsr.validate as validate
from xlstsr import errors
from xlstsr.cli import _AGGREGATE_FIRST, _aggregate_hint, main
from xlstsr.datasets.modis_aster import _check_modis_units

BIN = Path(sys.executable).parent
needs_rio = pytest.mark.skipif(not (BIN / "rio").exists(),
                               reason="rasterio's rio command is not installed")


def _python_step(err: str, cwd: Path) -> Path:
    """The advice's Python step run as written; the GeoTIFF it writes."""
    python = re.search(r"in Python, `([^`]*)`", err)[1]
    subprocess.run([sys.executable, "-c", python], cwd=cwd, check=True)
    return cwd / re.search(r'pathlib\.Path\("([^"]*)"\)', python)[1]


# -- 1. (item 10) a typed --reference-nodata of a scaled reference ---------------------------------

@needs_rio
def test_aggregate_advice_masks_a_typed_fill_of_a_tagged_reference(s, sr, tmp_path, capsys):
    from rasterio.enums import Resampling

    truth = s["lst_250m"].isel(time=0, drop=True)
    res = abs(float(truth.x[1] - truth.x[0])) / 4
    fine = truth.rio.reproject(truth.rio.crs, resolution=res, resampling=Resampling.bilinear)
    fine = fine.where(fine > 0)
    # ASTER as stored: K x 10 with a scale tag, 0 outside the scene, no nodata declared
    stored = np.where(np.isfinite(fine.values), np.round(fine.values / 0.1), 0)
    assert (stored == 0).sum() > 0
    coded = fine.copy(data=stored.astype("uint16"))
    coded.attrs = {}
    coded.rio.to_raster(tmp_path / "ref.tif")
    with rasterio.open(tmp_path / "ref.tif", "r+") as f:
        f.scales = (0.1,)
        assert f.nodata is None
    sr.isel(time=0, drop=True).rio.to_raster(tmp_path / "sr.tif")
    flags = ["--valid-min", "230"]
    assert main(["evaluate", str(tmp_path / "sr.tif"), str(tmp_path / "ref.tif"),
                 str(tmp_path / "e.csv"), "--reference-nodata", "0", *flags]) == 0
    err = capsys.readouterr().err
    assert "--reference-nodata (its fill is NaN now)" in err
    decoded = _python_step(err, tmp_path)
    written = rioxarray.open_rasterio(decoded, masked=True)
    # the fill is NaN in the written file, as the advice says (was 0 K)
    assert int((written == 0).sum()) == 0
    assert int(written.isnull().sum()) == int((stored == 0).sum())
    command = shlex.split(re.search(r"`(rio warp [^`]*)`", err)[1])
    subprocess.run([str(BIN / "rio"), *command[1:]], cwd=tmp_path, check=True,
                   capture_output=True)
    aggregate = rioxarray.open_rasterio(tmp_path / command[3], masked=True)
    # no fill averaged in: each coarse pixel is a mean of the scene's own Kelvin
    assert float(aggregate.min()) >= float(fine.min()) - 0.1
    # the same flags but --reference-nodata, as advised
    assert main(["evaluate", str(tmp_path / "sr.tif"), str(tmp_path / command[3]),
                 str(tmp_path / "e2.csv"), *flags]) == 0


def test_aggregate_advice_masks_a_typed_fill_of_a_packed_nc(tmp_path):
    v = (np.random.default_rng(0).uniform(280, 320, (20, 20)) / 0.1).astype("uint16")
    v[:, :3] = 0  # K x 10, its 0 fill not declared
    da = xr.DataArray(v, dims=("y", "x"), coords={"y": 4e6 - np.arange(20) * 90.0,
                                                  "x": np.arange(20) * 90.0},
                      attrs={"scale_factor": 0.1, "units": "K"}).rio.write_crs("EPSG:32631")
    da.to_dataset(name="lst").to_netcdf(tmp_path / "ref.nc")
    msg = _aggregate_hint(f"x {_AGGREGATE_FIRST} y.", {
        "--sr": "sr.tif", "--reference": str(tmp_path / "ref.nc"), "--reference-nodata": 0.0})
    assert "--reference-nodata (its fill is NaN now)" in msg
    written = rioxarray.open_rasterio(_python_step(msg, tmp_path), masked=True)
    assert int((written == 0).sum()) == 0 and int(written.isnull().sum()) == 60
    assert float(written.min()) >= 280.0


# -- 2. (item 3) the antimeridian's sides ----------------------------------------------------------

def test_antimeridian_refusal_words_each_side_by_its_longitudes(monkeypatch, tmp_path):
    boxes = [(179.6, 60.0, 179.9, 60.3), (-179.95, 60.0, -179.7, 60.3)]
    monkeypatch.setattr(ecostress, "_listing", lambda folder: (("a", 1, 1), ("b", 1, 1)))
    monkeypatch.setattr(ecostress, "_scene_boxes",
                        lambda folder, listing: [("a", boxes[0]), ("b", boxes[1])])
    with pytest.raises(errors.XlstsrError, match="antimeridian") as info:
        ecostress.ecostress_box(str(tmp_path))
    text = str(info.value)
    assert "(179.6 E to 180: west of the date line, UTM 60N)" in text
    assert "(180 to 179.7 W: east of the date line, UTM 1N)" in text
    assert "east of 180 W" not in text and "west of 180 E" not in text


# -- 3. (item 7) a pair's NDVI wholly at a fill ----------------------------------------------------

def test_ndvi_wholly_at_a_fill_is_told_empty():
    da = xr.DataArray(np.full((8, 8), -3000.0, np.float32), dims=("y", "x"))
    with pytest.raises(errors.AllNaNError, match="holds no valid NDVI value") as info:
        _check_modis_units(da, Path("ndvi.tif"), "ndvi")
    assert "beside NDVI values" not in str(info.value)
    assert "gdal_edit" not in str(info.value)
    # a fill beside NDVI values is still told as an undeclared fill
    da[0, 0] = 0.4
    with pytest.raises(errors.UndeclaredFillError, match="beside NDVI values"):
        _check_modis_units(da, Path("ndvi.tif"), "ndvi")


# -- 4. (item 1) dead code -------------------------------------------------------------------------

def test_fill_like_integer_is_gone_and_interp_advice_names_its_search():
    assert not hasattr(validate, "_fill_like_integer")
    assert "_fill_search" in validate._interp_advice.__doc__


# -- 5. (item 4) the fill-free spread once, and only for a declared scale --------------------------

@pytest.fixture
def spread_calls(monkeypatch):
    calls = []
    original = validate._fill_free_spread

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(validate, "_fill_free_spread", counted)
    return calls


def test_fill_free_spread_is_computed_once_for_a_scaled_refusal(spread_calls):
    k = 290 + 8 * np.random.default_rng(0).standard_normal((200, 200))
    da = xr.DataArray(np.round(k / 0.002).astype("uint32"), dims=("y", "x"),
                      attrs={"units": "K", "scale_factor": 0.02, "_FillValue": 0})
    with pytest.raises(errors.PhysicalRangeError, match=r"with 0\.002 the median would be 290"):
        validate.decode_lst(da)
    assert len(spread_calls) == 1


@pytest.mark.parametrize("value, attrs", [(500.0, {"units": "K"}), (90.0, {})])
def test_fill_free_spread_is_not_computed_without_a_scale(spread_calls, value, attrs):
    v = value + np.random.default_rng(1).standard_normal((200, 200)) * (20 if value > 100 else 10)
    da = xr.DataArray(v.astype("float32"), dims=("y", "x"), attrs=attrs)
    with pytest.raises(errors.PhysicalRangeError):
        validate.decode_lst(da)
    assert spread_calls == []
