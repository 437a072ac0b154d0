"""Training records found wanting in session 23."""

from __future__ import annotations

import os

import numpy as np
from test_train import _cube

from xlstsr.nn import load_model
from xlstsr.train import fit_files


def test_fit_files_records_absolute_training_paths(tmp_path, monkeypatch):
    """A checkpoint trained on 'cube.nc' from the data's folder recorded 'cube.nc': a path that
    names nothing once the checkpoint is moved or read from elsewhere. It records the absolute
    path now (a URL stays as given)."""
    import xarray as xr

    _cube().to_dataset(name="T").to_netcdf(tmp_path / "cube.nc")
    g = np.random.default_rng(1).random((1, 128, 128)).astype(np.float32)
    xr.Dataset({"NDVI": (("band", "y", "x"), g)}).to_netcdf(tmp_path / "ndvi.nc")
    monkeypatch.chdir(tmp_path)
    rec = fit_files("cube.nc", "m.pt", guide="ndvi.nc", mode="degraded_disr", patch=16,
                    window=16, epochs=1)
    data = load_model(rec["path"], factor=4, n_guide=1).metadata["training_data"]
    assert data["lst"] == os.path.join(str(tmp_path), "cube.nc")
    assert data["guide"] == os.path.join(str(tmp_path), "ndvi.nc")
    assert os.path.isabs(data["lst"]) and os.path.isfile(data["lst"])
