"""Benchmark protocols found slipping in session 23."""

from __future__ import annotations

import pytest
from test_benchmarks import bench_env, load_benchmark  # noqa: F401 (bench_env: a fixture)


def test_granule_sisr_models_are_known_to_have_trained_on_the_train_pairs(bench_env):  # noqa: F811
    """sisr_cube.md scored sisr:mrunet and sisr:rescnn_granule on the cube's held_out windows as
    ground 'never trained on', though they trained on the TRAIN_PAIRS' MODIS LST, which 10 of
    those windows share: the benchmark now tells these models apart by their model cards."""
    from xlstsr.nn.weights import load_weights

    mod = load_benchmark("sisr_cube")
    assert mod.trained_on_pairs(load_weights("mrunet").metadata)
    assert mod.trained_on_pairs(load_weights("rescnn_granule").metadata)
    assert not mod.trained_on_pairs(load_weights("rescnn").metadata)
    assert not mod.trained_on_pairs({})


@pytest.mark.realdata
def test_held_out_windows_apart_from_train_pairs_match_the_cube_table(shared_data, bench_env):  # noqa: F811
    """The held_out windows kept for the granule-trained models share no pixel with a
    TRAIN_PAIRS MODIS window: checked against windows.csv's own record of which modis_aster
    pairs each window overlaps (computed by the data's author, independently of the bounds)."""
    import pandas as pd

    from xlstsr.datasets import TRAIN_PAIRS
    from xlstsr.nn.weights import load_weights

    mod = load_benchmark("sisr_cube")
    held_out = load_weights("rescnn").metadata["positions"]["held_out"]
    apart = mod.held_out_apart_from_pairs(shared_data, held_out, shared_data)
    w = pd.read_csv(shared_data / "modis_h18v04_2020" / "windows.csv",
                    dtype={"dev_pairs": str, "dev_pairs_overlap_px": str})
    touching = set()
    for r in w[w.window.isin(held_out)].itertuples():
        if isinstance(r.dev_pairs, str):
            for p, n in zip(r.dev_pairs.split(";"), r.dev_pairs_overlap_px.split(";")):
                if p in TRAIN_PAIRS and int(n) > 0:
                    touching.add(int(r.window))
    assert touching, "the shared cube's held_out windows are expected to touch TRAIN_PAIRS"
    assert sorted(apart) == sorted(set(held_out) - touching)
