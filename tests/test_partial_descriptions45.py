"""A band stack described in part (one source of a gdal_merge / QGIS stack had no description)
keeps the descriptions it has (probe 45x/02: they were dropped without a word)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from xlstsr.io import open_cog
from xlstsr.io.cog import DESCRIPTION_COORD

DESCRIPTIONS = ["field_a", "field_b", ""]


@pytest.fixture
def stack(tmp_path):
    path = tmp_path / "stack.tif"
    rng = np.random.default_rng(0)
    with rasterio.open(path, "w", driver="GTiff", height=16, width=16, count=3,
                       dtype="float32", crs="EPSG:32633",
                       transform=from_origin(1e6, 5.5e6, 1000, 1000)) as ds:
        for i, text in enumerate(DESCRIPTIONS):
            ds.write((300 + 10 * i + rng.normal(0, 2, (16, 16))).astype("f4"), i + 1)
            if text:
                ds.set_band_description(i + 1, text)
    return path


def test_open_cog_keeps_partial_band_descriptions(stack):
    da = open_cog(stack)
    assert list(da[DESCRIPTION_COORD].values) == DESCRIPTIONS


def test_upscale_writes_partial_band_descriptions_back(stack, tmp_path):
    out = tmp_path / "out.tif"
    run = subprocess.run([sys.executable, "-m", "xlstsr", "upscale", str(stack), str(out),
                          "--factor", "2"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    with rasterio.open(out) as ds:
        assert list(ds.descriptions[:2]) == DESCRIPTIONS[:2]
        assert not ds.descriptions[2]
