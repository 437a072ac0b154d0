"""Fixes of probes 43a/43k2/43e: to_cogs' files of a (time, overpass) stack labelled by MODIS layer
names read back; the .tif output of ``xlstsr upscale`` keeps each band's overpass; the CLI's advice
for ``--method-option adapt=...`` names --adapt; ``evaluate --reference-mask`` reads the mask once."""
from __future__ import annotations

import collections
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xlstsr
from xlstsr.cli import main
from xlstsr.errors import OverpassWarning
from xlstsr.io import open_cog, to_cogs


def _scene(n_times: int = 2) -> xr.DataArray:
    return xlstsr.datasets.sample_scene(n_times=n_times, size=16)["lst_1km"].fillna(290.0)


# -- A01: a (time, overpass) stack labelled by layer names -------------------------------------
@pytest.mark.parametrize("labels", [["day", "night"], ["LST_Day_1km", "LST_Night_1km"]])
def test_stack_labelled_by_layer_names_reads_back(tmp_path, labels):
    # ds.to_dataarray('overpass') of an open_stac Dataset of LST_Day_1km + LST_Night_1km
    lst = _scene()
    cube = xr.concat([lst, lst - 12], dim=xr.DataArray(labels, dims="overpass", name="overpass"))
    st = cube.stack(t=("time", "overpass")).transpose("t", "y", "x")
    files = sorted(str(f) for f in to_cogs(st, tmp_path, prefix="lst"))
    assert any(labels[1] in f for f in files)
    back = open_cog(files)  # was refused: "the files hold different layers"
    assert back.sizes["t"] == 4
    np.testing.assert_allclose(back.unstack("t").transpose("time", "overpass", "y", "x").values,
                               cube.transpose("time", "overpass", "y", "x").values, atol=1e-4)
    assert list(back.unstack("t")["overpass"].values) == labels


def test_files_of_different_layers_still_refused(tmp_path):
    lst = _scene(1).isel(time=0, drop=True)
    a = to_cogs(lst.rename("LST_Day_1km"), tmp_path / "a", prefix="LST_Day_1km")
    b = to_cogs(lst.rename("LST_Night_1km"), tmp_path / "b", prefix="LST_Night_1km")
    with pytest.raises(xlstsr.errors.XlstsrError, match="different layers"):
        open_cog([str(a[0]), str(b[0])])


def test_stacks_of_two_layers_globbed_together_still_refused(tmp_path):
    """Each a (time, sat) stack of its own layer: skipping every stack file's layer name
    joined them as one cube of day and night (review 43b)."""
    s = _scene(4)

    def stack(da):
        cube = xr.concat([da, da + 1], dim=xr.DataArray(["terra", "aqua"], dims="sat",
                                                         name="sat"))
        return cube.stack(t=("time", "sat")).transpose("t", "y", "x")

    files = to_cogs(stack(s.isel(time=[0, 1])).rename("LST_Day_1km"), tmp_path,
                    prefix="LST_Day_1km")
    files += to_cogs(stack(s.isel(time=[2, 3]) - 12).rename("LST_Night_1km"), tmp_path,
                     prefix="LST_Night_1km")
    with pytest.raises(xlstsr.errors.XlstsrError, match="different layers"):
        open_cog(sorted(map(str, files)))


# -- K1: the .tif output of a series interleaving day and night keeps each band's overpass -----
@pytest.fixture
def interleaved(tmp_path):
    s = _scene()
    day = s.assign_coords(time=s.time + pd.Timedelta("10h30min"))
    night = (s - 12).assign_coords(time=s.time + pd.Timedelta("22h30min"))
    ser = xr.concat([day, night], "time").sortby("time").rename("lst")
    ser = ser.assign_coords(overpass=("time", ["day", "night"] * 2))
    ser.attrs = {"units": "K"}
    path = tmp_path / "ser.nc"
    ser.to_dataset().to_netcdf(path)
    return path


def test_cli_tif_of_interleaved_series_keeps_overpass(interleaved, tmp_path):
    out = tmp_path / "sr.tif"
    assert main(["upscale", str(interleaved), str(out), "--quiet"]) == 0
    back = open_cog(str(out))
    assert back["overpass"].dims == ("time",)
    assert list(back["overpass"].values) == ["day", "night", "day", "night"]
    assert open_cog(str(out), band=2).attrs["day_night"] == "night"
    night = back.isel(time=[1]).load()
    truth = night.drop_vars("overpass").assign_attrs(units="K", day_night="day")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        xlstsr.evaluate(night, truth)
    assert any(issubclass(w.category, OverpassWarning) for w in caught)


def test_cli_tif_of_one_overpass_series_has_no_coordinate(interleaved, tmp_path):
    ser = xr.open_dataset(interleaved)["lst"].load()
    night = ser.isel(time=[1, 3])
    night.to_dataset().to_netcdf(tmp_path / "night.nc")
    out = tmp_path / "n.tif"
    assert main(["upscale", str(tmp_path / "night.nc"), str(out), "--quiet"]) == 0
    back = open_cog(str(out))
    assert "overpass" not in back.coords and back.attrs["day_night"] == "night"


