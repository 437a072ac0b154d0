"""Figures (xlstsr.plot) fed bad input, review 32: a truth's refusals tell the attrs to set on
``truth`` (the plot functions take no ``reference_scale`` / ``reference_nodata``: a TypeError
when followed), whatever runs a lazy truth's checks (a user's pool, other processes); the
"do not cover the same ground" advice works when followed (south-up inputs, odd windows, a
dict of results). Each advice is run as given, then the figure drawn."""

import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import xlstsr
from xlstsr import plot
from xlstsr.errors import GridError, ScaledIntegerError, XlstsrError

matplotlib = pytest.importorskip("matplotlib")
dask = pytest.importorskip("dask")

DATA = Path("/work/shared/data/modis_aster/002_modis_lst_1km.tif")


@pytest.fixture(scope="module")
def scene():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xlstsr.datasets.sample_scene(n_times=1, size=64)  # 16 x 16 and 64 x 64


def _up(c, factor=4):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xlstsr.upscale(c, factor, "bicubic")


def _fields(scene):
    c, t = scene["lst_1km"].isel(time=0), scene["lst_250m"].isel(time=0)
    return c, t, _up(c)


def _truth_fixes(msg):
    """The statements on ``truth`` a refusal tells, as given."""
    return re.findall(r"`((?:del )?truth\.[^`]*)`", msg)


def _follow(truth, msg):
    fixes = _truth_fixes(msg)
    assert fixes, f"no fix on `truth` in: {msg}"
    fixed = truth.copy()
    exec(fixes[0], {"truth": fixed, "np": np})  # the first of the alternatives it names
    return fixed


def _draws(scene, tmp_path):
    c, _, up = _fields(scene)
    return {"truth_maps": lambda r, p=None: plot.truth_maps(c, {"b": up}, r, path=p),
            "comparison": lambda r, p=None: plot.comparison(c, up, r, path=p)}


def _ask(draw, truth):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(XlstsrError) as e:
            draw(truth)
    msg = str(e.value)
    assert "reference_scale" not in msg and "reference_nodata" not in msg, msg
    return e.value


def test_lazy_scaled_truth_told_attrs_on_any_scheduler(scene, tmp_path):
    """The advice was chosen from a ContextVar read when the dask task ran: a user's pool
    (dask.config.set(pool=...)), the processes scheduler or distributed workers fell back to
    evaluate's `reference_scale=`; it is now fixed in the graph (a user's pool runs the tasks
    outside the caller's context, as other processes and workers do)."""
    c, t, _ = _fields(scene)
    raw = (t * 10).fillna(0).round().astype("uint16")
    raw.attrs = {}
    raw[:5, :5] = 0
    raw = raw.rio.write_crs(c.rio.crs).chunk(32)
    draws = _draws(scene, tmp_path)
    with ThreadPoolExecutor(2) as pool:
        with dask.config.set(pool=pool):
            errs = {name: _ask(draw, raw) for name, draw in draws.items()}
    for name, err in errs.items():
        assert isinstance(err, ScaledIntegerError)
        assert "truth.attrs.update(scale_factor=0.1, _FillValue=0)" in str(err)
        draws[name](_follow(raw, str(err)), tmp_path / f"{name}.png")  # followed: drawn
    # evaluate's own wording is unchanged, lazily too
    from xlstsr.evaluate import decode_reference

    with pytest.raises(ScaledIntegerError, match=r"reference_scale=0\.1, reference_nodata=0"):
        with ThreadPoolExecutor(2) as pool, dask.config.set(pool=pool):
            decode_reference(raw).compute()


def _bad_truths(c, t):
    a = (t * 10).fillna(0).round().astype("uint16")  # K x 10 told scale 0.01
    a.attrs = {"scale_factor": 0.01, "_FillValue": 0}
    b = t.astype("float32").copy()  # Kelvin with a stale scale 0.1
    b.attrs = {"scale_factor": 0.1}
    k = b.copy()
    k.attrs = {"scale_factor": 0.1, "units": "K"}  # ... labelled Kelvin
    f = t.astype("float32").copy()  # undeclared fill -9999, 31 %
    f.values[:, :20] = -9999.0
    f.attrs = {}
    return {"wrong scale": a, "stale scale": b, "stale scale, units K": k, "fill -9999": f}


