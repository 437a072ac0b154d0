"""Outputs users keep (corpus 35o): ``to_cogs`` reads ``~`` as the home folder, as
upscale_to_zarr, open_path and the command line do (a folder named ``~`` was made in the
working directory, and the user found nothing in their home)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from helpers import make_lst

from xlstsr.io import to_cogs


def test_to_cogs_expands_the_home_folder(tmp_path, monkeypatch):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    sr = make_lst(np.full((2, 8, 8), 300.0, np.float32), units="K")
    paths = to_cogs(sr, "~/cogs")
    assert not (work / "~").exists()
    assert sorted(p.name for p in (home / "cogs").iterdir()) == sorted(Path(p).name for p in paths)
    assert all(Path(p).is_file() for p in paths)
