"""Guide checks found wanting by the review of session 26: a multi-band guide with one constant
band refused whole, a stacked leading dim crashing the guide's offset measurement, and
``--guide-scale`` taken on a guide that holds NDVI floats already."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401  (the .rio accessor)
import xarray as xr
from helpers import make_lst, run_cli
from test_bad_input_corpus23_guide import RES
from test_bad_input_corpus23_guide import _pair as _offset_pair
from test_bad_input_corpus26_guide import _pair

import xlstsr
from xlstsr import errors

# -- 1. a constant band beside a real one ------------------------------------------------------


@pytest.mark.parametrize("lazy", [False, True])
@pytest.mark.parametrize("method", ["tsharp", "dms"])
def test_a_constant_band_beside_an_ndvi_is_warned_not_refused(method, lazy):
    """{NDVI, a water mask 0 over the whole window}: refused as "no spatial detail" although
    the NDVI guides (DMS and TsHARP regress on every band). It runs, the flat band named."""
    lst, ndvi = _pair()
    water = (ndvi * 0).rename("water")
    guide = {"ndvi": ndvi, "water": water}
    if lazy:
        lst = lst.chunk({"time": 1})
        guide = {k: v.chunk({"y": 32, "x": 32}) for k, v in guide.items()}
    with pytest.warns(UserWarning, match=r"guide channel 1 \('water', always 0\) holds one "
                                         r"value.*other 1 channel\(s\) guide alone"):
        out = xlstsr.upscale(lst, 4, method, guide=guide, method_options=(
            {"n_estimators": 5} if method == "dms" else None)).compute()
    assert np.isfinite(out.values).all()
    if method == "tsharp":  # a constant regressor adds nothing to a least-squares fit
        ref = xlstsr.upscale(lst, 4, method, guide=ndvi).compute()
        np.testing.assert_allclose(out.values, ref.values, atol=1e-3)


@pytest.mark.parametrize("lazy", [False, True])
def test_a_guide_of_constant_bands_only_is_still_refused(lazy):
    lst, ndvi = _pair()
    guide = {"water": (ndvi * 0).rename("water"), "dem": (ndvi * 0 + 120).rename("dem")}
    if lazy:
        lst = lst.chunk({"time": 1})
        guide = {k: v.chunk({"y": 32, "x": 32}) for k, v in guide.items()}
    with pytest.raises(errors.UndeclaredFillError, match=r"guide channel 0 holds one value"):
        xlstsr.upscale(lst, 4, "tsharp", guide=guide).compute()


# -- 2. a stacked leading dim and the guide's offset ---------------------------------------------


@pytest.mark.filterwarnings("ignore:guide reprojected onto the fine LST grid")
def test_a_stacked_leading_dim_takes_a_guide_offset_like_each_step():
    """`cube.stack(t=("scene", "time"))`, as the refusal of several leading dims advises, with a
    guide one fine pixel off: measure_offset stacked the MultiIndex dim again and xarray raised
    "cannot create a multi-index along stacked dimension '_step'"."""
    lst1, ndvi = _offset_pair(32)
    t = pd.date_range("2020-07-01", periods=3)
    cube = xr.concat(
        [xr.concat([lst1 + 0.2 * k + s for k in range(3)], dim=pd.Index(t, name="time"))
         for s in range(2)], dim=pd.Index(["a", "b"], name="scene"))
    cube = cube.rename("lst").rio.write_crs(lst1.rio.crs)
    cube[0, 0, :16] = np.nan  # the clearest step is not the first
    stacked = cube.stack(t=("scene", "time")).transpose("t", "y", "x")
    guide = ndvi.assign_coords(x=ndvi.x + RES)
    with pytest.warns(errors.GuideAlignmentWarning, match="moved back"):
        out = xlstsr.upscale(stacked, 4, "tsharp", guide=guide)
    assert out.sizes["t"] == 6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # as the cube with its two dims (offset measured on the same clearest step) ...
        ref = xlstsr.upscale(cube, 4, "tsharp", guide=guide)
        np.testing.assert_array_equal(out.unstack("t").transpose(*ref.dims).values, ref.values)
        # ... and as a clear step alone
        one = xlstsr.upscale(stacked.isel(t=[4]), 4, "tsharp", guide=guide)
    np.testing.assert_allclose(out.isel(t=4).values, one.isel(t=0).values, atol=1e-3)
    assert np.isfinite(out.isel(t=4).values).mean() > 0.9  # the guide was moved back, not lost


# -- 3. --guide-scale on a guide that holds NDVI floats already ----------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("review26")
    n, f = 16, 4
    yy, xx = np.mgrid[0:n * f, 0:n * f] / (n * f)
    ndvi = 0.2 + 0.5 * (0.5 + 0.5 * np.sin(6 * xx) * np.cos(5 * yy))
    lst = (320 - 25 * ndvi).reshape(n, f, n, f).mean(axis=(1, 3)).astype("float32")
    make_lst(lst, units="K").rio.to_raster(d / "lst.tif")
    make_lst(ndvi.astype("float32"), res=250.0).rio.to_raster(d / "ndvi_float.tif")
    make_lst(np.round(ndvi * 10000).astype("int16"), res=250.0).rio.to_raster(d / "ndvi_dn.tif")
    make_lst((ndvi * 10000).astype("float32"), res=250.0).rio.to_raster(d / "ndvi_dn_float.tif")
    return d


def test_guide_scale_on_a_float_ndvi_guide_is_refused(files, tmp_path, capsys):
    """The float NDVI x 0.0001 passed disr's statistics check: up to 8 K off, exit 0."""
    args = ["upscale", files / "lst.tif", tmp_path / "o.tif", "--method", "tsharp", "--quiet",
            "--guide"]
    code, err = run_cli(capsys, *args, files / "ndvi_float.tif", "--guide-scale", "0.0001")
    assert code == 2 and "within [-1, 1] already" in err and "Drop --guide-scale" in err, err
    assert not (tmp_path / "o.tif").exists()
    code, err = run_cli(capsys, *args, files / "ndvi_float.tif")  # the fix named works
    assert code == 0, err
    # stored numbers keep the flag, as integers or as floats
    for name in ("ndvi_dn.tif", "ndvi_dn_float.tif"):
        code, err = run_cli(capsys, *args, files / name, "--guide-scale", "0.0001",
                            "--overwrite")
        assert code == 0, (name, err)


def test_guide_scale_on_the_real_float_ndvi_is_refused(shared_data, tmp_path, capsys):
    d = shared_data / "modis_aster"
    code, err = run_cli(capsys, "upscale", d / "077_modis_lst_1km.tif", tmp_path / "o.tif",
                        "--method", "tsharp", "--guide", d / "077_modis_ndvi_250m.tif",
                        "--guide-scale", "0.0001", "--quiet")
    assert code == 2 and "Drop --guide-scale" in err, err
