"""Nineteenth round of bad inputs (session 19).

Each case scored, corrected or refused the wrong thing without a word, or pointed the user at
the wrong place (see the session's note).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr import errors

# -- warnings -----------------------------------------------------------------------------------


def _where(caught: list[warnings.WarningMessage], text: str) -> list[str]:
    return [os.path.basename(w.filename) for w in caught if text in str(w.message)]


def test_warnings_point_at_the_users_line_whichever_way_they_came_in(scene):
    """A fixed stacklevel pointed at accessor.py or to_zarr.py when reached another way (and
    the default filter then showed it once per library line, not once per user line)."""
    lst = scene["lst_1km"].isel(time=slice(0, 2))
    guide = xr.concat([scene["ndvi_250m"]] * 2, dim=lst.time)
    guide[1] = np.nan  # a cloudy guide day on a clear LST day
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lst.lstsr.upscale(4, "tsharp", guide)
        xlstsr.upscale(lst, 4, "tsharp", guide)
    where = _where(caught, "no valid pixel at step")
    assert len(where) == 2 and set(where) == {os.path.basename(__file__)}, where


def test_errors_warn_walks_out_of_the_package():
    def inner() -> None:
        errors.warn("from a user's helper", errors.ResampledInputWarning)

    with pytest.warns(errors.ResampledInputWarning) as caught:
        inner()
    assert caught[0].filename == __file__


# -- user models ----------------------------------------------------------------------------------


def test_a_model_that_normalises_its_input_in_place_changes_neither_the_lst_nor_conserve(scene):
    """On the CPU the input tensor shared memory with the user's LST: a model doing ``x -= 300``
    changed the user's array and what conserve=True aggregated against (a 300 K error)."""
    import torch

    class InPlace(torch.nn.Module):
        factor, n_guide, receptive_field = 4, 0, 2

        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(()))

        def forward(self, x):
            x -= 300.0  # the normalisation many user models do
            y = torch.nn.functional.interpolate(x, scale_factor=4, mode="bicubic")
            return self.w * y + 300.0

    lst = scene["lst_1km"].isel(time=[0]).astype(np.float32).compute()
    before = lst.values.copy()
    xlstsr.upscale(lst, 4, "sisr", model=InPlace())
    np.testing.assert_array_equal(lst.values, before)  # was 300 K colder, without a word
    out = xlstsr.upscale(lst, 4, "sisr", model=InPlace(), conserve=True)
    np.testing.assert_array_equal(lst.values, before)
    back = out.coarsen(y=4, x=4).mean().values
    assert np.nanmax(np.abs(back - before)) < 0.2  # radiometric, not a plain mean


# -- evaluation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [{"valid_min": -43.0}, {"valid_min": 30.0},
                                    {"valid_min": 300.0, "valid_max": 250.0}])
def test_reference_mask_refuses_thresholds_that_are_not_kelvin(scene, kwargs):
    """evaluate refused a threshold in degrees Celsius; reference_mask (and so
    aster_truth_mask(min_k=30)) kept every pixel of a Kelvin scene without a word."""
    from xlstsr.datasets.modis_aster import aster_truth_mask
    from xlstsr.evaluate import reference_mask

    ref = scene["lst_250m"]
    with pytest.raises(errors.XlstsrError, match=r"not a temperature in Kelvin|not below"):
        reference_mask(ref, erode=3, **kwargs)
    if len(kwargs) == 1:
        with pytest.raises(errors.XlstsrError, match="not a temperature in Kelvin"):
            aster_truth_mask(ref, min_k=kwargs["valid_min"])
    assert int(reference_mask(ref, valid_min=230).sum()) == int(np.isfinite(ref).sum())


# -- command line and messages ---------------------------------------------------------------------


@pytest.mark.parametrize("text", ["-Infinity", "-INF", "-inf"])
def test_nodata_minus_infinity_in_every_spelling_python_reads(text):
    """`--nodata -Infinity` (float() reads it) stopped on "expected one argument"."""
    from xlstsr.cli import build_parser

    assert build_parser().parse_args(["upscale", "a.tif", "b.zarr", "--nodata", text]).nodata \
        == -np.inf


def test_fill_text_of_negative_zero_is_zero():
    from xlstsr.validate import _fill_text

    assert _fill_text(-0.0) == "0"


def test_netcdf_default_fill_over_most_of_a_field_is_named_a_fill(scene):
    """A scene mostly NetCDF's default fill (9.97e36) was "no temperature at any usual LST
    scale" with 37-digit numbers; as a guide it was "NDVI scaled by about 9.97e+36"."""
    fill = 9.969209968386869e36
    lst = scene["lst_1km"].isel(time=[0]).copy()
    lst[..., : lst.sizes["y"] * 3 // 4, :] = fill
    with pytest.raises(errors.PhysicalRangeError) as err:
        xlstsr.upscale(lst, 4)
    text = str(err.value)
    assert "NetCDF's default fill" in text and "_FillValue'] = 9.96921e+36" in text
    assert "9969209968" not in text and "usual LST scale" not in text
    guide = xr.full_like(scene["ndvi_250m"], fill)
    with pytest.raises(errors.UndeclaredFillError, match=r"write_nodata\(9.96921e\+36\)"):
        xlstsr.upscale(scene["lst_1km"], 4, "tsharp", guide)
    declared = lst.where(lst != fill)  # as told: the fill is NaN, the rest upscaled
    out = xlstsr.upscale(declared, 4)
    assert np.isnan(out[..., 0, :]).all() and float(np.isfinite(out[..., -8:, :]).mean()) > 0.5


# -- outputs ------------------------------------------------------------------------------------


def test_a_store_left_aside_by_a_killed_overwrite_is_named(scene, tmp_path):
    """A mode="w" run killed before its first region left the earlier store renamed to a hidden
    folder as large as the result; a resume completed the new store without a word."""
    lst = scene["lst_1km"].isel(time=[0])
    store = tmp_path / "sr.zarr"
    xlstsr.upscale_to_zarr(lst, store, 2, progress=False)
    left = tmp_path / ".sr.zarr.replaced-999999999-1"  # a process that no longer runs
    (left / "sub").mkdir(parents=True)
    with pytest.warns(UserWarning, match=r"interrupted: the store it replaced is kept") as rec:
        xlstsr.upscale_to_zarr(lst, store, 2, mode="resume", progress=False)
    assert any(str(left) in str(w.message) for w in rec)
    assert left.exists()  # the user's to restore or delete


def test_cli_tif_output_declares_its_gaps_as_nodata(scene, tmp_path, capsys):
    """`xlstsr upscale in.tif out.tif` wrote NaN gaps with no nodata tag (to_cogs writes NaN):
    a masked read counted every gap as data."""
    import rasterio
    from helpers import run_cli

    lst = scene["lst_1km"].isel(time=0).copy()
    lst[:4, :4] = np.nan
    lst.rio.write_nodata(np.nan, encoded=False).rio.to_raster(tmp_path / "in.tif")
    code, err = run_cli(capsys, "upscale", tmp_path / "in.tif", tmp_path / "out.tif")
    assert code == 0, err
    with rasterio.open(tmp_path / "out.tif") as f:
        assert f.nodata is not None and np.isnan(f.nodata)
        masked = f.read(1, masked=True)
    assert int(masked.mask.sum()) == int(np.isnan(masked.data).sum()) > 0


def test_adaptation_of_a_model_that_is_not_spatially_local_runs_whole_images():
    """adapt= ran every model in 128-pixel tiles: a U-Net off its sizes (spatially_local False)
    moved by 0.9 K at the tile seams with adapt={"steps": 0}, which must change nothing."""
    import torch

    from xlstsr.nn import MRUNet

    f = 2
    lst = xlstsr.datasets.sample_scene(n_times=1, size=160 * f, factor=f)["lst_1km"].fillna(300.0)
    torch.manual_seed(0)
    m = MRUNet(f, base=4)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.05 * torch.randn(p.shape))
    assert not m.spatially_local
    plain = xlstsr.upscale(lst, f, "sisr", model=m).values
    adapted = xlstsr.upscale(lst, f, "sisr", model=m, adapt={"steps": 0}).values
    assert float(np.nanmax(np.abs(adapted - plain))) < 1e-3


