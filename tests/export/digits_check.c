/* Runs an exported digits MLP (tests/export/test_export.py) without Python: predicts, trains
   one step, predicts again, saves the parameters, and tries bad calls. Usage:
       digits_check DIR N
   DIR holds digits.params, x.bin (N x 64 float64, C order), t.bin (N int64) and bad.params;
   results go to DIR as raw binary files, the bad calls' codes and messages to errors.txt. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digits.h"

static void *read_all(const char *dir, const char *name, long *size) {
    char path[4096];
    FILE *file;
    void *data;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    file = fopen(path, "rb");
    if (!file) { fprintf(stderr, "cannot read %s\n", path); exit(2); }
    fseek(file, 0, SEEK_END);
    *size = ftell(file);
    fseek(file, 0, SEEK_SET);
    data = malloc((size_t)*size + 1);
    if (fread(data, 1, (size_t)*size, file) != (size_t)*size) exit(2);
    fclose(file);
    return data;
}

/* Write a result, C-ordered whatever its strides. */
static void write_tensor(const char *dir, const char *name, const sg_tensor *t, size_t itemsize) {
    char path[4096];
    FILE *file;
    int64_t count = 1, index[SG_MAX_DIMS] = {0}, i;
    int32_t d;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    file = fopen(path, "wb");
    for (d = 0; d < t->ndim; d++) count *= t->shape[d];
    for (i = 0; i < count; i++) {
        int64_t offset = 0;
        for (d = 0; d < t->ndim; d++) offset += index[d] * t->strides[d];
        fwrite((char *)t->data + offset * (int64_t)itemsize, itemsize, 1, file);
        for (d = t->ndim - 1; d >= 0; d--) {
            if (++index[d] < t->shape[d]) break;
            index[d] = 0;
        }
    }
    fclose(file);
}

static void check(int status, digits_context *ctx, const char *what) {
    if (status != SG_OK) {
        fprintf(stderr, "%s failed (%d): %s\n", what, status, digits_error_message(ctx));
        exit(1);
    }
}

/* Threads with a context each: every call equals the single-threaded result. */
typedef struct job { const char *params; const sg_tensor *x; const double *expected; int64_t n;
                     int mismatches; } job;

static void *predict_many(void *arg) {
    job *j = arg;
    digits_context *ctx;
    sg_tensor probs;
    int call;
    int64_t i;
    if (digits_context_new(j->params, &ctx) != SG_OK) { j->mismatches = -1; return NULL; }
    for (call = 0; call < 200; call++) {
        if (digits_predict(ctx, j->x, &probs, NULL) != SG_OK) { j->mismatches = -1; break; }
        for (i = 0; i < j->n * 10; i++)
            j->mismatches += ((double *)probs.data)[i] != j->expected[i];
    }
    digits_context_free(ctx);
    return NULL;
}

