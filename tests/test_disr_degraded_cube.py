"""The degraded DISR on the MOD11A1 cube (scripts/train_bundled.py --only disr_degraded_cube):
its NDVI is the same window's, from the nearest MOD13A2 composite, and its split keeps the test
positions out of training."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from helpers import load_script

from xlstsr.train import degraded_pairs


def _d(s: str) -> np.datetime64:
    return np.datetime64(s, "ns")


def test_match_ndvi_takes_the_same_position_and_the_nearest_composite():
    """Same position only; the composite whose period holds the date over a nearer start; none
    beyond ``max_days``; ties to the earlier composite."""
    recipe = load_script("train_bundled")
    starts = ["2020-01-01", "2020-01-17", "2020-02-02", "2020-01-17"]
    nd = xr.Dataset(coords={
        "position": ("sample", [7, 7, 7, 9]),
        "start": ("sample", [_d(s) for s in starts]),
        "end": ("sample", [_d(s) + np.timedelta64(16, "D") - np.timedelta64(1, "s") for s in starts]),
    })
    lst = xr.Dataset(coords={
        "position": ("sample", [7, 7, 9, 9, 8]),
        # 01-16: inside the first period, though the second starts 1 day later; 02-10: in the
        # third; 01-20 at 9: its own; 03-20 at 9: 55 days from any composite; 8: none there
        "time": ("sample", [_d("2020-01-16T10:30"), _d("2020-02-10T10:30"),
                            _d("2020-01-20T10:30"), _d("2020-03-20T10:30"), _d("2020-01-20")]),
    })
    idx, days, inside = recipe.match_ndvi(lst, nd)
    assert idx.tolist() == [0, 2, 3, -1, -1]
    assert inside.tolist() == [True, True, True, False, False]
    assert np.isnan(days[3:]).all() and (np.abs(days[:3]) <= 8).all()
    # a tie (the date half-way between two middles) goes to the earlier composite
    mid = nd.start.values[:2] + (nd.end.values[:2] - nd.start.values[:2]) / 2
    half = xr.Dataset(coords={"position": ("sample", [7]), "time": ("sample", [mid[0] + (mid[1] - mid[0]) / 2])})
    assert recipe.match_ndvi(half, nd)[0].tolist() == [0]


def test_guide_on_the_target_grid_equals_degraded_pairs_of_the_repeated_ndvi():
    """The recipe hands the 1 km NDVI to the model as it is: exactly what ``degraded_pairs``
    makes of it repeated 4 x 4 by nearest (NaN included); day and night share one guide."""
    recipe = load_script("train_bundled")
    rng = np.random.default_rng(0)
    day = 300 + rng.normal(0, 2, (3, 16, 16)).astype(np.float32)
    ndvi = rng.uniform(0, 1, (3, 16, 16)).astype(np.float32)
    ndvi[1, 3, 4] = np.nan
    s = xr.Dataset({"LST_Day_1km": (("sample", "y", "x"), day),
                    "LST_Night_1km": (("sample", "y", "x"), day - 15),
                    "ndvi": (("sample", "y", "x"), ndvi)},
                   coords={"position": ("sample", [4, 5, 6])})
    p = recipe.disr_cube_pairs(s)
    ref = degraded_pairs(day, 4, np.repeat(np.repeat(ndvi, 4, -2), 4, -1)[:, None])
    np.testing.assert_array_equal(p["guide"][:3], ref["guide"])
    np.testing.assert_array_equal(p["guide"][3:], ref["guide"])
    np.testing.assert_array_equal(p["lst_coarse"][:3], ref["lst_coarse"])
    assert p["scene_ids"].tolist() == [4, 5, 6, 4, 5, 6]


@pytest.fixture(scope="module")
def cube_ndvi(shared_data):
    recipe = load_script("train_bundled")
    return recipe, recipe.cube_samples_ndvi(shared_data, max_dates=6)


def test_cube_ndvi_is_the_same_window_of_the_nearest_composite(cube_ndvi, shared_data):
    """Each window-date's NDVI is read back from the MOD13A2 COGs of the same window position
    (its pixel offsets), of the composite the recipe recorded, and that composite is the one of
    the position nearest in time."""
    import rioxarray

    recipe, s = cube_ndvi
    nd = recipe.cube_ndvi_windows(shared_data)
    cogs = shared_data / recipe.CUBE / "cogs"
    assert s.sizes["sample"] > 5 and s.ndvi_inside.values.mean() > 0.5
    for i in range(s.sizes["sample"]):
        p, t = s.position.values[i], s.time.values[i]
        start = s.ndvi_start.values[i]
        doy = (start.astype("datetime64[D]") - np.datetime64("2020-01-01")).astype(int) + 1
        r, c = int(s.row_off.values[i]), int(s.col_off.values[i])
        band = {}
        for b in ("red", "nir"):
            (f,) = cogs.glob(f"MOD13A2.A2020{doy:03d}.h18v04.061_{b}.tif")
            with rioxarray.open_rasterio(f, mask_and_scale=True) as a:
                band[b] = a.values[0, r : r + 64, c : c + 64]
        ndvi = (band["nir"] - band["red"]) / (band["nir"] + band["red"])
        ok = np.isfinite(ndvi)
        assert ok.mean() > 0.9
        np.testing.assert_allclose(s.ndvi.values[i][ok], ndvi[ok], atol=1e-6)
        # no composite of this position is nearer in time to the LST date
        here = nd.position.values == p
        mid = nd.start.values[here] + (nd.end.values[here] - nd.start.values[here]) / 2
        best = np.abs((mid - t) / np.timedelta64(1, "D")).min()
        assert abs(s.ndvi_days.values[i]) == pytest.approx(best)
        assert np.isfinite(s.ndvi.values[i]).all()  # fill pixels filled


def test_recipe_split_keeps_test_positions_out_of_training(cube_ndvi, shared_data, tmp_path):
    """One epoch of the recipe on a few dates: the checkpoint records the cube SISR's split
    (``cube_split``), no test or held-out position reaches the training or validation images,
    and the NDVI source and its match are recorded."""
    import torch

    from xlstsr.nn import load_model

    recipe, s = cube_ndvi
    split = recipe.cube_split(shared_data)
    assert not set(split.test) & set(split.train) and not set(split.held_out) & set(split.train)
    pos = s.position.values
    assert np.isin(pos, split.test).any() and np.isin(pos, split.held_out).any()
    train, val = recipe.disr_cube_patches(s, split)
    assert set(np.unique(train.scene)) <= set(split.train)
    assert set(np.unique(val.scene)) <= set(split.val)
    torch.set_num_threads(1)
    path = recipe.train_disr_degraded_cube(shared_data, tmp_path, epochs=1, samples=s,
                                           progress=False)
    meta = load_model(path).metadata
    assert meta["positions"] == split.as_dict()
    assert meta["mode"] == "degraded_disr" and meta["inputs"] == ["lst", "ndvi"]
    assert "MOD13A2" in meta["ndvi"]["source"] and "nearest" in meta["ndvi"]["match"]
    n_train = 2 * int(np.isin(pos, split.train).sum())
    n_val = 2 * int(np.isin(pos, split.val).sum())
    assert meta["patches"]["n_train"] == n_train and meta["patches"]["n_val"] == n_val
    assert meta["history"]["cpu_seconds"] > 0 and meta["settings"]["epochs"] == 1


def test_bundled_degraded_cube_records_its_data_split_ndvi_and_training(shared_data):
    """The installed ``degraded_cube`` weights were trained on the cube SISR's split (recorded
    positions = the recipe's ``cube_split``, no position in two sets) with the MOD13A2 NDVI, and
    say how (PSF, loss, epochs, CPU seconds on one thread)."""
    from xlstsr.nn.weights import load_weights
    from xlstsr.train import PositionSplit

    recipe = load_script("train_bundled")
    meta = load_weights("degraded_cube").metadata
    split = PositionSplit.from_dict(meta["positions"])  # raises if a position is in two sets
    assert split.as_dict() == recipe.cube_split(shared_data).as_dict()
    assert meta["mode"] == "degraded_disr" and meta["inputs"] == ["lst", "ndvi"]
    assert any("MOD13A2" in d for d in meta["training_data"])
    assert meta["ndvi"]["dropped_no_ndvi"] == 0 and meta["ndvi"]["max_days"] == 16
    assert meta["psf"]["sigma_fine_px"] is None and "Huber" in meta["loss"]
    assert meta["window_dates"]["train"] == 288 and meta["patches"]["n_train"] == 2 * 288
    h = meta["history"]
    assert h["epochs_run"] >= 1 and 0 < h["cpu_seconds"] < 900 and h["threads"] == 1
    assert meta["command"].endswith("--only disr_degraded_cube")
