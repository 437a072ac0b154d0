"""Helpers shared by the test modules (fixtures live in conftest.py).

- :func:`make_lst`: a small georeferenced LST DataArray;
- :func:`raise_if_computed`: a dask scheduler that fails the test if anything is computed
  (more than ``max_computes`` times) inside its block, flox style: a function that claims to
  build a lazy graph must not compute, not even a min/max for a check;
- :func:`restore_method_registry`: methods registered inside the block are removed after it;
- :func:`load_script`: a module of ``scripts/`` (the training recipes live outside the package);
- :func:`damage_largest_entry`: a torch.save file damaged inside its largest tensor entry;
- :func:`cli_streams` / :func:`cli_stderr`: ``xlstsr`` run in this process without capsys;
- :func:`paste_da_advice`: the ``da = ...`` fix an error message quotes, run as a user pastes it;
- :func:`tiny_lst_stack`, :func:`tiny_patch_split`, :func:`tiny_rescnn`: seconds-long trainings.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dask
import numpy as np
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr

__all__ = [
    "ComputeRaised",
    "RaisingScheduler",
    "cli_stderr",
    "cli_streams",
    "damage_largest_entry",
    "load_script",
    "make_lst",
    "paste_da_advice",
    "raise_if_computed",
    "restore_method_registry",
    "tiny_lst_stack",
    "tiny_patch_split",
    "tiny_rescnn",
]


#: a real MOD11A1 granule of the shared data (the ``real_granule`` fixture's; tests of the HDF
#: reader's dates and copies name their renamed copies after it)
GRANULE = "MOD11A1.A2019305.h14v09.006.2019306084028.hdf"


def make_lst(
    values: np.ndarray, res: float = 1000.0, crs: str = "EPSG:32631", **attrs
) -> xr.DataArray:
    """A georeferenced (.., y, x) DataArray for tests: ``res`` metre pixels, cell-centre coords.

    Examples
    --------
    >>> da = make_lst(np.full((2, 3), 300.0), units="K")
    >>> da.dims, da.rio.resolution(), str(da.rio.crs)
    (('y', 'x'), (1000.0, -1000.0), 'EPSG:32631')
    """
    ny, nx = values.shape[-2:]
    dims = ("time", "y", "x")[-values.ndim :] if values.ndim <= 3 else None
    da = xr.DataArray(values, dims=dims, attrs=attrs)
    da = da.assign_coords(
        y=500_000.0 - (np.arange(ny) + 0.5) * res, x=400_000.0 + (np.arange(nx) + 0.5) * res
    )
    return da.rio.write_crs(crs)


class ComputeRaised(AssertionError):
    """Raised by :class:`RaisingScheduler` when a graph is computed more often than allowed."""


class RaisingScheduler:
    """A dask scheduler (``dask.config.set(scheduler=...)``) that counts computations and raises
    :class:`ComputeRaised` on the one beyond ``max_computes``; allowed ones run synchronously."""

    def __init__(self, max_computes: int = 0) -> None:
        self.max_computes = int(max_computes)
        self.count = 0

    def __call__(self, dsk, keys, **kwargs):
        self.count += 1
        if self.count > self.max_computes:
            raise ComputeRaised(
                f"dask computed {self.count} time(s), at most {self.max_computes} allowed: "
                "something evaluated eagerly while building a lazy result"
            )
        return dask.get(dsk, keys, **kwargs)


@contextmanager
def raise_if_computed(max_computes: int = 0) -> Iterator[RaisingScheduler]:
    """Fail if the block computes a dask graph more than ``max_computes`` times.

    Raises inside the offending ``compute`` (the traceback shows who computed) and checks the
    count again on exit, in case the code under test swallowed the error. A ``compute`` given
    an explicit ``scheduler=`` (the Zarr writer's) bypasses it.

    Examples
    --------
    >>> import dask.array as da
    >>> x = da.ones(4, chunks=2)
    >>> with raise_if_computed():
    ...     y = x + 1  # building a graph is fine
    >>> with raise_if_computed(max_computes=1) as s:
    ...     _ = y.sum().compute()
    >>> s.count
    1
    >>> with raise_if_computed():  # doctest: +IGNORE_EXCEPTION_DETAIL
    ...     y.compute()
    Traceback (most recent call last):
    ComputeRaised: dask computed 1 time(s), at most 0 allowed: ...
    """
    sched = RaisingScheduler(max_computes)
    with dask.config.set(scheduler=sched):
        yield sched
    if sched.count > sched.max_computes:
        raise ComputeRaised(
            f"dask computed {sched.count} time(s) (an error was swallowed), at most "
            f"{sched.max_computes} allowed"
        )


@contextmanager
def restore_method_registry() -> Iterator[None]:
    """Put the global method registry back as it was: no test method leaks into later tests.

    Examples
    --------
    >>> import xlstsr
    >>> with restore_method_registry():
    ...     @xlstsr.register_method("doctest_only")
    ...     class M(xlstsr.methods.UpscaleMethod): ...
    ...     "doctest_only" in xlstsr.available_methods()
    True
    >>> "doctest_only" in xlstsr.available_methods()
    False
    """
    from xlstsr.methods import base

    saved = dict(base._REGISTRY)
    try:
        yield
    finally:
        base._REGISTRY.clear()
        base._REGISTRY.update(saved)


def load_script(name: str):
    """Import ``scripts/<name>.py`` (not a package module) once, e.g. ``load_script("train_bundled")``."""
    import importlib.util
    import sys
    from pathlib import Path

    key = f"_xlstsr_scripts_{name}"
    if key not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(key, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


def run_cli(capsys, *argv) -> tuple[int, str]:
    """``xlstsr`` run in this process: its exit code and stderr, which must hold no traceback
    (a user error is one line)."""
    from xlstsr.cli import main

    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def damage_largest_entry(src, dst):
    """``src`` (a torch.save zip file) written to ``dst`` with every bit of its largest tensor
    entry flipped: torch still reads it, its CRC-32 no longer matches. Returns the entry's
    name."""
    import io
    import zipfile
    from pathlib import Path

    data = bytearray(Path(src).read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        info = max((i for i in z.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    # the local header's name and extra-field lengths (its extra field pads for alignment)
    n_name, n_extra = np.frombuffer(bytes(data[info.header_offset + 26:info.header_offset + 30]),
                                    "<u2")
    start = info.header_offset + 30 + int(n_name) + int(n_extra)
    for i in range(start, start + info.file_size):
        data[i] ^= 0xFF
    Path(dst).write_bytes(bytes(data))
    return info.filename


def cli_streams(*argv) -> tuple[int, str, str]:
    """``xlstsr *argv`` run in this process: its exit code, stdout and stderr (for tests
    without the capsys fixture; :func:`run_cli` takes it)."""
    import contextlib
    import io

    from xlstsr.cli import main

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as e:  # argparse's usage errors
            rc = e.code
    return rc, out.getvalue(), err.getvalue()


def cli_stderr(*argv) -> tuple[int, str]:
    """:func:`cli_streams` with warnings silenced: the exit code (an int) and stderr."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc, _, err = cli_streams(*argv)
    return int(rc or 0), err


def load_benchmark(name: str):
    """Import ``benchmarks/<name>.py`` afresh under a private name (its module attributes are
    monkeypatched by the tests), e.g. ``load_benchmark("bench_models")``.

    The module is not put in ``sys.modules``: functions it ships to dask workers (engine.py) are
    then pickled by value, as they are when the script runs as ``__main__``.
    """
    import importlib.util
    import sys
    from pathlib import Path

    bench = Path(__file__).resolve().parents[1] / "benchmarks"
    if str(bench) not in sys.path:  # the benchmarks import each other
        sys.path.insert(0, str(bench))
    spec = importlib.util.spec_from_file_location(f"_xlstsr_bench_{name}", bench / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class StopBenchmark(Exception):
    """Raised by a spy to stop a benchmark's ``main`` before it reads any data."""


def local_cluster_client(n_workers: int) -> Iterator[Any]:
    """A dask.distributed client of a LocalCluster of ``n_workers`` worker processes (one thread
    each), closed after the ``yield``: for a module-scoped fixture (``yield from``). Forkserver
    with xlstsr and torch preloaded: workers (and one restarted after a kill) fork from a
    process that imported them once, instead of each importing them again."""
    import distributed

    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
        ctx = distributed.utils.get_mp_context()
        ctx.set_forkserver_preload(["distributed", "numpy", "dask", "xarray", "torch", "xlstsr"])
        cluster = distributed.LocalCluster(
            processes=True, n_workers=n_workers, threads_per_worker=1, dashboard_address=None,
            worker_dashboard_address=None, silence_logs=40,
        )
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def usage_error(main, argv, capsys) -> str:
    """``main(argv)`` ends in argparse's usage error (exit 2): its message."""
    import pytest

    with pytest.raises(SystemExit) as e:
        main([str(a) for a in argv])
    assert e.value.code == 2, e.value.code
    return capsys.readouterr().err


#: DESIREX's ENVI header CRS: UTM 30N with an ellipsoid that is not Earth-sized (semi-major axis
#: 637813 m, false easting 50000), a malformed CRS the library refuses and --crs replaces
MALFORMED_WKT = (
    'PROJCS["UTM_Zone_30N",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",637813,'
    '298.252223563]],PRIMEM["Greenwich",0],UNIT["Degree",0.0174532925199433]],'
    'PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],'
    'PARAMETER["central_meridian",-3],PARAMETER["scale_factor",0.9996],'
    'PARAMETER["false_easting",50000],PARAMETER["false_northing",0],UNIT["metre",1],'
    'AXIS["Easting",EAST],AXIS["Northing",NORTH]]'
)


def bench_loader(monkeypatch, tmp_path):
    """A benchmark loader whose ROOT is ``tmp_path`` (published pages: tmp_path/docs/results),
    run from ``tmp_path`` (held-back pages: tmp_path/heldback_results): no page of the
    repository's docs/results is written."""
    import pytest

    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)

    def load(name: str):
        mod = load_benchmark(name)
        monkeypatch.setattr(mod, "ROOT", tmp_path)
        return mod

    return load


def results_destination(module, argv, monkeypatch):
    """Where ``module.main(argv)`` (a benchmark) would write its pages: its ``results_dir`` is
    called, then the run is stopped before anything is read."""
    from pathlib import Path

    import pytest

    from xlstsr.datasets.root import results_dir

    got = []

    def spy(*args, **kwargs):
        got.append(Path(results_dir(*args, **kwargs)))
        raise StopBenchmark

    monkeypatch.setattr(module, "results_dir", spy)
    with pytest.raises(StopBenchmark):
        module.main(argv)
    return got[-1]


def utm_field(vals, res: float, x0: float = 500000.0, y0: float = 5000000.0):
    """A north-up (y, x) float32 field in Kelvin on a UTM 31N grid of ``res`` m pixels whose
    top-left corner is (``x0``, ``y0``), with its transform written."""
    import numpy as np
    import xarray as xr
    from affine import Affine

    ny, nx = vals.shape
    a = xr.DataArray(np.asarray(vals, dtype=np.float32), dims=("y", "x"),
                     coords={"y": y0 - (np.arange(ny) + 0.5) * res,
                             "x": x0 + (np.arange(nx) + 0.5) * res},
                     attrs={"units": "K"})
    return a.rio.write_crs("EPSG:32631").rio.write_transform(Affine(res, 0, x0, 0, -res, y0))


def radiometric_blocks(v, f: int):
    """The radiometric (T^4) mean of ``v`` over f x f blocks."""
    import numpy as np

    ny, nx = v.shape
    return (np.asarray(v, np.float64).reshape(ny // f, f, nx // f, f) ** 4).mean(axis=(1, 3)) ** 0.25


def moved(a, dx: float, dy: float):
    """``a`` placed (dx, dy) CRS units away: its coordinates and transform moved together."""
    from affine import Affine

    out = a.assign_coords(x=a.x + dx, y=a.y + dy)
    return out.rio.write_transform(Affine.translation(dx, dy) * a.rio.transform())


def bands_on_different_dates(scene):
    """The sample scene's LST, a 16-day NDVI (2 steps) and an 8-day albedo (4 steps): guide
    bands dated apart."""
    import numpy as np
    import pandas as pd
    import xarray as xr

    lst, ndvi = scene["lst_1km"], scene["ndvi_250m"]
    crs = ndvi.rio.crs
    alb = (0.3 - 0.2 * ndvi + 0.01 * np.random.default_rng(0).standard_normal(ndvi.shape)
           ).astype("float32")
    nd16 = xr.concat([ndvi, ndvi * 0.9], dim=pd.Index(
        pd.to_datetime(["2020-06-25", "2020-07-03"]), name="time")).rio.write_crs(crs)
    al8 = xr.concat([alb * (1 + 0.1 * i) for i in range(4)], dim=pd.Index(
        pd.date_range("2020-06-24", periods=4, freq="8D"), name="time")).rio.write_crs(crs)
    return lst, nd16, al8


def textured_pair(n: int = 160, seed: int = 9):
    """A smooth textured fine LST (n x n at 250 m, 300 K +- 6 K) and its radiometric 4 x 4
    aggregate at 1 km: a pair whose offsets co-registration can measure."""
    import numpy as np
    from scipy import ndimage

    b = ndimage.gaussian_filter(np.random.default_rng(seed).standard_normal((n, n)), 3.0,
                                mode="wrap")
    v = 300 + 6 * b / b.std()
    return utm_field(v, 250.0), utm_field(radiometric_blocks(v, 4), 1000.0)


def ecostress_subset(src, dst, n: int = 3):
    """A folder laid out like ``src`` (an ``ecostress_la``) holding links to its first ``n``
    scenes (LST, cloud and water masks) and their rows of scenes.csv, which it returns."""
    import pandas as pd

    rows = pd.read_csv(src / "scenes.csv", dtype={"overpass": str}).iloc[:n]
    for sub, col in (("LST", "file"), ("cloud_mask", "cloud_mask"), ("water_mask", "water_mask")):
        (dst / sub).mkdir(parents=True)
        for f in rows[col]:
            (dst / sub / f).symlink_to(src / sub / f)
    rows.to_csv(dst / "scenes.csv", index=False)
    return rows


def paste_da_advice(advice: str, da: xr.DataArray) -> xr.DataArray:
    """Run the first `` `da = ...` `` statement quoted in an error message on ``da``, as a user
    pasting it would (the test then checks the operation runs on the result)."""
    import re

    code = re.search(r"`(da = [^`]+)`", advice)
    assert code, advice
    env = {"da": da, "xr": xr, "np": np}
    exec(code.group(1), env)  # the message's own advice
    return env["da"]


def tiny_lst_stack(n: int = 4, size: int = 32, seed: int = 0) -> np.ndarray:
    """``n`` images of ``size`` x ``size`` noise around 300 K (float32), for tiny trainings."""
    return 300 + np.random.default_rng(seed).normal(0, 2, (n, size, size)).astype("float32")


def tiny_patch_split():
    """Training and validation patches of :func:`tiny_lst_stack` degraded x4, split by scene."""
    from xlstsr.train import degraded_pairs, make_patches, split_by_scene

    ps = make_patches(**degraded_pairs(tiny_lst_stack(), 4), factor=4, patch=16,
                      scene_ids=list("abcd"))
    return split_by_scene(ps)


def tiny_rescnn():
    """A seeded ResCNN of 4 channels and one block: trains in well under a second an epoch."""
    import torch

    from xlstsr.nn import ResCNN

    torch.manual_seed(0)
    return ResCNN(4, channels=4, n_blocks=1)


#: the files of one MODIS/ASTER pair (``<id>_<kind>.tif``)
PAIR_KINDS = ("modis_lst_1km", "modis_ndvi_250m", "aster_lst_250m")


def heldback_pairs_folder(shared, root, pairs):
    """``root/modis_aster`` laid out as a held-back folder: ``pairs`` maps each new id to a
    shared pair id (or one shared id per file of :data:`PAIR_KINDS`; None: listed in pairs.csv
    with no file), the files linked, its ``pairs.csv`` written; returns ``root``."""
    folder = root / "modis_aster"
    folder.mkdir(parents=True)
    for new, src in pairs.items():
        if src is None:
            continue
        srcs = (src,) * len(PAIR_KINDS) if isinstance(src, str) else src
        for kind, s in zip(PAIR_KINDS, srcs):
            (folder / f"{new}_{kind}.tif").symlink_to(shared / "modis_aster" / f"{s}_{kind}.tif")
    (folder / "pairs.csv").write_text(
        "pair,aster_view_angle_deg\n" + "".join(f"{p},10.0\n" for p in pairs))
    return root


def stub_held_back_cube(sc, monkeypatch, score_aster) -> None:
    """``sisr_cube``'s cube readers and scorers replaced by stubs (one window, one asset), and
    its ASTER scoring by ``score_aster(pairs, methods, root, left_out=None)``: what a held-back
    run decides and writes, without a cube."""
    from types import SimpleNamespace

    import numpy as np
    import pandas as pd

    assets = ("LST_Day_1km",)
    wins = pd.DataFrame({"window": [1], "xmin": [0.0], "ymin": [0.0], "xmax": [1.0],
                         "ymax": [1.0]})
    one = {"psnr": np.ones(1), "gain": np.zeros(1), "rmse": np.ones(1)}
    monkeypatch.setattr(sc, "recipe", lambda: SimpleNamespace(
        CUBE="modis_h18v04_2020", CUBE_ASSETS=assets, cube_dir=lambda d: d,
        cube_windows_table=lambda d: wins, cube_samples=lambda d, max_dates=None: None,
        scale_detail=lambda m, g: m))
    monkeypatch.setattr(sc, "check_held_back_cube", lambda *a, **k: None)
    monkeypatch.setattr(sc, "score_positions",
                        lambda s, pos, methods, a: {m: {assets[0]: one} for m in methods})
    monkeypatch.setattr(sc, "score_aster", score_aster)


def dated_granule_copy(src, dst):
    """A copy of the MODIS granule ``src`` at ``dst`` whose CoreMetadata records the date of
    ``dst``'s name (``.AYYYYDDD.``), as a real granule of that day does: a symlink or plain
    copy under another day's name is a renamed granule, which open_modis refuses."""
    import datetime as dt
    import re
    import shutil
    from pathlib import Path

    from pyhdf.SD import SD, SDC

    year, doy = re.search(r"\.A(\d{4})(\d{3})\.", Path(dst).name).groups()
    day = (dt.date(int(year), 1, 1) + dt.timedelta(days=int(doy) - 1)).isoformat()
    shutil.copyfile(src, dst)
    sd = SD(str(dst), SDC.WRITE)
    try:
        for key, text in sd.attributes().items():
            if key.startswith("CoreMetadata"):
                # (\b: not inside END_OBJECT = RANGE...DATE)
                new = re.sub(r'(\bOBJECT\s*=\s*RANGE(?:BEGINNING|ENDING)DATE\b.*?VALUE\s*=\s*")'
                             r'\d{4}-\d{2}-\d{2}', rf"\g<1>{day}", text, flags=re.S)
                sd.attr(key).set(SDC.CHAR, new)
    finally:
        sd.end()
    return Path(dst)


def utm33_cog_item(i: int, path, n: int, band: dict, bbox: list[float]):
    """A pystac Item ``it{i}`` of 2020-01-(i+1) 10:30 whose asset 'LST' is the local GeoTIFF
    ``path`` (n x n, 1 km, EPSG:32633 from x=1000 km, y=5500 km) with ``band`` as its
    raster:bands (the catalogue's coding), over ``bbox`` (lon/lat)."""
    import datetime as dt

    import pystac

    w, s_, e, n_ = bbox
    it = pystac.Item(
        id=f"it{i}", bbox=list(bbox), datetime=dt.datetime(2020, 1, i + 1, 10, 30),
        geometry={"type": "Polygon", "coordinates": [[[w, s_], [e, s_], [e, n_], [w, n_],
                                                      [w, s_]]]},
        properties={"proj:epsg": 32633, "proj:transform": [1000, 0, 1000000, 0, -1000, 5500000],
                    "proj:shape": [n, n]})
    it.stac_extensions = ["https://stac-extensions.github.io/projection/v1.1.0/schema.json",
                          "https://stac-extensions.github.io/raster/v1.1.0/schema.json"]
    it.add_asset("LST", pystac.Asset(href=str(path), media_type=pystac.MediaType.COG,
                                     roles=["data"], extra_fields={"raster:bands": [band]}))
    return it


def unfinished_store(lst, store, crash_at: int = 2):
    """``store`` of ``xlstsr.upscale_to_zarr(lst, factor 4)``, one region per time chunk, whose
    run crashed at region ``crash_at`` (its first read, the resume checksum's, passes): the
    regions before it written, the rest not."""
    import warnings

    import pytest

    import xlstsr

    seen: dict[int, int] = {}

    def crash(b, block_info=None):
        i = block_info[0]["chunk-location"][0]
        seen[i] = seen.get(i, 0) + 1
        if i == crash_at and seen[i] > 1:
            raise RuntimeError("simulated crash")
        return b

    lst = lst.copy(data=lst.data.map_blocks(crash, dtype=lst.dtype))
    with warnings.catch_warnings(), pytest.raises(RuntimeError, match="simulated"):
        warnings.simplefilter("ignore")
        xlstsr.upscale_to_zarr(lst, store, 4, progress=False, regions_in_flight=1)
    return store
