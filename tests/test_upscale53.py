"""Review 53 (fix A): upscale's input grid, its all-NaN advice, nearest under a scale-correction
law and the coordinates it drops.

1. An edge-padded LST whose other axis had its labels dropped (as the refusal of that axis
   advised) was placed by the unpadded transform along both axes: every pixel moved a coarse
   pixel, without a word. Each labelled axis is now checked, and an axis is told to be dropped
   only where every labelled axis fits the transform.
2. The all-NaN advice named a 'time' dim that a single image or a 'date' cube lacks.
3. nearest under scale_correction='auto' fitted the law for nothing and recorded 'auto'.
4. 2-D lat/lon coordinates were dropped without a word.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import rioxarray
import xarray as xr
from helpers import make_lst, paste_da_advice

import xlstsr
from xlstsr import errors
from xlstsr.errors import AllNaNError, GridError


def _lst(ny: int = 24, nx: int = 20, seed: int = 0) -> xr.DataArray:
    """A textured LST with its transform written in its grid mapping (as a GeoTIFF read)."""
    rng = np.random.default_rng(seed)
    da = make_lst(290 + rng.normal(0, 3, (ny, nx)), units="K")
    return da.rio.write_transform(da.rio.transform(recalc=True))


def _upscale(da: xr.DataArray, **kw) -> xr.DataArray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xlstsr.upscale(da, 4, "bicubic", **kw)


def _follow(da: xr.DataArray, tries: int = 3) -> tuple[xr.DataArray, list[str]]:
    """Upscale ``da``, pasting each grid refusal's advice until it is accepted."""
    said = []
    for _ in range(tries):
        try:
            return _upscale(da), said
        except GridError as err:
            said.append(str(err))
            da = paste_da_advice(str(err), da)
    raise AssertionError(f"still refused after following the advice: {said}")


def _same_place(out: xr.DataArray, ref: xr.DataArray, margin: int = 8) -> None:
    """The result of a padded LST holds the unpadded one's values at the same coordinates
    (away from the pad, which bicubic's support reaches)."""
    inner = ref.isel(y=slice(margin, -margin), x=slice(margin, -margin))
    got = out.sel(y=inner.y, x=inner.x, method="nearest", tolerance=1e-3)
    np.testing.assert_allclose(got.values, inner.values, atol=1e-4)


# -- 1. every labelled axis is checked; drop advice only where all of them fit ------------------


def test_edge_pad_along_x_with_y_dropped_is_refused_not_moved():
    lst = _lst()
    padded = lst.pad(x=(1, 0), mode="edge").drop_vars("y")
    with pytest.raises(GridError, match="'x' coordinates repeat") as err:
        _upscale(padded)
    assert "drop_vars" not in str(err.value)  # the transform is of the unpadded grid
    out, _ = _follow(padded)
    _same_place(out, _upscale(lst))
    # scaling_stats, which refused it before, and upscale say the same
    with pytest.raises(GridError, match="'x' coordinates repeat"):
        xlstsr.scaling_stats(padded)


def test_edge_pad_of_both_axes_is_not_told_to_drop_either():
    lst = _lst()
    padded = lst.pad(x=(1, 1), y=(0, 2), mode="edge")
    out, said = _follow(padded)
    assert len(said) == 2 and not any("drop_vars" in s for s in said), said
    assert out.sizes == {"y": 26 * 4, "x": 22 * 4}
    _same_place(out, _upscale(lst))


def test_labels_that_fit_the_transform_still_get_the_drop_advice():
    lst = _lst()
    appended = xr.concat([lst, lst.isel(x=[-1])], dim="x")  # the last column's label repeated
    with pytest.raises(GridError, match="drop_vars") as err:
        _upscale(appended.drop_vars("y"))
    out = _upscale(paste_da_advice(str(err.value), appended.drop_vars("y")))
    _same_place(out, _upscale(lst))


def test_a_kept_axis_is_not_rebuilt_from_a_stale_transform():
    """y rebuilt from the transform, x kept as labelled (a crop whose transform was not
    rewritten): its labels are the truth."""
    lst = _lst()
    crop = lst.isel(x=slice(3, None))
    crop = crop.rio.write_transform(lst.rio.transform(recalc=True))  # the uncropped grid's
    out = _upscale(crop.drop_vars("y"))
    _same_place(out, _upscale(lst.isel(x=slice(3, None))))


def test_padded_real_pair_keeps_its_pixels_in_place(shared_data):
    path = shared_data / "modis_aster" / "001_modis_lst_1km.tif"
    if not path.is_file():
        pytest.skip(f"{path} is absent from the real data folder")
    lst = rioxarray.open_rasterio(path, mask_and_scale=True).squeeze("band", drop=True)
    ref = _upscale(lst)
    out, said = _follow(lst.pad(x=(1, 1), y=(0, 2), mode="edge"))
    assert not any("drop_vars" in s for s in said), said
    _same_place(out, ref)
    out, _ = _follow(lst.pad(x=(1, 0), mode="edge").drop_vars("y"))
    _same_place(out, ref)
    appended = xr.concat([lst, lst.isel(x=[-1])], dim="x")
    with pytest.raises(GridError, match="drop_vars"):  # labels that fit: dropped as before
        _upscale(appended)


