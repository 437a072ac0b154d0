"""Training data (patches, splits, cube windows) found wanting in session 25."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

from xlstsr import errors
from xlstsr.train import (
    PatchSet,
    degraded_pairs,
    make_patches,
    split_by_scene,
    target_scale_pairs,
    window_samples,
)


def _patches(mean: float, seed: int = 0, **kw) -> PatchSet:
    rng = np.random.default_rng(seed)
    return make_patches(**degraded_pairs(mean + rng.normal(0, 2, (4, 32, 32)), 4), factor=4,
                        patch=16, **kw)


def _warns_by_date(ps: PatchSet) -> bool:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        split_by_scene(ps)
    return any("split is by date" in str(w.message) for w in caught)


def test_concat_keeps_scenes_by_position_and_its_warning():
    """PatchSet.concat dropped `scenes_by_position`: a day and a night cube of one place,
    concatenated, were split by date without split_by_scene's warning."""
    day, night = _patches(300.0), _patches(280.0, seed=1)
    both = PatchSet.concat([day, night])
    assert both.scenes_by_position and _warns_by_date(both)
    # any set by position is enough; named places only stay quiet
    named = _patches(290.0, seed=2, scene_ids=["a", "b", "c", "d"])
    assert PatchSet.concat([named, day]).scenes_by_position
    assert not PatchSet.concat([named, named]).scenes_by_position
    assert not _warns_by_date(PatchSet.concat([named, named]))


def test_window_samples_find_y_and_x_by_name():
    """A (time, x, y) cube had its (row, column) offsets applied as (x, y) and its windows
    returned transposed under the labels (sample, y, x): another window's ground."""
    a = (300 + np.random.default_rng(0).normal(0, 2, (2, 8, 12))).astype("float32")
    cube = xr.DataArray(a, dims=("time", "y", "x"), name="lst",
                        coords={"time": [0, 1], "y": np.arange(8)[::-1] * 1e3,
                                "x": np.arange(12) * 1e3})
    want = a[:, 2:6, 4:8]
    for c in (cube, cube.transpose("time", "x", "y"), cube.transpose("x", "time", "y")):
        got = window_samples(c, {"p": (2, 4)}, 4)["lst"]
        assert got.dims == ("sample", "y", "x")
        np.testing.assert_array_equal(got.values, want)
    # a Dataset whose variables come in different orders, and lat/lon names
    ds = xr.Dataset({"lst": cube, "ndvi": (cube / 1e3).transpose("time", "x", "y")})
    s = window_samples(ds, {"p": (2, 4)}, 4)
    np.testing.assert_array_equal(s["ndvi"].values, want / np.float32(1e3))
    ll = cube.rename(y="lat", x="lon").transpose("time", "lon", "lat")
    np.testing.assert_array_equal(window_samples(ll, {"p": (2, 4)}, 4)["lst"].values, want)
    # a window inside the cube's 8 rows only if rows are y is refused as outside, not cut as x
    with pytest.raises(errors.GridError, match="not inside the cube"):
        window_samples(cube.transpose("time", "x", "y"), {"p": (6, 0)}, 4)


def test_window_samples_refuse_dims_without_spatial_names():
    """Rows and columns of dims named neither y/x nor lat/lon cannot be told apart: refused
    with the rename to make, before any read."""
    cube = xr.DataArray(np.full((2, 8, 8), 300.0, "float32"), dims=("time", "col", "row"),
                        name="lst")
    with pytest.raises(errors.NoSpatialDimsError, match=r"rename\(\{'col': 'y', 'row': 'x'\}\)"):
        window_samples(cube, {"p": (0, 0)}, 4)
    ok = window_samples(cube.rename(col="x", row="y"), {"p": (0, 0)}, 4)
    assert ok["lst"].shape == (2, 4, 4)


def test_split_by_scene_refuses_val_scenes_that_match_no_patch():
    """val_scenes=['P4'] for scene 'p4' (or 4 for '4') gave an empty validation set, and a fit
    without validation or early stopping, without a word. Ids among others that match no patch
    warn: the bundled recipe names granule scenes whose patches are all too cloudy."""
    ps = _patches(300.0, scene_ids=["p1", "p2", "p3", "p4"])
    with pytest.raises(errors.XlstsrError, match=r"\['P4'\] match no patch.*'p1', 'p2'"):
        split_by_scene(ps, val_scenes=["P4"])
    with pytest.raises(errors.XlstsrError, match=r"\['P3', 'P4'\] match no patch.*empty"):
        split_by_scene(ps, val_scenes=["P3", "P4"])
    # an unknown id among known ones (a scene whose patches were all too cloudy): a warning
    with pytest.warns(UserWarning, match=r"\['x'\] match no patch.*other scenes only"):
        tr, va = split_by_scene(ps, val_scenes=["p4", "x"])
    assert set(va.scene.tolist()) == {"p4"}
    digits = _patches(300.0, scene_ids=["1", "2", "3", "4"])
    with pytest.raises(errors.XlstsrError, match=r"\[4\] match no patch.*differ only in type.*str"):
        split_by_scene(digits, val_scenes=[4])
    with pytest.raises(errors.InputTypeError, match=r"val_scenes=\['p4'\]"):
        split_by_scene(ps, val_scenes="p4")
    tr, va = split_by_scene(ps, val_scenes=["p4"])
    assert len(va) == 4 and set(va.scene.tolist()) == {"p4"} and len(tr) == 12
    # ids as numpy scalars (e.g. from a coordinate) still match
    pos = _patches(300.0)
    assert len(split_by_scene(pos, val_scenes=np.array([3]))[1]) == 4


def test_make_patches_drops_patches_without_a_valid_coarse_pixel():
    """At max_nan_fraction=1 a patch whose coarse LST is all cloud was kept and filled with
    fill_gaps' 0 K: the network was asked to turn 0 K into ~300 K (a loss ~500x a clear
    patch's)."""
    rng = np.random.default_rng(0)
    lc = 300 + rng.normal(0, 1, (4, 16, 16))
    lc[0, :8, :8] = np.nan  # one coarse quarter all cloud
    lc[1, :8, :4] = np.nan  # half a quarter: kept at max_nan_fraction=1, filled from its rest
    truth = 300 + rng.normal(0, 1, (4, 64, 64))
    ps = make_patches(**target_scale_pairs(lc, 4, None, truth), factor=4, patch=32,
                      max_nan_fraction=1.0)
    assert len(ps) == 15
    assert bool(ps.lst_valid.any(dim=(1, 2, 3)).all())
    assert float(ps.lst.min()) > 290  # no 0 K anywhere
    assert int((~ps.lst_valid).sum()) == 32  # the half-cloudy patch is kept
    # nothing valid in any window: refused with a fix that is not "raise max_nan_fraction"
    only = np.full((1, 15, 15), np.nan)
    only[0, 14, 14] = 300.0  # outside the one 8 x 8 window of a 15 x 15 image
    with pytest.raises(errors.XlstsrError, match=r"no patch has a valid coarse pixel.*stride"):
        make_patches(only, 4, patch=32, max_nan_fraction=1.0)
