// N-API bindings. Arrays are Float32Array/Int32Array views passed without copying (the cpu-based
// "acft" backend keeps tensor data in JS typed arrays). Every binding checks element types and
// that each array is long enough for the shapes it is given, so a glue bug throws a RangeError
// instead of corrupting memory.
#include <node_api.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernels.h"
#include "pool.h"

namespace {

struct Args {
  napi_env env;
  napi_value argv[16];
  size_t argc = 16;
  bool failed = false;

  Args(napi_env e, napi_callback_info info) : env(e) { napi_get_cb_info(e, info, &argc, argv, nullptr, nullptr); }

  void fail(const std::string& msg) {
    if (!failed) napi_throw_range_error(env, nullptr, msg.c_str());
    failed = true;
  }
  double num(size_t i) {
    double v = 0;
    if (i >= argc || napi_get_value_double(env, argv[i], &v) != napi_ok) fail("argument " + std::to_string(i) + " must be a number");
    return v;
  }
  int64_t i64(size_t i) { return static_cast<int64_t>(num(i)); }
  template <typename T>
  T* array(size_t i, napi_typedarray_type want, int64_t minLen) {
    if (failed) return nullptr;
    napi_typedarray_type type;
    size_t len = 0;
    void* data = nullptr;
    bool is = false;
    if (i < argc) napi_is_typedarray(env, argv[i], &is);
    if (!is || napi_get_typedarray_info(env, argv[i], &type, &len, &data, nullptr, nullptr) != napi_ok || type != want) {
      fail("argument " + std::to_string(i) + (want == napi_float32_array ? " must be a Float32Array" : " must be an Int32Array"));
      return nullptr;
    }
    if (static_cast<int64_t>(len) < minLen) {
      fail("argument " + std::to_string(i) + " has " + std::to_string(len) + " elements, needs " + std::to_string(minLen));
      return nullptr;
    }
    return static_cast<T*>(data);
  }
  float* f32(size_t i, int64_t n) { return array<float>(i, napi_float32_array, n); }
  int32_t* i32(size_t i, int64_t n) { return array<int32_t>(i, napi_int32_array, n); }
  // Length of typed-array argument i (0 when it is none; the f32/i32 read that follows reports it).
  size_t length(size_t i) {
    napi_typedarray_type t;
    size_t n = 0;
    if (i < argc) napi_get_typedarray_info(env, argv[i], &t, &n, nullptr, nullptr, nullptr);
    return n;
  }
  bool isNull(size_t i) {
    napi_valuetype t;
    return i >= argc || (napi_typeof(env, argv[i], &t) == napi_ok && (t == napi_null || t == napi_undefined));
  }
  // Reads an Int32Array of `rank` dims/strides into int64.
  std::vector<int64_t> dims(size_t i, int64_t rank) {
    int32_t* p = i32(i, rank);
    std::vector<int64_t> out(rank > 0 ? rank : 0);
    if (p)
      for (int64_t d = 0; d < rank; ++d) out[d] = p[d];
    return out;
  }
};

napi_value undef(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}
napi_value boolean(napi_env env, bool b) {
  napi_value v;
  napi_get_boolean(env, b, &v);
  return v;
}

// Smallest array length that strided indexing over `shape` reaches from offset 0.
int64_t span(const std::vector<int64_t>& shape, const std::vector<int64_t>& strides) {
  int64_t last = 0;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) return 0;
    last += (shape[d] - 1) * strides[d];
  }
  return last + 1;
}

#define FN(name) napi_value name(napi_env env, napi_callback_info info)
#define ARGS Args a(env, info)
#define DONE return a.failed ? nullptr : undef(env)

// gemm(A, B, C, batch, M, N, K, strideA, transA, strideB, transB)
FN(Gemm) {
  ARGS;
  int64_t batch = a.i64(3), M = a.i64(4), N = a.i64(5), K = a.i64(6), sA = a.i64(7), sB = a.i64(9);
  bool tA = a.num(8) != 0, tB = a.num(10) != 0;
  const float* A = a.f32(0, (batch - 1) * sA + M * K);
  const float* B = a.f32(1, (batch - 1) * sB + K * N);
  float* C = a.f32(2, batch * M * N);
  if (!a.failed) acft::batchedGemm(batch, M, N, K, A, sA, tA, B, sB, tB, C);
  DONE;
}

