"""Readers of the real MODIS/ASTER pairs, and bicubic evaluated on two of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rioxarray
from scipy import ndimage

import xlstsr
from xlstsr.datasets import (
    EVAL_PAIRS,
    TRAIN_PAIRS,
    VAL_PAIRS,
    aster_truth_mask,
    data_root,
    iter_modis_aster,
    modis_aster_arrays,
    modis_aster_pairs,
    open_modis_aster_aligned,
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
    # decoded in double precision, then stored as float32 (the value the training data used)
    expected = (raw[raw > 0].astype(np.float64) * 0.1).astype(np.float32)
    np.testing.assert_array_equal(aster.values[raw > 0], expected)
    assert 250 < float(aster.median()) < 340


@pytest.mark.parametrize("pid", ["002", "117"])
def test_truth_mask_is_the_readme_rule(pid):
    _, _, aster = open_modis_aster_pair(pid, DATA)
    raw = rioxarray.open_rasterio(DATA / "modis_aster" / f"{pid}_aster_lst_250m.tif").squeeze().values
    warm = raw.astype(np.float64) * 0.1 >= 230
    # the border and what min_k removes (cloud, the fill-mixed ring) both eroded (review 48)
    expected = ndimage.binary_erosion((raw > 0) & warm, iterations=3) & warm
    got = aster_truth_mask(aster).values
    np.testing.assert_array_equal(got, expected)
    # clear=False: the anchor protocol's mask of earlier versions, the border alone eroded
    old = ndimage.binary_erosion(raw > 0, iterations=3) & (raw.astype(np.float64) * 0.1 > 230)
    np.testing.assert_array_equal(aster_truth_mask(aster, clear=False).values, old)
    assert got.sum() > 0.5 * (raw > 0).sum()
    _, _, masked = open_modis_aster_pair(pid, DATA, truth_mask=True)
    np.testing.assert_array_equal(np.isfinite(masked.values), got)


def test_split_is_disjoint_and_complete():
    ids = modis_aster_pairs(DATA)
    assert len(TRAIN_PAIRS) == 20 and len(EVAL_PAIRS) == 35 and len(VAL_PAIRS) == 4
    assert not set(TRAIN_PAIRS) & set(EVAL_PAIRS)
    assert set(TRAIN_PAIRS) | set(EVAL_PAIRS) == set(ids)
    assert set(VAL_PAIRS) < set(TRAIN_PAIRS)


def test_aligned_pair_is_on_the_lst_fine_grid():
    p = open_modis_aster_aligned("020", DATA)
    lst, ndvi, truth, aster = p["lst"], p["ndvi"], p["truth"], p["aster"]
    t = lst.rio.transform()
    # the fine grid of the 1 km LST, computed here from its transform: pixel centres every res/4
    fx = t.c + (np.arange(4 * lst.sizes["x"]) + 0.5) * t.a / 4
    fy = t.f + (np.arange(4 * lst.sizes["y"]) + 0.5) * t.e / 4
    for da in (ndvi, truth):
        assert da.shape == (256, 256) and da.rio.crs == lst.rio.crs
        np.testing.assert_allclose(da.x.values, fx, rtol=0, atol=1e-6)
        np.testing.assert_allclose(da.y.values, fy, rtol=0, atol=1e-6)
    # the NDVI nests under the LST (whole-pixel offset): aligned values are stored values
    _, ndvi_raw, _ = open_modis_aster_pair("020", DATA)
    v = ndvi.values[np.isfinite(ndvi.values)]
    assert np.isin(v, ndvi_raw.values).all()
    # the truth is the masked ASTER (NaN outside the mask), reprojected: same value range
    assert np.isfinite(truth.values).mean() > 0.3
    finite = aster.values[np.isfinite(aster.values)]
    assert finite.min() >= 230.0
    tv = truth.values[np.isfinite(truth.values)]
    assert finite.min() - 1e-3 <= tv.min() and tv.max() <= finite.max() + 1e-3


def test_arrays_stack_the_aligned_pairs():
    a = modis_aster_arrays(["001", "020"], DATA)
    assert a["lst"].shape == (2, 64, 64) and a["ndvi"].shape == (2, 1, 256, 256)
    assert a["truth"].shape == (2, 256, 256)
    assert all(v.dtype == np.float32 for v in a.values())
    p = open_modis_aster_aligned("020", DATA)
    np.testing.assert_array_equal(a["ndvi"][1, 0], p["ndvi"].values)
    np.testing.assert_array_equal(a["truth"][1], p["truth"].values)


def test_guide_offset_auto_moves_an_offset_ndvi_onto_the_lst():
    """``guide_offset="auto"`` gives a model's training arrays the NDVI ``upscale`` sees by
    default: pair 171's stored NDVI is offset from its LST (warned), the moved one is not; pair
    001's is not offset and is left as stored."""
    import warnings

    from xlstsr.errors import GuideAlignmentWarning
    from xlstsr.guide import check_alignment

    def warned(pid: str, mode: str) -> bool:
        p = open_modis_aster_aligned(pid, DATA, guide_offset=mode)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            check_alignment(p["ndvi"], p["lst"], "check", factor=4)
        return any(issubclass(x.category, GuideAlignmentWarning) for x in w)

    assert warned("171", "ignore") and not warned("171", "auto")
    a = modis_aster_arrays(["001", "171"], DATA, guide_offset="auto")
    b = modis_aster_arrays(["001", "171"], DATA)
    np.testing.assert_array_equal(a["ndvi"][0], b["ndvi"][0])
    assert not np.allclose(a["ndvi"][1], b["ndvi"][1], equal_nan=True)
    np.testing.assert_array_equal(a["truth"], b["truth"])  # only the guide moves


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


