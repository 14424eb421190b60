/* 1-SAM / SGD / label-noise SGD with batch size 1 on 2-layer networks: the kernel of
   sharpness.training.algorithms.CEngine (the derivation is in that module's docstring; the build
   choices in sharpness/training/kernels/one_sam.py).

   Compiled once per precision, -DREAL_BITS=64 (double; entry one_sam_f64) or -DREAL_BITS=32
   (float; entry one_sam_f32), with -ffp-contract=off and without -ffast-math: the only fused
   multiply-adds are the explicit FMA() calls, so the floating-point operations are exactly the
   ones written here and a run is bitwise reproducible.
   W1 is stored transposed (d, m) so that every inner loop runs over the m neurons. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "one_sam.h"

#if REAL_BITS == 64
#define REAL double
#define ENTRY one_sam_f64
#define SWEEP one_sam_sweep_f64
#define EXP exp
#define LOG1P log1p
#define SQRT sqrt
#define FMA fma
#elif REAL_BITS == 32
#define REAL float
#define ENTRY one_sam_f32
#define SWEEP one_sam_sweep_f32
#define EXP expf
#define LOG1P log1pf
#define SQRT sqrtf
#define FMA fmaf
#else
#error "compile with -DREAL_BITS=64 (double) or -DREAL_BITS=32 (float)"
#endif

static inline REAL sigmoid(REAL z) {
    if (z >= 0) return (REAL)1 / ((REAL)1 + EXP(-z));
    REAL e = EXP(z); return e / ((REAL)1 + e);
}
static inline REAL dloss(int loss, REAL f, REAL y, REAL smooth) {
    if (loss == 0) return (REAL)2 * (f - y);
    return y * (sigmoid(y * f) - ((REAL)1 - smooth));
}

/* Fixed-order vectorized sums (issue 14). A serial sum s += a[j] waits for each add before
   the next (4 cycles a term): at m = 500 the six dot products of a 1-SAM step cost more than
   the sweep over W1 itself. Instead LANES partial sums run side by side: lane k takes the terms
   j = k (mod LANES) in increasing j, and the lanes are then added pairwise (lane k += lane
   k + w for w = LANES/2, ..., 1). The order of every operation is written here, so the compiler
   maps the lanes to SIMD registers without reassociating anything (no -ffast-math): the bits are
   those of this source, the same for every vector width -march picks and every build. */
#define LANES 32

static inline REAL lanes_total(REAL *acc) {
    for (int w = LANES / 2; w > 0; w /= 2)
        for (int k = 0; k < w; k++) acc[k] += acc[k + w];
    return acc[0];
}

/* sum_j u[j] v[j], in the fixed lane order above (explicit FMA per term) */
static inline REAL dot(int64_t m, const REAL *u, const REAL *v) {
    REAL acc[LANES];
    for (int k = 0; k < LANES; k++) acc[k] = 0;
    int64_t j = 0;
    for (; j + LANES <= m; j += LANES)
        for (int k = 0; k < LANES; k++) acc[k] = FMA(u[j + k], v[j + k], acc[k]);
    for (int k = 0; j + k < m; k++) acc[k] = FMA(u[j + k], v[j + k], acc[k]);
    return lanes_total(acc);
}

/* forward from pre-activations z: fills h, s (activation, derivative); returns f and the norm */
static REAL forward(int64_t m, const REAL *z, const REAL *W2, REAL *h, REAL *s, int act,
                    int head, REAL eps, REAL *den_out, REAL *nrm_out) {
    if (act == 0) {
        for (int64_t j = 0; j < m; j++) { REAL v = z[j]; h[j] = v > 0 ? v : 0; s[j] = v > 0 ? 1 : 0; }
    } else {
        /* one exp per neuron: e = exp(-|z|) gives softplus(z) = max(z, 0) + log1p(e) and
           sigmoid(z) = 1/(1 + e) or e/(1 + e), each in its numerically stable branch */
        for (int64_t j = 0; j < m; j++) {
            REAL v = z[j], e = EXP(v > 0 ? -v : v);
            h[j] = v > 0 ? v + LOG1P(e) : LOG1P(e);
            s[j] = v >= 0 ? (REAL)1 / ((REAL)1 + e) : e / ((REAL)1 + e);
        }
    }
    REAL f = dot(m, W2, h);
    if (head == 1) {
        REAL q = dot(m, h, h);
        REAL nrm = SQRT(q), den = nrm > eps ? nrm : eps;
        *den_out = den; *nrm_out = nrm;
        f = f / den;
    }
    return f;
}