int main(int argc, char **argv) {
    const char *dir = argv[1];
    int64_t n = atoll(argv[2]), shape[2] = {n, 64}, bad_shape[2] = {n, 63};
    long size;
    double *x = read_all(dir, "x.bin", &size), *xt;
    int64_t *t = read_all(dir, "t.bin", &size);
    float *x32 = calloc((size_t)(n * 64), sizeof(float));
    char path[4096];
    digits_context *ctx, *other;
    sg_tensor tx, tt, probs, labels, loss, view, bad;
    FILE *errors;
    int64_t i, j;
    (void)argc;

    snprintf(path, sizeof path, "%s/digits.params", dir);
    check(digits_context_new(path, &ctx), NULL, "context_new");
    sg_tensor_init(&tx, x, SG_FLOAT64, 2, shape);
    sg_tensor_init(&tt, t, SG_INT64, 1, shape);
    check(digits_predict(ctx, &tx, &probs, &labels), ctx, "predict");
    write_tensor(dir, "probs.bin", &probs, 8);
    write_tensor(dir, "labels.bin", &labels, 8);
    {
        pthread_t threads[4];
        job jobs[4];
        double *expected = malloc(sizeof(double) * (size_t)(n * 10));
        int k, bad = 0;
        memcpy(expected, probs.data, sizeof(double) * (size_t)(n * 10));
        for (k = 0; k < 4; k++) {
            jobs[k] = (job){path, &tx, expected, n, 0};
            pthread_create(&threads[k], NULL, predict_many, &jobs[k]);
        }
        for (k = 0; k < 4; k++) {
            pthread_join(threads[k], NULL);
            bad += jobs[k].mismatches != 0;
        }
        if (bad) { fprintf(stderr, "threads disagree\n"); return 1; }
        free(expected);
    }

    /* The same images, stored column by column (a transposed layout). */
    xt = malloc(sizeof(double) * (size_t)(n * 64));
    for (i = 0; i < n; i++)
        for (j = 0; j < 64; j++) xt[j * n + i] = x[i * 64 + j];
    view = tx;
    view.data = xt;
    view.strides[0] = 1;
    view.strides[1] = n;
    check(digits_predict(ctx, &view, &probs, NULL), ctx, "predict (strided)");
    write_tensor(dir, "probs_strided.bin", &probs, 8);

    check(digits_train_step(ctx, &tx, &tt, &loss), ctx, "train_step");
    write_tensor(dir, "loss.bin", &loss, 8);
    check(digits_train_step(ctx, &tx, &tt, &loss), ctx, "train_step 2");
    write_tensor(dir, "loss2.bin", &loss, 8);
    check(digits_predict(ctx, &tx, &probs, NULL), ctx, "predict after training");
    write_tensor(dir, "probs_after.bin", &probs, 8);
    snprintf(path, sizeof path, "%s/after.params", dir);
    check(digits_params_save(ctx, path), ctx, "params_save");

    /* A second context from the saved file predicts what the first one does. */
    check(digits_context_new(path, &other), NULL, "context_new (saved)");
    check(digits_predict(other, &tx, &probs, NULL), other, "predict (reloaded)");
    write_tensor(dir, "probs_reloaded.bin", &probs, 8);
    digits_context_free(other);

    /* Bad calls: each returns an error code and a message. */
    snprintf(path, sizeof path, "%s/errors.txt", dir);
    errors = fopen(path, "w");
    sg_tensor_init(&bad, x, SG_FLOAT64, 2, bad_shape);
    fprintf(errors, "%d|%s\n", digits_predict(ctx, &bad, &probs, NULL), digits_error_message(ctx));
    sg_tensor_init(&bad, x32, SG_FLOAT32, 2, shape);
    fprintf(errors, "%d|%s\n", digits_predict(ctx, &bad, &probs, NULL), digits_error_message(ctx));
    sg_tensor_init(&bad, x, SG_FLOAT64, 1, shape);
    fprintf(errors, "%d|%s\n", digits_predict(ctx, &bad, &probs, NULL), digits_error_message(ctx));
    bad_shape[0] = n - 1;
    sg_tensor_init(&bad, t, SG_INT64, 1, bad_shape);
    fprintf(errors, "%d|%s\n", digits_train_step(ctx, &tx, &bad, &loss),
            digits_error_message(ctx));
    fprintf(errors, "%d|%s\n", digits_predict(ctx, NULL, &probs, NULL), digits_error_message(ctx));
    snprintf(path, sizeof path, "%s/bad.params", dir);
    fprintf(errors, "%d|%s\n", digits_context_new(path, &other), digits_error_message(NULL));
    fprintf(errors, "%d|%s\n", digits_param(ctx, "W9", &view), digits_error_message(ctx));
    /* 2^44 images: the hidden layer would need 2 PiB, which no allocation gives. */
    bad_shape[0] = (int64_t)1 << 44;
    bad_shape[1] = 64;
    sg_tensor_init(&bad, x, SG_FLOAT64, 2, bad_shape);
    fprintf(errors, "%d|%s\n", digits_predict(ctx, &bad, &probs, NULL), digits_error_message(ctx));
    fclose(errors);
    /* A good call still works after the bad ones. */
    check(digits_predict(ctx, &tx, &probs, NULL), ctx, "predict after errors");
    digits_context_free(ctx);
    free(x); free(xt); free(t); free(x32);
    return 0;
}
