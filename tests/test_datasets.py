"""Synthetic data: the exact fBm generator and the sample scene (pinned: many results rest on it)."""

from __future__ import annotations

import numpy as np
import pytest

import xlstsr
from xlstsr.datasets import fbm_surface, sample_scene


def _s2(f: np.ndarray, lag: int, axis: int) -> float:
    """Second-order structure function along one axis: mean squared increment at ``lag``."""
    n = f.shape[axis]
    d = np.take(f, range(lag, n), axis=axis) - np.take(f, range(n - lag), axis=axis)
    return float(np.mean(d**2))


@pytest.mark.parametrize("hurst", [0.3, 0.8])
def test_fbm_surface_structure_function_is_exact(hurst):
    """S_2(l) ~ l^(2H) from lag 1 to 32 (spectral synthesis reads H = 0.3 as 0.37, 0.8 as 0.70)."""
    rng = np.random.default_rng(0)
    lags = np.array([1, 2, 4, 8, 16, 32])
    pooled = np.zeros(len(lags))
    for _ in range(10):
        f = fbm_surface((96, 160), hurst, rng)  # rectangular: both axes must scale alike
        s2 = np.array([(_s2(f, lag, 0) + _s2(f, lag, 1)) / 2 for lag in lags])
        pooled += s2 / s2[0]  # each field's own scale drops out
    h = np.polyfit(np.log(lags), np.log(pooled), 1)[0] / 2
    assert h == pytest.approx(hurst, abs=0.04)


def test_fbm_surface_normalised_reproducible_and_checked():
    f = fbm_surface((40, 24), 0.5, np.random.default_rng(3))
    assert f.shape == (40, 24)
    assert abs(f.mean()) < 1e-12 and f.std() == pytest.approx(1.0)
    np.testing.assert_array_equal(f, fbm_surface((40, 24), 0.5, np.random.default_rng(3)))
    np.testing.assert_array_equal(fbm_surface(16, 0.5, np.random.default_rng(1)),
                                  fbm_surface((16, 16), 0.5, np.random.default_rng(1)))
    with pytest.raises(ValueError, match="hurst"):
        fbm_surface(16, 1.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="shape"):
        fbm_surface((1, 1), 0.5, np.random.default_rng(0))


def test_sample_scene_is_pinned():
    """The default scene, summarised: a change here moves the demo, docs and many test inputs."""
    s = sample_scene()
    expected = {  # mean, std over valid pixels, number of gaps
        "lst_1km": (302.08305359320906, 4.740997198646766, 1745),
        "lst_250m": (302.0806151225797, 5.024468783226494, 23595),
        "ndvi_250m": (0.5780811117248845, 0.2747027405718647, 0),
    }
    for name, (mean, std, gaps) in expected.items():
        v = s[name].values
        assert float(np.nanmean(v, dtype=np.float64)) == pytest.approx(mean, rel=1e-12, abs=0)
        assert float(np.nanstd(v, dtype=np.float64)) == pytest.approx(std, rel=1e-10)
        assert int(np.isnan(v).sum()) == gaps
    assert s["lst_1km"].rio.crs == s["ndvi_250m"].rio.crs
    assert xlstsr.datasets.sample_scene is sample_scene  # the public path


def test_ground_overlap_and_pairs_apart_on_a_made_up_folder(tmp_path):
    """Three windows of one grid: b overlaps a by a quarter, c is beside a (edges touch)."""
    rasterio = pytest.importorskip("rasterio")
    from rasterio.transform import from_origin

    from xlstsr.datasets import ground_overlap, pairs_apart

    folder = tmp_path / "modis_aster"
    folder.mkdir()
    (folder / "pairs.csv").write_text("pair,aster_view_angle_deg\n001,1\n002,1\n003,1\n")
    origins = {"001": (0.0, 800.0), "002": (400.0, 400.0), "003": (800.0, 800.0)}  # 8 x 8, 100 m
    for pid, (x0, y0) in origins.items():
        with rasterio.open(folder / f"{pid}_modis_lst_1km.tif", "w", driver="GTiff", width=8,
                           height=8, count=1, dtype="float32", crs="EPSG:32631",
                           transform=from_origin(x0, y0, 100.0, 100.0)) as dst:
            dst.write(np.full((1, 8, 8), 300, np.float32))
    ov = ground_overlap(root=tmp_path)
    assert list(ov.index) == ["001", "002", "003"]
    np.testing.assert_allclose(np.diag(ov.values), 1.0)
    assert ov.loc["001", "002"] == pytest.approx(0.25) and ov.loc["002", "001"] == 0.25
    assert ov.loc["001", "003"] == 0  # touching edges share no pixel
    assert pairs_apart(["002", "003"], ["001"], tmp_path) == ["003"]
    assert pairs_apart(["002", "003"], [], tmp_path) == ["002", "003"]
    with pytest.raises(ValueError, match="in both"):
        pairs_apart(["001"], ["001"], tmp_path)
    with pytest.raises(FileNotFoundError, match="no MODIS/ASTER pair '004'"):
        ground_overlap(["004"], tmp_path)
