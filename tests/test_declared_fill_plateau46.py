"""Probe 46P F4: an ASTER truth whose 0 fill is declared in attrs (`_FillValue = 0`,
`scale_factor = 0.1`, the figures' own advice) had its 2000 (200 K) border plateau scored by
evaluate (pair 001: RMSE 14.8 K) and drawn by truth_maps, while the same fill given as
`reference_nodata=0` was refused: the pixels mixed with the plateau put the rest's 1st
percentile beside it, which passed it as "a plausible temperature near the rest" whenever a
fill was declared. Judged on the rest's median, both ways refuse it with the same advice."""
import re
import warnings

import numpy as np
import pytest
import rioxarray
import xarray as xr

import xlstsr
from xlstsr.errors import UndeclaredFillError
from xlstsr.evaluate import evaluate
from xlstsr.validate import decode_lst

N = 64


def _stored(seed=0):
    """An ASTER-like truth as stored (K x 10): 0 outside the scene (6 columns), the 2000 fill
    resampled (200 K minus up to 0.001 K, 8 columns), a column mixed between it and the 0
    fill (120-200 K) and one mixed between it and the ~305 K scene."""
    rng = np.random.default_rng(seed)
    k = 305.0 + 3.0 * rng.standard_normal((N, N))
    k[:, :6] = 0.0
    k[:, 6] = 200.0 * rng.uniform(0.6, 0.99, N)  # mixed with the 0 fill
    k[:, 7:15] = 200.0 - 0.001 * rng.random((N, 8))
    k[:, 15] = 200.0 + (k[:, 16] - 200.0) * rng.uniform(0.2, 0.8, N)  # mixed with the scene
    return (k * 10).astype(np.float32)


def _grid(values, attrs=None):
    return xr.DataArray(
        values, dims=("y", "x"),
        coords={"y": 5.5e6 - 125 - 250 * np.arange(N), "x": 4e5 + 125 + 250 * np.arange(N)},
        attrs=attrs or {}).rio.write_crs("EPSG:32631")


def _declared(stored):
    return stored.assign_attrs(_FillValue=0, scale_factor=0.1)


def _followed(msg, sr, ref, **kw):
    """evaluate with the plateau advice of ``msg`` followed."""
    m = re.search(r"valid_min=(\d+), erode=(\d+), clear=True", msg)
    assert m is not None, msg
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return evaluate(sr, ref, valid_min=float(m.group(1)), erode=int(m.group(2)), clear=True,
                        **kw)


def test_declared_fill_does_not_pass_a_plateau_far_below_the_rest():
    ref = _declared(_grid(_stored()))
    with pytest.raises(UndeclaredFillError, match="plateau"):
        decode_lst(ref, what="reference", keep_out_of_range=True, attrs_of="truth")


def test_evaluate_refuses_the_plateau_whichever_way_the_fill_is_declared():
    stored = _grid(_stored())
    sr = _grid(np.full((N, N), 305.0, np.float32), {"units": "K"})
    msgs = []
    for ref, kw in ((_declared(stored), {}),
                    (stored, {"reference_nodata": 0, "reference_scale": 0.1})):
        with pytest.raises(UndeclaredFillError) as e:
            evaluate(sr, ref, **kw)
        msgs.append(str(e.value))
        assert "plateau" in msgs[-1]
        out = _followed(msgs[-1], sr, ref, **kw)
        assert out["rmse"].item() < 10  # the scene's 3 K spread, not the 105 K of the fill
    assert msgs[0] == msgs[1]


def test_truth_maps_refuse_the_plateau_and_the_advice_draws(tmp_path):
    pytest.importorskip("matplotlib")
    from xlstsr import plot

    truth = _declared(_grid(_stored()))
    coarse = _grid(np.full((N, N), 305.0, np.float32), {"units": "K"}).coarsen(
        y=4, x=4).mean().rio.write_crs("EPSG:32631")
    sr = xlstsr.upscale(coarse, 4, "bicubic")
    with pytest.raises(UndeclaredFillError) as e:
        plot.truth_maps(coarse, {"b": sr}, truth, path=tmp_path / "a.png")
    m = re.search(r"`truth = truth\.where\(truth > ([\d.]+)\)`", str(e.value))
    assert m is not None, str(e.value)
    truth = truth.where(truth > float(m.group(1)))
    fig = plot.truth_maps(coarse, {"b": sr}, truth, path=tmp_path / "b.png")
    drawn = next(a for a in fig.axes if a.get_title() == "truth").images[0].get_array()
    assert float(np.ma.min(drawn)) > 201.0  # the plateau is not drawn


def test_a_lake_at_one_value_near_the_rest_stays_data_beside_a_declared_fill():
    # a repeated value 30 K under a hot scene (water), a fill declared: data, as before
    rng = np.random.default_rng(3)
    k = 330.0 + 3.0 * rng.standard_normal((N, N))
    k[:20, :40] = 300.0
    k[-4:] = 0.0
    da = _grid((k * 50).astype(np.float32), {"_FillValue": 0, "scale_factor": 0.02})
    out = decode_lst(da)
    assert int((out == 300.0).sum()) == 20 * 40


def _aster(shared_data):
    d = shared_data / "modis_aster"
    lst = rioxarray.open_rasterio(d / "001_modis_lst_1km.tif").squeeze("band", drop=True)
    aster = rioxarray.open_rasterio(d / "001_aster_lst_250m.tif").squeeze("band", drop=True)
    return lst, aster


def test_real_aster_truth_declared_in_attrs_is_refused_and_advice_scores(shared_data):
    lst, aster = _aster(shared_data)
    sr = xlstsr.upscale(lst, 4, "bicubic", mask_out_of_range=True)
    ref = aster.copy()
    ref.attrs.update(_FillValue=0, scale_factor=0.1)
    with pytest.raises(UndeclaredFillError) as e:
        evaluate(sr, ref)  # before: RMSE 14.8 K, the 200 K band scored as temperature
    with pytest.raises(UndeclaredFillError) as e2:
        evaluate(sr, aster, reference_nodata=0, reference_scale=0.1)
    assert str(e.value) == str(e2.value)
    assert _followed(str(e.value), sr, ref)["rmse"].item() < 4.0
