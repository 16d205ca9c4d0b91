// Fused kernels with hand-derived backward passes: layer norm, GELU (tanh form), per-row
// cross-entropy, log-softmax, and the AdamW update. One pass over memory where tfjs takes 5-15 ops.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels.h"
#include "pool.h"
#include "vmath.h"

namespace acft {
namespace {
constexpr int64_t kGrain = 1 << 15;
inline int64_t rowGrain(int64_t n) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(1, n)); }
}  // namespace

// y = (x - mu) * rstd * g + b, rstd = 1/sqrt(var + eps), var biased (as PyTorch).
void layerNormFwd(int64_t rows, int64_t c, const float* x, const float* g, const float* b, float eps, float* y,
                  float* mean, float* rstd) {
  parallelFor(rows, rowGrain(c), [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) {
      const float* p = x + r * c;
      float s = 0.0f;
      for (int64_t i = 0; i < c; ++i) s += p[i];
      float mu = s / c;
      float v = 0.0f;
      for (int64_t i = 0; i < c; ++i) v += (p[i] - mu) * (p[i] - mu);
      float rs = 1.0f / std::sqrt(v / c + eps);
      float* q = y + r * c;
      for (int64_t i = 0; i < c; ++i) q[i] = (p[i] - mu) * rs * g[i] + b[i];
      mean[r] = mu;
      rstd[r] = rs;
    }
  });
}

// Row-wise backward passes that also sum per-column gradients over the rows (norm gains and biases):
// `row(r, part)` handles row r and adds its contributions to `part`, k column vectors of c floats. The
// sums go per block of kSumBlockRows rows, then over the blocks in order: block boundaries do not depend
// on the thread count or on which thread took which chunk, so the result is bitwise the same for any
// number of threads (per-thread partials under a dynamic schedule were not).
constexpr int64_t kSumBlockRows = 32;
template <class Row>
void rowsWithColumnSums(int64_t rows, int64_t c, int k, float* const* sums, const Row& row) {
  int64_t blocks = (rows + kSumBlockRows - 1) / kSumBlockRows;
  std::vector<float> part(static_cast<size_t>(blocks) * k * c, 0.0f);
  parallelFor(blocks, std::max<int64_t>(1, rowGrain(c) / kSumBlockRows), [&](int64_t bBegin, int64_t bEnd, int) {
    for (int64_t blk = bBegin; blk < bEnd; ++blk)
      for (int64_t r = blk * kSumBlockRows, rEnd = std::min(rows, r + kSumBlockRows); r < rEnd; ++r)
        row(r, part.data() + static_cast<size_t>(blk) * k * c);
  });
  for (int j = 0; j < k; ++j)
    for (int64_t i = 0; i < c; ++i) {
      float s = 0.0f;
      for (int64_t blk = 0; blk < blocks; ++blk) s += part[(static_cast<size_t>(blk) * k + j) * c + i];
      sums[j][i] = s;
    }
}

// xhat = (x - mu) rstd; dxhat = dy g;
// dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)); dg = sum_rows dy xhat; db = sum_rows dy.
void layerNormBwd(int64_t rows, int64_t c, const float* dy, const float* x, const float* g, const float* mean,
                  const float* rstd, float* dx, float* dg, float* db) {
  float* sums[2] = {dg, db};
  rowsWithColumnSums(rows, c, 2, sums, [&](int64_t r, float* pg) {
    float* pb = pg + c;
    const float* px = x + r * c;
    const float* pdy = dy + r * c;
    float mu = mean[r], rs = rstd[r];
    float s1 = 0.0f, s2 = 0.0f;
    for (int64_t i = 0; i < c; ++i) {
      float xh = (px[i] - mu) * rs;
      float d = pdy[i] * g[i];
      s1 += d;
      s2 += d * xh;
      pg[i] += pdy[i] * xh;
      pb[i] += pdy[i];
    }
    s1 /= c;
    s2 /= c;
    float* o = dx + r * c;
    for (int64_t i = 0; i < c; ++i) {
      float xh = (px[i] - mu) * rs;
      o[i] = rs * (pdy[i] * g[i] - s1 - xh * s2);
    }
  });
}

void rmsNormFwd(int64_t rows, int64_t c, const float* x, const float* g, float eps, float* y, float* rstd) {
  parallelFor(rows, rowGrain(c), [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) {
      const float* p = x + r * c;
      float s = 0.0f;
      for (int64_t i = 0; i < c; ++i) s += p[i] * p[i];
      float rs = 1.0f / std::sqrt(s / c + eps);
      float* q = y + r * c;
      for (int64_t i = 0; i < c; ++i) q[i] = p[i] * rs * g[i];
      rstd[r] = rs;
    }
  });
}

// y_i = g_i x_i r, r = (mean(x^2) + eps)^(-1/2), dr/dx_j = -r^3 x_j / c:
// dx_j = r (dy_j g_j - x_j r^2 mean_i(dy_i g_i x_i)); dg = sum_rows dy x r.
void rmsNormBwd(int64_t rows, int64_t c, const float* dy, const float* x, const float* g, const float* rstd, float* dx,
                float* dg) {
  float* sums[1] = {dg};
  rowsWithColumnSums(rows, c, 1, sums, [&](int64_t r, float* pg) {
    const float* px = x + r * c;
    const float* pdy = dy + r * c;
    float rs = rstd[r];
    float s = 0.0f;
    for (int64_t i = 0; i < c; ++i) {
      s += pdy[i] * g[i] * px[i];
      pg[i] += pdy[i] * px[i] * rs;
    }
    float k = rs * rs * s / c;
    float* o = dx + r * c;
    for (int64_t i = 0; i < c; ++i) o[i] = rs * (pdy[i] * g[i] - px[i] * k);
  });
}

