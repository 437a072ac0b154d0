"""Review 50e findings 1-4: a dict or Dataset guide whose bands carry an LST lead dim
('overpass') keeps its keys' check (swapped keys ran silently: the overpass labels were read as
channel labels); training records a ``band_as_variable`` / ``engine="rasterio"`` guide's band
descriptions, so the trained model refuses the swapped file; calibrate_detail_gain and
apply_scale_correction pair stacks whose lead dims differ by size-1 dims only, not (2, 1)
with (1, 2)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import xarray as xr
from test_guide50 import described_guides

import xlstsr
from xlstsr.correction import apply_scale_correction, calibrate_detail_gain
from xlstsr.errors import GridError, GuideScaleError
from xlstsr.guide import check_guide_labels, guide_labels

rasterio = pytest.importorskip("rasterio")
rioxarray = pytest.importorskip("rioxarray")

_READERS = {
    "DataArray": lambda p: rioxarray.open_rasterio(p),
    "band_as_variable": lambda p: rioxarray.open_rasterio(p, band_as_variable=True),
    "engine_rasterio": lambda p: xr.open_dataset(p, engine="rasterio"),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The sample LST, and a described (NDVI, red) GeoTIFF guide and its bands swapped."""
    tmp = tmp_path_factory.mktemp("guide50b")
    s, paths = described_guides(tmp)
    return s["lst_1km"], paths, tmp


def _train(lst, guide, path):
    """A one-epoch model (32-pixel windows), saved and loaded back as a user would."""
    import torch

    from xlstsr.train import fit_cube

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model, _ = fit_cube(lst, guide=guide, mode="degraded_disr", factor=4, patch=16,
                                window=32, epochs=1, batch_size=4,
                                trainer_options={"logger": False, "enable_checkpointing": False,
                                                 "enable_progress_bar": False})
    finally:
        torch.set_num_threads(threads)
    xlstsr.nn.save_model(model, path)
    return xlstsr.nn.load_model(path)


@pytest.fixture(scope="module")
def band_as_variable_model(files):
    lst, paths, tmp = files
    return _train(lst, _READERS["band_as_variable"](paths["right"]), tmp / "bav.pt")


# -- 1: a keyed guide's bands with an LST lead dim ('overpass') ---------------------------------

def _overpass_guides(paths, order):
    r = rioxarray.open_rasterio(paths["right"])
    bands = {"ndvi": r.isel(band=0, drop=True), "red": r.isel(band=1, drop=True)}
    ov = xr.DataArray(["day", "night"], dims="overpass")
    out = {}
    for k in order:
        b = bands[k].copy()
        b.attrs = {}
        out[k] = xr.concat([b, b], ov)
    return out


def test_overpass_dim_of_keyed_bands_is_no_channel_label(files):
    _, paths, _ = files
    g = _overpass_guides(paths, ("red", "ndvi"))
    for guide in (g, xr.Dataset(g)):
        labels = guide_labels(guide)
        assert list(labels) == ["red", "ndvi"]
        # ['day', 'night', 'day', 'night'] before: the keys were never compared
        assert labels.described is None


@pytest.mark.filterwarnings("ignore")
def test_swapped_keys_with_overpass_bands_are_refused_and_the_advice_runs(
        files, band_as_variable_model):
    lst, paths, _ = files
    ov = xr.DataArray(["day", "night"], dims="overpass")
    lst1 = lst.isel(time=0, drop=True).isel(y=slice(0, 8), x=slice(0, 8))
    lst2 = xr.concat([lst1, lst1 - 8.0], ov)
    m = band_as_variable_model
    right = xlstsr.upscale(lst2, 4, method="disr", guide=_overpass_guides(paths, ("ndvi", "red")),
                           model=m)
    for form in (dict, xr.Dataset):
        swapped = form(_overpass_guides(paths, ("red", "ndvi")))
        with pytest.raises(GuideScaleError, match=r"labelled \['red', 'ndvi'\]") as err:
            xlstsr.upscale(lst2, 4, method="disr", guide=swapped, model=m)  # ran silently
        ns = {"guide": swapped}
        exec(re.findall(r"`([^`]+)`", str(err.value))[-1], ns)
        followed = xlstsr.upscale(lst2, 4, method="disr", guide=ns["guide"], model=m)
        np.testing.assert_array_equal(followed.values, right.values)


def test_described_band_dim_of_a_keyed_band_still_labels_its_channels(files):
    _, paths, _ = files
    ds = _READERS["engine_rasterio"](paths["swapped"])
    assert guide_labels(ds).described == ["red", "NDVI"]


