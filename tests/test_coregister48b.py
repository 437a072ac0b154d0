"""estimate_offset (review 48f): isolated gaps filled only where they would cost most of the
LST pixels compared (masked water bodies were filled with the land around them), a PSF
sharper than the resampling blur reads ~0, a held PSF converted as misfit_surface converts it,
the stored-scale refusal's border mask relative to the scene and only beside a fill, an
emissivity x 10000 guide not taken for MODIS LST numbers, the fill read on the LST's
footprint only."""

from __future__ import annotations

import re

import numpy as np
import pytest
import rioxarray  # noqa: F401  (the .rio accessor)
import xarray as xr
from test_coregister48 import _field, _moved

from xlstsr import coarsen, estimate_offset
from xlstsr.coregister import misfit_surface
from xlstsr.errors import ScaledIntegerError, UndeclaredFillError


def _geo(v: xr.DataArray, like: xr.DataArray) -> xr.DataArray:
    v = v.rio.write_crs(like.rio.crs).rio.write_transform(like.rio.transform())
    v.attrs = {}
    return v


def _follow(message: str, fine: xr.DataArray) -> xr.DataArray:
    code = [c for c in re.findall(r"`([^`]*)`", message) if c.startswith(("fine =", "from "))]
    assert code, message
    ns = {"fine": fine}
    for line in code:
        exec(line, ns)
    return ns["fine"]


def test_masked_water_bodies_are_left_gaps_where_enough_pixels_are_compared():
    # 1-4 px water bodies 10 K cooler on 0.6 % of the pixels, seen by the LST, masked in the
    # fine field: 963 of 1296 LST pixels compared without the fill; filled with the land
    # around them, the shift moved 1.5 m and its uncertainty grew 8x
    t = _field()
    rng = np.random.default_rng(7)
    seeds = rng.random(t.shape) < 0.003
    size = rng.integers(1, 5, t.shape)
    water = seeds.copy()
    for yy, xx, s in zip(*np.nonzero(seeds), size[seeds]):
        if s >= 2 and xx + 1 < t.shape[1]:
            water[yy, xx + 1] = True
        if s >= 3 and yy + 1 < t.shape[0]:
            water[yy + 1, xx] = True
        if s >= 4 and yy + 1 < t.shape[0] and xx + 1 < t.shape[1]:
            water[yy + 1, xx + 1] = True
    tw = t.where(~water, t - 10.0)
    lst = coarsen(tw, 4, psf=350)
    e = estimate_offset(_moved(tw.where(~water), 60.0, -140.0), lst)
    assert e.attrs["isolated_gaps_filled"] == 0
    assert e.attrs["isolated_gaps_filled_images"] == 0
    assert abs(float(e.shift_x) + 60.0) < 1 and abs(float(e.shift_y) - 140.0) < 1
    assert float(e.shift_uncertainty) < 1


def test_a_box_only_lst_reads_no_psf():
    # a block-mean LST (no PSF) is sharper than the bilinear blur of the nested grid: the fit
    # sits at 0 and the blur added back made it a 116 m PSF
    t = _field()
    e = estimate_offset(_moved(t, 60.0, -140.0), coarsen(t, 4))
    assert float(e.psf_sigma) < 30.0
    assert abs(float(e.shift_x) + 60.0) < 3 and abs(float(e.shift_y) - 140.0) < 3


def test_a_held_psf_is_the_sensors_as_in_misfit_surface():
    # psf=False blurred the already resampled field by the whole psf_sigma (mismatch 0.046 K),
    # misfit_surface by the rest of it: the two disagreed on the same psf_sigma
    t = _field()
    lst = coarsen(t, 4, psf=350)
    fine = _moved(t, 125.0, -125.0)
    e = estimate_offset(fine, lst, psf=False, psf_sigma=350.0)
    assert float(e.psf_sigma) == 350.0
    assert float(e.mismatch_after) < 0.01
    j = misfit_surface(fine, lst, np.array([-125.0, 125.0]), psf_sigma=350.0)
    at = float(j.sel(shift_y=125.0, shift_x=-125.0))
    assert at < 1e-6  # the parent, without the resampling's blur taken off: 4.2e-5
    held = 1 - float(e.correlation_after) ** 2
    assert abs(held - at) < 0.2 * at


