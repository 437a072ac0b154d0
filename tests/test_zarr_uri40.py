"""A store written to a percent-encoded file:// URL (Path.as_uri(): a space as %20, an accent
as %C3%A9) reads back from that URL: open_zarr, open_path and the CLI decode it as
upscale_to_zarr does (they handed it undecoded to fsspec: "not a readable Zarr store")."""

import numpy as np
import pytest

import xlstsr
from xlstsr.errors import XlstsrError
from xlstsr.io.zarr import file_uri_path, local_path, store_exists


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    lst = xlstsr.datasets.sample_scene(n_times=1, size=16)["lst_1km"]
    path = tmp_path_factory.mktemp("uri") / "my data é" / "out.zarr"
    path.parent.mkdir()
    lst.to_dataset().to_zarr(path, zarr_format=3, consolidated=False)
    assert "%20" in path.as_uri() and "%C3%A9" in path.as_uri()
    return path, lst


def test_file_uri_path_decodes_as_upscale_to_zarr():
    from xlstsr.io.zarr import file_uri_path  # (the helper upscale_to_zarr's decoding matches)

    assert file_uri_path("file:///tmp/my%20data%20%C3%A9/out.zarr") \
        == file_uri_path("file://localhost/tmp/my%20data%20%C3%A9/out.zarr")
    assert str(file_uri_path("file:///tmp/my%20data%20%C3%A9/out.zarr")) \
        == "/tmp/my data é/out.zarr"
    for other in ("/tmp/out.zarr", "s3://b/out.zarr", "file:///tmp/a.zarr::x", None, 3):
        assert file_uri_path(other) is None
    with pytest.raises(XlstsrError, match="another host"):
        file_uri_path("file://server/data/out.zarr")


def test_open_zarr_and_open_path_read_the_url(store):
    path, lst = store
    url = path.as_uri()
    for opened in (xlstsr.io.open_zarr(url), xlstsr.io.open_path(url)):
        np.testing.assert_array_equal(opened["lst_1km"].values, lst.values)
    assert local_path(url) == path.resolve()
    assert store_exists(url)


def test_cli_reads_the_url(store, tmp_path):
    from xlstsr.cli import main

    path, lst = store
    out = tmp_path / "sr.zarr"
    assert main(["upscale", path.as_uri(), str(out), "--factor", "2", "--quiet"]) == 0
    assert xlstsr.io.open_zarr(out)["lst_1km"].shape[-1] == 2 * lst.shape[-1]


def test_a_url_with_hash_or_query_is_refused_not_cut(tmp_path):
    # review 40a: 'run#1.zarr' was read as the folder 'run' (the URL's fragment dropped)
    for bad in (f"file://{tmp_path}/run#1.zarr", f"file://{tmp_path}/a?b.zarr"):
        with pytest.raises(XlstsrError, match="%23"):
            file_uri_path(bad)
    assert file_uri_path((tmp_path / "run#1.zarr").as_uri()) == tmp_path / "run#1.zarr"


def test_local_path_of_another_hosts_url_is_none():
    # review 40a: an input's encoding['source'] of file://nas01/... made upscale_to_zarr raise
    assert local_path("file://nas01/share/lst.nc") is None