def test_upscale_to_zarr_takes_adapt_as_upscale_does(scene, tmp_path):
    """upscale_to_zarr(..., adapt=True) was Python's bare TypeError (the CLI's --adapt worked)."""
    lst = scene["lst_1km"].isel(time=[0])
    adapt = {"steps": 1}
    out = xlstsr.upscale_to_zarr(lst, tmp_path / "a.zarr", 4, "sisr", adapt=adapt, progress=False)
    ref = xlstsr.upscale(lst, 4, "sisr", adapt=adapt)
    np.testing.assert_allclose(out.values, ref.values, atol=1e-4)
    with pytest.raises(errors.XlstsrError, match="cannot adapt"):
        xlstsr.upscale_to_zarr(lst, tmp_path / "b.zarr", 4, "bicubic", adapt=True, progress=False)
    with pytest.raises(errors.XlstsrError):  # another adaptation: not the store's run
        xlstsr.upscale_to_zarr(lst, tmp_path / "a.zarr", 4, "sisr", adapt={"steps": 2},
                               mode="resume", progress=False)


def _guided_without_n_guide():
    import torch

    class Guided(torch.nn.Module):  # forgot n_guide
        factor, receptive_field = 4, 2

        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(()))

        def forward(self, lst, guide):
            up = torch.nn.functional.interpolate(lst, scale_factor=4, mode="bicubic")
            return up + self.w * guide

    return Guided()


def test_a_guided_model_without_n_guide_is_told_to_declare_it(scene):
    """disr said "this one takes no guide; use method='sisr'", and sisr then failed with
    Python's bare "forward() missing 1 required positional argument: 'guide'"."""
    lst = scene["lst_1km"].isel(time=[0])
    with pytest.raises(errors.CheckpointError, match=r"`model.n_guide = 1`"):
        xlstsr.upscale(lst, 4, "disr", scene["ndvi_250m"], model=_guided_without_n_guide())
    with pytest.raises(errors.XlstsrError, match=r"without a guide.*`model.n_guide = 1`"):
        xlstsr.upscale(lst, 4, "sisr", model=_guided_without_n_guide())


def test_a_model_the_receptive_field_probe_breaks_is_told_to_declare_it(scene):
    """A U-Net needing sizes in multiples of 4 works on 16 x 16 but failed on the 9 x 9 probe
    in torch's words ("Expected size 9 but got size 8"), naming neither probe nor fix."""
    import torch

    class Unet(torch.nn.Module):
        factor, n_guide = 4, 0

        def __init__(self) -> None:
            super().__init__()
            self.c = torch.nn.Conv2d(1, 1, 3, padding=1)

        def forward(self, lst):
            down = torch.nn.functional.avg_pool2d(lst, 4)
            back = torch.nn.functional.interpolate(down, scale_factor=4)
            y = lst + 0.0 * self.c(back - lst)  # the skip: sizes must match
            return torch.nn.functional.interpolate(y, scale_factor=4, mode="bicubic")

    lst = scene["lst_1km"].isel(time=[0], y=slice(0, 16), x=slice(0, 16))
    with pytest.raises(errors.XlstsrError, match=r"measuring it failed.*`model.receptive_field"):
        xlstsr.upscale(lst, 4, "sisr", model=Unet())
    m = Unet()
    m.receptive_field = 4  # as told: the probe skipped
    assert xlstsr.upscale(lst, 4, "sisr", model=m).shape == (1, 64, 64)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_a_model_returning_half_precision_is_refused(scene, dtype):
    """A forward cast to half precision rounded Kelvin to 0.25 K (bfloat16: 2 K) steps, without
    a word (training refuses half precision for that reason)."""
    import torch

    half = getattr(torch, dtype)

    class Half(torch.nn.Module):
        factor, n_guide, receptive_field = 4, 0, 2

        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(()))

        def forward(self, lst):
            up = torch.nn.functional.interpolate(lst, scale_factor=4, mode="bicubic")
            return (self.w * up).to(half)

    with pytest.raises(errors.XlstsrError, match=f"returned torch.{dtype}.*float32"):
        xlstsr.upscale(scene["lst_1km"].isel(time=[0]), 4, "sisr", model=Half())


def test_data_parallel_models_and_their_state_dicts(scene, tmp_path):
    """nn.DataParallel was "no `factor` attribute" and "not an xlstsr architecture"; its
    state_dict's advice failed on every 'module.' key when followed."""
    import torch

    from xlstsr.nn import ResCNN, load_model, save_model

    net = ResCNN(4, channels=4, n_blocks=1)
    dp = torch.nn.DataParallel(net)
    lst = scene["lst_1km"].isel(time=[0])
    np.testing.assert_array_equal(xlstsr.upscale(lst, 4, "sisr", model=dp).values,
                                  xlstsr.upscale(lst, 4, "sisr", model=net).values)
    assert load_model(save_model(dp, tmp_path / "m.pt")).factor == 4
    torch.save(dp.state_dict(), tmp_path / "w.pt")
    with pytest.raises(errors.CheckpointError, match=r"removeprefix\('module.'\)") as err:
        xlstsr.upscale(lst, 4, "sisr", model=tmp_path / "w.pt")
    # the advice works as written
    m = ResCNN(4, channels=4, n_blocks=1)
    m.load_state_dict({k.removeprefix("module."): v
                       for k, v in torch.load(tmp_path / "w.pt").items()})
    assert "module." in str(err.value)


