"""Probe 44x2 (01): the ASTER references' fill 2000 (200 K), resampled with the scene, is a
plateau of hundreds of values within 0.002 K of it (11-14 % of every modis_aster scene, none
exact on 5 %): suspect_fill looked for one exact value, and evaluate scored the plateau as truth
(RMSE 14.8 K instead of ~2-4 K) after the advised `--reference-nodata 0 --reference-scale 0.1`.
A value within FILL_REL_TOL of the candidate now counts as it, and the advice is a threshold
(one declared fill value would leave the rest of the plateau as data)."""
import contextlib
import io
import re
import warnings

import numpy as np
import pytest
import xarray as xr

from xlstsr import cli
from xlstsr.errors import UndeclaredFillError
from xlstsr.evaluate import evaluate
from xlstsr.validate import decode_lst, suspect_fill

N = 64


def _scene(seed=0):
    """A 305 K scene whose left 8 columns (12.5 %) hold a 200 K fill resampled: 200 minus up
    to 0.001 K (as ASTER's 1999.9995..2000 x 0.1), 2000 pixels' worth of distinct values, and a
    column of pixels mixed between the fill and the scene beside it."""
    rng = np.random.default_rng(seed)
    k = 305.0 + 3.0 * rng.standard_normal((N, N))
    k[:, :8] = 200.0 - 0.001 * rng.random((N, 8))
    k[:, 8] = 200.0 + (k[:, 9] - 200.0) * rng.uniform(0.2, 0.8, N)  # mixed with the fill
    return k


def _grid(values, attrs=None):
    return xr.DataArray(
        values[None], dims=("time", "y", "x"),
        coords={"time": [np.datetime64("2020-07-01")],
                "y": 5.5e6 - 125 - 250 * np.arange(N), "x": 4e5 + 125 + 250 * np.arange(N)},
        attrs=attrs or {}).rio.write_crs("EPSG:32631")


def test_suspect_fill_finds_a_resampled_plateau():
    k = _scene()
    plateau = k[:, :8]
    _, counts = np.unique(plateau, return_counts=True)
    assert counts.max() / k.size < 0.05  # no exact value on FILL_SHARE: the old rule missed it
    hit = suspect_fill(k)
    assert hit is not None
    assert hit[0] == pytest.approx(200.0, abs=0.002)
    assert hit[1] == pytest.approx(8 / N, abs=1e-9)  # the whole plateau, not its mode alone


@pytest.mark.parametrize("case", ["quantised", "cold_cloud", "uniform", "two_level"])
def test_suspect_fill_leaves_real_temperatures(case):
    rng = np.random.default_rng(1)
    k = 300.0 + 4.0 * rng.standard_normal(20_000)
    if case == "quantised":  # MODIS DN x 0.02 with a cold tail: steps of 0.02 K, no plateau
        k[:2000] = 230.0 + 5.0 * rng.standard_normal(2000)
        k = np.round(k / 0.02) * 0.02
    elif case == "cold_cloud":  # 10 % of cloud tops spread over 220-240 K
        k[:2000] = rng.uniform(220.0, 240.0, 2000)
    elif case == "uniform":
        k[:] = 300.0
    else:  # a lake at one value next to land a few K warmer: not far below the rest
        k[:3000] = 295.0
    assert suspect_fill(k) is None


def test_evaluate_refuses_the_plateau_and_its_advice_works():
    ref = _grid(_scene())
    sr = _grid(305.0 + np.zeros((N, N)), {"units": "K"})
    with pytest.raises(UndeclaredFillError) as e:
        evaluate(sr, ref)
    msg = str(e.value)
    assert "plateau" in msg and "199.999" in msg and "200" in msg
    m = re.search(r"valid_min=(\d+), erode=(\d+), clear=True", msg)
    assert m is not None, msg
    assert "--valid-min" in msg  # the command line's flags too
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = evaluate(sr, ref, valid_min=float(m.group(1)), erode=int(m.group(2)), clear=True)
    assert out["rmse"].item() < 10  # the scene's 3 K spread, not the 105 K of the fill


def test_lst_plateau_advice_is_a_threshold_that_works():
    # stored as Kelvin x 10 (scale_factor 0.1): the advice is in stored values
    lst = _grid(_scene() * 10, {"scale_factor": 0.1})
    with pytest.raises(UndeclaredFillError) as e:
        decode_lst(lst)
    msg = str(e.value)
    m = re.search(r"`da = da\.where\(da > ([\d.]+)\)`", msg)
    assert m is not None, msg
    # one declared or `!=` value would leave the rest of the plateau as data
    assert "_FillValue'] = 2000" not in msg and "da != " not in msg
    da = lst.where(lst > float(m.group(1)))
    out = decode_lst(da, mask_out_of_range=True)
    assert float(out.min()) > 200.5


def test_aster_pair_refused_then_scored_as_advised(shared_data, tmp_path):
    s = shared_data / "modis_aster"
    sr, ref, csv = tmp_path / "sr.tif", str(s / "001_aster_lst_250m.tif"), tmp_path / "m.csv"
    quiet = io.StringIO()
    with contextlib.redirect_stderr(quiet), contextlib.redirect_stdout(quiet):
        assert cli.main(["upscale", str(s / "001_modis_lst_1km.tif"), str(sr)]) == 0
    base = ["evaluate", str(sr), ref, str(csv), "--overwrite",
            "--reference-nodata", "0", "--reference-scale", "0.1"]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(err):
        rc = cli.main(base)
    assert rc != 0  # before: rc 0, RMSE 14.8 K on the 200 K plateau
    m = re.search(r"`(--valid-min \d+ --erode 3 --clear)` on the command line", err.getvalue())
    assert m is not None and "plateau" in err.getvalue(), err.getvalue()
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(base + m.group(1).split()) == 0
    rmse = float(csv.read_text().splitlines()[1].split(",")[0])
    assert rmse < 4.0


def test_plateau_of_an_unscaled_reference_is_named_after_its_scale():
    """K x 10 without units holding a resampled 2000 plateau: `valid_min=2001` "in Kelvin" was
    advised first (the stored number), and followed with the scale asked next, every pixel was
    masked. The scale's advice comes first; once given, the plateau's threshold is 201 K."""
    from xlstsr.errors import XlstsrError

    rng = np.random.default_rng(3)
    truth = (300 + 5 * rng.standard_normal((64, 64))).astype(np.float32)

    def grid(v, attrs=None):
        return xr.DataArray(v, dims=("y", "x"),
                            coords={"y": 4e6 - 1000 * np.arange(64) - 500.0,
                                    "x": 5e5 + 1000 * np.arange(64) + 500.0},
                            attrs=attrs or {}).rio.write_crs(32633)

    sr = grid(truth + rng.standard_normal((64, 64)).astype(np.float32), {"units": "K"})
    r10 = (truth * 10).astype(np.float32)
    r10[:10] = 2000 - 0.015 * rng.random((10, 64))
    with pytest.raises(XlstsrError, match=r"reference_scale=0\.1") as first:
        evaluate(sr, grid(r10))
    assert "valid_min" not in str(first.value)
    with pytest.raises(UndeclaredFillError, match=r"valid_min=201\b") as second:
        evaluate(sr, grid(r10), reference_scale=0.1)
    v = float(re.search(r"valid_min=([\d.]+)", str(second.value))[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = evaluate(sr, grid(r10), reference_scale=0.1, valid_min=v, erode=3, clear=True)
    assert 0.5 < float(out["rmse"]) < 2.0
