"""Round 36: options of scripts/train_bundled.py that were dropped or misread, and fine-tuning a
trained model keeping the normalisation its weights were trained with."""

from __future__ import annotations

import warnings

import pytest
import torch
from helpers import load_script, tiny_lst_stack, tiny_patch_split, tiny_rescnn

from xlstsr.errors import XlstsrError
from xlstsr.nn import load_model, save_model
from xlstsr.train import SuperResolutionModule, degraded_pairs, fit, make_patches, split_by_scene
from xlstsr.train.loop import has_fitted_normalisation

# -- scripts/train_bundled.py: 0 is a value; malformed or ignored options are usage errors ------


@pytest.fixture
def bundled(tmp_path, monkeypatch):
    """The recipe with its training jobs stubbed: ``(run(argv), calls)``, calls per job."""
    tb = load_script("train_bundled")
    (tmp_path / "modis_aster").mkdir()
    (tmp_path / "student.pt").write_bytes(b"")  # --init of disr_distil: only looked up
    calls: dict[str, dict] = {}
    monkeypatch.setattr(tb, "train_disr_distilled",
                        lambda data, out, **kw: calls.setdefault("disr_distil", kw))
    monkeypatch.setattr(tb, "train_disr", lambda kind, data, out, **kw: calls.setdefault(kind, kw))
    monkeypatch.setattr(tb, "train_sisr", lambda kind, data, out, **kw: calls.setdefault(kind, kw))
    base = ["--data", str(tmp_path), "--out", str(tmp_path), "--no-progress"]

    def run(*argv: str) -> int:
        return tb.main([*base, *argv])

    return run, calls


def test_bundled_zero_patience_reaches_the_jobs(bundled):
    run, calls = bundled
    assert run("--only", "disr_distil", "disr_sif", "--init", "student.pt", "--patience", "0",
               "--lr", "1e-4") == 0
    # 0: no early stopping (it became 8); --lr reaches the distillation too
    assert calls["disr_distil"]["patience"] == 0 and calls["sif"]["patience"] == 0
    assert calls["disr_distil"]["lr"] == 1e-4 and calls["sif"]["lr"] == 1e-4


@pytest.mark.parametrize("option", [("--epochs", "0"), ("--stride", "0"), ("--lr", "0"),
                                    ("--lr", "nan"), ("--patience", "-1")])
def test_bundled_values_that_train_nothing_are_refused(bundled, capsys, option):
    run, calls = bundled
    with pytest.raises(SystemExit) as e:  # --epochs 0 became the job's budget, --lr 0 its lr
        run("--only", "disr_sif", "sisr_rescnn", *option)
    assert e.value.code == 2 and not calls
    err = capsys.readouterr().err
    assert f"{option[0]} " in err and ("> 0" in err or ">= " in err)


def test_bundled_sif_job_trains_the_network_of_arch(bundled):
    run, calls = bundled
    assert run("--only", "disr_sif", "--arch", "guided_rescnn", "--arch-option", "channels=8") == 0
    assert calls["sif"]["arch"] == "guided_rescnn"  # a guided_unet was trained whatever --arch
    assert calls["sif"]["arch_options"] == {"channels": 8}


def test_bundled_arch_for_jobs_without_a_network_choice_is_refused(bundled, capsys):
    run, calls = bundled
    with pytest.raises(SystemExit) as e:
        run("--only", "sisr_rescnn", "--arch", "guided_rescnn")
    assert e.value.code == 2 and not calls
    assert "disr_sif" in capsys.readouterr().err


@pytest.mark.parametrize("option", [("--arch-option", "channels"), ("--arch-option", "base=4.5"),
                                    ("--arch-option", "=4"), ("--loss-option", "w_spectral=abc")])
def test_bundled_malformed_key_values_are_usage_errors(bundled, capsys, option):
    run, calls = bundled
    with pytest.raises(SystemExit) as e:  # raw ValueError tracebacks before
        run("--only", "disr_sif", "--arch", "guided_unet", *option)
    assert e.value.code == 2 and not calls
    err = capsys.readouterr().err
    assert repr(option[1]) in err and "KEY=VALUE" in err


# -- fine-tuning keeps the normalisation of a trained model -------------------------------------


def _cold_split():
    """The patches of tiny_patch_split 15 K colder (another temperature range)."""
    ps = make_patches(**degraded_pairs(tiny_lst_stack() - 15.0, 4), factor=4, patch=16,
                      scene_ids=list("abcd"))
    return split_by_scene(ps)


