"""Bad input, corpus 22: figures (backend, lazy inputs, empty maps) and the ECOSTRESS / MOD11A1
loaders (projected scenes, scenes missing from scenes.csv, folders of several granules)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import dated_granule_copy

import xlstsr
from xlstsr import errors
from xlstsr.datasets.ecostress import ECOSTRESS_BOUNDS, ecostress_scenes, open_ecostress_scene

pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[1]


# -- plot: the user's matplotlib backend ----------------------------------------------------------

def test_plot_leaves_the_users_backend_and_returns_savable_figures(tmp_path):
    # before: comparison / truth_maps (always) and scaling / compare (with a path) called
    # matplotlib.use("Agg", force=False), which switched a backend the user had chosen. Run in a
    # fresh interpreter: the backend is process-wide state.
    code = textwrap.dedent(f"""
        import io, matplotlib
        matplotlib.use("svg")  # the user's choice
        import xlstsr
        from matplotlib.figure import Figure
        s = xlstsr.datasets.sample_scene(n_times=1, size=32)
        sr = xlstsr.upscale(s["lst_1km"], 4)
        st = xlstsr.scaling_stats(s["lst_1km"])
        figs = [
            xlstsr.plot.comparison(s["lst_1km"], sr, s["lst_250m"]),
            xlstsr.plot.truth_maps(s["lst_1km"].isel(time=0), {{"bicubic": sr.isel(time=0)}},
                                   s["lst_250m"].isel(time=0)),
            xlstsr.plot.scaling(st, path={str(tmp_path / "s.png")!r}),
            xlstsr.plot.compare({{"1 km": st}}, path={str(tmp_path / "c.png")!r}),
        ]
        for f in figs:
            assert isinstance(f, Figure), type(f)
            buf = io.BytesIO()
            f.savefig(buf, format="png")
            assert buf.getvalue()[:4] == b"\\x89PNG"
        print("BACKEND", matplotlib.get_backend())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "BACKEND svg" in out.stdout, out.stdout
    assert (tmp_path / "s.png").stat().st_size > 0 and (tmp_path / "c.png").stat().st_size > 0


# -- plot: lazy inputs computed once ---------------------------------------------------------------

def _counted(da, calls):
    def count(block):
        calls.append(1)
        return block

    return da.copy(data=da.data.map_blocks(count, dtype=da.dtype, meta=np.array((), da.dtype)))


def test_plot_computes_each_lazy_input_once():
    # before: comparison computed a lazy result 3 times (percentiles, map, error map) and
    # truth_maps a lazy truth twice (its mask, its map): a model ran, a file was read, again
    s = xlstsr.datasets.sample_scene(n_times=1, size=32)
    sr = xlstsr.upscale(s["lst_1km"], 4).isel(time=0)
    truth = s["lst_250m"].isel(time=0)
    coarse = s["lst_1km"].isel(time=0)
    calls: list[int] = []
    xlstsr.plot.comparison(_counted(coarse.chunk(), calls), _counted(sr.chunk(), calls),
                           _counted(truth.chunk(), calls))
    assert len(calls) == 3  # one chunk each, once
    calls.clear()
    xlstsr.plot.truth_maps(_counted(coarse.chunk(), calls), {"bicubic": _counted(sr.chunk(), calls)},
                           _counted(truth.chunk(), calls))
    assert len(calls) == 3


# -- plot: empty maps ------------------------------------------------------------------------------

def test_comparison_refuses_all_nan_panels_naming_them(tmp_path):
    # before: a blank figure was written, with numpy's bare "All-NaN slice encountered"
    s = xlstsr.datasets.sample_scene(n_times=1, size=32)
    coarse, truth = s["lst_1km"], s["lst_250m"]
    sr = xlstsr.upscale(coarse, 4)
    path = tmp_path / "day.png"
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no bare numpy warning on the way
        with pytest.raises(errors.AllNaNError, match="coarse input has no valid pixel at time=0"):
            xlstsr.plot.comparison(coarse.where(False), sr.where(False), path=path)
        with pytest.raises(errors.AllNaNError, match="result 'bicubic' has no valid pixel"):
            xlstsr.plot.comparison(coarse, {"bicubic": sr.where(False)}, truth, path=path)
        with pytest.raises(errors.AllNaNError, match="the truth has no valid pixel"):
            xlstsr.plot.comparison(coarse, sr, truth.where(False), path=path)
        # each valid, but nowhere both: the error map would be blank
        left = np.arange(truth.sizes["x"]) < truth.sizes["x"] // 2
        with pytest.raises(errors.AllNaNError, match="no valid pixel in common"):
            xlstsr.plot.comparison(coarse, sr.copy(data=np.where(left, sr.values, np.nan)),
                                   truth.copy(data=np.where(left, np.nan, truth.values)),
                                   path=path)
    assert not path.exists()
    xlstsr.plot.comparison(coarse, sr, truth, path=path)  # valid fields still drawn
    assert path.stat().st_size > 0


