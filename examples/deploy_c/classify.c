/* Classify handwritten digits with the MLP that `python -m symgraph.demo` trained and
   exported: no Python involved.

   Build and run (the demo prints these two lines with the paths filled in):
       cc examples/deploy_c/classify.c -I DIR DIR/libdigits.a <BLAS link line> -lgomp -lm -o classify
       ./classify DIR
   DIR holds digits.h, libdigits.a, digits.params and test_digits.bin: int64 count, int32
   dtype (an sg_dtype), int32 0, count x 64 pixels of that dtype, count int64 labels. */
#include <stdio.h>
#include <stdlib.h>

#include "digits.h"

int main(int argc, char **argv) {
    char path[4096];
    FILE *file;
    int64_t count, shape[2], i, right = 0;
    int32_t header[2];
    size_t itemsize;
    void *pixels;
    int64_t *labels;
    digits_context *model;
    sg_tensor images, predicted;
    int status;

    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR (the directory sg.export wrote)\n", argv[0]);
        return 2;
    }
    snprintf(path, sizeof path, "%s/test_digits.bin", argv[1]);
    file = fopen(path, "rb");
    if (!file || fread(&count, 8, 1, file) != 1 || fread(header, 4, 2, file) != 2) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    itemsize = header[0] == SG_FLOAT32 ? 4 : 8;
    pixels = malloc((size_t)count * 64 * itemsize);
    labels = malloc((size_t)count * sizeof *labels);
    if (fread(pixels, itemsize, (size_t)count * 64, file) != (size_t)count * 64 ||
        fread(labels, 8, (size_t)count, file) != (size_t)count) {
        fprintf(stderr, "%s is truncated\n", path);
        return 1;
    }
    fclose(file);

    /* One context per thread: it owns the weights (read from the parameter file) and the
       memory the functions work in. */
    snprintf(path, sizeof path, "%s/digits.params", argv[1]);
    status = digits_context_new(path, &model);
    if (status != SG_OK) {
        fprintf(stderr, "cannot load the model: %s\n", digits_error_message(NULL));
        return 1;
    }
    shape[0] = count;
    shape[1] = 64;
    sg_tensor_init(&images, pixels, header[0], 2, shape);
    status = digits_predict(model, &images, &predicted);
    if (status != SG_OK) {
        fprintf(stderr, "prediction failed: %s\n", digits_error_message(model));
        return 1;
    }
    /* The result lives in the context until its next call. */
    for (i = 0; i < count; i++) {
        int64_t guess = ((int64_t *)predicted.data)[i * predicted.strides[0]];
        right += guess == labels[i];
        if (i < 10) printf("digit %lld: predicted %lld, labelled %lld\n", (long long)i,
                           (long long)guess, (long long)labels[i]);
    }
    printf("accuracy on %lld test digits: %.4f\n", (long long)count, (double)right / count);
    digits_context_free(model);
    free(pixels);
    free(labels);
    return 0;
}
