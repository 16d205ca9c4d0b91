// Fused causal attention per (batch, head): S = q k^T / sqrt(D) + causal + bias; P = softmax(S);
// O = P v. P is kept for the backward pass:
//   dV = P^T dO;  dP = dO v^T;  dS = P o (dP - rowsum(dP o P));  dq = dS k / sqrt(D);  dk = dS^T q / sqrt(D).
// The causal mask adds MASKED = -1e9 exactly like the reference (ml/ops.ts), so rows whose every
// allowed key is also hidden by the key bias get the same probabilities as the reference.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels.h"
#include "pool.h"
#include "vmath.h"

namespace acft {
namespace {
constexpr float kMasked = -1e9f;
constexpr float kHidden = -1e8f;  // a key bias at or below this hides the key (MASKED = -1e9)

int64_t grainFor(double flopsPerTask) {
  return flopsPerTask > 2e5 ? 1 : static_cast<int64_t>(2e5 / std::max(1.0, flopsPerTask));
}

}  // namespace

// Queries are processed in blocks of QB rows. Without a key bias, block [i0, i0+bq) needs only keys
// j < off + i0 + bq (causality), so the products skip the masked upper triangle: about half of
// the attention FLOPs at Tq = Tk. Masked probabilities are still written (as exact zeros).
constexpr int64_t QB = 32;

inline int64_t keysFor(bool causal, int64_t off, int64_t i0, int64_t bq, int64_t tk) {
  return causal ? std::min(tk, off + i0 + bq) : tk;
}

// q . k with 8 independent partial sums: one accumulator would serialise on the FMA latency.
inline float dot(int64_t d, const float* a, const float* b) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t e = 0;
  for (; e + 8 <= d; e += 8)
    for (int u = 0; u < 8; ++u) acc[u] += a[e + u] * b[e + u];
  float t = 0.0f;
  for (; e < d; ++e) t += a[e] * b[e];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + t;
}

// Single-query decoding (Tq = 1, KV cache): the query may attend every key, so S is one row of
// dot products. Direct loops beat gemmST here, whose B packing (all of K per (b, h)) would cost
// more than the products themselves.
void attentionDecode(int64_t bh, int64_t h, int64_t tk, int64_t d, float scale, const float* q, const float* k,
                     const float* v, const float* bias, float* out, float* p) {
  parallelFor(bh, grainFor(4.0 * tk * d), [&](int64_t begin, int64_t end, int) {
    for (int64_t x = begin; x < end; ++x) {
      const float *qx = q + x * d, *kx = k + x * tk * d, *vx = v + x * tk * d;
      const float* bx = bias ? bias + (x / h) * tk : nullptr;
      float* s = p + x * tk;
      // A key hidden by the bias (padding, unwritten KV slots) gets probability exactly 0 as long
      // as one key is visible, so its dot product is skipped; an all-hidden row is computed fully.
      bool anyVisible = !bx;
      for (int64_t j = 0; bx && j < tk && !anyVisible; ++j) anyVisible = bx[j] > kHidden;
      for (int64_t j = 0; j < tk; ++j) {
        if (bx && anyVisible && bx[j] <= kHidden) {
          s[j] = kMasked;
          continue;
        }
        const float acc = dot(d, qx, kx + j * d);
        s[j] = bx ? acc * scale + bx[j] : acc * scale;
      }
      softmaxRow(tk, s, s);
      float* o = out + x * d;
      for (int64_t e = 0; e < d; ++e) o[e] = 0.0f;
      for (int64_t j = 0; j < tk; ++j) {
        const float pj = s[j];
        if (pj == 0.0f) continue;  // masked (padding / unwritten cache slots): exp underflowed to 0
        const float* vj = vx + j * d;
        for (int64_t e = 0; e < d; ++e) o[e] += pj * vj[e];
      }
    }
  });
}

