/* 1-SAM / SGD with batch size 1 on 2-MLP-Sim-BN: the kernel of
   sharpness.training.algorithms.SimBNEngine (the derivation is in that class's docstring; the
   build choices, shared with one_sam.c, in sharpness/training/kernels/one_sam.py).

   The network: z_ij = w_j . x'_i (w_j = (W1[j], b1[j]), x'_i = (x_i, 1)), H = relu(Z),
   s_j = sum_i H_ij^2 = n a_j^2 over the whole training set, f(x_i) = sum_j gamma_j W2[j] H_ij / a_j.
   The statistics couple the n points, so a step on one example k moves every w_j active at x_k by
       grad_{w_j} L_k = alpha_j x'_k + beta_j V_j,   V_j = sum_i H_ij x'_i = C_j w_j,
   with C_j = sum_{i: z_ij > 0} x'_i x'_i^T: V_j and s_j = w_j . V_j are a D x D matrix-vector
   product away, not the n x D x m forward and backward over all points a dense step costs.
   C_j depends only on neuron j's activation pattern over the training set; it is kept per
   neuron with a certified radius r_j around the point ref_j where the pattern was last computed:
   ||w - ref_j|| < r_j = min_i |z_ij(ref_j)| / ||x'_i|| (less a rounding guard) means no z_ij can
   have changed sign (Cauchy-Schwarz). Outside it the pattern is recomputed over all n points and
   C_j rebuilt from scratch when it changed. C_j is always the sum over the pattern in increasing
   i and V_j = C_j w_j, so every quantity of a step is a function of the parameters alone, never
   of where the pattern was last checked: the bits do not depend on how the run is cut into calls.

   Compiled with -ffp-contract=off and without -ffast-math: the only fused multiply-adds are the
   explicit fma() calls, sums run in the fixed orders written here, and a run is bitwise
   reproducible. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim_bn.h"

static inline double sigmoid(double z) {
    if (z >= 0) return 1.0 / (1.0 + exp(-z));
    double e = exp(z); return e / (1.0 + e);
}
static inline double dloss(int loss, double f, double y, double smooth) {
    if (loss == 0) return 2.0 * (f - y);
    return y * (sigmoid(y * f) - (1.0 - smooth));
}

/* sum_b a[b] c[b] over DP entries: 8 lanes (lane l takes b = l mod 8 in increasing b), then the
   lanes added pairwise; a fixed order the compiler maps to one vector register. */
static inline double dotp(const double *restrict a, const double *restrict c, int64_t dp) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t b = 0; b < dp; b += 8)
        for (int l = 0; l < 8; l++) acc[l] = fma(a[b + l], c[b + l], acc[l]);
    for (int w = 4; w > 0; w /= 2)
        for (int l = 0; l < w; l++) acc[l] += acc[l + w];
    return acc[0];
}

/* out = C w (C symmetric, DP x DP, rows c < D used; DP a multiple of 32):
   out[b] = sum_c w[c] C[c][b] in increasing c, 32 entries b at a time. With AVX-512 the 32 sums
   are four registers (intrinsics: GCC keeps a local array in memory between the terms, a
   store-to-load chain that made this 5x slower); the portable path does the same operations
   (a correctly rounded fma per term, in the same order), so both give the same bits. */
#if defined(__AVX512F__)
#include <immintrin.h>
static inline void matvec(const double *restrict C, const double *restrict w,
                          double *restrict out, int64_t D, int64_t dp) {
    for (int64_t b0 = 0; b0 < dp; b0 += 32) {
        __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
        __m512d a2 = _mm512_setzero_pd(), a3 = _mm512_setzero_pd();
        for (int64_t c = 0; c < D; c++) {
            const __m512d wc = _mm512_set1_pd(w[c]);
            const double *row = C + c * dp + b0;
            a0 = _mm512_fmadd_pd(wc, _mm512_loadu_pd(row), a0);
            a1 = _mm512_fmadd_pd(wc, _mm512_loadu_pd(row + 8), a1);
            a2 = _mm512_fmadd_pd(wc, _mm512_loadu_pd(row + 16), a2);
            a3 = _mm512_fmadd_pd(wc, _mm512_loadu_pd(row + 24), a3);
        }
        _mm512_storeu_pd(out + b0, a0);
        _mm512_storeu_pd(out + b0 + 8, a1);
        _mm512_storeu_pd(out + b0 + 16, a2);
        _mm512_storeu_pd(out + b0 + 24, a3);
    }
}
/* the same with C stored as int8 (exact integers, see update_c): a quarter of the bytes, so the
   m matrices stay in L2; each entry is converted to double before its fma (same bits) */
