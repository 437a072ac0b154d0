"""A byte-coded NDVI guide (Copernicus / PROBA-V: DN = (NDVI + 0.08) / 0.004) is told to be
decoded, not called Kelvin (probe 45x/01: the advice to pass the NDVI as the guide and the LST
as the input sent a user who had done so to swap them)."""

from __future__ import annotations

import numpy as np
import pytest

import xlstsr
from xlstsr import errors
from xlstsr.datasets import sample_scene


@pytest.fixture(scope="module")
def small():
    return sample_scene(n_times=1, size=16)


@pytest.mark.parametrize("named", [True, False], ids=["named NDVI", "unnamed band"])
def test_byte_coded_ndvi_guide_is_told_to_decode(small, named):
    ndvi = small["ndvi_250m"]
    ndvi = ndvi.isel(time=0, drop=True) if "time" in ndvi.dims else ndvi
    dn = np.round((ndvi.clip(0.5, 0.85) + 0.08) / 0.004).astype("uint8")
    if not named:  # an undescribed band: no name, no long_name (judged by its statistics)
        dn = dn.rename(None)
        dn.attrs.pop("long_name", None)
    with pytest.raises(errors.GuideScaleError, match=r"byte-coded NDVI.*0\.004 - 0\.08") as err:
        xlstsr.upscale(small["lst_1km"], 4, "disr", guide=dn).compute()
    # judged by the range check of a named NDVI, by the statistics of an undescribed band
    assert ("has mean" in str(err.value)) is not named
    # decoded as advised, it runs
    out = xlstsr.upscale(small["lst_1km"], 4, "disr", guide=dn * 0.004 - 0.08).compute()
    ref = xlstsr.upscale(small["lst_1km"], 4, "disr", guide=ndvi.clip(0.5, 0.85)).compute()
    np.testing.assert_array_equal(np.isfinite(out.values), np.isfinite(ref.values))
    assert np.isfinite(out.values).any()


def test_a_temperature_guide_is_still_called_kelvin(small):
    guide = small["lst_250m"].isel(time=0, drop=True)
    with pytest.raises(errors.GuideScaleError, match=r"look like temperatures in Kelvin"):
        xlstsr.upscale(small["lst_1km"], 4, "disr", guide=guide).compute()


def test_a_cold_temperature_guide_is_not_called_an_ndvi_alone(small):
    """Review 45f/2: a cold LST (240-255 K) as the guide keeps the advice to swap the inputs
    beside the byte-coded NDVI one."""
    guide = small["lst_250m"].isel(time=0, drop=True)
    guide = (240.0 + 15.0 * (guide - guide.min()) / (guide.max() - guide.min())).rename(None)
    guide.attrs = {"units": "K"}
    with pytest.raises(errors.GuideScaleError, match=r"Kelvin.*LST as the input"):
        xlstsr.upscale(small["lst_1km"], 4, "disr", guide=guide).compute()