def test_truth_maps_refuses_an_all_nan_result():
    # before: its error map was drawn with NaN colour limits (blank), with a bare numpy warning
    s = xlstsr.datasets.sample_scene(n_times=1, size=32)
    coarse, truth = s["lst_1km"].isel(time=0), s["lst_250m"].isel(time=0)
    sr = xlstsr.upscale(coarse, 4)
    with pytest.raises(errors.AllNaNError, match=r"results\['disr'\] has no valid pixel"):
        xlstsr.plot.truth_maps(coarse, {"bicubic": sr, "disr": sr.where(False)}, truth)


# -- ECOSTRESS: a scene in a projected CRS ---------------------------------------------------------

def _write(path: Path, array: np.ndarray, crs: str, transform) -> None:
    import rasterio

    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="GTiff", height=array.shape[0], width=array.shape[1],
                       count=1, dtype=array.dtype, crs=crs, transform=transform,
                       nodata=0 if array.dtype == np.uint16 else None) as dst:
        dst.write(array, 1)


def _scene(folder: Path, key: str, crs: str, transform, kelvin: float, shape=(40, 60)) -> str:
    """An ECOSTRESS-like scene (uint16 DN x 0.02, clear land masks) in ``crs``; its LST name."""
    names = {sub: f"ECO_L2_LSTE.002_{sub}_doy{key}_aid0001.tif"
             for sub in ("LST", "cloud_mask", "water_mask")}
    _write(folder / "LST" / names["LST"], np.full(shape, round(kelvin / 0.02), np.uint16), crs,
           transform)
    for sub in ("cloud_mask", "water_mask"):
        _write(folder / sub / names[sub], np.zeros(shape, np.uint8), crs, transform)
    return names["LST"]


def test_day_night_of_a_projected_scene_from_its_longitude(tmp_path):
    # before: without scenes.csv the centre easting (metres) was divided by 15 as if degrees:
    # a scene at 00:10 local time in Los Angeles, in UTM 11N, was labelled day, and the day
    # bounds masked its (plausible, night) 280 K pixels; its dims were named lat/lon
    from pyproj import Transformer
    from rasterio.transform import from_origin

    key = "2023183080644"  # 08:06:44 UTC
    x0, y0 = 386_000.0, 3_765_000.0
    name = _scene(tmp_path, key, "EPSG:32611", from_origin(x0, y0, 70.0, 70.0), 280.0)
    cx, cy = x0 + 30 * 70.0, y0 - 20 * 70.0
    lon, _ = Transformer.from_crs("EPSG:32611", "EPSG:4326", always_xy=True).transform(cx, cy)
    hour = (8 + 6 / 60 + 44 / 3600 + lon / 15.0) % 24
    expected = "day" if 6 <= hour < 18 else "night"
    # (the metres read as degrees would say otherwise: the case the old code got wrong)
    assert expected != ("day" if 6 <= (8 + 6 / 60 + cx / 15.0) % 24 < 18 else "night")
    scenes = ecostress_scenes(tmp_path)
    assert scenes.loc[key, "day_night"] == expected
    lst = open_ecostress_scene(name, tmp_path)
    assert lst.attrs["bounds_k"] == list(ECOSTRESS_BOUNDS[expected])
    assert lst.dims == ("y", "x") and lst.rio.crs.to_epsg() == 32611
    np.testing.assert_allclose(lst["x"].values[[0, -1]], [x0 + 35.0, x0 + 59 * 70.0 + 35.0])
    assert np.isfinite(lst.values).all()  # 280 K: plausible by night, kept


# -- ECOSTRESS: scenes missing from scenes.csv -----------------------------------------------------