# -- training -----------------------------------------------------------------------------------


def test_supervised_pairs_of_a_south_up_cube_are_not_upside_down(scene):
    """The truth was put north-up, the LST kept as stored: each coarse input of a south-up cube
    was paired with the mirror place's truth (4.9 K apart on average), without a word."""
    from xlstsr.kernels.aggregate import radiometric_mean
    from xlstsr.train import CubeDataModule

    def mismatch(lst, truth):
        dm = CubeDataModule(lst, truth=truth, mode="supervised", factor=4, patch=32, window=64,
                            val_fraction=0, augmentation=False)
        dm.setup("fit")
        ts = dm.train_set
        agg = radiometric_mean(ts.target[:, 0].numpy().astype("float64"), 4)
        ok = ts.lst_valid[:, 0].numpy()
        return float(np.nanmean(np.abs(agg - ts.lst[:, 0].numpy())[ok]))

    lst, truth = scene["lst_1km"], scene["lst_250m"]
    flip = {"y": slice(None, None, -1)}
    assert mismatch(lst.isel(flip), truth.isel(flip)) < 0.01
    assert mismatch(lst.isel(flip), truth) < 0.01


def test_patch_an_odd_multiple_of_the_factor_is_taken(scene):
    """patch=12 at factor 4 was refused for a stride of 6 the user never set, with the advice
    "e.g. patch=12"."""
    from xlstsr.train import CubeDataModule

    with pytest.raises(errors.GridError, match=r"window \(64\) must be a multiple of patch \(12\): e.g. window=60"):
        CubeDataModule(scene["lst_1km"], mode="sisr", factor=4, patch=12, window=64)
    dm = CubeDataModule(scene["lst_1km"], mode="sisr", factor=4, patch=12, window=48,
                        val_fraction=0)
    dm.setup("fit")
    assert len(dm.train_set) > 0


def test_overlapping_windows_are_refused_before_a_split_by_position():
    """window_samples took windows sharing pixels: split_positions then put the same ground on
    the same dates in training and validation."""
    from xlstsr.train import window_samples

    cube = xr.DataArray(np.full((2, 64, 64), 300.0, np.float32), dims=("time", "y", "x"),
                        coords={"time": [1, 2]}, name="lst")
    with pytest.raises(errors.GridError, match=r"'a' at \(0, 0\) and 'b' at \(16, 16\) overlap"):
        window_samples(cube, {"a": (0, 0), "b": (16, 16), "c": (32, 32)}, 32)
    ok = window_samples(cube, {"a": (0, 0), "b": (0, 32), "c": (32, 0)}, 32)
    assert sorted(set(ok.position.values.tolist())) == ["a", "b", "c"]


def test_split_by_scene_of_default_scene_ids_warns_of_a_split_by_date():
    """make_patches' default scene ids are the stack's positions: on a cube, split_by_scene
    was a split by date (the leak CubeDataModule exists to prevent), without a word."""
    from xlstsr.train import degraded_pairs, make_patches, split_by_scene

    lst = 300 + np.random.default_rng(0).normal(0, 2, (4, 32, 32)).astype("float32")
    pairs = degraded_pairs(lst, 4)
    with pytest.warns(UserWarning, match="this split is by date"):
        split_by_scene(make_patches(**pairs, factor=4, patch=16))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tr, va = split_by_scene(make_patches(**pairs, factor=4, patch=16, scene_ids=list("abcd")))
    assert not tr.scenes_by_position and len(tr) + len(va) > 0


# -- time labels --------------------------------------------------------------------------------


def test_to_cogs_of_one_selected_date_keeps_its_date(scene, tmp_path):
    """sr.sel(time=t) keeps its date as a scalar coordinate: to_cogs wrote `{name}.tif` without
    it, and a loop over dates with overwrite=True left one undated file."""
    from xlstsr.io import open_cog, to_cogs

    sr = xlstsr.upscale(scene["lst_1km"].isel(time=[0, 1]), 4)
    for t in sr.time.values:
        to_cogs(sr.sel(time=t), tmp_path)
    names = sorted(p.name for p in tmp_path.glob("*.tif"))
    days = [str(t)[:10] for t in sr.time.values]
    assert names == [f"{sr.name}_{d}.tif" for d in days]
    back = open_cog(sorted(tmp_path.glob("*.tif")))
    np.testing.assert_array_equal(back.time.values, sr.time.values)


def test_a_truth_of_another_cftime_date_is_refused_as_numpy_dates_are(scene):
    """The scalar-date check took numpy dates only: a 'noleap' truth of another day was scored
    (3.5 K RMSE for 2.0) and fitted."""
    from xlstsr.calibration import fit_calibration

    nl = xr.date_range("2020-07-01", periods=2, calendar="noleap", use_cftime=True)
    sr = xlstsr.upscale(scene["lst_1km"].isel(time=[0, 1]), 4).assign_coords(time=nl)
    truth = scene["lst_250m"].isel(time=[0, 1]).assign_coords(time=nl)
    with pytest.raises(errors.GridError, match="other dates"):
        xlstsr.evaluate(sr.isel(time=0), truth.isel(time=1))
    with pytest.raises(errors.GridError, match="other dates"):
        fit_calibration(sr.isel(time=0), truth.isel(time=1))
    assert np.isfinite(float(xlstsr.evaluate(sr.isel(time=0), truth.isel(time=0)).rmse))


def test_a_one_date_lst_takes_its_guide_by_date_as_a_one_step_cube_does(scene):
    """lst.sel(time=t) with a one-step guide of 18 months earlier was sharpened without a word;
    the same LST as a one-step dim was refused."""
    lst, nd = scene["lst_1km"], scene["ndvi_250m"]
    old = nd.expand_dims(time=[np.datetime64("2019-01-02", "ns")])
    with pytest.raises(errors.GuideTimeError, match="no guide step with that label"):
        lst.isel(time=0).lstsr.upscale(4, "tsharp", old)
    same = nd.expand_dims(time=lst.time.values[:1])
    a = lst.isel(time=0).lstsr.upscale(4, "tsharp", same)
    b = lst.isel(time=[0]).lstsr.upscale(4, "tsharp", same)
    np.testing.assert_array_equal(a.values, b.values[0])