# -- 2. the all-NaN advice names the input's own lead dim ---------------------------------------


def test_all_nan_image_is_told_to_be_skipped_not_dropna_time():
    img = _lst().copy(data=np.full((24, 20), np.nan))
    with pytest.raises(AllNaNError) as err:
        _upscale(img)
    text = str(err.value)
    assert "'time'" not in text and "skip it" in text
    code = re.search(r"`(bool\(da\.notnull\(\)\.any\(\)\))`", text)
    assert code and eval(code.group(1), {"da": img}) is False  # the test it gives skips it


def test_all_nan_cube_advice_names_its_date_dim():
    lst = _lst()
    gap = lst.copy(data=np.full((24, 20), np.nan))
    src = xr.concat([gap, gap, lst], dim="date").assign_coords(
        date=np.array(["2020-07-01", "2020-07-02", "2020-07-03"], "M8[ns]"))
    with pytest.raises(AllNaNError) as err:  # (one step of 'date' is one image: skip it, 53b)
        _upscale(src.isel(date=[0, 1]))
    text = str(err.value)
    assert "'time'" not in text
    code = re.search(r"`(src\.dropna\('date', how='all'\))`", text)
    assert code, text
    kept = eval(code.group(1), {"src": src})  # followed on the cube it came from
    assert kept.sizes["date"] == 1 and _upscale(kept).sizes["date"] == 1


# -- 3. nearest under a law: left as it is, said, recorded, the law not fitted -----------------


@pytest.mark.parametrize("method", ["nearest", "bicubic"])
def test_a_law_on_a_method_without_detail_is_said_recorded_and_not_fitted(monkeypatch, method):
    import xlstsr.correction

    def fitted(*args, **kwargs):
        raise AssertionError("the law was fitted on an output it leaves as it is")

    monkeypatch.setattr(xlstsr.correction, "_correct", fitted)
    lst = _lst(32, 32)
    plain = xlstsr.upscale(lst, 4, method)
    with pytest.warns(UserWarning, match=f"leaves method '{method}''s output as it is"):
        out = xlstsr.upscale(lst, 4, method, scale_correction="auto")
    np.testing.assert_array_equal(out.values, plain.values)
    assert out.attrs["xlstsr_scale_correction"] == "none"
    assert "scale_correction" not in out.attrs["history"]
    # a factor the laws cannot take is the same no-op, as it was for bicubic
    with pytest.warns(UserWarning, match="leaves method"):
        xlstsr.upscale(lst, 3, method, scale_correction="auto")


def test_nearest_under_auto_ignores_the_guide_with_a_warning(scene):
    lst, ndvi = scene["lst_1km"].isel(time=[0]), scene["ndvi_250m"]
    with pytest.warns(UserWarning, match="does not use a guide; it is ignored"):
        xlstsr.upscale(lst, 4, "nearest", guide=ndvi, scale_correction="auto")
    with pytest.raises(errors.XlstsrError, match="adds none"):  # the other modes: as before
        xlstsr.upscale(lst, 4, "nearest", scale_correction="law")


# -- 4. coordinates along y/x are dropped with a warning that says how to get them back -------


def _with_latlon(lst: xr.DataArray) -> xr.DataArray:
    from pyproj import Transformer

    xx, yy = np.meshgrid(lst.x.values, lst.y.values)
    lon, lat = Transformer.from_crs(lst.rio.crs, "EPSG:4326", always_xy=True).transform(xx, yy)
    return lst.assign_coords(lat=(("y", "x"), lat), lon=(("y", "x"), lon))


def test_dropped_latlon_is_warned_and_its_snippets_work(scene):
    lst = _with_latlon(scene["lst_1km"].isel(time=[0, 1]).chunk({"time": 1}))
    lst = lst.assign_coords(doy=("time", [1, 2]))
    with pytest.warns(UserWarning, match=r"drops the LST's coordinate\(s\) \['lat', 'lon'\]") as rec:
        sr = xlstsr.upscale(lst, 4)
    assert "doy" in sr.coords and "lat" not in sr.coords  # 1-D coords of other dims kept
    text = next(str(w.message) for w in rec if "drops the LST's coordinate" in str(w.message))
    codes = re.findall(r"`([^`]+)`", text)
    env = {"sr": sr, "lst": lst, "np": np}
    exec(next(c for c in codes if c.startswith("from pyproj")), env)
    expected = _with_latlon(sr.isel(time=0, drop=True))
    np.testing.assert_allclose(env["sr"]["lat"].values, expected["lat"].values, atol=1e-9)
    np.testing.assert_allclose(env["sr"]["lon"].values, expected["lon"].values, atol=1e-9)
    env = {"sr": sr, "lst": lst, "np": np}
    exec(next(c for c in codes if c.startswith("sr = sr.assign_coords(lat=lst")), env)
    np.testing.assert_allclose(env["sr"]["lat"].values, expected["lat"].values, atol=1e-6)

    with warnings.catch_warnings(record=True) as rec:  # none to drop: nothing said
        warnings.simplefilter("always")
        xlstsr.upscale(lst.drop_vars(["lat", "lon"]), 4)
    assert not any("drops the LST's coordinate" in str(w.message) for w in rec)
