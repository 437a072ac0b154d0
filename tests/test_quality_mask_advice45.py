"""The advice to mask a guide with its quality layers works when followed (probe 45g/01): it
named the first quality layer found, MOD13's VI_Quality in AppEEARS order, a bit field whose
``== 0`` keeps no land pixel."""

from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr

import xlstsr  # noqa: F401  (the accessor)
from xlstsr.datasets import sample_scene
from xlstsr.errors import XlstsrError


def _scene():
    ds = sample_scene(n_times=1, size=16)
    ndvi = ds["ndvi_250m"]
    return ds["lst_1km"].isel(time=0), ndvi.isel(time=0) if "time" in ndvi.dims else ndvi


def _layer(like, values, dtype, **attrs):
    out = like.copy(data=np.asarray(values).astype(dtype))
    out.attrs = attrs
    return out


def _appeears(ndvi, reliability=True):
    """MOD13Q1 as AppEEARS orders it: NDVI, EVI, VI_Quality (land: 2112-2184), then
    pixel_reliability (0 good, 1 marginal)."""
    rng = np.random.default_rng(0)
    dn = np.round(np.nan_to_num(ndvi.values, nan=0.2) * 10000)
    out = {
        "NDVI": _layer(ndvi, dn, np.int16, scale_factor=0.0001, _FillValue=-3000),
        "EVI": _layer(ndvi, dn * 0.6, np.int16, scale_factor=0.0001, _FillValue=-3000),
        "VI_Quality": _layer(ndvi, rng.choice([2112, 2113, 2116, 2117, 2148, 2180, 2181, 2184], dn.shape), np.uint16),
    }
    if reliability:
        out["pixel_reliability"] = _layer(ndvi, rng.choice([0, 0, 0, 1], dn.shape), np.int8)
    return xr.Dataset(out)


def _advised_mask(message):
    found = re.search(r"e\.g\. `([^`]*\.where\([^`]*\))`", message)
    assert found is not None, message
    return found.group(1)


@pytest.mark.parametrize("reliability", [True, False])
def test_dataset_quality_mask_advice_keeps_the_good_pixels(reliability):
    lst, ndvi = _scene()
    ds = _appeears(ndvi, reliability)
    with pytest.raises(XlstsrError, match="quality") as err:
        lst.lstsr.upscale(4, method="dms", guide=ds, guide_offset="ignore")
    expr = _advised_mask(str(err.value))
    masked = eval(expr, {"ds": ds})  # as the user runs it
    kept = float(np.isfinite(masked.values.astype(float)).mean())
    if reliability:
        assert "pixel_reliability" in expr
        want = float((ds["pixel_reliability"].values == 0).mean())
    else:
        assert "VI_Quality" in expr
        want = float((ds["VI_Quality"].values % 4 == 0).mean())
    assert want > 0.5 and kept == pytest.approx(want)


def test_raster_quality_mask_advice_names_the_reliability_band():
    lst, ndvi = _scene()
    ds = _appeears(ndvi)
    names = ["NDVI", "VI_Quality", "pixel_reliability"]
    bands = [ds[k].astype("int16") for k in names]
    for b in bands:
        b.attrs = {}  # the raster's per-band scales below say how each is stored
    guide = xr.concat(bands, "band")
    guide = guide.rename(None).assign_coords(band=[1, 2, 3]).assign_attrs(
        long_name=("250m 16 days NDVI", "250m 16 days VI Quality",
                   "250m 16 days pixel reliability"),
        scales=(0.0001, 1.0, 1.0), offsets=(0.0, 0.0, 0.0), _FillValue=-3000)
    with pytest.raises(XlstsrError, match="quality") as err:
        lst.lstsr.upscale(4, method="dms", guide=guide, guide_offset="ignore")
    expr = _advised_mask(str(err.value))
    assert "band=3" in expr
    masked = eval(expr, {"guide": guide})
    kept = float(np.isfinite(masked.values.astype(float)).mean())
    assert kept == pytest.approx(float((ds["pixel_reliability"].values == 0).mean()))
