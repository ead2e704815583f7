"""A fused CPU path for the small runs of an MLP with tanh under NT-Xent in float32 (fig5-2d's):
the network's forward pass (keeping each hidden layer's output), the loss with its gradient,
the backward pass and the forward-mode derivative J_theta f(X) dtheta, each one call into C
compiled for this machine at first use (sim.cpu_kernel.build). The same arithmetic through torch
costs several hundred small operations a step, most of a step's time at n = 256.

The numbers are the same as torch's up to float32 rounding (tested against float64), not bit
for bit: the C code's own tanh (below |x| = 0.4 its Taylor polynomial, else from e^(-2|x|)) and
exponential (a degree-6 polynomial for 2^f), its own order of summation. It is compiled without
reassociation and with explicit fused multiply-adds, so every build (AVX2 or AVX-512) gives the
same numbers; one thread. `plan` says whether it serves a run (else the torch path does): CPU,
float32, an MLP with tanh, NT-Xent with at least two views, at most MAX_ROWS rows, tau at least
MIN_TAU (every e^(z.z'/tau - 1/tau) stays far above float32's smallest), a C compiler, and a
first use that agrees with torch in float64 (else a warning and the torch path).
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import warnings
from collections.abc import Sequence

import torch

from sim import cpu_kernel
from sim.networks import MLP

MAX_ROWS = 4096  # V n rows at most: the loss's N^2 terms in one thread (the tiled loss shares them out above)
MIN_TAU = 0.025  # e^(-2 / tau) >= e^-80: far above float32's smallest normal number
FLAGS = (
    "-O3",
    "-march=native",
    "-fno-math-errno",
    "-fno-trapping-math",
    "-ffp-contract=off",  # only the code's own fmaf: the same numbers on every x86-64 build
    "-fPIC",
    "-shared",
)

_TEMPLATE = r"""
#include <stdint.h>
#include <string.h>
#include <math.h>
#define D {in_dim}
#define H {width}
#define DEPTH {depth}
#define M {out_dim}
#define RB 4
#define LANES 16
#define INLINE static inline __attribute__((always_inline))

/* e^x for -87 < x <= 0 (the callers' bound): 2^(x log2 e) from a degree-6 polynomial on
   [-1/2, 1/2] times the exponent of the rounded integer part. */
INLINE float exp_neg(float x) {{
    float z = x * 1.44269504088896341f;
    float k = rintf(z);
    float f = z - k;
    float p = {c6}f;
    p = fmaf(p, f, {c5}f);
    p = fmaf(p, f, {c4}f);
    p = fmaf(p, f, {c3}f);
    p = fmaf(p, f, {c2}f);
    p = fmaf(p, f, {c1}f);
    p = fmaf(p, f, {c0}f);
    union {{ int32_t i; float f; }} scale;
    scale.i = ((int32_t)k + 127) << 23;
    return p * scale.f;
}}

/* tanh: below |x| = 0.4 its odd Taylor polynomial to x^11 (the next term under 6e-8 of it);
   above, (1 - t) / (1 + t) with t = e^(-2|x|) (|x| capped at 9, where tanh rounds to 1). */
INLINE float tanh_f(float x) {{
    float ax = x < 0.0f ? -x : x;
    float t = exp_neg(-2.0f * (ax < 9.0f ? ax : 9.0f));
    float big = (1.0f - t) / (1.0f + t);
    float x2 = ax * ax;
    float p = -0.0088632355f;
    p = fmaf(p, x2, 0.021869488f);
    p = fmaf(p, x2, -0.053968254f);
    p = fmaf(p, x2, 0.13333334f);
    p = fmaf(p, x2, -0.33333334f);
    float small = fmaf(ax * x2, p, ax);
    float r = ax < 0.4f ? small : big;
    return x < 0.0f ? -r : r;
}}