@pytest.mark.parametrize("lazy", [False, True])
def test_other_truth_refusals_tell_attrs_to_set(scene, tmp_path, lazy):
    """A wrong or stale scale_factor and an undeclared fill, reached from truth_maps /
    comparison, told `reference_scale=` / `reference_nodata=` (a TypeError when followed);
    they now tell the attrs to set on `truth`, and followed, the figure is drawn."""
    c, t, _ = _fields(scene)
    for bad in _bad_truths(c, t).values():
        bad = bad.rio.write_crs(c.rio.crs)
        bad = bad.chunk(32) if lazy else bad
        for name, draw in _draws(scene, tmp_path).items():
            err = _ask(draw, bad)
            fixed = _follow(bad, str(err))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                draw(fixed, tmp_path / f"{name}.png")
    # evaluate keeps its arguments' wording
    from xlstsr.evaluate import decode_reference

    f = _bad_truths(c, t)["fill -9999"]
    with pytest.raises(XlstsrError, match=r"reference_nodata=-9999"):
        decode_reference(f)


def _same_ground_cases(c):
    flipped = c.isel(y=slice(None, None, -1))  # south-up, by isel: its transform kept
    n = c.sizes["y"]
    return {
        "half": (c, c.isel(x=slice(0, n // 2))),
        "south-up input, north half result": (flipped, c.isel(y=slice(0, n // 2))),
        "odd window": (c, c.isel(y=slice(1, n - 5), x=slice(3, n - 2))),
        "result larger than the input": (c.isel(y=slice(2, n - 3), x=slice(1, n - 4)), c),
        "dict, whole and half": (c, {"whole": c, "half": c.isel(x=slice(0, n // 2))}),
    }


def _check_crop_advice(coarse, src, tmp_path):
    up = ({k: _up(v) for k, v in src.items()} if isinstance(src, dict) else _up(src))
    with pytest.raises(GridError, match="same ground") as e:
        plot.comparison(coarse, up)
    msg = str(e.value)
    fixes = re.findall(r"`((?:coarse|upscaled(?:\['\w+'\])?) = [^`]*)`", msg)
    assert fixes, msg
    env = {"coarse": coarse, "upscaled": dict(up) if isinstance(up, dict) else up}
    for fix in fixes:
        exec(fix, env)
    plot.comparison(env["coarse"], env["upscaled"], path=tmp_path / "x.png")  # followed: drawn
    return fixes


def test_same_ground_advice_followed_draws(scene, tmp_path):
    """`box = upscaled.rio.bounds()`, then `coarse.rio.clip_box(*box)` raised rasterio's
    WindowError on a south-up input flipped by isel, kept an extra row on an odd window, and
    cropped the input to one result of several; the advice selects by labels, each field
    named, and works when followed."""
    c = scene["lst_1km"].isel(time=0)
    for case, (coarse, src) in _same_ground_cases(c).items():
        fixes = _check_crop_advice(coarse, src, tmp_path)
        if case.startswith("dict"):  # the result to crop named
            assert any(f.startswith("upscaled['whole']") for f in fixes), fixes


@pytest.mark.skipif(not DATA.exists(), reason="real data /work/shared/data absent")
def test_same_ground_advice_followed_on_real_modis(tmp_path):
    rioxarray = pytest.importorskip("rioxarray")
    lst = rioxarray.open_rasterio(DATA, masked=True).squeeze("band", drop=True)
    lst = lst.isel(y=slice(0, 32), x=slice(0, 32)).load()
    for coarse, src in _same_ground_cases(lst).values():
        _check_crop_advice(coarse, src, tmp_path)


@pytest.mark.parametrize("case", ["celsius, no units", "kelvin labelled degC", "fahrenheit"])
def test_units_refusals_from_a_figure_name_the_truth(scene, tmp_path, case):
    """The units advice reached from a figure said `da.attrs['units'] = ...` beside
    `truth.attrs[...]` fixes (review32f): it names `truth`, and its first fix draws."""
    c, t, up = _fields(scene)
    bad = {"celsius, no units": (t - 273.15).assign_attrs(units=None),
           "kelvin labelled degC": t.assign_attrs(units="degC"),
           "fahrenheit": ((t - 273.15) * 9 / 5 + 32).assign_attrs(units=None)}[case]
    bad.attrs = {k: v for k, v in bad.attrs.items() if v is not None}
    bad = bad.rio.write_crs(c.rio.crs)
    err = _ask(lambda r: plot.comparison(c, up, r), bad)
    msg = str(err)
    assert "`da" not in msg, msg
    fixed = bad.copy()
    exec(re.findall(r"`((?:del )?truth[ .][^`]*)`", msg)[0], {"truth": fixed, "np": np})
    if case == "fahrenheit":  # a conversion: the statement rebinds truth, then its units
        env = {"truth": bad.copy(), "np": np}
        first = re.findall(r"`(truth = [^`]*)` with `(truth\.attrs[^`]*)`", msg)[0]
        for stmt in first:
            exec(stmt, env)
        fixed = env["truth"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plot.comparison(c, up, fixed, path=tmp_path / "f.png")