// binary(op, shape, a, sa, b, sb, out)
FN(Binary) {
  ARGS;
  int op = static_cast<int>(a.num(0));
  napi_typedarray_type t;
  size_t rank = 0;
  napi_get_typedarray_info(env, a.argv[1], &t, &rank, nullptr, nullptr, nullptr);
  if (rank < 1 || rank > 8 || op < 0 || op >= acft::kNumBinary) a.fail("binary: bad rank or op");
  auto shape = a.dims(1, rank), sa = a.dims(3, rank), sb = a.dims(5, rank);
  int64_t n = 1;
  for (auto s : shape) n *= s;
  const float* x = a.f32(2, span(shape, sa));
  const float* y = a.f32(4, span(shape, sb));
  float* out = a.f32(6, n);
  if (!a.failed && n > 0) acft::binary(op, static_cast<int>(rank), shape.data(), x, sa.data(), y, sb.data(), out);
  DONE;
}

// unary(op, x, y)
FN(Unary) {
  ARGS;
  int op = static_cast<int>(a.num(0));
  if (op < 0 || op >= acft::kNumUnary) a.fail("unary: bad op");
  napi_typedarray_type t;
  size_t n = 0;
  napi_get_typedarray_info(env, a.argv[1], &t, &n, nullptr, nullptr, nullptr);
  const float* x = a.f32(1, n);
  float* y = a.f32(2, n);
  if (!a.failed) acft::unary(op, static_cast<int64_t>(n), x, y);
  DONE;
}

// copyStrided(shape, src, srcOffset, srcStrides, dst, dstOffset, dstStrides)
FN(CopyStrided) {
  ARGS;
  napi_typedarray_type t;
  size_t rank = 0;
  napi_get_typedarray_info(env, a.argv[0], &t, &rank, nullptr, nullptr, nullptr);
  if (rank < 1 || rank > 8) a.fail("copyStrided: rank must be 1..8");
  auto shape = a.dims(0, rank), ss = a.dims(3, rank), ds = a.dims(6, rank);
  int64_t so = a.i64(2), dof = a.i64(5);
  const float* src = a.f32(1, so + span(shape, ss));
  float* dst = a.f32(4, dof + span(shape, ds));
  if (!a.failed && span(shape, ss) > 0) acft::copyStrided(static_cast<int>(rank), shape.data(), src + so, ss.data(), dst + dof, ds.data());
  DONE;
}

// reduce(op, outer, red, inner, x, y)
FN(Reduce) {
  ARGS;
  int op = static_cast<int>(a.num(0));
  int64_t outer = a.i64(1), red = a.i64(2), inner = a.i64(3);
  const float* x = a.f32(4, outer * red * inner);
  float* y = a.f32(5, outer * inner);
  if (!a.failed) acft::reduce(op, outer, red, inner, x, y);
  DONE;
}

// softmax(rows, n, x, y)
FN(Softmax) {
  ARGS;
  int64_t rows = a.i64(0), n = a.i64(1);
  const float* x = a.f32(2, rows * n);
  float* y = a.f32(3, rows * n);
  if (!a.failed) acft::softmaxRows(rows, n, x, y);
  DONE;
}

// gather(outer, nx, inner, x, idx, out) -> false on an index out of range
FN(Gather) {
  ARGS;
  int64_t outer = a.i64(0), nx = a.i64(1), inner = a.i64(2);
  napi_typedarray_type t;
  size_t nidx = 0;
  napi_get_typedarray_info(env, a.argv[4], &t, &nidx, nullptr, nullptr, nullptr);
  const float* x = a.f32(3, outer * nx * inner);
  const int32_t* idx = a.i32(4, nidx);
  float* out = a.f32(5, outer * static_cast<int64_t>(nidx) * inner);
  if (a.failed) return nullptr;
  return boolean(env, acft::gather(outer, nx, inner, x, nidx, idx, out));
}

