"""plot.comparison's index checked before a one-date field is matched to the step drawn; the
demo's outputs that ``overwrite`` cannot replace refused before any work."""

import warnings

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr import plot
from xlstsr.errors import XlstsrError


@pytest.fixture(scope="module")
def scene():
    s = xlstsr.datasets.sample_scene(size=64)
    lst, truth = s["lst_1km"], s["lst_250m"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sr = lst.lstsr.upscale(4, method="bicubic")
    return lst, sr, truth


@pytest.mark.parametrize("which", ["truth", "coarse"])
def test_comparison_index_past_the_end_with_a_one_date_field(scene, which):
    lst, sr, truth = scene
    # before: a bare IndexError from pandas (the cube inputs got this XlstsrError)
    kw = (dict(coarse=lst, upscaled=sr, truth=truth.isel(time=0)) if which == "truth"
          else dict(coarse=lst.isel(time=0), upscaled=sr))
    with pytest.raises(XlstsrError, match=r"index time=5 must be a position 0\.\.2"):
        plot.comparison(**kw, index={"time": 5})


@pytest.mark.parametrize("label", ["2020-07-02", np.datetime64("2020-07-02")])
def test_comparison_date_label_with_a_one_date_truth(scene, label):
    lst, sr, truth = scene
    # before: a bare ValueError / TypeError from int(label)
    with pytest.raises(XlstsrError, match=r"must be a position 0\.\.2 .*get_loc"):
        plot.comparison(lst, sr, truth.isel(time=1), index={"time": label})


def test_comparison_index_not_a_dict_with_a_one_date_truth(scene):
    lst, sr, truth = scene
    # before: AttributeError ('list' object has no attribute 'get')
    with pytest.raises(XlstsrError, match=r"index must be a dict"):
        plot.comparison(lst, sr, truth.isel(time=1), index=[1])


def _run(out, **kw):
    from xlstsr.demo import run_demo

    return run_demo(out, method="bicubic", progress=False, n_times=1, **kw)


def test_demo_overwrite_refuses_a_store_folder_of_the_users_files(tmp_path):
    (tmp_path / "lst_250m.zarr").mkdir()
    (tmp_path / "lst_250m.zarr" / "my_notes.txt").write_text("user data")
    # before: refused by upscale_to_zarr after every method was scored, advising a new path
    # the demo has no option for
    with pytest.raises(XlstsrError, match=r"lst_250m.zarr, a folder of other files.*--output"):
        _run(tmp_path, overwrite=True)
    assert (tmp_path / "lst_250m.zarr" / "my_notes.txt").read_text() == "user data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lst_250m.zarr"]


def test_demo_overwrite_refuses_a_zarr_store_it_did_not_write(tmp_path):
    xr.Dataset({"mine": ("t", np.arange(3.0))}).to_zarr(tmp_path / "lst_250m.zarr",
                                                        zarr_format=3, consolidated=False)
    with pytest.raises(XlstsrError, match=r"a Zarr store the demo did not write.*--output"):
        _run(tmp_path, overwrite=True)
    assert "mine" in xr.open_zarr(tmp_path / "lst_250m.zarr", consolidated=False)


@pytest.mark.parametrize("name", ["demo.png", "metrics.txt"])
def test_demo_overwrite_refuses_an_output_that_is_a_folder(tmp_path, name):
    (tmp_path / name).mkdir()
    (tmp_path / name / "x.txt").write_text("user data")
    # before: demo.png refused by truth_maps after the store was written (half an output
    # folder left); metrics.txt raised IsADirectoryError at the very end
    with pytest.raises(XlstsrError, match=rf"a folder {name}.*--output"):
        _run(tmp_path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_cli_demo_overwrite_refuses_a_figure_folder(tmp_path, capsys):
    from xlstsr.cli import main

    (tmp_path / "demo.png").mkdir()
    code = main(["demo", "--output", str(tmp_path), "--overwrite", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and f"--output {tmp_path} holds a folder demo.png" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.png"]


def test_demo_overwrite_still_replaces_its_own_outputs(tmp_path):
    from xlstsr.demo import check_output

    (tmp_path / "lst_250m.zarr").mkdir()  # an empty folder is written into, as before
    check_output(tmp_path)
    first = _run(tmp_path, overwrite=True)
    before = first.table.stat().st_mtime_ns
    second = _run(tmp_path, overwrite=True)
    assert second.table.stat().st_mtime_ns > before
    ds = xr.open_zarr(second.store, consolidated=False)
    assert ds["lst"].sizes["time"] == 1
