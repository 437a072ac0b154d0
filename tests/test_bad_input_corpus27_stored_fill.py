"""Round 27 of bad inputs: a guide stored as scaled integers whose scale is declared but whose
fill is not. MOD13's NDVI fill -3000 decodes to NDVI -0.3, a value water takes, so the decoded
guide's own fill test let it through: ``--guide-scale 0.0001`` without ``--guide-nodata`` (or
``scale_factor`` set in Python without ``_FillValue``) ran TsHARP with the fill as water.
"""

from __future__ import annotations

import numpy as np
import pytest
import rioxarray
from helpers import make_lst, run_cli

import xlstsr
from xlstsr import errors

N, F = 16, 4


def _fields(fill_rows: int = 6):
    yy, xx = np.mgrid[0:N * F, 0:N * F] / (N * F)
    ndvi = 0.2 + 0.5 * (0.5 + 0.5 * np.sin(6 * xx) * np.cos(5 * yy))
    lst = make_lst((320 - 25 * ndvi).reshape(N, F, N, F).mean(axis=(1, 3)).astype("float32"),
                   units="K")
    dn = make_lst(np.round(ndvi * 10000).astype("int16"), res=250.0)
    dn[:fill_rows, :fill_rows] = -3000
    dn.attrs = {"scale_factor": 0.0001}
    return lst, dn


def test_a_stored_fill_under_a_declared_scale_is_refused_and_the_advice_works():
    lst, dn = _fields()
    with pytest.raises(errors.UndeclaredFillError, match=r"_FillValue'\] = -3000"):
        xlstsr.upscale(lst, F, "tsharp", guide=dn)
    dn.attrs["_FillValue"] = -3000
    sr = xlstsr.upscale(lst, F, "tsharp", guide=dn)
    # the fill masked: the result equals the one with the fill as NaN from the start
    clean = (dn.where(dn != -3000) * 0.0001).astype("float32")
    clean.attrs = {}
    ref = xlstsr.upscale(lst, F, "tsharp", guide=clean)
    np.testing.assert_allclose(sr.values, ref.values, atol=1e-4, equal_nan=True)


def test_a_dask_guide_is_checked_lazily_with_its_blocks():
    lst, dn = _fields()
    lazy = dn.chunk({"y": 32, "x": 32})
    sr = xlstsr.upscale(lst, F, "tsharp", guide=lazy)  # nothing read yet
    with pytest.raises(errors.UndeclaredFillError, match="-3000"):
        sr.compute()


def test_a_real_minus_0_3_on_a_few_pixels_is_not_a_fill():
    # fewer than 16 pixels at the stored -3000 in a large block: data (water), not refused
    lst, dn = _fields(fill_rows=3)
    sr = xlstsr.upscale(lst, F, "tsharp", guide=dn)
    assert np.isfinite(sr.values).mean() > 0.9


def test_guide_scale_without_guide_nodata_is_refused_naming_it(tmp_path, capsys):
    lst, dn = _fields()
    lst.rio.to_raster(tmp_path / "lst.tif")
    dn.attrs = {}
    dn.rio.to_raster(tmp_path / "ndvi.tif")
    args = ["upscale", tmp_path / "lst.tif", tmp_path / "o.tif", "--method", "tsharp",
            "--quiet", "--guide", tmp_path / "ndvi.tif", "--guide-scale", "0.0001"]
    code, err = run_cli(capsys, *args)
    assert code == 2 and "--guide-nodata -3000" in err, err
    code, err = run_cli(capsys, *args, "--guide-nodata", "-3000")
    assert code == 0, err
    sr = rioxarray.open_rasterio(tmp_path / "o.tif", masked=True)
    assert 295 < float(sr.min()) and float(sr.max()) < 325
