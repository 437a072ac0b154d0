"""Session 42 (k): `xlstsr upscale --method-option KEY=VALUE` gives a method its options
(Python's method_options), and the library's advice in method_options words is told as those
flags on the command line (a DMS on few pixels was told `min_samples_leaf=...` in
method_options, which no flag gave)."""
import numpy as np
import pytest
import rioxarray  # noqa: F401

import xlstsr
from xlstsr.cli import _method_option_flags, _method_options, main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("mo")
    s = xlstsr.datasets.sample_scene(n_times=1, size=64)
    lst = s["lst_1km"].isel(time=0, drop=True).isel(y=slice(0, 4), x=slice(0, 4)).fillna(300.0)
    ndvi = s["ndvi_250m"].isel(y=slice(0, 16), x=slice(0, 16))
    lst.rio.to_raster(d / "lst.tif")
    ndvi.rio.to_raster(d / "ndvi.tif")
    return d


def test_method_options_parsed():
    assert _method_options(["min_samples=16", "regressor=bagging", "quadratic=false",
                            "gain=0.5", "flag=True"]) == {
        "min_samples": 16, "regressor": "bagging", "quadratic": False, "gain": 0.5,
        "flag": True}
    for bad in (["min_samples"], ["=3"], ["a b=1"], ["k=1", "k=2"]):
        with pytest.raises(Exception, match="--method-option"):
            _method_options(bad)


def test_advice_in_method_options_words_becomes_flags():
    assert _method_option_flags("pass method_options={'quadratic': False}") == (
        "pass --method-option quadratic=false")
    msg = ("pass a lower `min_samples_leaf` in method_options (e.g. min_samples_leaf=4, "
           "min_samples=16; smaller leaves)")
    assert _method_option_flags(msg) == (
        "pass a lower `min_samples_leaf` with --method-option (e.g. --method-option "
        "min_samples_leaf=4 --method-option min_samples=16; smaller leaves)")


def test_cli_dms_advice_followed_with_method_option(files, capsys):
    d = files
    rc = main(["upscale", str(d / "lst.tif"), str(d / "a.tif"), "--method", "dms",
               "--guide", str(d / "ndvi.tif"), "--guide-offset", "ignore"])
    err = capsys.readouterr().err
    assert rc == 0 and "--method-option min_samples_leaf=4 --method-option min_samples=16" in err
    rc = main(["upscale", str(d / "lst.tif"), str(d / "b.tif"), "--method", "dms",
               "--guide", str(d / "ndvi.tif"), "--guide-offset", "ignore",
               "--method-option", "min_samples_leaf=4", "--method-option", "min_samples=16"])
    err = capsys.readouterr().err
    assert rc == 0 and "too few" not in err
    import rioxarray as rxr

    a = rxr.open_rasterio(d / "a.tif").values
    b = rxr.open_rasterio(d / "b.tif").values
    assert not np.allclose(a, b, equal_nan=True)  # the guided fit, not the fallback


def test_cli_method_option_unknown_refused(files, capsys):
    d = files
    assert main(["upscale", str(d / "lst.tif"), str(d / "c.tif"), "--method", "bicubic",
                 "--method-option", "min_samples=3"]) == 2
    assert "min_samples" in capsys.readouterr().err


def test_options_with_their_own_flag_told_as_that_flag():
    assert _method_option_flags("(method_options={'backend': 'onnxruntime'})") == (
        "(--backend onnxruntime)")
    assert _method_option_flags("use method_options={'conserve': True}") == "use --conserve"
    assert _method_option_flags("pass method_options={'bands': [1, 2], 'name': 'a b'}") == (
        "pass --method-option 'bands=[1,2]' --method-option 'name=a b'")


def test_conserve_false_taken_as_a_method_option(files, capsys):
    d = files
    assert main(["upscale", str(d / "lst.tif"), str(d / "e.tif"), "--method", "tsharp",
                 "--guide", str(d / "ndvi.tif"), "--guide-offset", "ignore",
                 "--method-option", "conserve=false", "--method-option", "min_samples=3"]) == 0
    assert main(["upscale", str(d / "lst.tif"), str(d / "f.tif"), "--method", "dms",
                 "--guide", str(d / "ndvi.tif"), "--conserve",
                 "--method-option", "conserve=false"]) == 2
    assert "given together" in capsys.readouterr().err
