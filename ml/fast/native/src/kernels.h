// Native float32 kernels behind the "acft" tfjs backend. Every array is dense and row-major;
// shapes and strides arrive already collapsed by the TypeScript glue (ml/fast/kernels/*.ts).
#pragma once
#include <cstdint>

namespace acft {

// ---- gemm.cc ----
// C[b] = op(A[b]) op(B[b]) for b < batch, op(X) = X or X^T; A is (M,K) after op, B (K,N), C (M,N).
// strideA/strideB are the batch strides in floats (0 broadcasts one matrix over the batch).
void batchedGemm(int64_t batch, int64_t M, int64_t N, int64_t K, const float* A, int64_t strideA, bool transA,
                 const float* B, int64_t strideB, bool transB, float* C);
// Single-threaded C (+)= A B with explicit element strides: A(i,k) = A[i*rsA + k*csA], etc.
void gemmST(int64_t M, int64_t N, int64_t K, const float* A, int64_t rsA, int64_t csA, const float* B, int64_t rsB,
            int64_t csB, float* C, int64_t ldc, bool accumulate);

// ---- elementwise.cc ----
enum BinaryOp { kAdd = 0, kSub, kMul, kDiv, kMax, kMin, kSquaredDiff, kPow, kNumBinary };
enum UnaryOp { kExp = 0, kTanh, kNeg, kSqrt, kRsqrt, kSquare, kLog, kRelu, kSigmoid, kAbs, kReciprocal, kNumUnary };
// out[idx] = a[idx . sa] op b[idx . sb] over `shape` (rank <= 8, strides 0 on broadcast axes).
void binary(int op, int rank, const int64_t* shape, const float* a, const int64_t* sa, const float* b,
            const int64_t* sb, float* out);
void unary(int op, int64_t n, const float* x, float* y);
// dst[idx . ds] = src[idx . ss] over `shape` (transpose, slice, concat, split).
void copyStrided(int rank, const int64_t* shape, const float* src, const int64_t* ss, float* dst, const int64_t* ds);
// Reductions over the middle axis of (outer, reduce, inner); op 0 sum, 1 max, 2 mean.
void reduce(int op, int64_t outer, int64_t red, int64_t inner, const float* x, float* y);
void softmaxRows(int64_t rows, int64_t n, const float* x, float* y);
// out(o, i, :) = x(o, idx[i], :) for x (outer, nx, inner); returns false on an out-of-range index.
bool gather(int64_t outer, int64_t nx, int64_t inner, const float* x, int64_t nidx, const int32_t* idx, float* out);
// out(seg[i], :) += x(i, :), out (nseg, inner) zeroed first; ids outside [0, nseg) are dropped (as tf).
void segmentSum(int64_t n, int64_t inner, const float* x, const int32_t* seg, int64_t nseg, float* out);

// ---- fused.cc ----
void layerNormFwd(int64_t rows, int64_t c, const float* x, const float* g, const float* b, float eps, float* y,
                  float* mean, float* rstd);
void layerNormBwd(int64_t rows, int64_t c, const float* dy, const float* x, const float* g, const float* mean,
                  const float* rstd, float* dx, float* dg, float* db);
// RMSNorm: y = x rstd g, rstd = 1/sqrt(mean(x^2) + eps) per row (saved for the backward).
void rmsNormFwd(int64_t rows, int64_t c, const float* x, const float* g, float eps, float* y, float* rstd);
void rmsNormBwd(int64_t rows, int64_t c, const float* dy, const float* x, const float* g, const float* rstd, float* dx,
                float* dg);
// SwiGLU: y = silu(gate) up, silu(a) = a sigmoid(a).
void swigluFwd(int64_t n, const float* gate, const float* up, float* y);
void swigluBwd(int64_t n, const float* dy, const float* gate, const float* up, float* dgate, float* dup);
// Rotary embedding, rotate-half layout, on x (b, h, t, d): y = [x1 cos - s x2 sin | x2 cos + s x1 sin] with
// x1, x2 the halves of d; cos/sin (cb, t, d/2), cb = 1 (shared) or b. s = -1 is the backward (rotate back).
void rope(int64_t b, int64_t h, int64_t t, int64_t d, int64_t cb, const float* x, const float* cos, const float* sin,
          float s, float* y);
void geluFwd(int64_t n, const float* x, float* y);
void geluBwd(int64_t n, const float* dy, const float* x, float* dx);
// Per-row cross-entropy: nll[r] = lse(x[r]) - x[r, t[r]]; lse saved for the backward.
bool xentFwd(int64_t rows, int64_t v, const float* x, const int32_t* t, float* nll, float* lse);
void xentBwd(int64_t rows, int64_t v, const float* dnll, const float* x, const int32_t* t, const float* lse, float* dx);
void logSoftmaxFwd(int64_t rows, int64_t n, const float* x, float* y);
void logSoftmaxBwd(int64_t rows, int64_t n, const float* dy, const float* y, float* dx);
// Decoupled-weight-decay Adam (Loshchilov & Hutter 2019), bias-corrected with step t >= 1.
void adamw(int64_t n, const float* p, const float* g, const float* m, const float* v, float lr, float b1, float b2,
           float eps, float wd, float t, float* po, float* mo, float* vo);

// ---- attention.cc ----
// q (BH, Tq, D), k/v (BH, Tk, D); query i attends keys j <= Tk - Tq + i; bias (B, Tk) or null,
// with H heads per batch row. Saves probabilities p (BH, Tq, Tk).
void attentionFwd(int64_t bh, int64_t h, int64_t tq, int64_t tk, int64_t d, const float* q, const float* k,
                  const float* v, const float* bias, float* out, float* p);
void attentionBwd(int64_t bh, int64_t tq, int64_t tk, int64_t d, bool causal, const float* dout, const float* q,
                  const float* k, const float* v, const float* p, float* dq, float* dk, float* dv, float* ds);

// ---- vector maths (vmath.h) used across files ----
}  // namespace acft
