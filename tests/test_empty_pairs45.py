"""A modis_aster folder holding no pair (an empty held-back copy, files not yet copied): its
pairs are none (the benchmarks say "lists no pair"), and opening a pair names the folder's
emptiness (probe 45l/01: a bare IndexError)."""

from __future__ import annotations

import pytest

from xlstsr.datasets import modis_aster_pairs, open_modis_aster_pair
from xlstsr.errors import InputNotFoundError


@pytest.fixture
def empty(tmp_path):
    folder = tmp_path / "modis_aster"
    folder.mkdir()
    (folder / "pairs.csv").write_text("pair,aster_view_angle_deg\n")
    return tmp_path


def test_an_empty_pairs_folder_has_no_pairs(empty):
    assert list(modis_aster_pairs(empty)) == []


def test_opening_a_pair_of_an_empty_folder_names_the_folder(empty):
    with pytest.raises(InputNotFoundError, match=r"holds no complete pair.*pairs\.csv"):
        open_modis_aster_pair("001", empty)
