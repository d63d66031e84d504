/* Samples characters from an exported character LSTM step (tests/export/test_export_graphs.py)
   without Python: each step looks up the last character's row of W_in (a native gather), and
   the next character is drawn from the step's probabilities by inverse CDF with a given
   uniform number. Usage:
       lstm_sample DIR N HIDDEN FIRST
   DIR holds lstm.params and u.bin (N float64 uniforms); the codes drawn go to codes.bin
   (N int64) and every step's probabilities to probs.bin (N x V float64); then calls with a
   negative code (its probabilities to negative.bin) and with a code out of range (its status
   and message to error.txt). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lstm.h"

static FILE *open_in(const char *dir, const char *name, const char *mode) {
    char path[4096];
    FILE *file;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    file = fopen(path, mode);
    if (!file) { fprintf(stderr, "cannot open %s\n", path); exit(2); }
    return file;
}

/* Copy a rank-1 or rank-2 float64 result (any strides) to C-ordered memory. */
static void gather(const sg_tensor *t, double *to) {
    int64_t rows = t->ndim == 2 ? t->shape[0] : 1, cols = t->shape[t->ndim - 1], i, j;
    int64_t row_stride = t->ndim == 2 ? t->strides[0] : 0, col_stride = t->strides[t->ndim - 1];
    for (i = 0; i < rows; i++)
        for (j = 0; j < cols; j++)
            to[i * cols + j] = ((const double *)t->data)[i * row_stride + j * col_stride];
}

static void check(int status, lstm_context *ctx) {
    if (status != SG_OK) {
        fprintf(stderr, "sample failed (%d): %s\n", status, lstm_error_message(ctx));
        exit(1);
    }
}

int main(int argc, char **argv) {
    const char *dir;
    char path[4096];
    lstm_context *ctx;
    sg_tensor code_t, h_t, c_t, probs, h_out, c_out;
    int64_t n, hidden, code, step, vocab = 0, one = 1, state_shape[2];
    double *u, *h, *c, *p = NULL;
    FILE *codes_file, *probs_file, *file;
    int status;
    if (argc != 5) return 2;
    dir = argv[1];
    n = atoll(argv[2]);
    hidden = atoll(argv[3]);
    code = atoll(argv[4]);
    snprintf(path, sizeof path, "%s/lstm.params", dir);
    if (lstm_context_new(path, &ctx)) {
        fprintf(stderr, "%s\n", lstm_error_message(NULL));
        return 1;
    }
    u = malloc((size_t)n * sizeof *u);
    h = calloc((size_t)hidden, sizeof *h);
    c = calloc((size_t)hidden, sizeof *c);
    file = open_in(dir, "u.bin", "rb");
    if (fread(u, sizeof *u, (size_t)n, file) != (size_t)n) return 2;
    fclose(file);
    state_shape[0] = 1;
    state_shape[1] = hidden;
    sg_tensor_init(&h_t, h, SG_FLOAT64, 2, state_shape);
    sg_tensor_init(&c_t, c, SG_FLOAT64, 2, state_shape);
    sg_tensor_init(&code_t, &code, SG_INT64, 1, &one);
    codes_file = open_in(dir, "codes.bin", "wb");
    probs_file = open_in(dir, "probs.bin", "wb");
    for (step = 0; step < n; step++) {
        double total = 0.0;
        int64_t j;
        check(lstm_sample(ctx, &code_t, &h_t, &c_t, &probs, &h_out, &c_out), ctx);
        if (!p) {
            vocab = probs.shape[0];
            p = malloc((size_t)vocab * sizeof *p);
        }
        gather(&probs, p);
        /* The outputs live in the context's memory: copy the state before the next call. */
        gather(&h_out, h);
        gather(&c_out, c);
        fwrite(p, sizeof *p, (size_t)vocab, probs_file);
        code = vocab - 1;
        for (j = 0; j < vocab; j++) {
            total += p[j];
            if (u[step] < total) { code = j; break; }
        }
        fwrite(&code, sizeof code, 1, codes_file);
    }
    fclose(codes_file);
    fclose(probs_file);
    code = -1;  /* the last character, counted from the end */
    check(lstm_sample(ctx, &code_t, &h_t, &c_t, &probs, &h_out, &c_out), ctx);
    gather(&probs, p);
    file = open_in(dir, "negative.bin", "wb");
    fwrite(p, sizeof *p, (size_t)vocab, file);
    fclose(file);
    code = vocab;  /* out of range */
    status = lstm_sample(ctx, &code_t, &h_t, &c_t, &probs, &h_out, &c_out);
    file = open_in(dir, "error.txt", "w");
    fprintf(file, "%d %s\n", status, lstm_error_message(ctx));
    fclose(file);
    lstm_context_free(ctx);
    free(u); free(h); free(c); free(p);
    return 0;
}
