"""The serving process keeps freed memory for the next request (http/allocator.py): without it, every
answer's arrays of a few hundred KB are mapped and zeroed by the kernel again."""

from __future__ import annotations

import subprocess
import sys

import pytest

from speakerverify.http.allocator import keep_freed_memory

# Arrays of the sizes an answer allocates (0.2-2 MB), freed and allocated again, as requests do.
_CHURN = """
import resource, sys
import numpy as np
if sys.argv[1] == "tuned":
    from speakerverify.http.allocator import keep_freed_memory
    assert keep_freed_memory()
sizes = [200_000, 900_000, 450_000, 1_800_000, 300_000]
for _ in range(3):  # warm up: the heap grows once
    kept = [np.ones(s // 4, dtype=np.float32) for s in sizes]
    del kept
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(40):
    kept = [np.ones(s // 4, dtype=np.float32) for s in sizes]
    del kept
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", _CHURN, mode], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


@pytest.mark.skipif(not keep_freed_memory(), reason="glibc only")
def test_freed_arrays_are_reused_without_page_faults() -> None:
    default, tuned = _faults("default"), _faults("tuned")
    assert default > 1000  # the kernel maps fresh pages for every round (the cost this removes)
    assert tuned < default / 20
