"""Nineteenth round of bad inputs (session 19).

Each case scored, corrected or refused the wrong thing without a word, or pointed the user at
the wrong place (see the session's note).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr import errors

# -- warnings -----------------------------------------------------------------------------------


def _where(caught: list[warnings.WarningMessage], text: str) -> list[str]:
    return [os.path.basename(w.filename) for w in caught if text in str(w.message)]


def test_warnings_point_at_the_users_line_whichever_way_they_came_in(scene):
    """A fixed stacklevel pointed at accessor.py or to_zarr.py when reached another way (and
    the default filter then showed it once per library line, not once per user line)."""
    lst = scene["lst_1km"].isel(time=slice(0, 2))
    guide = xr.concat([scene["ndvi_250m"]] * 2, dim=lst.time)
    guide[1] = np.nan  # a cloudy guide day on a clear LST day
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lst.lstsr.upscale(4, "tsharp", guide)
        xlstsr.upscale(lst, 4, "tsharp", guide)
    where = _where(caught, "no valid pixel at step")
    assert len(where) == 2 and set(where) == {os.path.basename(__file__)}, where


def test_errors_warn_walks_out_of_the_package():
    def inner() -> None:
        errors.warn("from a user's helper", errors.ResampledInputWarning)

    with pytest.warns(errors.ResampledInputWarning) as caught:
        inner()
    assert caught[0].filename == __file__
