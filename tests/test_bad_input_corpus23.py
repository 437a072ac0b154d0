"""Twenty-third round of bad inputs (session 22): what the session's probes and reviews found."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr import errors


def _field(n: int, res: float, value) -> xr.DataArray:
    y = 3_400_000.0 - res / 2 - res * np.arange(n)
    x = 400_000.0 + res / 2 + res * np.arange(n)
    data = np.full((n, n), value, np.float64) if np.ndim(value) == 0 else value
    return xr.DataArray(data, dims=("y", "x"), coords={"y": y, "x": x},
                        attrs={"units": "K"}).rio.write_crs("EPSG:32616")


def _range_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, errors.PhysicalRangeWarning)]


def test_out_of_range_reference_pixels_under_reference_clear_are_not_named():
    """A fill border decoded to 149 K that reference_clear drops was named as 'not scored'
    with the advice to declare a fill: the clear mask dropped it already."""
    rng = np.random.default_rng(0)
    truth = _field(240, 30.0, 300 + rng.standard_normal((240, 240)))
    truth[:, :6] = 149.0
    sr = _field(30, 240.0, 300.5)
    clear = xr.ones_like(truth, dtype=bool)
    clear[:, :6] = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = xlstsr.evaluate(sr, truth, reference_clear=clear)
    assert not _range_warnings(caught)
    assert int(s.n_valid) == 240 * 234
    # a clear mask that keeps some of them: still named
    clear[:, 3:6] = True
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s2 = xlstsr.evaluate(sr, truth, reference_clear=clear)
    assert len(_range_warnings(caught)) == 1
    assert float(s2.rmse) == pytest.approx(float(s.rmse))
