"""A day and a night step of the same date (told apart by an ``overpass`` coordinate along
time): a scalar-date fine image in estimate_offset, the CSV of ``xlstsr evaluate``, the titles
of plot.comparison, and the advice of the refusals of a scalar date against such a series."""
import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401
import xarray as xr
from helpers import run_cli
from scipy.ndimage import gaussian_filter

import xlstsr
from xlstsr.errors import GridError

OV4 = ["day", "night", "day", "night"]
DATES4 = ["2020-07-01", "2020-07-01", "2020-07-02", "2020-07-02"]


def _series(dates, ov, n=16, res=0.01, off=0.0, seed=0):
    rng = np.random.default_rng(seed)
    night = np.where(np.array(ov) == "night", -20.0, 0.0)[:, None, None]
    v = 300 + rng.normal(0, 2, (len(dates), n, n)) + night + off
    return xr.DataArray(
        v, dims=("time", "y", "x"), name="lst", attrs={"units": "K"},
        coords={"time": pd.to_datetime(dates), "overpass": ("time", list(ov)),
                "y": 40 - res * (np.arange(n) + .5), "x": 10 + res * (np.arange(n) + .5)},
    ).rio.write_crs(4326)


def test_estimate_offset_scalar_fine_serves_day_and_night_of_its_date():
    from xlstsr.coregister import estimate_offset

    rng = np.random.default_rng(1)
    n = 64
    base = gaussian_filter(rng.normal(0, 1, (n, n)), 3) * 10 + 0.5
    fine = xr.DataArray(base[None], dims=("time", "y", "x"), name="ndvi",
                        coords={"time": pd.to_datetime(["2020-07-01"]),
                                "y": 40 - 0.0025 * (np.arange(n) + .5),
                                "x": 10 + 0.0025 * (np.arange(n) + .5)}).rio.write_crs(4326)
    c = fine.isel(time=0).coarsen(y=4, x=4).mean() * 3 + 300
    lst = xr.concat([c, c - 20], "time").assign_coords(
        time=pd.to_datetime(["2020-07-01", "2020-07-01"]), overpass=("time", ["day", "night"]))
    lst = lst.rename("lst").assign_attrs(units="K").rio.write_crs(4326)
    listed = estimate_offset(fine, lst)
    scalar = estimate_offset(fine.isel(time=0), lst)  # was refused: "cannot be told by date"
    assert scalar.sizes == listed.sizes
    for v in listed.data_vars:
        np.testing.assert_allclose(scalar[v].values, listed[v].values)
    # a scalar date of another day is still refused
    other = fine.isel(time=0).assign_coords(time=np.datetime64("2020-07-05"))
    with pytest.raises(GridError, match="2020-07-05"):
        estimate_offset(other, lst)


@pytest.mark.parametrize("suffix", [".csv", ".nc"])
def test_evaluate_table_tells_day_rows_from_night_rows(tmp_path, capsys, suffix):
    sr = _series(DATES4, OV4)
    ref = sr + xr.DataArray([0.5, 3.0, 0.5, 3.0], dims="time")  # night biased by 3 K
    ref = ref.assign_attrs(sr.attrs).rename("lst").rio.write_crs(4326)
    sr.to_netcdf(tmp_path / "sr.nc")
    ref.to_netcdf(tmp_path / "ref.nc")
    out = tmp_path / f"out{suffix}"
    code, err = run_cli(capsys, "evaluate", tmp_path / "sr.nc", tmp_path / "ref.nc", out)
    assert code == 0, err
    if suffix == ".csv":
        tab = pd.read_csv(out)
        assert list(tab.columns[:3]) == ["time", "overpass", "rmse"]
        assert tab["overpass"].tolist() == OV4
        np.testing.assert_allclose(tab["bias"], [-0.5, -3.0, -0.5, -3.0], atol=1e-6)
    else:
        with xr.open_dataset(out) as ds:
            assert [str(v) for v in ds["overpass"].values] == OV4
            assert ds["overpass"].dims == ("time",)


def test_evaluate_csv_of_one_step_keeps_its_overpass(tmp_path, capsys):
    sr = _series(DATES4, OV4).isel(time=1)  # the night step of 07-01: scalar time, overpass
    (sr - 0.5).to_netcdf(tmp_path / "sr.nc")
    sr.to_netcdf(tmp_path / "ref.nc")
    code, err = run_cli(capsys, "evaluate", tmp_path / "sr.nc", tmp_path / "ref.nc",
                        tmp_path / "out.csv")
    assert code == 0, err
    tab = pd.read_csv(tmp_path / "out.csv")
    assert tab["overpass"].tolist() == ["night"]
    assert tab["time"].tolist() == ["2020-07-01T00:00:00"]


