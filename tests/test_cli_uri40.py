"""file:// URLs as command-line paths and in open_cog / open_modis / to_cogs, and a declared
--scale on a MODIS granule that already carries its own (round 40)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import xlstsr
from xlstsr.cli import main
from xlstsr.errors import XlstsrError
from xlstsr.io import open_cog, open_modis, to_cogs

STRUCT = """GROUP=GridStructure
\tGROUP=GRID_1
\t\tGridName="G"
\t\tXDim={nx}
\t\tYDim={ny}
\t\tUpperLeftPointMtrs=(-4447802.079066,0.0)
\t\tLowerRightMtrs=(-3335851.559300,-1111950.519767)
\t\tProjection=GCTP_SNSOID
\t\tGridOrigin=HDFE_GD_UL
\tEND_GROUP=GRID_1
END_GROUP=GridStructure
END
"""


def _granule(path: Path, ny: int = 36, nx: int = 72) -> Path:
    """A small MOD11A1-like HDF4-EOS granule: uint16 LST x 0.02 (260-320 K), fill 0."""
    sd_mod = pytest.importorskip("pyhdf.SD")
    sd = sd_mod.SD(str(path), sd_mod.SDC.WRITE | sd_mod.SDC.CREATE)
    v = sd.create("LST_Day_1km", sd_mod.SDC.UINT16, (ny, nx))
    v[:] = np.random.default_rng(0).integers(13000, 16000, (ny, nx)).astype(np.uint16)
    v.scale_factor, v.units = 0.02, "K"
    v.setfillvalue(0)
    v.endaccess()
    setattr(sd, "StructMetadata.0", STRUCT.format(nx=nx, ny=ny))
    sd.end()
    return path


@pytest.fixture
def lst_nc(tmp_path):
    ds = xlstsr.datasets.modis_sample()[["lst_day"]].isel(time=[0, 1]).load()
    path = tmp_path / "in.nc"
    ds.to_netcdf(path)
    return path


@pytest.mark.parametrize("ext", ["nc", "tif"])
def test_upscale_file_url_output_is_written_where_it_points(tmp_path, lst_nc, monkeypatch,
                                                            capsys, ext):
    # was: exit 0, written to ./file:/.../out%20%C3%A9.nc under the current folder
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "out dir é"
    folder.mkdir()
    out = folder / f"sr.{ext}"
    assert main(["upscale", lst_nc.as_uri(), out.as_uri(), "--factor", "2", "--quiet"]) == 0
    assert out.exists()
    assert not (tmp_path / "file:").exists()
    assert str(out) in capsys.readouterr().out


def test_scaling_file_url_table_is_written_where_it_points(tmp_path, lst_nc, monkeypatch):
    # was: a urlopen error, and a stray ./file: folder left behind
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "my stats.csv"
    assert main(["scaling", str(lst_nc), out.as_uri()]) == 0
    assert out.exists()
    assert not (tmp_path / "file:").exists()


def test_upscale_file_url_input_is_not_overwritten(tmp_path, lst_nc, capsys):
    # was: the input named by a URL was skipped as remote and replaced by its own result
    before = lst_nc.read_bytes()
    assert main(["upscale", lst_nc.as_uri(), str(lst_nc), "--factor", "2", "--overwrite",
                 "--quiet"]) == 2
    assert "also an input" in capsys.readouterr().err
    assert lst_nc.read_bytes() == before


def test_file_url_of_another_host_is_refused_in_one_line(tmp_path, lst_nc, capsys):
    assert main(["upscale", str(lst_nc), "file://server/share/sr.tif", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "another host" in err and "Traceback" not in err
    assert not list(tmp_path.glob("file*"))


def test_file_url_naming_no_path_is_refused(tmp_path, lst_nc, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["upscale", str(lst_nc), "file://", "--quiet"]) == 2
    assert "names no file" in capsys.readouterr().err


def test_to_cogs_and_open_cog_take_a_local_file_url(tmp_path):
    # was: to_cogs refused the folder as "not local"; open_cog did not decode %20
    da = xlstsr.datasets.modis_sample().lst_day.isel(time=[0, 1]).load()
    folder = tmp_path / "my cogs é"
    paths = to_cogs(da, folder.as_uri())
    assert all(p.parent == folder and p.exists() for p in paths)
    one = open_cog(paths[0].as_uri())
    np.testing.assert_array_equal(one.squeeze().values, da.isel(time=0).values)
    both = open_cog([p.as_uri() for p in paths])
    assert both.sizes["time"] == 2


def test_open_modis_takes_a_local_file_url(tmp_path):
    folder = tmp_path / "my granules"
    folder.mkdir()
    g = _granule(folder / "MOD11A1.A2020001.h14v09.061.2020002000000.hdf")
    assert open_modis(g.as_uri()).shape == (36, 72)
    assert open_modis([g.as_uri()]).sizes["time"] == 1


def test_open_modis_records_the_applied_scale_as_xarray_does(tmp_path):
    g = _granule(tmp_path / "MOD11A1.A2020001.h14v09.061.2020002000000.hdf")
    da = open_modis(g)
    assert "scale_factor" not in da.attrs
    assert da.encoding["scale_factor"] == pytest.approx(0.02)
    # the scale only (what a declared scale is refused by): with the granule's dtype and
    # _FillValue too, to_netcdf packed the floats back into uint16 (an anomaly wrapped)
    assert "_FillValue" not in da.encoding and "dtype" not in da.encoding
    # written as floats, read back to the same Kelvin, gaps NaN
    da.to_netcdf(tmp_path / "back.nc")
    with xr.open_dataset(tmp_path / "back.nc") as back:
        np.testing.assert_allclose(back[da.name].values, da.values, atol=1e-4)
    with xr.open_dataset(tmp_path / "back.nc", mask_and_scale=False) as raw:
        assert raw[da.name].dtype.kind == "f"


def test_declared_scale_on_a_modis_granule_is_refused_naming_scale(tmp_path, capsys):
    # was: applied a second time (6 K, refused late with Python advice; 0.9: exit 0, wrong K)
    g = _granule(tmp_path / "MOD11A1.A2020001.h14v09.061.2020002000000.hdf")
    for scale in ("0.02", "0.9"):
        out = tmp_path / f"sr_{scale}.tif"
        assert main(["upscale", str(g), str(out), "--scale", scale, "--factor", "2",
                     "--quiet"]) == 2
        err = capsys.readouterr().err
        assert "declares scale_factor=0.02 already" in err and "--scale" in err
        assert not out.exists()
    # without it, the granule's own scale: Kelvin
    out = tmp_path / "sr.tif"
    assert main(["upscale", str(g), str(out), "--factor", "2", "--quiet"]) == 0
    assert 250 < float(np.nanmedian(open_cog(out).values)) < 330


def test_open_modis_other_host_url_is_refused():
    with pytest.raises(XlstsrError, match="another host"):
        open_modis("file://server/MOD11A1.A2020001.h14v09.061.2020002000000.hdf")
