"""Corpus 28c, open_modis: Climate Modelling Grid (GCTP_GEO) granules, damaged granules named
when computed, relative and ``~`` paths made absolute at open."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from xlstsr.errors import InputNotFoundError, XlstsrError

SD = pytest.importorskip("pyhdf.SD")

from xlstsr.io import open_modis  # noqa: E402

STRUCT = """GROUP=SwathStructure
END_GROUP=SwathStructure
GROUP=GridStructure
\tGROUP=GRID_1
\t\tGridName="{name}"
\t\tXDim={nx}
\t\tYDim={ny}
\t\tUpperLeftPointMtrs=({ulx},{uly})
\t\tLowerRightMtrs=({lrx},{lry})
\t\tProjection={projection}
\t\tGridOrigin=HDFE_GD_UL
\t\tGROUP=DataField
\t\tEND_GROUP=DataField
\tEND_GROUP=GRID_1
END_GROUP=GridStructure
GROUP=PointStructure
END_GROUP=PointStructure
END
"""

#: the corners of tile h14v09 (sinusoidal metres), as in its StructMetadata
SINU = {"ulx": -4447802.079066, "uly": 0.0, "lrx": -3335851.559300, "lry": -1111950.519767}


def _granule(path: Path, variable: str = "LST_Day_1km", *, ny: int = 36, nx: int = 72,
             projection: str = "GCTP_SNSOID", corners: dict | None = None,
             compress: bool = False) -> Path:
    """A small MODIS-like HDF4-EOS granule written with pyhdf."""
    sd = SD.SD(str(path), SD.SDC.WRITE | SD.SDC.CREATE)
    v = sd.create(variable, SD.SDC.UINT16, (ny, nx))
    if compress:
        v.setcompress(SD.SDC.COMP_DEFLATE, value=6)
    rng = np.random.default_rng(0)
    v[:] = rng.integers(13000, 16000, (ny, nx)).astype(np.uint16)
    v.scale_factor, v._FillValue, v.units = 0.02, 0, "K"
    v.endaccess()
    struct = STRUCT.format(name="G", nx=nx, ny=ny, projection=projection, **(corners or SINU))
    setattr(sd, "StructMetadata.0", struct)
    sd.end()
    return path


def _dms(deg: float) -> float:
    """Whole or half degrees as HDF-EOS packed DMS (DDDMMMSSS.SS)."""
    sign = -1 if deg < 0 else 1
    d = int(abs(deg))
    minutes = round((abs(deg) - d) * 60)
    return sign * (d * 1_000_000 + minutes * 1_000)


# -- 01: the geographic Climate Modelling Grid (MOD11C1/C3) -------------------------------------

def test_open_modis_cmg_geographic_grid_is_epsg4326_in_degrees(tmp_path):
    """A GCTP_GEO granule got the sinusoidal CRS and 5e6 'metre' pixels from packed DMS."""
    west, north, east, south = -10.5, 60.0, 25.5, 42.0
    ny, nx = 36, 72
    corners = {"ulx": _dms(west), "uly": _dms(north), "lrx": _dms(east), "lry": _dms(south)}
    path = _granule(tmp_path / "MOD11C1.A2019305.061.2020350000000.hdf", "LST_Day_CMG",
                    ny=ny, nx=nx, projection="GCTP_GEO", corners=corners)
    da = open_modis(path, "LST_Day_CMG")
    assert da.rio.crs.to_epsg() == 4326
    dx, dy = (east - west) / nx, (south - north) / ny
    assert da.rio.resolution() == pytest.approx((dx, dy))
    assert float(da.x[0]) == pytest.approx(west + dx / 2)
    assert float(da.y[0]) == pytest.approx(north + dy / 2)
    assert bool((np.diff(da.y.values) < 0).all())  # north up
    assert da.x.attrs["units"] == "degrees_east" and da.y.attrs["units"] == "degrees_north"
    assert da.rio.bounds() == pytest.approx((west, south, east, north))


def test_open_modis_stacks_cmg_granules_on_their_geographic_crs(tmp_path):
    corners = {"ulx": _dms(-180), "uly": _dms(90), "lrx": _dms(180), "lry": _dms(-90)}
    for day in ("305", "306"):
        _granule(tmp_path / f"MOD11C1.A2019{day}.061.2020350000000.hdf", "LST_Day_CMG",
                 projection="GCTP_GEO", corners=corners)
    cube = open_modis(str(tmp_path / "MOD11C1.A2019*.hdf"), "LST_Day_CMG")
    assert cube.sizes["time"] == 2
    assert cube.rio.crs.to_epsg() == 4326


@pytest.mark.parametrize("projection", ["GCTP_LAMAZ", "GCTP_PS", "GCTP_ISINUS"])
def test_open_modis_refuses_other_projections_by_name(tmp_path, projection):
    path = _granule(tmp_path / "MOD10C1.A2019305.061.hdf", projection=projection)
    with pytest.raises(XlstsrError, match=f"{projection}.*(gdalwarp|rioxarray)"):
        open_modis(path)


def test_open_modis_refuses_geo_corners_that_are_not_packed_dms(tmp_path):
    """Corners in plain degrees (180.0 is 0 deg 0 min 180 s packed) are no grid to guess."""
    corners = {"ulx": -180.0, "uly": 90.0, "lrx": 180.0, "lry": -90.0}
    path = _granule(tmp_path / "MOD11C1.A2019305.061.hdf", projection="GCTP_GEO",
                    corners=corners)
    with pytest.raises(XlstsrError, match=r"GCTP_GEO.*packed"):
        open_modis(path)


def test_open_modis_sinusoidal_tile_keeps_its_grid(tmp_path):
    path = _granule(tmp_path / "MOD11A1.A2019305.h14v09.061.hdf", ny=12, nx=12)
    da = open_modis(path)
    assert "sinu" in da.rio.crs.to_proj4()
    assert da.rio.resolution()[0] == pytest.approx((SINU["lrx"] - SINU["ulx"]) / 12)
    assert da.x.attrs["units"] == "m"


# -- 03: a damaged granule named when computed ---------------------------------------------------

def test_open_modis_damaged_granule_names_file_and_variable_on_compute(tmp_path):
    """pyhdf's bare 'SDreaddata failure' named no file among hundreds stacked."""
    path = _granule(tmp_path / "MOD11A1.A2019305.h14v09.061.hdf", ny=200, nx=200,
                    compress=True)
    raw = bytearray(path.read_bytes())
    start = raw.find(b"\x78\x9c")  # the zlib stream of the compressed block
    assert start > 0
    raw[start + 100:start + 20_000] = bytes(19_900)
    path.write_bytes(bytes(raw))
    da = open_modis(path)  # the metadata is intact: opens lazily
    with pytest.raises(XlstsrError, match=rf"LST_Day_1km.*{re.escape(path.name)}.*[Dd]ownload"):
        da.compute()


