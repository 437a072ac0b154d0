"""Session 33 (l): a multi-band guide's quantity bands matched with an LST's dates by band
number, raster-only NDVI advice for a Dataset/dict guide, bands of a dict on different dates."""
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xlstsr
from tests.helpers import bands_on_different_dates
from xlstsr.errors import GuideTimeError, XlstsrError


@pytest.fixture(scope="module")
def scene():
    return xlstsr.datasets.sample_scene(n_times=4, size=32, seed=3)


def _bands(scene, n_lst):
    lst = scene["lst_1km"].isel(time=slice(0, n_lst))
    lst = lst.rename(time="band").assign_coords(band=np.arange(1, n_lst + 1))
    ndvi = scene["ndvi_250m"]
    red, nir = (0.08 - 0.05 * ndvi).astype("float32"), (0.25 + 0.2 * ndvi).astype("float32")
    g = xr.concat([red, nir, ndvi], dim=pd.Index([1, 2, 3], name="band"))
    return lst, g.rio.write_crs(ndvi.rio.crs)


@pytest.mark.parametrize("how", ["band_description", "long_name"])
def test_quantity_bands_not_matched_with_lst_dates(scene, how):
    lst, g = _bands(scene, 2)
    if how == "band_description":
        g = g.assign_coords(band_description=("band", ["red", "nir", "ndvi"]))
    else:
        g = g.assign_attrs(long_name=("red", "nir", "ndvi"))
    with pytest.raises(GuideTimeError, match="quantities, not dates") as e:
        xlstsr.upscale(lst, 4, "dms", guide=g, guide_offset="ignore")
    msg = str(e.value)
    assert "--guide-band 3" in msg
    # the advice runs: the NDVI band for every date, or the bands as channels
    sel = re.search(r"`guide = (guide\.sel\([^`]*\))`", msg).group(1)
    out = xlstsr.upscale(lst, 4, "dms", guide=eval(sel, {"guide": g}), guide_offset="ignore")
    assert out.sizes["band"] == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = xlstsr.upscale(lst.rename(band="time"), 4, "dms", guide=g, guide_offset="ignore")
    assert out.sizes["time"] == 2


def test_band_counts_differ_refused_same_count_per_date_kept(scene):
    lst, g = _bands(scene, 2)
    with pytest.raises(GuideTimeError, match="3 bands and the LST 2"):
        xlstsr.upscale(lst, 4, "dms", guide=g, guide_offset="ignore")
    # one unlabelled NDVI band per date, as many as the LST's: matched by band number
    per_date = g.isel(band=[2, 2]).assign_coords(band=[1, 2])
    out = xlstsr.upscale(lst, 4, "dms", guide=per_date, guide_offset="ignore")
    assert out.sizes["band"] == 2


@pytest.mark.parametrize("form", ["Dataset", "dict", "list"])
def test_reflectance_advice_runs_on_the_guide_form(scene, form):
    lst, ndvi = scene["lst_1km"].isel(time=0), scene["ndvi_250m"]
    crs = ndvi.rio.crs
    red = (0.08 - 0.05 * ndvi).astype("float32").rio.write_crs(crs).rename("red")
    nir = (0.25 + 0.2 * ndvi).astype("float32").rio.write_crs(crs).rename("nir")
    guide = {"Dataset": xr.Dataset({"red": red, "nir": nir}).rio.write_crs(crs),
             "dict": {"red": red, "nir": nir}, "list": [red, nir]}[form]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(XlstsrError, match="not reflectances") as e:
            xlstsr.upscale(lst, 4, "disr", guide=guide, guide_offset="ignore")
    code = re.search(r"Compute it from the red and NIR bands, `([^`]*)`", str(e.value)).group(1)
    env = {"guide": guide}
    exec(code, env)
    np.testing.assert_allclose(env["ndvi"].values, ((nir - red) / (nir + red)).values, rtol=1e-6)



def test_dict_bands_on_different_dates_matched_each_with_tolerance(scene):
    lst, nd16, al8 = bands_on_different_dates(scene)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = xlstsr.upscale(lst, 4, "dms", guide={"ndvi": nd16, "albedo": al8},
                             guide_offset="ignore", guide_time_tolerance="15D")
        # each band's latest step on or before each LST date, by hand
        by_hand = {k: v.sel(time=lst.time.values, method="ffill").assign_coords(
            time=lst.time.values) for k, v in (("ndvi", nd16), ("albedo", al8))}
        want = xlstsr.upscale(lst, 4, "dms", guide=by_hand, guide_offset="ignore")
    np.testing.assert_array_equal(got.values, want.values)


def test_dict_bands_on_different_dates_without_tolerance_names_band(scene):
    lst, nd16, al8 = bands_on_different_dates(scene)
    with pytest.raises(GuideTimeError, match="guide band 'ndvi'"):
        xlstsr.upscale(lst, 4, "dms", guide={"ndvi": nd16, "albedo": al8},
                       guide_offset="ignore")


def test_dataset_of_bands_on_different_dates_warning_names_the_cause(scene):
    """A Dataset of bands on different dates is merged on the union of dates, each band NaN on
    the other's: the empty-band warning said only "all cloud?" and advised the tolerance the
    user had set; it names the cause and the dict form now."""
    lst, nd16, al8 = bands_on_different_dates(scene)
    ds = xr.Dataset({"ndvi": nd16, "albedo": al8})
    with pytest.warns(UserWarning, match=r"Another band has data there.*as a dict"):
        xlstsr.upscale(lst, 4, "dms", guide=ds, guide_offset="ignore",
                       guide_time_tolerance="15D")
