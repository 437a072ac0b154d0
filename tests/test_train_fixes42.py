"""Training fixes of probe 42: the advice for a truth on the LST's own grid, mode 'sif''s
refusal of truth=, a resume on other devices or precision, and a resume of upscale_to_zarr
with the same weights under another provenance label."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import xarray as xr

import xlstsr
from xlstsr import errors

# a run of one or two epochs on a few patches need not beat its starting weights
pytestmark = [pytest.mark.filterwarnings("ignore:training did not improve:UserWarning"),
              pytest.mark.usefixtures("one_torch_thread")]


def _grid(n: int, step: float, rng: np.random.Generator) -> xr.DataArray:
    """A field of n x n pixels of ``step`` degrees, north-up, in Kelvin."""
    y = 35.0 - (np.arange(n) + 0.5) * step
    x = 146.0 + (np.arange(n) + 0.5) * step
    return xr.DataArray(300 + rng.normal(0, 2, (1, n, n)), dims=("time", "y", "x"),
                        coords={"time": np.array(["2020-01-01"], dtype="datetime64[ns]"),
                                "y": y, "x": x}, attrs={"units": "K"})


# -- 1: a truth on the LST's own grid --------------------------------------------------------------


def _supervised_refusal(lst, truth, factor: int) -> str:
    """The GridError a supervised cube of ``lst`` and ``truth`` is refused with."""
    from xlstsr.train import CubeDataModule

    with pytest.raises(errors.GridError) as err:
        CubeDataModule(lst, truth=truth, mode="supervised", factor=factor, patch=16).setup("fit")
    return str(err.value)


def test_a_truth_on_the_lsts_own_grid_is_told_to_coarsen_the_lst():
    """The LST resampled onto the truth's grid (the same 0.001-degree pixels) was told to
    reproject the truth onto a grid 4 times finer: interpolated detail as the target."""
    rng = np.random.default_rng(0)
    msg = _supervised_refusal(_grid(64, 0.001, rng), _grid(64, 0.001, rng), 4)
    assert "not coarser" in msg and "lst.lstsr.coarsen(4)" in msg, msg
    assert "reproject_match" not in msg, msg
    assert "LST pixels 0.001 x 0.001, truth pixels 0.001 x 0.001" in msg, msg


def test_a_truth_on_another_grid_names_both_pixel_sizes_in_full():
    """Pixel sizes of degrees differing past 6 digits were shown alike; the pixels were not
    shown at all."""
    rng = np.random.default_rng(1)
    msg = _supervised_refusal(_grid(16, 0.001, rng), _grid(32, 0.00049, rng), 2)
    assert "truth pixels 0.00049 x 0.00049" in msg and "LST pixels 0.001 x 0.001" in msg, msg
    assert "reproject_match" in msg, msg  # a finer truth on other ground: put it there


# -- 2: mode 'sif' refuses truth= as what it is ---------------------------------------------------


def test_sif_refusing_truth_says_it_trains_at_the_lsts_own_scale():
    from xlstsr.train import CubeDataModule

    rng = np.random.default_rng(0)
    lst = xr.DataArray(300 + rng.normal(0, 2, (1, 16, 16)), dims=("time", "y", "x"),
                       attrs={"units": "K"})
    fine = xr.DataArray(300 + rng.normal(0, 2, (1, 64, 64)), dims=("time", "y", "x"),
                        attrs={"units": "K"})
    g = xr.DataArray(0.5 + rng.normal(0, .1, (64, 64)), dims=("y", "x"))
    with pytest.raises(errors.XlstsrError) as err:
        CubeDataModule(lst, mode="sif", guide=g, truth=fine, patch=16)
    msg = str(err.value)
    assert "mode 'sif' trains on the LST at its own scale" in msg, msg
    assert "degraded pairs" not in msg, msg
    with pytest.raises(errors.XlstsrError, match="mode 'sisr' trains on degraded pairs"):
        CubeDataModule(lst, mode="sisr", truth=fine, patch=16)


# -- 3: a resume on other devices or in another precision ---------------------------------------


def _edited_checkpoint(path, out, **batching):
    """The checkpoint at ``path`` with its data module's batch record changed (``None``:
    dropped, as a checkpoint written before the entry was), as another run would have left it."""
    blob = torch.load(path, weights_only=False)
    rec = blob["CubeDataModule"]["batching"]
    for k, v in batching.items():
        if v is None:
            rec.pop(k, None)
        else:
            rec[k] = v
    torch.save(blob, out)
    return str(out)


def test_a_resume_on_other_devices_or_precision_is_refused(tmp_path):
    """A checkpoint of a 2-device run resumed on 1 device (global batch 32 -> 16), or one of a
    64-bit run in 32 bits, went on without a word; another batch size was refused."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    from xlstsr.train import fit_cube

    lst = xlstsr.datasets.modis_sample()["lst_day"].isel(time=slice(0, 2))
    base = dict(patch=16, window=32, epochs=2, batch_size=8)
    ck = ModelCheckpoint(dirpath=tmp_path, save_last=True)
    _, record = fit_cube(lst, **base, callbacks=[ck], trainer_options={"max_epochs": 1})
    assert record["history"]["precision"] == "32-true"
    last = ck.last_model_path
    assert torch.load(last, weights_only=False)["CubeDataModule"]["batching"]["devices"] == 1
    two = _edited_checkpoint(last, tmp_path / "two.ckpt", devices=2)
    with pytest.raises(errors.XlstsrError, match=r"other batch settings \(devices 2, now 1\)"
                       r".*on the same number of devices \(2: each step's batch"):
        fit_cube(lst, **base, ckpt_path=two)
    with pytest.raises(errors.XlstsrError, match=r"precision '32-true', now '64-true'\)"
                       r".*on the same precision \('32-true'"):
        fit_cube(lst, **base, ckpt_path=last, trainer_options={"precision": "64-true"})
    # a checkpoint from before devices and precision were recorded: not compared
    old = _edited_checkpoint(last, tmp_path / "old.ckpt", devices=None, precision=None)
    fit_cube(lst, **base, ckpt_path=old)


