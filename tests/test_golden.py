"""Every shipped behaviour gives the same numbers as before the redesign (issue 10): each case
of tests/golden/record.py is run again and every array of its .npz must equal the recorded
one bit for bit (NaN where NaN was), except what LAPACK's symmetric eigensolver gives (the
kernel's eigenvalues and top-K share, sim/kernel_evolution.py): OpenBLAS picks its kernels
by CPU type, so their last bits differ between machines (2.6e-15 relative between the
recording's machine and an AVX-512 one detected as SkylakeX); they must agree to EIGEN_RTOL of
each frame's largest value. They are measures only: nothing in a run is computed from them."""

import subprocess

import numpy as np
import pytest
from golden.record import CASES, HERE, ROOT, command

EIGEN_KEYS = ("kernel_eigenvalues", "kernel_top_share")
EIGEN_RTOL = 1e-12


@pytest.mark.parametrize("case", sorted(CASES))
def test_run_is_bit_identical_to_the_recording(case, tmp_path):
    out = tmp_path / f"{case}.npz"
    result = subprocess.run(command(case, out), check=False, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr  # e.g. the compiled step not used: say why
    want, got = np.load(HERE / f"{case}.npz"), np.load(out)
    missing = sorted(set(want.files) - set(got.files))
    assert not missing, f"keys no longer written: {missing}"
    for key in want.files:
        a, b = want[key], got[key]
        assert a.dtype == b.dtype and a.shape == b.shape, key
        if key in EIGEN_KEYS:
            scale = np.nanmax(np.abs(a), axis=-1, keepdims=True) if a.ndim > 1 else np.abs(a)
            assert np.array_equal(np.isnan(a), np.isnan(b)), f"{case}: {key}: NaN elsewhere"
            close = np.abs(a - b) <= EIGEN_RTOL * scale
            assert (close | np.isnan(a)).all(), f"{case}: {key} differs"
        else:
            assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), f"{case}: {key} differs"
