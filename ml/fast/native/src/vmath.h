// Branch-free float32 exp/tanh that GCC auto-vectorises (AVX-512/AVX2 with -O3 -march=native).
// exp: Cephes expf range reduction x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial (~1 ulp).
// tanh: Cephes tanhf polynomial for |x| < 0.625, else 1 - 2/(exp(2|x|)+1) (no cancellation there).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace acft {

static inline float vexp(float x) {
  float xc = fminf(fmaxf(x, -87.0f), 88.0f);
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
  int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  float y = p * scale;
  return x < -87.0f ? 0.0f : y;
}

static inline float vtanh(float x) {
  float ax = fabsf(x);
  float z = x * x;
  float small = ((((-5.70498872745E-3f * z + 2.06390887954E-2f) * z - 5.37397155531E-2f) * z + 1.33314422036E-1f) * z -
                 3.33332819422E-1f) * z * x + x;
  float e = vexp(fminf(2.0f * ax, 88.0f));
  float big = 1.0f - 2.0f / (e + 1.0f);
  big = copysignf(big, x);
  return ax < 0.625f ? small : big;
}

}  // namespace acft
