"""Fifteenth round of bad inputs (session 17): training, the streaming engine's options and
stores, evaluation against real truth.

Each case lost data, trained or scored on the wrong thing, or refused a valid input.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rioxarray  # noqa: F401
import xarray as xr
import zarr

import xlstsr
from xlstsr import errors

QUIET = {"enable_progress_bar": False, "enable_model_summary": False}


def _da(a, res, units="K", times=None):
    ny, nx = a.shape[-2:]
    times = np.array(["2020-06-01", "2020-06-02"], "datetime64[ns]") if times is None else times
    return xr.DataArray(a.astype("float32"), dims=("time", "y", "x"), attrs={"units": units},
                        coords={"time": times, "y": 4e6 - res * (np.arange(ny) + 0.5),
                                "x": 5e5 + res * (np.arange(nx) + 0.5)}).rio.write_crs(32633)


# -- training -----------------------------------------------------------------------------------

def test_a_supervised_truth_is_paired_by_coordinates():
    from xlstsr.train import CubeDataModule

    rng = np.random.default_rng(0)
    fine = 300 + rng.normal(0, 2, (2, 64, 64))
    lst = _da(fine.reshape(2, 16, 4, 16, 4).mean(axis=(2, 4)), 1000.0)
    truth = _da(fine, 250.0)
    flipped = truth.isel(y=slice(None, None, -1))  # south-up: was trained upside down
    a = CubeDataModule(lst, truth=truth, mode="supervised", patch=16)
    b = CubeDataModule(lst, truth=flipped, mode="supervised", patch=16)
    a.setup(), b.setup()
    np.testing.assert_array_equal(a.train_set.target, b.train_set.target)
    south = truth.assign_coords(y=truth.y - 8000.0)  # another place, same shape
    with pytest.raises(errors.GridError, match="not on the LST's grid 4 times finer"):
        CubeDataModule(lst, truth=south, mode="supervised", patch=16).setup()


def test_a_guide_far_off_the_training_scale_is_refused():
    """A model trained on NDVI x 10000 took a 0-1 NDVI (3.95 K off)."""
    from xlstsr.guide import check_guide_values

    g = np.random.default_rng(0).uniform(0, 1, (1, 1, 16, 16)).astype(np.float32)
    with pytest.raises(errors.GuideScaleError, match="times larger"):
        check_guide_values(g, {"mean": [5000.0], "std": [2890.0], "names": ["ndvi"]})
    check_guide_values(g * 0.05 + 0.5, {"mean": [0.5], "std": [0.2], "names": ["ndvi"]})
    # merely small guides are no scaled copies: flat low ground, open water
    check_guide_values(g + 1.5, {"mean": [500.0], "std": [300.0], "names": ["elevation"]})
    check_guide_values(0.003 + 0.002 * g, {"mean": [0.603], "std": [0.136], "names": ["ndvi"]})


def test_a_resume_on_other_inputs_and_unused_inputs_are_refused(tmp_path):
    from xlstsr.nn import ResCNN
    from xlstsr.train import CubeDataModule, fit

    rng = np.random.default_rng(0)
    a = _da(300 + rng.normal(0, 2, (2, 64, 64)), 1000.0)
    b = _da(260 + rng.normal(0, 2, (2, 64, 64)), 1000.0)
    from lightning.pytorch.callbacks import ModelCheckpoint

    ck = ModelCheckpoint(dirpath=tmp_path, save_last=True)
    fit(ResCNN(4, channels=4, n_blocks=1), CubeDataModule(a, patch=16), epochs=2,
        trainer_options={**QUIET, "max_epochs": 1}, callbacks=[ck])  # stopped after one
    last = tmp_path / "last.ckpt"
    with pytest.raises(errors.XlstsrError, match=r"other inputs or settings .*\['data'\]"):
        fit(ResCNN(4, channels=4, n_blocks=1), CubeDataModule(b, patch=16), epochs=2,
            trainer_options=QUIET, ckpt_path=last)
    with pytest.raises(errors.XlstsrError, match="mode 'sisr' trains without a guide"):
        CubeDataModule(a, guide=a * 0 + 0.5, patch=16)
    with pytest.raises(errors.XlstsrError, match="truth= is the target of mode 'supervised'"):
        CubeDataModule(a, truth=a, patch=16)


def test_an_infinite_guide_pixel_is_refused_before_training():
    from xlstsr.train import make_patches, target_scale_pairs

    rng = np.random.default_rng(0)
    lc = (300 + rng.normal(0, 1, (2, 16, 16))).astype(np.float32)
    g = rng.uniform(0, 1, (2, 1, 64, 64)).astype(np.float32)
    g[0, 0, 3, 3] = np.inf
    with pytest.raises(errors.XlstsrError, match="1 infinite value"):
        make_patches(**target_scale_pairs(lc, 4, guide=g), factor=4, patch=16)


# -- engine and stores ----------------------------------------------------------------------------

def test_coordinates_along_time_are_written():
    ds = xlstsr.datasets.modis_sample()
    lst = ds["lst_day"].isel(time=slice(0, 3)).assign_coords(doy=("time", np.array([5, 97, 129])))
    out = xlstsr.upscale_to_zarr(lst, zarr.storage.MemoryStore(), 4, "bicubic", progress=False)
    np.testing.assert_array_equal(out["composite_start"].values, lst["composite_start"].values)
    assert out["doy"].values.tolist() == [5, 97, 129]


def test_a_store_url_over_the_source_url_is_refused():
    lst = xlstsr.datasets.sample_scene(n_times=2, size=32)["lst_1km"]
    url = "memory://xlstsr-test-15/lst.zarr"
    lst.to_dataset().to_zarr(url, mode="w", zarr_format=3, consolidated=False)
    src = xr.open_zarr(url, consolidated=False)["lst_1km"]
    for source in (url, src):
        with pytest.raises(errors.XlstsrError, match="the source being read"):
            xlstsr.upscale_to_zarr(source, url, 4, mode="w", progress=False)
    np.testing.assert_array_equal(xr.open_zarr(url, consolidated=False)["lst_1km"].values,
                                  lst.values)


def test_resumes_refuse_damage_and_take_another_tile(tmp_path):
    import shutil

    lst = xlstsr.datasets.sample_scene(n_times=4, size=64)["lst_1km"]
    store = tmp_path / "sr.zarr"

    def interrupted():
        root = zarr.open_group(store, mode="r+")
        root["xlstsr_progress/done"][2:] = 0
        root.attrs["xlstsr_status"] = "incomplete"

    xlstsr.upscale_to_zarr(lst, store, 4, progress=False, time_chunk=1)
    interrupted()
    out = xlstsr.upscale_to_zarr(lst, store, 4, progress=False, mode="resume", tile=4)
    np.testing.assert_allclose(out.values, xlstsr.upscale(lst, 4).values, atol=1e-4)
    interrupted()
    shutil.rmtree(store / "time")
    # a lost coordinate is written again from the input (which the fingerprint matched)
    with pytest.warns(UserWarning, match="written again from the input"):
        out = xlstsr.upscale_to_zarr(lst, store, 4, progress=False, mode="resume")
    np.testing.assert_array_equal(out["time"].values, lst["time"].values)
    np.testing.assert_allclose(out.values, xlstsr.upscale(lst, 4).values, atol=1e-4)


def test_array_layer_arguments_and_codec_specs(tmp_path):
    from xlstsr.engine import upscale_array
    from xlstsr.methods import get_method

    lst = np.full((1, 8, 8), 300.0)
    m = get_method("bicubic")
    with pytest.raises(errors.XlstsrError, match="factor"):
        upscale_array(m, lst, None, 0)  # was an empty array
    with pytest.raises(errors.InputTypeError, match="get_method"):
        upscale_array("bicubic", lst, None, 4)
    with pytest.raises(errors.GridError, match=r"lst must be \(n, y, x\)"):
        upscale_array(m, lst[0], None, 4)
    with pytest.raises(errors.XlstsrError, match="tile"):
        upscale_array(m, lst, None, 4, tile="big")
    small = xlstsr.datasets.sample_scene(n_times=1, size=32)["lst_1km"]
    xlstsr.upscale_to_zarr(small, tmp_path / "z.zarr", 4, progress=False, compressors=[
        {"name": "zstd", "configuration": {"level": 3, "checksum": False}}])
    codecs = zarr.open_array(tmp_path / "z.zarr", path="lst_1km").compressors
    assert type(codecs[0]).__name__ == "ZstdCodec"


# -- evaluation -------------------------------------------------------------------------------------

def test_evaluate_refuses_a_second_coregistration_and_warns_a_swap():
    # the usable truth (its 200 K border band, a fill, is refused as temperature)
    lst, _ndvi, aster = xlstsr.datasets.modis_aster_sample(truth_mask=True)
    sr = xlstsr.upscale(lst, 4)
    moved = xlstsr.coregister(aster, lst)
    with pytest.raises(errors.XlstsrError, match="co-registered already"):
        xlstsr.evaluate(sr, moved, coarse=lst, coregister=True)
    xlstsr.evaluate(sr, moved, coarse=lst)  # scored as it is
    with pytest.warns(UserWarning, match="SR and REFERENCE swapped"):
        xlstsr.evaluate(aster.rio.reproject_match(sr), sr)


def test_ecostress_scenes_carry_their_time(shared_data):
    from xlstsr.datasets import open_ecostress_scene

    a = open_ecostress_scene("2023202005411", shared_data, resolution=1120)
    b = open_ecostress_scene("2023209214058", shared_data, resolution=280)
    assert str(a["time"].values)[:16] == "2023-07-21T00:54"
    sr = xlstsr.upscale(a, 4)
    with pytest.raises(errors.GridError, match="other dates"):
        xlstsr.evaluate(sr, b, coarse=a)


def test_one_cloudy_step_does_not_refuse_a_cubes_coregistration():
    # the usable truth (its 200 K border band, a fill, is refused as temperature)
    lst, _ndvi, aster = xlstsr.datasets.modis_aster_sample(truth_mask=True)
    t = np.array(["2020-01-01", "2020-01-02", "2020-01-03"], "datetime64[ns]")
    cube = xr.concat([lst] * 3, "time").assign_coords(time=t)
    ref = xr.concat([aster] * 3, "time").assign_coords(time=t)
    ref[1] = ref[1].where(ref[1].y > ref[1].y.max() - 300)  # almost all cloud
    sr = xlstsr.upscale(cube, 4)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        m = xlstsr.evaluate(sr, ref, coarse=cube, coregister=True)
    assert any("1 of 3 steps gave no reliable estimate" in str(w.message) for w in said)
    assert np.isfinite(m["rmse"].values[[0, 2]]).all()
