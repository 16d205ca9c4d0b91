// Elementwise (broadcasting binary, unary), strided copies, reductions, softmax, gather and
// segment sums. Parallel over outer rows once the work exceeds ~32K elements per thread.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels.h"
#include "pool.h"
#include "vmath.h"

namespace acft {
namespace {

constexpr int64_t kGrain = 1 << 15;  // elements per thread below which threads cost more than they save

template <int OP>
inline float bop(float a, float b) {
  if constexpr (OP == kAdd) return a + b;
  if constexpr (OP == kSub) return a - b;
  if constexpr (OP == kMul) return a * b;
  if constexpr (OP == kDiv) return a / b;
  if constexpr (OP == kMax) return a > b || std::isnan(a) ? a : b;
  if constexpr (OP == kMin) return a < b || std::isnan(a) ? a : b;
  if constexpr (OP == kSquaredDiff) return (a - b) * (a - b);
  if constexpr (OP == kPow) return b == 3.0f ? a * a * a : (b == 2.0f ? a * a : std::pow(a, b));
  return 0.0f;
}

// Inner loop over the last axis; the four stride cases let the compiler vectorise the common ones.
template <int OP>
void binaryRow(int64_t n, const float* a, int64_t sa, const float* b, int64_t sb, float* out) {
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = bop<OP>(a[i], b[i]);
  } else if (sa == 1 && sb == 0) {
    float bv = b[0];
    for (int64_t i = 0; i < n; ++i) out[i] = bop<OP>(a[i], bv);
  } else if (sa == 0 && sb == 1) {
    float av = a[0];
    for (int64_t i = 0; i < n; ++i) out[i] = bop<OP>(av, b[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = bop<OP>(a[i * sa], b[i * sb]);
  }
}

template <int OP>
void binaryImpl(int rank, const int64_t* shape, const float* a, const int64_t* sa, const float* b, const int64_t* sb,
                float* out) {
  int64_t inner = shape[rank - 1];
  int64_t rows = 1;
  for (int d = 0; d < rank - 1; ++d) rows *= shape[d];
  int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, inner));
  parallelFor(rows, grain, [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) {
      int64_t oa, ob;
      rowOffsets(r, rank, shape, sa, sb, oa, ob);
      binaryRow<OP>(inner, a + oa, sa[rank - 1], b + ob, sb[rank - 1], out + r * inner);
    }
  });
}

template <int OP>
void unaryImpl(int64_t n, const float* x, float* y) {
  parallelFor(n, kGrain, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) {
      float v = x[i];
      if constexpr (OP == kExp) y[i] = vexp(v);
      if constexpr (OP == kTanh) y[i] = vtanh(v);
      if constexpr (OP == kNeg) y[i] = -v;
      if constexpr (OP == kSqrt) y[i] = std::sqrt(v);
      if constexpr (OP == kRsqrt) y[i] = 1.0f / std::sqrt(v);
      if constexpr (OP == kSquare) y[i] = v * v;
      if constexpr (OP == kLog) y[i] = std::log(v);
      if constexpr (OP == kRelu) y[i] = v > 0.0f ? v : (std::isnan(v) ? v : 0.0f);
      if constexpr (OP == kSigmoid) y[i] = 1.0f / (1.0f + vexp(-v));
      if constexpr (OP == kAbs) y[i] = std::fabs(v);
      if constexpr (OP == kReciprocal) y[i] = 1.0f / v;
    }
  });
}

}  // namespace

void binary(int op, int rank, const int64_t* shape, const float* a, const int64_t* sa, const float* b,
            const int64_t* sb, float* out) {
  switch (op) {
    case kAdd: return binaryImpl<kAdd>(rank, shape, a, sa, b, sb, out);
    case kSub: return binaryImpl<kSub>(rank, shape, a, sa, b, sb, out);
    case kMul: return binaryImpl<kMul>(rank, shape, a, sa, b, sb, out);
    case kDiv: return binaryImpl<kDiv>(rank, shape, a, sa, b, sb, out);
    case kMax: return binaryImpl<kMax>(rank, shape, a, sa, b, sb, out);
    case kMin: return binaryImpl<kMin>(rank, shape, a, sa, b, sb, out);
    case kSquaredDiff: return binaryImpl<kSquaredDiff>(rank, shape, a, sa, b, sb, out);
    case kPow: return binaryImpl<kPow>(rank, shape, a, sa, b, sb, out);
  }
}

void unary(int op, int64_t n, const float* x, float* y) {
  switch (op) {
    case kExp: return unaryImpl<kExp>(n, x, y);
    case kTanh: return unaryImpl<kTanh>(n, x, y);
    case kNeg: return unaryImpl<kNeg>(n, x, y);
    case kSqrt: return unaryImpl<kSqrt>(n, x, y);
    case kRsqrt: return unaryImpl<kRsqrt>(n, x, y);
    case kSquare: return unaryImpl<kSquare>(n, x, y);
    case kLog: return unaryImpl<kLog>(n, x, y);
    case kRelu: return unaryImpl<kRelu>(n, x, y);
    case kSigmoid: return unaryImpl<kSigmoid>(n, x, y);
    case kAbs: return unaryImpl<kAbs>(n, x, y);
    case kReciprocal: return unaryImpl<kReciprocal>(n, x, y);
  }
}