def test_detail_gain_pairs_the_coarse_input_by_date(scene):
    """The coarse input was paired by position: reversed dates gave another gain, a coarse
    input of 2 dates for 3 was taken (one dropped), one of another day accepted."""
    from xlstsr.correction import calibrate_detail_gain

    lst, truth = scene["lst_1km"].isel(time=[0, 1, 2]), scene["lst_250m"].isel(time=[0, 1, 2])
    sr = xlstsr.upscale(lst, 4, "tsharp", scene["ndvi_250m"])
    good = calibrate_detail_gain(sr, lst, truth, 4)
    assert calibrate_detail_gain(sr, lst.isel(time=[2, 1, 0]), truth, 4) == pytest.approx(good)
    with pytest.raises(errors.GridError):
        calibrate_detail_gain(sr, lst.isel(time=[0, 1]), truth, 4)
    with pytest.raises(errors.GridError):
        calibrate_detail_gain(sr.isel(time=0), lst.isel(time=2), truth.isel(time=0), 4)
    with pytest.raises(errors.GridError, match="1 image"):
        calibrate_detail_gain(sr, lst.isel(time=0, drop=True), truth, 4)


def test_apply_calibration_keeps_the_lst_dims_whatever_the_ndvi_carries(scene):
    """An NDVI with band=1 added 'band' to the output; one with a 'date' dim crossed every LST
    date with every NDVI date."""
    from xlstsr.calibration import Calibration, apply_calibration

    sr = xlstsr.upscale(scene["lst_1km"].isel(time=[0, 1]), 4).compute()
    nd = scene["ndvi_250m"]
    cal = Calibration(slope=1.0, offset=0.5, ndvi=2.0, source="MODIS", target="ASTER")
    plain = apply_calibration(sr, cal, ndvi=nd)
    banded = apply_calibration(sr, cal, ndvi=nd.expand_dims(band=[1]))
    assert banded.dims == sr.dims
    xr.testing.assert_allclose(banded, plain)
    series = xr.concat([nd] * 2, "date").assign_coords(date=sr.time.values)
    series.attrs = nd.attrs
    with pytest.raises(errors.GridError, match="'date'"):
        apply_calibration(sr, cal, ndvi=series)


# -- review of the round ------------------------------------------------------------------------


def test_reference_mask_keeps_per_step_and_open_thresholds():
    """The Kelvin check of the thresholds refused a per-step DataArray and valid_max=np.inf,
    which reference_mask applied correctly before."""
    from xlstsr.evaluate import reference_mask

    ref = xr.DataArray(np.array([[[240.0, 300.0]] * 2, [[255.0, 300.0]] * 2]),
                       dims=("time", "y", "x"))
    per_step = xr.DataArray([250.0, 260.0], dims="time")
    assert bool((reference_mask(ref, valid_min=per_step) == (ref >= per_step)).all())
    assert int(reference_mask(ref, valid_min=250.0, valid_max=np.inf).sum()) == 6
    assert int(reference_mask(ref, valid_min=-np.inf).sum()) == 8
    with pytest.raises(errors.XlstsrError, match="not a temperature in Kelvin"):
        reference_mask(ref, valid_min=xr.DataArray([-20.0, 260.0], dims="time"))


def test_relative_paths_through_a_link_resolve_as_the_os_does(scene, tmp_path, monkeypatch):
    """os.path.abspath tidied `link/../in.tif` by text: a file that opened before was
    "no such file"."""
    from xlstsr.io import open_cog

    (tmp_path / "real" / "sub").mkdir(parents=True)
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "link").symlink_to(tmp_path / "real" / "sub")
    scene["lst_1km"].isel(time=0).rio.to_raster(tmp_path / "real" / "in.tif")
    monkeypatch.chdir(tmp_path / "work")
    assert open_cog("link/../in.tif").shape[-2:] == scene["lst_1km"].shape[-2:]


def test_a_declared_fill_as_the_messages_print_it_masks_float64_data(scene):
    """The messages print a fill with six digits (9.96921e+36): declared as told on float64
    data it matched no pixel, and the same refusal came back."""
    fill = 9.969209968386869e36
    lst = scene["lst_1km"].isel(time=[0]).astype("float64").copy()
    lst[..., :8, :] = fill
    with pytest.raises(errors.PhysicalRangeError, match=r"_FillValue'\] = 9.96921e\+36"):
        xlstsr.upscale(lst, 4)
    out = xlstsr.upscale(lst.assign_attrs(_FillValue=9.96921e36), 4)
    assert np.isnan(out[..., 0, :]).all() and np.isfinite(out.values).any()


def test_the_left_aside_warning_takes_the_stores_exact_name(scene, tmp_path):
    """The glob pattern was built from the store's name unescaped: 'sr[1].zarr' missed its own
    leftover and was warned about '.sr1.zarr's."""
    lst = scene["lst_1km"].isel(time=[0])
    store = tmp_path / "sr[1].zarr"
    xlstsr.upscale_to_zarr(lst, store, 2, progress=False)
    (tmp_path / ".sr1.zarr.replaced-999999999-1").mkdir()
    mine = tmp_path / ".sr[1].zarr.replaced-999999999-2"
    mine.mkdir()
    with pytest.warns(UserWarning, match="interrupted") as rec:
        xlstsr.upscale_to_zarr(lst, store, 2, mode="resume", progress=False)
    said = [str(w.message) for w in rec if "interrupted" in str(w.message)]
    assert len(said) == 1 and str(mine) in said[0]


def test_a_step_the_variance_law_cannot_be_fitted_on_is_named():
    """scale_correction='law' left a 97 % cloudy day as the method gave it (0 K change, the
    other day 4 K), under attrs saying it was corrected, without a word."""
    sc = xlstsr.datasets.sample_scene(n_times=2, size=256)
    lst, nd = sc["lst_1km"], sc["ndvi_250m"]
    cloud = np.zeros(lst.shape, bool)
    cloud[1] = np.random.default_rng(3).random(lst.shape[1:]) < 0.97
    lst = lst.where(~cloud)
    with pytest.warns(UserWarning, match=r"could not be fitted on step\(s\) time=2020-07-02 of 2"):
        lst.lstsr.upscale(4, "tsharp", nd, scale_correction="law")
    with pytest.warns(UserWarning, match="could not be fitted on 1 image"):
        lst.chunk({"time": 1}).lstsr.upscale(4, "tsharp", nd, scale_correction="law").compute()


