"""Held-back ECOSTRESS folders through issue 14's protocol (corpus 35, scale invariance): the
plausibility bounds of ``benchmarks/scale_invariance.py`` fit any place and season (``--bounds``;
a scene with no clear pixel within them is left out, named, not the end of the run), a scene of
another place in a folder is named and left out (the common grid and its halves spanned both
places), and ``ecostress_crs`` given a folder says it takes a box.

The scenes are small synthetic granules laid out as AppEEARS delivers them (uint16 DN x 0.02).
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pytest
from test_benchmarks import bench_env, load_benchmark  # noqa: F401 (bench_env: a fixture)

from xlstsr.datasets import open_ecostress_scene
from xlstsr.datasets.ecostress import ECOSTRESS_BOUNDS, ecostress_box, ecostress_crs
from xlstsr.errors import XlstsrError

LON0, LAT0 = -118.50, 34.10  # Los Angeles: UTM 11N
#: 20:00 / 08:00 UTC at 118.5 W: local noon / midnight (day / night from the solar hour)
DAYS = ("2024170200000", "2024172200000", "2024174200000", "2024176200000")
NIGHT = "2024171080000"


def _write_scene(folder, key, lst_k, lon0=LON0, lat0=LAT0):
    """One ECOSTRESS-like granule (uint16 DN = K / 0.02, nodata 0) with clear masks."""
    import rasterio
    from rasterio.transform import from_origin

    t = from_origin(lon0, lat0, 0.00063, 0.00063)
    layers = {"LST": np.round(lst_k / 0.02).astype(np.uint16),
              "cloud_mask": np.zeros(lst_k.shape, np.uint8),
              "water_mask": np.zeros(lst_k.shape, np.uint8)}
    for k, a in layers.items():
        (folder / k).mkdir(parents=True, exist_ok=True)
        with rasterio.open(folder / k / f"ECO_L2_LSTE.002_{k}_doy{key}_aid0001.tif", "w",
                           driver="GTiff", height=a.shape[0], width=a.shape[1], count=1,
                           dtype=a.dtype, crs="EPSG:4326", transform=t) as dst:
            dst.write(a, 1)


def _field(median, shape=(200, 200), seed=0):
    """A smooth field (so that 280 m aggregates keep it) with small noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[: shape[0], : shape[1]] / 20.0
    return (median + 3 * np.sin(x) * np.cos(y) + rng.normal(0, 0.5, shape)).astype(np.float32)


@pytest.fixture(scope="module")
def si():
    return load_benchmark("scale_invariance")


# -- 10. ecostress_crs(folder) ------------------------------------------------------------------


def test_ecostress_crs_of_a_folder_points_to_ecostress_box(tmp_path):
    """Before: "unsupported operand type(s) for /: 'str' and 'int'"."""
    for arg in (str(tmp_path), tmp_path):
        with pytest.raises(XlstsrError, match=r"takes a box \(west, south, east, north\).*"
                                              r"ecostress_crs\(ecostress_box\(folder\)\)"):
            ecostress_crs(arg)
    with pytest.raises(XlstsrError, match="box must be"):  # not a box either: named
        ecostress_crs((1.0, 2.0))
    assert ecostress_crs((-118.71, 33.66, -117.53, 34.32)) == "EPSG:32611"


# -- 6. bounds fixed to Los Angeles in summer ---------------------------------------------------


def test_bounds_land_keeps_a_cold_scene_and_counts_what_bounds_remove(tmp_path):
    """``bounds="land"`` (any place and season) keeps a scene of 250 K that the default Los
    Angeles bounds empty; the attrs count the clear pixels and those the bounds removed."""
    cold = _field(250.0, (60, 80))
    _write_scene(tmp_path, DAYS[0], cold)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        da = open_ecostress_scene(DAYS[0], tmp_path, bounds="land")
    assert np.isfinite(da.values).all() and da.attrs["outside_bounds"] == 0
    assert da.attrs["clear_pixels"] == cold.size
    lo = ECOSTRESS_BOUNDS["day"][0]
    given = open_ecostress_scene(DAYS[0], tmp_path, bounds=(lo, 345.0))
    assert given.attrs["outside_bounds"] == given.attrs["clear_pixels"] == cold.size
    assert given.attrs["clear_median_k"] == pytest.approx(float(np.median(cold)), abs=0.05)


