"""A modis_aster folder holding no pair (an empty held-back copy, files not yet copied) is
refused with advice (probe 45l/01: [] was accepted without a word, and opening a pair raised
a bare IndexError)."""

from __future__ import annotations

import pytest

from xlstsr.datasets import modis_aster_pairs, open_modis_aster_pair


@pytest.fixture
def empty(tmp_path):
    folder = tmp_path / "modis_aster"
    folder.mkdir()
    (folder / "pairs.csv").write_text("pair,aster_view_angle_deg\n")
    return tmp_path


def test_an_empty_pairs_folder_is_refused(empty):
    with pytest.raises(FileNotFoundError, match=r"holds no complete MODIS/ASTER pair.*pairs\.csv"):
        modis_aster_pairs(empty)


def test_opening_a_pair_of_an_empty_folder_names_the_folder(empty):
    with pytest.raises(FileNotFoundError, match="holds no complete MODIS/ASTER pair"):
        open_modis_aster_pair("001", empty)


def test_an_unlisted_incomplete_pair_is_named(empty):
    """Review 45k/4: the refusal said no pair file was there beside one lacking its others."""
    (empty / "modis_aster" / "007_modis_lst_1km.tif").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"007.*lack files.*007_modis_ndvi_250m\.tif"):
        modis_aster_pairs(empty)
