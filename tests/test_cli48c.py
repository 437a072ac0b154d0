"""Review 48g of commits 3884408 / 0fc81cb.

- ``--reference-nodata 300`` on an int16 x 0.1 reference holding stored 300 (its undeclared
  fill, 30 K) and real pixels at 300.0 K masked both (42 real pixels lost); with 300 declared
  as its ``_FillValue`` the 300.0 K pixels were masked with a false warning. The value is the
  stored one where the file holds it or declares it, as ``--help`` says.
- ``ecostress_box(folder)`` raised for a folder with one scene far from the rest (the grid's
  width in its own warning), where it warned with the ``main_group=True`` advice.
"""

from __future__ import annotations

import csv
import warnings

import numpy as np
import pytest
import rioxarray  # noqa: F401  (the .rio accessor)
import xarray as xr
from test_ecostress import _write_scene

from xlstsr.cli import main
from xlstsr.datasets.ecostress import ecostress_box

N = 64


def _field() -> tuple[np.ndarray, dict]:
    rng = np.random.default_rng(0)
    i = np.arange(N)
    t = (295 + 5 * np.sin(i[:, None] / 7) + 3 * np.cos(i[None, :] / 5)
         + rng.normal(0, 0.5, (N, N))).astype("float32")
    return t, {"y": 4e6 - 70.0 * i, "x": 5e5 + 70.0 * i}


def _rmse_nvalid(path) -> tuple[float, float]:
    with open(path) as f:
        row = next(csv.DictReader(f))
    return float(row["rmse"]), float(row["n_valid"])


@pytest.mark.parametrize("declared", [False, True])
def test_reference_nodata_is_the_stored_value_real_kelvin_kept(tmp_path, capsys, declared):
    t, coords = _field()
    rng = np.random.default_rng(1)
    sr = xr.DataArray(t + rng.normal(0, 1, t.shape).astype("float32"), dims=("y", "x"),
                      coords=coords, name="LST").rio.write_crs(32633)
    sr.to_netcdf(tmp_path / "sr.nc")
    stored = np.round(t / 0.1).astype("int16")
    stored[:4, :4] = 300  # the fill, stored 300 (30 K)
    stored[10:14, 10:14] = 3000  # real pixels at 300.0 K
    ref = xr.DataArray(stored, dims=("y", "x"), coords=coords, name="LST",
                       attrs={"scale_factor": 0.1, "add_offset": 0.0}).rio.write_crs(32633)
    if declared:
        ref.encoding["_FillValue"] = 300
    ref.to_netcdf(tmp_path / "ref.nc")
    # the same reference with the fill already NaN: what the stored reading must score
    clean = (stored * 0.1).astype("float32")
    clean[:4, :4] = np.nan
    xr.DataArray(clean, dims=("y", "x"), coords=coords, name="LST",
                 attrs={"units": "K"}).rio.write_crs(32633).to_netcdf(tmp_path / "clean.nc")
    assert main(["evaluate", str(tmp_path / "sr.nc"), str(tmp_path / "clean.nc"),
                 str(tmp_path / "c.csv")]) == 0
    assert main(["evaluate", str(tmp_path / "sr.nc"), str(tmp_path / "ref.nc"),
                 str(tmp_path / "r.csv"), "--reference-nodata", "300"]) == 0
    got, want = _rmse_nvalid(tmp_path / "r.csv"), _rmse_nvalid(tmp_path / "c.csv")
    assert got[1] == want[1] == N * N - 16  # the 16 real 300.0 K pixels scored
    assert got[0] == pytest.approx(want[0], rel=1e-6)
    assert "those are masked" not in capsys.readouterr().err


def test_ecostress_box_of_a_folder_with_a_far_scene_warns(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for i, (key, lon, lat) in enumerate((("2024010101000", -118.5, 34.2),
                                         ("2024010111000", -118.4, 34.2),
                                         ("2024010121000", 18.4, -33.9))):
        names = _write_scene(tmp_path, key, lon, lat,
                             (295 + rng.normal(0, 1.5, (60, 80))).astype(np.float32))
        rows.append(f"{names['LST']},{names['cloud_mask']},{names['water_mask']},"
                    f"2024-01-0{i + 1}T12:00:00Z,night,{key}")
    (tmp_path / "scenes.csv").write_text(
        "file,cloud_mask,water_mask,datetime_utc,day_night,overpass\n" + "\n".join(rows) + "\n")
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        box = ecostress_box(tmp_path)  # raised: the grid's width in its own warning
    assert box[2] - box[0] > 100
    text = " ".join(str(w.message) for w in said)
    assert "lie apart" in text and "main_group=True" in text and "degrees of longitude" in text
    main_box = ecostress_box(tmp_path, main_group=True)  # the advice works
    assert main_box[2] - main_box[0] < 1