# -- 2: training records the bands' descriptions ------------------------------------------------

@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("trained_on", ["band_as_variable", "engine_rasterio"])
def test_model_trained_on_a_rasterio_reader_guide_refuses_the_swapped_file(
        files, band_as_variable_model, trained_on, tmp_path):
    lst, paths, _ = files
    m = (band_as_variable_model if trained_on == "band_as_variable" else
         _train(lst, _READERS[trained_on](paths["right"]), tmp_path / "m.pt"))
    # 'band_1', 'band_2' / 'guide0', 'guide1' before: nothing to compare
    assert m.metadata["inputs"] == ["lst", "NDVI", "red"]
    lst16 = lst.isel(time=0, drop=True).isel(y=slice(0, 8), x=slice(0, 8))
    for read in _READERS.values():
        with pytest.raises(GuideScaleError, match=r"labelled \['red', 'NDVI'\]"):
            xlstsr.upscale(lst16, 4, method="disr", guide=read(paths["swapped"]), model=m)
        xlstsr.upscale(lst16, 4, method="disr", guide=read(paths["right"]), model=m)


# -- 3, 4: lead dims that differ by more than size-1 dims ---------------------------------------

def _stack(shape, seed=0):
    rng = np.random.default_rng(seed)
    sr = 300 + rng.standard_normal(shape)
    lst = sr.reshape(*shape[:-2], 8, 4, 8, 4).mean((-3, -1))
    return sr, lst


def test_calibrate_detail_gain_refuses_lead_axes_in_other_places():
    sr, lst = _stack((2, 1, 32, 32))
    truth = 300 + np.random.default_rng(1).standard_normal((1, 2, 32, 32))
    with pytest.raises(GridError, match="hold other images"):  # gain 0.519 for 0.500 before
        calibrate_detail_gain(sr, lst, truth, 4)
    da = xr.DataArray(sr, dims=("overpass", "time", "y", "x"))
    with pytest.raises(GridError, match="hold other images"):
        calibrate_detail_gain(da, lst, truth, 4)
    # stacks that differ by size-1 dims only are still paired image for image
    flat = truth.reshape(2, 32, 32)
    want = calibrate_detail_gain(sr[:, 0], lst[:, 0], flat, 4)
    for t in (flat, flat[:, None], flat[None]):
        assert calibrate_detail_gain(sr[:, 0], lst[:, 0], t, 4) == want
    assert calibrate_detail_gain(sr, lst, flat, 4) == want


def test_apply_scale_correction_refuses_lead_axes_in_other_places():
    sr, lst = _stack((2, 1, 32, 32))
    lst = lst + np.random.default_rng(2).standard_normal(lst.shape)
    with pytest.raises(GridError, match="the same leading dims"):  # corrected silently before
        apply_scale_correction(sr, lst.reshape(1, 2, 8, 8), None, 4, mode=0.5)
    want = apply_scale_correction(sr, lst, None, 4, mode=0.5)
    for c in (lst[:, 0], lst[None]):
        np.testing.assert_array_equal(apply_scale_correction(sr, c, None, 4, mode=0.5), want)


@pytest.mark.parametrize("dim", ["variable", "layer"])
def test_a_keyed_field_of_text_labelled_channels_keeps_them(files, dim):
    """Review 50m/1: only a dim named 'band' or described was read as channels, so a keyed
    field whose channels sit on another labelled dim ('variable' of to_array(), 'layer') was
    labelled by its key alone: its swapped channels ran silently (304.50 K for 299.50 K). Only
    a dim of steps (overpass, day/night labels) is left out."""
    _, paths, _ = files
    import rioxarray

    r = rioxarray.open_rasterio(paths["right"])
    ndvi, red = (r.isel(band=i, drop=True).assign_attrs({}) for i in (0, 1))
    swapped = xr.concat([red, ndvi], dim).assign_coords({dim: ["red", "ndvi"]})
    for guide in ({"vis": swapped}, xr.Dataset({"vis": swapped})):
        labels = guide_labels(guide)
        assert labels.described == ["red", "ndvi"], labels.described
        with pytest.raises(GuideScaleError, match=r"labelled \['red', 'ndvi'\]"):
            check_guide_labels(labels.described, ["ndvi", "red"], "disr")
    steps = xr.concat([ndvi, red], "overpass").assign_coords(overpass=["day", "night"])
    assert guide_labels({"vis": steps}).described is None  # steps, not channels
