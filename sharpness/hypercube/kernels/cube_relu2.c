/* Exact-enumeration kernel of {-1,1}^d for 2-layer ReLU outputs f(x) = sum_k w_k relu(z_k(x))
   (2-MLP-Bias/No-Bias, and Sim-BN with w_k = c_k): the inner loop of
   sharpness.hypercube.enumeration.CubeEnumerator (derivation and rounding bound there and in
   sharpness/hypercube/kernels/cube_relu2.py).

   A point is a pair (row r, low index l): z_k = AT[k][l] + b_k(r), where the row part
   b_k(r) = (C0[node][k] + T1[h1][k]) + T2[h2][k] is computed once per row. Per neuron and point
   the kernel does two vector operations, using max(a + b, 0) = max(a, -b) + b (exact in reals):

       s(r, l) = c(r) + sum_k w_k max(AT[k][l], -b_k(r)),   c(r) = sum_k w_k b_k(r),

   an inner product of 2m terms whose value is bounded uniformly (any order) by the caller.
   Outputs: per-row sums of (s - y)^2 (each row summed in a fixed order, so the result does not
   depend on the thread count), the count of points with y s < -E (sure mistakes), the count of
   points with |s| <= E whose every neuron satisfies fl(z_k) + E1_k <= 0 (f = 0 exactly: a
   mistake), and the indices r * L + l of the other points with |s| <= E (decided exactly by the
   caller; at most `capacity` are written, all are counted).

   Compiled with -ffp-contract=off and without -ffast-math (no reassociation); OpenMP if the
   compiler has it: one parallel region per call, rows split between `threads` threads. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#if REAL_BITS == 64
#define REAL double
#define ENTRY cube_relu2_f64
#define PEAK cube_peak_f64
#define BLOCK cube_block_f64
#define FMA fma
#elif REAL_BITS == 32
#define REAL float
#define ENTRY cube_relu2_f32
#define PEAK cube_peak_f32
#define BLOCK cube_block_f32
#define FMA fmaf
#else
#error "compile with -DREAL_BITS=64 (double) or -DREAL_BITS=32 (float)"
#endif

/* register blocking: ROWS rows x LANES_BLOCK points per pass over the m neurons */
#define ROWS 4
#define GROUP 16 /* rows per group: the low-table strip is reused from L1 by GROUP rows */
#define MAXW 4096 /* most neurons (the caller checks; a bound on the row buffers) */

#if defined(__AVX512F__)
#if REAL_BITS == 64
typedef __m512d VEC;
typedef __mmask8 MASK;
#define VW 8
#define V_LOAD _mm512_loadu_pd
#define V_STORE _mm512_storeu_pd
#define V_SET1 _mm512_set1_pd
#define V_MAX _mm512_max_pd
#define V_FMA _mm512_fmadd_pd
#define V_SUB _mm512_sub_pd
#define V_ADD _mm512_add_pd
#define V_MUL _mm512_mul_pd
#define V_ABS _mm512_abs_pd
#define V_CMP _mm512_cmp_pd_mask
#define POPCNT(x) __builtin_popcount((unsigned)(x))
#else
typedef __m512 VEC;
typedef __mmask16 MASK;
#define VW 16
#define V_LOAD _mm512_loadu_ps
#define V_STORE _mm512_storeu_ps
#define V_SET1 _mm512_set1_ps
#define V_MAX _mm512_max_ps
#define V_FMA _mm512_fmadd_ps
#define V_SUB _mm512_sub_ps
#define V_ADD _mm512_add_ps
#define V_MUL _mm512_mul_ps
#define V_ABS _mm512_abs_ps
#define V_CMP _mm512_cmp_ps_mask
#define POPCNT(x) __builtin_popcount((unsigned)(x))
#endif
#define NV 4 /* vectors per row in a block */
#define BLK (NV * VW)
#else
#define BLK 32 /* points per block of the portable path */
#endif

typedef struct {
    int64_t wrong, dead;
} counts_t;