def test_pairs_apart_share_no_modis_pixel_with_training():
    """The split by ground: no evaluation pair kept by pairs_apart has a 1 km pixel centre that a
    training pair also has (checked on the pixel coordinates, not on the bounds)."""
    from xlstsr.datasets import ground_overlap, pairs_apart

    apart = pairs_apart(EVAL_PAIRS, TRAIN_PAIRS, DATA)
    assert 0 < len(apart) < len(EVAL_PAIRS)

    def centres(pid):
        lst = open_modis_aster_pair(pid, DATA)[0]
        xx, yy = np.meshgrid(np.round(lst.x.values, 1), np.round(lst.y.values, 1))
        return set(zip(xx.ravel(), yy.ravel()))

    train = set().union(*(centres(p) for p in TRAIN_PAIRS))
    for pid in apart:
        assert not centres(pid) & train, pid
    sharing = [p for p in EVAL_PAIRS if p not in apart]
    assert any(centres(p) & train for p in sharing[:3])
    ov = ground_overlap(["084", "131", "015"], DATA)
    assert ov.loc["084", "131"] == pytest.approx(len(centres("084") & centres("131")) / 4096)
    assert ov.loc["084", "015"] == 0 and ov.loc["015", "015"] == 1


def test_training_pairs_are_recognised_by_their_lst():
    from xlstsr.datasets import seen_in_training
    from xlstsr.datasets.modis_aster import TRAIN_PAIR_FINGERPRINTS, lst_fingerprint

    assert seen_in_training(root=DATA) == list(TRAIN_PAIRS)
    assert set(TRAIN_PAIR_FINGERPRINTS) == set(TRAIN_PAIRS)
    assert lst_fingerprint("002", DATA) not in TRAIN_PAIR_FINGERPRINTS.values()


def test_ground_apart_from_training_matches_the_shared_pairs():
    """The stored training footprints give the same pairs as the footprints read from the files."""
    from xlstsr.datasets import apart_from_training, pairs_apart
    from xlstsr.datasets.modis_aster import TRAIN_PAIR_BOUNDS

    assert apart_from_training(EVAL_PAIRS, DATA) == pairs_apart(EVAL_PAIRS, TRAIN_PAIRS, DATA)
    assert apart_from_training(TRAIN_PAIRS, DATA) == []
    for pid, box in TRAIN_PAIR_BOUNDS.items():
        lst = open_modis_aster_pair(pid, DATA)[0]
        np.testing.assert_allclose(box, lst.rio.bounds(), atol=0.1)
