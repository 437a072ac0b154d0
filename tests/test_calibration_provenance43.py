"""A calibration records and checks the settings of the sr fields that move the method's bias
(conserve=, adapt=, the weights, scale_correction=), not only method, factor and overpass: one
fitted on default disr output was applied to disr conserve=True output 0.45 K off, no word."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import xlstsr
from xlstsr.calibration import Calibration, apply_calibration, fit_calibration
from xlstsr.errors import XlstsrError


@pytest.fixture(scope="module")
def scene():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = xlstsr.datasets.sample_scene(n_times=1, size=64, cloud_fraction=0.0)
        plain = xlstsr.upscale(s["lst_1km"], 4, method="disr", guide=s["ndvi_250m"])
    return s, plain, fit_calibration(plain, s["lst_250m"], target="TRUTH")


def _disr(s, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xlstsr.upscale(s["lst_1km"], 4, method="disr", guide=s["ndvi_250m"], **kw)


def test_fit_records_scale_correction_and_output_options(scene):
    cal = scene[2]
    assert cal.scale_correction == "none"
    options = json.loads(cal.options)
    assert options["conserve"] is False and "weights_sha256" in options
    # how it ran and what its file is called are no part of it
    assert not {"checkpoint", "model", "backend", "batch_size", "device"} & set(options)
    assert Calibration.from_json(cal.to_json()) == cal
    assert Calibration.parse(json.loads(cal.to_json())) == cal


@pytest.mark.parametrize("kw, needle", [
    (dict(conserve=True), "conserve=True (fitted on False)"),
    (dict(scale_correction=1.0), "scale correction"),
    (dict(adapt={"steps": 1}), "adapt="),
])
def test_other_bias_settings_refused(scene, kw, needle):
    s, _, cal = scene
    other = _disr(s, **kw)
    with pytest.raises(XlstsrError, match="check=False") as err:
        apply_calibration(other, cal)
    assert needle in str(err.value)
    out = apply_calibration(other, cal, check=False)  # the override still applies it
    np.testing.assert_allclose(out.values, other.values * cal.slope + cal.offset, atol=1e-3)


def test_upscale_with_calibration_of_other_settings_refused(scene):
    s, plain, cal = scene
    with pytest.raises(XlstsrError, match="conserve=True"):
        _disr(s, conserve=True, calibration=cal)
    same = _disr(s, calibration=cal)  # the same settings: accepted, as apply_calibration
    np.testing.assert_allclose(same.values, apply_calibration(plain, cal).values, atol=1e-4)


def test_upscale_refuses_other_settings_before_the_work(scene, monkeypatch):
    """The options and scale correction are checked with the method and factor, before the
    model runs (conserve=True was refused only by apply_calibration, after the whole
    upscale)."""
    from xlstsr.methods import get_method

    s, _, cal = scene

    def ran(*args, **kwargs):
        raise AssertionError("the model ran before the calibration was checked")

    monkeypatch.setattr(type(get_method("disr")), "upscale_block", ran)
    for kw in ({"conserve": True}, {"scale_correction": 1.0}):
        with pytest.raises(XlstsrError, match="not of the kind the calibration"):
            _disr(s, calibration=cal, **kw)


def test_dms_seed_is_no_other_kind_of_field():
    """Another random_state draws other trees, not another bias."""
    s = xlstsr.datasets.sample_scene(n_times=1, size=32, cloud_fraction=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = xlstsr.upscale(s["lst_1km"], 4, method="dms", guide=s["ndvi_250m"])
        other = xlstsr.upscale(s["lst_1km"], 4, method="dms", guide=s["ndvi_250m"],
                               random_state=7)
    cal = fit_calibration(fit, s["lst_250m"], target="TRUTH")
    assert apply_calibration(other, cal).attrs["xlstsr_product"] == "calibrated to TRUTH"


def test_runtime_options_and_file_names_accepted(scene):
    _, plain, cal = scene
    field = plain.copy()
    opts = json.loads(field.attrs["xlstsr_options"])
    opts.update(checkpoint="elsewhere.pt", backend="onnxruntime", batch_size=2,
                device="cuda", model="my.Module", receptive_field_measured=True)
    field.attrs["xlstsr_options"] = json.dumps(opts)
    out = apply_calibration(field, cal)
    assert out.attrs["xlstsr_product"] == "calibrated to TRUTH"
    # other weights are another model
    opts["weights_sha256"] = "0" * 32
    field.attrs["xlstsr_options"] = json.dumps(opts)
    with pytest.raises(XlstsrError, match="weights_sha256"):
        apply_calibration(field, cal)


def test_calibration_without_them_loads_and_applies(scene):
    s, _, cal = scene
    old = {k: v for k, v in cal.to_dict().items() if k not in ("scale_correction", "options")}
    loaded = Calibration.parse(json.dumps(old))
    assert loaded.options is None and loaded.scale_correction is None
    other = _disr(s, conserve=True)
    assert apply_calibration(other, loaded).attrs["xlstsr_product"] == "calibrated to TRUTH"
    # a field without the attributes (an earlier version's) is not checked for them either
    bare = other.copy()
    del bare.attrs["xlstsr_options"], bare.attrs["xlstsr_scale_correction"]
    assert apply_calibration(bare, cal).attrs["xlstsr_product"] == "calibrated to TRUTH"


def test_fields_normalised_and_validated():
    cal = Calibration(scale_correction=1, options={"conserve": True, "batch_size": 4})
    assert cal.scale_correction == "1.0"
    assert json.loads(cal.options) == {"conserve": True}
    assert Calibration(scale_correction=" Auto ").scale_correction == "auto"
    with pytest.raises(XlstsrError, match="options"):
        Calibration(options="[1, 2]")
    with pytest.raises(XlstsrError, match="scale_correction"):
        Calibration(scale_correction=True)


def test_cli_calibration_of_same_settings_accepted(tmp_path, capsys, scene):
    from xlstsr.cli import main

    s, _, cal = scene
    s["lst_1km"].isel(time=0).rio.to_raster(tmp_path / "lst.tif")
    s["ndvi_250m"].squeeze(drop=True).rio.to_raster(tmp_path / "ndvi.tif")
    (tmp_path / "cal.json").write_text(cal.to_json())
    argv = ["upscale", str(tmp_path / "lst.tif"), str(tmp_path / "out.nc"), "--method", "disr",
            "--guide", str(tmp_path / "ndvi.tif"), "--calibration", str(tmp_path / "cal.json"),
            "--quiet"]
    assert main(argv) == 0
    capsys.readouterr()
    assert main([*argv[:2], str(tmp_path / "cons.nc"), *argv[3:], "--conserve"]) != 0
    assert "conserve=True (fitted on False)" in capsys.readouterr().err
    assert not (tmp_path / "cons.nc").exists()


def test_gain_read_back_from_a_tif_tag_is_checked(scene):
    """rioxarray reads the tag '0.8' as the number 0.8: such fields recorded no correction, and
    the calibration was applied to uncorrected output unchecked (review 43d)."""
    s, plain, _ = scene
    corrected = plain.assign_attrs(xlstsr_scale_correction=0.8)  # as read from the .tif
    cal = fit_calibration(corrected, s["lst_250m"], target="TRUTH")
    assert cal.scale_correction == "0.8"
    with pytest.raises(XlstsrError, match="scale correction"):
        apply_calibration(plain, cal)


def test_user_method_options_compared_by_value():
    """A user's method: an option recorded by its object's address is another at each run (a
    calibration refused output of the same settings), NaN equals NaN, and its own option names
    ('mode') are compared, not taken for the deep models' labels (review 43d)."""
    from xlstsr.calibration import _options_diffs, _options_text

    fitted = _options_text('{"eps": NaN, "kernel": "<Kernel object at 0x7f00aa>", '
                           '"mode": "nearest", "batch_size": 4}')
    again = _options_text('{"eps": NaN, "kernel": "<Kernel object at 0x7f11bb>", '
                          '"mode": "nearest", "batch_size": 8}')
    assert _options_diffs(again, fitted) == []
    other = _options_text('{"eps": NaN, "mode": "plus"}')
    assert _options_diffs(other, fitted) == ["mode='plus' (fitted on 'nearest')"]
    # of a model its weights hash identifies, 'mode' is a label of the model
    deep = json.loads(_options_text('{"mode": "sisr", "conserve": false, "weights_sha256": "a"}'))
    assert "mode" not in deep and deep["conserve"] is False


def test_seed_of_a_user_method_is_compared():
    """DMS's seed is another draw of its trees; a user's method's seed may be its output."""
    from xlstsr.calibration import _options_diffs, _options_text

    mine = _options_text('{"random_state": 1}', "my_method")
    assert _options_diffs(mine, _options_text('{"random_state": 0}', "my_method")) == [
        "random_state=1 (fitted on 0)"]
    assert _options_text('{"random_state": 1}', "dms") == "{}"