def test_cli_tifs_with_and_without_overpass_tags_open_together(interleaved, tmp_path):
    """An interleaved output and a night-only one: xarray's raw "coordinate 'overpass' not
    present in all datasets" (review 43b); a file of no overpass beside them is refused."""
    ser = xr.open_dataset(interleaved)["lst"].load()
    mixed, night, plain = tmp_path / "m.tif", tmp_path / "n.tif", tmp_path / "p.tif"
    assert main(["upscale", str(interleaved), str(mixed), "--quiet"]) == 0
    later = ser.isel(time=[1, 3]).assign_coords(time=ser.time[[1, 3]] + pd.Timedelta("3D"))
    later.to_dataset().to_netcdf(tmp_path / "night.nc")
    assert main(["upscale", str(tmp_path / "night.nc"), str(night), "--quiet"]) == 0
    both = open_cog([str(mixed), str(night)])
    assert list(both["overpass"].values) == ["day", "night", "day", "night", "night", "night"]
    unlabelled = later.drop_vars("overpass")
    unlabelled = unlabelled.assign_coords(time=unlabelled.time.values + np.timedelta64(3, "D"))
    unlabelled.to_dataset().to_netcdf(tmp_path / "plain.nc")
    assert main(["upscale", str(tmp_path / "plain.nc"), str(plain), "--quiet"]) == 0
    with pytest.raises(xlstsr.errors.XlstsrError, match=r"p\.tif holds no overpass label"):
        open_cog([str(mixed), str(plain)])


# -- K2: --method-option adapt=true told as --adapt --------------------------------------------
@pytest.fixture
def lst_tif(tmp_path):
    path = tmp_path / "lst.tif"
    _scene(1).isel(time=0, drop=True).rio.to_raster(path)
    return path


def test_method_option_adapt_names_the_adapt_flag(lst_tif, tmp_path, capsys):
    assert main(["upscale", str(lst_tif), str(tmp_path / "o.tif"), "--method", "sisr",
                 "--method-option", "adapt=true", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "pass --adapt" in err
    assert "with_adaptation" not in err and "adapt=True" not in err


def test_method_option_adapt_of_bicubic_says_no_adaptation(lst_tif, tmp_path, capsys):
    assert main(["upscale", str(lst_tif), str(tmp_path / "o.tif"), "--method", "bicubic",
                 "--method-option", "adapt=true", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "not of 'bicubic'" in err and "--adapt" in err
    assert "with_adaptation" not in err and "adapt=True" not in err


# -- E01: --reference-mask read once -----------------------------------------------------------
def _evaluate_files(tmp_path, clear_value):
    lst = _scene(1).isel(time=0, drop=True)
    lst.rio.to_raster(tmp_path / "sr.tif")
    (lst + 0.5).rio.to_raster(tmp_path / "ref.tif")
    mask = xr.full_like(lst, clear_value, dtype="uint8")
    mask.rio.to_raster(tmp_path / "mask.tif")
    return [str(tmp_path / n) for n in ("sr.tif", "ref.tif")], str(tmp_path / "mask.tif")


def test_reference_mask_read_once(tmp_path, monkeypatch):
    from rasterio.io import DatasetReader

    (sr, ref), mask = _evaluate_files(tmp_path, 0)
    reads = collections.Counter()
    original = DatasetReader.read

    def counted(self, *args, **kwargs):  # the reads of each file (rasterio, not xlstsr)
        reads[self.name.rsplit("/", 1)[-1]] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DatasetReader, "read", counted)
    assert main(["evaluate", sr, ref, str(tmp_path / "t.csv"), "--reference-mask", mask]) == 0
    assert reads["mask.tif"] == reads["ref.tif"] >= 1  # was twice the reference's


def test_reference_mask_without_clear_pixel_still_refused(tmp_path, capsys):
    (sr, ref), mask = _evaluate_files(tmp_path, 1)
    assert main(["evaluate", sr, ref, str(tmp_path / "t.csv"), "--reference-mask", mask]) == 2
    assert "--reference-mask: no pixel is 0 in" in capsys.readouterr().err
    assert not (tmp_path / "t.csv").exists()


def test_python_adapt_option_advice_fits_the_method():
    """bicubic was told `get_method('sisr').with_adaptation(True)`, as if it adapted."""
    from xlstsr.methods import get_method

    with pytest.raises(xlstsr.errors.XlstsrError) as err:
        get_method("bicubic", adapt=True)
    assert "of the deep methods ['disr', 'sisr'] only, not of 'bicubic'" in str(err.value)
    assert "with_adaptation" not in str(err.value)
    with pytest.raises(xlstsr.errors.XlstsrError, match=r"get_method\('disr'\)\.with_adaptation"):
        get_method("disr", adapt=True)


def test_method_name_with_spaces_around_it_refused():
    """' mine ' was registered and then found by no `method='mine'` (probe 43m)."""
    from xlstsr.methods import register_method

    with pytest.raises(xlstsr.errors.XlstsrError, match=r"register it as 'mine'"):
        register_method(" mine ")
