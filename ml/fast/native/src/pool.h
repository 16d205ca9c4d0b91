// A small persistent thread pool: the caller is thread 0, (n-1) workers wait for work.
// parallelFor splits [0, n) into ~4 chunks per thread, taken dynamically. Work below `grain`
// items per thread runs inline on the caller (thread wake-up costs ~5-20 us).
#pragma once
#include <cstdint>
#include <functional>

namespace acft {

int numThreads();
void setNumThreads(int n);

// fn(begin, end, thread) over a partition of [0, n); returns when every chunk is done.
void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn);

}  // namespace acft