/* C (n x OUT) = [bias +] [C +] A (n x K) @ B (K x OUT), B row-major; RB rows at a time. */
INLINE void product(const float *restrict A, int64_t n, int K, const float *restrict B, int OUT,
                    const float *restrict bias, int accumulate, float *restrict C) {{
    int64_t i0 = 0;
    for (; i0 + RB <= n; i0 += RB) {{
        float acc[RB][OUT];
        for (int r = 0; r < RB; r++)
            for (int j = 0; j < OUT; j++)
                acc[r][j] = accumulate ? C[(i0 + r) * OUT + j] : (bias ? bias[j] : 0.0f);
        for (int k = 0; k < K; k++) {{
            const float *restrict w = B + k * OUT;
            float a0 = A[(i0 + 0) * K + k], a1 = A[(i0 + 1) * K + k], a2 = A[(i0 + 2) * K + k], a3 = A[(i0 + 3) * K + k];
            for (int j = 0; j < OUT; j++) {{
                acc[0][j] = fmaf(a0, w[j], acc[0][j]);
                acc[1][j] = fmaf(a1, w[j], acc[1][j]);
                acc[2][j] = fmaf(a2, w[j], acc[2][j]);
                acc[3][j] = fmaf(a3, w[j], acc[3][j]);
            }}
        }}
        for (int r = 0; r < RB; r++)
            for (int j = 0; j < OUT; j++) C[(i0 + r) * OUT + j] = acc[r][j];
    }}
    for (; i0 < n; i0++) {{
        float acc[OUT];
        for (int j = 0; j < OUT; j++) acc[j] = accumulate ? C[i0 * OUT + j] : (bias ? bias[j] : 0.0f);
        for (int k = 0; k < K; k++) {{
            float a = A[i0 * K + k];
            for (int j = 0; j < OUT; j++) acc[j] = fmaf(a, B[k * OUT + j], acc[j]);
        }}
        for (int j = 0; j < OUT; j++) C[i0 * OUT + j] = acc[j];
    }}
}}

/* C (J x K) = A^T B for A (n x J), B (n x K): RB rows of C at a time, summed over i in order. */
INLINE void product_at(const float *restrict A, int64_t n, int J, const float *restrict B, int K, float *restrict C) {{
    int j0 = 0;
    for (; j0 + RB <= J; j0 += RB) {{
        float acc[RB][K];
        for (int r = 0; r < RB; r++)
            for (int k = 0; k < K; k++) acc[r][k] = 0.0f;
        for (int64_t i = 0; i < n; i++) {{
            const float *restrict b = B + i * K;
            float a0 = A[i * J + j0], a1 = A[i * J + j0 + 1], a2 = A[i * J + j0 + 2], a3 = A[i * J + j0 + 3];
            for (int k = 0; k < K; k++) {{
                acc[0][k] = fmaf(a0, b[k], acc[0][k]);
                acc[1][k] = fmaf(a1, b[k], acc[1][k]);
                acc[2][k] = fmaf(a2, b[k], acc[2][k]);
                acc[3][k] = fmaf(a3, b[k], acc[3][k]);
            }}
        }}
        for (int r = 0; r < RB; r++)
            for (int k = 0; k < K; k++) C[(j0 + r) * K + k] = acc[r][k];
    }}
    for (; j0 < J; j0++) {{
        float acc[K];
        for (int k = 0; k < K; k++) acc[k] = 0.0f;
        for (int64_t i = 0; i < n; i++)
            for (int k = 0; k < K; k++) acc[k] = fmaf(A[i * J + j0], B[i * K + k], acc[k]);
        for (int k = 0; k < K; k++) C[j0 * K + k] = acc[k];
    }}
}}

INLINE void transpose(const float *restrict W, int out, int in, float *restrict T) {{
    for (int o = 0; o < out; o++)
        for (int i = 0; i < in; i++) T[i * out + o] = W[o * in + i];
}}

INLINE int fan_in(int l) {{ return l == 0 ? D : H; }}
INLINE int fan_out(int l) {{ return l == DEPTH ? M : H; }}

/* The transposed weights (in x out) of every layer, one after another in T. */
INLINE void transposed(const float *const *W, float *restrict T, float **Wt) {{
    for (int l = 0; l <= DEPTH; l++) {{
        Wt[l] = T;
        transpose(W[l], fan_out(l), fan_in(l), T);
        T += fan_in(l) * fan_out(l);
    }}
}}

/* f(X) (n x M) into out and each hidden layer's tanh (n x H) into hs[l]. W[l], b[l]: layer l's
   weight (out x in, torch's layout) and bias. T: room for the transposed weights. */