/* gradient pieces: gw2 = dL/dW2, dz = dL/dz, given g = dl/df; returns ||gw2||^2 + ||dz||^2 xx
   when norm is set (the SAM perturbation needs it), else 0 */
static REAL backward(int64_t m, REAL g, const REAL *W2, const REAL *h, const REAL *s, int head,
                     REAL eps, REAL den, REAL nrm, REAL f, REAL xx, REAL *gw2, REAL *dz,
                     int norm) {
    if (head == 0) {
        for (int64_t j = 0; j < m; j++) { gw2[j] = g * h[j]; dz[j] = g * W2[j] * s[j]; }
    } else {
        /* f = W2.u, u = h/den; df/dh = (W2 - (W2.u) u 1[nrm > eps]) / den, and W2.u = f */
        REAL wu = nrm > eps ? f : 0;
        for (int64_t j = 0; j < m; j++) {
            REAL u = h[j] / den;
            gw2[j] = g * u;
            dz[j] = g * (W2[j] - wu * u) / den * s[j];
        }
    }
    if (!norm) return 0;
    return dot(m, gw2, gw2) + dot(m, dz, dz) * xx;
}

static void matvec(int64_t m, int64_t d, const REAL *W1T, const REAL *b1, const REAL *x,
                   REAL *z) {
    for (int64_t j = 0; j < m; j++) z[j] = 0;
    for (int64_t i = 0; i < d; i++) {
        const REAL xi = x[i]; const REAL *row = W1T + i * m;
        for (int64_t j = 0; j < m; j++) z[j] = FMA(xi, row[j], z[j]);
    }
    if (b1) for (int64_t j = 0; j < m; j++) z[j] += b1[j];
}

/* One sweep over W1 (stored transposed, row i = input coordinate i): the rank-one update
   row[j] <- decay row[j] - dz[j] x[i] and, in the same pass, the next example's pre-activation
   z[j] = sum_i xn[i] row[j] (in increasing i, FMA; the bias is added by the caller). decay = 1
   multiplies exactly. The neurons go in blocks of JB whose JB partial z's stay in registers
   across the d rows, so the pass reads and writes each weight once and touches z once per
   block, not once per row; the operations on every z[j] are the same, in the same order, as in
   the unblocked loop. */
#define JB 32
static void sweep(int64_t m, int64_t d, REAL *W1T, const REAL *dz, const REAL *x,
                  const REAL *xn, REAL *z, REAL decay) {
    int64_t j0 = 0;
    for (; j0 + JB <= m; j0 += JB) {
        REAL acc[JB];
        for (int k = 0; k < JB; k++) acc[k] = 0;
        for (int64_t i = 0; i < d; i++) {
            const REAL xi = x[i], xni = xn[i]; REAL *row = W1T + i * m + j0;
            const REAL *dzb = dz + j0;
            for (int k = 0; k < JB; k++) {
                const REAL w = decay * row[k] - dzb[k] * xi; row[k] = w; acc[k] = FMA(xni, w, acc[k]);
            }
        }
        for (int k = 0; k < JB; k++) z[j0 + k] = acc[k];
    }
    if (j0 == m) return;
    for (int64_t j = j0; j < m; j++) z[j] = 0;
    for (int64_t i = 0; i < d; i++) {
        const REAL xi = x[i], xni = xn[i]; REAL *row = W1T + i * m;
        for (int64_t j = j0; j < m; j++) {
            const REAL w = decay * row[j] - dz[j] * xi; row[j] = w; z[j] = FMA(xni, w, z[j]);
        }
    }
}