def test_stored_scale_advice_of_a_winter_scene_works_when_followed():
    # K x 10 with 0 outside the scene, median 224 K: the advised border mask's valid_min=230
    # masked the scene whole (then "0 LST pixels are valid")
    t = _field() - 75.0
    lst = coarsen(t, 4, psf=350)
    f = _moved(t, 60.0, -140.0)
    raw = (f * 10).astype(np.float32)
    raw[:20], raw[-20:], raw[:, :20], raw[:, -20:] = 0, 0, 0, 0
    raw = _geo(raw, f)
    with pytest.raises(UndeclaredFillError, match=r"Kelvin x 10") as err:
        estimate_offset(raw, lst)
    assert "valid_min=230" not in str(err.value)
    fine = _follow(str(err.value), raw)
    assert int(np.isfinite(fine).sum()) > 0.4 * fine.size
    e = estimate_offset(fine, lst)
    assert bool(e.reliable)
    assert abs(float(e.shift_x) + 60.0) < 3 and abs(float(e.shift_y) - 140.0) < 3


def test_stored_numbers_without_fill_get_no_border_mask():
    # MODIS LST numbers (K x 50) with no fill anywhere: told to decode, not to mask a border
    # of fill-mixed pixels it has not, and not as an undeclared fill
    t = _field()
    lst = coarsen(t, 4, psf=350)
    f = _moved(t, 60.0, -140.0)
    raw = _geo((f / 0.02).round().astype(np.uint16), f)
    with pytest.raises(ScaledIntegerError, match=r"x 0\.02") as err:
        estimate_offset(raw, lst)
    assert not isinstance(err.value, UndeclaredFillError)
    assert "reference_mask" not in str(err.value)
    e = estimate_offset(_follow(str(err.value), raw), lst)
    assert bool(e.reliable) and abs(float(e.shift_x) + 60.0) < 3


def test_emissivity_guide_beside_a_cold_lst_is_no_stored_temperature():
    # emissivity x 10000 (0.98) x 0.02 = 196 K beside a 210 K LST: refused as MODIS LST
    # numbers, though nearly flat (a tenth of the LST's spread)
    t = _field() - 90.0
    lst = coarsen(t, 4, psf=350)
    f = _moved(t, 60.0, -140.0)
    emis = _geo(9800 + (f - 210) * 5, f)
    e = estimate_offset(emis, lst)
    assert bool(e.reliable)
    assert abs(float(e.shift_x) + 60.0) < 3 and abs(float(e.shift_y) - 140.0) < 3


def test_isolated_gaps_read_on_the_lsts_footprint_only():
    # the fill ran on the whole fine field before the clip (5400 x 5400: 7.5 s, 1.1 GB); only
    # the gaps the LST's footprint reads are filled and counted
    t = _field()
    lst = coarsen(t, 4, psf=350).isel(y=slice(12, 28), x=slice(12, 28))
    gappy = t.where(np.random.default_rng(3).random(t.shape) >= 0.05)
    e = estimate_offset(gappy, lst)
    gaps = int(np.isnan(gappy.values).sum())
    assert 0 < e.attrs["isolated_gaps_filled"] < 0.5 * gaps
    assert e.attrs["isolated_gaps_filled_images"] == 1
    assert abs(float(e.shift_x)) < 3 and abs(float(e.shift_y)) < 3


def test_docstring_says_filled_gaps_narrow_the_psf():
    returns = estimate_offset.__doc__.split("Returns")[1]
    assert "narrower" in returns and "fewer than half" in returns
