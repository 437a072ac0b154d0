"""upscale_to_zarr's run: file URLs, the user's empty folder on an all-NaN refusal, the ETA in
the log, the regions in flight by the CPUs this process may use (probe 36x)."""

from __future__ import annotations

import logging
import warnings

import dask
import pytest

import xlstsr
from xlstsr.engine.regions import parallelism
from xlstsr.errors import AllNaNError


@pytest.fixture(scope="module")
def lst():
    return xlstsr.datasets.sample_scene(n_times=2, size=16)["lst_1km"]


def test_a_percent_encoded_file_url_names_its_folder(lst, tmp_path):
    target = tmp_path / "sp ace é" / "out.zarr"
    target.parent.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xlstsr.upscale_to_zarr(lst, target.as_uri(), 4, progress=False)
    assert target.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sp ace é"]


def test_an_all_nan_refusal_keeps_the_users_empty_folder(lst, tmp_path):
    user = tmp_path / "my_output"
    user.mkdir()
    with pytest.raises(AllNaNError, match="no store is kept"):
        xlstsr.upscale_to_zarr(lst.where(False), user, 4, progress=False)
    assert user.is_dir() and not any(user.iterdir())


def test_the_region_log_gives_an_eta(lst, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="xlstsr"):
        xlstsr.upscale_to_zarr(lst, tmp_path / "o.zarr", 4, progress=False, time_chunk=1)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("region ")]
    assert len(lines) == 2
    assert all("of 2 done, ETA" in line for line in lines)
    assert any("2 of 2 done, ETA 0 s" in line for line in lines)


def test_regions_in_flight_follow_daskss_cpu_count(monkeypatch):
    # os.cpu_count() counts the machine's cores, not those of a batch job's quota
    monkeypatch.setattr(dask.system, "CPU_COUNT", 3)
    with dask.config.set(scheduler="threads", num_workers=None):
        assert parallelism() == 3
