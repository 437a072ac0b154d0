"""open_landsat_c2l2 refuses an uncertainty limit that keeps no pixel (probe 45e/01): a sign
slip (-2) or 0 returned an all-NaN scene without a word, blamed later by evaluate on nodata."""

from __future__ import annotations

import numpy as np
import pytest
from test_landsat_c2l2 import _scene

from xlstsr.errors import XlstsrError
from xlstsr.io import open_landsat_c2l2


@pytest.mark.parametrize("limit", [-2.0, 0.0])
def test_max_uncertainty_at_or_below_zero_refused(tmp_path, limit):
    _scene(tmp_path)
    with pytest.raises(XlstsrError, match=r"max_uncertainty must be a finite number > 0"):
        open_landsat_c2l2(tmp_path, max_uncertainty=limit)


def test_a_positive_max_uncertainty_keeps_pixels(tmp_path):
    _scene(tmp_path)
    lst = open_landsat_c2l2(tmp_path, max_uncertainty=50.0)["lst"]
    assert int(np.isfinite(lst.values).sum()) > 0
