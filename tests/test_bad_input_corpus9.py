"""Ninth round of bad inputs (session 16).

Each case gave a silent wrong result, a crash or a message that named no fix before its fix.
"""

import warnings

import pytest
import xarray as xr

import xlstsr
from xlstsr import errors


@pytest.fixture(scope="module")
def scene():
    return xlstsr.datasets.sample_scene(n_times=2, size=32, cloud_fraction=0.0)


def test_upscaling_an_xlstsr_output_again_is_named(scene, tmp_path):
    """A 250 m result fed back as the LST was upscaled to 62.5 m with no word: the second step
    sharpens the first model's detail, and the result's provenance names only the second."""
    sr = xlstsr.upscale(scene["lst_1km"], 4, "bicubic")
    with pytest.warns(errors.ResampledInputWarning, match=r"already super-resolved.*'bicubic'"
                      r".*x4.*sensor's own LST"):
        xlstsr.upscale(sr, 2, "bicubic")
    # read back from its store, as a user does
    sr.to_dataset(name="lst").to_zarr(tmp_path / "sr.zarr", consolidated=False)
    again = xr.open_zarr(tmp_path / "sr.zarr", consolidated=False)["lst"]
    assert again.attrs["xlstsr_method"] == "bicubic"
    with pytest.warns(errors.ResampledInputWarning, match="already super-resolved"):
        xlstsr.upscale(again.rio.write_crs(sr.rio.crs), 2, "bicubic")
    # the sensor's LST is not warned about, and the attribute dropped silences it
    with warnings.catch_warnings():
        warnings.simplefilter("error", errors.ResampledInputWarning)
        xlstsr.upscale(scene["lst_1km"], 4, "bicubic")
        sr.attrs.pop("xlstsr_method")
        xlstsr.upscale(sr, 2, "bicubic")
