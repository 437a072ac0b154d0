"""Probe 51P (figures, pairing advice, examples): the missing-steps advice runs when followed
(its first fix raised KeyError every time); comparison checks and pairs only the step it draws
(a good step was refused for another step's values, a truth of some dates for a date it has);
a figure replaces a link at its path, not the link's target; a NaT label is titled, not a raw
AttributeError; truth_maps reads only the truth's ground of a lazy result; the examples refuse
a file given as --out."""

import re
import runpy
import warnings
from pathlib import Path

import dask.array as dsa
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xlstsr
from xlstsr import plot
from xlstsr.errors import GridError, PhysicalRangeError, UndeclaredFillError
from xlstsr.steps import pair_steps

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def scene():
    s = xlstsr.datasets.sample_scene(size=64)
    lst, truth = s["lst_1km"].load(), s["lst_250m"].load()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sr = lst.lstsr.upscale(4, method="bicubic").compute()
    return lst, sr, truth


def _follow(message: str, env: dict) -> dict:
    """Run every assignment the message gives in backticks, in order, as a user pastes them."""
    for code in re.findall(r"`([^`]+)`", message):
        if re.match(r"^[\w\[\]' ]+ = ", code):
            exec(code, {"pd": pd, "np": np}, env)
    return env


def _day(da, i):
    return str(pd.Timestamp(da["time"].values[i]).date())


# F5: the advice for steps the truth lacks ---------------------------------------------------

def test_missing_steps_advice_runs_when_followed(scene):
    _, sr, truth = scene
    part = truth.isel(time=[0, 1])
    with pytest.raises(GridError) as err:
        pair_steps(part, sr, "reference", "super-resolved field", like_var="sr")
    msg = str(err.value)
    # before: "give the reference of the same steps (`reference = reference.sel(time=
    # sr['time'])`)", which raised KeyError: the refusal fires where those labels are missing
    assert "sel(time=sr['time'])" not in msg
    env = _follow(msg, {"sr": sr, "reference": part})
    assert env["sr"].sizes["time"] == 2
    paired = pair_steps(env["reference"], env["sr"], "reference")
    np.testing.assert_array_equal(paired["time"].values, sr["time"].values[:2])
    # evaluate's refusal is the same sentence, and its advice followed is scored
    with pytest.raises(GridError) as err:
        xlstsr.evaluate(sr, part)
    env = _follow(str(err.value), {"sr": sr, "reference": part})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert xlstsr.evaluate(env["sr"], env["reference"]).sizes["time"] == 2


def test_missing_steps_sharing_none_offers_no_empty_selection(scene):
    _, sr, truth = scene
    other = truth.assign_coords(time=truth["time"].values + np.timedelta64(30, "D"))
    with pytest.raises(GridError) as err:
        pair_steps(other, sr, "reference", "super-resolved field", like_var="sr")
    msg = str(err.value)
    # before: the same `.sel(time=sr['time'])` (KeyError) and a `common` selection of nothing
    assert "share no step" in msg and "common =" not in msg and ".sel(" not in msg


def test_comparison_draws_a_step_the_truth_has(scene, tmp_path):
    lst, sr, truth = scene
    part = truth.isel(time=[0, 1])
    # before: refused (the truth lacks date 3), advising the `.sel` that raised KeyError
    fig = plot.comparison(lst, sr, part, index={"time": 1}, path=tmp_path / "a.png")
    assert fig._suptitle.get_text() == f"time={_day(sr, 1)}"
    ax = next(a for a in fig.axes if a.get_title() == "bicubic - truth")
    err_map = np.ma.filled(ax.images[0].get_array().astype(float), np.nan)
    np.testing.assert_allclose(np.nanmean(err_map), float((sr[1] - truth[1]).mean()), atol=1e-4)
    # the step it lacks refused, with advice that draws when followed (for a dict too)
    for upscaled, var in ((sr, "upscaled"), ({"b": sr}, "upscaled['b']")):
        with pytest.raises(GridError) as err:
            plot.comparison(lst, upscaled, part, index={"time": 2}, path=tmp_path / "b.png")
        msg = str(err.value)
        assert f"{var} = {var}.sel(time=common)" in msg and "truth = truth.sel(time=common)" in msg
        env = _follow(msg, {"upscaled": dict(upscaled) if isinstance(upscaled, dict)
                            else upscaled, "truth": part})
        fig = plot.comparison(lst, env["upscaled"], env["truth"], index={"time": 1},
                              path=tmp_path / "c.png")
        assert fig._suptitle.get_text() == f"time={_day(sr, 1)}"


# F1: comparison checks the step it draws ----------------------------------------------------

def _bad_steps(lst, sr):
    fill = sr.copy()
    fill[2, :20] = 200.0  # an undeclared 200 K fill band in the last date only
    diverged = sr.copy()
    diverged[2] = diverged[2] + 150.0  # a diverged model on the last date only
    cold = lst.copy()
    cold[2, :5] = 200.0
    return fill, diverged, cold