def test_unlisted_scene_is_added_with_derived_columns_and_a_warning(shared_data, tmp_path):
    # before: an LST file added to LST/ after scenes.csv was written was left out without a
    # word, and open_ecostress_scene(<its file name>) said "no ECOSTRESS scene"
    src = shared_data / "ecostress_la"
    for sub in ("LST", "cloud_mask", "water_mask"):
        (tmp_path / sub).symlink_to(src / sub)
    table = pd.read_csv(src / "scenes.csv", dtype={"overpass": str})
    full = ecostress_scenes(src)
    # the last granule is the second of a two-granule overpass: its overpass is derived too
    extra = table["file"].iloc[-1]
    table.iloc[:-1].to_csv(tmp_path / "scenes.csv", index=False)
    with pytest.warns(UserWarning, match=rf"does not list 1 LST file.*added.*{extra}"):
        scenes = ecostress_scenes(tmp_path)
    assert list(scenes.sort_index().index) == list(full.sort_index().index)
    key = full.index[full["file"] == extra][0]
    for col in ("file", "cloud_mask", "water_mask", "datetime_utc", "day_night", "overpass",
                "n_valid", "centre_lon", "centre_lat", "local_solar_hour"):
        assert scenes.loc[key, col] == full.loc[key, col], col
    with pytest.warns(UserWarning, match="does not list"):
        lst = open_ecostress_scene(extra, tmp_path)
    assert lst.attrs["key"] == key
    assert int(np.isfinite(lst.values).sum()) <= full.loc[key, "n_valid"]


def test_unlisted_scene_without_masks_is_named_and_left_out(tmp_path):
    from rasterio.transform import from_origin

    t = from_origin(-118.2, 34.0, 0.00063, 0.00063)
    listed = _scene(tmp_path, "2023183080644", "EPSG:4326", t, 290.0)
    unlisted = _scene(tmp_path, "2023190200000", "EPSG:4326", t, 300.0)
    bare = _scene(tmp_path, "2023191200000", "EPSG:4326", t, 300.0)
    for sub in ("cloud_mask", "water_mask"):
        (tmp_path / sub / bare.replace("_LST_", f"_{sub}_")).unlink()
    pd.DataFrame({"file": [listed]}).to_csv(tmp_path / "scenes.csv", index=False)
    with pytest.warns(UserWarning) as caught:
        scenes = ecostress_scenes(tmp_path)
    said = " ".join(str(w.message) for w in caught)
    assert "does not list 2 LST file" in said and unlisted in said and bare in said
    assert "left out" in said
    assert sorted(scenes["file"]) == sorted([listed, unlisted])
    assert scenes["n_valid"].dtype.kind == "i" and (scenes["n_valid"] == 40 * 60).all()


# -- MOD11A1: several granules, the product folder itself --------------------------------------

def test_mod11a1_folder_of_several_granules_is_refused_listing_them(shared_data, tmp_path):
    # before: the first granule in sorted order was read, the others ignored without a word;
    # root= the mod11a1_hdf folder itself looked for .../mod11a1_hdf/mod11a1_hdf
    pytest.importorskip("pyhdf")
    granule = next((shared_data / "mod11a1_hdf").glob("MOD11A1*.hdf"))
    folder = tmp_path / "mod11a1_hdf"
    folder.mkdir()
    names = [granule.name, granule.name.replace(".A2019305.", ".A2019306.")]
    for n in names:  # copies dated as their names say (a renamed granule is refused)
        dated_granule_copy(granule, folder / n)
    for root in (tmp_path, folder):
        with pytest.raises(errors.XlstsrError, match="2 MOD11A1 granules") as err:
            xlstsr.datasets.open_mod11a1_granule(root=root)
        assert all(n in str(err.value) for n in names)
        assert "root=" in str(err.value) and "open_modis" in str(err.value)
    # one picked by its path, and the product folder itself
    one = xlstsr.datasets.open_mod11a1_granule(root=folder / names[1])
    assert one.shape == (1200, 1200)
    (folder / names[1]).unlink()
    own = xlstsr.datasets.open_mod11a1_granule(root=folder)
    assert own.shape == (1200, 1200) and own.attrs["units"] == "K"
    empty = tmp_path / "empty" / "mod11a1_hdf"
    empty.mkdir(parents=True)
    with pytest.raises(errors.InputNotFoundError, match="no MOD11A1"):
        xlstsr.datasets.open_mod11a1_granule(root=empty)
