"""Corpus 34 (a): advice that did not work when followed, and errors that named the wrong cause.

- scaling_stats of an empty selection: a raw reshape ValueError or "all NaN" advice, where
  upscale says "the LST is empty ... check the selection";
- a 0..360 lon grid crossing Greenwich was told to `% 360` (a no-op there), under the name
  'lon' whatever the dim is called;
- a Dataset's `ds.rio.set_spatial_dims(...)` (the advice for row/col dims) was ignored;
- coarsen of lat/lon dims without a CRS advised a UTM CRS (refused when followed);
- evaluate(..., reference_scale=0) blamed the reference's 'scale_factor' attribute.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xlstsr
from tests.helpers import paste_da_advice
from xlstsr.errors import GridError, MissingCRSError, XlstsrError


@pytest.fixture(scope="module")
def scene():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xlstsr.datasets.sample_scene(n_times=2, size=64, cloud_fraction=0.0)




# -- 01: scaling_stats of an empty selection --------------------------------------------------

@pytest.mark.parametrize("radiometric", [True, False])
@pytest.mark.parametrize("case", ["rows", "columns", "steps"])
def test_scaling_stats_of_an_empty_selection_names_the_selection(scene, case, radiometric):
    da = scene["lst_1km"]
    sub = {"rows": lambda: da.sel(y=slice(float(da.y.min()), float(da.y.max()))),
           "columns": lambda: da.isel(x=slice(0, 0)),
           "steps": lambda: da.sel(time=slice("1990-01-01", "1990-02-01"))}[case]()
    assert 0 in sub.shape
    with pytest.raises(GridError, match="is empty") as upscale_err:
        sub.lstsr.upscale(4)
    with pytest.raises(GridError, match=r"is empty: 0 .* Check the selection") as err:
        sub.lstsr.scaling_stats(radiometric=radiometric)
    assert str(err.value) == str(upscale_err.value)


# -- 04: longitudes wrapped at Greenwich / at the antimeridian --------------------------------

def _lonlat(lon: np.ndarray, lon_name: str = "lon", lat_name: str = "lat") -> xr.DataArray:
    rng = np.random.default_rng(0)
    ny = 16
    lat = 40 + 0.01 * (ny - 1 - np.arange(ny)) + 0.005
    return xr.DataArray(
        (290 + 5 * rng.random((2, ny, lon.size))).astype("float32"),
        dims=("time", lat_name, lon_name),
        coords={"time": pd.date_range("2020-07-01", periods=2), lat_name: lat, lon_name: lon},
        name="LST", attrs={"units": "K"}).rio.write_crs(4326)


_GREENWICH = np.r_[359.955 + 0.01 * np.arange(5), 0.005 + 0.01 * np.arange(15)]
_ANTIMERIDIAN = np.r_[179.955 + 0.01 * np.arange(5), -179.995 + 0.01 * np.arange(15)]


@pytest.mark.parametrize("names", [("lon", "lat"), ("longitude", "latitude")])
@pytest.mark.parametrize("op", ["upscale", "coarsen"])
@pytest.mark.parametrize("lon, where", [(_GREENWICH, "prime meridian"),
                                        (_ANTIMERIDIAN, "antimeridian")])
def test_a_wrapped_longitude_advice_works_when_followed(lon, where, op, names):
    da = _lonlat(lon, *names)
    run = {"upscale": lambda a: a.lstsr.upscale(4), "coarsen": lambda a: a.lstsr.coarsen(2)}[op]
    with pytest.raises(GridError, match=where) as err:
        run(da)
    msg = str(err.value)
    assert f"'{names[0]}'" in msg and f"da['{names[0]}']" in msg, msg
    fixed = paste_da_advice(msg, da)
    assert fixed[names[0]].diff(names[0]).max() < 1  # no jump left
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = run(fixed)
    assert names[0] in out.dims and np.isfinite(out.values).all()


# -- 03: a Dataset's declared spatial dims ----------------------------------------------------

def test_spatial_dims_declared_on_a_dataset_are_kept(scene):
    ds = scene["lst_1km"].rename(y="row", x="col").to_dataset(name="LST")
    with pytest.raises(XlstsrError, match=r"ds\.rio|da\.rio\.set_spatial_dims\(x_dim='col'"):
        ds.lstsr.upscale(4)
    declared = ds.rio.set_spatial_dims(x_dim="col", y_dim="row")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = declared.lstsr.upscale(4)
        b = xlstsr.upscale(declared, 4)
        st = declared.lstsr.scaling_stats()
    assert a.dims == b.dims == ("time", "row", "col")
    assert a.sizes["col"] == 4 * ds.sizes["col"]
    assert "hurst" in st and st.sizes["time"] == ds.sizes["time"]


def test_a_dataset_declaration_is_not_forced_on_a_variable_without_those_dims(scene):
    from xlstsr.validate import select_lst

    ds = xr.Dataset({"LST": scene["lst_1km"].rename(y="row", x="col"),
                     "other": xr.DataArray(np.zeros(3), dims="k")})
    declared = ds.rio.set_spatial_dims(x_dim="col", y_dim="row")
    lst, _ = select_lst(declared, "LST")
    assert (lst.rio.y_dim, lst.rio.x_dim) == ("row", "col")
    other, _ = select_lst(declared, "other")
    assert other.dims == ("k",)


# -- 05: coarsen of lat/lon dims without a CRS ------------------------------------------------

def test_coarsen_latlon_without_crs_advises_wgs84_as_upscale():
    da = _lonlat(10 + 0.01 * np.arange(20) + 0.005).drop_vars("spatial_ref")
    assert da.rio.crs is None
    with pytest.raises(MissingCRSError) as up:
        da.lstsr.upscale(4)
    with pytest.raises(MissingCRSError, match="EPSG:4326") as co:
        da.lstsr.coarsen(2)
    assert "32631" not in str(co.value)
    assert str(co.value) == str(up.value)
    out = paste_da_advice(str(co.value), da).lstsr.coarsen(2)  # the advice, followed
    assert out.dims == ("time", "lat", "lon") and np.isfinite(out.values).all()


# -- 02: evaluate's reference_scale -----------------------------------------------------------

@pytest.mark.parametrize("scale", [0, -0.1, float("nan")])
def test_evaluate_names_a_bad_reference_scale_argument(scene, scale):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sr = xlstsr.upscale(scene["lst_1km"], 4)
    truth = scene["lst_250m"]
    assert "scale_factor" not in truth.attrs
    with pytest.raises(XlstsrError, match=r"reference_scale must be .*> 0") as err:
        sr.lstsr.evaluate(truth, reference_scale=scale)
    assert "attribute" not in str(err.value)