@pytest.mark.parametrize("lazy", [False, True])
def test_comparison_checks_only_the_step_drawn(scene, tmp_path, lazy):
    lst, sr, _ = scene
    fill, diverged, cold = _bad_steps(lst, sr)
    ch = (lambda d: d.chunk({"time": 1})) if lazy else (lambda d: d)
    # before, in memory: every one refused for the last date while drawing the first
    for coarse, result in ((lst, fill), (lst, diverged), (cold, sr)):
        fig = plot.comparison(ch(coarse), ch(result), index={"time": 0},
                              path=tmp_path / "a.png")
        assert fig._suptitle.get_text() == f"time={_day(sr, 0)}"
    # the step drawn still refused, its image named ("of an image" did not say which)
    named = re.escape(f"of the image drawn (time={_day(sr, 2)})")
    with pytest.raises(UndeclaredFillError, match=f"result 'bicubic' value 200 .*{named}"):
        plot.comparison(ch(lst), ch(fill), index={"time": 2}, path=tmp_path / "b.png")
    with pytest.raises(UndeclaredFillError, match=f"coarse input value 200 .*{named}"):
        plot.comparison(ch(cold), ch(sr), index={"time": 2}, path=tmp_path / "b.png")
    with pytest.raises(PhysicalRangeError, match="result 'bicubic'"):
        plot.comparison(ch(lst), ch(diverged), index={"time": 2}, path=tmp_path / "b.png")


# F3: a link at the figure's path ------------------------------------------------------------

def test_figure_replaces_a_link_not_its_target(scene, tmp_path):
    lst, sr, truth = scene
    st = xlstsr.scaling_stats(truth)  # 64 x 64: exponents of enough scales
    draws = {"comparison": lambda p: plot.comparison(lst, sr, path=p),
             "truth_maps": lambda p: plot.truth_maps(lst.isel(time=0), {"b": sr.isel(time=0)},
                                                     truth.isel(time=0), path=p),
             "scaling": lambda p: plot.scaling(st, path=p),
             "compare": lambda p: plot.compare({"a": st}, path=p)}
    for name, draw in draws.items():
        target = tmp_path / f"{name}_mine.png"
        target.write_bytes(b"user's own file")
        link = tmp_path / f"{name}.png"
        link.symlink_to(target)
        draw(link)
        # before: savefig wrote through the link, over the user's file
        assert target.read_bytes() == b"user's own file", name
        assert not link.is_symlink() and link.read_bytes()[:4] == b"\x89PNG", name


# F6: a NaT time label -----------------------------------------------------------------------

def test_scaling_figures_title_a_nat_label(scene, tmp_path):
    _, _, truth = scene
    times = truth["time"].values.copy()
    times[0] = np.datetime64("NaT")
    nat = truth.assign_coords(time=times)
    st = xlstsr.scaling_stats(nat)
    # before: AttributeError 'NaTType' object has no attribute 'normalize'
    fig = plot.scaling(st, reduce=None, path=tmp_path / "a.png")
    assert fig._suptitle.get_text() == "time=no date (NaT)"
    fig = plot.compare({"a": st}, reduce=None, path=tmp_path / "b.png")
    assert fig._suptitle.get_text() == "time=no date (NaT)"
    fig = plot.scaling(xlstsr.scaling_stats(nat.isel(time=[0])), path=tmp_path / "c.png")
    assert fig._suptitle.get_text() == "time=no date (NaT)"


# F2: truth_maps reads the truth's ground of a lazy result -----------------------------------

def test_truth_maps_computes_only_the_truths_ground(tmp_path):
    n = 64
    rng = np.random.default_rng(0)
    base = (290 + 3 * np.sin(np.arange(n) / 7)[None, :] + 3 * np.cos(np.arange(n) / 5)[:, None]
            + rng.standard_normal((n, n))).astype("float32")
    coarse = xr.DataArray(base, dims=("y", "x"), attrs={"units": "K"},
                          coords={"y": 4e6 - 1000.0 * np.arange(n) - 500,
                                  "x": 1000.0 * np.arange(n) + 500}).rio.write_crs("EPSG:32631")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sr = coarse.chunk({"y": 16, "x": 16}).lstsr.upscale(4, method="bicubic")
    truth = sr.isel(y=slice(100, 132), x=slice(100, 132)).compute() + 0.3
    seen = set()

    def record(block, block_info=None):
        seen.add(tuple(block_info[0]["chunk-location"]))
        return block

    counted = sr.copy(data=dsa.map_blocks(record, sr.data, dtype=sr.dtype))
    fig = plot.truth_maps(coarse.chunk({"y": 16, "x": 16}), {"bicubic": counted}, truth,
                          path=tmp_path / "a.png")
    # before: all 16 of the result's 64 x 64 blocks computed for a 32 x 32 truth in 4 of them
    assert seen and seen <= {(1, 1), (1, 2), (2, 1), (2, 2)}
    err = np.ma.filled(fig.axes[[a.get_title() for a in fig.axes].index(
        "bicubic - truth")].images[0].get_array().astype(float), np.nan)
    np.testing.assert_allclose(err, -0.3, atol=1e-4)  # the same ground, drawn as before


# F4: --out an existing file -----------------------------------------------------------------

@pytest.mark.parametrize("name", ["stac_to_zarr", "modis_granules", "train_on_cube"])
def test_examples_refuse_a_file_as_out(tmp_path, capsys, name):
    afile = tmp_path / "afile"
    afile.write_text("x")
    main = runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="example")["main"]
    for out in (afile, afile / "sub"):
        # before: a FileExistsError traceback from mkdir (with the shared data), or the data
        # refused while the file went unmentioned
        with pytest.raises(SystemExit) as info:
            main(["--data", str(tmp_path), "--out", str(out)])
        assert info.value.code == 2
        assert f"{afile} is a file, not a folder" in capsys.readouterr().err
    assert afile.read_text() == "x"