def test_a_scene_with_few_pixels_within_the_bounds_is_no_box_error(tmp_path):
    """A scene whose pixels within the bounds fill no 280 m block by half was "no clear land
    pixel inside the box" (NoOverlapError), though it lies in it: now a field of NaN."""
    t = _field(270.0, (60, 80))
    t[::6, ::6] = 300.0  # isolated pixels within the Los Angeles day bounds
    _write_scene(tmp_path, DAYS[0], t)
    da = open_ecostress_scene(DAYS[0], tmp_path, resolution=280, bounds=(285.0, 345.0))
    assert not np.isfinite(da.values).any()
    assert 0 < da.attrs["clear_pixels"] - da.attrs["outside_bounds"] < 0.05 * t.size


def test_scale_invariance_bounds_option(si, capsys):
    assert si.parse_bounds("land") == "land" and si.parse_bounds(" LA ") == "la"
    assert si.parse_bounds("230,330") == (230.0, 330.0)
    for bad in ("330,230", "20,40", "x"):
        with pytest.raises(argparse.ArgumentTypeError, match="--bounds must be land"):
            si.parse_bounds(bad)
    with pytest.raises(SystemExit):  # the option exists and its error names the choices
        si.main(["--bounds", "nonsense"])
    assert "--bounds must be land" in capsys.readouterr().err


def test_load_280_leaves_out_a_scene_outside_the_bounds_and_names_a_cut_one(si, tmp_path):
    """Before: the Los Angeles bounds aborted the run on a colder scene (an AllNaNError with
    advice, pass bounds=, that the script could not take) and cut a cooler one with only a
    warning. Now: the default keeps both; under ``la`` one is left out, the other named."""
    _write_scene(tmp_path, DAYS[0], _field(240.0, (60, 80)))  # all below 285 K
    part = _field(290.0, (60, 80), seed=1)
    part[:, :30] -= 15.0  # 3/8 of it below 285 K
    _write_scene(tmp_path, DAYS[1], part)
    si.BOUNDED.update(left_out={}, cut={}, overpass={})
    si.BOUNDS["bounds"] = "land"
    f = si.load_280(tmp_path, list(DAYS[:2]))
    n = {k: int(np.isfinite(a).sum()) for k, a in f.items()}
    assert n[DAYS[0]] == n[DAYS[1]] > 30  # the whole scene, both
    assert si.BOUNDED["left_out"] == {} and si.BOUNDED["cut"] == {}
    si.BOUNDS["bounds"] = "la"
    try:
        f = si.load_280(tmp_path, list(DAYS[:2]))
    finally:
        si.BOUNDS["bounds"] = "land"
    assert not np.isfinite(f[DAYS[0]]).any() and 0 < np.isfinite(f[DAYS[1]]).sum() < n[DAYS[1]]
    why = si.BOUNDED["left_out"][DAYS[0]]
    assert "lie outside the plausibility bounds 285-345 K" in why and "--bounds land" in why
    assert "removed" in si.BOUNDED["cut"][DAYS[1]] and DAYS[1] not in si.BOUNDED["left_out"]
    assert si.cut_lines(si.BOUNDED["cut"])[0] == "## Scenes cut by the plausibility bounds"
    msg = None
    try:
        si.enough_overpasses(["a", "b"], [], "x", False, si.BOUNDED["left_out"])
    except SystemExit as e:
        msg = str(e.code)
    assert msg is not None and f"left out: {DAYS[0]} (all its" in msg


class _Stop(Exception):
    pass


