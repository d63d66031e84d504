/* The fixed part of every library symgraph exports (symgraph/export/runtime.c): contexts,
   argument checks, error messages, parameter files. The generated wrapper defines, before
   including this file, SG_LIB(x) (the library's prefix pasted to x), SG_NAME (the library's
   name as a string), SG_N_PARAMS, SG_N_FUNCTIONS, SG_N_STAGE (buffers for results moved out
   of parameters before an update) and SG_API_TABLE, and after it the parameter table
   sg_params and the functions. Nothing here aborts or prints. */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Generated code reads these. */
int32_t SG_LIB(_num_threads) = 1;
void SG_LIB(set_num_threads)(int count) { SG_LIB(_num_threads) = count < 1 ? 1 : count; }

#define SG_UNUSED __attribute__((unused))
static void sg_no_op(void *o) { (void)o; }
static void *sg_null(void) { return NULL; }
static int sg_minus_one(void) { return -1; }
static void *sg_no_thread(void) { return NULL; }
static char sg_no_type;
/* The C functions generated code calls, in the order of symgraph's capi.API_NAMES. */
void *SG_LIB(_sg_api)[] = { SG_API_TABLE };

static const int64_t sg_itemsize[] = { 1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 4, 8 };
static const char *const sg_dtype_name[] = {
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64"};

typedef struct sg_param_info {
    const char *name;
    int32_t dtype, ndim;
    int64_t shape[SG_MAX_DIMS];
    int64_t size;
    const void *initial; /* the baked-in value, or NULL */
} sg_param_info;
typedef struct sg_step_info { const char *where; int32_t count; const int64_t *slots;
                              const int32_t *ndims; } sg_step_info;

struct SG_LIB(context) {
    void *params[SG_N_PARAMS + 1];
    int64_t *frames[SG_N_FUNCTIONS];
    void *stage[SG_N_STAGE + 1];
    char message[2048];
};

static _Thread_local char sg_new_message[2048];

static int sg_fail(SG_LIB(context) *ctx, int code, const char *format, ...) {
    va_list args;
    char *message = ctx ? ctx->message : sg_new_message;
    va_start(args, format);
    vsnprintf(message, sizeof ctx->message, format, args);
    va_end(args);
    return code;
}

const char *SG_LIB(error_message)(const SG_LIB(context) *ctx) {
    return ctx ? ctx->message : sg_new_message;
}

static void sg_shape_text(char *out, size_t size, int32_t ndim, const int64_t *shape) {
    size_t used = 0;
    int32_t d;
    used += snprintf(out + used, size - used, "(");
    for (d = 0; d < ndim && used < size; d++)
        used += snprintf(out + used, size - used, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (used < size) snprintf(out + used, size - used, ndim == 1 ? ",)" : ")");
}

static void *sg_alloc(int64_t nbytes) {
    return aligned_alloc(64, (size_t)((nbytes + 63) / 64 * 64 + 64));
}

/* Copy ndim-dimensional data between byte-strided layouts (rows that are contiguous in both
   at once). */
static void sg_copy(char *to, const int64_t *to_strides, const char *from,
                    const int64_t *from_strides, int32_t ndim, const int64_t *shape,
                    int64_t itemsize) {
    int64_t i, row = itemsize;
    int32_t inner = ndim;
    /* The trailing dimensions contiguous in both layouts form one block of row bytes. */
    while (inner > 0 && to_strides[inner - 1] == row && from_strides[inner - 1] == row) {
        row *= shape[inner - 1];
        inner--;
    }
    if (inner == 0) { memmove(to, from, (size_t)row); return; }
    for (i = 0; i < shape[0]; i++)
        sg_copy(to + i * to_strides[0], to_strides + 1, from + i * from_strides[0],
                from_strides + 1, ndim - 1, shape + 1, itemsize);
}

SG_UNUSED static void sg_contiguous(int64_t *strides, int32_t ndim, const int64_t *shape,
                                    int64_t itemsize) {
    int32_t d;
    for (d = ndim - 1; d >= 0; d--) { strides[d] = itemsize; itemsize *= shape[d]; }
}

SG_UNUSED static int sg_bind(SG_LIB(context) *ctx, int64_t *f, const char *fn, const char *name,
                   int64_t word, int32_t dtype, int32_t ndim, const int64_t *shape,
                   const sg_tensor *t) {
    int32_t d;
    char want[256], got[256];
    if (!t) return sg_fail(ctx, SG_ERR_ARGUMENT, SG_NAME "_%s: input '%s' is NULL", fn, name);
    if (t->dtype != dtype)
        return sg_fail(ctx, SG_ERR_ARGUMENT, SG_NAME "_%s: input '%s' must be %s, not %s", fn,
                       name, sg_dtype_name[dtype],
                       t->dtype >= 0 && t->dtype < 12 ? sg_dtype_name[t->dtype] : "unknown");
    if (t->ndim != ndim)
        return sg_fail(ctx, SG_ERR_ARGUMENT, SG_NAME "_%s: input '%s' must have rank %d, not %d",
                       fn, name, ndim, t->ndim);
    for (d = 0; d < ndim; d++) {
        if (t->shape[d] < 0 || (shape[d] >= 0 && t->shape[d] != shape[d])) {
            sg_shape_text(want, sizeof want, ndim, shape);
            sg_shape_text(got, sizeof got, ndim, t->shape);
            return sg_fail(ctx, SG_ERR_ARGUMENT, SG_NAME "_%s: input '%s' has shape %s; it must "
                           "be %s (-1: any length) (dimension %d differs)", fn, name, got,
                           want, d);
        }
    }
    if (!t->data) return sg_fail(ctx, SG_ERR_ARGUMENT, SG_NAME "_%s: input '%s' has no data", fn,
                                 name);
    f[word + 1] = (int64_t)(intptr_t)t->data;
    for (d = 0; d < ndim; d++) {
        f[word + 2 + d] = t->shape[d];
        f[word + 2 + ndim + d] = t->strides[d] * sg_itemsize[dtype];
    }
    return SG_OK;
}

SG_UNUSED static void sg_describe(const int64_t *f, int64_t word, int32_t dtype, int32_t ndim,
                        sg_tensor *t) {
    int32_t d;
    if (!t) return;
    t->data = (void *)(intptr_t)f[word + 1];
    t->dtype = dtype;
    t->ndim = ndim;
    for (d = 0; d < ndim; d++) {
        t->shape[d] = f[word + 2 + d];
        t->strides[d] = f[word + 2 + ndim + d] / sg_itemsize[dtype];
    }
}

/* Move the value in a slot into context memory of its own (C-ordered). */
SG_UNUSED static int sg_stage(SG_LIB(context) *ctx, int64_t *f, int64_t word, int32_t ndim,
                    int64_t itemsize, int index) {
    int64_t strides[SG_MAX_DIMS], nbytes = itemsize;
    int32_t d;
    for (d = 0; d < ndim; d++) nbytes *= f[word + 2 + d];
    free(ctx->stage[index]);
    ctx->stage[index] = sg_alloc(nbytes);
    if (!ctx->stage[index]) return sg_fail(ctx, SG_ERR_MEMORY, "out of memory (%lld bytes)",
                                           (long long)nbytes);
    sg_contiguous(strides, ndim, f + word + 2, itemsize);
    sg_copy(ctx->stage[index], strides, (const char *)(intptr_t)f[word + 1], f + word + 2 + ndim,
            ndim, f + word + 2, itemsize);
    f[word + 1] = (int64_t)(intptr_t)ctx->stage[index];
    for (d = 0; d < ndim; d++) f[word + 2 + ndim + d] = strides[d];
    return SG_OK;
}

SG_UNUSED static int sg_update(SG_LIB(context) *ctx, const int64_t *f, const char *fn,
                               int64_t word, const sg_param_info *p, int index) {
    int64_t strides[SG_MAX_DIMS];
    int32_t d;
    char want[256], got[256];
    for (d = 0; d < p->ndim; d++) {
        if (f[word + 2 + d] != p->shape[d]) {
            sg_shape_text(want, sizeof want, p->ndim, p->shape);
            sg_shape_text(got, sizeof got, p->ndim, f + word + 2);
            return sg_fail(ctx, SG_ERR_SHAPE, SG_NAME "_%s: the update of %s has shape %s; the "
                           "parameter's is %s", fn, p->name, got, want);
        }
    }
    sg_contiguous(strides, p->ndim, p->shape, sg_itemsize[p->dtype]);
    sg_copy(ctx->params[index], strides, (const char *)(intptr_t)f[word + 1],
            f + word + 2 + p->ndim, p->ndim, p->shape, sg_itemsize[p->dtype]);
    return SG_OK;
}

static int sg_step_failed(SG_LIB(context) *ctx, const int64_t *f, const char *fn, int status,
                          int64_t current, const sg_step_info *steps, int64_t n_steps) {
    char shapes[1024], one[256];
    size_t used = 0;
    int32_t k;
    const sg_step_info *s;
    if (current < 0 || current >= n_steps)
        return sg_fail(ctx, status == 2 ? SG_ERR_MEMORY : SG_ERR_SHAPE, SG_NAME "_%s failed", fn);
    s = &steps[current];
    shapes[0] = 0;
    for (k = 0; k < s->count && used < sizeof shapes; k++) {
        sg_shape_text(one, sizeof one, s->ndims[k], f + s->slots[k] + 2);
        used += snprintf(shapes + used, sizeof shapes - used, k ? ", %s" : "%s", one);
    }
    if (status == 2)
        return sg_fail(ctx, SG_ERR_MEMORY, SG_NAME "_%s: out of memory in %s (input shapes %s)",
                       fn, s->where, shapes);
    return sg_fail(ctx, SG_ERR_SHAPE, SG_NAME "_%s: %s failed: its input shapes %s do not fit "
                   "together (or a value is out of its domain: an index out of range, a "
                   "negative scale)", fn, s->where, shapes);
}

static const sg_param_info sg_params[SG_N_PARAMS + 1];  /* defined by the wrapper */

/* Parameter files: "SGPARAM1", uint32 count, then per parameter uint32 name length, the name,
   int32 dtype, int32 ndim, int64 shape[ndim], the C-ordered data (host byte order). */
static const sg_param_info *sg_find(const char *name) {
    int i;
    for (i = 0; i < SG_N_PARAMS; i++)
        if (strcmp(sg_params[i].name, name) == 0) return &sg_params[i];
    return NULL;
}

int SG_LIB(params_save)(const SG_LIB(context) *ctx, const char *path) {
    FILE *file;
    uint32_t count = SG_N_PARAMS, length;
    int i, ok = 1;
    SG_LIB(context) *mutable_ctx = (SG_LIB(context) *)ctx;
    if (!ctx) return SG_ERR_ARGUMENT;
    if (!path) return sg_fail(mutable_ctx, SG_ERR_ARGUMENT, "no path");
    file = fopen(path, "wb");
    if (!file) return sg_fail(mutable_ctx, SG_ERR_IO, "cannot write %s", path);
    ok &= fwrite("SGPARAM1", 1, 8, file) == 8 && fwrite(&count, 4, 1, file) == 1;
    for (i = 0; i < SG_N_PARAMS && ok; i++) {
        const sg_param_info *p = &sg_params[i];
        length = (uint32_t)strlen(p->name);
        ok &= fwrite(&length, 4, 1, file) == 1 && fwrite(p->name, 1, length, file) == length;
        ok &= fwrite(&p->dtype, 4, 1, file) == 1 && fwrite(&p->ndim, 4, 1, file) == 1;
        ok &= fwrite(p->shape, 8, (size_t)p->ndim, file) == (size_t)p->ndim;
        ok &= fwrite(ctx->params[i], 1, (size_t)(p->size * sg_itemsize[p->dtype]), file) ==
              (size_t)(p->size * sg_itemsize[p->dtype]);
    }
    ok &= fclose(file) == 0;
    return ok ? SG_OK : sg_fail(mutable_ctx, SG_ERR_IO, "cannot write %s", path);
}

int SG_LIB(params_load)(SG_LIB(context) *ctx, const char *path) {
    FILE *file;
    char magic[8], name[256], want[256], got[256];
    uint32_t count, length, k;
    int32_t dtype, ndim, d;
    int64_t shape[SG_MAX_DIMS], size;
    int seen[SG_N_PARAMS + 1] = {0}, i, status = SG_OK;
    if (!path) return sg_fail(ctx, SG_ERR_ARGUMENT, "no path");
    file = fopen(path, "rb");
    if (!file) return sg_fail(ctx, SG_ERR_IO, "cannot read %s", path);
    if (fread(magic, 1, 8, file) != 8 || memcmp(magic, "SGPARAM1", 8) != 0 ||
        fread(&count, 4, 1, file) != 1) {
        fclose(file);
        return sg_fail(ctx, SG_ERR_IO, "%s is not a symgraph parameter file", path);
    }
    for (k = 0; k < count && status == SG_OK; k++) {
        const sg_param_info *p;
        if (fread(&length, 4, 1, file) != 1 || length >= sizeof name ||
            fread(name, 1, length, file) != length || fread(&dtype, 4, 1, file) != 1 ||
            fread(&ndim, 4, 1, file) != 1 || ndim < 0 || ndim > SG_MAX_DIMS ||
            fread(shape, 8, (size_t)ndim, file) != (size_t)ndim) {
            status = sg_fail(ctx, SG_ERR_IO, "%s is truncated or damaged", path);
            break;
        }
        name[length] = 0;
        p = sg_find(name);
        if (!p) {
            status = sg_fail(ctx, SG_ERR_IO, "%s: unknown parameter '%s'", path, name);
            break;
        }
        size = 1;
        for (d = 0; d < ndim; d++) size *= shape[d];
        if (dtype != p->dtype || ndim != p->ndim || size != p->size ||
            memcmp(shape, p->shape, sizeof(int64_t) * (size_t)ndim) != 0) {
            sg_shape_text(want, sizeof want, p->ndim, p->shape);
            sg_shape_text(got, sizeof got, ndim, shape);
            status = sg_fail(ctx, SG_ERR_IO, "%s: parameter '%s' is %s %s; the library's is "
                             "%s %s", path, name, dtype >= 0 && dtype < 12 ?
                             sg_dtype_name[dtype] : "?", got, sg_dtype_name[p->dtype], want);
            break;
        }
        i = (int)(p - sg_params);
        if (fread(ctx->params[i], 1, (size_t)(size * sg_itemsize[dtype]), file) !=
            (size_t)(size * sg_itemsize[dtype])) {
            status = sg_fail(ctx, SG_ERR_IO, "%s is truncated", path);
            break;
        }
        seen[i] = 1;
    }
    fclose(file);
    for (i = 0; i < SG_N_PARAMS && status == SG_OK; i++)
        if (!seen[i]) status = sg_fail(ctx, SG_ERR_IO, "%s has no parameter '%s'", path,
                                       sg_params[i].name);
    return status;
}

int SG_LIB(param)(SG_LIB(context) *ctx, const char *name, sg_tensor *value) {
    const sg_param_info *p;
    if (!ctx || !name || !value) return ctx ? sg_fail(ctx, SG_ERR_ARGUMENT, "NULL argument")
                                            : SG_ERR_ARGUMENT;
    p = sg_find(name);
    if (!p) return sg_fail(ctx, SG_ERR_NAME, "no parameter named '%s'", name);
    sg_tensor_init(value, ctx->params[p - sg_params], p->dtype, p->ndim, p->shape);
    return SG_OK;
}
