"""Guide offset checks found wanting in session 23."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_bad_input_corpus23_guide import RES, _pair

from xlstsr import errors
from xlstsr.guide import measure_offset
from xlstsr.validate import prepare_lst


@pytest.mark.parametrize("lazy", [False, True])
def test_offset_check_lazy_lst_looks_beyond_an_empty_centre(lazy):
    """A dask LST whose central 96 x 96 window is empty on every step (a lake) while the rest
    is clear: the in-memory input was searched beyond the centre, the lazy one gave up ("no
    valid LST pixel") and used a guide one fine pixel off as it was. Both now measure it."""
    lst1, ndvi = _pair(120)
    v = lst1.values.copy()
    v[12:108, 12:108] = np.nan  # the 96 x 96 centre
    lst = lst1.copy(data=v).expand_dims(time=pd.date_range("2020-07-01", periods=3))
    if lazy:
        lst = lst.chunk({"time": 1})
    guide = ndvi.assign_coords(x=ndvi.x + RES)
    with pytest.warns(errors.GuideAlignmentWarning, match="moved back"):
        est = measure_offset(guide, prepare_lst(lst), "auto", factor=4)
    assert est is not None and abs(float(est.shift_x) + RES) < 0.2 * RES
