"""Round 27: a Celsius reference whose bulk is Celsius but with a cold tail of border pixels
mixed with the fill (ASTER at 250 m: 14-15 % below -70 degC) got the generic "check the units"
refusal; it is named as Celsius now, and declaring it scores as the Kelvin file does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rioxarray

import xlstsr
from xlstsr import errors

PAIRS = Path(__file__).resolve().parents[2] / "shared" / "data" / "modis_aster"


@pytest.fixture(scope="module")
def pair():
    if not (PAIRS / "001_aster_lst_250m.tif").exists():
        pytest.skip(f"the shared MODIS/ASTER pairs are absent ({PAIRS})")
    dn = rioxarray.open_rasterio(PAIRS / "001_aster_lst_250m.tif",
                                 mask_and_scale=True).squeeze(drop=True)
    kelvin = (dn.where(dn != 0) * 0.1).astype("float32")
    kelvin.attrs = {"units": "K"}
    modis = rioxarray.open_rasterio(PAIRS / "001_modis_lst_1km.tif",
                                    mask_and_scale=True).squeeze(drop=True)
    return kelvin, xlstsr.upscale(modis, 4, "bicubic")


def test_a_celsius_reference_with_a_cold_border_tail_is_named_celsius(pair):
    kelvin, sr = pair
    celsius = kelvin - 273.15
    celsius.attrs = {}
    v = celsius.values[np.isfinite(celsius.values)]
    assert ((v > -70) & (v < 75)).mean() < 0.9  # the case: a tail below -70 degC
    with pytest.raises(errors.UnitsError, match="look like degrees Celsius"):
        xlstsr.evaluate(sr, celsius, valid_min=230, erode=3)
    celsius.attrs["units"] = "degC"
    got = xlstsr.evaluate(sr, celsius, valid_min=230, erode=3)
    ref = xlstsr.evaluate(sr, kelvin, valid_min=230, erode=3)
    np.testing.assert_allclose(float(got.rmse), float(ref.rmse), atol=1e-3)
    assert int(got.n_valid) == int(ref.n_valid)


def test_kelvin_values_are_not_called_celsius(pair):
    kelvin, sr = pair
    k = kelvin.copy()
    k.attrs = {}
    with pytest.raises(errors.XlstsrError) as err:
        xlstsr.evaluate(sr, k * 100)  # no units and way out of range: not Celsius
    assert "Celsius" not in str(err.value).split(".")[0]
