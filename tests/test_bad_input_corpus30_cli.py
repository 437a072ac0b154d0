"""Round 30 of bad inputs: the command line, the scale correction and the calibration.

Found: ``xlstsr upscale in.zarr out.zarr`` where out.zarr is a file or a folder of other files
advised "--overwrite (or --resume)", and both flags were then refused by the library;
``xlstsr scaling`` (which reads lazily) gave H for a step of 9 valid pixels without the
few-pairs warning scaling_stats gives in memory; ``apply_scale_correction`` used a guide of
another fine size silently (3.7 K off) and died raw on a 2-D guide (IndexError) or a 3-D one
on dask; ``apply_calibration`` cast its result back to float16, where an offset of 0.1 K
vanished; ``Calibration.parse`` read an existing ``modis_to_aster.txt`` as JSON text.
"""

from __future__ import annotations

import json

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from helpers import run_cli

import xlstsr
from xlstsr.calibration import Calibration, apply_calibration
from xlstsr.correction import apply_scale_correction
from xlstsr.errors import GridError, XlstsrError

# -- 1. a Zarr output path that is a file or a folder of other files --------------------------


@pytest.fixture(scope="module")
def zarr_input(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli30")
    lst = xlstsr.datasets.sample_scene(n_times=1, size=32)["lst_1km"]
    lst.to_dataset().to_zarr(d / "in.zarr", zarr_format=3, consolidated=False)
    return d / "in.zarr"


def _flags(err: str) -> list[str]:
    return [f for f in ("--overwrite", "--resume") if f in err]


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_a_zarr_output_that_is_no_store_is_refused_without_flags_that_fail(zarr_input,
                                                                         tmp_path, capsys,
                                                                         kind):
    # before: "exists; pass --overwrite to replace it (or --resume to complete it)", and
    # both flags were then refused ("is a file, not a Zarr store", "nothing to resume")
    out = tmp_path / "out.zarr"
    if kind == "file":
        out.write_text("not a store")
    else:
        out.mkdir()
        (out / "readme.txt").write_text("my notes")
    code, err = run_cli(capsys, "upscale", zarr_input, out, "--quiet")
    assert code == 2
    assert ("is a file, not a Zarr store" if kind == "file" else "holds other files") in err
    assert "mode=" not in err  # the command's words, not Python's
    for flag in _flags(err):  # whatever is advised works
        assert run_cli(capsys, "upscale", zarr_input, out, flag, "--quiet")[0] == 0
    # and each flag alone is refused in the same words, before any work
    for flag in ("--overwrite", "--resume"):
        code, err = run_cli(capsys, "upscale", zarr_input, out, flag, "--quiet")
        assert code == 2 and "mode=" not in err
        assert "file" in err
    assert (out.read_text() == "not a store" if kind == "file"
            else (out / "readme.txt").read_text() == "my notes")


def test_an_existing_store_is_offered_only_the_flags_that_work(zarr_input, tmp_path, capsys):
    other = tmp_path / "other.zarr"  # a Zarr store upscale_to_zarr did not write
    xr.open_zarr(zarr_input, consolidated=False).to_zarr(other, zarr_format=3, consolidated=False)
    code, err = run_cli(capsys, "upscale", zarr_input, other, "--quiet")
    assert code == 2 and _flags(err) == ["--overwrite"]  # --resume: "no progress record"
    assert run_cli(capsys, "upscale", zarr_input, other, "--resume", "--quiet")[0] == 2
    assert run_cli(capsys, "upscale", zarr_input, other, "--overwrite", "--quiet")[0] == 0
    code, err = run_cli(capsys, "upscale", zarr_input, other, "--quiet")  # now one of ours
    assert code == 2 and _flags(err) == ["--overwrite", "--resume"]
    assert run_cli(capsys, "upscale", zarr_input, other, "--resume", "--quiet")[0] == 0


# -- 2. `xlstsr scaling` on a step with few valid pixels ------------------------------------


def test_the_scaling_command_warns_of_a_step_with_few_pixel_pairs(tmp_path, capsys):
    # before: the CLI reads lazily, and the few-pairs check ran in memory only: H of a step
    # of 9 valid pixels was printed without a word
    lst = xlstsr.datasets.sample_scene(n_times=3, size=256, cloud_fraction=0.0)["lst_1km"]
    v = lst.values.copy()
    keep = np.zeros(v.shape[1:], bool)
    keep[:3, :3] = True
    v[1][~keep] = np.nan
    lst = lst.copy(data=v)
    with pytest.warns(UserWarning, match="pixel pairs"):  # in memory: the reference
        xlstsr.scaling_stats(lst)
    lst.to_netcdf(tmp_path / "cube.nc")
    code, err = run_cli(capsys, "scaling", tmp_path / "cube.nc", tmp_path / "fits.csv")
    assert code == 0
    line = next(ln for ln in err.splitlines() if "pixel pairs" in ln)
    assert line.startswith("xlstsr: warning:") and "[1]" in line


def test_the_scaling_command_warns_nothing_on_a_clear_cube(tmp_path, capsys):
    lst = xlstsr.datasets.sample_scene(n_times=2, size=256, cloud_fraction=0.0)["lst_1km"]
    lst.to_netcdf(tmp_path / "cube.nc")
    code, err = run_cli(capsys, "scaling", tmp_path / "cube.nc", tmp_path / "fits.csv")
    assert code == 0 and "pixel pairs" not in err


# -- 3. the scale correction's guide shape ------------------------------------------------


@pytest.fixture(scope="module")
def stack():
    import warnings

    ds = xlstsr.datasets.sample_scene(n_times=2, size=128)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sr = xlstsr.upscale(ds["lst_1km"], 4, "tsharp", guide=ds["ndvi_250m"]).values
    return sr, ds["lst_1km"].values, ds["ndvi_250m"].values


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_guide_of_another_fine_size_is_refused_naming_the_shapes(stack):
    # before: a (1, 1, 64, 64) guide for a (2, 128, 128) sr moved the output by 3.7 K
    sr, lst, ndvi = stack
    for lazy in (False, True):
        s = dsa.from_array(sr) if lazy else sr
        with pytest.raises(GridError, match=r"\(1, 1, 64, 64\).*\(2, 128, 128\)"):
            apply_scale_correction(s, lst, ndvi[None, None, :64, :64], 4, "law")
    with pytest.raises(GridError, match=r"3 images for the 2"):
        apply_scale_correction(sr, lst, np.stack([ndvi] * 3), 4, "law")
    with pytest.raises(GridError, match="not a fine guide"):
        apply_scale_correction(sr, lst, ndvi[None, None, None], 4, "law")


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_guide_without_its_step_or_channel_axis_gives_the_4d_result(stack):
    # before: (Y, X) raised a raw IndexError, (1, Y, X) a raw dask ValueError on dask input
    sr, lst, ndvi = stack
    right = apply_scale_correction(sr, lst, ndvi[None, None], 4, "law")
    for g in (ndvi, ndvi[None], np.stack([ndvi, ndvi])):
        np.testing.assert_array_equal(apply_scale_correction(sr, lst, g, 4, "law"), right)
        lazy = apply_scale_correction(dsa.from_array(sr), lst, g, 4, "law").compute()
        np.testing.assert_array_equal(lazy, right)


# -- 4. apply_calibration on float16 --------------------------------------------------------


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_apply_calibration_on_float16_applies_a_small_offset():
    # before: the result was cast back to float16 (0.25 K steps): 0.1 K changed nothing
    lst = xlstsr.datasets.sample_scene(n_times=1)["lst_250m"].astype("float16")
    for data in (lst, lst.chunk()):
        out = apply_calibration(data, Calibration(offset=0.1, target="ASTER"))
        assert out.dtype == np.float32
        d = out.values.astype(np.float64) - lst.values.astype(np.float64)
        assert abs(np.nanmean(d) - 0.1) < 1e-3
    f64 = apply_calibration(lst.astype("float64"), Calibration(offset=0.1))
    assert f64.dtype == np.float64  # float64 keeps its precision


# -- 5. Calibration.parse of an existing file of any name -------------------------------------


@pytest.mark.parametrize("name", ["modis_to_aster.txt", "modis_to_aster.cal", "cal"])
def test_parse_reads_an_existing_file_whatever_its_suffix(tmp_path, name):
    # before: the path was parsed as JSON text and refused ("is not a calibration's JSON text")
    cal = Calibration(slope=1.01, offset=0.9, target="ASTER")
    p = tmp_path / name
    p.write_text(cal.to_json())
    assert Calibration.parse(str(p)) == cal
    assert Calibration.parse(json.dumps(cal.to_dict())) == cal  # JSON text as before


def test_parse_of_neither_a_file_nor_json_says_what_is_expected(tmp_path):
    with pytest.raises(XlstsrError, match="neither an existing file nor a calibration's JSON"):
        Calibration.parse(str(tmp_path / "missing.txt"))
    bad = tmp_path / "notes.txt"
    bad.write_text("slope 1.01")
    with pytest.raises(XlstsrError, match="does not hold a calibration's JSON"):
        Calibration.parse(str(bad))
    with pytest.raises(XlstsrError, match="neither an existing file"):
        Calibration.parse("x" * 5000)  # too long for a path: no OSError