def _run_to_the_folds(si, monkeypatch, train, test, *extra):
    """Run ``main`` until the folds are made; what they were made from."""
    seen = {}

    def folds(nx, split, rf=si.RF, nx_test=None, cols=None):
        seen.update(nx=nx, split=split, cols=cols)
        raise _Stop

    monkeypatch.setattr(si, "folds", folds)
    with pytest.raises(_Stop):
        si.main(["--smoke", "--no-stats", "--train", str(train), "--test", str(test),
                 "--out", str(train.parent / "o"), *extra])
    return seen


@pytest.mark.usefixtures("bench_env")
def test_scale_invariance_runs_on_a_cold_folder(si, tmp_path, monkeypatch):
    """A folder 40 K colder than Los Angeles in summer: loaded and split (was: the run aborted
    on its first scene below the bounds)."""
    folder = tmp_path / "cold"
    for i, key in enumerate((*DAYS, NIGHT)):
        _write_scene(folder, key, _field(250.0 if key != NIGHT else 235.0, seed=i))
    seen = _run_to_the_folds(si, monkeypatch, folder, folder)
    assert seen["split"] == "position" and si.BOUNDED["left_out"] == {}


# -- 8. a scene of another place in a training folder -------------------------------------------


def test_a_scene_apart_from_the_folder_is_named_and_boxed_out(tmp_path):
    from xlstsr.datasets.ecostress import ecostress_apart

    for i, key in enumerate(DAYS[:3]):
        _write_scene(tmp_path, key, _field(300.0, (60, 80), seed=i), lon0=LON0 + 0.01 * i)
    _write_scene(tmp_path, NIGHT, _field(290.0, (60, 80)), lon0=LON0 + 8.0)  # UTM 12N
    apart = ecostress_apart(tmp_path)
    assert list(apart) == [NIGHT] and "UTM 12N" in apart[NIGHT] and "UTM 11N" in apart[NIGHT]
    with pytest.warns(UserWarning, match=rf"1 of the 4 scenes .* {NIGHT} .*folder of its own"):
        whole = ecostress_box(tmp_path)
    main = ecostress_box(tmp_path, main_group=True)
    assert whole[2] > LON0 + 8.0 and main[2] < LON0 + 0.2
    assert ecostress_crs(main) == "EPSG:32611"


def test_halves_are_cut_on_the_columns_that_hold_data(si):
    assert si.halves(768, (1, 99)) == si.halves(104) == {"west": (0, 48), "east": (56, 104)}
    assert si.folds(768, "position", cols=(1, 99)) == si.folds(104, "position")
    (_, w, ws), (_, e, es) = si.folds(400, "position", cols=(200, 300))
    assert w[0] == 200 and e[1] == 304 and ws[1] == 304 and es[0] == 200


@pytest.mark.usefixtures("bench_env")
def test_scale_invariance_leaves_a_scene_of_another_place_out(si, tmp_path, monkeypatch, capsys):
    """A training folder of scenes here plus one 8 deg east: the grid spanned both places (768
    columns of 1.12 km for the real scenes), the halves were cut on that span and the run was
    refused with advice about the test scenes; the scene was never named."""
    train, test = tmp_path / "train", tmp_path / "test"
    for i, key in enumerate(DAYS):
        _write_scene(train, key, _field(300.0, seed=i))
    far = "2024175200000"
    _write_scene(train, far, _field(300.0, seed=9), lon0=LON0 + 8.0)
    for i, key in enumerate(("2024180200000", "2024182200000")):
        _write_scene(test, key, _field(300.0, seed=10 + i))
    seen = _run_to_the_folds(si, monkeypatch, train, test)
    assert seen["nx"] <= 24  # the grid of the place (was: over 8 deg of longitude)
    assert seen["cols"] is not None and seen["cols"][1] <= seen["nx"]
    err = capsys.readouterr().err
    assert far in err and "apart from" in err and "folder of its own" in err