static inline __m512d load8(const int8_t *p) {
    return _mm512_cvtepi32_pd(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}
static inline void matvec8(const int8_t *restrict C, const double *restrict w,
                           double *restrict out, int64_t D, int64_t dp) {
    for (int64_t b0 = 0; b0 < dp; b0 += 32) {
        __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
        __m512d a2 = _mm512_setzero_pd(), a3 = _mm512_setzero_pd();
        for (int64_t c = 0; c < D; c++) {
            const __m512d wc = _mm512_set1_pd(w[c]);
            const int8_t *row = C + c * dp + b0;
            a0 = _mm512_fmadd_pd(wc, load8(row), a0);
            a1 = _mm512_fmadd_pd(wc, load8(row + 8), a1);
            a2 = _mm512_fmadd_pd(wc, load8(row + 16), a2);
            a3 = _mm512_fmadd_pd(wc, load8(row + 24), a3);
        }
        _mm512_storeu_pd(out + b0, a0);
        _mm512_storeu_pd(out + b0 + 8, a1);
        _mm512_storeu_pd(out + b0 + 16, a2);
        _mm512_storeu_pd(out + b0 + 24, a3);
    }
}
#else
static inline void matvec(const double *restrict C, const double *restrict w,
                          double *restrict out, int64_t D, int64_t dp) {
    for (int64_t b0 = 0; b0 < dp; b0 += 32) {
        double acc[32];
        for (int l = 0; l < 32; l++) acc[l] = 0.0;
        for (int64_t c = 0; c < D; c++) {
            const double wc = w[c];
            const double *restrict row = C + c * dp + b0;
            for (int l = 0; l < 32; l++) acc[l] = fma(wc, row[l], acc[l]);
        }
        for (int l = 0; l < 32; l++) out[b0 + l] = acc[l];
    }
}
static inline void matvec8(const int8_t *restrict C, const double *restrict w,
                           double *restrict out, int64_t D, int64_t dp) {
    for (int64_t b0 = 0; b0 < dp; b0 += 32) {
        double acc[32];
        for (int l = 0; l < 32; l++) acc[l] = 0.0;
        for (int64_t c = 0; c < D; c++) {
            const double wc = w[c];
            const int8_t *restrict row = C + c * dp + b0;
            for (int l = 0; l < 32; l++) acc[l] = fma(wc, (double)row[l], acc[l]);
        }
        for (int l = 0; l < 32; l++) out[b0 + l] = acc[l];
    }
}
#endif

/* C = sum_{i: p[i]} x'_i x'_i^T, in increasing i */
static void build_c(const double *X, const uint8_t *p, double *C, int64_t n, int64_t D, int64_t dp) {
    memset(C, 0, sizeof(double) * (size_t)(dp * dp));
    for (int64_t i = 0; i < n; i++) {
        if (!p[i]) continue;
        const double *x = X + i * dp;
        for (int64_t c = 0; c < D; c++) {
            const double xc = x[c];
            double *restrict row = C + c * dp;
            for (int64_t b = 0; b < dp; b++) row[b] = fma(xc, x[b], row[b]);
        }
    }
}

/* C += (sign) x'_i x'_i^T for every i where the patterns p (new) and q (old) differ. Only used
   when every entry of every C is an integer below 2^53 (integer-valued inputs, checked in
   Python): then each update is exact, and C equals the from-scratch sum bit for bit. */
static void update_c(const double *X, const uint8_t *p, const uint8_t *q, double *C, int64_t n,
                     int64_t D, int64_t dp) {
    for (int64_t i = 0; i < n; i++) {
        if (p[i] == q[i]) continue;
        const double sg = p[i] ? 1.0 : -1.0;
        const double *x = X + i * dp;
        for (int64_t c = 0; c < D; c++) {
            const double xc = sg * x[c];
            double *restrict row = C + c * dp;
            for (int64_t b = 0; b < dp; b++) row[b] = fma(xc, x[b], row[b]);
        }
    }
}

/* The pattern of w over all n points (p[i] = z_i > 0) and its certified radius (see the top).
   z = X' w is summed over the coordinates c in increasing order for all points at once (XT is
   X' transposed, D x n: the loop over the points vectorizes, no horizontal sums). */
static double pattern(const double *XT, const double *ixn, const double *w, uint8_t *p,
                      double *z, float *mg, int64_t n, int64_t D, int64_t dp) {
    double wn2 = 0.0;
    for (int64_t c = 0; c < D; c++) wn2 = fma(w[c], w[c], wn2);
    /* a sum of D products is within D * 2^-53 * ||w|| ||x'|| of the exact one (Cauchy-Schwarz);
       the guard 1e-10 ||w|| ||x'|| covers it with room (D <= 4096 checked in Python) */
    const double g = 1e-10 * sqrt(wn2);
    (void)dp;
    for (int64_t i = 0; i < n; i++) z[i] = 0.0;
    for (int64_t c = 0; c < D; c++) {
        const double wc = w[c];
        const double *restrict xc = XT + c * n;
        for (int64_t i = 0; i < n; i++) z[i] = fma(wc, xc[i], z[i]);
    }
    double r = INFINITY;
    for (int64_t i = 0; i < n; i++) {
        p[i] = z[i] > 0;
        /* margin over ||x'_i||, less the guard; 0 where |z_i| is within the guard */
        const double ri = ixn[i] > 0 ? fabs(z[i]) * ixn[i] - g : INFINITY;
        r = ri < r ? ri : r;
        /* float, below the double margin: (1 - 1e-6) exceeds float's relative rounding */
        if (mg) mg[i] = ri > 0 ? (float)(ri * (1.0 - 1e-6)) : -1.0f;
    }
    return n && r > 0 ? r : 0.0;
}

struct run_state {
    double *C, *V, *ref, *r, *s, *zk, *G, *Wt, *Vt, *st, *zt, *gW2, *gG, *Ct;
    double *gamt, *W2t, *xn, *zb, *XT, *ia, *iat; /* ia = 1 / a_j */
    uint8_t *pat, *pt;
    int64_t *cnt;
    int exact;   /* integer inputs: C_j updated by exact rank-one terms */
    int small;   /* ... and n max|x'|^2 <= 127: C_j stored as int8 (C8, Ct8) */
    int8_t *C8, *Ct8;
    int8_t *O8;  /* small: x'_i x'_i^T as int8, (n, DP, DP) */
    float *mg;   /* (m, n): point i's margin |z_ij(ref_j)| / ||x'_i|| - guard, rounded down */
};

/* C_j (or the trial matrix Ct) in its storage: int8 when S->small, else double */
static inline void c_matvec(const struct run_state *S, int64_t j, int trial, const double *w,
                            double *out, int64_t D, int64_t dp) {
    const int64_t q = dp * dp;
    if (S->small) matvec8(trial ? S->Ct8 : S->C8 + j * q, w, out, D, dp);
    else matvec(trial ? S->Ct : S->C + j * q, w, out, D, dp);
}
static void c_build(struct run_state *S, int64_t j, int trial, const double *X, const uint8_t *p,
                    int64_t n, int64_t D, int64_t dp) {
    const int64_t q = dp * dp;
    if (!S->small) { build_c(X, p, trial ? S->Ct : S->C + j * q, n, D, dp); return; }
    build_c(X, p, S->Ct, n, D, dp); /* exact integers, then narrowed (|entries| <= 127) */
    int8_t *dst = trial ? S->Ct8 : S->C8 + j * q;
    for (int64_t e = 0; e < q; e++) dst[e] = (int8_t)S->Ct[e];
}
/* trial: Ct = C_j updated from pattern q to p; else C_j itself updated */
static void c_update(struct run_state *S, int64_t j, int trial, const double *X, const uint8_t *p,
                     const uint8_t *qp, int64_t n, int64_t D, int64_t dp) {
    const int64_t q = dp * dp;
    if (!S->small) {
        double *dst = trial ? S->Ct : S->C + j * q;
        if (trial) memcpy(dst, S->C + j * q, sizeof(double) * (size_t)q);
        update_c(X, p, qp, dst, n, D, dp);
        return;
    }
    int8_t *dst = trial ? S->Ct8 : S->C8 + j * q;
    if (trial) memcpy(dst, S->C8 + j * q, (size_t)q);
    (void)X;
    /* every intermediate matrix is the sum over a subset of the n <= 127 points: no overflow */
    for (int64_t i = 0; i < n; i++) {
        if (p[i] == qp[i]) continue;
        const int8_t *restrict o = S->O8 + i * q;
        if (p[i])
            for (int64_t e = 0; e < q; e++) dst[e] = (int8_t)(dst[e] + o[e]);
        else
            for (int64_t e = 0; e < q; e++) dst[e] = (int8_t)(dst[e] - o[e]);
    }
}

/* Ask for the next moved neuron's matrix while this one is being worked on: the int8 matrices
   of all neurons live in L2, and a step touches those of the neurons active at x_k in order,
   which the hardware prefetcher does not follow. No effect on any value. */
static inline void prefetch_next(const struct run_state *S, int64_t j, int64_t m, int64_t dp) {
    for (int64_t nx = j + 1; nx < m && nx <= j + 4; nx++) {
        if (!(S->zk[nx] > 0 && S->s[nx] > 0)) continue;
        const char *p = S->small ? (const char *)(S->C8 + nx * dp * dp)
                                 : (const char *)(S->C + nx * dp * dp);
        const int64_t bytes = (S->small ? 1 : 8) * dp * dp;
        for (int64_t o = 0; o < bytes; o += 64) __builtin_prefetch(p + o, 0, 3);
        return;
    }
}

static double sq_dist(const double *a, const double *b, int64_t dp) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t c = 0; c < dp; c += 8)
        for (int l = 0; l < 8; l++) {
            const double e = a[c + l] - b[c + l];
            acc[l] = fma(e, e, acc[l]);
        }
    for (int w = 4; w > 0; w /= 2)
        for (int l = 0; l < w; l++) acc[l] += acc[l + w];
    return acc[0];
}