// segmentSum(n, inner, x, seg, nseg, out)
FN(SegmentSum) {
  ARGS;
  int64_t n = a.i64(0), inner = a.i64(1), nseg = a.i64(4);
  const float* x = a.f32(2, n * inner);
  const int32_t* seg = a.i32(3, n);
  float* out = a.f32(5, nseg * inner);
  if (!a.failed) acft::segmentSum(n, inner, x, seg, nseg, out);
  DONE;
}

// layerNormFwd(rows, c, x, g, b, eps, y, mean, rstd)
FN(LayerNormFwd) {
  ARGS;
  int64_t rows = a.i64(0), c = a.i64(1);
  float eps = static_cast<float>(a.num(5));
  const float *x = a.f32(2, rows * c), *g = a.f32(3, c), *b = a.f32(4, c);
  float *y = a.f32(6, rows * c), *mean = a.f32(7, rows), *rstd = a.f32(8, rows);
  if (!a.failed) acft::layerNormFwd(rows, c, x, g, b, eps, y, mean, rstd);
  DONE;
}

// layerNormBwd(rows, c, dy, x, g, mean, rstd, dx, dg, db)
FN(LayerNormBwd) {
  ARGS;
  int64_t rows = a.i64(0), c = a.i64(1);
  const float *dy = a.f32(2, rows * c), *x = a.f32(3, rows * c), *g = a.f32(4, c);
  const float *mean = a.f32(5, rows), *rstd = a.f32(6, rows);
  float *dx = a.f32(7, rows * c), *dg = a.f32(8, c), *db = a.f32(9, c);
  if (!a.failed) acft::layerNormBwd(rows, c, dy, x, g, mean, rstd, dx, dg, db);
  DONE;
}

// rmsNormFwd(rows, c, x, g, eps, y, rstd)
FN(RmsNormFwd) {
  ARGS;
  int64_t rows = a.i64(0), c = a.i64(1);
  float eps = static_cast<float>(a.num(4));
  const float *x = a.f32(2, rows * c), *g = a.f32(3, c);
  float *y = a.f32(5, rows * c), *rstd = a.f32(6, rows);
  if (!a.failed) acft::rmsNormFwd(rows, c, x, g, eps, y, rstd);
  DONE;
}

// rmsNormBwd(rows, c, dy, x, g, rstd, dx, dg)
FN(RmsNormBwd) {
  ARGS;
  int64_t rows = a.i64(0), c = a.i64(1);
  const float *dy = a.f32(2, rows * c), *x = a.f32(3, rows * c), *g = a.f32(4, c), *rstd = a.f32(5, rows);
  float *dx = a.f32(6, rows * c), *dg = a.f32(7, c);
  if (!a.failed) acft::rmsNormBwd(rows, c, dy, x, g, rstd, dx, dg);
  DONE;
}

// swigluFwd(gate, up, y) / swigluBwd(dy, gate, up, dgate, dup)
FN(SwigluFwd) {
  ARGS;
  size_t n = a.length(0);
  const float *gate = a.f32(0, n), *up = a.f32(1, n);
  float* y = a.f32(2, n);
  if (!a.failed) acft::swigluFwd(n, gate, up, y);
  DONE;
}
FN(SwigluBwd) {
  ARGS;
  size_t n = a.length(0);
  const float *dy = a.f32(0, n), *gate = a.f32(1, n), *up = a.f32(2, n);
  float *dgate = a.f32(3, n), *dup = a.f32(4, n);
  if (!a.failed) acft::swigluBwd(n, dy, gate, up, dgate, dup);
  DONE;
}

