/* Timing of exported functions called from C (benchmarks/export_calls.py builds and runs it):
   prints "case nanoseconds-per-call" for each case, the median of ROUNDS rounds. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"

#define ROUNDS 7

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double *load(const char *dir, const char *name, long count) {
    char path[4096];
    double *data = malloc(sizeof(double) * (size_t)count);
    FILE *file;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    file = fopen(path, "rb");
    if (!file || fread(data, 8, (size_t)count, file) != (size_t)count) exit(2);
    fclose(file);
    return data;
}

int main(int argc, char **argv) {
    const char *dir = argv[1];
    long calls = atol(argv[2]), batch = atol(argv[3]), i, r;
    int64_t one[2] = {1, 64}, many[2] = {batch, 64}, nothing[1] = {0};
    double *x = load(dir, "x.bin", batch * 64), a = 1.0, b = 2.0, times[ROUNDS];
    int64_t *t = malloc(sizeof(int64_t) * (size_t)batch);
    char path[4096];
    bench_context *ctx;
    sg_tensor ta, tb, tx1, tx, tt, out, out2;
    (void)argc;
    for (i = 0; i < batch; i++) t[i] = i % 10;
    snprintf(path, sizeof path, "%s/bench.params", dir);
    if (bench_context_new(path, &ctx)) { puts(bench_error_message(NULL)); return 1; }
    sg_tensor_init(&ta, &a, SG_FLOAT64, 0, nothing);
    sg_tensor_init(&tb, &b, SG_FLOAT64, 0, nothing);
    sg_tensor_init(&tx1, x, SG_FLOAT64, 2, one);
    sg_tensor_init(&tx, x, SG_FLOAT64, 2, many);
    sg_tensor_init(&tt, t, SG_INT64, 1, many);

#define TIME(label, n, call)                                                   \
    for (r = 0; r < ROUNDS; r++) {                                             \
        double start = now();                                                  \
        for (i = 0; i < (n); i++)                                              \
            if (call) { puts(bench_error_message(ctx)); return 1; }            \
        times[r] = (now() - start) / (n);                                      \
    }                                                                          \
    qsort(times, ROUNDS, sizeof times[0], compare);                            \
    printf("%s %.1f\n", label, times[ROUNDS / 2]);

    TIME("add", calls, bench_add(ctx, &ta, &tb, &out))
    TIME("predict1", calls, bench_predict(ctx, &tx1, &out, &out2))
    TIME("predict", calls / 10, bench_predict(ctx, &tx, &out, &out2))
    TIME("train_step", calls / 10, bench_train_step(ctx, &tx, &tt, &out))
    bench_context_free(ctx);
    return 0;
}