/* The pattern at w of neuron j into S->pt, from its stored pattern: a point whose margin at
   ref_j exceeds ||w - ref_j|| cannot have changed sign (Cauchy-Schwarz); the others ("near")
   are recomputed exactly as pattern() computes them (the same fma chain, so the same bits).
   Returns the number of near points, or -1 without filling S->pt when more than n/8 are near
   (then a full pass is cheaper). */
static int64_t pattern_near(struct run_state *S, int64_t j, const double *w, int64_t n,
                            int64_t D, int64_t dp) {
    const double dist = sqrt(sq_dist(w, S->ref + j * dp, dp));
    const float *mg = S->mg + j * n;
    const uint8_t *pj = S->pat + j * n;
    int64_t near = 0;
    for (int64_t i = 0; i < n; i++) near += !((double)mg[i] > dist);
    if (near * 8 > n) return -1;
    memcpy(S->pt, pj, (size_t)n);
    for (int64_t i = 0; i < n; i++) {
        if ((double)mg[i] > dist) continue;
        double z = 0.0;
        for (int64_t c = 0; c < D; c++) z = fma(w[c], S->XT[c * n + i], z);
        S->pt[i] = z > 0;
    }
    return near;
}

/* V = C_{pattern(w)} w for neuron j at a trial point w; the state is not changed. */
static void v_at(struct run_state *S, int64_t j, const double *w, double *Vout, const double *X,
                 const double *xn, int64_t n, int64_t D, int64_t dp) {
    const double *ref = S->ref + j * dp;
    const double rj = S->r[j];
    if (sq_dist(w, ref, dp) < rj * rj) {
        S->cnt[0]++;
        c_matvec(S, j, 0, w, Vout, D, dp);
        return;
    }
    S->cnt[1]++;
    if (pattern_near(S, j, w, n, D, dp) < 0) pattern(S->XT, xn, w, S->pt, S->zb, NULL, n, D, dp);
    if (memcmp(S->pt, S->pat + j * n, (size_t)n) == 0) {
        c_matvec(S, j, 0, w, Vout, D, dp);
    } else {
        S->cnt[2]++;
        if (S->exact) c_update(S, j, 1, X, S->pt, S->pat + j * n, n, D, dp);
        else c_build(S, j, 1, X, S->pt, n, D, dp);
        c_matvec(S, j, 1, w, Vout, D, dp);
    }
}

