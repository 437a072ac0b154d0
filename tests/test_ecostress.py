"""The ECOSTRESS reader: scene list, masks (read without their bogus scale), plausibility bound,
and the common metric grid on which aggregates align."""

from __future__ import annotations

import numpy as np
import pytest

from xlstsr.datasets import ecostress_grid, ecostress_scenes, open_ecostress_scene
from xlstsr.datasets.ecostress import ecostress_box, ecostress_crs
from xlstsr.kernels.aggregate import radiometric_mean

NIGHT = "2023183080644"  # 83 % clear land
COLD_DAY = "2023226223548"  # keeps 53 cloud-free land pixels below 280 K (cloud edges)


LA_BOX = (-118.71, 33.66, -117.53, 34.32)


def test_grid_aggregates_align():
    x70, y70 = ecostress_grid(70, LA_BOX)
    x280, y280 = ecostress_grid(280, LA_BOX)
    assert len(x70) == 4 * len(x280) and len(y70) == 4 * len(y280)
    assert np.allclose(x70.reshape(-1, 4).mean(1), x280)
    assert np.allclose(y70.reshape(-1, 4).mean(1), y280)
    assert len(ecostress_grid(8960, LA_BOX)[0]) >= 1
    with pytest.raises(ValueError, match="divide"):
        ecostress_grid(100, LA_BOX)


def test_the_shared_scenes_grid_comes_from_their_extent(shared_data):
    # the box of the 22 Los Angeles scenes (their GeoTIFF headers) gives the UTM 11N grid on
    # which docs/results/scale_invariance.md was measured: 13 x 10 cells of 8.96 km
    box = ecostress_box(shared_data / "ecostress_la")
    assert ecostress_crs(box) == "EPSG:32611"
    x, y = ecostress_grid(1120, box)
    assert (x[0] - 560, x[-1] + 560, y[-1] - 560, y[0] + 560) == (340480, 456960, 3718400, 3808000)


def _write_scene(folder, key, lon0, lat0, lst_k, cloud=None):
    """One ECOSTRESS-like granule (uint16 DN = K / 0.02, nodata 0) with its masks."""
    import rasterio
    from rasterio.transform import from_origin

    names = {k: f"ECO_L2_LSTE.002_{k}_doy{key}_aid0001.tif"
             for k in ("LST", "cloud_mask", "water_mask")}
    t = from_origin(lon0, lat0, 0.00063, 0.00063)
    layers = {"LST": np.round(lst_k / 0.02).astype(np.uint16),
              "cloud_mask": np.zeros(lst_k.shape, np.uint8) if cloud is None else cloud,
              "water_mask": np.zeros(lst_k.shape, np.uint8)}
    for k, a in layers.items():
        (folder / k).mkdir(exist_ok=True)
        with rasterio.open(folder / k / names[k], "w", driver="GTiff", height=a.shape[0],
                           width=a.shape[1], count=1, dtype=a.dtype, crs="EPSG:4326",
                           transform=t) as dst:
            dst.write(a, 1)
    return names


def test_a_folder_elsewhere_gets_its_own_grid(tmp_path):
    # held-back scenes need not lie over Los Angeles: a folder laid out the same way over Cape
    # Town (UTM 34 S) is read onto a grid of its own extent, not projected off the LA box
    rng = np.random.default_rng(0)
    rows = []
    for i, (key, dn) in enumerate((("2024010101000", "night"), ("2024010212000", "day"))):
        lst = (290.0 + 10 * i + rng.normal(0, 1.5, (300, 400))).astype(np.float32)
        names = _write_scene(tmp_path, key, 18.40 + 0.01 * i, -33.90, lst)
        rows.append(f"{names['LST']},{names['cloud_mask']},{names['water_mask']},"
                    f"2024-01-0{i + 1}T12:00:00Z,{dn},{key}")
    (tmp_path / "scenes.csv").write_text(
        "file,cloud_mask,water_mask,datetime_utc,day_night,overpass\n" + "\n".join(rows) + "\n")
    box = ecostress_box(tmp_path)
    assert box[0] == pytest.approx(18.40) and box[2] == pytest.approx(18.41 + 400 * 0.00063)
    lst = open_ecostress_scene("2024010212000", tmp_path, resolution=280)
    assert lst.rio.crs.to_epsg() == 32734
    v = lst.values[np.isfinite(lst.values)]
    # ~25 x 19 km of 70 m pixels, nearly all inside the grid and valid at 280 m
    assert v.size > 0.8 * (400 * 0.00063 * 92_500 / 280) * (300 * 0.00063 * 111_000 / 280)
    assert 295 < np.median(v) < 305


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


def test_a_folder_without_scenes_csv_gets_the_same_table(shared_data, tmp_path):
    # held-back scenes may come as files only: masks, times, day / night, overpasses and clear
    # counts derived from the files equal what the shared scenes.csv records
    full = ecostress_scenes(shared_data / "ecostress_la")
    for sub in ("LST", "cloud_mask", "water_mask"):
        (tmp_path / sub).symlink_to(shared_data / "ecostress_la" / sub)
    bare = ecostress_scenes(tmp_path)
    assert list(bare.index) == list(full.index)
    for col in ("cloud_mask", "water_mask", "day_night", "overpass", "n_valid", "datetime_utc"):
        assert (bare[col] == full[col]).all(), col
