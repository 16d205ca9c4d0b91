// Branch-free float32 exp/tanh that GCC auto-vectorises (AVX-512/AVX2 with -O3 -march=native).
// exp: Cephes expf range reduction x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial (~1 ulp).
// tanh: Cephes tanhf polynomial for |x| < 0.625, else 1 - 2/(exp(2|x|)+1) (no cancellation there).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace acft {

static inline float vexp(float x) {
  // exp(x) overflows above 88.7228 and is 0 below -103.97 in float32; in between the scale 2^n
  // is applied as 2^n1 * 2^n2 (n1 = n >> 1) so subnormal results round exactly as expf's do.
  // ternaries, not fminf/fmaxf: GCC vectorises these selects without -ffast-math
  float xc = x < -104.0f ? -104.0f : x;
  xc = xc > 88.7228394f ? 88.7228394f : xc;
  float n = floorf(xc * 1.44269504088896341f + 0.5f);
  float r = xc - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500E-4f;
  p = p * r + 1.3981999507E-3f;
  p = p * r + 8.3334519073E-3f;
  p = p * r + 4.1665795894E-2f;
  p = p * r + 1.6666665459E-1f;
  p = p * r + 5.0000001201E-1f;
  p = p * r * r + r + 1.0f;
  int32_t ni = static_cast<int32_t>(n);
  int32_t n1 = ni >> 1, n2 = ni - n1;
  int32_t b1 = (n1 + 127) << 23, b2 = (n2 + 127) << 23;
  float s1, s2;
  s1 = __builtin_bit_cast(float, b1);
  s2 = __builtin_bit_cast(float, b2);
  float y = p * s1 * s2;
  y = x > 88.7228394f ? std::numeric_limits<float>::infinity() : y;  // overflow
  return x != x ? x : y;                                             // NaN propagates
}

static inline float vtanh(float x) {
  float ax = fabsf(x);
  float z = x * x;
  float small = ((((-5.70498872745E-3f * z + 2.06390887954E-2f) * z - 5.37397155531E-2f) * z + 1.33314422036E-1f) * z -
                 3.33332819422E-1f) * z * x + x;
  float e = vexp(2.0f * ax > 80.0f ? 80.0f : 2.0f * ax);  // tanh(40) == 1 in float32
  float big = 1.0f - 2.0f / (e + 1.0f);
  big = copysignf(big, x);
  float y = ax < 0.625f ? small : big;
  return x != x ? x : y;
}

// y = softmax(x) over n floats (max-shifted); y may alias x.
static inline void softmaxRow(int64_t n, const float* x, float* y) {
  float mx = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < n; ++j) mx = x[j] > mx ? x[j] : mx;
  float sum = 0.0f;
  for (int64_t j = 0; j < n; ++j) {
    y[j] = vexp(x[j] - mx);
    sum += y[j];
  }
  const float inv = 1.0f / sum;
  for (int64_t j = 0; j < n; ++j) y[j] *= inv;
}

// Offsets of row r (all axes but the last) of `shape` in two strided views.
static inline void rowOffsets(int64_t r, int rank, const int64_t* shape, const int64_t* s1, const int64_t* s2,
                              int64_t& o1, int64_t& o2) {
  o1 = 0;
  o2 = 0;
  for (int d = rank - 2; d >= 0; --d) {
    int64_t i = r % shape[d];
    r /= shape[d];
    o1 += i * s1[d];
    o2 += i * s2[d];
  }
}

}  // namespace acft
