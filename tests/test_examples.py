"""The user guide's three workflows (examples/*.py, docs/workflows.md), run on the real data."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

pytestmark = pytest.mark.realdata


def _run(name: str, *args: str) -> dict:
    """``python examples/<name>.py ARGS`` in this process; the summary its main() returns."""
    saved = sys.argv
    sys.argv = [name, *args]
    try:
        ns = runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="example")
        return ns["main"](list(args))
    finally:
        sys.argv = saved


def test_stac_catalog_to_zarr_to_cogs(shared_data, tmp_path):
    out = tmp_path / "stac"
    s = _run("stac_to_zarr", "--data", str(shared_data), "--out", str(out))
    assert s["input"] == {"time": 4, "y": 64, "x": 64}
    assert s["output"] == {"time": 4, "y": 256, "x": 256}
    assert s["cogs"] == 4 and len(list((out / "cogs").glob("*.tif"))) == 4
    assert s["crs"].startswith("PROJCS") and s["coarse_consistency_rmse_K"] < 0.3
    # a second run keeps the first outputs, refused in one line (a traceback saying mode='w')
    with pytest.raises(SystemExit, match="exists; pass --overwrite"):
        _run("stac_to_zarr", "--data", str(shared_data), "--out", str(out))


def test_stac_example_overwrite_and_unknown_window(shared_data, tmp_path):
    """--overwrite with fewer dates left the first run's COGs beside the new ones; an unknown
    --window ended in a raw KeyError."""
    out = tmp_path / "stac"
    common = ["--data", str(shared_data), "--out", str(out), "--method", "bicubic"]
    _run("stac_to_zarr", *common, "--dates", "2")
    s = _run("stac_to_zarr", *common, "--dates", "1", "--overwrite")
    assert s["cogs"] == 1 and len(list((out / "cogs").glob("*.tif"))) == 1
    with pytest.raises(SystemExit) as info:
        _run("stac_to_zarr", *common, "--window", "400")
    assert info.value.code == 2
    for bad in (["--dates", "0"], ["--data", str(tmp_path / "nowhere")]):
        with pytest.raises(SystemExit) as info:  # a false "no item covers it"; a traceback
            _run("stac_to_zarr", *common, *bad)
        assert info.value.code == 2


def test_modis_granules_to_cogs(shared_data, tmp_path):
    pytest.importorskip("pyhdf", reason="the HDF4 workflow needs pyhdf (xlstsr[hdf])")
    s = _run("modis_granules", "--data", str(shared_data), "--out", str(tmp_path))
    assert s["granules"] == 1 and s["dates"] == ["2019-11-01"]
    assert s["valid_fraction"] > 0.9 and s["output"] == {"time": 1, "y": 512, "x": 512}
    lo, hi = s["lst_range_K"]
    assert 250 < lo < hi < 340 and s["cogs"] == 1


def test_training_on_a_stac_cube_with_lightning(shared_data, tmp_path):
    s = _run("train_on_cube", "--data", str(shared_data), "--out", str(tmp_path), "--epochs", "3")
    assert s["train_patches"] > 0 and s["val_patches"] > 0 and s["epochs"] == 3
    assert s["val_loss"][-1] < s["val_loss"][0]
    assert (Path(s["log_dir"]) / "metrics.csv").is_file() and Path(s["checkpoint"]).is_file()
    assert (tmp_path / "sisr_cube.pt").is_file() and s["scored_dates"] > 0
    assert np.isfinite(list(s["rmse_K"].values())).all()
    # a few epochs on a dozen dates: level with bicubic on ground it never saw, not worse
    assert s["rmse_K"]["trained model"] < 1.1 * s["rmse_K"]["bicubic"]