/* V_j and s_j at neuron j's current row; re-certify (and rebuild C_j) when it left its radius. */
static void settle(struct run_state *S, int64_t j, const double *w, const double *X,
                   const double *xn, int64_t n, int64_t D, int64_t dp, int force) {
    double *ref = S->ref + j * dp;
    const double rj = S->r[j];
    uint8_t *pj = S->pat + j * n;
    if (!force && sq_dist(w, ref, dp) < rj * rj) {
        S->cnt[0]++;
    } else {
        if (!force) S->cnt[1]++;
        const int full = force || pattern_near(S, j, w, n, D, dp) < 0;
        if (full) S->r[j] = pattern(S->XT, xn, w, S->pt, S->zb, S->mg + j * n, n, D, dp);
        if (force || memcmp(S->pt, pj, (size_t)n) != 0) {
            if (!force) S->cnt[2]++;
            if (!full) {
                /* the stored pattern now differs from the one at ref_j: the flipped points are
                   always rechecked (w may move back within their margin), and the whole-neuron
                   radius, which asserts "the pattern of ref_j", is off until the next full pass */
                float *mg = S->mg + j * n;
                for (int64_t i = 0; i < n; i++)
                    if (S->pt[i] != pj[i]) mg[i] = -1.0f;
                S->r[j] = 0.0;
            }
            if (S->exact && !force) {
                c_update(S, j, 0, X, S->pt, pj, n, D, dp);
            } else {
                S->cnt[3]++;
                c_build(S, j, 0, X, S->pt, n, D, dp);
            }
            memcpy(pj, S->pt, (size_t)n);
        }
        /* a full pass re-centres the certified region on w; a partial one keeps ref_j */
        if (full) memcpy(ref, w, sizeof(double) * (size_t)dp);
    }
    c_matvec(S, j, 0, w, S->V + j * dp, D, dp);
    S->s[j] = dotp(w, S->V + j * dp, dp);
}

