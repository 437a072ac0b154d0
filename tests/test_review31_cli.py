"""Thirty-first review (CLI side): a TypeError of Lightning about --devices is refused naming the
hardware flags; ``xlstsr upscale --method m.pt`` points to ``--method sisr --model``; a misspelt
variable's example is the role's likely variable; a data file given as method= gets no model
advice; min_valid's paragraph follows the regimes list; the CLI's .tif overviews are averaged.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr import errors
from xlstsr.cli import main
from xlstsr.datasets import sample_scene

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stderr(err), \
            contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            rc = main(argv)
        except SystemExit as exc:
            rc = exc.code
    text = err.getvalue().strip()
    return rc, text.splitlines()[-1] if text else ""


def _lst_file(tmp_path: Path, n_times: int = 1, size: int = 32) -> str:
    lst = sample_scene(n_times=n_times, size=size, seed=1)["lst_250m"]
    lst = lst.fillna(float(lst.mean())).astype("float32")
    path = tmp_path / "lst.nc"
    lst.to_dataset(name="LST").to_netcdf(path)
    return str(path)


def test_train_devices_type_error_names_the_hardware_flags(tmp_path: Path) -> None:
    pytest.importorskip("lightning")
    nc = _lst_file(tmp_path, n_times=2, size=64)
    rc, msg = _run(["train", "--lst", nc, "--patch", "16", "--window", "32", "--epochs", "1",
                    "--batch-size", "8", "--threads", "1", "--accelerator", "cpu",
                    "--devices", "0,1", "--out", str(tmp_path / "m.pt")])
    assert rc == 2
    assert "--devices 0,1" in msg and "--accelerator cpu" in msg
    assert "default_root_dir" not in msg and "trainer_options" not in msg


def test_hardware_refusal_tells_typeerrors_apart() -> None:
    from xlstsr.train.loop import _is_hardware_refusal

    assert _is_hardware_refusal(
        TypeError("`devices` selected with `CPUAccelerator` should be an int > 0."))
    # a misspelt option is not about the hardware, even one that looks like it
    assert not _is_hardware_refusal(
        TypeError("Trainer.__init__() got an unexpected keyword argument 'devices_'"))
    assert not _is_hardware_refusal(TypeError("'<' not supported between 'str' and 'int'"))


def test_upscale_method_model_file_points_to_model(tmp_path: Path) -> None:
    from xlstsr.nn import ResCNN, save_model

    pt = str(save_model(ResCNN(4, channels=4, n_blocks=1), tmp_path / "m.pt"))
    nc = _lst_file(tmp_path)
    rc, msg = _run(["upscale", nc, str(tmp_path / "o.nc"), "--factor", "4", "--method", pt])
    assert rc == 2
    assert f"--method sisr --model {pt}" in msg
    # a name that is neither a method nor a model file: argparse's choices, as before
    rc, msg = _run(["upscale", nc, str(tmp_path / "o.nc"), "--method", "bicubik"])
    assert rc == 2 and "invalid choice" in msg


def _multi_dataset() -> xr.Dataset:
    sc = sample_scene(n_times=1, size=32, seed=1)
    lst = sc["lst_250m"].isel(time=0)
    lst = lst.fillna(float(lst.mean()))
    nd = sc["ndvi_250m"]
    nd = nd.isel(time=0) if "time" in nd.dims else nd
    ds = xr.Dataset({"NDVI": nd.copy(), "QC_Day": (lst * 0).astype("uint8"),
                     "LST_Day_1km": lst})
    for v in ("NDVI", "QC_Day"):
        ds[v].attrs = {}
    return ds


def test_misspelt_variable_example_is_the_lst(tmp_path: Path) -> None:
    ds = _multi_dataset()
    with pytest.raises(errors.VariableNotFoundError) as info:
        ds.lstsr.upscale(2, variable="LST_Night")
    msg = str(info.value)
    assert "'LST_Night' is not in the Dataset" in msg
    assert re.search(r"variable='LST_Day_1km'\)`", msg)
    nc = tmp_path / "multi.nc"
    ds.to_netcdf(nc)
    rc, msg = _run(["upscale", str(nc), str(tmp_path / "o.nc"), "--factor", "2",
                    "--variable", "LST_Night"])
    assert rc == 2
    assert "e.g. --variable LST_Day_1km" in msg


def test_data_file_as_method_gets_no_model_advice(tmp_path: Path) -> None:
    da = sample_scene(n_times=1, size=32, seed=1)["lst_250m"].isel(time=0)
    da = da.fillna(float(da.mean()))
    nc = tmp_path / "cube.nc"
    da.to_dataset(name="LST").to_netcdf(nc)
    with pytest.raises(errors.XlstsrError) as info:
        xlstsr.upscale(da, 4, method=str(nc))
    assert "trained model" not in str(info.value)
    assert "available" in str(info.value)
    # a model's suffix still gets it, existing or not
    with pytest.raises(errors.XlstsrError, match="trained model"):
        xlstsr.upscale(da, 4, method=str(tmp_path / "nope.pth"))


def test_min_valid_paragraph_follows_the_regimes_list() -> None:
    path = DOCS / "models.md"
    if not path.exists():
        pytest.skip("docs/models.md is not in this checkout")
    lines = path.read_text().splitlines()
    start = lines.index("Regimes (`mode=`):")
    i = start + 2
    # the list: bullets and their indented continuation lines, without a blank line inside
    while i < len(lines) and (lines[i].startswith("- ") or lines[i].startswith("  ")):
        i += 1
    listed = "\n".join(lines[start:i])
    assert '- `"supervised"`' in listed, "the list ended before its last regime"
    assert "min_valid" not in listed.replace("supervised_loss", "")
    assert any("min_valid" in line for line in lines[i:i + 4])


def test_cli_tif_overviews_are_averaged(tmp_path: Path) -> None:
    rasterio = pytest.importorskip("rasterio")
    pytest.importorskip("rioxarray")
    from rasterio.transform import from_origin

    t = from_origin(500000.0, 4200000.0, 1000.0, 1000.0)
    rng = np.random.default_rng(1)
    n = 160
    v = (280.0 + rng.uniform(0.0, 30.0, (n, n))).astype("f4")
    v[rng.uniform(size=v.shape) < 0.05] = np.nan
    da = xr.DataArray(v, dims=("y", "x"),
                      coords={"y": t.f + t.e * (np.arange(n) + 0.5),
                              "x": t.c + t.a * (np.arange(n) + 0.5)},
                      name="lst", attrs={"units": "K"})
    da = da.rio.write_crs("EPSG:32634").rio.write_transform(t)
    src = tmp_path / "in.tif"
    da.rio.to_raster(src)
    out = tmp_path / "out.tif"
    rc, msg = _run(["upscale", "--method", "nearest", "--factor", "4", str(src), str(out)])
    assert rc == 0, msg
    with rasterio.open(out) as s:
        assert s.overviews(1), "no overviews written: the test checks nothing"
        full = s.read(1)
        ov = s.read(1, out_shape=(full.shape[0] // 2, full.shape[1] // 2))
    blocks = full.reshape(ov.shape[0], 2, ov.shape[1], 2)
    valid = np.isfinite(blocks).any(axis=(1, 3))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mean = np.nanmean(blocks, axis=(1, 3))
    assert not (~np.isfinite(ov) & valid).any()
    np.testing.assert_allclose(ov[valid], mean[valid], atol=0.01)


def test_model_option_with_the_default_method_points_to_a_deep_method():
    # corpus31f 04: the README's `upscale(..., method_options={"model": path})` kept
    # method='bicubic' and was told only that bicubic takes no options
    import xlstsr
    from xlstsr.datasets import sample_scene

    lst = sample_scene(n_times=1, size=32)["lst_1km"]
    with pytest.raises(xlstsr.errors.MethodOptionError, match=r"method='sisr'.*'disr'"):
        xlstsr.upscale(lst, 4, method_options={"model": "rescnn"})


def test_upscale_model_without_a_deep_method_is_told_in_cli_words(tmp_path: Path) -> None:
    # review31d 11: `--model unet` without --method got the library's Python advice
    # (method_options=, guide=) half-translated
    nc = _lst_file(tmp_path)
    rc, msg = _run(["upscale", nc, str(tmp_path / "o.nc"), "--model", "unet"])
    assert rc == 2
    assert "--method sisr" in msg and "--method disr --guide GUIDE" in msg
    assert "method_options" not in msg and "guide=" not in msg
