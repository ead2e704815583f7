"""Every shipped behaviour gives the same numbers as before the redesign (issue 10): each case
of tests/golden/record.py is run again and every array of its .npz must equal the recorded
one bit for bit (NaN where NaN was)."""

import subprocess

import numpy as np
import pytest
from golden.record import CASES, HERE, ROOT, command


@pytest.mark.parametrize("case", sorted(CASES))
def test_run_is_bit_identical_to_the_recording(case, tmp_path):
    out = tmp_path / f"{case}.npz"
    result = subprocess.run(command(case, out), check=False, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    want, got = np.load(HERE / f"{case}.npz"), np.load(out)
    missing = sorted(set(want.files) - set(got.files))
    assert not missing, f"keys no longer written: {missing}"
    for key in want.files:
        a, b = want[key], got[key]
        assert a.dtype == b.dtype and a.shape == b.shape, key
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), f"{case}: {key} differs"
