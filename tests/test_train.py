"""Training: pairs, patches, splits, losses, a tiny run that learns, determinism, NaN safety,
training from cubes and files, the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import xlstsr
from xlstsr.kernels.aggregate import radiometric_mean
from xlstsr.nn import GuidedUNet, ResCNN, load_model
from xlstsr.nn.losses import masked_huber, sif_loss, supervised_loss
from xlstsr.train import (
    MODES,
    PatchSet,
    cut_scenes,
    degraded_pairs,
    fit,
    fit_cube,
    fit_files,
    fit_guide_gain,
    make_loss,
    make_patches,
    split_by_scene,
    target_scale_pairs,
)

torch.set_num_threads(1)


def _pattern_problem(n=6, h=12, factor=4, seed=0):
    """Fine LST = coarse value + a fixed sub-pixel pattern (zero mean): bicubic cannot know it."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(290, 310, (n, h, h)).astype(np.float32)
    pat = rng.normal(0, 2.0, (factor, factor))
    pat -= pat.mean()
    fine = np.repeat(np.repeat(coarse, factor, 1), factor, 2) + np.tile(pat, (h, h))
    return coarse, fine.astype(np.float32)


def test_degraded_pairs_use_radiometric_mean():
    lst = 300 + np.random.default_rng(0).normal(0, 5, (2, 16, 16)).astype(np.float32)
    guide = np.random.default_rng(1).random((2, 1, 64, 64)).astype(np.float32)
    p = degraded_pairs(lst, 4, guide)
    np.testing.assert_array_equal(p["lst_coarse"], radiometric_mean(lst, 4))
    assert p["guide"].shape == (2, 1, 16, 16)
    np.testing.assert_allclose(p["guide"][0, 0, 0, 0], guide[0, 0, :4, :4].mean(), rtol=1e-6)
    assert p["target"] is not None and p["target"].shape == (2, 16, 16)


def test_patches_skip_mostly_nan_and_split_by_scene():
    coarse, fine = _pattern_problem(n=4, h=8)
    coarse[0, :4, :6] = np.nan  # scene a: top-left window all cloud, top-right half
    ps = make_patches(
        coarse,
        4,
        target=fine,
        patch=16,
        stride=16,
        max_nan_fraction=0.5,
        scene_ids=["a", "b", "c", "d"],
    )
    per_scene = {s: int((ps.scene == s).sum()) for s in "abcd"}
    assert per_scene["b"] == 4 and per_scene["a"] == 3
    assert torch.isfinite(ps.lst).all()  # gaps filled like the engine does
    assert not ps.lst_valid[ps.scene == "a"].all()
    tr, va = split_by_scene(ps, 0.25, seed=1)
    assert not set(tr.scene) & set(va.scene) and len(tr) + len(va) == len(ps)


def test_tiny_training_loss_falls():
    coarse, fine = _pattern_problem()
    ps = make_patches(**target_scale_pairs(coarse, 4, target=fine), factor=4, patch=24, stride=12)
    model = ResCNN(4, channels=8, n_blocks=1)
    hist = fit(
        model,
        ps,
        mode="supervised",
        epochs=25,
        batch_size=8,
        lr=3e-3,
        patience=0,
        augmentation=False,
        progress=False,
    )
    assert hist["train_loss"][-1] < hist["train_loss"][0] / 10, hist["train_loss"]


def test_determinism_two_runs_identical():
    coarse, fine = _pattern_problem(n=4)
    ps = make_patches(**target_scale_pairs(coarse, 4, target=fine), factor=4, patch=24, stride=24)
    outs = []
    for other in (123, 456):
        torch.manual_seed(0)
        m = ResCNN(4, channels=4, n_blocks=1)
        torch.manual_seed(other)  # different global state before fit: fit must reseed
        fit(m, ps, mode="supervised", epochs=3, batch_size=2, seed=5)
        with torch.no_grad():
            outs.append(m(ps.lst[:2]))
    assert torch.equal(outs[0], outs[1])


