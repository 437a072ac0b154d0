"""Bad inputs, fourth round (the structure of datacubes and guides): each case was found by
probing the public API (notes: audit4_cube.md) and, before its fix, destroyed a user's data
(``upscale_to_zarr`` into the store a lazy input or guide reads: deleted, then "no valid pixel"),
gave a silent wrong result (an unlabelled NDVI guide x 3 or a band labelled 'red' fed to a model
trained on NDVI, method options such as ``conserve="no"`` or ``n_estimators=2.5`` taken as True
or 2), a raw error (NotADirectoryError, sklearn's, joblib's, torch's) or a misleading message
(a 10x wrong scale_factor called Celsius, a Dataset merging two grids called "not regularly
spaced", a missing column called irregular spacing, an LST time coordinate along another dim
called "no time"). Now each is an error that names the problem and the fix.
"""

from __future__ import annotations

import os

import pytest
import xarray as xr

import xlstsr
from xlstsr import errors

# -- upscale_to_zarr: the store and the inputs it reads ------------------------------------------


def _listing(p):
    return sorted(os.listdir(p))


@pytest.fixture()
def zstores(s, tmp_path):
    """An LST and a guide Zarr store, and the lazy DataArrays opened from them."""
    lst_store, guide_store = tmp_path / "in.zarr", tmp_path / "g.zarr"
    s["lst_1km"].to_dataset(name="LST").to_zarr(lst_store, zarr_format=3, consolidated=False)
    s["ndvi_250m"].to_dataset(name="ndvi").to_zarr(guide_store, zarr_format=3, consolidated=False)
    lst = xr.open_zarr(lst_store, decode_coords="all", consolidated=False)["LST"]
    guide = xr.open_zarr(guide_store, decode_coords="all", consolidated=False)["ndvi"]
    return lst_store, guide_store, lst, guide


@pytest.mark.parametrize("mode", ["w", "resume"])
def test_upscale_to_zarr_never_writes_over_the_store_a_lazy_input_reads(zstores, mode):
    """mode='w' deleted the input store the lazy DataArray reads, then reported 'no valid
    pixel' (the regions read the deleted store as NaN): the user's data was lost."""
    lst_store, guide_store, lst, guide = zstores
    before = _listing(lst_store)
    with pytest.raises(errors.XlstsrError, match=r"is the source being read.*lazy array"):
        xlstsr.upscale_to_zarr(lst, lst_store, 4, mode=mode, progress=False)
    assert _listing(lst_store) == before
    with pytest.raises(errors.XlstsrError, match="is the guide being read"):
        xlstsr.upscale_to_zarr(lst, guide_store, 4, "tsharp", guide, mode="w", progress=False)
    assert xr.open_zarr(guide_store, consolidated=False)["ndvi"].notnull().any()
    assert xr.open_zarr(lst_store, consolidated=False)["LST"].notnull().any()


def test_upscale_to_zarr_refuses_a_store_inside_or_around_its_input(zstores, tmp_path):
    lst_store, _, lst, _ = zstores
    before = _listing(lst_store)
    for source in (lst, str(lst_store)):  # a lazy array or the path: a store inside the input
        with pytest.raises(errors.XlstsrError, match="lies inside the source being read"):
            xlstsr.upscale_to_zarr(source, lst_store / "sr.zarr", 4, mode="w", progress=False)
    assert _listing(lst_store) == before
    # a Zarr folder that holds the input store: mode='w' deleted both
    outer = tmp_path / "project.zarr"
    inner = outer / "in.zarr"
    lst.to_dataset().to_zarr(inner, zarr_format=3, consolidated=False)
    (outer / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group", "attributes": {}}')
    with pytest.raises(errors.XlstsrError, match="holds the source being read"):
        xlstsr.upscale_to_zarr(str(inner), outer, 4, mode="w", progress=False)
    assert xr.open_zarr(inner, consolidated=False)["LST"].notnull().any()


def test_upscale_to_zarr_names_a_store_that_cannot_be_created(s, tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(errors.XlstsrError, match="afile is a file, not a folder"):
        xlstsr.upscale_to_zarr(s["lst_1km"], tmp_path / "afile" / "out.zarr", 4, progress=False)
    assert (tmp_path / "afile").read_text() == "x"
