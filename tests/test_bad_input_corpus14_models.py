"""Fourteenth round of bad inputs (session 17): deep models given as modules or files, upscale's
options, and the figures.

Each case ran the wrong weights, changed the user's objects, gave a result that depends on the
chunks, drew a wrong figure, or refused or misnamed a valid input.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import xarray as xr

import xlstsr
from xlstsr import errors, plot
from xlstsr.nn import MRUNet, load_weights, save_model


@pytest.fixture(scope="module")
def lst():
    return xlstsr.datasets.sample_scene(n_times=1, size=64)["lst_1km"]


def test_a_module_changed_after_use_is_not_what_the_default_runs(lst):
    """The cache served the user's fine-tuned module for the default 'sisr' (9.3 K off)."""
    m = load_weights("rescnn")
    m.train()
    before = xlstsr.upscale(lst, 4, "sisr", model=m).values
    assert m.training  # the user's module kept its mode (it was switched to eval for good)
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(1.5)
    tuned = xlstsr.upscale(lst, 4, "sisr", model=m).values
    default = xlstsr.upscale(lst, 4, "sisr").values
    np.testing.assert_allclose(default, before, atol=1e-4)
    assert np.nanmax(np.abs(tuned - before)) > 0.1


def test_a_unet_at_a_factor_off_its_levels_runs_on_whole_images():
    """x2 and x3 U-Nets of 2 levels gave 0.4-0.7 K other results on other chunks."""
    f = 2
    lst = xlstsr.datasets.sample_scene(n_times=1, size=48 * f, factor=f)["lst_1km"]
    torch.manual_seed(0)
    m = MRUNet(f, base=4)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.05 * torch.randn(p.shape))
    assert not m.spatially_local and MRUNet(4, base=4).spatially_local
    whole = xlstsr.upscale(lst, f, "sisr", model=m, tile=None).values
    chunked = xlstsr.upscale(lst.chunk({"y": 29, "x": 31}), f, "sisr", model=m, tile=None).values
    np.testing.assert_allclose(chunked, whole, atol=1e-4)


def test_model_files_the_user_names(lst, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    save_model(load_weights("rescnn"), tmp_path / "m.pt")
    assert xlstsr.upscale(lst, 4, "sisr", model="~/m.pt").shape == (1, 64, 64)
    (tmp_path / "m.onnx").write_bytes(b"\x08\x07\x12\x07pytorch" + bytes(64))
    with pytest.raises(errors.CheckpointError, match="not a PyTorch file but an ONNX model"):
        xlstsr.upscale(lst, 4, "sisr", model=str(tmp_path / "m.onnx"))
    torch.save({"epoch": 3, "model_state_dict": load_weights("rescnn").state_dict(),
                "optimizer_state_dict": {}}, tmp_path / "loop.pth")
    with pytest.raises(errors.CheckpointError, match=r"hand-written loop.*'model_state_dict'"):
        xlstsr.upscale(lst, 4, "sisr", model=str(tmp_path / "loop.pth"))


def test_adaptation_needs_weights(lst):
    class NoWeights(torch.nn.Module):
        factor, n_guide, receptive_field = 4, 0, 2

        def forward(self, x):
            return torch.nn.functional.interpolate(x, scale_factor=4, mode="bicubic")

    with pytest.raises(errors.XlstsrError, match="this model has none"):
        xlstsr.upscale(lst, 4, "sisr", model=NoWeights(), adapt=True)


@pytest.mark.parametrize("units", ["degree_kelvin", "degrees Kelvin", "°K", "degrees_K"])
def test_kelvin_in_every_spelling(lst, units):
    out = xlstsr.upscale(lst.assign_attrs(units=units), 4)
    np.testing.assert_allclose(out.values, xlstsr.upscale(lst, 4).values)


def test_an_emissivity_is_not_called_celsius(lst):
    emis = lst.copy(data=0.97 + 0.01 * np.random.default_rng(0).standard_normal(lst.shape))
    emis.attrs = {}
    with pytest.raises(errors.UnitsError, match="an emissivity, an NDVI or a fraction"):
        xlstsr.upscale(emis, 4)
    celsius = lst - 273.15  # a real Celsius field is still told so
    celsius.attrs = {}
    with pytest.raises(errors.UnitsError, match="look like degrees Celsius"):
        xlstsr.upscale(celsius, 4)


def test_a_fixed_detail_gain_on_bicubic_is_refused(lst):
    """Made coarse-consistent block by block, bicubic gained 4 x 4 edges (up to 1.65 K)."""
    with pytest.raises(errors.XlstsrError, match="method 'bicubic' adds none"):
        xlstsr.upscale(lst, 4, "bicubic", scale_correction=1.0)
    with pytest.raises(errors.XlstsrError, match="must be one of"):
        xlstsr.upscale(lst, 4, "bicubic", scale_correction="nope")  # named as unknown first
    xlstsr.upscale(lst, 4, "bicubic", scale_correction="auto")  # the law: nothing to damp


def test_guide_datasets_with_cf_variables_and_labelled_bands():
    s = xlstsr.datasets.sample_scene(n_times=2, size=64)
    lst, ndvi = s["lst_1km"], s["ndvi_250m"]
    t = lst.time.values
    g = xr.concat([ndvi, ndvi], "time").assign_coords(time=t)
    bounds = np.stack([t, t + np.timedelta64(16, "D")], 1)
    ds = xr.Dataset({"NDVI": g, "time_bnds": (("time", "nv"), bounds),
                     "crs": xr.DataArray(0, attrs={"grid_mapping_name": "sinusoidal"})})
    out = xlstsr.upscale(lst, 4, "tsharp", guide=ds)
    np.testing.assert_allclose(out.values, xlstsr.upscale(lst, 4, "tsharp", guide=g).values)
    two = xr.concat([ndvi, ndvi * 0.9], "band").assign_coords(band=["red", "nir"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # named channels: no "labelled alike"
        xlstsr.upscale(lst, 4, "dms", guide=two)


def test_figures_decode_the_input_and_match_results_by_date(tmp_path, monkeypatch):
    s = xlstsr.datasets.sample_scene(n_times=2, size=32)
    lst = s["lst_1km"]
    sr = xlstsr.upscale(lst, 4)
    dn = (lst / 0.02).fillna(0).round().astype("uint16").assign_attrs(scale_factor=0.02,
                                                                      _FillValue=0)
    dn.attrs.pop("units", None)
    fig = plot.comparison(dn, sr, index={"time": 0})
    shown = np.asarray(fig.axes[0].images[0].get_array(), float)
    assert 200 < np.nanmax(shown) < 400  # Kelvin, not digital numbers
    fig = plot.comparison(lst, {"a": sr, "b": sr.isel(time=[1, 0])}, index={"time": 0})
    panels = {ax.get_title(): np.asarray(ax.images[0].get_array(), float)
              for ax in fig.axes if ax.images}
    np.testing.assert_allclose(panels["a"], panels["b"], equal_nan=True)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    plot.comparison(lst, sr, path="~/figs/x.png")
    assert (tmp_path / "figs" / "x.png").exists() and not (tmp_path / "~").exists()
    (tmp_path / "afile").write_text("")
    with pytest.raises(errors.XlstsrError, match="is a file, not a folder"):
        plot.comparison(lst, sr, path=tmp_path / "afile" / "x.png")