void attentionFwd(int64_t bh, int64_t h, int64_t tq, int64_t tk, int64_t d, const float* q, const float* k,
                  const float* v, const float* bias, float* out, float* p) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  if (tq == 1) return attentionDecode(bh, h, tk, d, scale, q, k, v, bias, out, p);
  const int64_t off = tk - tq;
  parallelFor(bh, grainFor(4.0 * tq * tk * d), [&](int64_t begin, int64_t end, int) {
    for (int64_t x = begin; x < end; ++x) {
      const float* kx = k + x * tk * d;
      const float* bx = bias ? bias + (x / h) * tk : nullptr;
      for (int64_t i0 = 0; i0 < tq; i0 += QB) {
        const int64_t bq = std::min(QB, tq - i0), kmax = keysFor(!bx, off, i0, bq, tk);
        float* ps = p + (x * tq + i0) * tk;
        gemmST(bq, kmax, d, q + (x * tq + i0) * d, d, 1, kx, 1, d, ps, tk, false);  // (bq, D) (D, kmax)
        for (int64_t i = i0; i < i0 + bq; ++i) {
          float* s = ps + (i - i0) * tk;
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
        gemmST(bq, d, kmax, ps, tk, 1, v + x * tk * d, d, 1, out + (x * tq + i0) * d, d, false);  // (bq, kmax) (kmax, D)
      }
    }
  });
}

// ds (BH, Tq, Tk) receives dS (before the 1/sqrt(D) scale): the gradient of the added key bias.
// causal: the forward ran without a key bias, so P is zero past each row's last key.
void attentionBwd(int64_t bh, int64_t tq, int64_t tk, int64_t d, bool causal, const float* dout, const float* q,
                  const float* k, const float* v, const float* p, float* dq, float* dk, float* dv, float* ds) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  const int64_t off = tk - tq;
  parallelFor(bh, grainFor(8.0 * tq * tk * d), [&](int64_t begin, int64_t end, int) {
    for (int64_t x = begin; x < end; ++x) {
      const float *kx = k + x * tk * d, *vx = v + x * tk * d;
      float* dkx = dk + x * tk * d;
      float* dvx = dv + x * tk * d;
      std::memset(dkx, 0, tk * d * sizeof(float));  // accumulated over query blocks
      std::memset(dvx, 0, tk * d * sizeof(float));
      for (int64_t i0 = 0; i0 < tq; i0 += QB) {
        const int64_t bq = std::min(QB, tq - i0), kmax = keysFor(causal, off, i0, bq, tk);
        const float* ps = p + (x * tq + i0) * tk;
        const float* dos = dout + (x * tq + i0) * d;
        const float* qs = q + (x * tq + i0) * d;
        float* dss = ds + (x * tq + i0) * tk;
        gemmST(kmax, d, bq, ps, 1, tk, dos, d, 1, dvx, d, true);  // dV += P^T dO
        gemmST(bq, kmax, d, dos, d, 1, vx, 1, d, dss, tk, false);  // dP = dO v^T
        for (int64_t i = 0; i < bq; ++i) {
          float* r = dss + i * tk;
          const float* pr = ps + i * tk;
          float dot = 0.0f;
          for (int64_t j = 0; j < kmax; ++j) dot += r[j] * pr[j];
          for (int64_t j = 0; j < kmax; ++j) r[j] = pr[j] * (r[j] - dot);
          for (int64_t j = kmax; j < tk; ++j) r[j] = 0.0f;
        }
        float* dqs = dq + (x * tq + i0) * d;
        gemmST(bq, d, kmax, dss, tk, 1, kx, d, 1, dqs, d, false);  // dq = dS k
        gemmST(kmax, d, bq, dss, 1, tk, qs, d, 1, dkx, d, true);   // dk += dS^T q
        for (int64_t i = 0; i < bq * d; ++i) dqs[i] *= scale;
      }
      for (int64_t i = 0; i < tk * d; ++i) dkx[i] *= scale;
    }
  });
}

}  // namespace acft