void forward(const float *X, int64_t n, const float *const *W, const float *const *b, float *const *hs, float *out, float *T) {{
    float *Wt[DEPTH + 1];
    transposed(W, T, Wt);
    for (int l = 0; l < DEPTH; l++) {{
        float *h = hs[l];
        product(l == 0 ? X : hs[l - 1], n, fan_in(l), Wt[l], H, b[l], 0, h);
        for (int64_t i = 0; i < n * H; i++) h[i] = tanh_f(h[i]);
    }}
    product(hs[DEPTH - 1], n, H, Wt[DEPTH], M, b[DEPTH], 0, out);
}}

/* The gradients (dW[l] in torch's layout, db[l]) of sum_i dF_i . f(x_i) from a forward pass's
   hs. work: room for 2 n H floats. */
void backward(const float *X, int64_t n, const float *const *W, const float *const *hs, const float *dF,
              float *const *dW, float *const *db, float *work) {{
    float *dh = work, *da = work + n * H;
    product_at(dF, n, M, hs[DEPTH - 1], H, dW[DEPTH]);
    for (int j = 0; j < M; j++) db[DEPTH][j] = 0.0f;
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < M; j++) db[DEPTH][j] += dF[i * M + j];
    product(dF, n, M, W[DEPTH], H, 0, 0, dh);
    for (int l = DEPTH - 1; l >= 0; l--) {{
        const float *h = hs[l];
        for (int64_t i = 0; i < n * H; i++) da[i] = dh[i] * (1.0f - h[i] * h[i]);
        for (int j = 0; j < H; j++) db[l][j] = 0.0f;
        for (int64_t i = 0; i < n; i++)
            for (int j = 0; j < H; j++) db[l][j] += da[i * H + j];
        product_at(da, n, H, l == 0 ? X : hs[l - 1], fan_in(l), dW[l]);
        if (l > 0) product(da, n, H, W[l], H, 0, 0, dh);
    }}
}}

/* scale * J_theta f(x) dtheta at a forward pass's hs, for dtheta = (dW, db) in torch's layout.
   T: room for the transposed weights, twice; work: 2 n H floats. */
void tangent(const float *X, int64_t n, const float *const *W, const float *const *dW, const float *const *db,
             const float *const *hs, float scale, float *du, float *T, float *work) {{
    float *Wt[DEPTH + 1], *dWt[DEPTH + 1];
    transposed(W, T, Wt);
    int64_t size = 0;
    for (int l = 0; l <= DEPTH; l++) size += fan_in(l) * fan_out(l);
    transposed(dW, T + size, dWt);
    float *da = work, *dx = work + n * H;
    for (int l = 0; l <= DEPTH; l++) {{
        float *target = l == DEPTH ? du : da;
        product(l == 0 ? X : hs[l - 1], n, fan_in(l), dWt[l], fan_out(l), db[l], 0, target);
        if (l > 0) product(dx, n, H, Wt[l], fan_out(l), 0, 1, target);
        if (l < DEPTH)
            for (int64_t i = 0; i < n * H; i++) dx[i] = da[i] * (1.0f - hs[l][i] * hs[l][i]);
    }}
    for (int64_t i = 0; i < n * M; i++) du[i] *= scale;
}}

/* One block of LANES rows from a0 against every row b != a, e_ab = e^(z_a.z_b / tau - 1 / tau):
   pass 0 writes s_a = sum_b e_ab to out and returns sum_a (log s_a + 1 / tau); pass 1 reads
   d = out and writes G[k][a] = sum_b e_ab (d_a + d_b) z_b[k] / tau. */
INLINE double sweep(int pass, const float *restrict Zt, int64_t N, int64_t a0, float inv, float *restrict out,
                    float *restrict G) {{
    int64_t width = N - a0 < LANES ? N - a0 : LANES;
    float q[M][LANES], acc[LANES], g[M][LANES], da[LANES];
    for (int l = 0; l < LANES; l++) {{
        int64_t a = a0 + (l < width ? l : 0);
        for (int k = 0; k < M; k++) {{
            q[k][l] = Zt[k * N + a] * inv;
            g[k][l] = 0.0f;
        }}
        acc[l] = 0.0f;
        da[l] = pass ? out[a] : 0.0f;
    }}
    for (int64_t b = 0; b < N; b++) {{
        float zb[M];
        for (int k = 0; k < M; k++) zb[k] = Zt[k * N + b];
        float db = pass ? out[b] : 0.0f;
        for (int l = 0; l < LANES; l++) {{
            float z = -inv;
            for (int k = 0; k < M; k++) z = fmaf(q[k][l], zb[k], z);
            float e = (a0 + l == b) ? 0.0f : exp_neg(z);
            if (pass == 0) {{
                acc[l] += e;
            }} else {{
                float w = e * (da[l] + db);
                for (int k = 0; k < M; k++) g[k][l] = fmaf(w, zb[k], g[k][l]);
            }}
        }}
    }}
    double total = 0.0;
    for (int64_t l = 0; l < width; l++) {{
        if (pass == 0) {{
            out[a0 + l] = acc[l];
            total += (double)logf(acc[l]) + (double)inv;
        }} else {{
            for (int k = 0; k < M; k++) G[k * N + a0 + l] = g[k][l] * inv;
        }}
    }}
    return total;
}}