// rope(b, h, t, d, cb, x, cos, sin, sign, y)
FN(Rope) {
  ARGS;
  int64_t b = a.i64(0), h = a.i64(1), t = a.i64(2), d = a.i64(3), cb = a.i64(4);
  if (d % 2 != 0 || (cb != 1 && cb != b)) {
    napi_throw_range_error(env, nullptr, "rope: the head size must be even and cos/sin shared or per batch row");
    return nullptr;
  }
  const float *x = a.f32(5, b * h * t * d), *cs = a.f32(6, cb * t * (d / 2)), *sn = a.f32(7, cb * t * (d / 2));
  float sign = static_cast<float>(a.num(8));
  float* y = a.f32(9, b * h * t * d);
  if (!a.failed) acft::rope(b, h, t, d, cb, x, cs, sn, sign, y);
  DONE;
}

// geluFwd(x, y) / geluBwd(dy, x, dx)
FN(GeluFwd) {
  ARGS;
  size_t n = a.length(0);
  const float* x = a.f32(0, n);
  float* y = a.f32(1, n);
  if (!a.failed) acft::geluFwd(n, x, y);
  DONE;
}
FN(GeluBwd) {
  ARGS;
  size_t n = a.length(0);
  const float *dy = a.f32(0, n), *x = a.f32(1, n);
  float* dx = a.f32(2, n);
  if (!a.failed) acft::geluBwd(n, dy, x, dx);
  DONE;
}

// xentFwd(rows, v, x, t, nll, lse) -> false on a target out of range
FN(XentFwd) {
  ARGS;
  int64_t rows = a.i64(0), v = a.i64(1);
  const float* x = a.f32(2, rows * v);
  const int32_t* t = a.i32(3, rows);
  float *nll = a.f32(4, rows), *lse = a.f32(5, rows);
  if (a.failed) return nullptr;
  return boolean(env, acft::xentFwd(rows, v, x, t, nll, lse));
}
// xentBwd(rows, v, dnll, x, t, lse, dx)
FN(XentBwd) {
  ARGS;
  int64_t rows = a.i64(0), v = a.i64(1);
  const float *dnll = a.f32(2, rows), *x = a.f32(3, rows * v);
  const int32_t* t = a.i32(4, rows);
  const float* lse = a.f32(5, rows);
  float* dx = a.f32(6, rows * v);
  if (!a.failed) acft::xentBwd(rows, v, dnll, x, t, lse, dx);
  DONE;
}

// logSoftmaxFwd(rows, n, x, y) / logSoftmaxBwd(rows, n, dy, y, dx)
FN(LogSoftmaxFwd) {
  ARGS;
  int64_t rows = a.i64(0), n = a.i64(1);
  const float* x = a.f32(2, rows * n);
  float* y = a.f32(3, rows * n);
  if (!a.failed) acft::logSoftmaxFwd(rows, n, x, y);
  DONE;
}
FN(LogSoftmaxBwd) {
  ARGS;
  int64_t rows = a.i64(0), n = a.i64(1);
  const float *dy = a.f32(2, rows * n), *y = a.f32(3, rows * n);
  float* dx = a.f32(4, rows * n);
  if (!a.failed) acft::logSoftmaxBwd(rows, n, dy, y, dx);
  DONE;
}

// adamw(p, g, m, v, lr, b1, b2, eps, wd, t, po, mo, vo)
FN(AdamW) {
  ARGS;
  napi_typedarray_type t;
  size_t n = 0;
  napi_get_typedarray_info(env, a.argv[0], &t, &n, nullptr, nullptr, nullptr);
  const float *p = a.f32(0, n), *g = a.f32(1, n), *m = a.f32(2, n), *v = a.f32(3, n);
  float h[6];
  for (int i = 0; i < 6; ++i) h[i] = static_cast<float>(a.num(4 + i));
  float *po = a.f32(10, n), *mo = a.f32(11, n), *vo = a.f32(12, n);
  if (!a.failed) acft::adamw(n, p, g, m, v, h[0], h[1], h[2], h[3], h[4], h[5], po, mo, vo);
  DONE;
}

