"""Review 48c of the session-48 validate/guide fixes (findings 1-6): a cube step at a fill
on a dask cube read one step per chunk gets the step advice; every guide-offset warning
gives the offset with its true sign; clean stored integers get the linear interp advice; a
coarse integer crop or step uniform at 0 degC is data (a degC x 100 one refused, with the
check_fill route); grid advice for a list/dict/tuple guide is written on its band."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xlstsr
from xlstsr.errors import GridError, PhysicalRangeError, UndeclaredFillError


def _codes(msg: str, word: str) -> list[str]:
    return [c for c in re.findall(r"`([^`]+)`", msg) if word in c]


def _cube(raw: np.ndarray, attrs: dict) -> xr.DataArray:
    n, ny, nx = raw.shape
    return xr.DataArray(
        raw, dims=("time", "y", "x"),
        coords={"time": pd.date_range("2020-07-01", periods=n),
                "y": 1e5 - 1000 * (np.arange(ny) + 0.5), "x": 1000 * (np.arange(nx) + 0.5)},
        attrs=attrs).rio.write_crs("EPSG:32631")


# -- 1: a step at a fill, one step per dask chunk ---------------------------------------------

@pytest.mark.parametrize("fill", [0, 65535])
def test_dask_one_step_chunks_step_at_a_fill_get_step_advice(fill):
    t = 300 + np.random.default_rng(2).normal(0, 2, (4, 20, 20))
    raw = np.round(t / 0.02).astype("uint16")
    raw[2] = fill
    da = _cube(raw, {"scale_factor": 0.02, "units": "K"}).chunk({"time": 1})
    with pytest.raises(PhysicalRangeError) as err:
        xlstsr.upscale(da, 2, "bicubic").compute()
    msg = str(err.value)
    assert "time='2020-07-03" in msg and f"{fill} as stored" in msg
    # the step's own advice comes first (the units advice, followed, failed on the next step)
    first = re.findall(r"`([^`]+)`", msg)[0]
    assert "units" not in first, msg
    for word in ("drop_sel", "_FillValue"):
        ns = {"da": da.copy()}
        exec(_codes(msg, word)[0], ns)
        out = xlstsr.upscale(ns["da"], 2, "bicubic").compute()
        assert float(out.isel(time=0).mean()) == pytest.approx(300, abs=1)


# -- 2: every guide-offset warning states the offset with its sign ----------------------------

def test_guide_offset_beyond_the_search_states_the_offset_with_its_sign():
    from test_coregister import Waves, _coarse_lst, _fine_same_crs

    from xlstsr.errors import GuideAlignmentWarning

    waves = Waves(7)
    lst = _coarse_lst(waves, sigma=350.0)
    ndvi = _fine_same_crs(waves, (0.0, 0.0), guide=True)
    for dx, dy in ((700.0, 0.0), (0.0, -700.0)):  # coordinates moved off the content
        moved = ndvi.assign_coords(x=ndvi.x + dx, y=ndvi.y + dy)
        moved = moved.rio.write_transform(moved.rio.transform(recalc=True))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            xlstsr.upscale(lst, 4, "tsharp", guide=moved, guide_offset="check")
        msg = next(str(w.message) for w in caught if issubclass(w.category, GuideAlignmentWarning)
                   and "searched twice as far" in str(w.message))
        ox, oy = map(float, re.search(r"far it is \(([-+\d.e]+), ([-+\d.e]+)\)", msg).groups())
        assert ox == pytest.approx(dx, abs=60) and oy == pytest.approx(dy, abs=60), msg
        bx, by = map(float, re.search(r"coordinates by \(([-+\d.e]+), ([-+\d.e]+)\)",
                                      msg).groups())
        assert (bx, by) == (-ox, -oy), msg


# -- 3: the interp advice for stored integers without a declared fill -------------------------

def _irregular(raw: np.ndarray, y: np.ndarray) -> xr.DataArray:
    x = 1000 * (np.arange(raw.shape[1]) + 0.5)
    return xr.DataArray(raw, dims=("y", "x"), coords={"y": y, "x": x},
                        attrs={"scale_factor": 0.02, "units": "K"}).rio.write_crs("EPSG:32631")


def _field(y: np.ndarray, n: int) -> np.ndarray:
    return 300 + 5 * np.sin(2 * np.pi * y / 9000.0)[:, None] + np.zeros((1, n))


def test_clean_integers_get_the_linear_interp_advice():
    y = 1e5 - np.cumsum(np.random.default_rng(1).uniform(700, 1300, 48))
    da = _irregular(np.round(_field(y, 48) / 0.02).astype("uint16"), y)
    with pytest.raises(GridError) as err:
        xlstsr.upscale(da, 2, "bicubic")
    code = _codes(str(err.value), "interp")[0]
    assert "nearest" not in code and ".where(" not in code, code
    ns = {"da": da, "np": np}
    exec(code, ns)
    k = xlstsr.validate.decode_lst(ns["da"]).values
    truth = _field(ns["da"].y.values, 48)
    assert float(np.sqrt(np.mean((k - truth) ** 2))) < 0.3  # nearest: 0.65 K
    assert xlstsr.upscale(ns["da"], 2, "bicubic").notnull().all()


def test_integers_holding_a_zero_get_nearest_or_its_mask():
    y = 1e5 - np.cumsum(np.random.default_rng(1).uniform(700, 1300, 48))
    truth = _field(y, 48)
    raw = np.round(truth / 0.02).astype("uint16")
    raw[8:14, 8:14] = 0  # a fill nobody declared
    da = _irregular(raw, y)
    with pytest.raises(GridError) as err:
        xlstsr.upscale(da, 2, "bicubic")
    msg = str(err.value)
    assert "method='nearest'" in _codes(msg, "interp")[0]
    masked = _codes(msg, ".where(da != 0)")[0]
    ns = {"da": da, "np": np}
    exec(masked, ns)
    dec = xlstsr.validate.decode_lst(ns["da"])
    assert float(dec.min()) >= truth.min() - 0.05  # no 0 mixed into its neighbours
    xlstsr.upscale(ns["da"], 2, "bicubic")


# -- 4: a stored 0 on every pixel of a step -----------------------------------------------------

def test_coarse_integer_crop_at_zero_degc_is_data():
    one = xr.DataArray(np.zeros((8, 8), "int8"), dims=("y", "x"),
                       coords={"y": 1e5 - 1000 * (np.arange(8) + 0.5),
                               "x": 1000 * (np.arange(8) + 0.5)},
                       attrs={"units": "degC"}).rio.write_crs("EPSG:32631")
    out = xlstsr.upscale(one, 2, "bicubic")  # whole degrees, a crop of melting ice
    assert float(out.mean()) == pytest.approx(273.15, abs=1e-3)
    raw = np.round(np.random.default_rng(0).normal(-5, 1, (3, 8, 8)) / 0.1).astype("int16")
    raw[1] = 0  # degC x 0.1, a step of melting ice
    out = xlstsr.upscale(_cube(raw, {"units": "degC", "scale_factor": 0.1}), 2, "bicubic")
    assert float(out.isel(time=1).mean()) == pytest.approx(273.15, abs=1e-3)


def test_fine_step_at_zero_is_refused_with_the_check_fill_route():
    t = 20 + np.random.default_rng(2).normal(0, 2, (4, 20, 20))
    raw = np.round(t / 0.01).astype("int16")
    raw[2] = 0  # degC x 100: 0.00 on every pixel is a missing date
    da = _cube(raw, {"units": "degC", "scale_factor": 0.01})
    with pytest.raises(UndeclaredFillError) as err:
        xlstsr.upscale(da, 2, "bicubic")
    code = _codes(str(err.value), "check_fill=False")[0]
    ns = {"da": da, "xlstsr": xlstsr}
    exec(code, ns)
    out = xlstsr.upscale(ns["da"], 2, "bicubic")  # the user's choice: kept as 0 degC
    assert float(out.isel(time=2).mean()) == pytest.approx(273.15, abs=1e-3)


# -- 5: grid advice in the guide's form ---------------------------------------------------------

def test_grid_advice_for_list_dict_tuple_guides_runs_as_written():
    from test_coregister import Waves, _coarse_lst, _fine_same_crs

    waves = Waves(7)
    lst = _coarse_lst(waves, sigma=350.0)
    ndvi = _fine_same_crs(waves, (0.0, 0.0), guide=True)
    y = ndvi.y.values + np.random.default_rng(0).uniform(-60, 60, ndvi.y.size)
    bad = ndvi.assign_coords(y=y)
    with pytest.raises(GridError) as err:
        xlstsr.upscale(lst, 4, "tsharp", guide=bad)
    assert "each band" not in str(err.value)  # a DataArray: no note for other forms
    for guide in ([bad, ndvi * 0.5, bad * 0.5], {"a": bad, "b": ndvi * 0.5, "c": bad * 0.5},
                  (bad, ndvi * 0.5, bad * 0.5)):
        with pytest.raises(GridError) as err:
            xlstsr.upscale(lst, 4, "tsharp", guide=guide)
        codes = _codes(str(err.value), "interp")
        assert len(codes) == 2, str(err.value)  # each irregular band's own code, at once
        ns = {"guide": guide, "np": np}
        for code in codes:
            exec(code, ns)
        xlstsr.upscale(lst, 4, "tsharp", guide=ns["guide"])