def test_nan_patches_no_nan_gradients():
    g = torch.rand(2, 1, 32, 32)
    g[0, 0, :5] = float("nan")
    lst = 300 + torch.randn(2, 1, 8, 8)
    valid = torch.ones_like(lst, dtype=torch.bool)
    valid[1, 0, :4] = False
    target = 300 + torch.randn(2, 1, 32, 32)
    target[0] = float("nan")  # a patch with no valid truth at all
    target[1, 0, 3:9] = float("nan")
    model = GuidedUNet(4, n_guide=1, base=4)
    batch = {"lst": lst, "lst_valid": valid, "guide": g, "target": target}
    for mode, opts in (
        ("supervised", {"w_detail": 1.0, "w_spectral": 0.5, "w_consistency": 1.0}),
        ("sif", {"gain": -10.0}),
    ):
        model.zero_grad()
        loss = make_loss(mode, 4, **opts)(model, batch)
        loss.backward()
        assert torch.isfinite(loss)
        for p in model.parameters():
            assert p.grad is None or torch.isfinite(p.grad).all()
    # all-NaN truth: a zero (not NaN) loss
    assert float(masked_huber(torch.zeros(3), torch.full((3,), float("nan")))) == 0.0


def test_sif_loss_zero_at_its_optimum():
    """SR whose detail is exactly gain * HP(guide) and whose aggregate is the input: loss ~ 0."""
    from xlstsr.nn.ops import radiometric_mean_torch

    guide = torch.rand(1, 1, 32, 32, dtype=torch.float64)
    sr = 300 - 10 * guide  # HP is linear and kills constants: HP(sr) = -10 HP(guide)
    coarse = radiometric_mean_torch(sr, 4)
    assert float(sif_loss(sr, coarse, guide, 4, gain=-10.0)) < 1e-3
    assert float(sif_loss(sr, coarse, guide, 4, gain=+10.0)) > 0.05


def test_consistency_through_the_sensor_psf():
    """With ``psf_sigma`` the consistency term compares the SR as a blurring sensor sees it: zero
    for a truth against its PSF-blurred aggregate, not against its plain box aggregate."""
    from xlstsr.nn.losses import coarse_consistency, psf_blur
    from xlstsr.nn.ops import radiometric_mean_torch

    rng = torch.Generator().manual_seed(1)
    truth = 300 + 4 * torch.randn(2, 1, 32, 32, generator=rng, dtype=torch.float64)
    blurred = radiometric_mean_torch(psf_blur(truth, 1.5), 4)
    box = radiometric_mean_torch(truth, 4)
    assert float(coarse_consistency(truth, blurred, 4, psf_sigma=1.5)) < 1e-9
    assert float(coarse_consistency(truth, box, 4, psf_sigma=1.5)) > 0.05
    assert float(coarse_consistency(truth, box, 4)) < 1e-9
    # the SIF and supervised losses pass it on
    guide = torch.zeros_like(truth)
    assert float(sif_loss(truth, blurred, guide, 4, alpha=1.0, psf_sigma=1.5)) < 1e-9
    assert float(supervised_loss(truth, truth, blurred, 4, w_consistency=1.0,
                                 psf_sigma=1.5)) < 1e-9


def test_supervised_loss_texture_terms_penalise_smoothness():
    rng = torch.Generator().manual_seed(0)
    truth = 300 + 3 * torch.randn(1, 1, 32, 32, generator=rng)
    smooth = torch.full_like(truth, 300.0)
    base = supervised_loss(smooth, truth)
    tex = supervised_loss(smooth, truth, factor=4, w_detail=1.0, w_spectral=1.0)
    assert float(tex) > float(base) + 0.5
    assert float(supervised_loss(truth, truth, factor=4, w_detail=1.0, w_spectral=1.0)) < 1e-6


def test_fit_guide_gain_recovers_negative_slope():
    from scipy import ndimage

    rng = np.random.default_rng(0)
    ndvi = ndimage.gaussian_filter(rng.random((2, 1, 128, 128)), (0, 0, 3, 3))
    ndvi = (ndvi - ndvi.mean()) / ndvi.std() * 0.2 + 0.5
    fine = 300 - 12.0 * ndvi[:, 0]
    g = fit_guide_gain(radiometric_mean(fine, 4), ndvi, 4)
    assert -14 < g < -10
    assert fit_guide_gain(radiometric_mean(300 + 12.0 * ndvi[:, 0], 4), ndvi, 4) == -10.0


def test_lightning_loop_runs_with_validation():
    coarse, fine = _pattern_problem(n=4, h=8)
    ps = make_patches(**target_scale_pairs(coarse, 4, target=fine), factor=4, patch=16, stride=16)
    tr, va = split_by_scene(ps, 0.25)
    m = ResCNN(4, channels=4, n_blocks=1)
    hist = fit(m, tr, va, mode="supervised", epochs=2, batch_size=4)
    assert hist["engine"] == "lightning" and hist["epochs_run"] == 2
    assert np.isfinite(hist["val_loss"]).all()
    assert hist["val_loss"] != hist["train_loss"]  # validation ran on its own patches


