"""Review 49f findings 1-4: a Dataset guide read back from netCDF (its grid mapping a data
variable) gets grid advice that keeps its CRS when followed; the edge-step warning beside gaps
only the thresholds make advises the thresholds / clear, not a larger erode (which looped);
rioxarray's None band description is no label 'None'; a guide stacked from two files' bands
is not labelled with the first file's descriptions."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import xarray as xr
from test_guide_eval49 import RING, _grid, _scene

import xlstsr
from xlstsr.errors import GridError
from xlstsr.guide import guide_labels


def _codes(msg: str) -> list[str]:
    return re.findall(r"`([^`]+)`", msg)


# -- 49f/1: grid advice for a Dataset guide read with xr.open_dataset ---------------------------

def _irregular_nc(tmp_path, case: str) -> xr.Dataset:
    """A Dataset guide written to netCDF and read back with ``xr.open_dataset`` (its
    ``spatial_ref`` a data variable), one x label moved 60 m; ``case``: one band, a time dim,
    or two bands with a scalar CF ``crs`` variable as their grid mapping."""
    _, ndvi = _scene()
    x = ndvi.x.values.copy()
    x[10] += 60.0
    nd = ndvi.assign_coords(x=x)
    if case == "time":
        nd = xr.concat([nd, nd + 0.01], "time").assign_coords(
            time=np.array(["2020-07-01", "2020-07-02"], "datetime64[ns]"))
    ds = nd.to_dataset(name="ndvi")
    if case == "crs":
        wkt = ds["spatial_ref"].attrs["crs_wkt"]
        ds = ds.drop_vars("spatial_ref")
        ds["dem"] = ds["ndvi"] * 100 + 50.0
        ds["crs"] = xr.DataArray(0, attrs={"crs_wkt": wkt, "spatial_ref": wkt})
        for k in ("ndvi", "dem"):
            ds[k].encoding["grid_mapping"] = "crs"
    path = tmp_path / f"guide_{case}.nc"
    ds.to_netcdf(path)
    return xr.open_dataset(path)


@pytest.mark.parametrize("case", ["one", "time", "crs"])
def test_netcdf_dataset_guide_grid_advice_keeps_its_crs(tmp_path, case):
    lst, _ = _scene()
    ds = _irregular_nc(tmp_path, case)
    gm = "crs" if case == "crs" else "spatial_ref"
    assert gm in ds.data_vars  # the grid mapping a data variable, as open_dataset gives it
    if case == "time":
        lst = xr.concat([lst, lst + 0.5], "time").assign_coords(time=ds.time.values)
    with pytest.raises(GridError) as err:
        xlstsr.upscale(lst, 4, "dms", guide=ds)
    msg = str(err.value)
    codes = [c for c in _codes(msg) if "interp" in c]
    assert codes, msg
    ns = {"guide": ds, "np": np, "xlstsr": xlstsr}
    for c in codes:
        exec(c, ns)
    guide = ns["guide"]
    out = xlstsr.upscale(lst, 4, "dms", guide=guide)  # was MissingCRSError
    assert out.sizes["x"] == 4 * lst.sizes["x"]
    assert isinstance(guide, xr.Dataset) and gm in guide.variables  # the whole Dataset
    for k in ["ndvi"] + (["dem"] if case == "crs" else []):
        assert float(np.ptp(np.diff(guide[k].x.values))) < 1e-6
        assert not bool(guide[k].isnull().all("y").any())


def test_netcdf_dataset_bands_advised_apart_keep_their_crs(tmp_path):
    """Two bands each with its own declared fill: their codes differ, so each goes on its own
    field, the fields taken with their grid mapping."""
    lst, ndvi = _scene()
    x = ndvi.x.values.copy()
    x[10] += 60.0
    a = (ndvi.assign_coords(x=x) * 10000).round().astype("int16")
    a.attrs = {}  # two bands of counts, neither declared NDVI
    ds = xr.Dataset({"b1": a, "b2": (a // 10 + 100).astype("int16")})
    for k, fill in (("b1", -3000), ("b2", -9999)):
        ds[k].encoding.update(_FillValue=fill, grid_mapping="spatial_ref")
    path = tmp_path / "guide_fills.nc"
    ds.to_netcdf(path)
    g = xr.open_dataset(path, mask_and_scale=False)
    g = g.reset_coords("spatial_ref") if "spatial_ref" in g.coords else g
    assert "spatial_ref" in g.data_vars
    with pytest.raises(GridError) as err:
        xlstsr.upscale(lst, 4, "dms", guide=g)
    msg = str(err.value)
    codes = [c for c in _codes(msg) if "interp" in c]
    assert len(codes) == 2, msg
    ns = {"guide": g, "np": np, "xlstsr": xlstsr}
    for c in codes:
        exec(c, ns)
    guide = ns["guide"]
    assert all(guide[k].rio.crs is not None for k in ("b1", "b2"))
    out = xlstsr.upscale(lst, 4, "dms", guide=guide)
    assert out.sizes["x"] == 4 * lst.sizes["x"]


# -- 49f/2: the edge step beside gaps only the thresholds make -----------------------------------

def _undeclared_scene(n: int = 128):
    """Stored K x 10 with an undeclared 0 fill outside a square scene whose 2 outer pixels are
    mixed under valid_min and the next one 3 % (about 9 K colder); sr in K."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:n, 0:n] / n
    t = 305 + 6 * np.sin(6 * x) * np.cos(4 * y) + rng.normal(0, 1.0, (n, n))
    yy, xx = np.mgrid[0:n, 0:n] - (n - 1) / 2
    depth = 0.42 * n - np.maximum(np.abs(xx), np.abs(yy))
    mix = np.select([depth < 2, depth < 3], [0.6, 0.97], 1.0)
    stored = np.where(depth > 0, mix * t, 0.0) * 10
    sr = _grid(t + rng.normal(0, 1.0, t.shape))
    sr.attrs["units"] = "K"
    return _grid(np.round(stored).astype("int16")), sr


