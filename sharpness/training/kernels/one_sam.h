/* The interface of the 1-SAM kernel (one_sam.c): one struct of named arguments, passed by pointer.

   sharpness/training/kernels/one_sam.py mirrors this struct field by field as a ctypes.Structure
   (OneSamArgs); tests/sharpness/training/test_kernel.py parses this definition and compares the
   names, their order and their types, and load_kernel() compares sizeof and every offsetof
   (one_sam_args_layout) with the mirror before the first call. */
#ifndef ONE_SAM_H
#define ONE_SAM_H

#include <stdint.h>

/* REAL is double in the f64 build and float in the f32 build; the REAL arrays are void * so that
   one struct serves both, and the scalars are double, converted to REAL once on entry. */
struct one_sam_args {
    int64_t runs;          /* R independent runs */
    int64_t width;         /* m hidden neurons */
    int64_t dim;           /* d input dimension */
    int64_t n;             /* training-set size */
    int64_t steps;         /* T steps, one example each */
    int64_t general;       /* 1: the general forward/backward for a ReLU MLP too (tests) */
    void *W1T;             /* REAL (R, d, m): W1 transposed; updated in place */
    void *b1;              /* REAL (R, m), or NULL (no bias); updated in place */
    void *W2;              /* REAL (R, m); updated in place */
    const void *X;         /* REAL (R, n, d) training inputs */
    const void *y;         /* REAL (R, n) labels */
    const int32_t *order;  /* (R, T) example of every step, in [0, n) */
    const void *noise;     /* REAL (R, T) label noise added to y, or NULL */
    void *work;            /* REAL (R, 9 m) scratch */
    double lr;             /* learning rate eta */
    double rho;            /* SAM radius (0: plain gradient step) */
    double weight_decay;   /* lambda */
    double eps;            /* Sim-LN's eps (head 1) */
    double smoothing;      /* label smoothing p of the logistic loss */
    double projection;     /* hold ||(W1, b1)|| at this norm after every step; <= 0: none */
    int32_t activation;    /* 0 relu, 1 softplus */
    int32_t head;          /* 0 linear (MLP), 1 Sim-LN */
    int32_t loss;          /* 0 mse, 1 logistic */
    int32_t threads;       /* OpenMP threads over the runs */
};

/* T steps of every run (the f64 build defines one_sam_f64, the f32 build one_sam_f32). */
void one_sam_f64(const struct one_sam_args *a);
void one_sam_f32(const struct one_sam_args *a);

/* The memory-bound limit (a benchmark, not a trainer): T steps of only the sweep over W1 that
   each step makes (rewrite every row, accumulate the next pre-activation), with a fixed rank-one
   direction lr * work[m .. 2m) (work[0 .. m) and [2m .. 3m) are overwritten). */
void one_sam_sweep_f64(const struct one_sam_args *a);
void one_sam_sweep_f32(const struct one_sam_args *a);

/* Writes sizeof(struct one_sam_args) and then the offset of every field, in declaration order,
   to out[0 .. cap); returns the number of fields. */
int64_t one_sam_args_layout(int64_t *out, int64_t cap);

#endif
