"""A fused CPU loop for the tiled losses' two sums over a symmetric logit matrix, written in C,
compiled here with the system's C compiler at first use and called through ctypes (which lets
go of Python's lock while it runs, so threads share the cores).

It owns one job: for float32 rows, logits z_ab = log2(e) (S_ab - C) = sum_k Q_ak K_kb with
S symmetric and C a shift common to all rows (so z_ab <= 0), a strip of rows [a0, a0 + B)
against the columns from a0 on, each 2^z_ab computed once and used for both its row and, past
the strip's own square, its column (S_ab = S_ba):
  pass 1 (`strip_sums`):  s_a += sum_b e_ab                    (the softmax denominators)
  pass 2 (`strip_grads`): w_ab = e_ab (d_a + d_b);  g_a += sum_b w_ab [R_b, 1]
(both also add the mirrored terms to column accumulators). Within a block of columns the
terms are added in float32 and each block's partial sums in float64. 2^z comes from a
degree-6 polynomial on [-1/2, 1/2] (relative error about 3e-9) times an exponent set from the
rounded integer part, for z >= -125 (the caller's bound on every logit). Without per-row
offsets the last column of the gradient sums (their gradient) is left at 0.
The code is compiled once per (terms per logit, latent dims) for this machine's CPU into the
user's cache folder; `load` returns None (and the caller's torch tiles serve) where there is
no C compiler or the build fails. `build` compiles and loads such C code (sim/fused_mlp.py's too).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import math
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import numpy

COLUMN_BLOCK = 1024  # columns per block: the strip's column accumulators stay in the L1 cache
FLAGS = (
    "-O3",
    "-march=native",
    "-fno-math-errno",
    "-fno-trapping-math",
    "-fno-signed-zeros",
    "-fassociative-math",
    "-ffp-contract=fast",
    "-fPIC",
    "-shared",
)

_TEMPLATE = r"""
#include <stdint.h>
#include <string.h>
#define P {terms}
#define M {dims}
#define CB {column_block}
#define OFFSETS (P > M + 1) /* per-row offsets u: their gradient is wanted */

static inline float exp2_neg(float x) {{
    float n = __builtin_rintf(x);
    float f = x - n;
    float p = {c6}f;
    p = p * f + {c5}f;
    p = p * f + {c4}f;
    p = p * f + {c3}f;
    p = p * f + {c2}f;
    p = p * f + {c1}f;
    p = p * f + {c0}f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}}

/* The logit of row q against column b of K (P x N). */
#define LOGIT(z, qq, b)                                        \
    float z = qq[M];                                           \
    for (int k = 0; k < M; k++) z += qq[k] * K[k * N + (b)];   \
    if (P > M + 1) z += qq[M + 1] * K[(M + 1) * N + (b)];

/* The logits of rows q0 and q1 against column j of the block Kb (P x N), in one pass. */
#define LOGIT_PAIR(z0, z1, j)                                   \
    float z0 = q0[M], z1 = q1[M];                               \
    for (int k = 0; k < M; k++) {{                              \
        z0 += q0[k] * Kb[k * N + (j)];                          \
        z1 += q1[k] * Kb[k * N + (j)];                          \
    }}                                                          \
    if (P > M + 1) {{                                           \
        z0 += q0[M + 1] * Kb[(M + 1) * N + (j)];                \
        z1 += q1[M + 1] * Kb[(M + 1) * N + (j)];                \
    }}