/* The step of a ReLU MLP (head 0, relu), the default and Figures 1 and 4, in three or four
   passes over the neurons instead of about ten. The sweep over W1 (120 KB at m = 500, d = 30)
   evicts the O(m) vectors from the 48 KB L1 cache at every step, so every pass over them is a
   trip to L2: here h = relu(z), its derivative, dL/dz, the perturbed W2' and z' are recomputed
   from z and W2 in registers (relu is exact) instead of stored and reloaded. The operations,
   and the lanes of every sum, are those of forward() and backward() in the same order, so the
   bits are those of the general path (tested against it in the kernel tests). Writes the new W2,
   b1 and dz <- lr dL/dz (for the sweep). */
static inline REAL relu_v(REAL v) { return v > 0 ? v : 0; }
static inline REAL relu_d(REAL v) { return v > 0 ? 1 : 0; }

static void relu_mlp_step(int64_t m, const REAL *z, REAL *W2, REAL *b1, REAL *dz, REAL xx,
                          REAL yk, int loss, REAL smooth, REAL rho, REAL lr, REAL decay) {
    REAL acc[LANES], acc2[LANES];
    int64_t j0;
    int k;
#define LANE_PASS(...)                                                                        \
    for (k = 0; k < LANES; k++) acc[k] = acc2[k] = 0;                                        \
    for (j0 = 0; j0 + LANES <= m; j0 += LANES)                                               \
        for (k = 0; k < LANES; k++) { const int64_t j = j0 + k; __VA_ARGS__; }               \
    for (k = 0; j0 + k < m; k++) { const int64_t j = j0 + k; __VA_ARGS__; }
    LANE_PASS(acc[k] = FMA(W2[j], relu_v(z[j]), acc[k]))
    const REAL g = dloss(loss, lanes_total(acc), yk, smooth);
    REAL c = 0, gp = 0;
    if (rho > 0) {
        LANE_PASS({
            const REAL gw = g * relu_v(z[j]), dd = g * W2[j] * relu_d(z[j]);
            acc[k] = FMA(gw, gw, acc[k]); acc2[k] = FMA(dd, dd, acc2[k]);
        })
        const REAL gn2 = lanes_total(acc) + lanes_total(acc2) * xx;
        if (gn2 > 0) {
            c = rho / SQRT(gn2);
            LANE_PASS({
                const REAL gw = g * relu_v(z[j]), dd = g * W2[j] * relu_d(z[j]);
                const REAL w2p = W2[j] + c * gw, zp = z[j] + c * dd * xx;
                acc[k] = FMA(w2p, relu_v(zp), acc[k]);
            })
            gp = dloss(loss, lanes_total(acc), yk, smooth);
        }
    }
#undef LANE_PASS
    for (int64_t j = 0; j < m; j++) {
        const REAL gw = g * relu_v(z[j]), dd = g * W2[j] * relu_d(z[j]);
        REAL gu = gw, du = dd;
        if (c > 0) {  /* the gradient at the perturbed point */
            const REAL w2p = W2[j] + c * gw, zp = z[j] + c * dd * xx;
            gu = gp * relu_v(zp); du = gp * w2p * relu_d(zp);
        }
        W2[j] = decay * W2[j] - lr * gu;
        if (b1) b1[j] = decay * b1[j] - lr * du;
        dz[j] = lr * du;
    }
}

