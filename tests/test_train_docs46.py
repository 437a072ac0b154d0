"""Probe 46T (training: a guide-less network in a guided mode, val_fraction 0's message) and
probe 46K (docs truth: evaluate's checks on lazy inputs, upscale's scale_correction with bicubic,
open_stac without the stac extra, prose in Parameters sections)."""

import importlib
import inspect
import logging
import pkgutil
import sys
import warnings
from pathlib import Path

import pytest
import torch
from helpers import cli_streams

import xlstsr
from xlstsr import errors

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _quiet():
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _scene():
    return xlstsr.datasets.sample_scene(n_times=2, size=64, seed=1)


_SMALL = {"factor": 4, "patch": 8, "window": 16, "epochs": 1}


# -- 46T-2: a guided mode with a network that takes no guide ---------------------------------


@pytest.mark.parametrize("mode", ["degraded_disr", "supervised"])
@pytest.mark.parametrize("arch", ["rescnn", "mrunet"])
def test_guideless_arch_in_a_guided_mode_is_refused_before_reading(monkeypatch, mode, arch):
    from xlstsr.train import cube

    s = _scene()
    truth = {"truth": s["lst_250m"]} if mode == "supervised" else {}

    def no_read(self, stage=None):
        raise AssertionError("the cube was read before the refusal")

    monkeypatch.setattr(cube.CubeDataModule, "setup", no_read)
    with pytest.raises(errors.XlstsrError, match=rf"arch '{arch}' takes no guide, but mode "
                       rf"'{mode}'.*'guided_rescnn' or 'guided_unet'"):
        cube.fit_cube(s["lst_1km"], guide=s["ndvi_250m"], mode=mode, arch=arch, **_SMALL,
                      **truth)


def test_the_advice_of_the_guideless_arch_refusal_works():
    from xlstsr.train import fit_cube

    s = _scene()
    lst, ndvi = s["lst_1km"], s["ndvi_250m"]
    # a guided network, as advised
    m, rec = fit_cube(lst, guide=ndvi, mode="degraded_disr", arch="guided_rescnn", **_SMALL)
    assert m.n_guide == 1 and rec["inputs"][0] == "lst" and len(rec["inputs"]) == 2
    # mode 'sisr' without the guide: the same degraded pairs
    m, rec = fit_cube(lst, mode="sisr", arch="rescnn", **_SMALL)
    assert rec["inputs"] == ["lst"]
    # supervised without the guide
    m, rec = fit_cube(lst, truth=s["lst_250m"], mode="supervised", arch="rescnn", **_SMALL)
    assert rec["inputs"] == ["lst"]


def test_cli_guideless_arch_in_degraded_disr_refused_before_training(tmp_path):
    s = _scene()
    s["lst_1km"].to_dataset(name="LST").to_netcdf(tmp_path / "lst.nc")
    s["ndvi_250m"].rename("NDVI").rio.to_raster(tmp_path / "ndvi.tif")
    out = tmp_path / "m.pt"
    rc, so, se = cli_streams("train", "--lst", str(tmp_path / "lst.nc"), "--guide",
                             str(tmp_path / "ndvi.tif"), "--mode", "degraded_disr", "--arch",
                             "rescnn", "--patch", "8", "--window", "16", "--epochs", "1",
                             "--out", str(out))
    assert rc == 2 and "takes no guide" in se + so, se + so
    assert not out.exists()


def test_sif_with_a_guideless_network_records_its_inputs_saves_and_loads(tmp_path):
    from xlstsr.nn import load_model, save_model
    from xlstsr.train import fit_cube

    s = _scene()
    coarse = s["lst_1km"]
    model, rec = fit_cube(coarse, guide=s["ndvi_250m"], mode="sif", arch="rescnn", **_SMALL)
    # the guide fed only the loss: the network takes the LST alone
    assert rec["inputs"] == ["lst"] and model.metadata["inputs"] == ["lst"]
    assert "guide_offset" not in model.metadata
    path = save_model(model, tmp_path / "sif.pt") or tmp_path / "sif.pt"
    back = load_model(path)
    assert back.metadata["inputs"] == ["lst"]
    sr = xlstsr.upscale(coarse, 4, method="sisr", method_options={"model": str(path)})
    assert sr.shape[-2:] == (coarse.sizes["y"] * 4, coarse.sizes["x"] * 4)


# -- 46T-3: val_fraction 0 is asked for: no warning about missing validation patches ---------


def _setup_log(caplog, **kw):
    from xlstsr.train import CubeDataModule

    s = _scene()
    dm = CubeDataModule(s["lst_1km"], factor=4, patch=8, batch_size=4, **kw)
    with caplog.at_level(logging.INFO, logger="xlstsr"):
        dm.setup("fit")
    return dm, caplog.records


def test_val_fraction_0_trains_without_validation_without_a_warning(caplog):
    dm, records = _setup_log(caplog, window=8, val_fraction=0)
    assert dm.val_set is None or len(dm.val_set) == 0
    assert not [r for r in records if r.levelno >= logging.WARNING
                and "no validation" in r.getMessage()]
    assert any(r.levelno == logging.INFO and "val_fraction 0" in r.getMessage()
               for r in records)