def _fit(model, split, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the kept starting weights of a 1e-12 learning rate
        return fit(model, *split, epochs=1, patience=0, **kw)


def test_fine_tuning_a_loaded_model_keeps_its_normalisation(tmp_path):
    trained = tiny_rescnn()
    _fit(trained, tiny_patch_split())
    path = save_model(trained, tmp_path / "m.pt")
    model = SuperResolutionModule.load_from_checkpoint(path).model  # the advised fine-tuning
    before = model.normalisation()
    lst = torch.as_tensor(tiny_lst_stack(1, 8)[:, None] - 15.0)
    with torch.no_grad():
        out0 = model.eval()(lst)
    _fit(model, _cold_split(), lr=1e-12)
    assert model.normalisation() == before  # it was refitted on the colder patches
    with torch.no_grad():  # the starting weights kept: the model given back
        assert torch.allclose(model(lst), out0, atol=1e-4)
    # a file read with load_model too
    again = load_model(path)
    _fit(again, _cold_split(), lr=1e-12)
    assert again.normalisation() == before


def test_refit_fits_a_trained_model_and_new_models_are_fitted_as_before():
    fresh = tiny_rescnn()
    assert not has_fitted_normalisation(fresh)
    _fit(fresh, tiny_patch_split())
    assert has_fitted_normalisation(fresh)
    warm = tiny_patch_split()[0].lst
    assert fresh.normalisation()["lst_offset"] == pytest.approx(float(warm.mean()), abs=1e-3)
    cold = _cold_split()
    _fit(fresh, cold, normalise="refit")
    assert fresh.normalisation()["lst_offset"] == pytest.approx(float(cold[0].lst.mean()),
                                                                abs=1e-3)
    off = tiny_rescnn()
    _fit(off, cold, normalise=False)
    assert not has_fitted_normalisation(off)


def test_normalise_takes_bools_and_refit_only():
    with pytest.raises(XlstsrError, match="'refit'"):
        SuperResolutionModule(tiny_rescnn(), normalise="always")
    with pytest.raises(XlstsrError, match="'refit'"):
        fit(tiny_rescnn(), tiny_patch_split()[0], normalise="yes", epochs=1)
    assert SuperResolutionModule(tiny_rescnn(), normalise="refit").hparams["normalise"] == "refit"


def test_bundled_sif_job_starts_from_init(bundled, tmp_path):
    run, calls = bundled
    assert run("--only", "disr_sif", "--init", "student.pt") == 0
    # --init was dropped for disr_sif: the "fine-tuned" SIF started from random weights
    assert calls["sif"]["init"] == tmp_path / "student.pt"
    calls.clear()
    assert run("--only", "disr_sif", "--init", "none") == 0 and calls["sif"]["init"] is None


def test_bundled_init_for_jobs_that_start_from_no_file_is_refused(bundled, capsys):
    run, calls = bundled
    with pytest.raises(SystemExit) as e:  # silently ignored before
        run("--only", "sisr_rescnn", "--init", "student.pt")
    assert e.value.code == 2 and not calls
    assert "disr_sif" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ("--only", "disr_fast", "--lr", "1e-3"),
    ("--only", "disr_fast", "--stride", "8"),
    ("--only", "sisr_rescnn", "--dihedral"),
    ("--only", "sisr_rescnn", "--loss-option", "w_spectral=9"),
    ("--only", "disr_degraded", "--pairs", "001,015,020", "--val-pairs", "015"),
])
def test_bundled_options_no_job_takes_are_refused(bundled, capsys, argv):
    """They were dropped, yet recorded in the command line of the files written (probe 37k)."""
    run, calls = bundled
    with pytest.raises(SystemExit) as e:
        run(*argv)
    assert e.value.code == 2 and not calls
    assert "none of the jobs" in capsys.readouterr().err


def test_bundled_zero_option_no_job_takes_is_refused(bundled, capsys):
    """--patience 0 (a value) with jobs that take no patience was dropped unseen (review 37c)."""
    run, calls = bundled
    with pytest.raises(SystemExit) as e:
        run("--only", "sisr_rescnn", "--patience", "0")
    assert e.value.code == 2 and not calls and "--patience" in capsys.readouterr().err


def test_bundled_guide_offset_for_jobs_that_read_no_ndvi_offset_is_refused(bundled, capsys):
    """--guide-offset auto with a SISR job was dropped yet recorded (review 37d)."""
    run, calls = bundled
    with pytest.raises(SystemExit) as e:
        run("--only", "sisr_rescnn", "--guide-offset", "auto")
    assert e.value.code == 2 and not calls and "--guide-offset" in capsys.readouterr().err
    assert run("--only", "disr_sif", "--guide-offset", "ignore") == 0  # the default: no refusal