/* the T steps of run r */
static void run_one(const struct one_sam_args *a, int64_t r) {
    const int64_t m = a->width, d = a->dim, n = a->n, T = a->steps;
    REAL *W1T = (REAL *)a->W1T + r * m * d;
    REAL *b1 = a->b1 ? (REAL *)a->b1 + r * m : 0;
    REAL *W2 = (REAL *)a->W2 + r * m;
    const REAL *X = (const REAL *)a->X + r * n * d;
    const REAL *y = (const REAL *)a->y + r * n;
    const int32_t *order = a->order + r * T;
    const REAL *noise = a->noise ? (const REAL *)a->noise + r * T : 0;
    const REAL lr = (REAL)a->lr, rho = (REAL)a->rho, wd = (REAL)a->weight_decay;
    const REAL eps = (REAL)a->eps, smooth = (REAL)a->smoothing, proj = (REAL)a->projection;
    const int act = a->activation, head = a->head, loss = a->loss;
    REAL *z = (REAL *)a->work + r * 9 * m, *h = z + m, *s = h + m, *dz = s + m, *gw2 = dz + m;
    REAL *W2p = gw2 + m, *zp = W2p + m, *hp = zp + m, *sp = hp + m;
    const REAL decay = (REAL)1 - lr * wd;
    if (T <= 0) return;
    matvec(m, d, W1T, b1, X + (int64_t)order[0] * d, z);
    for (int64_t t = 0; t < T; t++) {
        const REAL *x = X + (int64_t)order[t] * d;
        const REAL yk = y[order[t]] + (noise ? noise[t] : (REAL)0);
        const REAL xx = (b1 ? (REAL)1 : (REAL)0) + dot(d, x, x);
        if (head == 0 && act == 0 && !a->general) {
            relu_mlp_step(m, z, W2, b1, dz, xx, yk, loss, smooth, rho, lr, decay);
        } else {
            REAL den = 1, nrm = 0;
            REAL f = forward(m, z, W2, h, s, act, head, eps, &den, &nrm);
            REAL g = dloss(loss, f, yk, smooth);
            REAL gn2 = backward(m, g, W2, h, s, head, eps, den, nrm, f, xx, gw2, dz, rho > 0);
            if (rho > 0 && gn2 > 0) {
                const REAL c = rho / SQRT(gn2);
                for (int64_t j = 0; j < m; j++) {
                    W2p[j] = W2[j] + c * gw2[j];
                    zp[j] = z[j] + c * dz[j] * xx;
                }
                REAL denp = 1, nrmp = 0;
                REAL fp = forward(m, zp, W2p, hp, sp, act, head, eps, &denp, &nrmp);
                REAL gp = dloss(loss, fp, yk, smooth);
                backward(m, gp, W2p, hp, sp, head, eps, denp, nrmp, fp, xx, gw2, dz, 0);
            }
            for (int64_t j = 0; j < m; j++) W2[j] = decay * W2[j] - lr * gw2[j];
            if (b1) for (int64_t j = 0; j < m; j++) b1[j] = decay * b1[j] - lr * dz[j];
            for (int64_t j = 0; j < m; j++) dz[j] = lr * dz[j];
        }
        const int fuse = (proj <= 0) && (t + 1 < T);
        if (fuse) {
            sweep(m, d, W1T, dz, x, X + (int64_t)order[t + 1] * d, z, decay);
        } else {
            for (int64_t i = 0; i < d; i++) {
                const REAL xi = x[i]; REAL *row = W1T + i * m;
                for (int64_t j = 0; j < m; j++) row[j] = decay * row[j] - dz[j] * xi;
            }
        }
        if (fuse) {
            if (b1) for (int64_t j = 0; j < m; j++) z[j] += b1[j];
        } else if (proj > 0) {
            REAL q = dot(m * d, W1T, W1T);
            if (b1) q += dot(m, b1, b1);
            const REAL sc = proj / SQRT(q);
            for (int64_t k = 0; k < m * d; k++) W1T[k] *= sc;
            if (b1) for (int64_t j = 0; j < m; j++) b1[j] *= sc;
            if (t + 1 < T) matvec(m, d, W1T, b1, X + (int64_t)order[t + 1] * d, z);
        }
    }
}