/* Rescale every row by lam > 0 (weight decay, projection): the patterns and C_j do not change,
   ref_j and r_j scale with the rows; V_j = C_j w_j is recomputed (a function of w_j alone). */
static void scale_rows(struct run_state *S, double *W, double lam, int64_t m, int64_t D, int64_t dp) {
    for (int64_t j = 0; j < m; j++) {
        double *w = W + j * dp, *ref = S->ref + j * dp;
        for (int64_t b = 0; b < dp; b++) { w[b] *= lam; ref[b] *= lam; }
        S->r[j] *= lam;
        c_matvec(S, j, 0, w, S->V + j * dp, D, dp);
        S->s[j] = dotp(w, S->V + j * dp, dp);
    }
}

static void run_one(const struct sim_bn_args *a, int64_t rr, struct run_state *S) {
    const int64_t m = a->width, D = a->dim, dp = a->dp, n = a->n, T = a->steps;
    double *W = (double *)a->W + rr * m * dp;
    double *W2 = (double *)a->W2 + rr * m;
    double *gam = (double *)a->gamma + rr * m;
    const double *X = (const double *)a->X + rr * n * dp;
    const double *y = (const double *)a->y + rr * n;
    const int32_t *order = a->order + rr * T;
    const double *noise = a->noise ? (const double *)a->noise + rr * T : NULL;
    const double lr = a->lr, rho = a->rho, smooth = a->smoothing, proj = a->projection;
    const double decay = 1.0 - a->lr * a->weight_decay;
    const double nn = (double)n;
    const int loss = a->loss;
    double *xn = S->xn; /* 1 / ||x'_i|| (0 for a zero point, whose z is always 0) */
    for (int64_t i = 0; i < n; i++) {
        const double nr = sqrt(dotp(X + i * dp, X + i * dp, dp));
        xn[i] = nr > 0 ? 1.0 / nr : 0.0;
        for (int64_t c = 0; c < D; c++) S->XT[c * n + i] = X[i * dp + c];
        if (S->small) /* x'_i x'_i^T: entries in {-1, 0, 1} times at most 127, exact */
            for (int64_t c = 0; c < D; c++)
                for (int64_t b = 0; b < D; b++)
                    S->O8[(i * dp + c) * dp + b] = (int8_t)(X[i * dp + c] * X[i * dp + b]);
    }

    for (int64_t j = 0; j < m; j++) settle(S, j, W + j * dp, X, xn, n, D, dp, 1);

    for (int64_t t = 0; t < T; t++) {
        const int64_t k = order[t];
        const double *xk = X + k * dp;
        const double yk = noise ? y[k] + noise[t] : y[k];
        /* forward at theta: only neurons alive (s_j > 0) and active at x_k contribute */
        double f = 0.0;
        for (int64_t j = 0; j < m; j++) {
            const double z = dotp(W + j * dp, xk, dp);
            S->zk[j] = z;
            if (z > 0 && S->s[j] > 0) {
                S->ia[j] = 1.0 / sqrt(S->s[j] / nn);
                f += z * (gam[j] * S->ia[j]) * W2[j];
            }
        }
        double g = dloss(loss, f, yk, smooth);
        /* the gradient of every active neuron: G_j = alpha_j x'_k + beta_j V_j */
        double sq = 0.0;
        for (int64_t j = 0; j < m; j++) {
            double *Gj = S->G + j * dp;
            const double z = S->zk[j];
            if (!(z > 0 && S->s[j] > 0)) { S->gW2[j] = 0; S->gG[j] = 0; continue; }
            const double ia = S->ia[j];
            const double ca = gam[j] * W2[j] * ia;
            const double al = g * ca, be = -g * ca * z / (S->s[j]);
            const double *Vj = S->V + j * dp;
            for (int64_t b = 0; b < dp; b++) Gj[b] = al * xk[b] + be * Vj[b];
            S->gW2[j] = g * gam[j] * z * ia;
            S->gG[j] = g * W2[j] * z * ia;
            sq += dotp(Gj, Gj, dp) + S->gW2[j] * S->gW2[j] + S->gG[j] * S->gG[j];
        }
        if (rho > 0) {
            const double norm = sqrt(sq);
            const double eps = norm > 0 ? rho / norm : 0.0;
            /* the perturbed point theta + eps grad: only the active neurons move */
            double ft = 0.0;
            for (int64_t j = 0; j < m; j++) {
                const double z = S->zk[j];
                if (!(z > 0 && S->s[j] > 0)) continue;
                prefetch_next(S, j, m, dp);
                double *wt = S->Wt + j * dp, *Vt = S->Vt + j * dp;
                const double *w = W + j * dp, *Gj = S->G + j * dp;
                for (int64_t b = 0; b < dp; b++) wt[b] = w[b] + eps * Gj[b];
                S->gamt[j] = gam[j] + eps * S->gG[j];
                S->W2t[j] = W2[j] + eps * S->gW2[j];
                v_at(S, j, wt, Vt, X, xn, n, D, dp);
                S->st[j] = dotp(wt, Vt, dp);
                const double zt = dotp(wt, xk, dp);
                S->zt[j] = zt;
                if (zt > 0 && S->st[j] > 0) {
                    S->iat[j] = 1.0 / sqrt(S->st[j] / nn);
                    ft += zt * (S->gamt[j] * S->iat[j]) * S->W2t[j];
                }
            }
            g = dloss(loss, ft, yk, smooth);
            for (int64_t j = 0; j < m; j++) {
                double *Gj = S->G + j * dp;
                if (!(S->zk[j] > 0 && S->s[j] > 0)) continue;
                const double z = S->zt[j];
                if (!(z > 0 && S->st[j] > 0)) {
                    memset(Gj, 0, sizeof(double) * (size_t)dp);
                    S->gW2[j] = 0; S->gG[j] = 0;
                    continue;
                }
                const double ia = S->iat[j];
                const double ca = S->gamt[j] * S->W2t[j] * ia;
                const double al = g * ca, be = -g * ca * z / (S->st[j]);
                const double *Vt = S->Vt + j * dp;
                for (int64_t b = 0; b < dp; b++) Gj[b] = al * xk[b] + be * Vt[b];
                S->gW2[j] = g * S->gamt[j] * z * ia;
                S->gG[j] = g * S->W2t[j] * z * ia;
            }
        }
        /* the step: theta <- (1 - lr lambda) theta - lr grad, as the torch engine writes it */
        const int rescale = decay != 1.0;
        for (int64_t j = 0; j < m; j++) {
            if (rescale) { W2[j] *= decay; gam[j] *= decay; }
            if (!(S->zk[j] > 0 && S->s[j] > 0)) continue;
            W2[j] -= lr * S->gW2[j];
            gam[j] -= lr * S->gG[j];
        }
        if (rescale) {
            for (int64_t j = 0; j < m; j++) {
                double *w = W + j * dp, *ref = S->ref + j * dp;
                for (int64_t b = 0; b < dp; b++) { w[b] *= decay; ref[b] *= decay; }
                S->r[j] *= decay;
            }
        }
        for (int64_t j = 0; j < m; j++) {
            if (!(S->zk[j] > 0 && S->s[j] > 0)) {
                if (rescale) {
                    c_matvec(S, j, 0, W + j * dp, S->V + j * dp, D, dp);
                    S->s[j] = dotp(W + j * dp, S->V + j * dp, dp);
                }
                continue;
            }
            prefetch_next(S, j, m, dp);
            double *w = W + j * dp;
            const double *Gj = S->G + j * dp;
            for (int64_t b = 0; b < dp; b++) w[b] -= lr * Gj[b];
            settle(S, j, w, X, xn, n, D, dp, 0);
        }
        if (proj > 0) {
            double tot = 0.0;
            for (int64_t j = 0; j < m; j++) tot += dotp(W + j * dp, W + j * dp, dp);
            tot = sqrt(tot);
            if (tot > 0) scale_rows(S, W, proj / tot, m, D, dp);
        }
    }
}

