"""Refusals of a result's values out of the physical range give advice its callers can follow.

``evaluate`` and the plot functions take no ``mask_out_of_range``: their refusals named it (a
TypeError when followed)."""

import numpy as np
import pytest

import xlstsr
from xlstsr.errors import PhysicalRangeError
from xlstsr.validate import decode_lst


@pytest.fixture(scope="module")
def scene():
    return xlstsr.datasets.sample_scene(n_times=1)


def _broken(fine, value):
    """A third of the rows off: a constant value, or the field shifted by ``value`` K (varied
    values, not a fill) when it is finite and below 100."""
    sr = fine.copy()
    if np.isfinite(value) and abs(value) < 300:
        sr[..., :20, :] = sr[..., :20, :] + value
    else:
        sr[..., :20, :] = value
    return sr


@pytest.mark.parametrize("value", [450.0, 160.0, -200.0, np.inf])
def test_evaluate_refusal_names_no_option_it_lacks(scene, value):
    fine = scene["lst_250m"]
    with pytest.raises(PhysicalRangeError) as err:
        xlstsr.evaluate(_broken(fine, value), fine)
    assert "mask_out_of_range" not in str(err.value)
    assert "da.where(" in str(err.value)
    # the advice followed: what is left is scored
    with pytest.raises(TypeError):
        xlstsr.evaluate(_broken(fine, value), fine, mask_out_of_range=True)


def test_truth_maps_refusal_names_no_option_it_lacks(scene, tmp_path):
    fine = scene["lst_250m"].isel(time=0)
    with pytest.raises(PhysicalRangeError) as err:
        xlstsr.plot.truth_maps(scene["lst_1km"].isel(time=0), {"mine": _broken(fine, 450.0)},
                               fine,
                               path=tmp_path / "f.png")
    assert "mask_out_of_range" not in str(err.value) and "'mine'" in str(err.value)


def test_followed_advice_scores(scene):
    fine = scene["lst_250m"]
    sr = _broken(fine, 450.0)
    scores = xlstsr.evaluate(sr.where((sr >= 150) & (sr <= 400)), fine)
    assert np.isfinite(scores["rmse"].values).all()


def test_maskable_callers_keep_the_option(scene):
    # upscale's input: the option is theirs and still named
    lst = _broken(scene["lst_1km"], 450.0)
    with pytest.raises(PhysicalRangeError, match="mask_out_of_range=True"):
        decode_lst(lst).load()
    with pytest.raises(PhysicalRangeError, match="mask_out_of_range=True"):
        decode_lst(_broken(scene["lst_1km"], np.inf)).load()


def test_misspelt_guide_name_advised_as_guide():
    # probe 41c: the advice named `variable='ndvi'` (the LST's selector) and a '<method>'
    # placeholder; followed, it made the NDVI the LST
    from xlstsr.errors import VariableNotFoundError

    ds = xlstsr.datasets.modis_sample().isel(time=[0])
    with pytest.raises(VariableNotFoundError) as err:
        ds.lstsr.upscale(4, "tsharp", guide="NDVI", variable="lst_day")
    msg = str(err.value)
    assert "guide 'NDVI' is not in the Dataset" in msg
    assert "`ds.lstsr.upscale(..., guide='ndvi')`" in msg and "variable=" not in msg