// attentionFwd(bh, h, tq, tk, d, q, k, v, bias|null, out, p)
FN(AttentionFwd) {
  ARGS;
  int64_t bh = a.i64(0), h = a.i64(1), tq = a.i64(2), tk = a.i64(3), d = a.i64(4);
  if (h <= 0 || bh % h != 0 || tq > tk) a.fail("attentionFwd: need bh % h == 0 and tq <= tk");
  const float *q = a.f32(5, bh * tq * d), *k = a.f32(6, bh * tk * d), *v = a.f32(7, bh * tk * d);
  const float* bias = a.isNull(8) ? nullptr : a.f32(8, (bh / (h > 0 ? h : 1)) * tk);
  float *out = a.f32(9, bh * tq * d), *p = a.f32(10, bh * tq * tk);
  if (!a.failed) acft::attentionFwd(bh, h, tq, tk, d, q, k, v, bias, out, p);
  DONE;
}

// attentionBwd(bh, tq, tk, d, causal, dout, q, k, v, p, dq, dk, dv, ds)
FN(AttentionBwd) {
  ARGS;
  int64_t bh = a.i64(0), tq = a.i64(1), tk = a.i64(2), d = a.i64(3);
  bool causal = a.num(4) != 0;
  if (tq > tk) a.fail("attentionBwd: need tq <= tk");
  const float *dout = a.f32(5, bh * tq * d), *q = a.f32(6, bh * tq * d), *k = a.f32(7, bh * tk * d);
  const float *v = a.f32(8, bh * tk * d), *p = a.f32(9, bh * tq * tk);
  float *dq = a.f32(10, bh * tq * d), *dk = a.f32(11, bh * tk * d), *dv = a.f32(12, bh * tk * d);
  float* ds = a.f32(13, bh * tq * tk);
  if (!a.failed) acft::attentionBwd(bh, tq, tk, d, causal, dout, q, k, v, p, dq, dk, dv, ds);
  DONE;
}

FN(NumThreads) {
  napi_value v;
  napi_create_int32(env, acft::numThreads(), &v);
  return v;
}
FN(SetNumThreads) {
  ARGS;
  int n = static_cast<int>(a.num(0));
  if (!a.failed) acft::setNumThreads(n);
  DONE;
}

// Which vector ISA this build was compiled for (chosen at build time by -march).
FN(Isa) {
  napi_value v;
#if defined(__AVX512F__)
  const char* isa = "avx512";
#elif defined(__AVX2__)
  const char* isa = "avx2";
#else
  const char* isa = "generic";
#endif
  napi_create_string_utf8(env, isa, NAPI_AUTO_LENGTH, &v);
  return v;
}

napi_value Init(napi_env env, napi_value exports) {
  struct Entry {
    const char* name;
    napi_callback fn;
  } entries[] = {
      {"gemm", Gemm}, {"binary", Binary}, {"unary", Unary}, {"copyStrided", CopyStrided}, {"reduce", Reduce},
      {"softmax", Softmax}, {"gather", Gather}, {"segmentSum", SegmentSum}, {"layerNormFwd", LayerNormFwd},
      {"layerNormBwd", LayerNormBwd}, {"geluFwd", GeluFwd}, {"geluBwd", GeluBwd},
      {"rmsNormFwd", RmsNormFwd}, {"rmsNormBwd", RmsNormBwd}, {"swigluFwd", SwigluFwd}, {"swigluBwd", SwigluBwd},
      {"rope", Rope}, {"xentFwd", XentFwd},
      {"xentBwd", XentBwd}, {"logSoftmaxFwd", LogSoftmaxFwd}, {"logSoftmaxBwd", LogSoftmaxBwd}, {"adamw", AdamW},
      {"attentionFwd", AttentionFwd}, {"attentionBwd", AttentionBwd}, {"numThreads", NumThreads},
      {"setNumThreads", SetNumThreads}, {"isa", Isa},
  };
  for (const auto& e : entries) {
    napi_value fn;
    napi_create_function(env, e.name, NAPI_AUTO_LENGTH, e.fn, nullptr, &fn);
    napi_set_named_property(env, exports, e.name, fn);
  }
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
