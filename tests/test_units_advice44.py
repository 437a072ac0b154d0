"""Probe 44r2 (02): ASTER's Kelvin x 10 (float, no units, a few scene-border pixels mixed with
the fill) was offered `--scale 0.1` and `--scale 0.01 --units degC` alike; `--scale 0.1`,
followed, was refused for the 2-3 border pixels at 120-146 K. Each reading is now checked on the
whole scene: the one leaving stray pixels out of range names the masking option with it."""
import re
import warnings

import numpy as np
import pytest
import rasterio
import xarray as xr
from helpers import run_cli
from rasterio.transform import from_origin

from xlstsr.errors import XlstsrError

RNG = np.random.default_rng(44)
KELVIN = 311.0 + RNG.normal(0, 3, (64, 64))
TRUTH_MEDIAN = float(np.median(KELVIN))


def _aster_like(dtype="float32"):
    """K x 10 of a 311 K scene with 3 border pixels mixed with the 0 fill (120-146 K)."""
    v = KELVIN * 10
    v[0, :3] = [1202.0, 1350.0, 1460.0]  # 3 of 4096: stray, not a field in other units
    return np.round(v) if dtype.startswith("int") else v


def _grid(values, dtype="float32", attrs=None):
    n = values.shape[-1]
    return xr.DataArray(
        values.astype(dtype)[None], dims=("time", "y", "x"),
        coords={"time": [np.datetime64("2020-07-01")],
                "y": 5.5e6 - 125 - 250 * np.arange(n), "x": 4e5 + 125 + 250 * np.arange(n)},
        attrs=attrs or {}).rio.write_crs("EPSG:32631")


def _refusal(da) -> str:
    with pytest.raises(XlstsrError) as e, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        da.lstsr.upscale(2).compute()
    return str(e.value)


def test_kelvin_reading_with_stray_pixels_names_the_masking_option():
    msg = _refusal(_grid(_aster_like()))
    kelvin = re.search(r"`da\.attrs\.update\(scale_factor=0\.1\)`[^;]*", msg)
    assert kelvin and "with `mask_out_of_range=True`" in kelvin[0]
    assert "3 stray pixel(s) of 4096 outside 150-400 K, masked" in kelvin[0]
    # the Celsius reading covers the whole scene: no masking named with it
    celsius = re.search(r"`da\.attrs\.update\(scale_factor=0\.01, units='degC'\)`[^;]*", msg)
    assert celsius and "mask_out_of_range" not in celsius[0]
    # still ambiguous, and honest that the Kelvin reading leaves stray pixels
    assert "x 0.1 (K) all but 3 stray pixel(s)" in msg
    assert msg.index("scale_factor=0.1)") < msg.index("scale_factor=0.01")


def test_kelvin_advice_followed_in_python_gives_the_scene():
    da = _grid(_aster_like(), attrs={"scale_factor": 0.1})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = da.lstsr.upscale(2, mask_out_of_range=True).compute()
    assert abs(float(out.median()) - TRUTH_MEDIAN) < 0.5


def _cli(argv, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_cli(capsys, *argv)


@pytest.mark.parametrize("dtype", ["float32", "int16"])
def test_first_cli_advice_followed_succeeds(tmp_path, capsys, dtype):
    """The flags offered first, followed as given, write the scene at its Kelvin median (the
    float file takes the values-look-scaled path, the integer one the scaled-integer one)."""
    p = tmp_path / "aster_like.tif"
    with rasterio.open(p, "w", driver="GTiff", height=64, width=64, count=1, dtype=dtype,
                       crs="EPSG:32631", transform=from_origin(4e5, 5.5e6, 250, 250)) as dst:
        dst.write(_aster_like(dtype).astype(dtype)[None])
    out = tmp_path / "o.tif"
    base = ["upscale", str(p), str(out), "--factor", "2", "--method", "bicubic", "--quiet"]
    rc, err = _cli(base, capsys)
    assert rc != 0
    offers = re.findall(r"\(`(--scale [^`]+)`\)", err)
    assert offers and offers[0].startswith("--scale 0.1") and "--mask-out-of-range" in offers[0]
    rc, err = _cli(base + offers[0].split(), capsys)
    assert rc == 0, err
    with rasterio.open(out) as src:
        assert abs(float(np.nanmedian(src.read(1))) - TRUTH_MEDIAN) < 0.5


def test_readings_covering_the_whole_scene_name_no_masking():
    """degC x 100 without units (last session's fix) keeps both readings, ambiguous, unmasked."""
    degc100 = np.round((300 + RNG.normal(0, 2, (32, 32)) - 273.15) * 100)
    msg = _refusal(_grid(degc100, "int16"))
    assert "scale_factor=0.01, units='degC'" in msg and "ambiguous" in msg
    assert "mask_out_of_range=True`" not in msg.split("To mask such pixels")[0]
    assert "stray" not in msg


def test_training_advice_names_no_masking_option():
    """Training takes no mask_out_of_range: the scale's advice drops it (and its flag), the
    stray pixels to be set to NaN first, as the training note says."""
    from xlstsr.train.cube import TRAIN_MASK_NOTE, fit_cube

    with pytest.raises(XlstsrError) as e, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_cube(_grid(_aster_like()), mode="sisr", epochs=1)
    msg = str(e.value)
    assert "scale_factor=0.1)` (`--scale 0.1`)" in msg
    assert "outside 150-400 K: set to NaN first" in msg
    assert "--mask-out-of-range" not in msg
    assert msg.replace(TRAIN_MASK_NOTE, "").count("mask_out_of_range") == 0


def test_a_reading_leaving_many_pixels_out_is_kept_beside_the_other():
    """1.2 % corrupt pixels on both sides of the range: the K x 10 reading (right) was dropped
    because degC x 100 (7 K too cold) covers any value, and that one alone was advised."""
    v = _aster_like()
    v.flat[::160] = 1000.0
    v.flat[80::160] = 4500.0
    msg = _refusal(_grid(v))
    assert "`da.attrs.update(scale_factor=0.1)`" in msg and "units='degC'" in msg
    assert "ambiguous" in msg
    # not stray pixels: no masking named for a field of that many
    assert "stray" not in msg and "with `mask_out_of_range=True`" not in msg


def test_zeros_a_reading_puts_out_of_range_are_declared_a_fill():
    """Float K x 10 with 0.5 % zeros: the advice declares fill 0 with the scale (it named the
    scale alone; followed, the fill was refused or masked as stray pixels)."""
    v = _aster_like()
    v[0, :3] = v[1, :3]
    v.flat[::200] = 0.0
    msg = _refusal(_grid(v, attrs={"units": "K"}))
    assert "`da.attrs.update(scale_factor=0.1, _FillValue=0)` (`--scale 0.1 --nodata 0`)" in msg