def _ring_warnings(sr, ref, **kw):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        ds = xlstsr.evaluate(sr, ref, **kw)
    return ds, [str(w.message) for w in rec if RING in str(w.message)]


def test_edge_step_beside_threshold_gaps_advice_runs_until_silent():
    ref, sr = _undeclared_scene()
    kw = {"reference_scale": 0.1, "valid_min": 230, "erode": 1}
    ds, w = _ring_warnings(sr, ref, **kw)
    assert len(w) == 1 and "4-5 px further in" in w[0], w
    assert "larger erode" not in w[0] and "clear=True" in w[0], w[0]
    first = float(ds["rmse"])
    for _ in range(3):  # follow each advice given: declare the fill, clear=True, erode
        if not w:
            break
        if "reference_nodata=0" in w[0]:
            kw["reference_nodata"] = 0
        if "clear=True" in w[0]:
            kw["clear"] = True
        grown = re.findall(r"erode=(\d+)\) to drop", w[0])
        if grown:
            kw["erode"] = int(grown[0])
        ds, w = _ring_warnings(sr, ref, **kw)
    assert w == [], (kw, w)
    assert float(ds["rmse"]) < first - 0.5


# -- 49f/3, 4: band descriptions from rioxarray -------------------------------------------------

def _tif(tmp_path, name: str, descriptions: list[str | None]):
    rasterio = pytest.importorskip("rasterio")
    rioxarray = pytest.importorskip("rioxarray")
    _, ndvi = _scene()
    n = len(descriptions)
    g = xr.concat([ndvi * (k + 1) for k in range(n)], "band").assign_coords(
        band=np.arange(1, n + 1))
    g.attrs.pop("long_name", None)  # else written (or its name) as every band's description
    g.name = None
    path = str(tmp_path / name)
    g.rio.to_raster(path)
    with rasterio.open(path, "r+") as f:
        for k, d in enumerate(descriptions, start=1):
            if d is not None:
                f.set_band_description(k, d)
    return rioxarray.open_rasterio(path)


def test_undescribed_band_is_no_label_none(tmp_path):
    g = _tif(tmp_path, "partial.tif", ["red", None, "nir"])
    assert tuple(g.attrs["long_name"])[1] is None  # rioxarray's own reading
    assert guide_labels(g) == [None, None, None]
    assert guide_labels(g.isel(band=1)) == [None]


def test_bands_stacked_from_two_files_take_no_file_descriptions(tmp_path):
    a = _tif(tmp_path, "a.tif", ["red", "ndvi", "nir"])
    b = _tif(tmp_path, "b.tif", ["dem", "slope"])
    stack = xr.concat([a.sel(band=[2]), b.sel(band=[1])], "band")
    assert list(stack.band.values) == [2, 1]
    assert guide_labels(stack) == [None, None]  # was ['ndvi', 'red']
    # one file's bands, reordered, keep their descriptions
    assert guide_labels(a.isel(band=[2, 0, 1])) == ["nir", "red", "ndvi"]