void strip_sums(const float *Q, const float *K, int64_t N, int64_t a0, int64_t a1, int exclude,
                double *rows, double *cols) {{
    float col[CB];
    for (int64_t a = a0; a < a1; a++) {{  /* the strip's own square: rows only */
        const float *qq = Q + a * P;
        int64_t self = exclude ? a : -1;
        float s = 0.0f;
        for (int64_t b = a0; b < a1; b++) {{
            LOGIT(z, qq, b)
            float e = exp2_neg(z);
            s += (b == self) ? 0.0f : e;
        }}
        rows[a] += s;
    }}
    for (int64_t b0 = a1; b0 < N; b0 += CB) {{  /* blocks past it: rows and mirrored columns */
        int64_t b1 = b0 + CB < N ? b0 + CB : N, width = b1 - b0;
        const float *Kb = K + b0;
        for (int64_t j = 0; j < width; j++) col[j] = 0.0f;
        for (int64_t a = a0; a < a1; a += 2) {{  /* two rows at a time: one pass over the columns */
            int64_t a_ = a + 1 < a1 ? a + 1 : a;
            float v = a + 1 < a1 ? 1.0f : 0.0f, q0[P], q1[P];
            for (int k = 0; k < P; k++) {{
                q0[k] = Q[a * P + k];
                q1[k] = Q[a_ * P + k];
            }}
            float s0 = 0.0f, s1 = 0.0f;
            for (int64_t j = 0; j < width; j++) {{
                LOGIT_PAIR(z0, z1, j)
                float e0 = exp2_neg(z0), e1 = exp2_neg(z1) * v;
                s0 += e0;
                s1 += e1;
                col[j] += e0 + e1;
            }}
            rows[a] += s0;
            if (a + 1 < a1) rows[a + 1] += s1;
        }}
        for (int64_t j = 0; j < width; j++) cols[b0 + j] += col[j];
    }}
}}

/* rows (N x (M + 1)) and cols ((M + 1) x N) get sum_b w_ab [R_b, 1], w_ab = e_ab (d_a + d_b),
   R_b the first M rows of K. */
void strip_grads(const float *Q, const float *K, const float *d, int64_t N, int64_t a0, int64_t a1, int exclude,
                 double *rows, double *cols) {{
    float col[M + 1][CB];
    for (int64_t a = a0; a < a1; a++) {{
        const float *qq = Q + a * P;
        int64_t self = exclude ? a : -1;
        float da = d[a], g[M + 1];
        for (int k = 0; k <= M; k++) g[k] = 0.0f;
        for (int64_t b = a0; b < a1; b++) {{
            LOGIT(z, qq, b)
            float e = exp2_neg(z);
            float w = (b == self) ? 0.0f : e * (da + d[b]);
            for (int k = 0; k < M; k++) g[k] += w * K[k * N + b];
            if (OFFSETS) g[M] += w;
        }}
        for (int k = 0; k <= M; k++) rows[a * (M + 1) + k] += g[k];
    }}
    for (int64_t b0 = a1; b0 < N; b0 += CB) {{
        int64_t b1 = b0 + CB < N ? b0 + CB : N, width = b1 - b0;
        const float *Kb = K + b0, *db = d + b0;
        for (int k = 0; k <= M; k++)
            for (int64_t j = 0; j < width; j++) col[k][j] = 0.0f;
        for (int64_t a = a0; a < a1; a += 2) {{  /* two rows at a time: one pass over the columns */
            int64_t a_ = a + 1 < a1 ? a + 1 : a;
            float v = a + 1 < a1 ? 1.0f : 0.0f, q0[P], q1[P], r0[M], r1[M], g0[M + 1], g1[M + 1];
            float d0 = d[a], d1 = d[a_];
            for (int k = 0; k < P; k++) {{
                q0[k] = Q[a * P + k];
                q1[k] = Q[a_ * P + k];
            }}
            for (int k = 0; k < M; k++) {{
                r0[k] = K[k * N + a];
                r1[k] = K[k * N + a_];
            }}
            for (int k = 0; k <= M; k++) g0[k] = g1[k] = 0.0f;
            for (int64_t j = 0; j < width; j++) {{
                LOGIT_PAIR(z0, z1, j)
                float w0 = exp2_neg(z0) * (d0 + db[j]), w1 = exp2_neg(z1) * (d1 + db[j]) * v;
                for (int k = 0; k < M; k++) {{
                    g0[k] += w0 * Kb[k * N + j];
                    g1[k] += w1 * Kb[k * N + j];
                    col[k][j] += w0 * r0[k] + w1 * r1[k];
                }}
                if (OFFSETS) {{
                    g0[M] += w0;
                    g1[M] += w1;
                    col[M][j] += w0 + w1;
                }}
            }}
            for (int k = 0; k <= M; k++) rows[a * (M + 1) + k] += g0[k];
            if (a + 1 < a1)
                for (int k = 0; k <= M; k++) rows[(a + 1) * (M + 1) + k] += g1[k];
        }}
        for (int k = 0; k <= M; k++)
            for (int64_t j = 0; j < width; j++) cols[k * N + b0 + j] += col[k][j];
    }}
}}
"""


def exp2_coefficients(degree: int = 6) -> list[float]:
    """Coefficients c_0.. of a polynomial close to 2^f on [-1/2, 1/2]: the interpolant at the
    Chebyshev points (within a few times the best polynomial's error: about 3e-9 relative at
    degree 6), solved in float64."""
    nodes = numpy.cos((2 * numpy.arange(degree + 1) + 1) * math.pi / (2 * degree + 2)) / 2
    return [float(c) for c in numpy.linalg.solve(numpy.vander(nodes, increasing=True), 2.0**nodes)]


def source(terms: int, dims: int) -> str:
    """The C code for logits of `terms` = dims + 1 (or + 2, with per-row offsets u) products and
    rows of `dims` latent dimensions."""
    coefficients = {f"c{k}": repr(c) for k, c in enumerate(exp2_coefficients())}
    return _TEMPLATE.format(terms=terms, dims=dims, column_block=COLUMN_BLOCK, **coefficients)


def _machine() -> str:
    """What the build is for: the processor's model and instruction sets (-march=native), so a
    cache folder shared between machines never hands one another's build."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.machine() + platform.processor()
    return "\n".join(sorted({line for line in lines if line.startswith(("model name", "flags"))}))


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "contrastive-kernel-lab"


