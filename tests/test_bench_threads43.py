"""benchmarks/zarr_compression.py times its writes on one thread, as its page says: zarr 3
encodes a write's chunks in its own thread pool, and those were timed as 'one thread'."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numcodecs
import pytest
from helpers import load_benchmark
from numcodecs import blosc


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
    module = load_benchmark("zarr_compression")
    assert module.main(["--smoke", "--out", str(tmp_path / "out")]) == 0
    assert peak[0] == 1, f"{peak[0]} chunks were encoded at once in a 'one thread' timing"
    assert blosc.get_nthreads() == before  # Blosc's own threads are given back
    assert "one thread" in (tmp_path / "out" / "compression.md").read_text()
