"""Figures (xlstsr.plot) fed bad input, corpus 32: the step drawn computed alone, the dates and
the ground of the fields drawn together checked, an all-fill input named, no folders left by a
refused call, the scaled truth's advice in the figures' terms; README's demo line."""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr import plot
from xlstsr.errors import AllNaNError, GridError, ScaledIntegerError

matplotlib = pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def scene():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xlstsr.datasets.sample_scene(size=64)  # 3 steps: 16 x 16 and 64 x 64


def _up(c, factor=4):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xlstsr.upscale(c, factor, "bicubic")


@pytest.fixture(scope="module")
def stats(scene):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xlstsr.scaling_stats(scene["lst_1km"])


def _tagged_lazy_stats(st):
    """``st`` made lazy, one chunk per step, and the list of the steps its computations read."""
    seen = []

    def tagger(axis):
        def tag(b, block_info=None):
            seen.append(block_info[0]["chunk-location"][axis])
            return b
        return tag

    lazy = st.chunk({"time": 1})
    for v in list(lazy.data_vars):
        d = lazy[v]
        if "time" in d.dims:
            lazy[v] = d.copy(data=d.data.map_blocks(tagger(d.dims.index("time")),
                                                    dtype=d.dtype))
    return lazy, seen


def test_reduce_none_computes_only_the_step_drawn(stats, tmp_path):
    lazy, seen = _tagged_lazy_stats(stats)
    assert lazy["hurst"].chunks is not None
    plot.scaling(lazy, reduce=None, path=tmp_path / "a.png")
    assert sorted(set(seen)) == [0]  # every step was computed to draw the first
    seen.clear()
    lazy2, seen2 = _tagged_lazy_stats(stats)
    plot.compare({"a": lazy, "b": lazy2}, reduce=None, path=tmp_path / "b.png")
    assert sorted(set(seen)) == [0] and sorted(set(seen2)) == [0]
    seen.clear()
    plot.scaling(lazy, reduce="median", path=tmp_path / "c.png")  # a summary reads them all
    assert sorted(set(seen)) == [0, 1, 2]


def test_truth_maps_refuses_fields_of_other_dates(scene, tmp_path):
    c, t = scene["lst_1km"], scene["lst_250m"]
    up = _up(c)
    with pytest.raises(GridError) as e:
        plot.truth_maps(c.isel(time=0), {"bicubic": up.isel(time=2)}, t.isel(time=0))
    d_res, d_truth = (str(x.time.values[i])[:10] for x, i in ((up, 2), (t, 0)))
    assert d_res in str(e.value) and d_truth in str(e.value) and "result 'bicubic'" in str(e.value)
    with pytest.raises(GridError, match="coarse input"):
        plot.truth_maps(c.isel(time=1), {"bicubic": up.isel(time=0)}, t.isel(time=0))
    # the same date: drawn
    plot.truth_maps(c.isel(time=0), {"bicubic": up.isel(time=0)}, t.isel(time=0),
                    path=tmp_path / "ok.png")


def test_comparison_refuses_input_and_results_of_other_ground(scene, tmp_path):
    c = scene["lst_1km"].isel(time=0)
    half = _up(c.isel(x=slice(0, 8)))
    shifted = _up(c.isel(x=slice(4, 16)))
    for up in (half, shifted):
        with pytest.raises(GridError, match="same ground"):
            plot.comparison(c, up)
    whole = _up(c)
    with pytest.raises(GridError, match="same ground"):
        plot.comparison(c, {"whole": whole, "half": half})
    # results of one input at x2 and x4 cover its ground: drawn, south-up input too
    plot.comparison(c, {"x2": _up(c, 2), "x4": whole}, path=tmp_path / "a.png")
    plot.comparison(c.isel(y=slice(None, None, -1)), whole, path=tmp_path / "b.png")


def test_truth_maps_all_fill_digital_numbers_named_all_nan(scene):
    c, t = scene["lst_1km"].isel(time=0), scene["lst_250m"].isel(time=0)
    up = _up(c)
    dn = xr.zeros_like(c, dtype="uint16")  # a cloudy day of MODIS DN, fill 0
    dn.attrs = {"scale_factor": 0.02, "_FillValue": 0, "units": "K"}
    dn = dn.rio.write_crs(c.rio.crs)
    with pytest.raises(AllNaNError, match="coarse input has no valid pixel"):
        plot.truth_maps(dn, {"bicubic": up}, t)


@pytest.mark.parametrize("which", ["comparison", "scaling", "compare", "truth_maps"])
def test_refused_figure_leaves_no_folder(scene, tmp_path, which):
    c = scene["lst_1km"].isel(time=0)
    up = _up(c)
    calls = {
        "comparison": lambda p: plot.comparison(c * np.nan, up, path=p),
        "scaling": lambda p: plot.scaling(c.to_dataset(name="lst"), path=p),
        "compare": lambda p: plot.compare({"a": c.to_dataset(name="lst")}, path=p),
        "truth_maps": lambda p: plot.truth_maps(c, {"b": up}, scene["lst_250m"], path=p),
    }
    folder = tmp_path / "figs" / "maps"
    with pytest.raises(xlstsr.errors.XlstsrError):
        calls[which](folder / "fig.png")
    assert not (tmp_path / "figs").exists()


def test_accepted_figure_makes_its_folders(scene, tmp_path):
    c = scene["lst_1km"].isel(time=0)
    path = tmp_path / "figs" / "maps" / "fig.png"
    plot.comparison(c, _up(c), path=path)
    assert path.is_file()


@pytest.mark.parametrize("lazy", [False, True])
def test_scaled_truth_advice_is_the_figures_own(scene, tmp_path, lazy):
    c, t = scene["lst_1km"].isel(time=0), scene["lst_250m"].isel(time=0)
    up = _up(c)
    raw = (t * 10).fillna(0).round().astype("uint16")
    raw.attrs = {}
    raw[:5, :5] = 0  # ASTER's fill
    raw = raw.rio.write_crs(c.rio.crs)
    truth = raw.chunk() if lazy else raw
    fix = "truth.attrs.update(scale_factor=0.1, _FillValue=0)"
    for draw in (lambda r: plot.truth_maps(c, {"b": up}, r),
                 lambda r: plot.comparison(c, up, r)):
        with pytest.raises(ScaledIntegerError) as e:
            draw(truth)
        assert fix in str(e.value) and "reference_scale" not in str(e.value)
    fixed = raw.copy()
    fixed.attrs.update(scale_factor=0.1, _FillValue=0)  # the advice, as given, works
    plot.truth_maps(c, {"b": up}, fixed, path=tmp_path / "a.png")
    # evaluate's advice keeps its own arguments
    with pytest.raises(ScaledIntegerError, match=r"reference_scale=0\.1, reference_nodata=0"):
        xlstsr.evaluate(up, raw)


def test_readme_demo_line_names_the_methods_it_scores():
    from xlstsr.demo import DEMO_CANDIDATES

    readme = Path(__file__).resolve().parents[1] / "README.md"
    if not readme.is_file():
        pytest.skip("README.md is not beside the tests (an installed package)")
    text = readme.read_text()
    missing = [m for m in xlstsr.available_methods() if m not in DEMO_CANDIDATES]
    if re.search(r"make demo.{0,300}with every method", text, re.S):
        assert not missing, f"README says every method; the demo leaves out {missing}"
    for m in missing:  # a method it leaves out is named as left out
        assert re.search(rf"make demo.{{0,300}}but `?{m}`?", text, re.S)