/* a flagged point (|s| <= E): exactly zero (every neuron certainly off) or recorded */
static void flag_point(int64_t m, const REAL *AT, int64_t L, int64_t l, const REAL *nb,
                       const REAL *E1, int64_t r, int64_t *flags, int64_t capacity,
                       int64_t *nflag, counts_t *cnt) {
    int off = 1;
    for (int64_t k = 0; k < m && off; k++) {
        REAL z = AT[k * L + l] - nb[k]; /* fl(a + b): b = -nb exactly */
        off = z + E1[k] <= 0;
    }
    if (off) {
        cnt->dead++;
        return;
    }
    int64_t idx;
#pragma omp atomic capture
    idx = (*nflag)++;
    if (idx < capacity) flags[idx] = r * L + l;
}

/* one point, scalar, in the kernel's order: s = c + sum_k w_k max(a_k, -b_k) */
static inline REAL point_value(int64_t m, const REAL *AT, int64_t L, int64_t l, const REAL *nb,
                               const REAL *w, REAL c) {
    REAL s = c;
    for (int64_t k = 0; k < m; k++) {
        REAL a = AT[k * L + l], v = a > nb[k] ? a : nb[k];
        s = FMA(w[k], v, s);
    }
    return s;
}

static inline void tally_scalar(REAL s, REAL y, REAL E, int64_t m, const REAL *AT, int64_t L,
                                int64_t l, const REAL *nb, const REAL *E1, int64_t r,
                                int64_t *flags, int64_t capacity, int64_t *nflag, counts_t *cnt,
                                REAL *sse) {
    REAL ys = y * s, e = s - y;
    *sse += e * e;
    if (ys < -E) cnt->wrong++;
    else if (!(ys > E)) flag_point(m, AT, L, l, nb, E1, r, flags, capacity, nflag, cnt);
}

#if defined(__AVX512F__)
/* R rows (R <= ROWS) x BLK points starting at l0: accumulate, then tally vectorized */
static inline void block_avx512(int R, int64_t m, const REAL *AT, int64_t L, int64_t l0,
                                const REAL *P, const REAL *nb, const REAL *c, const REAL *yr, const REAL *w,
                                const REAL *yA, REAL E, const REAL *E1, const int64_t *rid,
                                int64_t *flags, int64_t capacity, int64_t *nflag,
                                counts_t *cnt, VEC *sse) {
    VEC acc[ROWS][NV];
    for (int i = 0; i < ROWS; i++)
        for (int p = 0; p < NV; p++) acc[i][p] = V_SET1(i < R ? c[i] : 0);
    if (R == ROWS) {
        for (int64_t k = 0; k < m; k++) {
            const REAL *a = P + k * BLK;
            VEC wk = V_SET1(w[k]);
            VEC a0 = V_LOAD(a), a1 = V_LOAD(a + VW), a2 = V_LOAD(a + 2 * VW),
                a3 = V_LOAD(a + 3 * VW);
            for (int i = 0; i < ROWS; i++) {
                VEC b = V_SET1(nb[i * m + k]);
                acc[i][0] = V_FMA(wk, V_MAX(a0, b), acc[i][0]);
                acc[i][1] = V_FMA(wk, V_MAX(a1, b), acc[i][1]);
                acc[i][2] = V_FMA(wk, V_MAX(a2, b), acc[i][2]);
                acc[i][3] = V_FMA(wk, V_MAX(a3, b), acc[i][3]);
            }
        }
    } else {
        for (int i = 0; i < R; i++) {
            for (int64_t k = 0; k < m; k++) {
                const REAL *a = P + k * BLK;
                VEC wk = V_SET1(w[k]), b = V_SET1(nb[i * m + k]);
                for (int p = 0; p < NV; p++)
                    acc[i][p] = V_FMA(wk, V_MAX(V_LOAD(a + p * VW), b), acc[i][p]);
            }
        }
    }
    VEC vE = V_SET1(E), vnE = V_SET1(-E);
    for (int i = 0; i < R; i++) {
        VEC y0 = V_SET1(yr[i]);
        for (int p = 0; p < NV; p++) {
            VEC y = V_MUL(y0, V_LOAD(yA + l0 + p * VW));
            VEC s = acc[i][p], e = V_SUB(s, y), ys = V_MUL(y, s);
            sse[i] = V_FMA(e, e, sse[i]);
            cnt->wrong += POPCNT(V_CMP(ys, vnE, _CMP_LT_OQ));
            MASK fl = V_CMP(V_ABS(ys), vE, _CMP_NGT_UQ); /* NaN: flagged */
            if (fl) {
                REAL sv[VW];
                V_STORE(sv, s);
                for (int j = 0; j < VW; j++)
                    if (fl >> j & 1)
                        flag_point(m, AT, L, l0 + p * VW + j, nb + i * m, E1, rid[i], flags,
                                   capacity, nflag, cnt);
            }
        }
    }
}
#endif

