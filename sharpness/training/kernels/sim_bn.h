/* The interface of the Sim-BN kernel (sim_bn.c): one struct of named arguments, passed by pointer.

   sharpness/training/kernels/sim_bn.py mirrors this struct field by field as a ctypes.Structure
   (SimBNArgs); load_sim_bn_kernel() compares sizeof and every offsetof (sim_bn_args_layout) with
   the mirror before the first call, and the tests compare the names with this definition. */
#ifndef SIM_BN_H
#define SIM_BN_H

#include <stdint.h>

/* All arrays are double. DP is the padded row length: D rounded up to a multiple of 32. */
struct sim_bn_args {
    int64_t runs;          /* R independent runs */
    int64_t width;         /* m hidden neurons */
    int64_t dim;           /* D = d + 1 with a bias (the last coordinate of x' is 1), else d */
    int64_t dp;            /* DP >= D, a multiple of 32: the stored row length */
    int64_t n;             /* training-set size (the statistics run over all n points) */
    int64_t steps;         /* T steps, one example each */
    void *W;               /* (R, m, DP): row j is (W1[j], b1[j]) zero-padded; updated in place */
    void *W2;              /* (R, m); updated in place */
    void *gamma;           /* (R, m); updated in place */
    const void *X;         /* (R, n, DP): x'_i = (x_i, 1) zero-padded */
    const void *y;         /* (R, n) labels */
    const int32_t *order;  /* (R, T) example of every step, in [0, n) */
    const void *noise;     /* (R, T) label noise added to y, or NULL */
    int64_t *counters;     /* (R, 4) out: certified, rechecked, pattern changes, C rebuilds */
    double lr;             /* learning rate eta */
    double rho;            /* SAM radius (0: plain gradient step) */
    double weight_decay;   /* lambda */
    double smoothing;      /* label smoothing p of the logistic loss */
    double projection;     /* hold ||(W1, b1)|| at this norm after every step; <= 0: none */
    int32_t loss;          /* 0 mse, 1 logistic */
    int32_t exact_updates; /* 0: C_j rebuilt from scratch when a pattern changes; 1: inputs are
                              integers and n max|x'|^2 < 2^52, so C_j (integer entries) is
                              updated exactly by rank-one terms; 2: as 1 and n max|x'|^2 <= 127,
                              so C_j is stored as int8 */
    int32_t threads;       /* OpenMP threads over the runs */
};

/* T steps of every run; returns 0, or -1 if memory ran out (nothing is then changed). */
int sim_bn_f64(const struct sim_bn_args *a);

/* Writes sizeof(struct sim_bn_args) and then the offset of every field, in declaration order,
   to out[0 .. cap); returns the number of fields. */
int64_t sim_bn_args_layout(int64_t *out, int64_t cap);

#endif