@pytest.mark.parametrize("kind", ["date", "period"])
def test_python_dates_and_periods_are_dates(scene, tmp_path, kind):
    """datetime.date labels (df.index.date) crashed upscale_to_zarr in xarray's words ("cannot
    serialize arbitrary Python objects", a stub store left behind), and a guide dated with numpy
    dates "had no step with that label"; pandas Periods crashed the store too."""
    import datetime

    import pandas as pd

    lst = scene["lst_1km"].isel(time=[0, 1])
    days = pd.to_datetime(lst.time.values)
    labels = (np.array([d.date() for d in days], dtype=object) if kind == "date"
              else pd.PeriodIndex(days, freq="D"))
    user = lst.assign_coords(time=labels)
    guide = xr.concat([scene["ndvi_250m"]] * 2, "time").assign_coords(time=lst.time.values)
    guide.attrs = scene["ndvi_250m"].attrs
    a = user.lstsr.upscale(4, "tsharp", guide)
    np.testing.assert_array_equal(a.values, lst.lstsr.upscale(4, "tsharp", guide).values)
    np.testing.assert_array_equal(a.time.values, lst.time.values)
    out = xlstsr.upscale_to_zarr(user, tmp_path / "sr.zarr", 4, progress=False)
    np.testing.assert_array_equal(out.time.values, lst.time.values)
    one = user.isel(time=0) if kind == "date" else lst.isel(time=0).assign_coords(
        time=datetime.date(*days[0].timetuple()[:3]))
    assert xlstsr.upscale(one, 4).time.dtype.kind == "M"


def test_cli_tif_of_one_day_held_as_a_scalar_date_keeps_it(scene, tmp_path, capsys):
    """A NetCDF written from ds.sel(time=t) holds its date as a scalar: the .tif output had no
    time tag, where a one-step dim gets one."""
    from helpers import run_cli

    from xlstsr.io import open_cog

    day = scene["lst_1km"].isel(time=0)
    day.to_netcdf(tmp_path / "day.nc")
    code, err = run_cli(capsys, "upscale", tmp_path / "day.nc", tmp_path / "out.tif")
    assert code == 0, err
    back = open_cog(tmp_path / "out.tif")
    assert back["time"].values == day["time"].values


def test_a_resume_with_other_batch_settings_is_refused(tmp_path):
    """A resume took another seed (ignored: seed 4 gave seed 3's weights), batch size,
    augmentation or input noise without a word, where another lr or epochs is refused."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    from xlstsr.train import fit_cube

    lst = xlstsr.datasets.modis_sample()["lst_day"].isel(time=slice(0, 4))
    base = dict(patch=16, window=32, epochs=2, seed=3, batch_size=8)
    ck = ModelCheckpoint(dirpath=tmp_path, save_last=True)
    fit_cube(lst, **base, callbacks=[ck], trainer_options={"max_epochs": 1})
    for kw in (dict(seed=4), dict(batch_size=4)):
        with pytest.raises(errors.XlstsrError, match=f"other batch settings \\({next(iter(kw))}"):
            fit_cube(lst, **{**base, **kw}, ckpt_path=ck.last_model_path)
    fit_cube(lst, **base, ckpt_path=ck.last_model_path)  # the same settings resume


# -- dask: repeated work ------------------------------------------------------------------------


def test_to_cogs_computes_each_time_chunk_once(scene, tmp_path):
    """Each date was computed alone: a chunk of several dates was read and upscaled once per
    date (9 times for 8 dates)."""
    from xlstsr.io import to_cogs

    calls = []

    def count(block):
        if block.size:  # not dask's meta probe
            calls.append(block.shape)
        return block

    lst = scene["lst_1km"].isel(time=[0, 1, 2]).chunk({"time": 3})
    lazy = lst.copy(data=lst.data.map_blocks(count, dtype=lst.dtype))
    paths = to_cogs(xlstsr.upscale(lazy, 4), tmp_path)
    assert len(paths) == 3 and len(calls) == 1, calls


def test_upscale_to_zarr_reads_a_static_lazy_guide_once(scene, tmp_path):
    """Each region read and prepared the guide shared by every date again (13 reads of it for
    12 dates): most of a run's I/O for a 250 m guide."""
    calls = []

    def count(block):
        if block.size:
            calls.append(block.shape)
        return block

    lst = scene["lst_1km"].isel(time=[0, 1, 2])
    nd = scene["ndvi_250m"].chunk()
    guide = nd.copy(data=nd.data.map_blocks(count, dtype=nd.dtype))
    out = xlstsr.upscale_to_zarr(lst.chunk({"time": 1}), tmp_path / "g.zarr", 4, "tsharp", guide,
                                 progress=False)
    assert len(calls) <= 2, calls  # the held copy, and the resume fingerprint's sample of it
    ref = xlstsr.upscale(lst, 4, "tsharp", scene["ndvi_250m"])
    np.testing.assert_allclose(out.values, ref.values, atol=1e-4)


def test_fit_calibration_of_one_step_against_a_two_d_truth_on_its_grid(scene):
    """A (time=1, y, x) sr and the (y, x) truth reprojected onto it were "not on the same grid;
    reproject"; an aggregate larger than the field was "check the overlap"."""
    from xlstsr.calibration import fit_calibration

    sr = xlstsr.upscale(scene["lst_1km"].isel(time=[0]), 4)
    truth = (1.02 * scene["lst_250m"] - 5.0).isel(time=0, drop=True)
    cal = fit_calibration(sr, truth)
    assert cal.slope == pytest.approx(1.02, abs=0.05)
    with pytest.raises(errors.XlstsrError, match="aggregate=1024 is larger than field 0"):
        fit_calibration(sr.isel(time=0), truth, aggregate=1024)


def test_cube_training_takes_a_dataset_of_guide_bands():
    """guide=ds[["red", "nir"]] (documented) was refused with advice to name `variable=`, which
    in CubeDataModule names the LST."""
    from xlstsr.train import CubeDataModule

    ds = xlstsr.datasets.modis_sample().isel(time=slice(0, 3))
    dm = CubeDataModule(ds["lst_day"], guide=ds[["red", "nir"]], mode="degraded_disr",
                        patch=16, window=32)
    dm.setup("fit")
    assert dm.n_guide == 2


def test_a_guide_dated_in_local_time_names_both_readings(scene):
    """A guide with timezone-aware dates was "objects (e.g. '1593554400000000000')" with a
    day-of-year fix; taken as UTC instants, local days (00:00 in New York, 04:00 UTC) took the
    previous day's guide under a tolerance. Refused, naming instants and local days."""
    import pandas as pd

    lst = scene["lst_1km"].isel(time=[0, 1])
    days = pd.to_datetime(lst.time.values)
    guide = xr.concat([scene["ndvi_250m"]] * 2, "time")
    guide.attrs = scene["ndvi_250m"].attrs
    local = guide.assign_coords(time=days.tz_localize("America/New_York"))
    with pytest.raises(errors.GridError, match=r"tz_convert\(None\).*tz_localize\(None\)"):
        lst.lstsr.upscale(4, "tsharp", local)
    fixed = local.assign_coords(time=local.indexes["time"].tz_localize(None))
    assert lst.lstsr.upscale(4, "tsharp", fixed).sizes["time"] == 2