def test_a_validation_share_that_drew_no_patch_still_warns(caplog):
    _, records = _setup_log(caplog, window=16, val_fraction=0.2)  # one window position
    assert any(r.levelno == logging.WARNING and "no validation patches" in r.getMessage()
               for r in records)


# -- 46K-1: evaluate's checks of the scored pixels on lazy inputs: documented ----------------


def test_evaluate_documents_which_warnings_need_inputs_in_memory():
    doc = inspect.getdoc(xlstsr.evaluate)
    warns = doc[doc.index("Warns\n"):doc.index("Examples\n")]
    assert "THRESHOLD_DROP_WARN" in warns and "n_valid" in warns
    assert "Lazy scores" in warns and ".load()" in warns
    readme = (ROOT / "README.md").read_text()
    assert "not on lazy scores: `.load()` them first" in readme


def test_evaluate_threshold_warning_fires_once_the_lazy_reference_is_loaded():
    s = _scene()
    truth = s["lst_250m"].isel(time=0)
    sr = truth.copy()
    cut = float(truth.quantile(0.8))

    def threshold_warnings(ref):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            xlstsr.evaluate(sr, ref, valid_min=cut)
        return [x for x in w if "the valid range" in str(x.message)]

    assert threshold_warnings(truth.chunk()) == []  # lazy scores: not checked (documented)
    assert len(threshold_warnings(truth.chunk().load())) == 1  # the documented remedy


# -- 46K-2: upscale's docstring on scale_correction with bicubic -----------------------------


def test_upscale_docstring_says_a_fixed_gain_with_bicubic_is_refused():
    doc = " ".join(inspect.getdoc(xlstsr.upscale).split())
    assert "a fixed gain is refused" in doc
    assert "so is the output of" not in doc  # the old "left as it is ... at any factor"
    lst = _scene()["lst_1km"]
    with pytest.raises(errors.XlstsrError, match="adds none"):
        xlstsr.upscale(lst, 4, method="bicubic", scale_correction=0.5)


# -- 46K-3: open_stac without the stac extra -------------------------------------------------


@pytest.mark.parametrize("hidden, named", [("pystac", "pystac"), ("odc.stac", "odc-stac")])
def test_open_stac_without_the_extra_names_the_install(monkeypatch, hidden, named):
    from xlstsr.io import open_stac

    monkeypatch.setitem(sys.modules, hidden, None)
    with pytest.raises(ImportError, match=rf"needs {named}.*pip install 'xlstsr\[stac\]'"):
        open_stac([object()], "LST_Day_1km")


def test_the_stac_extra_exists_and_the_docs_name_it():
    # the extra's line of pyproject.toml (tomllib is Python 3.11+; the package takes 3.10)
    line = next(v for v in (ROOT / "pyproject.toml").read_text().splitlines()
                if v.startswith("stac = ["))
    assert all(f'"{name}>=' in line for name in ("pystac", "odc-stac", "stackstac")), line
    for page in ("README.md", "docs/index.md"):
        assert "pip install 'xlstsr[stac]'" in " ".join((ROOT / page).read_text().split()), page


# -- 46K-4: no prose paragraph parsed as a parameter -----------------------------------------


def _prose_parameters(obj):
    from numpydoc.docscrape import FunctionDoc

    return [p.name for p in FunctionDoc(obj)["Parameters"]
            if " " in p.name.strip() and "," not in p.name]


def test_named_docstrings_keep_prose_out_of_parameters():
    from xlstsr.correction import apply_scale_correction, calibrate_detail_gain
    from xlstsr.methods.base import register_method
    from xlstsr.methods.guided import GuidedSharpener

    for fn in (register_method, apply_scale_correction, calibrate_detail_gain,
               GuidedSharpener.sharpen):
        assert _prose_parameters(fn) == [], fn.__qualname__
    from numpydoc.docscrape import FunctionDoc

    assert "Pairing: when" in " ".join(FunctionDoc(apply_scale_correction)["Notes"])
    assert "registered under a" in " ".join(FunctionDoc(register_method)["Notes"])


def test_no_public_docstring_has_prose_parsed_as_parameters():
    bad, seen = [], set()
    for info in pkgutil.walk_packages(xlstsr.__path__, "xlstsr."):
        if info.name.endswith("__main__"):
            continue
        mod = importlib.import_module(info.name)
        for name, obj in vars(mod).items():
            if name.startswith("_") or id(obj) in seen or \
                    getattr(obj, "__module__", None) != mod.__name__:
                continue
            seen.add(id(obj))
            funcs = [obj] if inspect.isfunction(obj) else (
                [v for a, v in vars(obj).items() if inspect.isfunction(v)
                 and not a.startswith("_")] if inspect.isclass(obj) else [])
            for f in funcs:
                if _prose_parameters(f):
                    bad.append(f"{mod.__name__}.{f.__qualname__}")
    assert bad == []
