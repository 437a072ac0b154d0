"""Probe 52 D findings 1, 8, 3, 4, 5: open_modis's QC mask on a granule without its QC layer,
collections of one product stacked, one file listed twice; the datasets' flags; the ECOSTRESS
scenes' LST/ folder given as root."""

from __future__ import annotations

import datetime as dt
import glob
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import xlstsr
from xlstsr.errors import VariableNotFoundError, XlstsrError

STRUCT = """GROUP=GridStructure
\tGROUP=GRID_1
\t\tGridName="MODIS_Grid_Daily_1km_LST"
\t\tXDim={n}
\t\tYDim={n}
\t\tUpperLeftPointMtrs=(-4447802.079066,0.000000)
\t\tLowerRightMtrs=(-3335851.559300,-1111950.519767)
\t\tProjection=GCTP_SNSOID
\tEND_GROUP=GRID_1
END_GROUP=GridStructure
END
"""
CORE = ('OBJECT = RANGEBEGINNINGDATE\n NUM_VAL = 1\n VALUE = "{day}"\nEND_OBJECT = '
        'RANGEBEGINNINGDATE\nOBJECT = RANGEENDINGDATE\n NUM_VAL = 1\n VALUE = "{day}"\n'
        'END_OBJECT = RANGEENDINGDATE\n')
