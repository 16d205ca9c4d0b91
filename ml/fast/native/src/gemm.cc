// SGEMM: packed B panels of NR = 32 columns (two 16-float vectors), MR = 6 rows of A broadcast
// per k, 12 vector accumulators. Written with GCC vector extensions so that -march=native picks
// AVX-512 (one zmm per vector) or AVX2 (two ymm each) at build time. K is blocked by KC = 256 so a
// packed panel (KC x 32 floats = 32 KiB) stays in L1 while 6-row strips of A stream past it.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels.h"
#include "pool.h"

namespace acft {
namespace {

typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4), may_alias));

constexpr int MR = 6;
constexpr int NR = 32;
constexpr int64_t KC = 256;

// Packs B(k0:k0+kc, j0:j0+nr) into dst[k][0:32], zero-padding columns past nr.
void packB(const float* B, int64_t rsB, int64_t csB, int64_t k0, int64_t kc, int64_t j0, int64_t nr, float* dst) {
  for (int64_t k = 0; k < kc; ++k) {
    const float* src = B + (k0 + k) * rsB + j0 * csB;
    float* d = dst + k * NR;
    if (csB == 1) {
      std::memcpy(d, src, nr * sizeof(float));
    } else {
      for (int64_t j = 0; j < nr; ++j) d[j] = src[j * csB];
    }
    for (int64_t j = nr; j < NR; ++j) d[j] = 0.0f;
  }
}

// C(0:mr, 0:nr) (+)= A(0:mr, 0:kc) Bp(0:kc, 0:32).
template <int R>
void micro(int64_t kc, const float* A, int64_t rsA, int64_t csA, const float* Bp, float* C, int64_t ldc, int64_t nr,
           bool load) {
  v16 c0[R], c1[R];
  for (int r = 0; r < R; ++r) {
    c0[r] = v16{} ;
    c1[r] = v16{};
  }
  for (int64_t k = 0; k < kc; ++k) {
    v16 b0 = *reinterpret_cast<const v16*>(Bp + k * NR);
    v16 b1 = *reinterpret_cast<const v16*>(Bp + k * NR + 16);
    const float* a = A + k * csA;
    for (int r = 0; r < R; ++r) {
      float s = a[r * rsA];
      c0[r] += s * b0;
      c1[r] += s * b1;
    }
  }
  if (nr == NR) {
    for (int r = 0; r < R; ++r) {
      v16u* p0 = reinterpret_cast<v16u*>(C + r * ldc);
      v16u* p1 = reinterpret_cast<v16u*>(C + r * ldc + 16);
      if (load) {
        *p0 = *p0 + c0[r];
        *p1 = *p1 + c1[r];
      } else {
        *p0 = c0[r];
        *p1 = c1[r];
      }
    }
    return;
  }
  alignas(64) float tmp[NR];
  for (int r = 0; r < R; ++r) {
    *reinterpret_cast<v16*>(tmp) = c0[r];
    *reinterpret_cast<v16*>(tmp + 16) = c1[r];
    float* c = C + r * ldc;
    if (load) {
      for (int64_t j = 0; j < nr; ++j) c[j] += tmp[j];
    } else {
      for (int64_t j = 0; j < nr; ++j) c[j] = tmp[j];
    }
  }
}

void microAny(int rows, int64_t kc, const float* A, int64_t rsA, int64_t csA, const float* Bp, float* C, int64_t ldc,
              int64_t nr, bool load) {
  switch (rows) {
    case 6: micro<6>(kc, A, rsA, csA, Bp, C, ldc, nr, load); break;
    case 5: micro<5>(kc, A, rsA, csA, Bp, C, ldc, nr, load); break;
    case 4: micro<4>(kc, A, rsA, csA, Bp, C, ldc, nr, load); break;
    case 3: micro<3>(kc, A, rsA, csA, Bp, C, ldc, nr, load); break;
    case 2: micro<2>(kc, A, rsA, csA, Bp, C, ldc, nr, load); break;
    default: micro<1>(kc, A, rsA, csA, Bp, C, ldc, nr, load); break;
  }
}

float* packBuffer() {
  thread_local std::vector<float, std::allocator<float>> raw;
  if (raw.empty()) raw.resize(KC * NR + 16);
  uintptr_t p = reinterpret_cast<uintptr_t>(raw.data());
  return reinterpret_cast<float*>((p + 63) & ~uintptr_t(63));
}

}  // namespace

void gemmST(int64_t M, int64_t N, int64_t K, const float* A, int64_t rsA, int64_t csA, const float* B, int64_t rsB,
            int64_t csB, float* C, int64_t ldc, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < M; ++i) std::memset(C + i * ldc, 0, N * sizeof(float));
    return;
  }
  float* Bp = packBuffer();
  for (int64_t k0 = 0; k0 < K; k0 += KC) {
    int64_t kc = std::min(KC, K - k0);
    bool load = accumulate || k0 > 0;
    for (int64_t j0 = 0; j0 < N; j0 += NR) {
      int64_t nr = std::min<int64_t>(NR, N - j0);
      packB(B, rsB, csB, k0, kc, j0, nr, Bp);
      for (int64_t i0 = 0; i0 < M; i0 += MR) {
        int rows = static_cast<int>(std::min<int64_t>(MR, M - i0));
        microAny(rows, kc, A + i0 * rsA + k0 * csA, rsA, csA, Bp, C + i0 * ldc + j0, ldc, nr, load);
      }
    }
  }
}

void batchedGemm(int64_t batch, int64_t M, int64_t N, int64_t K, const float* A, int64_t strideA, bool transA,
                 const float* B, int64_t strideB, bool transB, float* C) {
  int64_t rsA = transA ? 1 : K, csA = transA ? M : 1;
  int64_t rsB = transB ? 1 : N, csB = transB ? K : 1;
  int nt = numThreads();
  // Few big products: split rows of each product across threads (each packs its own B panels).
  int64_t mChunks = batch >= 2 * nt ? 1 : std::max<int64_t>(1, std::min<int64_t>(2 * nt, (M + MR - 1) / MR));
  int64_t rowsPer = ((M + mChunks - 1) / mChunks + MR - 1) / MR * MR;
  mChunks = (M + rowsPer - 1) / rowsPer;
  double flopsPerTask = 2.0 * rowsPer * N * K;
  int64_t grain = flopsPerTask > 2e5 ? 1 : static_cast<int64_t>(2e5 / std::max(1.0, flopsPerTask));
  parallelFor(batch * mChunks, grain, [&](int64_t begin, int64_t end, int) {
    for (int64_t t = begin; t < end; ++t) {
      int64_t b = t / mChunks, i0 = (t % mChunks) * rowsPer;
      int64_t rows = std::min(rowsPer, M - i0);
      gemmST(rows, N, K, A + b * strideA + i0 * rsA, rsA, csA, B + b * strideB, rsB, csB, C + b * M * N + i0 * N, N,
             false);
    }
  });
}

}  // namespace acft
