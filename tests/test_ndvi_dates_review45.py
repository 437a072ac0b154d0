"""Review 45d: per-date NDVI told from composites by its own spacing, same-day NDVI later in
the day paired by day, 8-day composites' tolerance, to_cogs naming repeats by a text-date
coordinate, and the refusal of repeated non-date labels."""
import os
import re

import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401
import xarray as xr

from tests.test_ndvi_dates_advice45 import _field, _ndvi
from xlstsr.calibration import Calibration, apply_calibration, fit_calibration
from xlstsr.errors import GridError, XlstsrError
from xlstsr.io import to_cogs

CAL = Calibration(slope=1.0, offset=0.0, ndvi=1.0)


def test_sparse_lst_on_composite_days_keeps_the_composite_advice():
    """F1: 2 of the LST's 3 days are composite start days: composites still, not per date."""
    da = _field(pd.to_datetime(["2020-07-11 10:30", "2020-07-14 10:30", "2020-07-27 10:30"]))
    for start in ("00:00", "10:30"):
        comp = _ndvi(pd.to_datetime([f"2020-{d} {start}" for d in ("06-25", "07-11", "07-27")]))
        with pytest.raises(GridError, match="time_tolerance='15D'") as info:
            apply_calibration(da, CAL, comp, check=False)
        assert "single dates" not in str(info.value)
        out = apply_calibration(da, CAL, comp, check=False, time_tolerance="15D")
        assert out.sizes["time"] == 3
        np.testing.assert_allclose((out - da).values[1], comp.values[1], atol=1e-4)


def test_per_date_ndvi_later_in_the_day_is_paired_by_day():
    """F2: NDVI at 10:30, LST at 10:00: no tolerance (the previous day's NDVI); the advised
    flooring runs and pairs each date with its own day's NDVI."""
    days = pd.date_range("2020-07-01", periods=5, freq="D")
    da = _field(days + pd.Timedelta("10h"))
    nd = _ndvi(days + pd.Timedelta("10h30min"))
    for call in (lambda n: apply_calibration(da, CAL, n, check=False),
                 lambda n: fit_calibration(da, da + 1.0, n, min_pixels=10)):
        with pytest.raises(GridError) as info:
            call(nd)
        msg = str(info.value)
        assert "time_tolerance" not in msg
        code = re.search(r"`(ndvi = [^`]+)`", msg).group(1)
        assert code == "ndvi = ndvi.assign_coords(time=ndvi['time'].dt.floor('D'))"
    ndvi = nd.assign_coords(time=nd["time"].dt.floor("D"))
    out = apply_calibration(da, CAL, ndvi, check=False)
    np.testing.assert_allclose((out - da).values, nd.values, atol=1e-4)
    # some days missing: keep the days it has, then pair by day (not a '1D' tolerance)
    with pytest.raises(GridError, match=r"floor\('D'\)\)`\)\.$") as info:
        apply_calibration(da, CAL, nd.isel(time=[0, 1, 3, 4]), check=False)
    assert "time_tolerance" not in str(info.value)


def test_per_date_ndvi_earlier_in_the_day_keeps_its_tolerance():
    days = pd.date_range("2020-07-01", periods=5, freq="D")
    da = _field(days + pd.Timedelta("10h30min"))
    nd = _ndvi(days + pd.Timedelta("10h"))
    with pytest.raises(GridError, match="time_tolerance='1D'") as info:
        apply_calibration(da, CAL, nd, check=False)
    assert "dt.floor('D')" in str(info.value)
    out = apply_calibration(da, CAL, nd, check=False, time_tolerance="1D")
    np.testing.assert_allclose((out - da).values, nd.values, atol=1e-4)


def test_eight_day_composites_advise_seven_days():
    """F5: 8-day composites against daily LST: '7D' (8-day), not '15D' (MODIS 16-day)."""
    da = _field(pd.date_range("2020-07-01", periods=24, freq="D") + pd.Timedelta("10h30min"))
    comp = _ndvi(pd.date_range("2020-07-01", periods=3, freq="8D"))
    with pytest.raises(GridError, match="time_tolerance='7D'") as info:
        apply_calibration(da, CAL, comp, check=False)
    msg = str(info.value)
    assert "8-day" in msg and "15D" not in msg
    out = apply_calibration(da, CAL, comp, check=False, time_tolerance="7D")
    np.testing.assert_allclose((out - da).values[7], comp.values[0], atol=1e-4)
    np.testing.assert_allclose((out - da).values[8], comp.values[1], atol=1e-4)
    sel = eval(re.search(r"`ndvi = (ndvi\.sortby[^`]+)`", msg).group(1),
               {}, {"ndvi": comp, "da": da})
    assert sel.sizes["time"] == 24


def _lst(time, **coords):
    return xr.DataArray(
        np.stack([np.full((4, 4), 300.0, "f4"), np.full((4, 4), 280.0, "f4")]),
        dims=("time", "y", "x"), name="lst", attrs={"units": "K"},
        coords={"time": time, "y": 40 - 0.01 * np.arange(4), "x": 10 + 0.01 * np.arange(4),
                **coords},
    ).rio.write_crs(4326)


def test_cogs_repeated_dates_named_by_a_text_date_coordinate(tmp_path):
    """F3: the only coordinate telling the repeats apart holds ISO times: it names them."""
    da = _lst(np.array(["2020-07-01"] * 2, "datetime64[ns]"),
              acq=("time", ["2020-07-01T10:30", "2020-07-01T22:30"]))
    to_cogs(da, tmp_path, prefix="lst")
    assert sorted(os.listdir(tmp_path)) == ["lst_2020-07-01_2020-07-01T103000.tif",
                                            "lst_2020-07-01_2020-07-01T223000.tif"]


def test_cogs_repeated_text_labels_refusal_names_the_problem(tmp_path):
    """F4: repeated labels that are not dates, with an overpass: not advised the overpass
    coordinate they have, but to give the steps dates."""
    da = _lst(np.array(["scene_a"] * 2), overpass=("time", ["day", "night"]))
    with pytest.raises(XlstsrError) as info:
        to_cogs(da, tmp_path, prefix="lst")
    msg = str(info.value)
    assert "are not dates ('scene_a')" in msg and "'overpass'" in msg
    assert "assign_coords(overpass=" not in msg and "assign_coords(time=dates)" in msg
