"""review33g: a guide of one NDVI band per LST date described per date in other forms than an
8-digit date refused as quantities, the one-band wording of that refusal, the guide-gaps advice
for a merged Dataset, to_cogs' unpadded-name refusal wording."""
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xlstsr
from tests.helpers import bands_on_different_dates
from xlstsr.errors import GuideTimeError, XlstsrError
from xlstsr.io.cog import to_cogs


@pytest.fixture(scope="module")
def scene():
    return xlstsr.datasets.sample_scene(n_times=4, size=32, seed=3)


def _per_date(scene, n=3):
    lst = scene["lst_1km"].isel(time=slice(0, n)).rename(time="band")
    lst = lst.assign_coords(band=np.arange(1, n + 1))
    ndvi = scene["ndvi_250m"]
    g = xr.concat([ndvi * (1 - 0.05 * i) for i in range(n)],
                  dim=pd.Index(np.arange(1, n + 1), name="band"))
    return lst, g.rio.write_crs(ndvi.rio.crs)


@pytest.mark.parametrize("desc", [
    ["NDVI_A2020153", "NDVI_A2020161", "NDVI_A2020169"],  # MODIS day of year
    ["0_NDVI", "1_NDVI", "2_NDVI"],  # Earth Engine toBands
    ["NDVI doy 153", "NDVI doy 161", "NDVI doy 169"],
])
@pytest.mark.parametrize("how", ["band_description", "long_name"])
def test_per_date_ndvi_bands_matched_by_band_number(scene, desc, how):
    lst, plain = _per_date(scene)
    g = (plain.assign_coords(band_description=("band", desc)) if how == "band_description"
         else plain.assign_attrs(long_name=tuple(desc)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = xlstsr.upscale(lst, 4, "dms", guide=g, guide_offset="ignore")
        # the same bands undescribed: matched by band number, as before
        want = xlstsr.upscale(lst, 4, "dms", guide=plain, guide_offset="ignore")
    np.testing.assert_array_equal(got.values, want.values)


def test_day_number_labels_on_both_sides_matched_by_label(scene):
    lst, g = _per_date(scene)
    days = [153, 161, 169]
    lst = lst.assign_coords(band=days)
    g = g.assign_coords(band=days, band_description=(
        "band", [f"NDVI doy {d}" for d in days]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = xlstsr.upscale(lst, 4, "dms", guide=g, guide_offset="ignore")
    assert out["band"].values.tolist() == days


def test_quantity_words_still_refused(scene):
    lst, g = _per_date(scene, 2)
    g = g.assign_coords(band_description=("band", ["NDVI", "albedo"]))
    with pytest.raises(GuideTimeError, match="quantities, not dates"):
        xlstsr.upscale(lst, 4, "dms", guide=g, guide_offset="ignore")


def test_one_band_guide_refusal_reads_for_one_band(scene):
    lst, g = _per_date(scene)
    g = g.isel(band=[0])
    with pytest.raises(GuideTimeError) as e:
        xlstsr.upscale(lst, 4, "dms", guide=g, guide_offset="ignore")
    msg = str(e.value)
    assert "single 'band' band" in msg and "the guide has one band and the LST 3" in msg
    assert not re.search(r"\b1 'band' bands|has 1 bands|band 2 band 2", msg)
    sel = re.search(r"`guide = (guide\.sel\([^`]*\))`", msg).group(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = xlstsr.upscale(lst, 4, "dms", guide=eval(sel, {"guide": g}), guide_offset="ignore")
    assert out.sizes["band"] == 3


def test_gaps_advice_on_merged_dataset_gives_the_unmerged_result(scene):
    lst, nd16, al8 = bands_on_different_dates(scene)
    ds = xr.Dataset({"ndvi": nd16, "albedo": al8})
    kw = dict(guide_offset="ignore", guide_time_tolerance="15D")
    with pytest.warns(UserWarning, match="Another band has data there") as rec:
        xlstsr.upscale(lst, 4, "dms", guide=ds, **kw)
    msg = next(str(w.message) for w in rec if "Another band" in str(w.message))
    code = re.search(r"`guide=([^`]*)`", msg).group(1)
    guide = eval(code, {"ds": ds})
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        got = xlstsr.upscale(lst, 4, "dms", guide=guide, **kw)
    assert not [x for x in w if "no valid pixel" in str(x.message)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = xlstsr.upscale(lst, 4, "dms", guide={"ndvi": nd16, "albedo": al8}, **kw)
    np.testing.assert_array_equal(got.values, want.values)


def _series(labels):
    n = len(labels)
    a = xr.DataArray(np.full((n, 8, 8), 300, "float32") + np.arange(n)[:, None, None],
                     dims=("month", "y", "x"),
                     coords={"month": labels, "y": np.arange(8.0)[::-1] * 1000,
                             "x": np.arange(8.0) * 1000}, attrs={"units": "K"}, name="lst")
    return a.rio.write_crs("EPSG:32631")


def test_to_cogs_unpadded_refusal_names_a_shorter_series(tmp_path):
    to_cogs(_series([1, 2, 3]), tmp_path, prefix="lst", time_dim="month")
    with pytest.raises(XlstsrError, match="unpadded name") as e:
        to_cogs(_series(list(range(1, 13))), tmp_path, prefix="lst", time_dim="month")
    msg = str(e.value)
    assert "shorter series" in msg and "the unpadded name an earlier xlstsr gave it" not in msg