/* points per block: the caller sizes the workspace `packed` as (L / BLOCK) BLOCK m values */
int64_t BLOCK(void) { return BLK; }

/* rows [row0, row1) of the N * M1 * M2 rows; sse has row1 - row0 entries; counts[0..2] receive
   the sure mistakes, the exact zeros and the number of other flagged points. `packed` is a
   workspace of (L / BLOCK) BLOCK m values (the caller's, reused between calls: a fresh
   allocation per call costs more than the whole call at small d) or NULL (allocated here). */
void ENTRY(int64_t m, int64_t L, int64_t M1, int64_t M2, int64_t row0, int64_t row1,
           const REAL *AT, const REAL *C0, const REAL *T1, const REAL *T2, const REAL *w,
           const REAL *E1, const REAL *yA, const REAL *yN, const REAL *y1, const REAL *y2,
           double E, double *sse, int64_t *counts, int64_t *flags, int64_t capacity,
           int32_t threads, REAL *work) {
    int64_t wrong = 0, dead = 0, nflag = 0;
    int64_t ngroups = (row1 - row0 + GROUP - 1) / GROUP;
    REAL Er = (REAL)E;
    if (m > MAXW || m < 1) {
        counts[0] = counts[1] = 0;
        counts[2] = -1;
        return;
    }
    int64_t lfull = (L / BLK) * BLK;
    /* the low table repacked block by block: block b holds AT[k][b BLK .. b BLK + BLK) for
       k = 0..m-1 contiguously, so one block's strip is m BLK contiguous values (in L1) instead
       of m lines 8L bytes apart (which all map to the same cache sets) */
    REAL *packed = work ? work : malloc(sizeof(REAL) * (size_t)(lfull > 0 ? lfull * m : 1));
    int fail = packed == NULL;
    for (int64_t b = 0; !fail && b < lfull / BLK; b++)
        for (int64_t k = 0; k < m; k++)
            memcpy(packed + (b * m + k) * BLK, AT + k * L + b * BLK, sizeof(REAL) * BLK);
    (void)threads;
#pragma omp parallel num_threads(threads > 0 ? threads : 1) reduction(+ : wrong, dead)
    {
        REAL *nb = fail ? NULL : malloc(sizeof(REAL) * (size_t)(GROUP * m));
        counts_t cnt = {0, 0};
        if (nb == NULL) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t g = 0; g < ngroups; g++) {
            if (nb == NULL) continue;
            int64_t r0 = row0 + g * GROUP, r1 = r0 + GROUP < row1 ? r0 + GROUP : row1;
            int nr = (int)(r1 - r0);
            REAL c[GROUP], yr[GROUP];
            int64_t rid[GROUP];
            for (int i = 0; i < nr; i++) {
                int64_t r = r0 + i, node = r / (M1 * M2), rem = r % (M1 * M2);
                int64_t h1 = rem / M2, h2 = rem % M2;
                const REAL *p0 = C0 + node * m, *p1 = T1 + h1 * m, *p2 = T2 + h2 * m;
                REAL cs = 0;
                for (int64_t k = 0; k < m; k++) {
                    REAL b = (p0[k] + p1[k]) + p2[k];
                    nb[i * m + k] = -b;
                    cs = FMA(w[k], b, cs);
                }
                c[i] = cs;
                yr[i] = yN[node] * y1[h1] * y2[h2];
                rid[i] = r;
            }
            REAL rs[GROUP];
            for (int i = 0; i < nr; i++) rs[i] = 0;
#if defined(__AVX512F__)
            VEC vs[GROUP];
            for (int i = 0; i < nr; i++) vs[i] = V_SET1(0);
            for (int64_t l0 = 0; l0 < lfull; l0 += BLK)
                for (int i = 0; i < nr; i += ROWS) {
                    int R = nr - i < ROWS ? nr - i : ROWS;
                    block_avx512(R, m, AT, L, l0, packed + l0 * m, nb + i * m, c + i, yr + i,
                                 w, yA, Er, E1,
                                 rid + i, flags, capacity, &nflag, &cnt, vs + i);
                }
            for (int i = 0; i < nr; i++) { /* lanes in a fixed order */
                REAL lanes[VW];
                V_STORE(lanes, vs[i]);
                for (int j = 0; j < VW; j++) rs[i] += lanes[j];
            }
#else
            for (int64_t l0 = 0; l0 < lfull; l0 += BLK)
                for (int i = 0; i < nr; i++) {
                    REAL s[BLK];
                    for (int j = 0; j < BLK; j++) s[j] = c[i];
                    for (int64_t k = 0; k < m; k++) {
                        const REAL *a = packed + l0 * m + k * BLK;
                        REAL wk = w[k], b = nb[i * m + k];
                        for (int j = 0; j < BLK; j++) s[j] = FMA(wk, a[j] > b ? a[j] : b, s[j]);
                    }
                    for (int j = 0; j < BLK; j++)
                        tally_scalar(s[j], yr[i] * yA[l0 + j], Er, m, AT, L, l0 + j, nb + i * m, E1,
                                     rid[i], flags, capacity, &nflag, &cnt, &rs[i]);
                }
#endif
            for (int i = 0; i < nr; i++)
                for (int64_t l = lfull; l < L; l++) {
                    REAL s = point_value(m, AT, L, l, nb + i * m, w, c[i]);
                    tally_scalar(s, yr[i] * yA[l], Er, m, AT, L, l, nb + i * m, E1, rid[i], flags,
                                 capacity, &nflag, &cnt, &rs[i]);
                }
            for (int i = 0; i < nr; i++) sse[r0 + i - row0] = (double)rs[i];
        }
        wrong += cnt.wrong;
        dead += cnt.dead;
        free(nb);
    }
    if (!work) free(packed);
    if (fail) { /* out of memory: nothing is reported as counted */
        counts[0] = counts[1] = 0;
        counts[2] = -2;
        return;
    }
    counts[0] = wrong;
    counts[1] = dead;
    counts[2] = nflag;
}

