/* Helpers of the C programs tests/export/crunner.py generates: read an input file, write an
   output C-ordered whatever its strides (its shape goes to stdout). */
#include <stdio.h>
#include <stdlib.h>

static void *load(const char *path, size_t n) {
    void *data = malloc(n + 1);
    FILE *file = fopen(path, "rb");
    if (!file || fread(data, 1, n, file) != n) exit(2);
    fclose(file);
    return data;
}

static void save(const char *path, const sg_tensor *t) {
    static const int64_t itemsize[] = {1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 4, 8};
    FILE *file = fopen(path, "wb");
    int64_t count = 1, index[SG_MAX_DIMS] = {0}, i, size = itemsize[t->dtype];
    int32_t d;
    printf("shape");
    for (d = 0; d < t->ndim; d++) {
        count *= t->shape[d];
        printf(" %lld", (long long)t->shape[d]);
    }
    printf("\n");
    for (i = 0; i < count; i++) {
        int64_t at = 0;
        for (d = 0; d < t->ndim; d++) at += index[d] * t->strides[d];
        fwrite((char *)t->data + at * size, (size_t)size, 1, file);
        for (d = t->ndim - 1; d >= 0; d--) {
            if (++index[d] < t->shape[d]) break;
            index[d] = 0;
        }
    }
    fclose(file);
}