def test_open_modis_granule_removed_before_compute_is_named(tmp_path):
    path = _granule(tmp_path / "MOD11A1.A2019305.h14v09.061.hdf", ny=12, nx=12)
    da = open_modis(path)
    path.unlink()
    with pytest.raises(InputNotFoundError, match=re.escape(path.name)):
        da.compute()


# -- 08: relative and ~ paths made absolute at open -----------------------------------------------

def test_open_modis_relative_path_reads_after_chdir(tmp_path, monkeypatch):
    """The lazy reader kept the relative path: read relative to the folder at compute time."""
    data = tmp_path / "data"
    data.mkdir()
    _granule(data / "MOD11A1.A2019305.h14v09.061.hdf", ny=12, nx=12)
    _granule(data / "MOD11A1.A2019306.h14v09.061.hdf", ny=12, nx=12)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(tmp_path)
    one = open_modis("data/MOD11A1.A2019305.h14v09.061.hdf")
    listed = open_modis(["data/MOD11A1.A2019305.h14v09.061.hdf",
                         Path("data/MOD11A1.A2019306.h14v09.061.hdf")])
    pattern = open_modis("data/MOD11A1.A2019*.hdf")
    monkeypatch.chdir(elsewhere)  # a dask worker started in another folder
    assert np.isfinite(one.values).all()
    assert np.isfinite(listed.values).all()
    assert np.isfinite(pattern.values).all()


def test_open_modis_expands_home(tmp_path, monkeypatch):
    _granule(tmp_path / "MOD11A1.A2019305.h14v09.061.hdf", ny=12, nx=12)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert open_modis("~/MOD11A1.A2019305.h14v09.061.hdf").shape == (12, 12)
    assert open_modis("~/MOD11A1.A2019*.hdf").sizes["time"] == 1
    assert open_modis([os.path.join("~", "MOD11A1.A2019305.h14v09.061.hdf")]).sizes["time"] == 1
