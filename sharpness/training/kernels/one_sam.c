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
#define EXP exp
#define LOG1P log1p
#define SQRT sqrt
#define FMA fma
#elif REAL_BITS == 32
#define REAL float
#define ENTRY one_sam_f32
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
    REAL f = 0;
    for (int64_t j = 0; j < m; j++) f += W2[j] * h[j];
    if (head == 1) {
        REAL q = 0;
        for (int64_t j = 0; j < m; j++) q += h[j] * h[j];
        REAL nrm = SQRT(q), den = nrm > eps ? nrm : eps;
        *den_out = den; *nrm_out = nrm;
        f = f / den;
    }
    return f;
}

/* gradient pieces: gw2 = dL/dW2, dz = dL/dz, given g = dl/df; returns ||gw2||^2 + ||dz||^2 xx */
static REAL backward(int64_t m, REAL g, const REAL *W2, const REAL *h, const REAL *s, int head,
                     REAL eps, REAL den, REAL nrm, REAL f, REAL xx, REAL *gw2, REAL *dz) {
    REAL a = 0, b = 0;
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
    for (int64_t j = 0; j < m; j++) { a += gw2[j] * gw2[j]; b += dz[j] * dz[j]; }
    return a + b * xx;
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
        REAL xx = b1 ? 1 : 0;
        for (int64_t i = 0; i < d; i++) xx += x[i] * x[i];
        REAL den = 1, nrm = 0;
        REAL f = forward(m, z, W2, h, s, act, head, eps, &den, &nrm);
        REAL g = dloss(loss, f, yk, smooth);
        REAL gn2 = backward(m, g, W2, h, s, head, eps, den, nrm, f, xx, gw2, dz);
        if (rho > 0 && gn2 > 0) {
            const REAL c = rho / SQRT(gn2);
            for (int64_t j = 0; j < m; j++) {
                W2p[j] = W2[j] + c * gw2[j];
                zp[j] = z[j] + c * dz[j] * xx;
            }
            REAL denp = 1, nrmp = 0;
            REAL fp = forward(m, zp, W2p, hp, sp, act, head, eps, &denp, &nrmp);
            REAL gp = dloss(loss, fp, yk, smooth);
            backward(m, gp, W2p, hp, sp, head, eps, denp, nrmp, fp, xx, gw2, dz);
        }
        for (int64_t j = 0; j < m; j++) W2[j] = decay * W2[j] - lr * gw2[j];
        if (b1) for (int64_t j = 0; j < m; j++) b1[j] = decay * b1[j] - lr * dz[j];
        for (int64_t j = 0; j < m; j++) dz[j] = lr * dz[j];
        const int fuse = (proj <= 0) && (t + 1 < T);
        const REAL *xn = fuse ? X + (int64_t)order[t + 1] * d : x;
        if (fuse) for (int64_t j = 0; j < m; j++) z[j] = 0;
        for (int64_t i = 0; i < d; i++) {
            const REAL xi = x[i], xni = xn[i]; REAL *row = W1T + i * m;
            /* one sweep over the row: update it and accumulate the next pre-activation */
            if (fuse && decay != (REAL)1) {
                for (int64_t j = 0; j < m; j++) {
                    const REAL w = decay * row[j] - dz[j] * xi; row[j] = w; z[j] = FMA(xni, w, z[j]);
                }
            } else if (fuse) {
                for (int64_t j = 0; j < m; j++) {
                    const REAL w = row[j] - dz[j] * xi; row[j] = w; z[j] = FMA(xni, w, z[j]);
                }
            } else if (decay != (REAL)1) {
                for (int64_t j = 0; j < m; j++) row[j] = decay * row[j] - dz[j] * xi;
            } else {
                for (int64_t j = 0; j < m; j++) row[j] = row[j] - dz[j] * xi;
            }
        }
        if (fuse) {
            if (b1) for (int64_t j = 0; j < m; j++) z[j] += b1[j];
        } else if (proj > 0) {
            REAL q = 0;
            for (int64_t k = 0; k < m * d; k++) q += W1T[k] * W1T[k];
            if (b1) for (int64_t j = 0; j < m; j++) q += b1[j] * b1[j];
            const REAL sc = proj / SQRT(q);
            for (int64_t k = 0; k < m * d; k++) W1T[k] *= sc;
            if (b1) for (int64_t j = 0; j < m; j++) b1[j] *= sc;
            if (t + 1 < T) matvec(m, d, W1T, b1, X + (int64_t)order[t + 1] * d, z);
        }
    }
}

void ENTRY(const struct one_sam_args *a) {
    #pragma omp parallel for num_threads(a->threads) schedule(static, 1)
    for (int64_t r = 0; r < a->runs; r++) run_one(a, r);
}

int64_t one_sam_args_layout(int64_t *out, int64_t cap) {
    const int64_t v[] = {
        (int64_t)sizeof(struct one_sam_args),
        (int64_t)offsetof(struct one_sam_args, runs),
        (int64_t)offsetof(struct one_sam_args, width),
        (int64_t)offsetof(struct one_sam_args, dim),
        (int64_t)offsetof(struct one_sam_args, n),
        (int64_t)offsetof(struct one_sam_args, steps),
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