@pytest.mark.parametrize("as_text", [True, False])
def test_modis_yyyyddd_guide_labels_get_a_fix_that_works(scene, as_text):
    """The fixes given for '2020183' labels failed: pd.to_datetime read the year 2020183, the
    day-of-year line 2 million days."""
    import pandas as pd

    lst = scene["lst_1km"].isel(time=[0, 1])
    doy = [int(pd.Timestamp(t).strftime("%Y%j")) for t in lst.time.values]
    guide = xr.concat([scene["ndvi_250m"]] * 2, "time")
    guide.attrs = scene["ndvi_250m"].attrs
    guide = guide.assign_coords(time=[str(d) for d in doy] if as_text else doy)
    with pytest.raises(errors.GuideTimeError, match="format='%Y%j'") as err:
        lst.lstsr.upscale(4, "tsharp", guide)
    line = str(err.value).split("`")[1]
    exec(line, {"pd": pd, "guide": guide})  # the line works as given
    out = lst.lstsr.upscale(4, "tsharp", guide)
    assert out.sizes["time"] == 2


def test_cli_measures_and_moves_a_guide_offset_as_python_does(shared_data, tmp_path, capsys):
    """The CLI reads files lazily, where upscale only checks the guide's offset: real pair 077's
    NDVI, 0.72 fine pixel off, was used unmoved (1.40 K for 1.24 K RMSE), without a word."""
    import rioxarray as rxr
    from helpers import run_cli

    lst_f = shared_data / "modis_aster" / "077_modis_lst_1km.tif"
    nd_f = shared_data / "modis_aster" / "077_modis_ndvi_250m.tif"
    out = tmp_path / "sr.tif"
    code, err = run_cli(capsys, "upscale", lst_f, out, "--method", "tsharp", "--guide", nd_f)
    assert code == 0 and "offset" in err, err
    lst = rxr.open_rasterio(lst_f).squeeze(drop=True)
    nd = rxr.open_rasterio(nd_f).squeeze(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default = xlstsr.upscale(lst, 4, "tsharp", guide=nd).values
    cli = rxr.open_rasterio(out).squeeze(drop=True).values
    np.testing.assert_allclose(cli, default, atol=1e-4)
    code, err = run_cli(capsys, "upscale", lst_f, tmp_path / "i.tif", "--method", "tsharp",
                        "--guide", nd_f, "--guide-offset", "ignore")
    assert code == 0 and "offset from the LST" not in err


#: modules whose public examples (module docstring, every name of ``__all__``, the methods of
#: its classes) must run pasted into a fresh session; and the top-level names first covered
_FRESH_SESSION_MODULES = ("metrics", "calibration", "scaling", "qc", "evaluate", "io",
                          "io.formats", "io.zarr", "io.modis", "io.landsat", "io.stac", "io.cog")
_FRESH_SESSION_NAMES = ("scaling_stats", "estimate_offset", "coregister", "io.to_cogs", "upscale",
                        "evaluate")


def _fresh_session_examples() -> dict[str, object]:
    """Each public example as a DocTest by its defining name (a re-export counted once)."""
    import doctest
    import importlib
    import inspect

    finder, found = doctest.DocTestFinder(), {}

    def add(obj: object) -> None:
        name = f"{obj.__module__}.{obj.__qualname__}"
        for test in finder.find(obj, name, module=importlib.import_module(obj.__module__),
                                globs={}):
            if test.examples:
                found.setdefault(test.name, test)

    for modname in _FRESH_SESSION_MODULES:
        mod = importlib.import_module(f"xlstsr.{modname}")
        test = doctest.DocTestParser().get_doctest(mod.__doc__ or "", {}, mod.__name__, None, 0)
        if test.examples:
            found[mod.__name__] = test
        for attr in mod.__all__:
            obj = getattr(mod, attr)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                add(obj)
    for name in _FRESH_SESSION_NAMES:
        obj = xlstsr
        for part in name.split("."):
            obj = getattr(obj, part) if hasattr(obj, part) else importlib.import_module(
                f"{obj.__name__}.{part}")
        add(getattr(obj, "__wrapped__", obj))
    return found


_FRESH_SESSION_EXAMPLES = _fresh_session_examples()


def test_public_examples_cover_the_public_api():
    """The examples below are found (not an empty parametrization passing by default)."""
    names = set(_FRESH_SESSION_EXAMPLES)
    for name in ("xlstsr.metrics", "xlstsr.metrics.rmse", "xlstsr.calibration",
                 "xlstsr.calibration.Calibration", "xlstsr.calibration.fit_calibration",
                 "xlstsr.scaling.pixel_size", "xlstsr.io.formats.format_of",
                 "xlstsr.io.zarr.open_zarr", "xlstsr.io.modis.granule_time",
                 "xlstsr.qc.modland", "xlstsr.evaluate.reference_mask",
                 "xlstsr.io.cog.to_cogs", "xlstsr.scaling.scaling_stats"):
        assert name in names, name
    assert len(names) >= 30, sorted(names)


@pytest.mark.parametrize("name", sorted(_FRESH_SESSION_EXAMPLES))
def test_public_examples_run_pasted_into_a_fresh_session(name, tmp_path, monkeypatch):
    """Examples called bare names (`scaling_stats(lst)` after `import xlstsr`, `Affine`,
    `rmse(...)`, `np.`): they passed as doctests in their own module and failed with NameError
    as a user pastes them. Every public example of the modules above, with nothing but what it
    imports itself."""
    import doctest

    test = _FRESH_SESSION_EXAMPLES[name]
    test.globs = {}  # a fresh interpreter
    monkeypatch.chdir(tmp_path)
    out: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS).run(test, out=out.append)
    assert result.failed == 0, "".join(out)


def test_fit_cube_example_imports_what_it_calls():
    """(Run as a doctest in the suite; training is too slow to run twice.)"""
    from xlstsr.train import fit_cube

    assert "from xlstsr.train import fit_cube" in fit_cube.__doc__