/* The machine's limit for this kernel's instruction mix, measured side by side by the
   benchmark: `iters` rounds of 16 independent (max, fused multiply-add) pairs per thread, on
   registers only (no loads, no epilogue). Returns the neuron evaluations done (lanes x pairs). */
double PEAK(int64_t iters, int32_t threads) {
    double total = 0, sink = 0;
    (void)threads;
#pragma omp parallel num_threads(threads > 0 ? threads : 1) reduction(+ : total, sink)
    {
#if defined(__AVX512F__)
        VEC acc[12];
        VEC w = V_SET1((REAL)-1), b = V_SET1((REAL)-1);
        for (int i = 0; i < 12; i++) acc[i] = V_SET1((REAL)i);
        for (int64_t it = 0; it < iters; it++)
            for (int i = 0; i < 12; i++) acc[i] = V_FMA(w, V_MAX(acc[i], b), acc[i]);
        REAL lanes[VW];
        for (int i = 0; i < 12; i++) {
            V_STORE(lanes, acc[i]);
            sink += lanes[0];
        }
        total += (double)iters * 12 * VW;
#else
        REAL acc[BLK];
        for (int j = 0; j < BLK; j++) acc[j] = j;
        for (int64_t it = 0; it < iters; it++)
            for (int j = 0; j < BLK; j++) acc[j] = FMA((REAL)-1, acc[j] > -1 ? acc[j] : -1, acc[j]);
        for (int j = 0; j < BLK; j++) sink += acc[j];
        total += (double)iters * BLK;
#endif
    }
    return sink == 12345.678 ? -total : total;
}
