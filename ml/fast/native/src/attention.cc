// Fused causal attention per (batch, head): S = q k^T / sqrt(D) + causal + bias; P = softmax(S);
// O = P v. P is kept for the backward pass:
//   dV = P^T dO;  dP = dO v^T;  dS = P o (dP - rowsum(dP o P));  dq = dS k / sqrt(D);  dk = dS^T q / sqrt(D).
// The causal mask adds MASKED = -1e9 exactly like the reference (ml/ops.ts), so rows whose every
// allowed key is also hidden by the key bias get the same probabilities as the reference.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels.h"
#include "pool.h"
#include "vmath.h"

namespace acft {
namespace {
constexpr float kMasked = -1e9f;

int64_t grainFor(double flopsPerTask) {
  return flopsPerTask > 2e5 ? 1 : static_cast<int64_t>(2e5 / std::max(1.0, flopsPerTask));
}

}  // namespace

void attentionFwd(int64_t bh, int64_t h, int64_t tq, int64_t tk, int64_t d, const float* q, const float* k,
                  const float* v, const float* bias, float* out, float* p) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  const int64_t off = tk - tq;
  parallelFor(bh, grainFor(4.0 * tq * tk * d), [&](int64_t begin, int64_t end, int) {
    for (int64_t x = begin; x < end; ++x) {
      const float* qx = q + x * tq * d;
      const float* kx = k + x * tk * d;
      float* px = p + x * tq * tk;
      gemmST(tq, tk, d, qx, d, 1, kx, 1, d, px, tk, false);  // (Tq, D) (D, Tk)
      const float* bx = bias ? bias + (x / h) * tk : nullptr;
      for (int64_t i = 0; i < tq; ++i) {
        float* s = px + i * tk;
        const int64_t last = off + i;  // last key this query may attend
        if (!bx) {
          for (int64_t j = 0; j <= last; ++j) s[j] *= scale;
          softmaxRow(last + 1, s, s);
          for (int64_t j = last + 1; j < tk; ++j) s[j] = 0.0f;
        } else {
          for (int64_t j = 0; j < tk; ++j) s[j] = (s[j] * scale + (j > last ? kMasked : 0.0f)) + bx[j];
          softmaxRow(tk, s, s);
        }
      }
      gemmST(tq, d, tk, px, tk, 1, v + x * tk * d, d, 1, out + x * tq * d, d, false);  // (Tq, Tk) (Tk, D)
    }
  });
}

// ds (BH, Tq, Tk) receives dS (before the 1/sqrt(D) scale): the gradient of the added key bias.
void attentionBwd(int64_t bh, int64_t tq, int64_t tk, int64_t d, const float* dout, const float* q, const float* k,
                  const float* v, const float* p, float* dq, float* dk, float* dv, float* ds) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  parallelFor(bh, grainFor(8.0 * tq * tk * d), [&](int64_t begin, int64_t end, int) {
    for (int64_t x = begin; x < end; ++x) {
      const float* px = p + x * tq * tk;
      const float* dox = dout + x * tq * d;
      float* dsx = ds + x * tq * tk;
      gemmST(tk, d, tq, px, 1, tk, dox, d, 1, dv + x * tk * d, d, false);      // P^T dO
      gemmST(tq, tk, d, dox, d, 1, v + x * tk * d, 1, d, dsx, tk, false);      // dP = dO v^T
      for (int64_t i = 0; i < tq; ++i) {
        float* r = dsx + i * tk;
        const float* pr = px + i * tk;
        float dot = 0.0f;
        for (int64_t j = 0; j < tk; ++j) dot += r[j] * pr[j];
        for (int64_t j = 0; j < tk; ++j) r[j] = pr[j] * (r[j] - dot);
      }
      float* dqx = dq + x * tq * d;
      float* dkx = dk + x * tk * d;
      gemmST(tq, d, tk, dsx, tk, 1, k + x * tk * d, d, 1, dqx, d, false);     // dS k
      gemmST(tk, d, tq, dsx, 1, tk, q + x * tq * d, d, 1, dkx, d, false);     // dS^T q
      for (int64_t i = 0; i < tq * d; ++i) dqx[i] *= scale;
      for (int64_t i = 0; i < tk * d; ++i) dkx[i] *= scale;
    }
  });
}

}  // namespace acft
