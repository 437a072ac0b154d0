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
