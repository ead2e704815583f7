"""A fused CPU path for the small runs of an MLP with tanh under NT-Xent in float32 (fig5-2d's):
the network's forward pass (keeping each hidden layer's output), the loss with its gradient,
the backward pass and the forward-mode derivative J_theta f(X) dtheta, each one call into C
compiled for this machine at first use (sim.cpu_kernel.build); and a whole step of the NN kernel
under the step rule (`FusedMLP.nn_step`: those calls, the first-order factor, the tried steps
and their angles) as one call. The same arithmetic through torch costs a hundred or more small
operations a step, most of a step's time at n = 256.

The numbers are the same as torch's up to float32 rounding (tested against float64), not bit
for bit: the C code's own tanh (below |x| = 0.4 its Taylor polynomial, else from e^(-2|x|)),
exponential (a degree-6 polynomial for 2^f) and asin (Cephes' polynomial), its own order of
summation. It is compiled without
reassociation and with explicit fused multiply-adds, so every build (AVX2 or AVX-512) gives the
same numbers; one thread. `plan` says whether it serves a run (else the torch path does): CPU,
float32, an MLP with tanh, NT-Xent with at least two views, at most MAX_ROWS rows, tau at least
MIN_TAU (every e^(z.z'/tau - 1/tau) stays far above float32's smallest), a C compiler, and a
first use that agrees with torch in float64 (else a warning and the torch path).
"""

from __future__ import annotations

import ctypes
import dataclasses
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
#include <stdlib.h>
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

/* asin for 0 <= x <= 1 (NaN stays NaN): x + x^3 p(x^2) to |x| = 0.5, else pi/2 - 2 asin(sqrt((1 - x) / 2))
   (p: Cephes' asinf polynomial, about 1 float32 ulp); no libm call, so every machine's numbers. */
