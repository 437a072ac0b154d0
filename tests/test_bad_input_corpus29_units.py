"""Corpus 29: units and scales the front door's advice got wrong (xlstsr/validate.py)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from helpers import make_lst, run_cli

import xlstsr
from xlstsr import errors
from xlstsr.validate import decode_lst

ST_MULT, ST_ADD = 0.00341802, 149.0


def _kelvin(n: int = 16, mean: float = 300.0, seed: int = 0) -> np.ndarray:
    return mean + 2.0 * np.random.default_rng(seed).standard_normal((n, n))


def _upscaled_mean(da) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(xlstsr.upscale(da, 4).mean())


# -- 1. Landsat C2 L2's scale without its 149 K offset -------------------------------------------

@pytest.mark.parametrize("scale", [ST_MULT, float(np.float32(ST_MULT))])
def test_landsat_scale_without_offset_is_refused_on_a_warm_scene(scale):
    """A 315 K scene's DN x 0.00341802 is 166 K, inside the physical range: it was accepted,
    149 K too cold, whatever the scene (only a scene with pixels below 150 K was caught)."""
    kelvin = _kelvin(mean=315.0)
    dn = np.round((kelvin - ST_ADD) / ST_MULT).astype("uint16")
    assert ((dn * ST_MULT).min() > 150.0)  # in range: no range check can see it
    with pytest.raises(errors.PhysicalRangeError) as err:
        _upscaled_mean(make_lst(dn, scale_factor=scale))
    msg = str(err.value)
    assert "add_offset=149.0" in msg and "open_landsat_c2l2" in msg, msg
    # the advice, followed, gives the scene
    fixed = make_lst(dn, scale_factor=scale, add_offset=ST_ADD, _FillValue=0)
    assert _upscaled_mean(fixed) == pytest.approx(float(kelvin.mean()), abs=0.1)


def test_cli_landsat_scale_flag_without_offset_is_refused(tmp_path, capsys):
    """`--scale 0.00341802` (the command line has no offset flag) ran with LST 149 K too cold."""
    dn = np.round((_kelvin(mean=315.0) - ST_ADD) / ST_MULT).astype("uint16")
    make_lst(dn).rio.to_raster(tmp_path / "lst.tif")  # a name the CLI cannot recognise
    code, err = run_cli(capsys, "upscale", tmp_path / "lst.tif", tmp_path / "sr.tif",
                        "--scale", str(ST_MULT), "--quiet")
    assert code == 2 and "add_offset=149.0" in err and "--offset 149" in err, err
    assert not (tmp_path / "sr.tif").exists()


# -- 2. degrees Celsius x 100 / x 10 with units degC ---------------------------------------------

def _offered(msg: str) -> list[tuple[float, str]]:
    """(scale, what they are) of each `da.attrs.update(scale_factor=...)` offered."""
    return [(float(k), w) for k, w in
            re.findall(r"scale_factor=([\d.]+)[^`]*`[^;]*? if they are ([^(;]+)", msg)]


def test_celsius_x100_integers_are_offered_the_celsius_scale_and_it_gives_the_scene():
    """degC x 100 with units degC was told `scale_factor=0.1` 'Kelvin x 10' (fitted on the
    values plus 273.15), then 'already Kelvin: set units K': 268 K for a 300 K scene."""
    kelvin = _kelvin()
    stored = np.round((kelvin - 273.15) * 100).astype("int16")
    with pytest.raises(errors.ScaledIntegerError) as err:
        _upscaled_mean(make_lst(stored, units="degC"))
    offered = _offered(str(err.value))
    assert offered and "Kelvin" not in str(err.value), str(err.value)
    for k, _ in offered:  # every scale offered gives the scene, units kept degC
        got = _upscaled_mean(make_lst(stored, units="degC", scale_factor=k))
        assert got == pytest.approx(float(kelvin.mean()), abs=0.1), (k, str(err.value))
    # float values of the same (decoded elsewhere): the same advice
    with pytest.raises(errors.PhysicalRangeError) as err:
        _upscaled_mean(make_lst(stored.astype("float32"), units="degC"))
    offered = _offered(str(err.value))
    assert [k for k, _ in offered] == [0.01], str(err.value)


def test_celsius_scale_named_when_the_values_read_as_kelvin():
    """degC x 10 with units degC (268 for 26.8 degC) was told only 'already Kelvin: set units
    K', 268 K once followed; degC x 100 given scale 0.1 likewise."""
    kelvin = _kelvin()
    x10 = np.round((kelvin - 273.15) * 10).astype("int16")
    with pytest.raises(errors.PhysicalRangeError) as err:
        _upscaled_mean(make_lst(x10, units="degC"))
    offered = dict((w.strip(), k) for k, w in _offered(str(err.value)))
    k = offered["degrees Celsius x 10"]
    got = _upscaled_mean(make_lst(x10, units="degC", scale_factor=k))
    assert got == pytest.approx(float(kelvin.mean()), abs=0.1)
    # x 100 read with a wrong scale 0.1: the label's degC x 100 named first
    x100 = np.round((kelvin - 273.15) * 100).astype("int16")
    with pytest.raises(errors.PhysicalRangeError) as err:
        _upscaled_mean(make_lst(x100, units="degC", scale_factor=0.1))
    first = _offered(str(err.value))[0]
    assert first[1].strip() == "degrees Celsius x 100", str(err.value)
    got = _upscaled_mean(make_lst(x100, units="degC", scale_factor=first[0]))
    assert got == pytest.approx(float(kelvin.mean()), abs=0.1)


def test_kelvin_integers_labelled_celsius_keep_the_kelvin_advice_first():
    kelvin = np.round(_kelvin()).astype("int16")
    with pytest.raises(errors.PhysicalRangeError, match=r"already Kelvin[^;]*units'\] = 'K'`;"):
        _upscaled_mean(make_lst(kelvin, units="degC"))


# -- 3. +Inf and -Inf both -------------------------------------------------------------------------

def test_infinities_of_both_signs_are_not_told_one_fill_value():
    """`_FillValue = np.inf`, then `-np.inf`, then `np.inf` again: one fill masks one sign."""
    k = _kelvin().astype("float32")
    k[2, 2], k[3, 3] = np.inf, -np.inf
    da = make_lst(k, units="K")
    with pytest.raises(errors.PhysicalRangeError) as err:
        _upscaled_mean(da)
    msg = str(err.value)
    assert "_FillValue" not in msg and "np.isfinite" in msg and "mask_out_of_range=True" in msg
    # each advice works
    assert np.isfinite(_upscaled_mean(da.where(np.isfinite(da))))
    out = decode_lst(da, mask_out_of_range=True).values
    assert np.isnan(out[2, 2]) and np.isnan(out[3, 3]) and np.isfinite(out).sum() == k.size - 2
    # one sign: its fill value still offered, and it works
    k[3, 3] = 300.0
    with pytest.raises(errors.PhysicalRangeError, match=r"_FillValue'\] = np\.inf`"):
        _upscaled_mean(make_lst(k, units="K"))
    assert np.isfinite(_upscaled_mean(make_lst(k, units="K", _FillValue=np.inf)))


# -- 4. float32's minimum as an undeclared fill ----------------------------------------------------

def test_float32_minimum_fill_is_named_without_numpy_overflow_warning():
    k = _kelvin().astype("float32")
    k[:3] = np.finfo(np.float32).min
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(errors.UndeclaredFillError) as err:
            xlstsr.upscale(make_lst(k, units="K"), 4)
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], \
        [str(w.message) for w in caught]
    assert "-3.40282e+38 K" in str(err.value) and "2346638528" not in str(err.value)