def test_the_model_file_records_the_training_precision(tmp_path):
    from xlstsr.train import fit_files

    nc = tmp_path / "lst.nc"
    xlstsr.datasets.modis_sample()["lst_day"].isel(time=slice(0, 2)).to_netcdf(nc)
    fit_files(nc, tmp_path / "m.pt", patch=16, window=32, epochs=1, batch_size=8,
              trainer_options={"precision": "64-true"})
    st = torch.load(tmp_path / "m.pt", weights_only=False)["metadata"]["settings"]
    assert (st["precision"], st["devices"], st["global_batch_size"]) == ("64-true", 1, 8)


# -- 4: upscale_to_zarr resumes the same weights under another provenance label -------------------


def test_resume_with_the_saved_file_of_the_same_weights(tmp_path):
    """The in-memory model and its file saved with mode='sisr' (as the README shows) are the
    same network (the same weights hash); the file's free-form 'mode' label refused the resume."""
    import zarr

    from xlstsr.nn import ResCNN, save_model

    torch.manual_seed(0)
    model = ResCNN(4)
    path = str(save_model(model, tmp_path / "sisr_mine.pt", mode="sisr"))
    lst = xlstsr.datasets.modis_sample()["lst_day"].isel(time=slice(0, 2), y=slice(0, 16),
                                                          x=slice(0, 16))
    store = tmp_path / "out.zarr"
    kw = dict(factor=4, method="sisr", progress=False)
    xlstsr.upscale_to_zarr(lst, store, method_options={"model": model}, **kw)
    xlstsr.upscale_to_zarr(lst, store, method_options={"model": path}, mode="resume", **kw)
    # a store that recorded the label in its fingerprint (before it was left out) resumes too
    root = zarr.open_group(str(store), mode="r+")
    args = json.loads(root.attrs["xlstsr_arguments"])
    args["method_options"].update(mode="sisr", inputs=["lst"])
    root.attrs.update(xlstsr_arguments=json.dumps(args), xlstsr_fingerprint="an older one")
    xlstsr.upscale_to_zarr(lst, store, method_options={"model": model}, mode="resume", **kw)
    # other weights are still another run
    torch.manual_seed(1)
    with pytest.raises(errors.XlstsrError, match=r"weights_sha256|method_options"):
        xlstsr.upscale_to_zarr(lst, store, method_options={"model": ResCNN(4)},
                               mode="resume", **kw)
