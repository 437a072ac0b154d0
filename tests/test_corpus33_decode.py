"""Round 33 (corpus33c): inputs decoded wrongly and accepted, or refused with advice that fails
when followed.

- a Celsius field converted by hand that keeps its stored scale_factor (scaled a second time:
  26-39 degC became ~273.8 K, accepted);
- MOD11A1's Day_view_time passed as the LST (its long_name holds 'Temperature'): the units
  refusals led it to a 283 K 'LST';
- an NDVI x 10000 guide holding MOD13's -3000 fill told only 'multiply by 0.0001' (followed,
  the fill became NDVI -0.3 used as data).
"""

import glob
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr import errors
from xlstsr.validate import _refuse_other_quantity, decode_lst

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
COG = DATA / "modis_h18v04_2020" / "cogs" / "MOD11A1.A2020209.h18v04.061_LST_Day_1km.tif"
HDF = sorted(glob.glob(str(DATA / "mod11a1_hdf" / "*.hdf")))


def _dn(seed: int = 0, shape=(32, 32)) -> xr.DataArray:
    """MODIS LST digital numbers (K / 0.02) of a warm scene, as open_cog gives them: floats,
    the scale left in attrs."""
    rng = np.random.default_rng(seed)
    dn = np.round(rng.uniform(299.0, 313.0, shape) / 0.02).astype("float32")
    return xr.DataArray(dn, dims=("y", "x"),
                        attrs={"scale_factor": 0.02, "add_offset": 0.0, "units": "K"})


# --- 08: a hand-converted Celsius field keeping scale_factor --------------------------------


def test_celsius_field_keeping_its_scale_factor_is_refused_as_scaled_twice():
    dn = _dn()
    celsius = dn * 0.02 - 273.15  # the user's conversion: attrs (scale_factor 0.02) kept
    celsius.attrs["units"] = "degC"
    assert celsius.attrs["scale_factor"] == 0.02
    with pytest.raises(errors.UnitsError, match="applied them a second time") as info:
        decode_lst(celsius).compute()
    msg = str(info.value)
    assert "already degrees Celsius" in msg and "attrs.pop('scale_factor'" in msg
    # the advice followed: the field decodes as the digital numbers do
    fixed = celsius.copy()
    fixed.attrs.pop("scale_factor", None)
    fixed.attrs.pop("add_offset", None)
    np.testing.assert_allclose(decode_lst(fixed).values, decode_lst(dn).values, atol=1e-3)


def test_kelvin_labelled_celsius_keeping_its_scale_factor_is_refused():
    kelvin = _dn(1) * 0.02  # Kelvin, scale kept, then labelled degC: 279 K once decoded
    kelvin.attrs["units"] = "degC"
    with pytest.raises(errors.UnitsError, match=r"Kelvin labelled degrees Celsius.*units'\] = 'K'"):
        decode_lst(kelvin).compute()


def test_scaled_celsius_digital_numbers_are_still_decoded():
    rng = np.random.default_rng(2)
    centi = np.round(rng.uniform(-5.0, 5.0, (32, 32)) * 100)  # degC x 100 of a scene at 0 degC
    for dtype in ("int16", "float32"):  # whole numbers: stored digital numbers, decoded once
        da = xr.DataArray(centi.astype(dtype), dims=("y", "x"),
                          attrs={"scale_factor": 0.01, "units": "degC"})
        np.testing.assert_allclose(decode_lst(da).values, centi * 0.01 + 273.15, atol=1e-3)


def test_real_cog_converted_to_celsius_by_hand_is_refused_by_upscale():
    if not COG.exists():
        pytest.skip(f"real data absent: {COG}")
    from xlstsr.io import open_cog

    dn = open_cog(str(COG)).isel(y=slice(256, 320), x=slice(256, 320))
    celsius = dn * 0.02 - 273.15
    celsius.attrs["units"] = "degC"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(errors.UnitsError, match="applied them a second time"):
            xlstsr.upscale(celsius, 2, method="bicubic").compute()


# --- 04: MOD11A1 view time / angle passed as the LST ----------------------------------------