INLINE float asin_f(float x) {{
    int high = x > 0.5f;
    float z = high ? 0.5f * (1.0f - x) : x * x, r = high ? sqrtf(z) : x;
    float p = 4.2163199048e-2f;
    p = fmaf(p, z, 2.4181311049e-2f);
    p = fmaf(p, z, 4.5470025998e-2f);
    p = fmaf(p, z, 7.4953002686e-2f);
    p = fmaf(p, z, 1.6666752422e-1f);
    float y = fmaf(p * z, r, r);
    return high ? 1.5707963268f - 2.0f * y : y;
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

INLINE int all_finite(const float *x, int64_t count) {{
    float sum = 0.0f;
    for (int64_t i = 0; i < count; i++) sum += x[i] * 0.0f;  /* 0 for a finite entry, NaN otherwise */
    return sum == 0.0f;
}}

/* The largest |z_i - z'_i| over the n rows of unit z = u / |u| and z' = u' / |u'|, u = f + delta
   and u' = f1 + delta (n x M); NaN if some row of u' is 0 or not finite. */
INLINE float largest_chord(const float *z, const float *f1, const float *delta, int64_t n) {{
    float largest = 0.0f;
    for (int64_t i = 0; i < n; i++) {{
        float u[M], q = 0.0f, c = 0.0f;
        for (int k = 0; k < M; k++) {{
            u[k] = f1[i * M + k] + delta[i * M + k];
            q = fmaf(u[k], u[k], q);
        }}
        if (!(q > 0.0f && q <= 3.4e38f)) return NAN;
        q = sqrtf(q);
        for (int k = 0; k < M; k++) {{
            float d = z[i * M + k] - u[k] / q;
            c = fmaf(d, d, c);
        }}
        c = sqrtf(c);
        if (c > largest) largest = c;
    }}
    return largest;
}}

/* z = u / |u| for the n rows u = f + delta (into z), and the largest |du - (du.z) z| / |u|: the
   fastest angular speed of an embedding moved by du (n x M); NaN if some speed is not finite. */
INLINE double fastest_move(const float *f, const float *delta, const float *du, int64_t n, float *z) {{
    double fastest = 0.0;
    for (int64_t i = 0; i < n; i++) {{
        float u[M], q = 0.0f, dot = 0.0f, speed = 0.0f;
        for (int k = 0; k < M; k++) {{
            u[k] = f[i * M + k] + delta[i * M + k];
            q = fmaf(u[k], u[k], q);
        }}
        q = sqrtf(q);
        for (int k = 0; k < M; k++) {{
            z[i * M + k] = u[k] / q;
            dot = fmaf(du[i * M + k], z[i * M + k], dot);
        }}
        for (int k = 0; k < M; k++) {{
            float t = du[i * M + k] - dot * z[i * M + k];
            speed = fmaf(t, t, speed);
        }}
        double v = (double)sqrtf(speed) / (double)q;
        if (!(v == v)) return NAN;
        if (v > fastest) fastest = v;
    }}
    return fastest;
}}

/* NT-Xent on the V n views (row v n + i: view v of sample i) at the weights W, b: the forward
   pass (hidden outputs into hsV, outputs into fV), the raw outputs U = fV + delta (delta's row
   i for every view of sample i), the loss into loss[0] and its gradient by U into dU. Returns
   1 if some view's output is 0 or the loss is not finite. T, scratch: as forward and nt_xent. */
INLINE int views_loss(const float *views, int64_t V, int64_t n, const float *const *W, const float *const *b,
                      const float *delta, float tau, float *const *hsV, float *fV, float *U, float *dU, double *loss,
                      float *T, float *scratch) {{
    int64_t N = V * n;
    forward(views, N, W, b, hsV, fV, T);
    for (int64_t a = 0; a < N; a++)
        for (int k = 0; k < M; k++) U[a * M + k] = fV[a * M + k] + delta[(a % n) * M + k];
    return nt_xent(U, V, n, tau, dU, loss, scratch) || !isfinite(loss[0]);
}}

/* The step rule's verdict on a try that moves the unit rows z to those of u' = f1 + delta (n x
   M): its angle 2 asin(chord / 2) for the largest chord |z - z'| (C's own asin_f: the same on
   every machine); 1 if it is within the bound (out[1], out[2] = the factor and the angle), 0 if
   not (the factor cut to 0.95 bound / angle), -1 if the angle is not finite. */
INLINE int judge(const float *z, const float *f1, const float *delta, int64_t n, double bound, double *scale,
                 double *out) {{
    double angle = 2.0f * asin_f(fminf(0.5f * largest_chord(z, f1, delta, n), 1.0f));
    if (!(angle == angle)) return -1;
    if (angle > bound) {{
        *scale *= 0.95 * bound / angle;
        return 0;
    }}
    out[1] = *scale;
    out[2] = angle;
    return 1;
}}

/* One step of plain gradient descent on the weights (the NN kernel) under the step rule, in one
   call: what sim/simulation.py's _rule_step does by torch operations. The loss's gradients by
   every weight (computed from the V n views, row v n + i for view v of sample i; or `given`
   in dW, db, the gradients a frame computed on these views), the forward-mode derivative du = tangent_scale J_theta f(X) g at
   the clean samples' pass (hs, f at the current weights), each sample's speed |du - (du.z) z|
   / |u| (u = f + delta, z = u / |u|), the factor scale = min(1, bound / fastest); then tries
   W1 = W - eta scale g (torch's SGD arithmetic: fmaf(g, -(eta scale), W)), the pass at W1 (into
   hs1, f1) and the largest angle 2 asin(chord / 2) it moves a z, shrinking the factor to 0.95
   bound / angle while the angle is over the bound, at most 20 tries. out: [loss (NaN when
   given), scale, angle]. Returns 0 when the step is found with finite weights; 1 when it
   is not (a view's output 0, a loss or gradient or new weight not finite, an angle not
   finite or 20 tries without reaching the bound: the caller takes the step its own way). */
int nn_step(const float *X, int64_t n, const float *views, int64_t V, const float *const *W, const float *const *b,
            const float *const *hs, const float *f, const float *delta, float tau, float tangent_scale, double eta,
            double bound, int given, float *const *dW, float *const *db, float *const *W1, float *const *b1,
            float *const *hs1, float *f1, double *out) {{
    int64_t N = V * n, weights = 0, biases = 0;
    for (int l = 0; l <= DEPTH; l++) {{
        weights += fan_in(l) * fan_out(l);
        biases += fan_out(l);
    }}
    int64_t room = 3 * weights + biases + DEPTH * N * H + 3 * N * M + (2 * M + 2) * N + 2 * N * H + 2 * n * M;
    float *work = malloc(room * sizeof(float));
    if (!work) return 1;
    float *T = work, *hsV[DEPTH], *fV = T + 2 * weights + DEPTH * N * H, *U = fV + N * M, *dU = U + N * M;
    float *scratch = dU + N * M, *du = scratch + (2 * M + 2) * N + 2 * N * H, *z = du + n * M, *g = z + n * M;
    for (int l = 0; l < DEPTH; l++) hsV[l] = T + 2 * weights + l * N * H;
    float *gW[DEPTH + 1], *gb[DEPTH + 1];
    for (int l = 0; l <= DEPTH; l++) {{
        gW[l] = given ? dW[l] : g;
        g += given ? 0 : fan_in(l) * fan_out(l);
        gb[l] = given ? db[l] : g;
        g += given ? 0 : fan_out(l);
    }}
    int status = 1;
    out[0] = NAN;
    if (!given) {{
        if (views_loss(views, V, n, W, b, delta, tau, hsV, fV, U, dU, out, T, scratch)) goto done;
        backward(views, N, W, (const float *const *)hsV, dU, gW, gb, scratch);
    }}
    for (int l = 0; l <= DEPTH; l++)
        if (!all_finite(gW[l], fan_in(l) * fan_out(l)) || !all_finite(gb[l], fan_out(l))) goto done;
    tangent(X, n, W, (const float *const *)gW, (const float *const *)gb, hs, tangent_scale, du, T, scratch);
    double fastest = fastest_move(f, delta, du, n, z);
    if (!(fastest == fastest)) goto done;
    double scale = fastest <= bound ? 1.0 : bound / fastest;
    for (int tries = 0; tries < 20; tries++) {{
        float alpha = (float)(-(eta * scale));
        for (int l = 0; l <= DEPTH; l++) {{
            for (int64_t i = 0; i < fan_in(l) * fan_out(l); i++) W1[l][i] = fmaf(gW[l][i], alpha, W[l][i]);
            for (int j = 0; j < fan_out(l); j++) b1[l][j] = fmaf(gb[l][j], alpha, b[l][j]);
        }}
        forward(X, n, (const float *const *)W1, (const float *const *)b1, hs1, f1, T);
        int verdict = judge(z, f1, delta, n, bound, &scale, out);
        if (verdict < 0) goto done;
        if (verdict) {{
            status = 0;
            for (int l = 0; l <= DEPTH; l++)
                if (!all_finite(W1[l], fan_in(l) * fan_out(l)) || !all_finite(b1[l], fan_out(l))) status = 1;
            goto done;
        }}
    }}
done:
    free(work);
    return status;
}}

/* One step of plain gradient descent on the offsets Delta (the identity kernel) under the step
   rule, in one call: g = dL/dDelta (the loss's gradient by each view's raw output, summed over
   the views in order; or `given`, a frame's), each point's move du = move_scale g (-lr_points n
   g) and its speed as in nn_step, the factor, then tries Delta1 = Delta - eta scale n g
   (torch's SGD arithmetic on the step's gradient n g) with the clean samples' pass f fixed,
   shrinking as nn_step does. out: [loss (NaN when given), scale, angle]; returns 0 or 1 as
   nn_step does. */
int delta_step(const float *views, int64_t V, int64_t n, const float *const *W, const float *const *b,
               const float *f, const float *delta, float tau, float move_scale, double eta, double bound,
               const float *given, float *delta1, double *out) {{
    int64_t N = V * n, weights = 0;
    for (int l = 0; l <= DEPTH; l++) weights += fan_in(l) * fan_out(l);
    int64_t room = weights + DEPTH * N * H + 3 * N * M + (2 * M + 2) * N + 4 * n * M;
    float *work = malloc(room * sizeof(float));
    if (!work) return 1;
    float *T = work, *hsV[DEPTH], *fV = T + weights + DEPTH * N * H, *U = fV + N * M, *dU = U + N * M;
    float *scratch = dU + N * M, *g = scratch + (2 * M + 2) * N, *gn = g + n * M, *du = gn + n * M, *z = du + n * M;
    for (int l = 0; l < DEPTH; l++) hsV[l] = T + weights + l * N * H;
    int status = 1;
    out[0] = NAN;
    if (given) {{
        memcpy(g, given, n * M * sizeof(float));
    }} else {{
        if (views_loss(views, V, n, W, b, delta, tau, hsV, fV, U, dU, out, T, scratch)) goto done;
        for (int64_t i = 0; i < n * M; i++) {{
            float sum = dU[i];
            for (int64_t v = 1; v < V; v++) sum += dU[v * n * M + i];
            g[i] = sum;
        }}
    }}
    for (int64_t i = 0; i < n * M; i++) {{
        gn[i] = (float)n * g[i];
        du[i] = move_scale * g[i];
    }}
    if (!all_finite(gn, n * M)) goto done;
    double fastest = fastest_move(f, delta, du, n, z);
    if (!(fastest == fastest)) goto done;
    double scale = fastest <= bound ? 1.0 : bound / fastest;
    for (int tries = 0; tries < 20; tries++) {{
        float alpha = (float)(-(eta * scale));
        for (int64_t i = 0; i < n * M; i++) delta1[i] = fmaf(gn[i], alpha, delta[i]);
        int verdict = judge(z, f, delta1, n, bound, &scale, out);
        if (verdict < 0) goto done;
        if (verdict) {{
            status = !all_finite(delta1, n * M);
            goto done;
        }}
    }}
done:
    free(work);
    return status;
}}
"""


def source(in_dim: int, width: int, depth: int, out_dim: int) -> str:
    """The C code for an MLP of these sizes (depth hidden layers of width units)."""
    coefficients = {f"c{k}": repr(v) for k, v in enumerate(cpu_kernel.exp2_coefficients())}
    return _TEMPLATE.format(in_dim=in_dim, width=width, depth=depth, out_dim=out_dim, **coefficients)


def _pointers(tensors: Sequence[torch.Tensor | None]) -> ctypes.Array:
    return (ctypes.c_void_p * len(tensors))(*[None if t is None else t.data_ptr() for t in tensors])


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
        self._nn_step = library.nn_step
        self._nn_step.argtypes = [pointer, i64, pointer, i64, pointer, pointer, pointer, pointer, pointer, f32, f32]
        self._nn_step.argtypes += [ctypes.c_double, ctypes.c_double, ctypes.c_int] + [pointer] * 7
        self._nn_step.restype = ctypes.c_int
        self._delta_step = library.delta_step
        self._delta_step.argtypes = [pointer, i64, i64, pointer, pointer, pointer, pointer, f32, f32]
        self._delta_step.argtypes += [ctypes.c_double, ctypes.c_double, pointer, pointer, pointer]
        self._delta_step.restype = ctypes.c_int

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

    def nn_step(
        self,
        weights: Sequence[torch.Tensor],
        clean: tuple[torch.Tensor, tuple],
        views: torch.Tensor,
        delta: torch.Tensor,
        rule: StepRule,
        grads: Sequence[torch.Tensor] | None = None,
    ) -> tuple[list[torch.Tensor], tuple[torch.Tensor, tuple], float, float] | None:
        """One step of plain gradient descent on the weights under the step rule (the C
        `nn_step` above; sim/simulation.py's _rule_step by torch operations): from the clean
        samples' pass `clean` = (f(X) (n, m), saved) at `weights`, the (V, n, d) views and the
        offsets Delta (n, m); `grads` (parameters() order) when a frame has computed them on
        these views, else computed here. Returns (the new weights, the pass at them, the factor
        on the step size, the largest angle in radians it moves an embedding), or None when
        the step is not found this way (a view's output 0, something not finite, 20 cuts
        without reaching the bound): the caller then takes it through torch."""
        f, (inputs, _) = clean
        X, n = inputs[0], inputs[0].shape[0]
        V = views.shape[0]
        new = [torch.empty_like(w) for w in weights]
        hidden = [torch.empty(n, self.width) for _ in range(self.depth)]
        f1 = torch.empty(n, self.out_dim)
        given = grads is not None
        grads = grads if given else [None] * len(weights)
        out = (ctypes.c_double * 3)()
        status = self._nn_step(
            X.data_ptr(), n, views.data_ptr(), V, _pointers(weights[0::2]), _pointers(weights[1::2]),
            _pointers(inputs[1:]), f.data_ptr(), delta.data_ptr(), rule.tau, rule.tangent_scale, rule.eta,
            rule.bound, int(given), _pointers(grads[0::2]), _pointers(grads[1::2]), _pointers(new[0::2]),
            _pointers(new[1::2]), _pointers(hidden), f1.data_ptr(), out,
        )  # fmt: skip
        if status:
            return None
        return new, (f1, ([X, *hidden], [None] * self.depth)), out[1], out[2]

    def delta_step(
        self,
        weights: Sequence[torch.Tensor],
        f: torch.Tensor,
        views: torch.Tensor,
        delta: torch.Tensor,
        rule: StepRule,
        grad: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, float, float] | None:
        """One step of plain gradient descent on the offsets Delta (n, m) under the step rule
        (the C `delta_step` above): the identity kernel's step, each point by -eta n dL/dDelta,
        from the clean samples' outputs f = f(X) (n, m) at `weights` (which stay), the (V, n,
        d) views and `grad` = dL/dDelta (n, m) when a frame has computed it on these views.
        `rule.tangent_scale` is the move of a point per unit gradient (-lr_points n). Returns
        (the new Delta, the factor on the step size, the largest angle in radians it moves an
        embedding), or None as nn_step does."""
        n, V = delta.shape[0], views.shape[0]
        new = torch.empty_like(delta)
        out = (ctypes.c_double * 3)()
        status = self._delta_step(
            views.data_ptr(), V, n, _pointers(weights[0::2]), _pointers(weights[1::2]), f.data_ptr(),
            delta.data_ptr(), rule.tau, rule.tangent_scale, rule.eta, rule.bound,
            None if grad is None else grad.contiguous().data_ptr(), new.data_ptr(), out,
        )  # fmt: skip
        return None if status else (new, out[1], out[2])


@dataclasses.dataclass(frozen=True)
class StepRule:
    """What FusedMLP.nn_step and delta_step need of the run's settings: the loss's tau, the
    scale of a point's move (nn_step: of the forward-mode derivative, -training.lr; delta_step:
    of the gradient, -training.lr_points n), the step size eta and the bound on any
    embedding's angular move (training.max_move, radians, > 0)."""

    tau: float
    tangent_scale: float
    eta: float
    bound: float


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
    """ArithmeticError unless the compiled calls give the torch formulas' numbers in float64 on
    a small problem, the same one in every process (drawn under its own seed, the process's
    random state left as it was): the loss, the gradients, the tangent and the whole steps
    (`_whole_steps`) within relative 1e-4 of each one's largest entry, beyond what float32
    cannot hold."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = MLP(fused.in_dim, fused.out_dim, fused.width, fused.depth, "tanh")
        views = torch.randn(2, 20, fused.in_dim)
        delta = torch.randn(20, fused.out_dim) * 0.1
    weights = [p.detach() for p in net.parameters()]
    got = step_gradients(fused, weights, views, delta, 0.5)
    want = reference_gradients(net, [w.double() for w in weights], views.double(), delta.double(), 0.5)
    checks = [(torch.tensor(got[0]), want[0], 0.0)] + [(a, b, 0.0) for a, b in zip(got[1], want[1])]
    saved = fused.forward_saving(weights, views[0])[1]
    ref_saved = net.forward_saving([w.double() for w in weights], views[0].double())[1]
    tangent = net.tangent([w.double() for w in weights], [g.double() for g in want[1][:-1]], ref_saved)
    checks.append((fused.tangent(weights, got[1][:-1], saved), tangent, 0.0))
    checks += _whole_steps(fused, net, weights, views, delta, want[1])
    for a, b, floor in checks:
        excess = float(((a.double() - b).abs().max() - floor).clamp_min(0))
        error = excess / float(b.abs().max().clamp_min(1e-30))
        if not error <= 1e-4:
            raise ArithmeticError(f"differs from the float64 formulas by {error:.1e} relative")


def _whole_steps(
    fused: FusedMLP, net: MLP, weights: list[torch.Tensor], views: torch.Tensor, delta: torch.Tensor, grads: list
) -> list[tuple[torch.Tensor, torch.Tensor, float]]:
    """(got, want, floor) for nn_step and delta_step, `grads` the float64 gradients (weights...,
    Delta). At a bound no step reaches (one try, the whole step size): each tensor's move
    against -eta times its gradient (-eta n for Delta), floor 2 ulp of float32 at the tensor's
    largest entry (the new value is a float32 there), the pass at the new weights and the
    factor 1. At a bound of 0.5 rad, where a step must be cut: the largest angle an embedding
    moves against float64's at the factor found (near pi, asin could not tell its input's last
    bits apart: a step so large that embeddings turn about is no check of the angle)."""
    eta, n, x64, delta64 = 0.5, delta.shape[0], views[0].double(), delta.double()
    clean = fused.forward_saving(weights, views[0])
    z0 = torch.nn.functional.normalize(clean[0].double() + delta64, dim=1)

    def steps(bound: float) -> tuple[tuple, tuple]:
        nn = fused.nn_step(weights, clean, views, delta, StepRule(0.5, -eta, eta, bound))
        identity = fused.delta_step(weights, clean[0], views, delta, StepRule(0.5, -eta * n, eta, bound))
        if nn is None or identity is None:
            raise ArithmeticError("a whole step found no step")
        return nn, identity

    def after(factor: float) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        new_weights = [w.double() - factor * eta * g for w, g in zip(weights, grads[:-1])]
        return new_weights, net.forward_with(new_weights, x64), delta64 - factor * eta * n * grads[-1]

    def angle(u1: torch.Tensor) -> torch.Tensor:
        chord = (z0 - torch.nn.functional.normalize(u1, dim=1)).norm(dim=1)
        return (2 * torch.asin((chord / 2).clamp(max=1))).max()

    nn, identity = steps(1e6)
    new_weights, f1, new_delta = after(1.0)
    old = [*weights, delta]
    ulp = [2 * float(torch.finfo(torch.float32).eps) * float(w.abs().max()) for w in old]
    checks = [
        (a - w, b - w.double(), floor)
        for a, b, w, floor in zip([*nn[0], identity[0]], [*new_weights, new_delta], old, ulp)
    ]
    checks += [(nn[1][0], f1, 0.0), (torch.tensor(nn[2]), torch.tensor(1.0), 0.0)]
    checks.append((torch.tensor(identity[1]), torch.tensor(1.0), 0.0))
    nn, identity = steps(0.5)
    _, f1, _ = after(nn[2])
    _, _, new_delta = after(identity[1])
    checks.append((torch.tensor(nn[3]), angle(f1 + delta64), 0.0))
    checks.append((torch.tensor(identity[2]), angle(clean[0].double() + new_delta), 0.0))
    return checks


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