def test_comparison_titles_say_which_overpass_is_drawn():
    import matplotlib.pyplot as plt

    from xlstsr import plot

    dates, ov = ["2020-07-01", "2020-07-01"], ["day", "night"]
    coarse = _series(dates, ov, n=8, res=0.004)
    sr = _series(dates, ov, n=32, res=0.001, seed=1)
    truth = _series(dates, ov, n=32, res=0.001, off=0.5, seed=2)
    titles = []
    for i in (0, 1):
        fig = plot.comparison(coarse, sr, truth, index={"time": i})
        titles.append(fig._suptitle.get_text())
        plt.close(fig)
    assert titles == ["time=2020-07-01 (day)", "time=2020-07-01 (night)"]
    # a night series (a scalar overpass) drawn along time is named too
    dates = ["2020-07-01", "2020-07-02"]
    night = [_series(dates, ["night"] * 2, n=n, res=r, seed=k).drop_vars("overpass")
             .assign_coords(overpass="night")
             for n, r, k in ((8, 0.004, 0), (32, 0.001, 1), (32, 0.001, 2))]
    fig = plot.comparison(*night, index={"time": 1})
    assert fig._suptitle.get_text() == "time=2020-07-02 (night)"
    plt.close(fig)


@pytest.mark.parametrize("dates", [DATES4[:2], DATES4])
def test_scalar_truth_against_repeats_advice_works(dates):
    sr = _series(dates, OV4[:len(dates)])
    ref = (sr.isel(time=1) + 0.5).drop_vars("overpass")  # the night truth of 07-01
    with pytest.raises(GridError, match="cannot be told by date") as exc:
        xlstsr.evaluate(sr, ref)
    msg = str(exc.value)
    # the advice to mark its overpass and pass it again was refused again: not given
    assert "day_night" not in msg and "pass it again" not in msg
    assert "night: `sr.isel(time=[1])`" in msg
    ref.attrs["day_night"] = "night"
    with pytest.raises(GridError, match=r"sr.isel\(time=\[1\]\)"):
        xlstsr.evaluate(sr, ref)
    out = xlstsr.evaluate(sr.isel(time=[1]), ref)  # the advice followed
    np.testing.assert_allclose(out["bias"].values, [-0.5])


def test_scalar_sr_against_repeats_advises_its_overpass_step():
    ref = _series(DATES4, OV4)
    sr = ref.isel(time=1) - 0.5  # the night step of 07-01
    with pytest.raises(GridError) as exc:
        xlstsr.evaluate(sr, ref)
    msg = str(exc.value)
    assert "'night': `reference.isel(time=1)`" in msg
    out = xlstsr.evaluate(sr, ref.isel(time=1))  # the advice followed
    np.testing.assert_allclose(float(out["bias"]), -0.5)
    # of no known overpass: the steps of that date, each named by its overpass
    with pytest.raises(GridError) as exc:
        xlstsr.evaluate(sr.drop_vars("overpass"), ref)
    assert "day: `reference.isel(time=0)`; night: `reference.isel(time=1)`" in str(exc.value)


def test_scalar_sr_against_a_one_step_reference_scores_its_field():
    """sr.isel(time=i) against reference.isel(time=[i]): xarray raised "dimension 'time'
    already exists as a scalar variable" while labelling the scores."""
    t = np.array(["2020-07-01"], dtype="datetime64[ns]")
    n = 8
    ref = xr.DataArray(300 + np.random.default_rng(0).normal(0, 1, (1, n, n)),
                       dims=("time", "y", "x"),
                       coords={"time": t, "y": np.arange(n)[::-1] * 1000.0 + 500,
                               "x": np.arange(n) * 1000.0 + 500},
                       attrs={"units": "K"}).rio.write_crs("EPSG:32631")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = xlstsr.evaluate(ref.isel(time=0), ref + 0.5)
    assert out["bias"].dims == ()
    np.testing.assert_allclose(float(out["bias"]), -0.5)
    assert out["time"].values == t[0]


def test_byte_labels_are_written_as_text(tmp_path, capsys):
    """A NetCDF char overpass label reads back as bytes: the table wrote b'day'."""
    sr = _series(DATES4, OV4)
    sr = sr.assign_coords(overpass=("time", np.array(OV4, dtype="S5")))
    sr.to_netcdf(tmp_path / "sr.nc")
    (sr + 0.5).rename("lst").to_netcdf(tmp_path / "ref.nc")
    code, err = run_cli(capsys, "evaluate", tmp_path / "sr.nc", tmp_path / "ref.nc",
                        tmp_path / "out.csv")
    assert code == 0, err
    assert pd.read_csv(tmp_path / "out.csv")["overpass"].tolist() == OV4


def test_a_stacked_lead_dim_writes_its_levels_once(tmp_path):
    """A (time, overpass) stack: its levels, indexed, were taken for labels beside the index
    (KeyError "['date', 'ov'] not in index")."""
    from xlstsr.cli import _write_table

    ds = xr.Dataset({"rmse": ("t", [1.0, 2.0])},
                    coords={"date": ("t", ["2020-07-01", "2020-07-01"]),
                            "ov": ("t", ["day", "night"])}).set_index(t=["date", "ov"])
    _write_table(ds, str(tmp_path / "s.csv"), ["t"])
    tab = pd.read_csv(tmp_path / "s.csv")
    assert tab["ov"].tolist() == ["day", "night"] and tab["rmse"].tolist() == [1.0, 2.0]
