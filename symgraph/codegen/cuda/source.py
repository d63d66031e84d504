"""CUDA C building blocks every generated kernel shares: C types of dtypes, literals, and the
prelude (float16 storage, NumPy's float-to-int casts, warp reductions, atomics, error flags).

The prelude compiles as CUDA C++ (NVRTC, nvcc) and, with ``SG_HOST`` defined, as host C++ (g++):
then a "GPU" has one block of one thread and one-lane warps, which lets the CPU emulator run the
very same kernels. Every kernel is written to be correct for any grid and block size.
"""

from __future__ import annotations

import math

import numpy as np

from symgraph import dtype as dt

# Storage types: how a dtype lies in memory (float16 as its raw 16 bits).
STORAGE: dict[str, str] = {
    "bool": "bool", "int8": "sg_i8", "int16": "sg_i16", "int32": "sg_i32", "int64": "sg_i64",
    "uint8": "sg_u8", "uint16": "sg_u16", "uint32": "sg_u32", "uint64": "sg_u64",
    "float16": "sg_f16", "float32": "float", "float64": "double",
}
# Register types: float16 values are held as float, rounded to half precision.
REGISTER: dict[str, str] = {**STORAGE, "float16": "float"}
# Unsigned types wrapping integer arithmetic is done in (signed overflow is undefined in C).
WRAPPING: dict[str, str] = {
    "int8": "sg_u32", "int16": "sg_u32", "int32": "sg_u32", "int64": "sg_u64",
    "uint8": "sg_u32", "uint16": "sg_u32", "uint32": "sg_u32", "uint64": "sg_u64",
}


def storage_type(dtype: str) -> str:
    return STORAGE[dtype]


def register_type(dtype: str) -> str:
    return REGISTER[dtype]


def load(dtype: str, pointer: str, offset: str) -> str:
    """C expression reading element ``offset`` of ``pointer`` into a register."""
    if dtype == "float16":
        return f"sg_h2f({pointer}[{offset}])"
    return f"{pointer}[{offset}]"


def store_value(dtype: str, value: str) -> str:
    """C expression converting register ``value`` (already of ``dtype``) to its storage."""
    return f"sg_f2h({value})" if dtype == "float16" else value


def literal(value: float | bool, dtype: str) -> str:
    """A C literal of ``value`` as ``dtype`` would hold it (NumPy's ``astype``)."""
    if dtype == "bool":
        return "true" if bool(value) else "false"
    if dt.is_float(dtype):
        return float_literal(float(value), dtype)
    bits = 8 * np.dtype(dtype).itemsize
    number = int(value) & ((1 << bits) - 1)
    if dtype in dt.INT_DTYPES and number >= 1 << (bits - 1):
        number -= 1 << bits
    if dtype == "uint64":
        return f"{number}ULL"
    if dtype == "int64":
        if number == -(1 << 63):
            return "(-9223372036854775807LL - 1)"
        return f"{number}LL" if number >= 0 else f"({number}LL)"
    if dtype in ("int32", "uint32"):
        text = "(-2147483647 - 1)" if number == -(1 << 31) else str(number)
        return f"(({STORAGE[dtype]})({text}{'u' if dtype == 'uint32' else ''}))"
    return f"(({STORAGE[dtype]})({number}))"


def float_literal(value: float, dtype: str) -> str:
    """Exact literal of ``value`` rounded to ``dtype`` (float16 values are float registers)."""
    if dtype == "float64":
        rounded = float(value)
        suffix, kind = "", "d"
    else:
        rounded = float(np.asarray(value, dtype=dtype).astype(np.float64))
        suffix, kind = "f", "f"
    if math.isnan(rounded):
        return f"SG_NAN_{kind.upper()}"
    if math.isinf(rounded):
        return f"SG_INF_{kind.upper()}" if rounded > 0 else f"(-SG_INF_{kind.upper()})"
    text = repr(rounded)
    if "e" not in text and "." not in text:
        text += ".0"
    return f"{text}{suffix}" if not text.startswith("-") else f"({text}{suffix})"