N = 8
#: MODLAND of the QC written: 0 (good) on the left half, 1 (other quality) on the right
QC = np.where(np.arange(N)[None, :] < N // 2, 0, 1).repeat(N, 0).astype(np.uint8)


def _granule(path: Path, layers=("LST_Day_1km", "QC_Day")) -> Path:
    """A small MOD11A1-like granule dated as its name says, holding ``layers`` (an LST as
    uint16 x 0.02 with fill 0; QC layers with :data:`QC`)."""
    SD = pytest.importorskip("pyhdf.SD")
    year, doy = re.search(r"\.A(\d{4})(\d{3})\.", path.name).groups()
    day = dt.date(int(year), 1, 1) + dt.timedelta(days=int(doy) - 1)
    sd = SD.SD(str(path), SD.SDC.WRITE | SD.SDC.CREATE)
    for name in layers:
        if name.startswith("QC"):
            v = sd.create(name, SD.SDC.UINT8, (N, N))
            v[:] = QC
        else:
            v = sd.create(name, SD.SDC.UINT16, (N, N))
            v[:] = np.full((N, N), 15000, np.uint16)  # 300 K
            v.scale_factor, v.add_offset, v._FillValue, v.units = 0.02, 0.0, 0, "K"
        v.endaccess()
    setattr(sd, "StructMetadata.0", STRUCT.format(n=N))
    setattr(sd, "CoreMetadata.0", CORE.format(day=day.isoformat()))
    sd.end()
    return path


# -- finding 1: max_modland=0 on a granule without its QC layer ------------------------------

def test_max_modland_0_without_the_qc_layer_is_refused_and_its_advice_reads(tmp_path):
    """A layer-subsetted download (LST_Day_1km without QC_Day): max_modland=0 kept the "other
    quality" pixels as Kelvin without a word (decode=False too); refused, naming the layer."""
    from xlstsr.io import open_modis

    full = _granule(tmp_path / "MOD11A1.A2019305.h14v09.061.2019306000000.hdf")
    bare = tmp_path / "sub" / full.name
    bare.parent.mkdir()
    _granule(bare, ("LST_Day_1km", "LST_Night_1km", "QC_Night"))
    assert int(np.isfinite(open_modis(full, max_modland=0).values).sum()) == N * N // 2
    for kw in ({}, {"decode": False}):
        with pytest.raises(VariableNotFoundError, match=r"max_modland=0 .*'QC_Day'.*does not "
                           r"hold.*leave out max_modland"):
            open_modis(bare, max_modland=0, **kw)
    # a night LST beside its QC_Night is masked as asked
    assert int(np.isfinite(open_modis(bare, "LST_Night_1km", max_modland=0).values).sum()) \
        == N * N // 2
    # stacked: the step without QC_Day was masked otherwise than the other, without a word
    later = tmp_path / "sub" / "MOD11A1.A2019306.h14v09.061.2019307000000.hdf"
    _granule(later, ("LST_Day_1km",))
    with pytest.raises(VariableNotFoundError, match=later.name.replace(".", r"\.")):
        open_modis([full, later], max_modland=0)
    # the advice followed: read without QC masking (MODLAND 2-3 are the LST's fill anyway)
    lst = open_modis(bare)
    assert int(np.isfinite(lst.values).sum()) == N * N and "qc" not in lst.attrs
    # max_modland 1 rejects only "not produced" pixels, which are the fill: read the same
    np.testing.assert_array_equal(open_modis(bare, max_modland=1).values, lst.values)


def test_open_mod11a1_granule_refuses_max_modland_0_without_qc_day(tmp_path):
    g = _granule(tmp_path / "MOD11A1.A2019305.h14v09.061.2019306000000.hdf", ("LST_Day_1km",))
    with pytest.raises(VariableNotFoundError, match="QC_Day"):
        xlstsr.datasets.open_mod11a1_granule(root=g, max_modland=0)
    assert int(np.isfinite(xlstsr.datasets.open_mod11a1_granule(root=g).values).sum()) == N * N


def test_mod21a1_lst_without_its_qc_is_refused_by_max_modland_0(tmp_path):
    from xlstsr.io import open_modis

    g = _granule(tmp_path / "MOD21A1D.A2019305.h14v09.061.2019306000000.hdf", ("LST_1KM",))
    with pytest.raises(VariableNotFoundError, match=r"its QC layer 'QC'"):
        open_modis(g, max_modland=0)
    assert open_modis(g).attrs["day_night"] == "day"


# -- finding 8: two collections of one product -----------------------------------------------

def test_open_modis_refuses_c6_and_c61_granules_stacked_and_its_advice_opens(tmp_path, monkeypatch):
    from xlstsr.io import open_modis

    c6 = _granule(tmp_path / "MOD11A1.A2019305.h14v09.006.2019306084028.hdf")
    c61 = [_granule(tmp_path / f"MOD11A1.A2019{d}.h14v09.061.2020{d}084028.hdf")
           for d in (306, 307)]
    pattern = str(tmp_path / "MOD11A1.*.hdf")
    for given, files in (([c6, *c61], [c6, *c61]), (pattern, sorted(glob.glob(pattern)))):
        with pytest.raises(XlstsrError, match=r"2 collections of MOD11A1 \(006: 1 .*061: 2 "
                           r".*one series is one collection") as err:
            open_modis(given)
        # the advice picks from the user's own list (a glob of one folder missed others)
        advice = re.search(r"`open_modis\((\[.*\])\)`", str(err.value)).group(1)
        cube = open_modis(eval(advice, {"os": os, "files": files}))
        assert cube.sizes["time"] == 2 and cube.attrs["source"] == ", ".join(p.name for p in c61)
    # relative paths in two folders: the advice keeps them
    monkeypatch.chdir(tmp_path)
    (tmp_path / "b").mkdir()
    moved = shutil.move(c61[1], tmp_path / "b" / c61[1].name)
    files = [c6.name, c61[0].name, os.path.relpath(moved)]
    with pytest.raises(XlstsrError, match="collections") as err:
        open_modis(files)
    advice = re.search(r"`open_modis\((\[.*\])\)`", str(err.value)).group(1)
    assert open_modis(eval(advice, {"os": os, "files": files})).sizes["time"] == 2
    c61[1] = Path(moved)
    # one collection stacks as before
    assert open_modis([Path(os.path.relpath(p)) for p in c61]).sizes["time"] == 2


def test_open_cog_refuses_modis_named_files_of_two_collections(tmp_path):
    from affine import Affine
    from test_corpus35_readers import PIX, _tif

    from xlstsr.io import open_cog

    a = np.full((4, 4), 300.0, np.float32)
    t = Affine(PIX, 0.0, 0.0, 0.0, -PIX, 5559752.598833)
    paths = [_tif(tmp_path / n, a, t) for n in ("MOD11A1.A2020001.h18v04.006.2020003000000.tif",
                                                "MOD11A1.A2020002.h18v04.061.2020004000000.tif",
                                                "MOD11A1.A2020003.h18v04.061.2020005000000.tif")]
    # the shared COGs' own naming (.061_LST_Day_1km.tif) and the other layer in the folder
    paths += [_tif(tmp_path / n, a, t) for n in ("MOD11A1.A2020004.h18v04.006_LST_Day_1km.tif",
                                                 "MOD11A1.A2020004.h18v04.061_LST_Night_1km.tif")]
    for given in (paths[:3], [paths[3], paths[1]]):
        with pytest.raises(XlstsrError, match=r"files are of 2 collections.*open_cog") as err:
            open_cog(given)
        advice = re.search(r"`open_cog\((\[.*\])\)`", str(err.value)).group(1)
        kept = eval(advice, {"os": os, "files": given})
        assert kept == [p for p in given if ".061" in p.name]
    assert open_cog(kept).sizes["time"] == 1


# -- finding 3: one file listed twice ----------------------------------------------------------

def test_one_granule_listed_twice_is_told_so_not_to_remove_a_copy(tmp_path, monkeypatch):
    """Overlapping globs, or a path given absolute and relative: 'copies of one granule ...
    Remove the copy' (followed, it deleted the only file)."""
    from xlstsr.io import open_modis

    g = _granule(tmp_path / "MOD11A1.A2019305.h14v09.061.2019306000000.hdf")
    other = _granule(tmp_path / "MOD11A1.A2019306.h14v09.061.2019307000000.hdf")
    link = tmp_path / "link"
    link.symlink_to(tmp_path, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    for files in ([str(g), str(other), str(g)], [g.name, str(g)], [str(g), str(tmp_path / "." / g.name)],
                  [g, link / g.name]):
        with pytest.raises(XlstsrError, match=r"names .* twice|the same file") as err:
            open_modis(files)
        msg = str(err.value)
        assert "copies" not in msg and "Remove" not in msg and "De-duplicate the list" in msg
        # (probe 53 r2: the advice reads a file:// URL as open_modis does, an import first)
        code = re.search(r"`(import os; from xlstsr[^`]*)`", msg).group(1)
        ns = {"files": files}  # (probe 53 review: the advice imports what it uses)
        exec(code, ns)
        deduped = ns["files"]
        assert open_modis(deduped).sizes["time"] == len(deduped)
        assert all(f in files for f in deduped)  # the user's own names kept
    assert g.is_file()
    # two files, one a second download of the other: still "copies ... Remove the copy"
    shutil.copyfile(g, tmp_path / "MOD11A1.A2019305.h14v09.061.2019306000000 (1).hdf")
    with pytest.raises(XlstsrError, match="are copies of one granule"):
        open_modis(sorted(glob.glob(str(tmp_path / "MOD11A1.A2019305.*"))))


# -- finding 4: string flags -------------------------------------------------------------------

@pytest.mark.parametrize("flag", ["no", "false", "False", None, 2])
def test_truth_mask_must_be_a_bool(flag):
    from xlstsr.datasets import SAMPLE_DIR, modis_aster_sample, open_modis_aster_pair

    with pytest.raises(XlstsrError, match="truth_mask must be True or False"):
        open_modis_aster_pair("002", SAMPLE_DIR, truth_mask=flag)
    with pytest.raises(XlstsrError, match="truth_mask must be True or False"):
        modis_aster_sample(truth_mask=flag)


def test_truth_mask_bools_keep_their_meaning():
    from xlstsr.datasets import modis_aster_sample

    plain, masked = (int(np.isnan(modis_aster_sample(truth_mask=f)[2].values).sum())
                     for f in (np.bool_(False), np.bool_(True)))
    assert masked > plain
    assert int(np.isnan(modis_aster_sample(truth_mask=1)[2].values).sum()) == masked


def _scenes(folder: Path) -> Path:
    """Two small scenes (test_readers49's writer), in ``folder``."""
    from test_readers49 import _eco_folder

    folder.mkdir(exist_ok=True)
    return _eco_folder(folder, [("2024010101000", 18.40, -33.90),
                                ("2024010212000", 18.401, -33.90)], shape=(20, 30))


def test_ecostress_box_main_group_must_be_a_bool(tmp_path):
    from xlstsr.datasets.ecostress import ecostress_box

    folder = _scenes(tmp_path)
    with pytest.raises(XlstsrError, match="main_group must be True or False, got 'no'"):
        ecostress_box(folder, main_group="no")
    assert ecostress_box(folder, main_group=np.bool_(True)) == ecostress_box(folder)


# -- finding 5: the scenes' LST/ folder as root --------------------------------------------------

def test_ecostress_scenes_take_the_lst_folder_for_its_scenes_folder(tmp_path):
    """The LST/ folder itself was 'no ECOSTRESS scene in .../LST/ecostress_la' (a folder that
    does not exist), while a file inside it worked."""
    from xlstsr.datasets import ecostress_scenes, open_ecostress_scene

    folder = _scenes(tmp_path / "eco")
    want = ecostress_scenes(folder)
    for sub in ("LST", "cloud_mask", "water_mask"):
        assert ecostress_scenes(folder / sub).equals(want)
    assert open_ecostress_scene("2024010212000", folder / "LST").shape == (20, 30)


def test_a_data_folder_named_lst_holding_ecostress_la_is_still_a_data_folder(tmp_path):
    # review 52a/1: a folder named LST was taken for a scenes folder's LST/ (its parent named)
    from xlstsr.datasets import ecostress_scenes

    (tmp_path / "LST").mkdir()
    want = ecostress_scenes(_scenes(tmp_path / "LST" / "ecostress_la"))
    assert ecostress_scenes(tmp_path / "LST").equals(want)