def test_gain_tradeoff_names_its_one_image_input():
    """A (time, y, x) cube, as docs/index.md's snippet built it, was told to "reproject the
    truth onto the grid of sr": the grids matched; the function takes one image."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from gain_bounds import gain_tradeoff

    truth = 300 + np.random.default_rng(0).standard_normal((1, 64, 64))
    lst = truth.reshape(1, 16, 4, 16, 4).mean(axis=(2, 4))
    with pytest.raises(errors.GridError, match="takes one image"):
        gain_tradeoff(truth, lst, 4, truth)


def test_to_cogs_names_360_day_dates_by_their_fields(scene, tmp_path):
    """'360_day' Feb 29/30 (no numpy date) were named by position: lst_00001.tif, out of date
    order when read back, colliding with another series."""
    from xlstsr.io import to_cogs

    days = xr.date_range("2001-02-28", periods=3, calendar="360_day", use_cftime=True)
    sr = xlstsr.upscale(scene["lst_1km"].isel(time=[0, 1, 2]), 4).assign_coords(time=days)
    names = [p.name for p in to_cogs(sr, tmp_path)]
    assert names == [f"{sr.name}_2001-02-{d}.tif" for d in (28, 29, 30)]


def test_upscale_to_zarr_stores_text_labels_as_specified_strings(scene, tmp_path):
    """Text labels ('2020183') were stored as fixed-length UTF-32, which zarr warns has no Zarr
    v3 specification (other libraries may not read the store)."""
    lst = scene["lst_1km"].isel(time=[0, 1]).assign_coords(time=["2020183", "2020184"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=errors.ResampledInputWarning)
        out = xlstsr.upscale_to_zarr(lst, tmp_path / "t.zarr", 2, progress=False)
    assert out.time.values.tolist() == ["2020183", "2020184"]
    again = xlstsr.upscale_to_zarr(lst, tmp_path / "t.zarr", 2, mode="resume", progress=False)
    assert again.time.values.tolist() == ["2020183", "2020184"]


def test_evaluate_on_another_grid_runs_the_upscale_once(scene):
    """Against a reference on another grid, evaluate computed sr for the reprojection, and its
    result still held the lazy sr: ds.compute() ran the model and read the inputs again."""
    import dask

    reads = []

    def count(block):
        if block.size:
            reads.append(1)
        return block

    lst = scene["lst_1km"].isel(time=[0, 1]).chunk({"time": 1})
    lst = lst.copy(data=lst.data.map_blocks(count, dtype=lst.dtype))
    fine = scene["lst_250m"].isel(time=[0, 1])
    ref = fine.assign_coords(x=fine.x + 100.0, y=fine.y - 80.0).rio.write_crs(fine.rio.crs)
    sr = xlstsr.upscale(lst, 4, "tsharp", scene["ndvi_250m"])
    with dask.config.set(scheduler="synchronous"):
        ds = xlstsr.evaluate(sr, ref.chunk({"time": 1}), coarse=lst).compute()
    assert len(reads) == 2, reads  # each coarse chunk once
    assert np.isfinite(ds.rmse).all() and np.isfinite(ds.coarse_consistency).all()


def test_a_truth_hours_from_the_overpass_is_named(scene):
    """"Less than a day apart" took a night ECOSTRESS scene (08:06) for the truth of a MODIS
    day overpass (18:30 UTC): +4.4 K bias, without a word."""
    import pandas as pd

    sr = xlstsr.upscale(scene["lst_1km"].isel(time=0), 4)
    ref = scene["lst_250m"].isel(time=0)
    day = pd.Timestamp(sr.time.values).normalize()
    sr = sr.assign_coords(time=day + pd.Timedelta("18h30min"))
    with pytest.warns(UserWarning, match=r"10\.4 h apart"):
        xlstsr.evaluate(sr, ref.assign_coords(time=day + pd.Timedelta("8h06min")))
    with pytest.warns(UserWarning, match="night acquisition"):
        xlstsr.evaluate(sr.assign_attrs(day_night="day"),
                        ref.assign_coords(time=sr.time.values).assign_attrs(day_night="night"))
    with warnings.catch_warnings():  # a nominal date (00:00) and its overpass: one overpass
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=errors.ResampledInputWarning)
        xlstsr.evaluate(sr, ref.assign_coords(time=day))
        xlstsr.evaluate(sr, ref.assign_coords(time=day + pd.Timedelta("19h")))


def test_a_zoned_time_tag_reads_without_numpys_warning():
    """A time tag with a zone ('2023-07-21 00:54:11+00:00') printed numpy's "no explicit
    representation of timezones" on every read."""
    from xlstsr.io.cog import _tagged_time

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _tagged_time({"time": "2023-07-21 02:54:11+02:00"}) == np.datetime64(
            "2023-07-21T00:54:11", "ns")


