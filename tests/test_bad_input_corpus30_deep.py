"""Corpus 30h: the deep methods' messages and docs.

- ``upscale(lst, 4, "disr", guide=[ndvi, lai])`` (NDVI already, beside another band) was told
  "it takes NDVI, not reflectances. Compute it from the red and NIR bands": advice for a
  red/NIR raster, not for this guide.
- ``upscale``'s docstring gave ``tile="auto"`` as 256 or 128, where the default ``disr`` runs at
  its own 192.
"""

from __future__ import annotations

import re

import pytest

import xlstsr
from xlstsr import errors
from xlstsr.methods import get_method


@pytest.fixture(scope="module")
def scene():
    return xlstsr.datasets.sample_scene(n_times=1, size=32, seed=3)


def test_ndvi_beside_another_band_is_told_to_pass_the_ndvi_alone(scene):
    lst, ndvi = scene["lst_1km"], scene["ndvi_250m"]
    lai = (ndvi * 3).rename("lai")
    with pytest.raises(errors.XlstsrError) as info:
        xlstsr.upscale(lst, 4, method="disr", guide=[ndvi, lai])
    msg = str(info.value)
    assert "red and NIR" not in msg, msg
    assert "NDVI band alone" in msg and "'lai'" in msg, msg
    # the advice works: the NDVI alone runs
    assert xlstsr.upscale(lst, 4, method="disr", guide=ndvi).notnull().any()


def test_a_red_nir_pair_is_still_told_to_compute_ndvi(scene):
    lst, ndvi = scene["lst_1km"], scene["ndvi_250m"]
    with pytest.raises(errors.XlstsrError, match="red and NIR"):
        xlstsr.upscale(lst, 4, method="disr", guide={"red": ndvi * 0.1, "nir": ndvi * 0.4})


def test_upscale_docstring_names_the_default_disr_tile():
    tile = get_method("disr").tile_size(4)
    doc = re.sub(r"\s+", " ", xlstsr.upscale.__doc__)
    assert f"{tile} for the default ``disr``" in doc
