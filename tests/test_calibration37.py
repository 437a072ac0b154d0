"""Probe 37c: apply_calibration keeps the encoded nodata, fit_calibration refuses calibrated sr,
a numpy NDVI of another number of steps is refused with advice, and adapt's alpha/gain are
refused for models without a guide."""

import numpy as np
import pytest
import rasterio

import xlstsr
from xlstsr.calibration import Calibration, apply_calibration, fit_calibration
from xlstsr.errors import XlstsrError
from xlstsr.nn.adapt import Adaptation, adapt_model


def _scene(n_times=1):
    sc = xlstsr.datasets.sample_scene(n_times=n_times)
    return sc["lst_250m"], sc["ndvi_250m"]


# 1. nodata -------------------------------------------------------------------------------------

@pytest.mark.parametrize("fill", [np.nan, -9999.0])
@pytest.mark.parametrize("lazy", [False, True])
def test_apply_calibration_keeps_encoded_nodata(fill, lazy):
    sr, _ = _scene()
    sr = sr.copy()
    sr.rio.write_nodata(fill, encoded=True, inplace=True)
    before = dict(sr.encoding)
    da = sr.chunk() if lazy else sr
    out = apply_calibration(da, Calibration(offset=0.9))
    got = out.rio.encoded_nodata
    assert got is not None and (np.isnan(got) if np.isnan(fill) else got == fill)
    assert out.encoding is not da.encoding
    assert dict(sr.encoding) == before  # the input untouched
    assert "_FillValue" not in out.attrs


def test_apply_calibration_without_nodata_declares_none():
    sr, _ = _scene()
    assert sr.rio.encoded_nodata is None
    assert apply_calibration(sr, Calibration(offset=0.9)).rio.encoded_nodata is None


def test_apply_calibration_geotiff_nodata_tag_as_upscale(tmp_path):
    lst, _, _ = xlstsr.datasets.modis_aster_sample()
    lst = lst.copy()
    lst.values[10:20, 10:20] = np.nan
    cal = Calibration(offset=0.9)
    sr = xlstsr.upscale(lst, 4)
    two_step = apply_calibration(sr, cal)
    one_step = xlstsr.upscale(lst, 4, calibration=cal)
    assert sr.encoding.get("_FillValue") is not None  # not mutated by apply_calibration
    tags = []
    for i, x in enumerate((one_step, two_step)):
        path = tmp_path / f"{i}.tif"
        x.rio.to_raster(path)
        with rasterio.open(path) as f:
            tags.append(f.nodata)
    assert tags[0] is not None and np.isnan(tags[0])
    assert tags[1] is not None and np.isnan(tags[1])
    np.testing.assert_allclose(two_step.values, one_step.values, equal_nan=True)


# 2. fit on calibrated sr -----------------------------------------------------------------------

def test_fit_calibration_refuses_calibrated_sr():
    sr, _ = _scene()
    truth = 1.01 * sr - 2.0
    calibrated = apply_calibration(sr, Calibration(offset=1.3, target="ASTER"))
    with pytest.raises(XlstsrError, match=r"already 'calibrated to ASTER'.*uncalibrated SR"):
        fit_calibration(calibrated, truth)
    with pytest.raises(XlstsrError, match="sr field 1 is already"):
        fit_calibration([sr, calibrated], [truth, truth])
    # the input sensor's field (labelled or not) still fits
    cal = fit_calibration(sr.assign_attrs(xlstsr_product="input sensor"), truth)
    assert abs(cal.slope - 1.01) < 1e-6
    assert abs(fit_calibration(sr.values, truth.values).offset + 2.0) < 1e-3


# 3. numpy NDVI of another number of steps ------------------------------------------------------

@pytest.mark.parametrize("lazy", [False, True])
def test_apply_calibration_numpy_ndvi_steps_refused(lazy):
    sr, ndvi = _scene(n_times=2)
    nd3 = np.stack([ndvi.values] * 3)
    da = sr.chunk({"time": 1}) if lazy else sr
    with pytest.raises(XlstsrError, match=r"3 image\(s\) for the LST's 2.*one NDVI image per"):
        apply_calibration(da, Calibration(offset=0.5, ndvi=-2.0), ndvi=nd3).compute()


def test_apply_calibration_numpy_ndvi_that_broadcasts():
    sr, ndvi = _scene(n_times=2)
    cal = Calibration(offset=0.5, ndvi=-2.0)
    nd = ndvi.values
    ref = apply_calibration(sr, cal, ndvi=np.stack([nd, nd]))
    for g in (nd, nd[None], nd[None, None]):  # one image for all, with bands of 1
        out = apply_calibration(sr, cal, ndvi=g)
        np.testing.assert_allclose(out.values, ref.values, equal_nan=True)
    one = sr.isel(time=0)
    out = apply_calibration(one, cal, ndvi=nd[None])  # (1, y, x) for (y, x)
    assert out.shape == one.shape


# 4. adapt alpha / gain without a guide ---------------------------------------------------------

def test_check_guided():
    Adaptation().check_guided(False)  # the defaults work for any model
    Adaptation(alpha=0.0, gain=-8.0).check_guided(True)
    with pytest.raises(XlstsrError, match=r"alpha=0 .*guided model"):
        Adaptation(alpha=0.0).check_guided(False)
    with pytest.raises(XlstsrError, match=r"gain=-8\.0"):
        Adaptation(gain=-8.0).check_guided(False)
    with pytest.raises(XlstsrError, match=r"alpha=0\.5"):  # nothing to balance it against
        Adaptation(alpha=0.5).check_guided(False)
    with pytest.raises(XlstsrError, match=r"alpha=0\b"):  # the anchor alone: no change
        Adaptation(alpha=0.0, anchor=0.5).check_guided(False)
    # with an anchor, alpha weighs the consistency against it (review 37a)
    Adaptation(alpha=0.5, anchor=0.5).check_guided(False)


def test_adapt_model_refuses_alpha_without_guide():
    from xlstsr.nn import load_weights

    model = load_weights("rescnn")
    lst = np.full((16, 16), 300.0, np.float32)
    lst[4:8, 4:8] = 310.0
    with pytest.raises(XlstsrError, match="only for a guided model"):
        adapt_model(model, lst, factor=4, config=Adaptation(steps=2, alpha=0.0))
    adapt_model(model, lst, factor=4, config=Adaptation(steps=1))  # defaults still adapt


@pytest.mark.parametrize("setting", [{"alpha": 0.0}, {"alpha": 0.5}, {"gain": -8.0}])
def test_upscale_sisr_adapt_guide_settings_refused(setting):
    lst, _ = _scene()
    lst = lst.coarsen(y=4, x=4).mean()
    with pytest.raises(XlstsrError, match="guided model"):
        xlstsr.upscale(lst, 4, "sisr", adapt={"steps": 1, "lr": 1e-3, **setting})


def test_with_adaptation_refuses_guide_settings_when_built():
    """A lazy input met the refusal only at compute: with_adaptation now refuses at once."""
    from xlstsr.methods import get_method

    with pytest.raises(XlstsrError, match="guided model"):
        get_method("sisr").with_adaptation({"steps": 2, "alpha": 0.0})
    assert get_method("sisr").with_adaptation({"steps": 2}).adapt.steps == 2