PRELUDE = r"""
typedef signed char sg_i8; typedef short sg_i16; typedef int sg_i32; typedef long long sg_i64;
typedef unsigned char sg_u8; typedef unsigned short sg_u16; typedef unsigned int sg_u32;
typedef unsigned long long sg_u64; typedef unsigned short sg_f16;
#ifdef SG_HOST
#include <math.h>
#include <string.h>
#define SG_KERNEL extern "C"
#define SG_DEV static inline
#define SG_SHARED static
#define SG_SYNC() ((void)0)
#define SG_WARP 1
struct sg_dim3 { unsigned int x, y, z; };
static const sg_dim3 threadIdx = {0u, 0u, 0u}, blockIdx = {0u, 0u, 0u};
static const sg_dim3 blockDim = {1u, 1u, 1u}, gridDim = {1u, 1u, 1u};
SG_DEV float sg_h2f(sg_f16 h) { _Float16 v; memcpy(&v, &h, 2); return (float)v; }
SG_DEV sg_f16 sg_f2h(float f) { _Float16 v = (_Float16)f; sg_f16 h; memcpy(&h, &v, 2); return h; }
SG_DEV sg_f16 sg_d2h(double d) { _Float16 v = (_Float16)d; sg_f16 h; memcpy(&h, &v, 2); return h; }
template <typename T> SG_DEV T sg_shfl_down(T v, int) { return v; }
template <typename T> SG_DEV T sg_shfl_xor(T v, int) { return v; }
template <typename T> SG_DEV void sg_atomic_add(T* p, T v) { *p = (T)(*p + v); }
SG_DEV void sg_atomic_add(bool* p, bool v) { *p = *p || v; }
SG_DEV void sg_atomic_add_f16(sg_f16* p, float v) { *p = sg_f2h(sg_h2f(*p) + v); }
SG_DEV void sg_raise(int* flag, int code) { if (*flag == 0) *flag = code; }
#else
#define SG_KERNEL extern "C" __global__
#define SG_DEV static __device__ __forceinline__
#define SG_SHARED __shared__
#define SG_SYNC() __syncthreads()
#define SG_WARP 32
SG_DEV float sg_h2f(sg_f16 h) { float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h)); return f; }
SG_DEV sg_f16 sg_f2h(float f) { sg_f16 h; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f)); return h; }
SG_DEV sg_f16 sg_d2h(double d) { sg_f16 h; asm("cvt.rn.f16.f64 %0, %1;" : "=h"(h) : "d"(d)); return h; }
template <typename T> SG_DEV T sg_shfl_down(T v, int o) {
  return (T)__shfl_down_sync(0xffffffffu, v, o);
}
template <typename T> SG_DEV T sg_shfl_xor(T v, int o) {
  return (T)__shfl_xor_sync(0xffffffffu, v, o);
}
SG_DEV bool sg_shfl_down(bool v, int o) { return __shfl_down_sync(0xffffffffu, (int)v, o) != 0; }
SG_DEV sg_i8 sg_shfl_down(sg_i8 v, int o) { return (sg_i8)__shfl_down_sync(0xffffffffu, (int)v, o); }
SG_DEV sg_u8 sg_shfl_down(sg_u8 v, int o) { return (sg_u8)__shfl_down_sync(0xffffffffu, (int)v, o); }
SG_DEV sg_i16 sg_shfl_down(sg_i16 v, int o) { return (sg_i16)__shfl_down_sync(0xffffffffu, (int)v, o); }
SG_DEV sg_u16 sg_shfl_down(sg_u16 v, int o) { return (sg_u16)__shfl_down_sync(0xffffffffu, (int)v, o); }
SG_DEV void sg_atomic_add(float* p, float v) { atomicAdd(p, v); }
SG_DEV void sg_atomic_add(double* p, double v) { atomicAdd(p, v); }
SG_DEV void sg_atomic_add(sg_i32* p, sg_i32 v) { atomicAdd(p, v); }
SG_DEV void sg_atomic_add(sg_u32* p, sg_u32 v) { atomicAdd(p, v); }
SG_DEV void sg_atomic_add(sg_u64* p, sg_u64 v) { atomicAdd((unsigned long long*)p, (unsigned long long)v); }
SG_DEV void sg_atomic_add(sg_i64* p, sg_i64 v) { atomicAdd((unsigned long long*)p, (unsigned long long)v); }
// 8- and 16-bit values: compare-and-swap on the aligned 32-bit word that holds them.
template <typename T> SG_DEV sg_u32 sg_narrow_sum(sg_u32 bits, T v) { T cur; memcpy(&cur, &bits, sizeof(T)); cur = (T)(cur + v); sg_u32 out = 0; memcpy(&out, &cur, sizeof(T)); return out; }
SG_DEV sg_u32 sg_narrow_sum(sg_u32 bits, bool v) { return (bits != 0u || v) ? 1u : 0u; }
template <typename T, typename V> SG_DEV void sg_atomic_narrow(T* p, V v, bool half) {
  sg_u32* word = (sg_u32*)((size_t)p & ~(size_t)3);
  unsigned shift = (unsigned)(((size_t)p & 3) * 8);
  sg_u32 mask = (sizeof(T) == 1 ? 0xffu : 0xffffu) << shift;
  sg_u32 old = *word, assumed;
  do {
    assumed = old;
    sg_u32 bits = (assumed & mask) >> shift, next;
    if (half) next = (sg_u32)sg_f2h(sg_h2f((sg_f16)bits) + (float)v);
    else next = sg_narrow_sum<T>(bits, (T)v);
    old = atomicCAS(word, assumed, (assumed & ~mask) | ((next << shift) & mask));
  } while (assumed != old);
}
SG_DEV void sg_atomic_add(sg_i8* p, sg_i8 v) { sg_atomic_narrow(p, v, false); }
SG_DEV void sg_atomic_add(sg_u8* p, sg_u8 v) { sg_atomic_narrow(p, v, false); }
SG_DEV void sg_atomic_add(sg_i16* p, sg_i16 v) { sg_atomic_narrow(p, v, false); }
SG_DEV void sg_atomic_add(sg_u16* p, sg_u16 v) { sg_atomic_narrow(p, v, false); }
SG_DEV void sg_atomic_add(bool* p, bool v) { if (v) sg_atomic_narrow((sg_u8*)p, (sg_u8)1, false); }
SG_DEV void sg_atomic_add_f16(sg_f16* p, float v) { sg_atomic_narrow(p, v, true); }
SG_DEV void sg_raise(int* flag, int code) { atomicCAS(flag, 0, code); }
#endif
#ifdef SG_HOST
#define SG_INF_F __builtin_inff()
#define SG_NAN_F __builtin_nanf("")
#define SG_INF_D __builtin_inf()
#define SG_NAN_D __builtin_nan("")
#else
#define SG_INF_F __int_as_float(0x7f800000)
#define SG_NAN_F __int_as_float(0x7fc00000)
#define SG_INF_D __longlong_as_double(0x7ff0000000000000LL)
#define SG_NAN_D __longlong_as_double(0x7ff8000000000000LL)
#endif
// Float to integer as NumPy's C casts give it on x86 (cvtt*): NaN and out-of-range values give
// the smallest integer of the conversion's width; narrower targets wrap from 32 bits.
SG_DEV sg_i32 sg_cvt32(double a) {
  return (a >= -2147483648.0 && a < 2147483648.0) ? (sg_i32)a : (sg_i32)(-2147483647 - 1);
}
SG_DEV sg_i64 sg_cvt64(double a) {
  return (a >= -9223372036854775808.0 && a < 9223372036854775808.0)
      ? (sg_i64)a : (-9223372036854775807LL - 1);
}
SG_DEV sg_u64 sg_cvtu64(double a) {
  return a >= 9223372036854775808.0
      ? ((sg_u64)sg_cvt64(a - 9223372036854775808.0) ^ 0x8000000000000000ULL) : (sg_u64)sg_cvt64(a);
}
// Stable logistic functions (as the NumPy reference computes them).
SG_DEV float sg_sigmoidf(float x) { float e = expf(-fabsf(x)); return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e); }
SG_DEV double sg_sigmoid(double x) { double e = exp(-fabs(x)); return x >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e); }
SG_DEV float sg_softplusf(float x) { return x > 0.0f ? x + log1pf(expf(-x)) : log1pf(expf(x)); }
SG_DEV double sg_softplus(double x) { return x > 0.0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
"""


def prelude() -> str:
    return PRELUDE


# Error codes kernels report through the schedule's flag (checked after each call).
ERROR_INDEX = 1
ERROR_CLASS_INDEX = 2
ERROR_MESSAGES = {
    ERROR_INDEX: (IndexError, "an index is out of bounds"),
    ERROR_CLASS_INDEX: (ValueError, "class indices must lie in [0, n_classes)"),
}
