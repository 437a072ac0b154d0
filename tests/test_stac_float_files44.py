"""Fixes of probe 44r2: open_stac's check of float files under an integer coding finds the
pixels holding data wherever they lie (01) and accepts resampled stored numbers (03);
open_modis names two copies of one granule as copies (04)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from helpers import GRANULE, utm33_cog_item

from xlstsr.errors import XlstsrError

CODED = {"scale": 0.02, "offset": 0, "nodata": 0, "data_type": "uint16", "unit": "K"}
N = 512
#: a data window far from the image's centre (the old check read the central 256 x 256 only)
WIN = (slice(8, 40), slice(440, 472))
CTR = (slice(240, 272), slice(240, 272))


def _items(tmp_path, fields, dtype, band):
    """Items of tiled N x N GeoTIFFs of ``fields`` (NaN / 0 outside the data), asset 'LST'."""
    import rasterio
    from rasterio.transform import from_origin

    items = []
    for i, data in enumerate(fields):
        p = tmp_path / f"lst_{i}.tif"
        nodata = np.nan if np.dtype(dtype).kind == "f" and np.isnan(data).any() else 0
        with rasterio.open(p, "w", driver="GTiff", height=N, width=N, count=1, dtype=dtype,
                           crs="EPSG:32633", tiled=True, blockxsize=128, blockysize=128,
                           nodata=nodata, transform=from_origin(1000000, 5500000, 1000, 1000)) as d:
            d.write(data[None].astype(dtype))
        it = utm33_cog_item(i, p, N, band, [14, 44, 20, 49])
        items.append(it)
    return items


def _sparse(values, fill, centre=False):
    """Two fields of ``fill`` holding ``values`` (32 x 32) in the window WIN only (and at the
    centre, CTR, where the old check looked, with ``centre``)."""
    out = []
    for k in range(2):
        f = np.full((N, N), fill, np.float64)
        f[WIN] = values + k
        if centre:
            f[CTR] = values + k
        out.append(f)
    return out


KELVIN = 290 + np.random.default_rng(1).normal(0, 3, (32, 32))


# -- 01: data off the centre ---------------------------------------------------------------

def test_sparse_float_kelvin_files_are_refused(tmp_path):
    """Float Kelvin files under uint16 + scale 0.02 whose data lie off the centre (the
    project's h18v04 cube: scattered 64 x 64 windows) opened silently at ~6 K."""
    pytest.importorskip("odc.stac")
    from xlstsr.io import open_stac

    items = _items(tmp_path, _sparse(KELVIN, np.nan), "float32", {**CODED, "nodata": "nan"})
    with pytest.raises(XlstsrError, match=r"'it0' is a float32 file of decoded values.*"
                                          r"median 2\d\d\.\d* K.*data_type uint16.*modifier="):
        open_stac(items, "LST")


def test_sparse_whole_kelvin_floats_are_refused(tmp_path):
    """Kelvin rounded to whole numbers in a float file looked like stored integers (only
    non-whole values were judged decoded): ~5.8 K without a word."""
    pytest.importorskip("odc.stac")
    from xlstsr.io import open_stac

    items = _items(tmp_path, _sparse(np.round(KELVIN), 0), "float32", dict(CODED))
    with pytest.raises(XlstsrError, match=r"float32 file of decoded values"):
        open_stac(items, "LST")


def test_shared_cube_reexported_as_float_kelvin_is_refused(shared_data, tmp_path):
    """The probe's case on the real cube: dates whose central 256 x 256 window is empty."""
    pytest.importorskip("odc.stac")
    import pystac
    import rasterio

    from xlstsr.io import open_stac

    cat = shared_data / "modis_h18v04_2020" / "catalog.json"
    if not cat.is_file():
        pytest.skip(f"{cat} is absent from the real data folder")
    picked = []
    for it in pystac.Catalog.from_file(str(cat)).get_items(recursive=True):
        if not it.collection_id.startswith("modis-11A1"):
            continue
        with rasterio.open(it.assets["LST_Day_1km"].get_absolute_href()) as src:
            dn = src.read(1)
            prof = src.profile
        c0, c1 = (src.height - 256) // 2, (src.width - 256) // 2
        if dn[c0:c0 + 256, c1:c1 + 256].any() or not dn.any():
            continue  # data at the centre (the old check saw them) or none at all
        it = it.clone()
        a = it.assets["LST_Day_1km"]
        dst = tmp_path / f"{it.id}.tif"
        prof.update(dtype="float32", nodata=np.nan, predictor=1)
        with rasterio.open(dst, "w", **prof) as d:
            d.write(np.where(dn == 0, np.nan, dn * 0.02).astype("float32"), 1)
        a.href = str(dst)  # raster:bands kept: uint16, scale 0.02
        it.assets = {"LST_Day_1km": a}
        picked.append(it)
        if len(picked) == 2:
            break
    if len(picked) < 2:
        pytest.skip("no two dates of the cube lack data at the centre")
    with pytest.raises(XlstsrError, match="float32 file of decoded values"):
        open_stac(picked, "LST_Day_1km")


# -- 03: resampled stored numbers ------------------------------------------------------------

def test_resampled_digital_numbers_in_float_files_open(tmp_path):
    """Bilinear-resampled DN (14975.5) kept as float32 under uint16 + scale 0.02 were refused
    as decoded values; the advice (no scale) gave ~15000 'K'."""
    pytest.importorskip("odc.stac")
    from xlstsr.io import open_stac

    dn = KELVIN / 0.02  # not whole: 14503.37...
    assert np.any(dn != np.round(dn))
    lst = open_stac(_items(tmp_path, _sparse(dn, 0, centre=True), "float32", dict(CODED)),
                    "LST")
    for win in (WIN, CTR):  # cast to uint16: one DN at most
        np.testing.assert_allclose(lst.isel(time=0).values[win], KELVIN, atol=0.021)
    assert np.isnan(lst.isel(time=0).values[100:200, 100:200]).all()
    assert lst.attrs["units"] == "K"


def test_non_temperature_codings_are_judged_by_range_and_wholeness(tmp_path):
    """Without a temperature unit: DN-sized values (beyond what uint8 x 0.002 + 0.49 codes,
    0.49-1.0) open; non-whole values inside that range are decoded ones, refused as before."""
    pytest.importorskip("odc.stac")
    from xlstsr.io import open_stac

    band = {"scale": 0.002, "offset": 0.49, "nodata": 0, "data_type": "uint8"}
    emis = 0.97 + np.random.default_rng(2).uniform(-0.01, 0.01, (32, 32))
    (tmp_path / "dn").mkdir()
    (tmp_path / "decoded").mkdir()
    dn = (emis - 0.49) / 0.002  # 240.0 +- 5, not whole
    out = open_stac(_items(tmp_path / "dn", _sparse(dn, 0, centre=True), "float32", band),
                    "LST")
    np.testing.assert_allclose(out.isel(time=0).values[CTR], emis, atol=0.0021)
    with pytest.raises(XlstsrError, match="float32 file of decoded values"):
        open_stac(_items(tmp_path / "decoded", _sparse(emis, 0), "float32", band), "LST")


# -- 04: copies of one HDF granule -----------------------------------------------------------



def test_identical_granule_copies_are_named_as_copies(real_granule, tmp_path):
    """A browser's 'name (1).hdf' beside the granule was refused as "Terra and Aqua, or two
    versions?", naming no file, advising to open each product separately."""
    from xlstsr.io import open_modis

    shutil.copy(real_granule, tmp_path / GRANULE)
    shutil.copy(real_granule, tmp_path / GRANULE.replace(".hdf", " (1).hdf"))
    with pytest.raises(XlstsrError, match=r"2019306084028 \(1\)\.hdf and .*2019306084028\.hdf "
                                          r"are copies of one granule.*Remove the copy") as e:
        open_modis(sorted(tmp_path.glob("*.hdf")))
    assert "Terra and Aqua" not in str(e.value)


def test_terra_and_aqua_or_two_versions_of_a_date_are_named(real_granule, tmp_path):
    """Granules of one date that are no copies (Terra and Aqua; collections 006 and 061) keep
    the shared-date refusal, now naming the files."""
    from helpers import dated_granule_copy

    from xlstsr.io import open_modis

    shutil.copy(real_granule, tmp_path / GRANULE)
    for name in ("MYD11A1.A2019305.h14v09.006.2019306000000.hdf",
                 "MOD11A1.A2019305.h14v09.061.2020306000000.hdf"):
        other = tmp_path / name
        dated_granule_copy(real_granule, other)
        with pytest.raises(XlstsrError, match=r"share the date\(s\) \['2019-11-01'\]: .*"
                                              + name.replace(".", r"\.") + ".*Terra and Aqua"):
            open_modis(sorted(tmp_path.glob("*.hdf")))
        other.unlink()


@pytest.mark.parametrize("band, centre", [
    # Landsat C2 ST: decoded 300 K scaled is 150.03 K, plausible too
    ({"scale": 0.00341802, "offset": 149.0, "nodata": 0, "data_type": "uint16",
      "unit": "kelvin"}, 300.0),
    # degC x 0.01: decoded 25 degC scaled is 0.25 degC, plausible too
    ({"scale": 0.01, "offset": 0, "nodata": -32768, "data_type": "int16", "unit": "degC"}, 25.0),
])
def test_decoded_files_under_other_codings_are_refused(tmp_path, band, centre):
    """Where both readings of the values are plausible temperatures, the wholeness decides:
    decoded floats under these codings opened at 150 K / 0.25 degC once the scaled reading was
    taken first."""
    pytest.importorskip("odc.stac")
    from xlstsr.io import open_stac

    fields = [centre + np.random.default_rng(k).normal(0, 3, (N, N)) for k in range(2)]
    with pytest.raises(XlstsrError, match="float32 file of decoded values"):
        open_stac(_items(tmp_path, fields, "float32", band), "LST")


def _eight_day_copy(src, dst):
    """A copy of the real granule at ``dst`` recording the 8-day window 2019-11-01 to 08."""
    import re

    from helpers import dated_granule_copy
    from pyhdf.SD import SD, SDC

    sd = SD(str(dated_granule_copy(src, dst)), SDC.WRITE)
    for k, text in sd.attributes().items():
        if k.startswith("CoreMetadata"):
            sd.attr(k).set(SDC.CHAR, re.sub(
                r'(\bOBJECT\s*=\s*RANGEENDINGDATE\b.*?VALUE\s*=\s*")\d{4}-\d{2}-\d{2}',
                r"\g<1>2019-11-08", text, flags=re.S))
    sd.end()


def test_renamed_granules_of_one_window_under_one_date_are_no_copies(real_granule, tmp_path):
    """Two 8-day granules renamed without their product under one date (Terra and Aqua?) were
    called copies of one granule; they get the shared-date refusal, naming both."""
    from xlstsr.io import open_modis

    for name in ("lst_terra.A2019305.hdf", "lst_aqua.A2019305.hdf"):
        _eight_day_copy(real_granule, tmp_path / name)
    with pytest.raises(XlstsrError, match=r"share the date.*lst_aqua.*lst_terra.*Terra and Aqua"):
        open_modis(sorted(tmp_path.glob("*.hdf")))


def test_a_file_of_one_strip_is_sampled_in_pieces(tmp_path):
    """A float file stored as one strip is one block: it was read whole (929 MB for a 6000 x
    6000 scene) before the pixel cap was met; pieces of 512 x 512 are read instead."""
    import rasterio
    from rasterio.transform import from_origin

    from xlstsr.io.stac import _FLOAT_CHECK_SIDE, _float_sample

    n = 1500
    p = tmp_path / "strip.tif"
    with rasterio.open(p, "w", driver="GTiff", height=n, width=n, count=1, dtype="float32",
                       crs="EPSG:32633", blockysize=n, compress="deflate", transform=from_origin(0, n, 1, 1)) as d:
        d.write(np.full((1, n, n), 290.5, "float32"))
    with rasterio.open(p) as src:
        assert [w.height for _, w in src.block_windows(1)] == [n]  # one strip
        v = _float_sample(src, None)
    assert 0 < v.size <= _FLOAT_CHECK_SIDE ** 2
    assert np.all(v == np.float32(290.5))


def test_second_download_of_a_multi_day_granule_is_a_copy(real_granule, tmp_path):
    """Two files of one 8-day MOD11A2 window under its own date (a second download): both names
    are right, so "keep the one named for its window's date" told nothing; named a copy."""
    from xlstsr.io import open_modis

    name = "MOD11A2.A2019305.h14v09.006.2019314000000.hdf"
    for n in (name, name.replace(".hdf", " (1).hdf")):
        _eight_day_copy(real_granule, tmp_path / n)
    with pytest.raises(XlstsrError, match=r"are copies of one granule: both MOD11A2 recording "
                                          r"the days 2019-11-01 to 2019-11-08.*Remove the copy"):
        open_modis(sorted(tmp_path.glob("*.hdf")))