class Kernel:
    """The two strip functions of one compiled library (see the module docstring)."""

    def __init__(self, library: ctypes.CDLL):
        pointer, i64, i32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int
        self.strip_sums = library.strip_sums
        self.strip_sums.argtypes = [pointer, pointer, i64, i64, i64, i32, pointer, pointer]
        self.strip_sums.restype = None
        self.strip_grads = library.strip_grads
        self.strip_grads.argtypes = [pointer, pointer, pointer, i64, i64, i64, i32, pointer, pointer]
        self.strip_grads.restype = None


@functools.cache
def load(terms: int, dims: int) -> Kernel | None:
    """The kernel for (terms, dims), built on first use (`build`); None without a C compiler or
    when the build fails."""
    library = build("tiles", source(terms, dims), FLAGS)
    return None if library is None else Kernel(library)


def build(name: str, code: str, flags: tuple[str, ...]) -> ctypes.CDLL | None:
    """The C `code` compiled with `flags` for this machine into the user's cache folder (once:
    the file is named by a hash of the code, the compiler, the machine and the flags; written
    by an atomic rename, so processes building at once do not see half a file) and loaded;
    None without a C compiler or when the build or the load fails (a build that fails warns
    with the compiler's first error line: that is this code's fault, not the machine's)."""
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    key = hashlib.sha256("\n".join((code, compiler, _machine(), *flags)).encode()).hexdigest()[:16]
    folder = _cache_dir()
    path = folder / f"{name}-{key}.so"
    if not path.exists():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=folder) as work:
                c_file, built = Path(work) / f"{name}.c", Path(work) / f"{name}.so"
                c_file.write_text(code)
                subprocess.run([compiler, *flags, "-o", str(built), str(c_file)], check=True, capture_output=True)
                os.replace(built, path)
        except subprocess.CalledProcessError as exc:
            errors = [line for line in exc.stderr.decode(errors="replace").splitlines() if "error" in line]
            warnings.warn(f"{name}: the C code did not build ({errors[0] if errors else 'no message'}); torch serves")
            return None
        except OSError:
            return None
    try:
        return ctypes.CDLL(str(path))
    except OSError:
        return None
