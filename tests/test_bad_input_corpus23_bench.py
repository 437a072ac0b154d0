"""Benchmark protocols found slipping in session 22 (held-back folders)."""

from __future__ import annotations

import numpy as np
import pytest
from test_benchmarks import bench_env, load_benchmark  # noqa: F401 (bench_env: a fixture)


@pytest.mark.realdata
def test_accuracy_apart_table_leaves_out_pairs_on_cube_training_ground(
        shared_data, tmp_path, bench_env):  # noqa: F811
    """A held-back pair lying on a cube window the default sisr (and the degraded DISR the
    default disr was fine-tuned from) trained on was listed among the pairs 'apart from the
    training ground' (only the 20 training pairs' footprints were checked)."""
    import rasterio
    from affine import Affine

    acc = load_benchmark("accuracy_modis_aster")
    import sisr_cube

    folder = tmp_path / "modis_aster"
    folder.mkdir()
    (folder / "pairs.csv").write_text("pair,aster_view_angle_deg\n001,8.7\n002,8.7\n")
    src = shared_data / "modis_aster"
    b = sisr_cube.h18v04_window_bounds([150])  # a training window of both models
    x0, y0 = float(b.xmin[0]), float(b.ymax[0])
    for pid, moved in (("001", True), ("002", False)):
        for name, res in (("modis_lst_1km", sisr_cube.MODIS_1KM_M),
                          ("modis_ndvi_250m", sisr_cube.MODIS_1KM_M / 4),
                          ("aster_lst_250m", None)):
            with rasterio.open(src / f"002_{name}.tif") as f:
                prof, data = f.profile, f.read()
            if moved and res is not None:
                prof.update(transform=Affine(res, 0, x0, 0, -res, y0))
            if name == "modis_lst_1km":
                data = data + np.float32(0.01 if moved else 0.02)  # other dates
            with rasterio.open(folder / f"{pid}_{name}.tif", "w", **prof) as dst:
                dst.write(data)
    apart = acc.apart_from_all_training(["001", "002"], tmp_path)
    assert "001" not in apart
    assert apart == [p for p in acc.apart_from_training(["002"], tmp_path)]
