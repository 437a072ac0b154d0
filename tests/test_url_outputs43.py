"""A URL (s3://, gs://, https://, memory://) given where xlstsr writes a local file (a figure, a
.tif/.nc output, a table, the demo's folder, a model file) was taken as a relative path: written
into a stray local folder ``./s3:/b/...`` while the CLI said ``wrote s3://b/...`` (probe 43p).
It is refused before any work, with the fix; a .zarr URL output is still written (fsspec)."""

from __future__ import annotations

import uuid

import fsspec
import numpy as np
import pytest
import xarray as xr
from helpers import make_lst, run_cli

import xlstsr
from xlstsr import plot
from xlstsr.demo import check_output, run_demo
from xlstsr.errors import XlstsrError

URLS = ["s3://bucket/figs/fig.png", "gs://b/f.png", "memory://m/f.png", "https://h/f.png"]


def _grid(n: int, px: float) -> xr.DataArray:
    y = 5e6 - (np.arange(n) + 0.5) * px
    x = 5e5 + (np.arange(n) + 0.5) * px
    v = 300 + np.linspace(10, 0, n)[:, None] + np.linspace(0, 2, n)[None, :]
    return xr.DataArray(v.astype("f4"), dims=("y", "x"), coords={"y": y, "x": x},
                        attrs={"units": "K"}).rio.write_crs("EPSG:32631")


def _stray(root) -> list[str]:
    """The local folders a URL became (``s3:``, ``memory:``...)."""
    return sorted(p.name for p in root.iterdir() if p.name.endswith(":"))


@pytest.fixture
def lst_tif(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where a URL taken as a relative path would land
    path = tmp_path / "lst.tif"
    _grid(64, 926.6).rio.to_raster(path)
    return path


# -- the figures ---------------------------------------------------------------------------------

@pytest.mark.parametrize("url", URLS)
def test_plot_url_path_refused_before_drawing(url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(XlstsrError, match=r"is a URL: figures are saved to local files.*copy"):
        plot.comparison(_grid(16, 1000.0), _grid(64, 250.0), path=url)
    assert _stray(tmp_path) == []


def test_plot_file_url_is_its_local_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "my figs" / "f.png"
    plot.comparison(_grid(16, 1000.0), _grid(64, 250.0), path=target.as_uri())
    assert target.is_file() and _stray(tmp_path) == []


# -- the CLI's non-Zarr outputs ------------------------------------------------------------------

@pytest.mark.parametrize("argv, flag", [
    (["t.csv", "--figure", "s3://b/f.png"], "--figure s3://b/f.png"),
    (["s3://b/t.csv"], "the output table s3://b/t.csv"),
    (["memory://b/t.nc", "--figure", "f.png"], "the output table memory://b/t.nc"),
])
def test_scaling_url_outputs_refused(lst_tif, tmp_path, capsys, argv, flag):
    code, err = run_cli(capsys, "scaling", lst_tif, *argv)
    assert code != 0
    assert f"{flag} is a URL" in err and "local path" in err and "copy it there" in err
    assert _stray(tmp_path) == [] and not (tmp_path / "t.csv").exists()


@pytest.mark.parametrize("out", ["s3://b/sr.tif", "gs://b/sr.nc", "memory://b/sr.tif"])
def test_upscale_url_file_output_refused(lst_tif, tmp_path, capsys, out):
    code, err = run_cli(capsys, "upscale", lst_tif, out, "--method", "bicubic", "--quiet")
    assert code != 0
    assert f"the output {out} is a URL" in err and ".zarr output" in err
    assert _stray(tmp_path) == []
    assert "wrote" not in capsys.readouterr().out


def test_upscale_url_zarr_output_still_written(lst_tif, tmp_path, capsys):
    fs = fsspec.filesystem("memory")
    prefix = f"/url43_{uuid.uuid4().hex}"
    url = f"memory://{prefix}/sr.zarr"
    try:
        code, err = run_cli(capsys, "upscale", lst_tif, url, "--method", "bicubic", "--quiet")
        assert code == 0, err
        assert xr.open_zarr(url, consolidated=False)["lst"].sizes["x"] == 256
    finally:
        if fs.exists(prefix):
            fs.rm(prefix, recursive=True)
    assert _stray(tmp_path) == []


def test_evaluate_url_table_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _grid(64, 250.0).rio.to_raster(tmp_path / "sr.tif")
    _grid(64, 250.0).rio.to_raster(tmp_path / "ref.tif")
    code, err = run_cli(capsys, "evaluate", tmp_path / "sr.tif", tmp_path / "ref.tif",
                        "s3://b/scores.csv")
    assert code != 0 and "the output table s3://b/scores.csv is a URL" in err
    assert _stray(tmp_path) == []


@pytest.mark.parametrize("flags, named", [
    (["--out", "s3://b/m.pt"], "--out s3://b/m.pt is a URL"),
    (["--out", "m.pt", "--log-dir", "gs://b/logs"], "--log-dir gs://b/logs is a URL"),
])
def test_train_url_outputs_refused(tmp_path, monkeypatch, capsys, flags, named):
    monkeypatch.chdir(tmp_path)
    make_lst(300 + np.random.default_rng(0).normal(0, 2, (32, 32))).rio.to_raster("lst.tif")
    code, err = run_cli(capsys, "train", "--lst", "lst.tif", "--epochs", "1", *flags)
    assert code != 0 and named in err and "local" in err
    assert _stray(tmp_path) == [] and not (tmp_path / "xlstsr_logs").exists()


# -- the demo's output folder (a store, a figure and a table) ------------------------------------

@pytest.mark.parametrize("url", ["s3://b/demo", "memory://demo43"])
def test_demo_url_folder_refused(url, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(XlstsrError, match=r"is a URL: the demo writes a folder of local files"):
        check_output(url)
    with pytest.raises(XlstsrError, match="pass a local folder"):
        run_demo(url, method="bicubic", progress=False, n_times=1)
    code, err = run_cli(capsys, "demo", "--output", url, "--method", "bicubic")
    assert code != 0 and f"--output {url} is a URL" in err and "gsutil cp -r" in err
    assert _stray(tmp_path) == []


def test_demo_local_folder_still_checked(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(XlstsrError, match="is a file"):
        check_output(tmp_path / "f")
    check_output(tmp_path / "new")  # a folder to be made: taken
    check_output((tmp_path / "new").as_uri())  # a file:// URL is its local folder
    assert xlstsr.demo.DEMO_CANDIDATES