@pytest.mark.parametrize("units", [None, "K", "degC"])
def test_view_time_labelled_with_temperature_is_not_an_lst(units):
    sc = xlstsr.datasets.sample_scene(n_times=1, size=32, seed=1)
    vt = xr.full_like(sc["lst_1km"], 10.4).rename("Day_view_time")
    vt.attrs = {"long_name": "Time of daytime Land-surface Temperature observation",
                "units": units or "hrs"}
    with pytest.raises(errors.UnitsError, match=r"\(view time\), not a land surface temperature"):
        xlstsr.upscale(vt, 2, method="bicubic").compute()


@pytest.mark.parametrize("name,attrs,hit", [
    ("Day_view_angl", {}, "view angle"),
    ("x", {"long_name": "View zenith angle of daytime Land-surface Temperature"}, "view angle"),
    ("x", {"long_name": "Quality control for daytime LST and emissivity"}, "quality"),
    ("QC_Night", {}, "quality"),
    ("Emis_31", {}, "emissivity"),
    ("Clear_day_cov", {}, "coverage"),
])
def test_other_mod11a1_layers_are_refused_by_name_or_label(name, attrs, hit):
    da = xr.DataArray([1.0], dims="x", name=name, attrs=attrs)
    with pytest.raises(errors.UnitsError, match=rf"\({hit}\), not a land surface"):
        _refuse_other_quantity(da, "LST")


def test_lst_names_and_labels_mentioning_other_words_stay_lsts():
    for name, long_name in (("LST_Day_1km", "Daily daytime 1km grid Land-surface Temperature"),
                            ("lst_qc_filtered", "LST_Day_1km (QC filtered)"),
                            ("lst", "LST, QC applied"),
                            ("LST_Night_1km", "land surface temperature at time of overpass"),
                            (None, "Land_surface_temperature"),
                            # a qualifier of the temperature, not "X of the LST"
                            ("lst", "Emissivity-corrected land surface temperature"),
                            ("QC_filtered_LST", "")):
        _refuse_other_quantity(xr.DataArray([300.0], dims="x", name=name,
                                            attrs={"long_name": long_name}), "LST")


def test_cli_refuses_mod11a1_view_time_as_lst(tmp_path, capsys):
    if not HDF:
        pytest.skip(f"real data absent: {DATA / 'mod11a1_hdf'}")
    from xlstsr.cli import main

    out = tmp_path / "vt.tif"
    try:
        rc = main(["upscale", HDF[0], str(out), "--variable", "Day_view_time", "--units", "degC",
                   "--factor", "2"])
    except SystemExit as exit_:
        rc = exit_.code
    assert rc != 0 and not out.exists()
    assert "(view time), not a land surface temperature" in capsys.readouterr().err


# --- 03: NDVI x 10000 guide with MOD13's fill: advice that works when followed ---------------


def test_ndvi_x10000_guide_with_fill_is_told_to_declare_the_fill_with_the_scale():
    sc = xlstsr.datasets.sample_scene(n_times=1, size=64, seed=3)
    lst, ndvi = sc["lst_1km"], sc["ndvi_250m"]
    stored = (ndvi * 10000).round().astype("int16")
    stored.values[:6, :] = -3000  # MOD13's NDVI fill, undeclared
    stored.attrs = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(errors.GuideScaleError, match="-3000") as info:
            xlstsr.upscale(lst, 4, method="tsharp", guide=stored)
        msg = str(info.value)
        assert "_FillValue=-3000, scale_factor=0.0001" in msg
        assert "guide.where(guide != -3000) * 0.0001" in msg
        right = xlstsr.upscale(lst, 4, method="tsharp", guide=ndvi.where(stored != -3000))
        declared = stored.copy()
        declared.attrs.update(_FillValue=-3000, scale_factor=0.0001)  # the advice, followed
        for guide in (declared, stored.where(stored != -3000) * 0.0001):
            sr = xlstsr.upscale(lst, 4, method="tsharp", guide=guide)
            assert float(abs(sr - right).max()) < 0.05


def test_ndvi_x10000_guide_without_fill_keeps_the_plain_advice():
    sc = xlstsr.datasets.sample_scene(n_times=1, size=64, seed=3)
    stored = (sc["ndvi_250m"] * 10000).round().astype("int16")
    stored.attrs = {}
    with pytest.raises(errors.GuideScaleError, match=r"multiply by 0\.0001") as info:
        xlstsr.upscale(sc["lst_1km"], 4, method="tsharp", guide=stored)
    assert "_FillValue" not in str(info.value)
