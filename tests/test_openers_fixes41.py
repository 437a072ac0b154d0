"""Openers refuse files they misread (probe41x2 findings 05, 08, 09)."""
import warnings

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

import xlstsr
from xlstsr.errors import XlstsrError

_GRID = {"crs": "EPSG:32633", "transform": from_origin(1e6, 5.5e6, 1000, 1000)}


def _write(path, data, **kw):
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[-1], height=data.shape[-2],
                       count=data.shape[0], dtype=data.dtype, **_GRID, **kw) as f:
        f.write(data)
        return f


def test_palette_image_refused(tmp_path):
    p = tmp_path / "map.tif"
    idx = np.full((1, 8, 8), 200, "uint8")
    with rasterio.open(p, "w", driver="GTiff", width=8, height=8, count=1, dtype="uint8",
                       photometric="palette", **_GRID) as f:
        f.write(idx)
        f.write_colormap(1, {i: (i, 255 - i, 128, 255) for i in range(256)})
    with pytest.raises(XlstsrError, match=r"rendered image.*palette"):
        xlstsr.io.open_cog(p)


def test_rgb_image_refused_unless_declared_data(tmp_path):
    p = tmp_path / "rgb.tif"
    _write(p, np.full((3, 8, 8), 220, "uint8"), photometric="RGB")
    with pytest.raises(XlstsrError, match=r"rendered image.*red, green, blue"):
        xlstsr.io.open_cog(p)
    with rasterio.open(p, "r+") as r:  # the advice: bands tagged with units are data
        r.units = ["K"] * 3
    assert xlstsr.io.open_cog(p).sizes["band"] == 3


def test_gray_uint8_and_float_files_still_read(tmp_path):
    p = tmp_path / "gray.tif"
    _write(p, np.full((1, 8, 8), 200, "uint8"))
    assert float(xlstsr.io.open_cog(p).mean()) == 200
    q = tmp_path / "two.tif"
    _write(q, np.full((3, 8, 8), 300, "float32"))
    assert xlstsr.io.open_cog(q).sizes["band"] == 3


def _multipage(path):
    Image = pytest.importorskip("PIL.Image")
    v = np.stack([np.full((8, 8), t, "float32") for t in (310, 300, 290)])
    ims = [Image.fromarray(x, mode="F") for x in v]
    ims[0].save(path, save_all=True, append_images=ims[1:])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        for i in range(1, 4):
            with rasterio.open(f"GTIFF_DIR:{i}:{path}", "r+") as f:
                f.crs, f.transform = _GRID["crs"], _GRID["transform"]


def test_multipage_tiff_refused_and_pages_open_as_advised(tmp_path):
    p = tmp_path / "stack.tif"
    _multipage(p)
    with pytest.raises(XlstsrError, match=r"multi-page TIFF of 3 pages.*GTIFF_DIR:n"):
        xlstsr.io.open_cog(p)
    cube = xlstsr.io.open_cog([f"GTIFF_DIR:{n}:{p}" for n in (1, 2, 3)],
                              times=["2020-01-01", "2020-01-02", "2020-01-03"])
    np.testing.assert_array_equal(cube.mean(("y", "x")).values, [310, 300, 290])


def test_zarr_without_dimension_names(tmp_path):
    zarr = pytest.importorskip("zarr")
    p = tmp_path / "plain.zarr"
    g = zarr.open_group(p, mode="w", zarr_format=3)
    g.create_array("LST", shape=(2, 8, 8), dtype="float32")[:] = 300
    with pytest.raises(XlstsrError, match=r"'LST' \(2, 8, 8\).*no dimension names") as e:
        xlstsr.io.open_zarr(p)
    assert "check the path" not in str(e.value)
    q = tmp_path / "v2.zarr"
    g = zarr.open_group(q, mode="w", zarr_format=2)
    g.create_array("LST", shape=(2, 8, 8), dtype="float32")[:] = 300
    with pytest.raises(XlstsrError, match=r"no dimension names"):
        xlstsr.io.open_zarr(q)


def test_bare_zarr_array_store(tmp_path):
    zarr = pytest.importorskip("zarr")
    p = tmp_path / "bare.zarr"
    zarr.create_array(p, shape=(2, 8, 8), dtype="float32")[:] = 300
    with pytest.raises(XlstsrError, match=r"bare Zarr array \(2, 8, 8\).*xr.DataArray") as e:
        xlstsr.io.open_zarr(p)
    assert "check the path" not in str(e.value)
