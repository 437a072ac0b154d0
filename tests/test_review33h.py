"""review33h: a guide's bands of unpadded sensor band names ('B4', 'B8') or polarisations ('VV',
'VH') matched with a multi-band LST's dates by band number; `xlstsr train`'s advice for a truth
of several bands (Python only; the LST's bands named for a truth's units, and one band selected
as advised refused again); fit_files' band of a numpy integer refused."""
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xlstsr
from tests.helpers import make_lst, run_cli
from xlstsr.errors import GuideTimeError, UnitsError, XlstsrError


@pytest.fixture(scope="module")
def scene():
    return xlstsr.datasets.sample_scene(n_times=4, size=32, seed=3)


def _two_dates(scene):
    lst = scene["lst_1km"].isel(time=slice(0, 2)).rename(time="band")
    lst = lst.assign_coords(band=[1, 2])
    ndvi = scene["ndvi_250m"]
    g = xr.concat([ndvi, ndvi * 0.95], dim=pd.Index([1, 2], name="band"))
    return lst, g.rio.write_crs(ndvi.rio.crs)


@pytest.mark.parametrize("desc", [("B4", "B8"), ("B4", "B5"), ("VV", "VH"), ("B8A", "B11"),
                                  ("B2", "B1")])
def test_sensor_band_names_not_matched_with_lst_dates(scene, desc):
    lst, g = _two_dates(scene)
    g = g.assign_coords(band_description=("band", list(desc)))
    with pytest.raises(GuideTimeError, match="quantities, not dates") as e:
        xlstsr.upscale(lst, 4, "dms", guide=g, guide_offset="ignore")
    assert re.search(r"--guide-band \d", str(e.value))


@pytest.mark.parametrize("desc", [("b1", "b2"), ("0_NDVI", "1_NDVI"), ("NDVI doy 153",
                                                                       "NDVI doy 161"),
                                  ("B4", "B4"), ("NDVI_b3", "NDVI_b4"),
                                  ("NDVI_b03", "NDVI_b04")])
def test_band_numbers_and_per_date_names_still_matched(scene, desc):
    # an uploaded asset's default names ('b1' on band 1) say nothing; one quantity per date
    lst, plain = _two_dates(scene)
    g = plain.assign_coords(band_description=("band", list(desc)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = xlstsr.upscale(lst, 4, "dms", guide=g, guide_offset="ignore")
        want = xlstsr.upscale(lst, 4, "dms", guide=plain, guide_offset="ignore")
    np.testing.assert_array_equal(got.values, want.values)


def _tiny(tmp_path):
    return ["--patch", "16", "--window", "16", "--epochs", "1", "--log-dir", tmp_path / "logs",
            "--mode", "supervised"]


def test_train_truth_of_several_bands_advises_truth_band(capsys, tmp_path):
    rng = np.random.default_rng(0)
    make_lst(300 + rng.normal(0, 2, (16, 16)), units="K").rio.to_raster(tmp_path / "lst.tif")
    t = np.stack([300 + rng.normal(0, 2, (64, 64)), rng.integers(0, 4, (64, 64))])
    make_lst(t.astype("float32"), res=250., units="K").rename(time="band").assign_coords(
        band=[1, 2]).rio.to_raster(tmp_path / "truth.tif")
    argv = ["train", "--lst", tmp_path / "lst.tif", "--truth", tmp_path / "truth.tif",
            "--out", tmp_path / "m.pt", *_tiny(tmp_path)]
    code, err = run_cli(capsys, *argv)
    assert code == 2 and "truth.sel(" not in err
    n = re.search(r"--truth-band (\d+)", err).group(1)
    code, err = run_cli(capsys, *argv, "--truth-band", n)
    assert code == 0, err


def test_truth_bands_of_different_units_name_the_truth(capsys, tmp_path):
    import rasterio

    from xlstsr.validate import decode_lst

    rng = np.random.default_rng(1)
    t = np.stack([300 + rng.normal(0, 2, (64, 64)), 27 + rng.normal(0, 2, (64, 64))])
    truth = make_lst(t.astype("float32"), res=250.).rename(time="band").assign_coords(band=[1, 2])
    with pytest.raises(UnitsError, match="bands of the truth") as e:
        decode_lst(truth.assign_attrs(units=("K", "degC")), what="truth")
    assert "--truth-band 1" in str(e.value)
    with pytest.raises(UnitsError, match=r"bands of the LST .*`--band 1`"):
        decode_lst(truth.assign_attrs(units=("K", "degC")))
    # the advice followed in Python: each band decoded with its own units
    both = truth.assign_attrs(units=("K", "degC"))
    np.testing.assert_allclose(decode_lst(both.sel(band=1)).values, t[0], rtol=1e-6)
    np.testing.assert_allclose(decode_lst(both.sel(band=2)).values, t[1] + 273.15, rtol=1e-6)
    # on the command line: the truth's flag, which works when followed
    make_lst(300 + rng.normal(0, 2, (16, 16)), units="K").rio.to_raster(tmp_path / "lst.tif")
    truth.rio.to_raster(tmp_path / "truth.tif")
    with rasterio.open(tmp_path / "truth.tif", "r+") as ds:
        ds.units = ("K", "degC")
    argv = ["train", "--lst", tmp_path / "lst.tif", "--truth", tmp_path / "truth.tif",
            "--out", tmp_path / "m.pt", *_tiny(tmp_path)]
    code, err = run_cli(capsys, *argv)
    assert code == 2 and "bands of the truth" in err and "the LST" not in err
    assert "--truth-band 1" in err


def test_fit_files_band_of_a_numpy_integer(tmp_path):
    from xlstsr.nn import load_model
    from xlstsr.train import fit_files

    rng = np.random.default_rng(2)
    lst = np.stack([300 + rng.normal(0, 2, (32, 32)), rng.uniform(0, 60, (32, 32))])
    make_lst(lst.astype("float32"), units="K").rename(time="band").assign_coords(
        band=[1, 2]).rio.to_raster(tmp_path / "stack.tif")
    for bad in (True, np.int64(0), 1.0):
        with pytest.raises(XlstsrError, match="numbered from 1"):
            fit_files(tmp_path / "stack.tif", tmp_path / "x.pt", band=bad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_files(tmp_path / "stack.tif", tmp_path / "m.pt", band=np.int64(1), patch=16,
                  window=16, epochs=1,
                  trainer_options={"enable_model_summary": False, "logger": False})
    band = load_model(tmp_path / "m.pt").metadata["training_data"]["band"]
    assert band == 1 and type(band) is int