/* Runs are handed out one at a time (dynamic): on a shared machine one thread is often
   descheduled, and the other then takes more runs instead of waiting at the end. One parallel
   region for the whole call (sharpness/_threads.py): the barrier is paid once per call. Runs are
   independent, so the schedule does not change any bit. */
void ENTRY(const struct one_sam_args *a) {
    #pragma omp parallel for num_threads(a->threads) schedule(dynamic, 1)
    for (int64_t r = 0; r < a->runs; r++) run_one(a, r);
}

/* The memory-bound limit of a step (benchmarks/bench_training.py): only the sweep over W1 that
   every step must make (the same sweep() as the trainer: the rank-one rewrite of every row and
   the next example's pre-activation), with dz = lr * work[m .. 2m) held fixed
   (z is written to work[0 .. m), which the caller owns, so no sweep is dead code). */
static void sweep_one(const struct one_sam_args *a, int64_t r) {
    const int64_t m = a->width, d = a->dim, n = a->n, T = a->steps;
    REAL *W1T = (REAL *)a->W1T + r * m * d;
    const REAL *X = (const REAL *)a->X + r * n * d;
    const int32_t *order = a->order + r * T;
    REAL *z = (REAL *)a->work + r * 9 * m, *dir = z + m, *dz = dir + m;
    const REAL decay = (REAL)1 - (REAL)a->lr * (REAL)a->weight_decay;
    for (int64_t j = 0; j < m; j++) dz[j] = (REAL)a->lr * dir[j];
    for (int64_t t = 0; t < T; t++) {
        const REAL *x = X + (int64_t)order[t] * d;
        const REAL *xn = X + (int64_t)order[t + 1 < T ? t + 1 : t] * d;
        sweep(m, d, W1T, dz, x, xn, z, decay);
    }
}

void SWEEP(const struct one_sam_args *a) {
    #pragma omp parallel for num_threads(a->threads) schedule(dynamic, 1)
    for (int64_t r = 0; r < a->runs; r++) sweep_one(a, r);
}

int64_t one_sam_args_layout(int64_t *out, int64_t cap) {
    const int64_t v[] = {
        (int64_t)sizeof(struct one_sam_args),
        (int64_t)offsetof(struct one_sam_args, runs),
        (int64_t)offsetof(struct one_sam_args, width),
        (int64_t)offsetof(struct one_sam_args, dim),
        (int64_t)offsetof(struct one_sam_args, n),
        (int64_t)offsetof(struct one_sam_args, steps),
        (int64_t)offsetof(struct one_sam_args, general),
        (int64_t)offsetof(struct one_sam_args, W1T),
        (int64_t)offsetof(struct one_sam_args, b1),
        (int64_t)offsetof(struct one_sam_args, W2),
        (int64_t)offsetof(struct one_sam_args, X),
        (int64_t)offsetof(struct one_sam_args, y),
        (int64_t)offsetof(struct one_sam_args, order),
        (int64_t)offsetof(struct one_sam_args, noise),
        (int64_t)offsetof(struct one_sam_args, work),
        (int64_t)offsetof(struct one_sam_args, lr),
        (int64_t)offsetof(struct one_sam_args, rho),
        (int64_t)offsetof(struct one_sam_args, weight_decay),
        (int64_t)offsetof(struct one_sam_args, eps),
        (int64_t)offsetof(struct one_sam_args, smoothing),
        (int64_t)offsetof(struct one_sam_args, projection),
        (int64_t)offsetof(struct one_sam_args, activation),
        (int64_t)offsetof(struct one_sam_args, head),
        (int64_t)offsetof(struct one_sam_args, loss),
        (int64_t)offsetof(struct one_sam_args, threads),
    };
    const int64_t k = (int64_t)(sizeof v / sizeof v[0]);
    for (int64_t i = 0; i < k && i < cap; i++) out[i] = v[i];
    return k - 1;
}
