"""Session 51 fixes (probe 51 R2 findings 3 and 6): a list (or a dict under keys that say
nothing) of described rasters is labelled by the pieces' own band descriptions, so swapped
(red, NDVI) pieces are refused as the dict of the same bands is (they ran silently, 0.98 K
off); a channel labelled as another model channel beside an unlabelled one is refused; a
per-date NDVI GeoTIFF read with rioxarray / xarray's rasterio engine is told its bands are
dates and how to make them time steps (it was told to compute NDVI from red and NIR)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr
from test_guide50 import described_guides, saved_guided_model

import xlstsr
from xlstsr.errors import GuideScaleError, XlstsrError
from xlstsr.guide import band_reorder_code, check_guide_labels, guide_labels

rasterio = pytest.importorskip("rasterio")
rioxarray = pytest.importorskip("rioxarray")


def _codes(msg: str) -> list[str]:
    return re.findall(r"`([^`]+)`", msg)


def _check_as_upscale(guide, names=("ndvi", "red")):
    """upscale's label check, as upscale calls it."""
    check_guide_labels(guide_labels(guide), list(names), "disr",
                       reorder=band_reorder_code(guide, ("time",)))


@pytest.fixture(scope="module")
def single_files(tmp_path_factory):
    """The sample scene, its described two-band guide files, and single-band files of its
    bands, described 'NDVI' and 'red'."""
    tmp = tmp_path_factory.mktemp("guide51")
    s, paths = described_guides(tmp)
    right = rioxarray.open_rasterio(paths["right"])
    for i, said in ((1, "NDVI"), (2, "red")):
        g = right.sel(band=[i]).assign_coords(band=[1])
        g.attrs = {}
        paths[said] = str(tmp / f"one_{said}.tif")
        g.rio.to_raster(paths[said])
        with rasterio.open(paths[said], "r+") as f:
            f.descriptions = (said,)
    return s, paths


_PIECES = {
    "open_rasterio": lambda p: rioxarray.open_rasterio(p),
    "squeezed": lambda p: rioxarray.open_rasterio(p).squeeze("band", drop=True),
    "band_data": lambda p: xr.open_dataset(p, engine="rasterio")["band_data"],
    "band_1": lambda p: rioxarray.open_rasterio(p, band_as_variable=True)["band_1"],
}


# -- R2/3: a list of described rasters -------------------------------------------------------

@pytest.mark.parametrize("reader", list(_PIECES))
def test_list_of_swapped_described_files_is_refused_and_the_advice_runs(single_files, reader):
    _, paths = single_files
    read = _PIECES[reader]
    swapped = [read(paths["red"]), read(paths["NDVI"])]
    with pytest.raises(GuideScaleError) as err:  # ran silently: ['red', None] was skipped
        _check_as_upscale(swapped)
    msg = str(err.value)
    assert "labelled ['red', 'NDVI']" in msg, msg
    ns = {"guide": swapped}
    exec(_codes(msg)[-1], ns)
    _check_as_upscale(ns["guide"])  # the advice followed: accepted
    _check_as_upscale([read(paths["NDVI"]), read(paths["red"])])  # the right order passes


def test_dict_keys_that_say_nothing_take_the_pieces_descriptions(single_files):
    _, paths = single_files
    nd, rd = (rioxarray.open_rasterio(paths[k]) for k in ("NDVI", "red"))
    for keys in (("a", "b"), ("g1", "g2")):
        swapped = dict(zip(keys, (rd, nd)))
        assert guide_labels(swapped).described == ["red", "NDVI"]
        with pytest.raises(GuideScaleError, match=r"labelled \['red', 'NDVI'\]") as err:
            _check_as_upscale(swapped)
        ns = {"guide": swapped}
        exec(_codes(str(err.value))[-1], ns)
        _check_as_upscale(ns["guide"])
        _check_as_upscale(dict(zip(keys, (nd, rd))))
    # a key that names a quantity stays the user's word
    assert guide_labels({"ndvi": rd, "red": nd}).described is None
    # undescribed pieces under such keys stay unchecked (their values are judged)
    bare = {"a": rd.copy(), "b": nd.copy()}
    for v in bare.values():
        v.attrs.pop("long_name")
    assert guide_labels(bare).described is None
    _check_as_upscale(bare)


def test_a_list_piece_naming_ndvi_beside_reflectances_labels_nothing():
    nd = xlstsr.datasets.sample_scene(n_times=1, size=16)["ndvi_250m"].rename(None)
    nd.attrs = {"long_name": "NDVI from red and NIR surface reflectance"}
    assert guide_labels([nd]) == [None]
    check_guide_labels(guide_labels([nd]), ["ndvi"], "disr")
    nd.attrs = {"standard_name": "normalized_difference_vegetation_index"}
    assert guide_labels([nd, nd.rename("red")]) == [
        "NDVI (normalized_difference_vegetation_index)", "red"]
    with pytest.raises(GuideScaleError, match="channels 1, 0"):
        check_guide_labels(guide_labels([nd.rename("red"), nd]), ["ndvi", "red"], "disr")


