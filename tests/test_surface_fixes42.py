"""Session 42 (s): coarsen declares its gaps as nodata (as upscale does); open_cog(band=N) of
a GeoTIFF dated by its band descriptions keeps that band's date; the scaling advice for one
lag asks for more lags (fit_lags=(2, 2) is refused) and a one-lag tuple becomes a flag value
the command line takes (`--lags 2`, not `--lags 2,`)."""
import warnings

import numpy as np
import pytest
import rasterio
import rioxarray
from rasterio.transform import from_origin

import xlstsr
from xlstsr.cli import _SCALING_FLAGS, _with_flags
from xlstsr.io import open_cog


def test_coarsen_declares_its_gaps_as_nodata(tmp_path):
    lst = xlstsr.datasets.sample_scene(n_times=1, size=32)["lst_1km"].isel(time=0, drop=True)
    lst = lst.where(lst.x > lst.x[2])  # a gap
    c = lst.lstsr.coarsen(2)
    assert c.isnull().any() and np.isnan(c.rio.encoded_nodata)
    c.rio.to_raster(tmp_path / "c.tif")
    back = rioxarray.open_rasterio(tmp_path / "c.tif", masked=True)
    assert np.isfinite(float(back.mean()))  # the gaps read as gaps, not as data


def test_band_of_a_description_dated_stack_keeps_its_date(tmp_path):
    p = tmp_path / "ee.tif"
    with rasterio.open(p, "w", driver="GTiff", width=4, height=4, count=3, dtype="float32",
                       crs="EPSG:32631", transform=from_origin(0, 400, 100, 100)) as f:
        f.write(np.stack([np.full((4, 4), 290.0 + i, np.float32) for i in range(3)]))
        for i, t in enumerate(["LST_Day_2020_07_01", "LST_Day_2020_07_02",
                               "LST_Day_2020_07_03"], 1):
            f.set_band_description(i, t)
    whole = open_cog(p)
    one = open_cog(p, band=2)
    assert one["time"].values == whole["time"].values[1]
    assert str(one["time"].values)[:10] == "2020-07-02"


def test_one_lag_advice_asks_for_more_lags():
    lst = xlstsr.datasets.sample_scene(n_times=1, size=64)["lst_1km"].isel(time=0, drop=True)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        xlstsr.scaling_stats(lst, lags=(2,), factors=(1, 2, 4))
    (msg,) = [str(x.message) for x in w if "hurst" in str(x.message)]
    assert "fit_lags=(2, 2)" not in msg and "lags=(1, 2, 4)" in msg
    assert "`--lags 1,2,4`" in _with_flags(msg, _SCALING_FLAGS)
    assert "`--lags 2`" in _with_flags("pass lags=(2,) here", _SCALING_FLAGS)


@pytest.mark.parametrize("lags", [(5, 7)])
def test_two_lags_outside_the_window_keep_the_window_advice(lags):
    lst = xlstsr.datasets.sample_scene(n_times=1, size=64)["lst_1km"].isel(time=0, drop=True)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        xlstsr.scaling_stats(lst, lags=lags, factors=(1, 2, 4))
    msgs = [str(x.message) for x in w if "hurst" in str(x.message)]
    assert msgs and "fit_lags=(5, 7)" in msgs[0]
