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


def _landsat_decoded_without_offset(kelvin: np.ndarray) -> np.ndarray:
    return np.round((kelvin - 149.0) / 0.00341802) * 0.00341802


@pytest.mark.parametrize("units", ["K", None])
def test_landsat_decoded_without_its_offset_is_refused(units):
    """DN x 0.00341802 without + 149 K: on a warm scene (300 K, 151 'K') most values pass the
    150 K floor and evaluate reported an RMSE of 148 K; on a cooler one it blamed Celsius."""
    rng = np.random.default_rng(0)
    sr = _field(30, 240.0, 300.5)
    for mean in (300.0, 288.0):
        ref = _field(240, 30.0, _landsat_decoded_without_offset(
            mean + 3 * rng.standard_normal((240, 240))))
        if units is None:
            ref.attrs = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(errors.PhysicalRangeError) as err:
                xlstsr.evaluate(sr, ref)
        msg = str(err.value)
        assert "without its offset" in msg and "open_landsat_c2l2" in msg, msg
        assert "degrees Celsius: set" not in msg


def test_a_mean_error_beyond_any_real_lst_difference_is_refused():
    rng = np.random.default_rng(1)
    truth = _field(240, 30.0, 300 + rng.standard_normal((240, 240)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = xlstsr.evaluate(_field(30, 240.0, 300.0 + 45.0), truth)  # a large, real-looking bias
        assert float(s.bias) == pytest.approx(45.0, abs=0.1)
        with pytest.raises(errors.PhysicalRangeError, match=r"differ by -90\.0 K"):
            xlstsr.evaluate(_field(30, 240.0, 210.0), truth)
