"""Session 42 (l): the MODIS/ASTER pairs are labelled day acquisitions (a calibration fitted on
them recorded no overpass and took night fields); one damaged ECOSTRESS file no longer stops the
folder's other scenes from opening on the common grid; a cloud mask of another scene's grid
(the same shape) is refused."""
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from xlstsr.datasets import ecostress_scenes, open_ecostress_scene, open_modis_aster_pair
from xlstsr.errors import GridError

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ECO = DATA / "ecostress_la"
PAIRS = DATA / "modis_aster"
needs_eco = pytest.mark.skipif(not (ECO / "scenes.csv").is_file(),
                               reason=f"shared ECOSTRESS scenes not found at {ECO}")
needs_pairs = pytest.mark.skipif(not PAIRS.is_dir(),
                                 reason=f"shared MODIS/ASTER pairs not found at {PAIRS}")


@needs_pairs
def test_modis_aster_pairs_are_day_acquisitions():
    lst, ndvi, aster = open_modis_aster_pair("001", root=DATA)
    assert lst.attrs["day_night"] == "day" and aster.attrs["day_night"] == "day"
    assert "day_night" not in ndvi.attrs  # a 16-day composite: of no one overpass


def _linked(folder: Path, files: list[str], damaged: str | None = None) -> Path:
    for m in ("LST", "cloud_mask", "water_mask"):
        (folder / m).mkdir(parents=True)
    for f in files:
        if f == damaged:  # an interrupted download: its first bytes only
            (folder / "LST" / f).write_bytes((ECO / "LST" / f).read_bytes()[:200])
        else:
            os.symlink(ECO / "LST" / f, folder / "LST" / f)
        for m in ("cloud_mask", "water_mask"):
            n = f.replace("_LST_", f"_{m}_")
            os.symlink(ECO / m / n, folder / m / n)
    return folder


@needs_eco
def test_a_damaged_file_leaves_the_others_on_the_common_grid(tmp_path):
    files = sorted(p.name for p in (ECO / "LST").glob("*.tif"))[:3]
    d = _linked(tmp_path / "eco", files, damaged=files[2])
    with pytest.warns(UserWarning):
        scenes = ecostress_scenes(d)
    with pytest.warns(UserWarning, match="could not be read"):
        da = open_ecostress_scene(scenes.index[0], d, resolution=280)
    assert da.notnull().any()


@needs_eco
def test_a_cloud_mask_of_another_scene_is_refused(tmp_path):
    tab = pd.read_csv(ECO / "scenes.csv", dtype={"overpass": str})
    groups = tab.groupby(["width", "height"]).groups
    a, b = next(list(v) for v in groups.values() if len(v) > 1)[:2]
    d = tmp_path / "eco"
    d.mkdir()
    for m in ("LST", "cloud_mask", "water_mask"):
        os.symlink(ECO / m, d / m)
    wrong = tab.copy()
    wrong.loc[a, "cloud_mask"] = tab.loc[b, "cloud_mask"]
    wrong.to_csv(d / "scenes.csv", index=False)
    key = tab.loc[a, "file"].split("_doy")[1][:13]
    with pytest.raises(GridError, match="another grid than its LST"):
        open_ecostress_scene(key, d)
    shutil.rmtree(d)


@needs_eco
def test_a_folder_of_damaged_files_names_them(tmp_path):
    from xlstsr.datasets.ecostress import ecostress_box

    files = sorted(p.name for p in (ECO / "LST").glob("*.tif"))[:1]
    d = _linked(tmp_path / "eco", files, damaged=files[0])
    with pytest.raises(Exception, match="cannot be read"):
        ecostress_box(d)