/* NT-Xent of the V n rows u_a = U[a] (view v of sample i at row v n + i) made unit, z_a = u_a/|u_a|:
   mean_a [log sum_(b != a) e^(z_a.z_b / tau)] - sum_a z_a.(sum of its sample's other views) / (V n (V - 1) tau),
   into loss[0] (summed in double); its gradient with respect to U into dU. Each row's sum is
   shifted by 1/tau (every logit is at most that). Returns 1 (nothing written) if some u_a is 0.
   work: room for (2 M + 2) V n floats. */
int nt_xent(const float *U, int64_t V, int64_t n, float tau, float *dU, double *loss, float *work) {{
    int64_t N = V * n;
    float *Zt = work, *G = work + M * N, *s = work + 2 * M * N, *d = s + N;
    float inv = 1.0f / tau;
    for (int64_t a = 0; a < N; a++) {{
        float q = 0.0f;
        for (int k = 0; k < M; k++) q = fmaf(U[a * M + k], U[a * M + k], q);
        if (!(q > 0.0f)) return 1;
        q = 1.0f / sqrtf(q);
        for (int k = 0; k < M; k++) Zt[k * N + a] = U[a * M + k] * q;
    }}
    double repulsion = 0.0;
    for (int64_t a0 = 0; a0 < N; a0 += LANES) repulsion += sweep(0, Zt, N, a0, inv, s, G);
    for (int64_t a = 0; a < N; a++) d[a] = 1.0f / ((float)N * s[a]);
    for (int64_t a0 = 0; a0 < N; a0 += LANES) sweep(1, Zt, N, a0, inv, d, G);
    double attraction = 0.0;
    float c = 2.0f / ((float)N * (float)(V - 1) * tau);
    for (int64_t i = 0; i < n; i++) {{
        for (int k = 0; k < M; k++) {{
            float total = 0.0f;
            for (int64_t v = 0; v < V; v++) total += Zt[k * N + v * n + i];
            for (int64_t v = 0; v < V; v++) {{
                int64_t a = v * n + i;
                float others = total - Zt[k * N + a];
                attraction += (double)Zt[k * N + a] * (double)others;
                G[k * N + a] -= c * others;
            }}
        }}
    }}
    for (int64_t a = 0; a < N; a++) {{
        float q = 0.0f, dot = 0.0f;
        for (int k = 0; k < M; k++) {{
            q = fmaf(U[a * M + k], U[a * M + k], q);
            dot = fmaf(Zt[k * N + a], G[k * N + a], dot);
        }}
        q = 1.0f / sqrtf(q);
        for (int k = 0; k < M; k++) dU[a * M + k] = (G[k * N + a] - Zt[k * N + a] * dot) * q;
    }}
    loss[0] = repulsion / (double)N - attraction / ((double)N * (double)(V - 1) * (double)tau);
    return 0;
}}
"""


def source(in_dim: int, width: int, depth: int, out_dim: int) -> str:
    """The C code for an MLP of these sizes (depth hidden layers of width units)."""
    coefficients = {f"c{k}": repr(v) for k, v in enumerate(cpu_kernel.exp2_coefficients())}
    return _TEMPLATE.format(in_dim=in_dim, width=width, depth=depth, out_dim=out_dim, **coefficients)


def _pointers(tensors: Sequence[torch.Tensor]) -> ctypes.Array:
    return (ctypes.c_void_p * len(tensors))(*[t.data_ptr() for t in tensors])


class FusedMLP:
    """The compiled calls for one MLP shape. Tensors go in as float32, contiguous, on the CPU;
    weights in parameters() order (W_0, b_0, W_1, ...), W in torch's (out, in) layout."""

    def __init__(self, library: ctypes.CDLL, in_dim: int, width: int, depth: int, out_dim: int):
        self.in_dim, self.width, self.depth, self.out_dim = in_dim, width, depth, out_dim
        sizes = [in_dim] + [width] * depth + [out_dim]
        self.weight_floats = sum(a * b for a, b in itertools.pairwise(sizes))
        pointer, i64, f32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float
        self._forward = library.forward
        self._forward.argtypes = [pointer, i64, pointer, pointer, pointer, pointer, pointer]
        self._forward.restype = None
        self._backward = library.backward
        self._backward.argtypes = [pointer, i64, pointer, pointer, pointer, pointer, pointer, pointer]
        self._backward.restype = None
        self._tangent = library.tangent
        self._tangent.argtypes = [pointer, i64, pointer, pointer, pointer, pointer, f32, pointer, pointer, pointer]
        self._tangent.restype = None
        self._nt_xent = library.nt_xent
        self._nt_xent.argtypes = [pointer, i64, i64, f32, pointer, pointer, pointer]
        self._nt_xent.restype = ctypes.c_int

    def forward_saving(self, weights: Sequence[torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, tuple]:
        """(f(x), saved) as sim.networks.MLP.forward_saving gives for tanh: x (n, d) float32;
        f(x) (n, m); saved = ([x, h_1, ..., h_depth], [None] * depth), h_l (n, width)."""
        x = x.contiguous()
        n = x.shape[0]
        hidden = [torch.empty(n, self.width) for _ in range(self.depth)]
        out = torch.empty(n, self.out_dim)
        room = torch.empty(self.weight_floats)
        self._forward(
            x.data_ptr(), n, _pointers(weights[0::2]), _pointers(weights[1::2]), _pointers(hidden),
            out.data_ptr(), room.data_ptr(),
        )  # fmt: skip
        return out, ([x, *hidden], [None] * self.depth)

    def backward(self, weights: Sequence[torch.Tensor], saved: tuple, d_out: torch.Tensor) -> list[torch.Tensor]:
        """The gradient of sum_i d_out_i . f(x_i) for each weight (parameters() order), from the
        pass `saved` (forward_saving's); d_out (n, m)."""
        inputs, _ = saved
        x, n = inputs[0], inputs[0].shape[0]
        grads = [torch.empty_like(w) for w in weights]
        work = torch.empty(2 * n * self.width)
        self._backward(
            x.data_ptr(), n, _pointers(weights[0::2]), _pointers(inputs[1:]), d_out.contiguous().data_ptr(),
            _pointers(grads[0::2]), _pointers(grads[1::2]), work.data_ptr(),
        )  # fmt: skip
        return grads

    def tangent(
        self, weights: Sequence[torch.Tensor], tangents: Sequence[torch.Tensor], saved: tuple, scale: float = 1.0
    ) -> torch.Tensor:
        """(n, m): scale * J_theta f(x) dtheta for dtheta = `tangents` (parameters() order) at
        the pass `saved`: sim.networks.MLP.tangent's formula."""
        inputs, _ = saved
        x, n = inputs[0], inputs[0].shape[0]
        du = torch.empty(n, self.out_dim)
        room = torch.empty(2 * self.weight_floats)
        work = torch.empty(2 * n * self.width)
        self._tangent(
            x.data_ptr(), n, _pointers(weights[0::2]), _pointers(tangents[0::2]), _pointers(tangents[1::2]),
            _pointers(inputs[1:]), scale, du.data_ptr(), room.data_ptr(), work.data_ptr(),
        )  # fmt: skip
        return du

    def nt_xent(self, U: torch.Tensor, tau: float) -> tuple[float, torch.Tensor] | None:
        """(loss, dloss/dU) of the (V, n, m) raw outputs U made unit, as sim.losses.views_nt_xent
        of U / |U| (the loss summed in float64, returned as a float); None if some row of U is 0
        (its direction is undefined)."""
        V, n, m = U.shape
        U = U.contiguous()
        grad = torch.empty_like(U)
        loss = ctypes.c_double()
        work = torch.empty((2 * m + 2) * V * n)
        if self._nt_xent(U.data_ptr(), V, n, tau, grad.data_ptr(), ctypes.byref(loss), work.data_ptr()):
            return None
        return loss.value, grad


@functools.cache
def _load(in_dim: int, width: int, depth: int, out_dim: int) -> FusedMLP | None:
    """The calls for this shape, compiled once and checked on first use (`_agrees`); None where
    they cannot serve (a warning says why, the torch path serves)."""
    library = cpu_kernel.build("mlp", source(in_dim, width, depth, out_dim), FLAGS)
    if library is None:
        return None
    fused = FusedMLP(library, in_dim, width, depth, out_dim)
    try:
        _agrees(fused)
    except ArithmeticError as exc:
        warnings.warn(f"compiled MLP step not used ({exc}); the torch path serves")
        return None
    return fused


def _agrees(fused: FusedMLP) -> None:
    """ArithmeticError unless the compiled calls give the torch formulas' numbers in float64
    (loss, gradients and tangent, relative 1e-4 of each one's largest entry) on a small problem."""
    g = torch.Generator().manual_seed(0)
    net = MLP(fused.in_dim, fused.out_dim, fused.width, fused.depth, "tanh")
    weights = [p.detach() for p in net.parameters()]
    views = torch.randn(2, 20, fused.in_dim, generator=g)
    delta = torch.randn(20, fused.out_dim, generator=g) * 0.1
    got = step_gradients(fused, weights, views, delta, 0.5)
    want = reference_gradients(net, [w.double() for w in weights], views.double(), delta.double(), 0.5)
    pairs = [(torch.tensor(got[0]), want[0])] + list(zip(got[1], want[1]))
    saved = fused.forward_saving(weights, views[0])[1]
    ref_saved = net.forward_saving([w.double() for w in weights], views[0].double())[1]
    tangent = net.tangent([w.double() for w in weights], [g.double() for g in want[1][:-1]], ref_saved)
    pairs.append((fused.tangent(weights, got[1][:-1], saved), tangent))
    for a, b in pairs:
        error = float((a.double() - b).abs().max() / b.abs().max().clamp_min(1e-30))
        if not error <= 1e-4:
            raise ArithmeticError(f"differs from the float64 formulas by {error:.1e} relative")


def step_gradients(
    fused: FusedMLP, weights: Sequence[torch.Tensor], views: torch.Tensor, delta: torch.Tensor, tau: float
) -> tuple[float, list[torch.Tensor], torch.Tensor, tuple] | None:
    """NT-Xent of the (V, n, d) views' embeddings z = normalize(f(view) + Delta) and its
    gradients: (loss, [grad of each weight..., grad of Delta (n, m)], the views' raw outputs u
    (V, n, m)); None if some u is 0."""
    V, n, d = views.shape
    f, saved = fused.forward_saving(weights, views.reshape(V * n, d))
    u = f.reshape(V, n, -1) + delta
    found = fused.nt_xent(u, tau)
    if found is None:
        return None
    loss, grad_u = found
    grads = fused.backward(weights, saved, grad_u.reshape(V * n, -1))
    return loss, [*grads, grad_u.sum(0)], u


def reference_gradients(
    net: MLP, weights: list[torch.Tensor], views: torch.Tensor, delta: torch.Tensor, tau: float
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """What step_gradients computes, through torch's autograd (in the tensors' precision)."""
    from sim.losses import views_nt_xent

    weights = [w.detach().requires_grad_(True) for w in weights]
    delta = delta.detach().requires_grad_(True)
    V, n, d = views.shape
    with torch.enable_grad():  # also when asked from inside a no_grad block (a first use there)
        u = net.forward_with(weights, views.reshape(V * n, d)).reshape(V, n, -1) + delta
        loss = views_nt_xent(u / u.norm(dim=-1, keepdim=True), tau)
        return loss.detach(), [g.detach() for g in torch.autograd.grad(loss, [*weights, delta])]


def plan(
    model: torch.nn.Module, loss_kind: str, tau: float, views: int, rows: int, dtype, device, head
) -> FusedMLP | None:
    """The compiled calls when they serve this run (see the module docstring), else None."""
    if not (
        isinstance(model, MLP)
        and model.activation == "tanh"
        and loss_kind == "nt_xent"
        and head is None
        and views >= 2
        and 0 < rows <= MAX_ROWS
        and tau >= MIN_TAU
        and dtype == torch.float32
        and torch.device(device).type == "cpu"
    ):
        return None
    return _load(model.in_dim, model.width, model.depth, model.out_dim)
