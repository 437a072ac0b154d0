"""comparison and truth_maps refuse a result out of the physical range as evaluate refuses it
(the coarse input's out-of-range pixels stay masked, as upscale masks them), name the refused
result, and compare a one-row (or one-column) input with the results' ground."""

import warnings

import matplotlib
import numpy as np
import pytest
import xarray as xr
from affine import Affine

import xlstsr
from xlstsr import plot
from xlstsr.errors import GridError, PhysicalRangeError, UnitsError

matplotlib.use("Agg")


def _field(n: int, px: float, *, rows: int | None = None, y0: float = 5_000_000) -> xr.DataArray:
    """A north-up UTM field of ``rows`` x ``n`` pixels with its transform written."""
    rows = n if rows is None else rows
    y = y0 - (np.arange(rows) + 0.5) * px
    x = 1_000_000 + (np.arange(n) + 0.5) * px
    v = 300.0 + 5 * np.linspace(1, 0, rows)[:, None] + np.linspace(0, 2, n)[None, :]
    da = xr.DataArray(v, dims=("y", "x"), coords={"y": y, "x": x}, attrs={"units": "K"})
    return da.rio.write_crs("EPSG:32631").rio.write_transform(
        Affine(px, 0, 1_000_000, 0, -px, y0))


@pytest.fixture(scope="module")
def fields():
    return _field(8, 1000.0), _field(32, 250.0), _field(32, 250.0)


def _broken(result: xr.DataArray) -> xr.DataArray:
    bad = result.copy()
    bad[:10, :] = 450.0  # a third of the scene diverged, above the 400 K limit
    return bad


@pytest.mark.parametrize("draw", ["comparison", "truth_maps"])
def test_out_of_range_result_refused_as_evaluate_refuses_it(fields, draw):
    coarse, result, truth = fields
    bad = _broken(result)
    with pytest.raises(PhysicalRangeError):
        xlstsr.evaluate(bad, truth)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(PhysicalRangeError, match="result 'broken'"):
            # before: drawn blank over the broken band, as if cloud, without a word
            getattr(plot, draw)(coarse, {"ok": result, "broken": bad}, truth)


@pytest.mark.parametrize("draw", ["comparison", "truth_maps"])
def test_out_of_range_coarse_pixels_still_masked(fields, draw):
    coarse, result, truth = fields
    hot = coarse.copy()
    hot[:4, :] = 450.0  # the input's out-of-range pixels are left out, as upscale masks them
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = getattr(plot, draw)(hot, {"m": result}, truth)
    ax = next(a for a in fig.axes if a.get_title() == "input")
    img = np.ma.filled(np.ma.asarray(ax.images[0].get_array()).astype(float), np.nan)
    # left out (comparison: blank; truth_maps: cropped to where the input is valid), not refused
    assert np.isfinite(img).any() and np.nanmax(img) < 400.0


@pytest.mark.parametrize("draw", ["comparison", "truth_maps"])
def test_refused_result_named_with_python_advice(fields, draw):
    coarse, result, truth = fields
    celsius = (result - 273.15).assign_attrs(units="")
    with pytest.raises(UnitsError) as e:
        getattr(plot, draw)(coarse, {"bicubic": result, "mine": celsius}, truth)
    msg = str(e.value)
    # before: "the LST ... (`--units degC` / `--units K` on the command line)"
    assert "result 'mine'" in msg
    assert "attrs['units']" in msg and "--units" not in msg


@pytest.mark.parametrize("axis", ["y", "x"])
def test_one_row_or_column_input_beside_other_ground_refused(axis):
    coarse = _field(8, 1000.0)
    far = _field(32, 250.0, y0=5_000_000 - 26_000)  # 26 km south
    strip = coarse.isel({axis: slice(2, 3)})
    result = far.isel({axis: slice(8, 12)})
    assert strip.sizes[axis] == 1
    with pytest.raises(GridError, match="do not cover the same ground"):
        # before: a one-row / one-column input was not compared (no step between labels)
        plot.comparison(strip, result)


@pytest.mark.parametrize("axis", ["y", "x"])
def test_one_row_or_column_input_of_same_ground_drawn(axis):
    coarse, result = _field(8, 1000.0), _field(32, 250.0)
    strip = coarse.isel({axis: slice(2, 3)})
    fig = plot.comparison(strip, {"m": result.isel({axis: slice(8, 12)})})
    assert [a.get_title() for a in fig.axes][:2] == ["input", "m"]


def test_one_row_input_without_transform_not_compared():
    # no transform and one label: its pixel size is unknown, so it is not compared (as a
    # field without labels), not refused on a guess
    coarse = _field(8, 1000.0).isel(y=slice(2, 3)).drop_vars("spatial_ref")
    result = _field(32, 250.0).isel(y=slice(8, 12)).drop_vars("spatial_ref")
    plot.comparison(coarse, result)


@pytest.mark.parametrize("rows", [1, 4])
def test_one_row_input_with_a_finer_grids_transform_not_refused(rows):
    # review 41b: xarray's coarsen keeps the fine grid's stored transform; a one-row (or
    # one-pixel) input of 1000 m pixels read as 250 m ones was refused beside its own result
    fine = _field(32, 250.0, rows=rows)
    coarse = fine.coarsen(y=rows, x=4).mean()
    coarse.attrs["units"] = "K"
    assert coarse.sizes["y"] == 1
    fig = plot.comparison(coarse, {"m": fine})
    assert [a.get_title() for a in fig.axes][:2] == ["input", "m"]