#define NBUF 21

int sim_bn_f64(const struct sim_bn_args *a) {
    const int64_t R = a->runs, m = a->width, dp = a->dp, n = a->n;
    struct run_state *S = calloc((size_t)(R > 0 ? R : 1), sizeof(struct run_state));
    if (!S) return -1;
    int ok = 1;
    for (int64_t rr = 0; rr < R && ok; rr++) {
        struct run_state *s = S + rr;
        double **bufs[NBUF] = {&s->V, &s->ref, &s->r, &s->s, &s->zk, &s->G, &s->Wt, &s->Vt,
                               &s->st, &s->zt, &s->gW2, &s->gG, &s->gamt, &s->W2t, &s->C, &s->Ct,
                               &s->xn, &s->zb, &s->XT, &s->ia, &s->iat};
        const int small = a->exact_updates == 2;
        const size_t sizes[NBUF] = {m * dp, m * dp, m, m, m, m * dp, m * dp, m * dp,
                                    m, m, m, m, m, m, small ? 1 : m * dp * dp, dp * dp, n, n,
                                    dp * n, m, m};
        for (int b = 0; b < NBUF && ok; b++) {
            *bufs[b] = calloc(sizes[b] ? sizes[b] : 1, sizeof(double));
            ok = *bufs[b] != NULL;
        }
        s->small = small;
        s->C8 = ok && small ? calloc((size_t)(m * dp * dp), 1) : NULL;
        s->Ct8 = ok && small ? calloc((size_t)(dp * dp), 1) : NULL;
        s->O8 = ok && small ? calloc((size_t)(n * dp * dp + 1), 1) : NULL;
        ok = ok && (!small || (s->C8 && s->Ct8 && s->O8));
        s->mg = ok ? calloc((size_t)(m * n + 1), sizeof(float)) : NULL;
        ok = ok && s->mg;
        s->pat = ok ? calloc((size_t)(m * n + 1), 1) : NULL;
        s->pt = ok ? calloc((size_t)(n + 1), 1) : NULL;
        ok = ok && s->pat && s->pt;
        s->cnt = a->counters + 4 * rr;
        s->exact = a->exact_updates != 0;
    }
    if (ok) {
        #pragma omp parallel for schedule(dynamic, 1) num_threads(a->threads > 0 ? a->threads : 1)
        for (int64_t rr = 0; rr < R; rr++) run_one(a, rr, S + rr);
    }
    for (int64_t rr = 0; rr < R; rr++) {
        struct run_state *s = S + rr;
        double *all[NBUF] = {s->V, s->ref, s->r, s->s, s->zk, s->G, s->Wt, s->Vt,
                             s->st, s->zt, s->gW2, s->gG, s->gamt, s->W2t, s->C, s->Ct, s->xn, s->zb, s->XT,
                             s->ia, s->iat};
        for (int b = 0; b < NBUF; b++) free(all[b]);
        free(s->pat);
        free(s->pt);
        free(s->C8);
        free(s->Ct8);
        free(s->O8);
        free(s->mg);
    }
    free(S);
    return ok ? 0 : -1;
}

