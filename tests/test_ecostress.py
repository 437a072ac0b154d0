"""The ECOSTRESS reader: scene list, masks (read without their bogus scale), plausibility bound,
and the common metric grid on which aggregates align."""

from __future__ import annotations

import numpy as np
import pytest

from xlstsr.datasets import ecostress_grid, ecostress_scenes, open_ecostress_scene
from xlstsr.kernels.aggregate import radiometric_mean

NIGHT = "2023183080644"  # 83 % clear land
COLD_DAY = "2023226223548"  # keeps 53 cloud-free land pixels below 280 K (cloud edges)


def test_grid_aggregates_align():
    x70, y70 = ecostress_grid(70)
    x280, y280 = ecostress_grid(280)
    assert len(x70) == 4 * len(x280) and len(y70) == 4 * len(y280)
    assert np.allclose(x70.reshape(-1, 4).mean(1), x280)
    assert np.allclose(y70.reshape(-1, 4).mean(1), y280)
    assert len(ecostress_grid(8960)[0]) >= 1
    with pytest.raises(ValueError, match="divide"):
        ecostress_grid(100)


def test_scenes(shared_data):
    s = ecostress_scenes(shared_data)
    assert len(s) == 22 and s["overpass"].nunique() == 20
    assert set(s["day_night"]) == {"day", "night"}
    assert s.index[0] == "2023172202153"


def test_native_masks_and_bounds(shared_data):
    s = ecostress_scenes(shared_data)
    lst = open_ecostress_scene(NIGHT, shared_data)
    assert lst.dims == ("lat", "lon") and lst.attrs["units"] == "K"
    v = lst.values[np.isfinite(lst.values)]
    # masks read as class codes: exactly the README's clear-land count (no cold pixel here)
    assert v.size == s.loc[NIGHT, "n_valid"]
    assert 265 <= v.min() and v.max() <= 320
    day = open_ecostress_scene(COLD_DAY, shared_data).values
    n_day = np.isfinite(day).sum()
    assert n_day < s.loc[COLD_DAY, "n_valid"]  # the cold cloud edges are gone
    assert np.nanmin(day) >= 285.0
    loose = open_ecostress_scene(COLD_DAY, shared_data, bounds=(0, 1000)).values
    assert np.isfinite(loose).sum() == s.loc[COLD_DAY, "n_valid"]


def test_metric_grid(shared_data):
    l70 = open_ecostress_scene(NIGHT, shared_data, resolution=70)
    l280 = open_ecostress_scene(NIGHT, shared_data, resolution=280)
    assert l280.rio.crs.to_epsg() == 32611 and l280.attrs["resolution_m"] == 280
    assert l70.shape == tuple(4 * n for n in l280.shape)
    np.testing.assert_allclose(l280.values, radiometric_mean(l70.values, 4, min_valid=0.5),
                               rtol=0, atol=1e-3)
    v = l280.values[np.isfinite(l280.values)]
    assert v.size > 50_000 and 265 < v.min() and v.max() < 320
    with pytest.raises(KeyError, match="no ECOSTRESS scene"):
        open_ecostress_scene("2020001000000", shared_data)