def _block_nanmean(a, f):
    """NaN-aware block mean written out with loops (independent of the kernels)."""
    out = np.full((*a.shape[:-2], a.shape[-2] // f, a.shape[-1] // f), np.nan)
    for i in range(out.shape[-2]):
        for j in range(out.shape[-1]):
            blk = a[..., i * f : (i + 1) * f, j * f : (j + 1) * f].reshape(*a.shape[:-2], -1)
            n = np.isfinite(blk).sum(-1)
            s = np.where(np.isfinite(blk), blk, 0.0).sum(-1)
            out[..., i, j] = np.where(n > 0, s / np.maximum(n, 1), np.nan)
    return out


def test_degraded_guide_is_the_nan_aware_block_mean():
    rng = np.random.default_rng(4)
    guide = rng.random((2, 1, 32, 32))
    guide[0, 0, :4, :4] = np.nan  # an empty block stays a gap
    guide[1, 0, 5:7, 9:15] = np.nan  # partly valid blocks average their valid pixels
    lst = 300 + rng.normal(0, 2, (2, 8, 8)).astype(np.float32)
    g = degraded_pairs(lst, 4, guide)["guide"]
    assert g.dtype == np.float32
    expected = _block_nanmean(guide.astype(np.float32).astype(np.float64), 4).astype(np.float32)
    np.testing.assert_array_equal(g, expected)
    assert np.isnan(g[0, 0, 0, 0]) and np.isfinite(g[1]).all()


def test_cut_scenes_concat_and_fixed_split():
    field = np.arange(7 * 9, dtype=float).reshape(7, 9)
    tiles, ids = cut_scenes(field, 3, "g")
    assert tiles.shape == (6, 3, 3) and ids[4] == "g_1_1"
    np.testing.assert_array_equal(tiles[4], field[3:6, 3:6])
    coarse, fine = _pattern_problem(n=3, h=8)
    ps = make_patches(coarse, 4, target=fine, patch=16, stride=16, scene_ids=["a", "b", "c"])
    tr, va = split_by_scene(ps, val_scenes=["b"])
    assert set(va.scene) == {"b"} and "b" not in set(tr.scene) and len(tr) + len(va) == len(ps)
    both = PatchSet.concat([tr, va])
    assert len(both) == len(ps) and both.target is not None
    assert torch.equal(both.lst[: len(tr)], tr.lst) and list(both.scene[len(tr) :]) == ["b"] * len(va)
    no_target = make_patches(coarse, 4, patch=16, stride=16)
    assert PatchSet.concat([tr, no_target]).target is None  # only kept when every set has it
    with pytest.raises(ValueError, match="factor"):
        PatchSet.concat([tr, make_patches(coarse[:, :4, :4], 2, patch=4)])


def _cube(n=3, size=32, seed=0):
    import xarray as xr

    rng = np.random.default_rng(seed)
    return xr.DataArray(300 + rng.normal(0, 3, (n, size, size)).astype(np.float32),
                        dims=("time", "y", "x"), name="LST")


def test_fit_cube_is_reproducible_and_checks_its_inputs():
    cube = _cube()
    kw = dict(patch=16, window=16, epochs=2)
    m1, rec = fit_cube(cube, **kw)
    m2, _ = fit_cube(cube, **kw)  # the seed fixes the initialisation too
    for k, v in m1.state_dict().items():
        assert torch.equal(v, m2.state_dict()[k]), k
    assert rec["history"]["epochs_run"] == 2 and rec["n_train"] > 0 and rec["n_val"] > 0
    with pytest.raises(ValueError, match="truth"):
        fit_cube(cube, mode="supervised", **kw)
    with pytest.raises(ValueError, match="guide"):
        fit_cube(cube, mode="sif", **kw)
    with pytest.raises(ValueError, match="unknown training mode"):
        fit_cube(cube, mode="gan", **kw)
    with pytest.raises(xlstsr.errors.UnitsError):
        fit_cube(cube - 273.15, **kw)  # Celsius values without units: stopped at the front door


def test_fit_files_single_variable_dataset_and_guide(tmp_path):
    import xarray as xr

    cube = _cube()
    cube.to_dataset(name="T").to_netcdf(tmp_path / "cube.nc")  # one variable, not named LST
    g = np.random.default_rng(1).random((1, 128, 128)).astype(np.float32)
    xr.Dataset({"NDVI": (("band", "y", "x"), g)}).to_netcdf(tmp_path / "ndvi.nc")
    rec = fit_files(tmp_path / "cube.nc", tmp_path / "m.pt", guide=tmp_path / "ndvi.nc",
                    mode="degraded_disr", patch=16, window=16, epochs=1)
    m = load_model(rec["path"], factor=4, n_guide=1)
    assert m.n_guide == 1 and m.metadata["training_data"]["guide"].endswith("ndvi.nc")
    assert m.metadata["history"]["epochs_run"] == 1


def test_train_cli(tmp_path):
    import xarray as xr

    from xlstsr.cli import TRAIN_MODES, main

    assert TRAIN_MODES == MODES
    rng = np.random.default_rng(0)
    lst = 300 + rng.normal(0, 3, (3, 32, 32)).astype(np.float32)
    xr.Dataset({"LST": (("time", "y", "x"), lst)}).to_netcdf(tmp_path / "cube.nc")
    out = tmp_path / "m.pt"
    args = ["train", "--lst", str(tmp_path / "cube.nc"), "--variable", "LST", "--patch", "16",
            "--window", "16", "--epochs", "2", "--out", str(out)]
    assert main([*args, "--mode", "sisr"]) == 0
    m = load_model(out, factor=4, n_guide=0)
    assert m.metadata["mode"] == "sisr" and m.metadata["history"]["epochs_run"] == 2
    with pytest.raises(SystemExit):
        main([*args, "--mode", "supervised"])  # needs --truth


def test_recipe_data_match_the_shipped_files(shared_data):
    """scripts/train_bundled.py still cuts the patches the bundled files record (counts, gain)."""
    from helpers import load_script

    from xlstsr.nn.weights import weights_path

    recipe = load_script("train_bundled")
    meta = {k: load_model(weights_path(k)).metadata for k in ("rescnn_granule", "unet", "sif")}
    tr, va, info = recipe.sisr_patches(shared_data)
    assert {"n_train": len(tr), "n_val": len(va), **info} == meta["rescnn_granule"]["patches"]
    tr, va, (lst, ndvi) = recipe.disr_patches(shared_data, stride=recipe.SUPERVISED_STRIDE)
    assert (len(tr), len(va)) == (meta["unet"]["patches"]["n_train"], meta["unet"]["patches"]["n_val"])
    assert tr.target is not None and set(va.scene) == set(recipe.VAL_PAIRS)
    gain = fit_guide_gain(lst, ndvi, 4)
    assert gain == pytest.approx(meta["sif"]["loss_options"]["gain"], rel=1e-6)


# -- samples cut from a datacube at window positions, the split by position ---------------------


def _window_cube(n=5, size=48, window=16, seed=0):
    """(time, y, x) LST with a fixed zero-mean sub-pixel pattern everywhere (learnable from any
    position, invisible to bicubic) on a smooth field; a cloud over window (0, 16) on date 1."""
    import xarray as xr

    _, fine = _pattern_problem(n=n, h=size // 4, seed=seed)
    fine[1, :10, 20:30] = np.nan
    cube = xr.DataArray(fine, dims=("time", "y", "x"), coords={"time": np.arange(n)}, name="LST")
    wins = {f"{r}_{c}": (r, c) for r in range(0, size, window) for c in range(0, size, window)}
    return cube, wins


def test_window_samples_keep_complete_windows_with_their_position():
    cube, wins = _window_cube()
    s = xlstsr.train.window_samples(cube, wins, 16)
    assert s["LST"].shape == (5 * 9 - 1, 16, 16)  # the cloudy window-date is left out
    assert "0_16" not in s.position.values[s.time.values == 1]
    i = int(np.flatnonzero((s.time.values == 3) & (s.row_off.values == 32) & (s.col_off.values == 16))[0])
    np.testing.assert_array_equal(s["LST"][i].values, cube[3, 32:48, 16:32].values)
    with pytest.raises(ValueError, match="not inside"):
        xlstsr.train.window_samples(cube, {"x": (40, 40)}, 16)


def test_position_split_refuses_a_position_in_two_sets():
    from xlstsr.train import PositionSplit, split_by_position, split_positions

    with pytest.raises(ValueError, match=r"2 in train and test"):
        PositionSplit(train=[1, 2], test=[2, 3])
    with pytest.raises(ValueError, match=r"5 in val and held_out"):
        PositionSplit(train=[1], val=[5], held_out=[5])
    with pytest.raises(ValueError, match="two sets"):
        PositionSplit.from_dict({"train": [1], "val": [1]})
    weights = {p: 1 + p % 4 for p in range(40)}
    s = split_positions(weights, val_fraction=0.2, test_fraction=0.3, seed=3,
                        never_test=[0, 1, 2], held_out=[7, 8])
    sets = [set(s.train), set(s.val), set(s.test), set(s.held_out)]
    assert sum(map(len, sets)) == len(set().union(*sets)) == 40  # disjoint and complete
    assert not {0, 1, 2} & sets[2] and sets[3] == {7, 8}
    total = sum(w for p, w in weights.items() if p not in (7, 8))
    assert abs(sum(weights[p] for p in s.test) / total - 0.3) < 0.05
    assert split_positions(weights, seed=3) == split_positions(weights, seed=3)  # seeded
    # patches are split by their position; a position outside train/val/test is refused
    cube, wins = _window_cube()
    smp = xlstsr.train.window_samples(cube, wins, 16)
    ps = make_patches(**degraded_pairs(smp["LST"].values, 4), factor=4, patch=16,
                      scene_ids=smp.position.values)
    split = PositionSplit(train=["0_0", "0_16", "0_32", "16_0", "16_16"], val=["16_32", "32_0"],
                          test=["32_16"], held_out=["32_32"])
    with pytest.raises(ValueError, match="32_32"):
        split_by_position(ps, split)
    tr, va, te = split_by_position(ps.subset(ps.scene != "32_32"), split)
    assert set(tr.scene) == set(split.train) and set(va.scene) == set(split.val)
    assert set(te.scene) == {"32_16"} and len(tr) + len(va) + len(te) == len(ps) - 5


def test_training_on_a_tiny_cube_split_by_position_learns():
    """The cube workflow end to end (windows -> degraded pairs -> patches -> split by position ->
    fit): the validation loss on positions never trained on falls by a large factor."""
    from xlstsr.train import PositionSplit, split_by_position

    cube, wins = _window_cube(n=6)
    smp = xlstsr.train.window_samples(cube, wins, 16)
    ps = make_patches(**degraded_pairs(smp["LST"].values, 4), factor=4, patch=16,
                      scene_ids=smp.position.values)
    split = PositionSplit(train=["0_0", "0_16", "0_32", "16_0", "16_16", "16_32"],
                          val=["32_0", "32_16"], test=["32_32"])
    tr, va, _ = split_by_position(ps, split)
    torch.manual_seed(0)
    hist = fit(ResCNN(4, channels=8, n_blocks=1), tr, va, epochs=25, batch_size=8, lr=3e-3,
               patience=0, augmentation=False)
    assert hist["val_loss"][-1] < hist["val_loss"][0] / 10, hist["val_loss"]
    assert hist["train_loss"][-1] < hist["train_loss"][0] / 10, hist["train_loss"]


def test_degraded_pairs_with_the_psf_blur_in_radiance_first():
    from xlstsr.kernels.aggregate import gaussian_psf

    lst = 300 + np.random.default_rng(0).normal(0, 5, (2, 16, 16)).astype(np.float32)
    p = degraded_pairs(lst, 4, psf=1.5)
    np.testing.assert_allclose(p["lst_coarse"], radiometric_mean(gaussian_psf(lst, 1.5), 4),
                               rtol=0, atol=1e-4)
    assert np.array_equal(p["target"], lst)  # the target stays the sharp field
    assert p["lst_coarse"].std() < degraded_pairs(lst, 4)["lst_coarse"].std()


def test_patch_log_mse_is_the_mean_psnr_loss():
    from xlstsr.nn.losses import patch_log_mse

    rng = np.random.default_rng(0)
    t = torch.as_tensor(rng.normal(300, 3, (4, 1, 8, 8)))
    p = t + torch.as_tensor(rng.normal(0, 1, (4, 1, 8, 8))) * torch.tensor([0.1, 0.5, 1, 2])[:, None, None, None]
    rng_ = (t.amax(dim=(1, 2, 3)) - t.amin(dim=(1, 2, 3)))
    psnr = 10 * torch.log10(rng_**2 / ((p - t) ** 2).mean(dim=(1, 2, 3)))
    # mean PSNR = 10/ln10 * (mean log range^2 - loss)
    want = 10 / np.log(10) * (torch.log(rng_**2).mean() - patch_log_mse(p, t, eps=0.0))
    assert float(psnr.mean()) == pytest.approx(float(want), rel=1e-9)
    t[0, 0, :2] = float("nan")  # gaps are left out, a patch without truth counts zero
    t[1] = float("nan")
    assert torch.isfinite(patch_log_mse(p, t))
    with pytest.raises(ValueError, match="fidelity"):
        supervised_loss(p, t, fidelity="l2")


def test_cube_recipe_split_by_position_and_the_shipped_default(shared_data):
    """scripts/train_bundled.py's cube SISR: its split keeps positions apart and away from the
    ASTER evaluation ground, cuts the patches the shipped default records, and the default beats
    bicubic and the model it replaced on the test positions (MRUNet's protocol)."""
    import rioxarray
    from helpers import load_script
    from pyproj import Transformer

    from xlstsr.datasets import EVAL_PAIRS
    from xlstsr.grid import MODIS_SINUSOIDAL
    from xlstsr.kernels.interp import cubic_upsample
    from xlstsr.nn.weights import load_weights

    recipe = load_script("train_bundled")
    split = recipe.cube_split(shared_data)
    meta = load_weights("rescnn").metadata
    assert split.as_dict() == meta["positions"]  # the recorded split is the recipe's
    w = recipe.cube_windows_table(shared_data).set_index("window")
    assert set(w.index) == set(split.train + split.val + split.test + split.held_out)
    for pos in split.test:  # test ground touches no modis_aster pair
        assert not w.loc[pos, "intersects_dev_pair"]
    for pos in split.held_out:  # the ground of the ASTER evaluation is never trained on
        pairs = str(w.loc[pos, "dev_pairs"]).split(";")
        assert set(pairs) & set(EVAL_PAIRS)
    samples = recipe.cube_samples(shared_data)
    assert len(samples.sample) == int(w.n_dates_mod11a1.sum())
    _, va, _, info = recipe.sisr_cube_patches(shared_data, meta["settings"], samples)
    assert info == meta["patches"] and len(va) == meta["patches"]["n_val"]
    # Croatia (training only) shares no ground with any h18v04 window or modis_aster pair: each
    # footprint (a 9 x 9 grid of its points in UTM 33N) lies outside the Croatia raster's bounds
    to_utm = Transformer.from_crs(MODIS_SINUSOIDAL, "EPSG:32633", always_xy=True)
    with rioxarray.open_rasterio(next((shared_data / "modis_croatia_8day").glob("*.tif"))) as r:
        cx0, cy0, cx1, cy1 = r.rio.bounds()
    boxes = [tuple(r) for r in w[["xmin", "ymin", "xmax", "ymax"]].itertuples(index=False)]
    for f in sorted((shared_data / "modis_aster").glob("*_modis_lst_1km.tif")):
        with rioxarray.open_rasterio(f) as r:
            boxes.append(r.rio.bounds())
    for x0, y0, x1, y1 in boxes:
        gx, gy = np.meshgrid(np.linspace(x0, x1, 9), np.linspace(y0, y1, 9))
        xs, ys = to_utm.transform(gx.ravel(), gy.ravel())
        inside = (xs.max() > cx0) & (xs.min() < cx1) & (ys.max() > cy0) & (ys.min() < cy1)
        assert not inside, (x0, y0, x1, y1)
    # the default on the test positions, MRUNet's protocol: better than bicubic and the old model
    keep = np.isin(samples.position.values, split.test)
    gains = {}
    for name in ("rescnn", "rescnn_granule"):
        model, g = load_weights(name), []
        for asset in recipe.CUBE_ASSETS:
            t = samples[asset].values[keep].astype(np.float64)
            c = radiometric_mean(t, 4)
            with torch.no_grad():
                sr = model(torch.from_numpy(c[:, None].astype(np.float32)))[:, 0].numpy()
            crop = (slice(None), slice(4, -4), slice(4, -4))
            mse_sr = ((sr.astype(np.float64)[crop] - t[crop]) ** 2).mean(axis=(1, 2))
            mse_bi = ((cubic_upsample(c, 4)[crop] - t[crop]) ** 2).mean(axis=(1, 2))
            g.append(10 * np.log10(mse_bi / mse_sr))
        gains[name] = float(np.concatenate(g).mean())
    assert gains["rescnn"] > 0.1 and gains["rescnn"] > gains["rescnn_granule"], gains