int64_t sim_bn_args_layout(int64_t *out, int64_t cap) {
    const int64_t v[] = {
        (int64_t)sizeof(struct sim_bn_args),
        (int64_t)offsetof(struct sim_bn_args, runs),
        (int64_t)offsetof(struct sim_bn_args, width),
        (int64_t)offsetof(struct sim_bn_args, dim),
        (int64_t)offsetof(struct sim_bn_args, dp),
        (int64_t)offsetof(struct sim_bn_args, n),
        (int64_t)offsetof(struct sim_bn_args, steps),
        (int64_t)offsetof(struct sim_bn_args, W),
        (int64_t)offsetof(struct sim_bn_args, W2),
        (int64_t)offsetof(struct sim_bn_args, gamma),
        (int64_t)offsetof(struct sim_bn_args, X),
        (int64_t)offsetof(struct sim_bn_args, y),
        (int64_t)offsetof(struct sim_bn_args, order),
        (int64_t)offsetof(struct sim_bn_args, noise),
        (int64_t)offsetof(struct sim_bn_args, counters),
        (int64_t)offsetof(struct sim_bn_args, lr),
        (int64_t)offsetof(struct sim_bn_args, rho),
        (int64_t)offsetof(struct sim_bn_args, weight_decay),
        (int64_t)offsetof(struct sim_bn_args, smoothing),
        (int64_t)offsetof(struct sim_bn_args, projection),
        (int64_t)offsetof(struct sim_bn_args, loss),
        (int64_t)offsetof(struct sim_bn_args, exact_updates),
        (int64_t)offsetof(struct sim_bn_args, threads),
    };
    const int64_t k = (int64_t)(sizeof v / sizeof v[0]);
    for (int64_t i = 0; i < k && i < cap; i++) out[i] = v[i];
    return k - 1;
}
