"""Round 26 of bad inputs, the command line.

Found: a guide stored as int16 NDVI x 10000 without a scale tag (MOD13Q1 GeoTIFFs as AppEEARS
distributes them) was refused with Python-only fixes ("multiply by 0.0001", "open the file with
`mask_and_scale=True`", "`guide.attrs['_FillValue'] = -3000`") and ``upscale``/``scaling`` had
no flag to declare the guide's scale or fill (now ``--guide-scale``, ``--guide-nodata``, which
the refusals name); a Fahrenheit LST was offered ``--units K``, read from the advice "set
`da.attrs['units'] = 'K'` after converting": it relabelled the values as Kelvin.
"""

from __future__ import annotations

import numpy as np
import pytest
import rioxarray
from helpers import make_lst, run_cli

from xlstsr.cli import _cli_hints
from xlstsr.guide import _scale_hint

N, F = 16, 4


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """An LST at 1 km and its NDVI x 10000 at 250 m (fill -3000 on a corner): a .nc guide named
    NDVI, a GeoTIFF with its nodata tag, one without, one that declares its scale."""
    d = tmp_path_factory.mktemp("cli26")
    yy, xx = np.mgrid[0:N * F, 0:N * F] / (N * F)
    ndvi = 0.2 + 0.5 * (0.5 + 0.5 * np.sin(6 * xx) * np.cos(5 * yy))
    lst = (320 - 25 * ndvi).reshape(N, F, N, F).mean(axis=(1, 3)).astype("float32")
    make_lst(lst, units="K").rio.to_raster(d / "lst.tif")
    dn = make_lst(np.round(ndvi * 10000).astype("int16"), res=250.0)
    dn[:6, :6] = -3000
    dn.rio.to_raster(d / "ndvi_no_nodata.tif")
    dn.rio.write_nodata(-3000).rio.to_raster(d / "ndvi.tif")
    named = dn.rename("NDVI").rio.write_nodata(-3000, encoded=False)
    named.to_dataset().to_netcdf(d / "ndvi.nc")
    tagged = (dn.where(dn != -3000) * 0.0001).astype("float32")
    tagged.encoding.update(dtype="int16", scale_factor=0.0001, _FillValue=-3000)
    tagged.rio.to_raster(d / "ndvi_tagged.tif")
    return d


def _hint(err: str) -> str:
    """The command-line part of a refusal."""
    return err.split("On the command line:", 1)[-1] if "On the command line:" in err else ""


# -- the guide's scale and fill on the command line ----------------------------------------------

@pytest.mark.parametrize("command", ["upscale", "scaling"])
def test_a_scaled_ndvi_guide_is_refused_naming_guide_scale_which_fixes_it(files, tmp_path,
                                                                         capsys, command):
    # before: "multiply by 0.0001, or open the file with `mask_and_scale=True`" only, and no
    # flag to do it with (the CLI opens with mask_and_scale already)
    out = tmp_path / ("o.tif" if command == "upscale" else "o.csv")
    method = ["--method", "tsharp", "--quiet"] if command == "upscale" else []
    args = [command, files / "lst.tif", out, "--guide", files / "ndvi.nc", *method]
    code, err = run_cli(capsys, *args)
    assert code == 2 and "`--guide-scale 0.0001`" in _hint(err), err
    code, err = run_cli(capsys, *args, "--guide-scale", "0.0001")
    assert code == 0 and out.exists(), err


def test_the_reproducer_disr_guide_names_and_takes_guide_scale(files, tmp_path, capsys):
    pytest.importorskip("torch")
    args = ["upscale", files / "lst.tif", tmp_path / "o.tif", "--method", "disr", "--guide",
            files / "ndvi.tif", "--quiet"]
    code, err = run_cli(capsys, *args)
    assert code == 2 and "`--guide-scale 0.0001`" in _hint(err), err
    code, err = run_cli(capsys, *args, "--guide-scale", "0.0001")
    assert code == 0, err
    sr = rioxarray.open_rasterio(tmp_path / "o.tif", masked=True)
    assert 295 < float(sr.min()) and float(sr.max()) < 325  # LST = 320 - 25 NDVI


def test_an_undeclared_guide_fill_is_refused_naming_guide_nodata_which_fixes_it(files, tmp_path,
                                                                              capsys):
    args = ["upscale", files / "lst.tif", tmp_path / "o.tif", "--method", "tsharp", "--quiet",
            "--guide"]
    code, err = run_cli(capsys, *args, files / "ndvi_no_nodata.tif")
    assert code == 2 and "`--guide-nodata -3000`" in _hint(err), err
    code, err = run_cli(capsys, *args, files / "ndvi_no_nodata.tif", "--guide-nodata", "-3000")
    assert code == 0, err
    a = rioxarray.open_rasterio(tmp_path / "o.tif", masked=True).values
    # the fill masked as the file's own nodata tag masks it
    code, err = run_cli(capsys, *args, files / "ndvi.tif", "--overwrite")
    b = rioxarray.open_rasterio(tmp_path / "o.tif", masked=True).values
    assert code == 0 and np.allclose(a, b, equal_nan=True)