void copyStrided(int rank, const int64_t* shape, const float* src, const int64_t* ss, float* dst, const int64_t* ds) {
  int64_t inner = shape[rank - 1], rows = 1;
  for (int d = 0; d < rank - 1; ++d) rows *= shape[d];
  int64_t si = ss[rank - 1], di = ds[rank - 1];
  int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, inner));
  parallelFor(rows, grain, [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) {
      int64_t os, od;
      rowOffsets(r, rank, shape, ss, ds, os, od);
      const float* s = src + os;
      float* o = dst + od;
      if (si == 1 && di == 1) {
        std::memcpy(o, s, inner * sizeof(float));
      } else {
        for (int64_t i = 0; i < inner; ++i) o[i * di] = s[i * si];
      }
    }
  });
}

void reduce(int op, int64_t outer, int64_t red, int64_t inner, const float* x, float* y) {
  const float init = op == 1 ? -std::numeric_limits<float>::infinity() : 0.0f;
  const float scale = op == 2 ? 1.0f / static_cast<float>(red) : 1.0f;
  if (inner == 1) {  // reduce contiguous rows
    parallelFor(outer, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, red)), [&](int64_t b, int64_t e, int) {
      for (int64_t o = b; o < e; ++o) {
        const float* p = x + o * red;
        float acc = init;
        if (op == 1) {
          for (int64_t i = 0; i < red; ++i) acc = (p[i] > acc || std::isnan(p[i])) ? p[i] : acc;
        } else {
          float part[16] = {0};
          int64_t i = 0;
          for (; i + 16 <= red; i += 16)
            for (int j = 0; j < 16; ++j) part[j] += p[i + j];
          for (; i < red; ++i) acc += p[i];
          for (int j = 0; j < 16; ++j) acc += part[j];
        }
        y[o] = acc * scale;
      }
    });
    return;
  }
  // reduce the middle axis: accumulate whole inner rows (vectorised over inner)
  parallelFor(outer * ((inner + 255) / 256), 8, [&](int64_t b, int64_t e, int) {
    int64_t blocks = (inner + 255) / 256;
    for (int64_t t = b; t < e; ++t) {
      int64_t o = t / blocks, j0 = (t % blocks) * 256, nj = std::min<int64_t>(256, inner - j0);
      float* out = y + o * inner + j0;
      for (int64_t j = 0; j < nj; ++j) out[j] = init;
      for (int64_t r = 0; r < red; ++r) {
        const float* p = x + (o * red + r) * inner + j0;
        if (op == 1) {
          for (int64_t j = 0; j < nj; ++j) out[j] = (p[j] > out[j] || std::isnan(p[j])) ? p[j] : out[j];
        } else {
          for (int64_t j = 0; j < nj; ++j) out[j] += p[j];
        }
      }
      if (op == 2)
        for (int64_t j = 0; j < nj; ++j) out[j] *= scale;
    }
  });
}

void softmaxRows(int64_t rows, int64_t n, const float* x, float* y) {
  parallelFor(rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, n)), [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; ++r) softmaxRow(n, x + r * n, y + r * n);
  });
}

bool gather(int64_t outer, int64_t nx, int64_t inner, const float* x, int64_t nidx, const int32_t* idx, float* out) {
  for (int64_t i = 0; i < nidx; ++i)
    if (idx[i] < 0 || idx[i] >= nx) return false;
  parallelFor(outer * nidx, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, inner)), [&](int64_t b, int64_t e, int) {
    for (int64_t t = b; t < e; ++t) {
      int64_t o = t / nidx, i = t % nidx;
      std::memcpy(out + t * inner, x + (o * nx + idx[i]) * inner, inner * sizeof(float));
    }
  });
  return true;
}

void segmentSum(int64_t n, int64_t inner, const float* x, const int32_t* seg, int64_t nseg, float* out) {
  std::memset(out, 0, nseg * inner * sizeof(float));
  // Threads own disjoint column blocks of the output, so no two threads write the same element.
  int64_t blocks = (inner + 63) / 64;
  parallelFor(blocks, n * 64 >= kGrain ? 1 : blocks, [&](int64_t b, int64_t e, int) {
    for (int64_t i = 0; i < n; ++i) {
      int32_t s = seg[i];
      if (s < 0 || s >= nseg) continue;
      for (int64_t blk = b; blk < e; ++blk) {
        int64_t j0 = blk * 64, nj = std::min<int64_t>(64, inner - j0);
        float* o = out + s * inner + j0;
        const float* p = x + i * inner + j0;
        for (int64_t j = 0; j < nj; ++j) o[j] += p[j];
      }
    }
  });
}

}  // namespace acft