void swigluFwd(int64_t n, const float* gate, const float* up, float* y) {
  parallelFor(n, kGrain, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      float a = gate[i];
      y[i] = a / (1.0f + vexp(-a)) * up[i];
    }
  });
}

// silu'(a) = sig(a) (1 + a (1 - sig(a))): dgate = dy up silu'(gate), dup = dy silu(gate).
void swigluBwd(int64_t n, const float* dy, const float* gate, const float* up, float* dgate, float* dup) {
  parallelFor(n, kGrain, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      float a = gate[i];
      float sg = 1.0f / (1.0f + vexp(-a));
      dgate[i] = dy[i] * up[i] * sg * (1.0f + a * (1.0f - sg));
      dup[i] = dy[i] * a * sg;
    }
  });
}

void rope(int64_t b, int64_t h, int64_t t, int64_t d, int64_t cb, const float* x, const float* cos, const float* sin,
          float s, float* y) {
  const int64_t half = d / 2;
  parallelFor(b * h * t, rowGrain(d), [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) {
      int64_t bi = r / (h * t), ti = r % t;
      const float* c = cos + ((cb == 1 ? 0 : bi) * t + ti) * half;
      const float* sn = sin + ((cb == 1 ? 0 : bi) * t + ti) * half;
      const float* p = x + r * d;
      float* q = y + r * d;
      for (int64_t i = 0; i < half; ++i) {
        float x1 = p[i], x2 = p[i + half], si = s * sn[i];
        q[i] = x1 * c[i] - x2 * si;
        q[i + half] = x2 * c[i] + x1 * si;
      }
    }
  });
}

constexpr float kGeluC = 0.7978845608028654f;  // sqrt(2/pi)
constexpr float kGeluA = 0.044715f;

void geluFwd(int64_t n, const float* x, float* y) {
  parallelFor(n, kGrain, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      float v = x[i];
      y[i] = 0.5f * v * (1.0f + vtanh(kGeluC * (v + kGeluA * v * v * v)));
    }
  });
}

// d/dx [0.5 x (1 + t)], t = tanh(u), u = c (x + a x^3): 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 a x^2).
void geluBwd(int64_t n, const float* dy, const float* x, float* dx) {
  parallelFor(n, kGrain, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      float v = x[i];
      float t = vtanh(kGeluC * (v + kGeluA * v * v * v));
      float d = 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * kGeluC * (1.0f + 3.0f * kGeluA * v * v);
      dx[i] = dy[i] * d;
    }
  });
}

namespace {
// log sum_i exp(p_i), max-shifted.
inline float rowLse(int64_t n, const float* p) {
  float mx = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, p[i]);
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += vexp(p[i] - mx);
  return mx + std::log(s);
}
}  // namespace

bool xentFwd(int64_t rows, int64_t v, const float* x, const int32_t* t, float* nll, float* lse) {
  for (int64_t r = 0; r < rows; ++r)
    if (t[r] < 0 || t[r] >= v) return false;
  parallelFor(rows, rowGrain(v), [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; ++r) {
      lse[r] = rowLse(v, x + r * v);
      nll[r] = lse[r] - x[r * v + t[r]];
    }
  });
  return true;
}

// d nll_r / d x_rj = softmax(x_r)_j - [j == t_r].
void xentBwd(int64_t rows, int64_t v, const float* dnll, const float* x, const int32_t* t, const float* lse, float* dx) {
  parallelFor(rows, rowGrain(v), [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; ++r) {
      const float* p = x + r * v;
      float* o = dx + r * v;
      float g = dnll[r], l = lse[r];
      for (int64_t j = 0; j < v; ++j) o[j] = g * vexp(p[j] - l);
      o[t[r]] -= g;
    }
  });
}

void logSoftmaxFwd(int64_t rows, int64_t n, const float* x, float* y) {
  parallelFor(rows, rowGrain(n), [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; ++r) {
      float l = rowLse(n, x + r * n);
      for (int64_t i = 0; i < n; ++i) y[r * n + i] = x[r * n + i] - l;
    }
  });
}

// dx = dy - softmax * sum(dy), softmax = exp(y).
void logSoftmaxBwd(int64_t rows, int64_t n, const float* dy, const float* y, float* dx) {
  parallelFor(rows, rowGrain(n), [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; ++r) {
      float s = 0.0f;
      for (int64_t i = 0; i < n; ++i) s += dy[r * n + i];
      for (int64_t i = 0; i < n; ++i) dx[r * n + i] = dy[r * n + i] - vexp(y[r * n + i]) * s;
    }
  });
}

// PyTorch AdamW: p <- p (1 - lr wd); m <- b1 m + (1-b1) g; v <- b2 v + (1-b2) g^2;
// p <- p - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
void adamw(int64_t n, const float* p, const float* g, const float* m, const float* v, float lr, float b1, float b2,
           float eps, float wd, float t, float* po, float* mo, float* vo) {
  const float bc1 = 1.0f / (1.0f - std::pow(b1, t));
  const float bc2 = 1.0f / (1.0f - std::pow(b2, t));
  const float decay = 1.0f - lr * wd;
  parallelFor(n, kGrain, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      float gi = g[i];
      float mi = b1 * m[i] + (1.0f - b1) * gi;
      float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
      mo[i] = mi;
      vo[i] = vi;
      po[i] = p[i] * decay - lr * (mi * bc1) / (std::sqrt(vi * bc2) + eps);
    }
  });
}

}  // namespace acft