def test_a_references_own_cloud_mask_is_applied_in_python_and_on_the_command_line(
        shared_data, tmp_path, capsys):
    """Raw ECOSTRESS LST is not cloud-masked and cloud tops (~285 K) pass valid_min=230: half
    of a cloudy night's scored pixels were cloud, and the command line could not say so."""
    import rioxarray as rxr
    from helpers import run_cli

    from xlstsr.datasets import open_ecostress_scene

    d = shared_data / "ecostress_la"
    key = "2023188134933"  # a night with marine-layer cloud over about half of the window
    c = open_ecostress_scene("2023183080644", shared_data, resolution=1120).isel(
        y=slice(58, 74), x=slice(82, 98)).drop_vars("time")
    sr = xlstsr.upscale(c, 4)
    raw = rxr.open_rasterio(d / "LST" / f"ECO_L2_LSTE.002_LST_doy{key}_aid0001.tif",
                            mask_and_scale=True).squeeze("band", drop=True)
    cm = rxr.open_rasterio(d / "cloud_mask" / f"ECO_L2_LSTE.002_cloud_mask_doy{key}_aid0001.tif"
                           ).squeeze("band", drop=True)
    b = sr.rio.transform_bounds("EPSG:4326")
    raw, cm = raw.rio.clip_box(*b), cm.rio.clip_box(*b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        masked = xlstsr.evaluate(sr, raw.where(cm == 0), valid_min=230)
        given = xlstsr.evaluate(sr, raw, valid_min=230, reference_clear=cm == 0)
        unmasked = xlstsr.evaluate(sr, raw, valid_min=230)
    xr.testing.assert_allclose(given, masked)
    assert int(unmasked.n_valid) > 1.2 * int(given.n_valid)
    with pytest.raises(errors.XlstsrError, match="not True/False"):
        xlstsr.evaluate(sr, raw, reference_clear=cm)
    sr.rio.to_raster(tmp_path / "sr.tif")
    raw.rio.to_raster(tmp_path / "ref.tif")
    cm.rio.to_raster(tmp_path / "cloud.tif")
    code, err = run_cli(capsys, "evaluate", tmp_path / "sr.tif", tmp_path / "ref.tif",
                        tmp_path / "s.csv", "--valid-min", "230", "--reference-mask",
                        tmp_path / "cloud.tif")
    assert code == 0, err
    import pandas as pd

    assert int(pd.read_csv(tmp_path / "s.csv")["n_valid"].iloc[0]) == int(given.n_valid)


def test_to_cogs_computes_a_long_time_chunk_in_parts(scene, tmp_path, monkeypatch):
    """Computing each time chunk whole read a year stored as one chunk at once (8 GB where one
    step was read before): a chunk is computed in parts of at most COG_BLOCK_BYTES."""
    import dask.array as dsa

    from xlstsr.io import cog

    lst = scene["lst_1km"].isel(time=[0, 1, 2])

    class Reader:  # a lazily read file that records its reads
        def __init__(self, a):
            self.a, self.shape, self.dtype, self.ndim, self.most = a, a.shape, a.dtype, a.ndim, []

        def __getitem__(self, key):
            out = self.a[key]
            if out.size:
                self.most.append(out.shape[0])
            return out

    reader = Reader(lst.values)
    data = dsa.from_array(reader, chunks=(-1, -1, -1), asarray=True)
    lazy = xr.DataArray(data, dims=lst.dims, coords=lst.coords, attrs=lst.attrs, name=lst.name)
    monkeypatch.setattr(cog, "COG_BLOCK_BYTES", lst.isel(time=0).nbytes)  # one step per part
    paths = cog.to_cogs(lazy, tmp_path)
    assert len(paths) == 3 and reader.most == [1, 1, 1], reader.most


# -- review of rounds 19c-21 --------------------------------------------------------------------


def test_scaling_reads_the_pixel_size_of_the_grid_as_given(scene):
    """The pixel size came from a cached transform gone stale after isel/coarsen: half the
    size, and a grid made square by coarsening refused as not square."""
    lst = scene["lst_1km"].isel(time=[0])
    every_other = lst.isel(x=slice(None, None, 2), y=slice(None, None, 2))
    st = xlstsr.scaling_stats(every_other)
    assert float(st.pixel_size) == pytest.approx(2 * xlstsr.scaling.pixel_size(lst)[0], rel=1e-6)


def test_cube_training_takes_a_datasets_fields_as_upscale_does():
    """A guide Dataset went to the bands as it was: its CF grid mapping (`crs`) became a
    constant channel, and a quality layer a predictor (upscale refuses it)."""
    from xlstsr.train import CubeDataModule

    ds = xlstsr.datasets.modis_sample().isel(time=slice(0, 3))
    guide = ds[["red"]].assign(crs=xr.DataArray(0, attrs={"grid_mapping_name": "sinusoidal"}))
    dm = CubeDataModule(ds["lst_day"], guide=guide, mode="degraded_disr", patch=16, window=32)
    dm.setup("fit")
    assert dm.n_guide == 1
    qc = ds[["red"]].assign(pixel_reliability=(ds["red"] * 0).astype("int8"))
    with pytest.raises(errors.XlstsrError, match="quality or class layers"):
        CubeDataModule(ds["lst_day"], guide=qc, mode="degraded_disr", patch=16,
                       window=32).setup("fit")


def test_cli_resume_of_a_store_not_yet_there_measures_the_guide_offset(scene, tmp_path, capsys):
    """`--resume` on a store that did not exist recorded the lazy 'check' (moving nothing),
    where the same fresh run without --resume recorded 'auto'."""
    import json

    import zarr
    from helpers import run_cli

    scene["lst_1km"].isel(time=0).rio.to_raster(tmp_path / "lst.tif")
    scene["ndvi_250m"].rio.to_raster(tmp_path / "ndvi.tif")
    code, err = run_cli(capsys, "upscale", tmp_path / "lst.tif", tmp_path / "o.zarr", "--method",
                        "tsharp", "--guide", tmp_path / "ndvi.tif", "--resume", "--quiet")
    assert code == 0, err
    args = json.loads(zarr.open_group(tmp_path / "o.zarr", mode="r").attrs["xlstsr_arguments"])
    assert args["upscale_options"]["guide_offset"] == "auto"


# -- review of the last commits -----------------------------------------------------------------


def test_to_cogs_computes_a_models_long_time_chunk_once(tmp_path, monkeypatch):
    """Parts of a computed time chunk ran the model once each (4 runs for 4 parts), for no
    less memory: only a chunk read from a file is read in parts."""
    import dask
    import dask.array as dsa

    from xlstsr.io import cog

    calls = []

    def model(block):
        if block.size:
            calls.append(block.shape[0])
        return block + 0.0

    n = 8
    data = dsa.from_array(np.full((n, 16, 16), 300.0, np.float32), chunks=(n, 16, 16))
    da = xr.DataArray(data.map_blocks(model, dtype=np.float32), dims=("time", "y", "x"),
                      coords={"time": np.arange(n), "y": 1000.0 * np.arange(16)[::-1] + 500,
                              "x": 1000.0 * np.arange(16) + 500},
                      name="lst", attrs={"units": "K"}).rio.write_crs("EPSG:32631")
    monkeypatch.setattr(cog, "COG_BLOCK_BYTES", 2 * 16 * 16 * 4)
    with dask.config.set(scheduler="synchronous"):
        assert len(cog.to_cogs(da, tmp_path)) == n
    assert calls == [n]


def test_reference_clear_with_lat_lon_dims(scene):
    """A reference and its mask with lat/lon dims: the mask was "not on the reference's grid"
    (the reference had been renamed y/x)."""
    ref = scene["lst_250m"].isel(time=0).rio.reproject("EPSG:4326")
    clear = ref.notnull() & (ref.x > float(ref.x[20]))
    sr = xlstsr.upscale(scene["lst_1km"].isel(time=0), 4)
    ll = {"x": "lon", "y": "lat"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = xlstsr.evaluate(sr, ref.rename(ll), reference_clear=clear.rename(ll))
        b = xlstsr.evaluate(sr, ref.where(clear))
    np.testing.assert_allclose(float(a.rmse), float(b.rmse))


@pytest.mark.parametrize("tag", ["2020:07:01 10:30:00", "2020.5", "01/07/2020"])
def test_time_tags_other_than_iso_are_no_date(tag):
    """pandas read '2020:07:01 10:30:00' as the year 1 (then 1754 in nanoseconds)."""
    from xlstsr.io.cog import _tagged_time

    assert _tagged_time({"time": tag}) is None


def test_a_guide_dated_in_utc_is_taken(scene):
    """UTC dates are both readings at once: taken (as before), other zones refused."""
    import pandas as pd

    lst = scene["lst_1km"].isel(time=[0, 1])
    utc = pd.to_datetime(lst.time.values).tz_localize("UTC")
    bands = [scene["ndvi_250m"].expand_dims(time=utc)]
    assert lst.lstsr.upscale(4, "tsharp", bands).sizes["time"] == 2


def test_adapt_given_as_a_method_option_names_the_argument(scene):
    """method_options={"adapt": True} was "no option 'adapt'" without the way that works."""
    with pytest.raises(errors.MethodOptionError, match=r"argument of upscale and upscale_to_zarr"):
        xlstsr.upscale(scene["lst_1km"].isel(time=[0]), 4, "sisr", method_options={"adapt": True})
