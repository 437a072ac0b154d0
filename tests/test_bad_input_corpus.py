"""A corpus of bad inputs through the public API: each is refused with an XlstsrError whose
message names the problem and the fix, or (a south-up or west-running grid, which is only another
order of the same field) handled exactly like the north-up input.

Each case here was found by probing ``xlstsr.upscale`` / ``xlstsr.evaluate`` with bad inputs: before
its fix it gave a wrong diagnosis (a scale applied twice called Celsius, Kelvin labelled degC or a
65535 fill called "scaled", a flipped grid called "not covering the LST"), a silent output (a
guide with no valid value, degrees under a projected CRS) or a misleading AllNaNError.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from helpers import raise_if_computed

import xlstsr
from xlstsr import errors


@pytest.fixture(scope="module")
def small():
    """A 64 x 64 LST (2 dates) with its 256 x 256 NDVI guide and 250 m truth."""
    return xlstsr.datasets.sample_scene(n_times=2, size=256, seed=1)


def _kelvin_labelled_celsius(s):
    return s["lst_1km"].assign_attrs(units="degC"), {}


def _scale_applied_twice(s):
    lst = s["lst_1km"].copy()
    lst.attrs = {"units": "K", "scale_factor": 0.02}  # already Kelvin, attrs kept
    return lst, {}


def _fill_65535_undeclared(s):
    return s["lst_1km"].fillna(65535.0), {}


def _celsius_masked_away(s):
    lst = (s["lst_1km"] - 273.15).assign_attrs(units="K")
    return lst, {"mask_out_of_range": True}


def _degrees_under_projected_crs(s):
    ll = s["lst_1km"].rio.reproject("EPSG:4326")  # lon/lat coordinates...
    return ll.rio.write_crs(s["lst_1km"].rio.crs), {}  # ...labelled MODIS sinusoidal


def _metres_under_geographic_crs(s):
    return s["lst_1km"].rio.write_crs("EPSG:4326"), {}


def _guide_all_nan(s):
    return s["lst_1km"], {"method": "tsharp", "guide": s["ndvi_250m"] * np.nan}


def _guide_is_a_temperature(s):
    return s["lst_1km"], {"method": "disr", "guide": s["lst_250m"].isel(time=0, drop=True)}


CASES = {
    "kelvin_labelled_degC": (_kelvin_labelled_celsius, errors.PhysicalRangeError,
                             r"already Kelvin but the 'units' attribute says degrees Celsius.*"
                             r"units'\] = 'K'"),
    "scale_applied_twice": (_scale_applied_twice, errors.PhysicalRangeError,
                            r"already Kelvin.*applied them a second time.*pop\('scale_factor'"),
    "fill_65535_undeclared": (_fill_65535_undeclared, errors.PhysicalRangeError,
                              r"hold 65535 .*undeclared fill value.*_FillValue'\] = 65535"),
    "celsius_masked_away": (_celsius_masked_away, errors.PhysicalRangeError,
                            r"would leave nothing.*degrees Celsius.*units'\] = 'degC'"),
    "degrees_under_projected_crs": (_degrees_under_projected_crs, errors.GridError,
                                    r"look like longitude/latitude degrees.*projected.*"
                                    r"write_crs\('EPSG:4326'\)"),
    "metres_under_geographic_crs": (_metres_under_geographic_crs, errors.GridError,
                                    r"not degrees, but its CRS .* is geographic.*write_crs"),
    "guide_all_nan": (_guide_all_nan, errors.AllNaNError,
                      r"guide channel 0 holds no valid value.*fill value"),
    "guide_is_a_temperature": (_guide_is_a_temperature, errors.GuideScaleError,
                               r"look like temperatures in Kelvin, not NDVI: pass the NDVI"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_refused_naming_problem_and_fix(small, name):
    build, err, match = CASES[name]
    lst, kw = build(small)
    kw = {"method": "bicubic", **kw}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", errors.GuideAlignmentWarning)
        with pytest.raises(err, match=match):
            xlstsr.upscale(lst, 4, **kw).compute()


@pytest.mark.parametrize("method", ["bicubic", "tsharp", "disr"])
@pytest.mark.parametrize("flip", [{"y": slice(None, None, -1)}, {"x": slice(None, None, -1)}])
def test_south_up_or_west_running_grids_give_the_north_up_result(small, method, flip):
    lst, ndvi = small["lst_1km"].isel(time=[0]), small["ndvi_250m"]
    guide = None if method == "bicubic" else ndvi
    ref = xlstsr.upscale(lst, 4, method, guide=guide)
    flipped_guide = None if guide is None else guide.isel({k: v for k, v in flip.items()})
    out = xlstsr.upscale(lst.isel(flip), 4, method, guide=flipped_guide)
    assert out.y.values[0] > out.y.values[-1] and out.x.values[0] < out.x.values[-1]
    xr.testing.assert_allclose(out, ref)


def test_evaluate_accepts_a_south_up_reference(small):
    sr = xlstsr.upscale(small["lst_1km"], 4, "bicubic")
    truth = small["lst_250m"]
    a = xlstsr.evaluate(sr, truth)
    b = xlstsr.evaluate(sr, truth.isel(y=slice(None, None, -1)))
    np.testing.assert_allclose(a["rmse"].values, b["rmse"].values, rtol=1e-6)


def test_evaluate_names_celsius_in_the_coarse_input(small):
    sr = xlstsr.upscale(small["lst_1km"], 4, "bicubic")
    coarse = (small["lst_1km"] - 273.15).assign_attrs(units="K")
    with pytest.raises(errors.PhysicalRangeError, match=r"coarse LST.*degrees Celsius"):
        xlstsr.evaluate(sr, small["lst_250m"], coarse=coarse)


def test_arrays_without_a_grid_and_missing_paths_are_xlstsr_errors(small, tmp_path):
    # a numpy LST or guide, a path that does not exist: XlstsrError (so one `except` catches
    # every input problem), still a TypeError / FileNotFoundError for generic handlers
    with pytest.raises(errors.InputTypeError, match=r"ndarray.*xr\.DataArray\(a, dims"):
        xlstsr.upscale(small["lst_1km"].values, 4, "bicubic")
    with pytest.raises(errors.InputTypeError, match="guide is a ndarray"):
        xlstsr.upscale(small["lst_1km"], 4, "tsharp", guide=small["ndvi_250m"].values)
    with pytest.raises(errors.InputNotFoundError, match=r"no such file or store.*check the path"):
        xlstsr.upscale_to_zarr(tmp_path / "nope.zarr", tmp_path / "out.zarr", 4, progress=False)
    assert issubclass(errors.InputTypeError, TypeError)
    assert issubclass(errors.InputNotFoundError, FileNotFoundError)
    assert not (tmp_path / "out.zarr").exists()


def test_a_guide_that_misses_columns_is_warned_about_without_a_zero_offset(small):
    # a guide cut short by two fine columns but on the same grid: the warning names the missing
    # columns, not an "offset by (+0, +0)"
    g = small["ndvi_250m"].isel(x=slice(0, -2))
    with pytest.warns(errors.GuideAlignmentWarning) as rec:
        xlstsr.upscale(small["lst_1km"], 4, "tsharp", guide=g)
    msg = " ".join(str(w.message) for w in rec if issubclass(w.category,
                                                            errors.GuideAlignmentWarning))
    assert "misses 0 row(s) and 2 column(s)" in msg and "offset by" not in msg


@pytest.mark.parametrize("fill", [-9999.0, -3000.0, 255.0])
def test_an_undeclared_guide_fill_is_refused(small, fill):
    # a regression sharpener would fit the fill as if it were vegetation (TsHARP's RMSE 1.31 ->
    # 1.49 K on this scene with a 60 x 60 block of it): an error naming the value and the fix
    g = small["ndvi_250m"].copy()
    g[..., 40:100, 40:100] = fill
    for method in ("tsharp", "dms"):
        with pytest.raises(errors.UndeclaredFillError, match=rf"holds {fill:g} .*write_nodata"):
            xlstsr.upscale(small["lst_1km"], 4, method, guide=g)


@pytest.mark.parametrize("value", [0.0, -0.3])
def test_a_plausible_constant_in_the_guide_is_not_called_a_fill(small, value):
    g = small["ndvi_250m"].copy()
    g[..., 40:100, 40:100] = value  # e.g. water at NDVI 0
    assert np.isfinite(xlstsr.upscale(small["lst_1km"], 4, "tsharp", guide=g).values).any()


def _chunked_guide(s, bad):
    g = s["ndvi_250m"].copy()
    if bad == "fill":
        g[..., 40:100, 40:100] = -3000.0  # MOD13's fill digital number, undeclared
    else:
        g = g * np.nan
    return g.chunk({"y": 64, "x": 64})


@pytest.mark.parametrize(("bad", "err"), [("fill", errors.UndeclaredFillError),
                                          ("all_nan", errors.AllNaNError)])
def test_a_bad_dask_guide_is_refused_when_computed_and_no_store_is_left(small, tmp_path, bad, err):
    # a dask guide is checked lazily (building the graph reads nothing), as the in-memory one is
    g = _chunked_guide(small, bad)
    for method in ("tsharp", "disr"):
        with raise_if_computed():
            sr = xlstsr.upscale(small["lst_1km"], 4, method, guide=g)
        with pytest.raises(err, match="guide channel 0"):
            sr.compute()
    store = tmp_path / "sr.zarr"
    with pytest.raises(err, match="guide channel 0"):
        xlstsr.upscale_to_zarr(small["lst_1km"].chunk({"time": 1}), store, 4, "tsharp", guide=g,
                               progress=False)
    assert not store.exists()


def test_a_daily_dask_guide_may_be_empty_on_a_day(small):
    # a daily guide (e.g. MOD09 NDVI) is all cloud on days the LST may be too: not refused lazily
    g = small["ndvi_250m"].expand_dims(time=small["lst_1km"].time).copy()
    g[0] = np.nan
    sr = xlstsr.upscale(small["lst_1km"], 4, "tsharp", guide=g.chunk({"time": 1}))
    assert np.isfinite(sr.isel(time=1).values).any()


def test_a_guide_in_degrees_for_a_metric_lst_is_aligned_in_seconds(small):
    # its pixel was taken in degrees (0.0026) against the LST's metres: the offset check then
    # searched a grid of millions of candidate shifts (minutes of CPU for a 64 x 64 LST).
    # The limit is on this process's CPU time (ITIMER_PROF), not on wall time: a wall-clock
    # alarm failed once beside another job's heavy load (1.2 s alone); a wall guard stays for
    # a hang.
    import signal

    def too_slow(*_):
        raise TimeoutError("the guide's offset check took more than 60 s of CPU (or 600 s)")

    g = small["ndvi_250m"].rio.reproject("EPSG:4326")
    old_prof = signal.signal(signal.SIGPROF, too_slow)
    old_alarm = signal.signal(signal.SIGALRM, too_slow)
    signal.setitimer(signal.ITIMER_PROF, 60.0)
    signal.alarm(600)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", errors.GuideAlignmentWarning)
            sr = xlstsr.upscale(small["lst_1km"], 4, "tsharp", guide=g)
            direct = xlstsr.estimate_offset(g, small["lst_1km"].isel(time=0), search_step=1e-3,
                                            errors="ignore")
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0.0)
        signal.alarm(0)
        signal.signal(signal.SIGPROF, old_prof)
        signal.signal(signal.SIGALRM, old_alarm)
    assert np.isfinite(sr.values).mean() > 0.5 and np.isfinite(float(direct.shift_x))


def test_upscale_to_zarr_never_deletes_what_is_not_its_store(small, tmp_path):
    # mode="w" replaces a Zarr store; a folder of the user's other files is refused, untouched
    lst = small["lst_1km"].chunk({"time": 1})
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "thesis.txt").write_text("years of work")
    with pytest.raises(errors.XlstsrError, match="holds other files and no Zarr store"):
        xlstsr.upscale_to_zarr(lst, folder, 4, mode="w", progress=False)
    assert (folder / "thesis.txt").read_text() == "years of work"
    a_file = tmp_path / "out.zarr"
    a_file.write_text("not a store")
    for mode in ("w", "w-", "resume"):
        with pytest.raises(errors.XlstsrError, match="is a file, not a Zarr store"):
            xlstsr.upscale_to_zarr(lst, a_file, 4, mode=mode, progress=False)
    assert a_file.read_text() == "not a store"
    with pytest.raises(errors.XlstsrError, match=r"names a \.nc file.*to_netcdf"):
        xlstsr.upscale_to_zarr(lst, tmp_path / "out.nc", 4, progress=False)
    assert not (tmp_path / "out.nc").exists()
    with pytest.raises(errors.InputTypeError, match="store is None"):
        xlstsr.upscale_to_zarr(lst, None, 4, progress=False)
    # and a Zarr store it wrote is replaced with mode="w", as asked
    store = tmp_path / "sr.zarr"
    xlstsr.upscale_to_zarr(lst, store, 4, progress=False)
    xlstsr.upscale_to_zarr(lst, store, 4, mode="w", progress=False)


@pytest.mark.parametrize(("name", "value"), [("time_chunk", 2.5), ("time_chunk", "2"),
                                             ("time_chunk", True), ("time_chunk", 0),
                                             ("regions_in_flight", 0), ("regions_in_flight", -1),
                                             ("regions_in_flight", 2.5)])
def test_upscale_to_zarr_counts_are_whole_numbers(small, tmp_path, name, value):
    with pytest.raises(errors.XlstsrError, match=rf"{name} must be a whole number >= 1"):
        xlstsr.upscale_to_zarr(small["lst_1km"], tmp_path / "sr.zarr", 4, progress=False,
                               **{name: value})
    assert not (tmp_path / "sr.zarr").exists()


def test_guide_time_labels_that_cannot_be_matched_are_named(small):
    lst, g = small["lst_1km"], small["ndvi_250m"]
    twice = g.expand_dims(time=[lst.time.values[0]] * 2).copy()
    twice[1] = twice[1] * 0.5  # two different guides for one date: which one?
    with pytest.raises(errors.GuideTimeError, match=r"repeats 'time' labels.*drop_duplicates"):
        xlstsr.upscale(lst, 4, "tsharp", guide=twice)
    daily = g.expand_dims(time=lst.time.values)
    with pytest.raises(errors.GuideTimeError, match=r"guide's time dim is 'time' and the LST's "
                                                    r"'t'.*rename"):
        xlstsr.upscale(lst.rename(time="t"), 4, "tsharp", guide=daily)
    with pytest.raises(errors.GuideTimeError, match=r"duration >= 0"):
        xlstsr.upscale(lst, 4, "tsharp", guide=daily, guide_time_tolerance="-3D")


def test_option_errors_of_corrections_calibration_and_coarsen_are_xlstsr_errors(small):
    lst, fine = small["lst_1km"], small["lst_250m"]
    with pytest.raises(errors.XlstsrError, match="scale_correction must be one of"):
        xlstsr.upscale(lst, 4, "bicubic", scale_correction="nope")
    with pytest.raises(errors.XlstsrError, match="neither an existing file nor a calibration's JSON text"):
        xlstsr.upscale(lst, 4, "bicubic", calibration="nope")
    with pytest.raises(errors.InputTypeError, match="calibration must be a Calibration"):
        xlstsr.upscale(lst, 4, "bicubic", calibration=3)
    with pytest.raises(errors.XlstsrError, match="psf must be a width in metres"):
        xlstsr.coarsen(fine, 4, psf="nope")
    with pytest.raises(errors.GridError, match="smaller than one coarse pixel"):
        xlstsr.coarsen(fine.isel(x=slice(0, 1), y=slice(0, 1)), 4, boundary="trim")
    with pytest.raises(errors.AllNaNError, match="no valid pixel"):
        xlstsr.coarsen(fine * np.nan, 4)