def test_a_channel_labelled_as_another_model_channel_beside_unlabelled_ones():
    # one labelled, one not: the unlabelled one is the model channel no label names
    with pytest.raises(GuideScaleError, match=r"channels 1, 0") as err:
        check_guide_labels(["red", None], ["ndvi", "red"], "disr",
                           reorder="guide = [guide[i] for i in [{order}]]")
    ns = {"guide": ["r", "n"]}
    exec(_codes(str(err.value))[-1], ns)
    assert ns["guide"] == ["n", "r"]
    check_guide_labels(["ndvi", None], ["ndvi", "red"], "disr")
    check_guide_labels([None, "red"], ["ndvi", "red"], "disr")
    # two unlabelled: no order can be told, the misplaced one is named
    with pytest.raises(GuideScaleError, match="channel 0 is labelled 'red', the model's channel 1"):
        check_guide_labels(["red", None, None], ["ndvi", "red", "albedo"], "disr")
    # the same band twice
    with pytest.raises(GuideScaleError, match="channel 1 is labelled 'ndvi'"):
        check_guide_labels(["ndvi", "ndvi"], ["ndvi", "red"], "disr")
    # an unlabelled channel is not taken for the model's where the other names a quantity
    with pytest.raises(GuideScaleError, match="labelled 'nir' but method 'disr' was trained"):
        check_guide_labels(["nir", None], ["ndvi", "red"], "disr")
    with pytest.raises(GuideScaleError, match="labelled 'red' but method 'disr' was trained"):
        check_guide_labels(["red"], ["ndvi"], "disr")


@pytest.mark.filterwarnings("ignore")
def test_upscale_refuses_a_swapped_list_of_described_files(single_files, tmp_path):
    s, paths = single_files
    lst = s["lst_1km"]
    m = xlstsr.nn.load_model(saved_guided_model(lst, paths["right"], tmp_path))
    lst16 = lst.isel(y=slice(0, 8), x=slice(0, 8))
    ref = xlstsr.upscale(lst16, 4, method="disr", model=m,
                         guide=rioxarray.open_rasterio(paths["right"])).values
    for read in _PIECES.values():
        with pytest.raises(GuideScaleError, match="labelled"):  # ran silently, 0.98 K off
            xlstsr.upscale(lst16, 4, method="disr", model=m,
                           guide=[read(paths["red"]), read(paths["NDVI"])])
        out = xlstsr.upscale(lst16, 4, method="disr", model=m,
                             guide=[read(paths["NDVI"]), read(paths["red"])]).values
        np.testing.assert_array_equal(out, ref)


# -- R2/6: a per-date NDVI GeoTIFF read as bands ---------------------------------------------

@pytest.fixture(scope="module")
def dated_file(tmp_path_factory):
    """A two-band NDVI GeoTIFF, its bands described by the LST's dates, beside the LST and the
    per-date NDVI it holds."""
    tmp = tmp_path_factory.mktemp("guide51_dated")
    s = xlstsr.datasets.sample_scene(n_times=2, size=32)
    lst, nd = s["lst_1km"], s["ndvi_250m"]
    nd = xr.concat([nd, nd * 0.8], "time").assign_coords(time=lst.time.values)
    g = nd.rename(time="band").assign_coords(band=[1, 2])
    g.attrs = {}
    path = tmp / "dated.tif"
    g.rio.to_raster(path)
    with rasterio.open(path, "r+") as f:
        f.descriptions = tuple(str(t)[:10] for t in lst.time.values)
    return lst, nd, path


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("reader", ["open_rasterio", "band_as_variable", "engine_rasterio"])
def test_dated_bands_are_told_as_dates_and_the_advice_runs(dated_file, reader):
    lst, nd, path = dated_file
    read = {"open_rasterio": lambda: rioxarray.open_rasterio(path),
            "band_as_variable": lambda: rioxarray.open_rasterio(path, band_as_variable=True),
            "engine_rasterio": lambda: xr.open_dataset(path, engine="rasterio")}[reader]
    ref = xlstsr.upscale(lst, 4, method="disr", guide=nd).values
    with pytest.raises(XlstsrError) as err:
        xlstsr.upscale(lst, 4, method="disr", guide=read())
    msg = str(err.value)
    assert "described by dates" in msg and "reflectances" not in msg, msg
    codes = [c for c in _codes(msg) if c.startswith("guide = ")]
    assert len(codes) == 2, msg  # open_cog, and the time dim given in the form passed
    for code in codes:
        ns = {"guide": read(), "np": np, "xr": xr, "xlstsr": xlstsr, "path": path}
        exec(code, ns)
        out = xlstsr.upscale(lst, 4, method="disr", guide=ns["guide"]).values
        np.testing.assert_array_equal(out, ref)


@pytest.mark.filterwarnings("ignore")
def test_reflectance_bands_are_still_told_to_make_ndvi(dated_file):
    lst, nd, _ = dated_file
    g = xr.concat([nd.isel(time=0), nd.isel(time=1)], "band").assign_coords(
        band=["red", "nir"])
    with pytest.raises(XlstsrError, match="not reflectances"):
        xlstsr.upscale(lst, 4, method="disr", guide=g)


def test_ndvi_bands_described_by_dates_are_steps_not_bands_to_pick():
    from xlstsr.guide import GuideLabels
    from xlstsr.methods import get_method

    m = get_method("disr")
    dated = GuideLabels.of(["NDVI_2020_07_01", "NDVI_2020_07_02"], "raster")
    msg = m.channel_message(2, dated)
    assert "described by dates (2020-07-01, 2020-07-02)" in msg and "pick one" not in msg, msg
    assert "guide.rename({'band': 'time'})" in msg, msg
    # two NDVIs of one date (Terra and Aqua) are still told to pick one
    same_day = GuideLabels.of(["NDVI_Terra_2020_07_01", "NDVI_Aqua_2020_07_01"], "raster")
    assert "pick one" in m.channel_message(2, same_day)