def test_a_hint_on_a_guide_scaled_already_is_the_product_of_both_scales():
    # "divide them by 10" after --guide-scale 0.001: 0.0001, not 0.1 (4491 x 0.1 is no NDVI)
    message = ("guide channel 0 ('ndvi') has mean 4.491 and standard deviation 1.255, but the "
               f"model was trained on mean 0.6 and standard deviation 0.13: "
               f"{_scale_hint(4.491, 1.255, 0.6, 0.13, 'ndvi')}.")
    assert "divide them by 10" in message  # (the library's wording this test relies on)
    assert "`--guide-scale 0.0001`" in _cli_hints(message, "upscale", {"--guide-scale": 0.001})
    assert "`--guide-scale 0.1`" in _cli_hints(message, "upscale", {})


def test_guide_declarations_are_checked(files, tmp_path, capsys):
    base = ["upscale", files / "lst.tif", tmp_path / "o.tif", "--quiet"]
    code, err = run_cli(capsys, *base, "--guide-scale", "0.0001")  # no --guide
    assert code == 2 and "add --guide" in err
    code, err = run_cli(capsys, *base, "--method", "tsharp", "--guide", files / "ndvi.tif",
                        "--guide-scale", "0")
    assert code == 2 and "--guide-scale must be a number > 0" in err
    # a file that declares its scale: not applied twice, the flag named
    code, err = run_cli(capsys, *base, "--method", "tsharp", "--guide",
                        files / "ndvi_tagged.tif", "--guide-scale", "0.0001")
    assert code == 2 and "declares scale_factor=0.0001 already" in err and "--guide-scale" in err
    assert not (tmp_path / "o.tif").exists()


def test_train_hints_name_the_guide_flags_it_has():
    # train takes --guide-scale / --guide-nodata (fit_files' guide_declare=, corpus 27); before
    # it had neither, and this test kept the hint from naming them
    message = "guide channel 0 (...): scaled integers (MODIS stores NDVI x 10000): multiply by 0.0001"
    assert "`--guide-scale 0.0001`" in _cli_hints(message, "train")


# -- units: a declaration, not the label set after a conversion ----------------------------------

def test_a_fahrenheit_lst_is_not_offered_units_k(tmp_path, capsys):
    # before: "On the command line: `--units K`", which relabelled degF values as Kelvin
    rng = np.random.default_rng(0)
    k = 305 + 3 * rng.standard_normal((16, 16))
    fahr = ((k - 273.15) * 9 / 5 + 32).astype("float32")
    make_lst(fahr, units="degF").rio.to_raster(tmp_path / "lst_degF.tif")
    code, err = run_cli(capsys, "upscale", tmp_path / "lst_degF.tif", tmp_path / "a.tif",
                        "--quiet")
    assert code == 2 and "degF" in err and "--units K" not in err, err


@pytest.mark.parametrize("message, flag", [
    ("unknown LST units 'degF'. xlstsr works in Kelvin and converts degrees Celsius; set "
     "`da.attrs['units'] = 'K'` (or 'degC') after converting.", None),
    ("values (median 89.3) look like degrees Fahrenheit (305.0 K): convert them, `da = (da - 32) "
     "* 5 / 9 + 273.15` with `da.attrs['units'] = 'K'`; if they are degrees Celsius (above 75 "
     "degC on part of the scene), set `da.attrs['units'] = 'degC'`", "`--units degC`"),
    ("decode it yourself: `dn.where(dn != 0) * 0.00341802 + 149` with `attrs['units'] = 'K'`",
     None),
    ("the values are already Kelvin but the 'units' attribute says degrees Celsius: set "
     "`da.attrs['units'] = 'K'`", "`--units K`"),
])
def test_units_flag_only_for_a_declaration(message, flag):
    hint = _hint(_cli_hints(message, "upscale"))
    if flag is None:
        assert "--units" not in hint, hint
    else:
        assert flag in hint, hint


def test_a_degf_dataset_coarse_hint_too():
    # evaluate's --coarse table shares the pattern
    message = ("the coarse LST: unknown LST units 'degF'. xlstsr works in Kelvin and converts "
               "degrees Celsius; set `da.attrs['units'] = 'K'` (or 'degC') after converting.")
    assert "--coarse-units" not in _cli_hints(message, "evaluate")

