"""benchmarks/zarr_compression.py times its writes on one thread, as its page says: zarr 3
encodes a write's chunks in its own thread pool, and those were timed as 'one thread'."""

from __future__ import annotations

import importlib.util
import threading
import time
from pathlib import Path

import numcodecs
import pytest
from numcodecs import blosc

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _bench(name: str):
    spec = importlib.util.spec_from_file_location(f"_xlstsr_b43_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_zarr_compression_encodes_one_chunk_at_a_time(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch):
    lock, active, peak = threading.Lock(), [0], [0]
    encode = numcodecs.Blosc.encode

    def counted(self, buf):  # a slow encode: chunks encoded together overlap in it
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            time.sleep(0.02)
            return encode(self, buf)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(numcodecs.Blosc, "encode", counted)
    before = blosc.get_nthreads()
    module = _bench("zarr_compression")
    assert module.main(["--smoke", "--out", str(tmp_path / "out")]) == 0
    assert peak[0] == 1, f"{peak[0]} chunks were encoded at once in a 'one thread' timing"
    assert blosc.get_nthreads() == before  # Blosc's own threads are given back
    assert "one thread" in (tmp_path / "out" / "compression.md").read_text()
