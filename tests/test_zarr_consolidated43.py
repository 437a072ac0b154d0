"""Probe 43z: a local Zarr store whose consolidated metadata is stale (dates appended with
``to_zarr(append_dim='time', consolidated=False)``, a variable added with mode='a', an
attribute edited with zarr-python) was read from that metadata: the appended dates were
silently dropped (`xlstsr upscale` wrote 2 of 4 steps and exited 0), a variable on disk was
refused as "not in the store", an edited attribute was not seen. Local stores are read from
their arrays' own metadata."""

import numpy as np
import pytest
import zarr

import xlstsr
from xlstsr.io.zarr import zarr_group_variables


@pytest.fixture(scope="module")
def lst():
    return xlstsr.datasets.sample_scene(n_times=4, size=16)["lst_1km"].rename("LST")


@pytest.fixture(scope="module")
def appended(lst, tmp_path_factory):
    path = tmp_path_factory.mktemp("z43") / "s.zarr"
    lst.isel(time=slice(0, 2)).to_dataset().to_zarr(path, zarr_format=2, consolidated=True)
    lst.isel(time=slice(2, 4)).to_dataset().to_zarr(path, append_dim="time", consolidated=False)
    assert zarr.open_array(path / "LST", mode="r").shape[0] == 4  # on disk
    return path


def test_appended_dates_are_read(lst, appended):
    for opened in (xlstsr.io.open_zarr(appended)["LST"], xlstsr.io.open_path(appended)["LST"],
                   xlstsr.io.open_zarr(appended.as_uri(), variable="LST")):
        assert opened.sizes["time"] == 4
        np.testing.assert_array_equal(opened["time"].values, lst["time"].values)
        np.testing.assert_allclose(opened.values, lst.values)


def test_cli_upscales_every_date_on_disk(appended, tmp_path):
    from xlstsr.cli import main

    out = tmp_path / "sr.zarr"
    assert main(["upscale", str(appended), str(out), "--factor", "2", "--quiet"]) == 0
    assert xlstsr.io.open_zarr(out)["LST"].sizes["time"] == 4


def test_a_variable_added_without_consolidating_is_found(lst, tmp_path):
    path = tmp_path / "s2.zarr"
    lst.rename("A").to_dataset().to_zarr(path, zarr_format=2, consolidated=True)
    lst.rename("B").to_dataset().to_zarr(path, zarr_format=2, mode="a", consolidated=False)
    np.testing.assert_allclose(xlstsr.io.open_zarr(path, variable="B").values, lst.values)
    assert {"A", "B"} <= set(xlstsr.io.open_zarr(path).data_vars)


def test_a_group_added_without_consolidating_is_listed(lst, tmp_path):
    path = tmp_path / "g.zarr"
    lst.to_dataset().to_zarr(path, group="day", zarr_format=2, consolidated=True)
    zarr.consolidate_metadata(str(path))
    lst.to_dataset().to_zarr(path, group="night", zarr_format=2, mode="a", consolidated=False)
    assert set(zarr_group_variables(path)) == {"day/LST", "night/LST"}


def test_v3_attribute_edited_after_a_consolidated_write_is_seen(lst, tmp_path):
    path = tmp_path / "s3.zarr"
    lst.to_dataset().to_zarr(path, zarr_format=3, consolidated=True)
    zarr.open_array(path / "LST", mode="r+").attrs["long_name"] = "FIXED"
    assert xlstsr.io.open_zarr(path)["LST"].attrs["long_name"] == "FIXED"


def test_consolidated_true_is_still_honoured(lst, appended):
    # asked for explicitly: the consolidated metadata, as xarray reads it
    assert xlstsr.io.open_zarr(appended, consolidated=True)["LST"].sizes["time"] == 2


def test_store_described_by_consolidated_metadata_only_still_opens(tmp_path):
    """A v2 store whose arrays lost their own .zarray/.zattrs (copied with .zmetadata and the
    chunks only) opened empty once local stores were read from the arrays' own metadata."""


    p = tmp_path / "s.zarr"
    lst = xlstsr.datasets.sample_scene(n_times=2, size=16)["lst_1km"].rename("LST")
    lst.to_dataset().to_zarr(p, zarr_format=2, consolidated=True)
    for f in [*p.rglob(".zarray"), *(f for f in p.rglob(".zattrs") if f.parent != p)]:
        f.unlink()
    back = xlstsr.io.open_zarr(p)["LST"]
    assert dict(back.sizes) == dict(lst.sizes)
    np.testing.assert_array_equal(back.values, lst.values)
