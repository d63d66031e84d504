/* Timing loops for benchmarks/gemm_survey.py: each calls a library's matrix product through a
   function pointer `calls` times and returns the wall seconds per call (and stores the
   process's CPU seconds per call in *cpu), so every library is timed without Python's per-call
   overhead. Built at run time with the system C compiler. */
#include <stdint.h>
#include <time.h>

static double seconds(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double now(void) { return seconds(CLOCK_MONOTONIC); }
static double cpu_now(void) { return seconds(CLOCK_PROCESS_CPUTIME_ID); }

/* CBLAS ?gemm, row-major (101), C = op(A) op(B); sizes as int (LP64) or int64_t (ILP64). */
#define CBLAS_TIMER(NAME, T, I)                                                               \
    typedef void (*NAME##_fn)(int, int, int, I, I, I, T, const T *, I, const T *, I, T, T *, I); \
    double NAME(void *fn, int ta, int tb, int64_t m, int64_t n, int64_t k, const T *a,       \
                int64_t lda, const T *b, int64_t ldb, T *c, int64_t ldc, int64_t calls,      \
                double *cpu) {                                                               \
        NAME##_fn gemm = (NAME##_fn)fn;                                                      \
        double start = now(), cpu_start = cpu_now();                                         \
        for (int64_t i = 0; i < calls; i++)                                                  \
            gemm(101, ta, tb, (I)m, (I)n, (I)k, 1, a, (I)lda, b, (I)ldb, 0, c, (I)ldc);      \
        *cpu = (cpu_now() - cpu_start) / (double)calls;                                      \
        return (now() - start) / (double)calls;                                              \
    }

CBLAS_TIMER(cblas32_s, float, int32_t)
CBLAS_TIMER(cblas32_d, double, int32_t)
CBLAS_TIMER(cblas64_s, float, int64_t)
CBLAS_TIMER(cblas64_d, double, int64_t)

/* BLIS typed API bli_?gemm_ex: row and column strides per operand (so transposes are strides),
   alpha and beta by pointer, then a context (NULL: the one BLIS chose) and a runtime (NULL). */
#define BLIS_TIMER(NAME, T)                                                                   \
    typedef void (*NAME##_fn)(int, int, int64_t, int64_t, int64_t, const T *, const T *,     \
                              int64_t, int64_t, const T *, int64_t, int64_t, const T *, T *, \
                              int64_t, int64_t, void *, void *);                             \
    double NAME(void *fn, void *cntx, int64_t m, int64_t n, int64_t k, const T *a,           \
                int64_t rsa, int64_t csa, const T *b, int64_t rsb, int64_t csb, T *c,        \
                int64_t calls, double *cpu) {                                                \
        NAME##_fn gemm = (NAME##_fn)fn;                                                      \
        T one = 1, zero = 0;                                                                 \
        double start = now(), cpu_start = cpu_now();                                         \
        for (int64_t i = 0; i < calls; i++)                                                  \
            gemm(0, 0, m, n, k, &one, a, rsa, csa, b, rsb, csb, &zero, c, n, 1, cntx, 0);    \
        *cpu = (cpu_now() - cpu_start) / (double)calls;                                      \
        return (now() - start) / (double)calls;                                              \
    }

BLIS_TIMER(blis_s, float)
BLIS_TIMER(blis_d, double)

/* oneDNN's dnnl_sgemm: row-major, transposes as 'N'/'T' characters, int64 sizes, float32
   only; returns a status (0: success), which the loop stops on. */
typedef int (*dnnl_sgemm_fn)(char, char, int64_t, int64_t, int64_t, float, const float *,
                             int64_t, const float *, int64_t, float, float *, int64_t);
double dnnl_s(void *fn, char ta, char tb, int64_t m, int64_t n, int64_t k, const float *a,
              int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc, int64_t calls,
              double *cpu) {
    dnnl_sgemm_fn gemm = (dnnl_sgemm_fn)fn;
    double start = now(), cpu_start = cpu_now();
    for (int64_t i = 0; i < calls; i++)
        if (gemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc) != 0)
            return -1.0;
    *cpu = (cpu_now() - cpu_start) / (double)calls;
    return (now() - start) / (double)calls;
}

/* A kernel compiled for one static shape: void kernel(const T *a, const T *b, T *c). */
typedef void (*static_kernel_fn)(const void *, const void *, void *);
double static_kernel(void *fn, const void *a, const void *b, void *c, int64_t calls,
                     double *cpu) {
    static_kernel_fn kernel = (static_kernel_fn)fn;
    double start = now(), cpu_start = cpu_now();
    for (int64_t i = 0; i < calls; i++)
        kernel(a, b, c);
    *cpu = (cpu_now() - cpu_start) / (double)calls;
    return (now() - start) / (double)calls;
}

/* Core clock in Hz from a chain of dependent integer adds (one cycle each), over CPU time;
   0 off x86-64. */
double clock_hz(int64_t iterations) {
#if defined(__x86_64__)
    int64_t x = 0;
    double start = cpu_now();
    for (int64_t i = 0; i < iterations; i++)
        __asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                         "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0"
                         : "+r"(x));
    return 8.0 * (double)iterations / (cpu_now() - start);
#else
    (void)iterations;
    return 0.0;
#endif
}
