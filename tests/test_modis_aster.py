"""Readers of the real MODIS/ASTER pairs, and bicubic evaluated on two of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rioxarray
from scipy import ndimage

import xlstsr
from xlstsr.datasets import (
    aster_truth_mask,
    data_root,
    iter_modis_aster,
    modis_aster_pairs,
    open_modis_aster_pair,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not (DATA / "modis_aster").is_dir(),
                       reason=f"real data folder {DATA / 'modis_aster'} is absent"),
]


def test_pair_ids():
    ids = modis_aster_pairs(DATA)
    assert len(ids) == 55 and len(set(ids)) == 55
    assert ids[0] == "001" and all(len(i) == 3 for i in ids)
    assert modis_aster_pairs(DATA / "modis_aster") == ids  # the folder itself is accepted


def test_open_pair_decodes_aster():
    lst, ndvi, aster = open_modis_aster_pair(1, DATA)
    assert lst.shape == (64, 64) and ndvi.shape == (256, 256)
    assert lst.dims == ("y", "x") and "band" not in lst.coords
    for da in (lst, ndvi, aster):
        assert da.rio.crs is not None
    assert lst.rio.crs == ndvi.rio.crs and aster.rio.crs != lst.rio.crs
    assert abs(lst.rio.resolution()[0]) == pytest.approx(926.625, abs=0.01)
    assert lst.attrs["units"] == "K" and aster.attrs["units"] == "K"
    raw = rioxarray.open_rasterio(DATA / "modis_aster" / "001_aster_lst_250m.tif").squeeze().values
    np.testing.assert_array_equal(np.isnan(aster.values), raw <= 0)
    np.testing.assert_allclose(aster.values[raw > 0], raw[raw > 0] * 0.1, rtol=1e-6)
    assert 250 < float(aster.median()) < 340


def test_truth_mask_is_the_readme_rule():
    _, _, aster = open_modis_aster_pair("002", DATA)
    raw = rioxarray.open_rasterio(DATA / "modis_aster" / "002_aster_lst_250m.tif").squeeze().values
    expected = ndimage.binary_erosion(raw > 0, iterations=3) & (raw * 0.1 > 230)
    got = aster_truth_mask(aster).values
    # >= vs > at exactly 230.0 K may differ on float ties only
    assert (got != expected).sum() <= 0.001 * expected.sum()
    assert got.sum() > 0.5 * (raw > 0).sum()
    _, _, masked = open_modis_aster_pair("002", DATA, truth_mask=True)
    np.testing.assert_array_equal(np.isfinite(masked.values), got)


def test_iterator_and_missing_root(tmp_path):
    pid, lst, *_ = next(iter_modis_aster(DATA))
    assert pid == "001" and lst.shape == (64, 64)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data_root(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"pairs\.csv"):
        modis_aster_pairs(tmp_path)


def test_data_root_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("XLSTSR_DATA", str(DATA))
    assert data_root() == DATA
    assert len(modis_aster_pairs()) == 55
    monkeypatch.setenv("XLSTSR_DATA", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match=r"XLSTSR_DATA"):
        data_root()
    monkeypatch.delenv("XLSTSR_DATA")
    if Path(xlstsr.__file__).resolve().parents[1] == Path(__file__).resolve().parents[1]:
        assert data_root() == DATA  # the ../shared/data default of a development checkout


@pytest.mark.parametrize("pid", ["001", "020"])
def test_bicubic_on_real_pairs_is_plausible(pid):
    lst, _, aster = open_modis_aster_pair(pid, DATA)
    sr = xlstsr.upscale(lst, 4, method="bicubic")
    ds = xlstsr.evaluate(sr, aster, coarse=lst, erode=3, valid_min=230.0)
    vals = {k: float(v) for k, v in ds.data_vars.items()}
    assert all(np.isfinite(v) for v in vals.values()), vals
    assert vals["rmse"] > 1.0 and vals["rmse"] < 6.0, vals
    assert vals["ubrmse"] <= vals["rmse"] and abs(vals["bias"]) < 4.0
    assert 20.0 < vals["psnr"] < 40.0
    assert 0.3 < vals["ssim"] < 1.0
    assert 0.0 < vals["spectral_ratio"] < 1.0  # bicubic lacks fine detail
    assert vals["coarse_consistency"] < 1.0
    assert vals["n_valid"] > 30_000
