// Persistent pool: workers spin briefly on a generation counter, then sleep on a condvar.
// A spinning worker answers in ~1 us, which matters for the many ~50 us kernels of a step;
// the short spin bound keeps an idle acft from burning a core other processes need.
#include "pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__x86_64__)
#include <immintrin.h>
#define ACFT_PAUSE() _mm_pause()
#else
#define ACFT_PAUSE() std::this_thread::yield()
#endif

namespace acft {
namespace {

// Nested calls (a kernel inside a parallel region calling a parallel kernel) run inline.
thread_local bool inParallel = false;

struct Pool {
  std::vector<std::thread> workers;
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<uint64_t> generation{0};
  std::atomic<int> pending{0};
  std::atomic<int64_t> nextChunk{0};
  const std::function<void(int64_t, int64_t, int)>* task = nullptr;
  int64_t n = 0, chunkSize = 1, numChunks = 0;
  int nthreads = 1;
  bool stop = false;

  // Dynamic schedule: threads take chunks from a shared counter, so a thread the OS has
  // descheduled (other processes share these cores) delays at most the one chunk it holds.
  void chunks(int t) {
    for (;;) {
      int64_t c = nextChunk.fetch_add(1, std::memory_order_relaxed);
      if (c >= numChunks) return;
      int64_t b = c * chunkSize, e = std::min<int64_t>(n, b + chunkSize);
      (*task)(b, e, t);
    }
  }

  void workerLoop(int t) {
    uint64_t seen = 0;
    for (;;) {
      int spins = 0;
      while (generation.load(std::memory_order_acquire) == seen && spins < 2000) { ACFT_PAUSE(); ++spins; }
      if (generation.load(std::memory_order_acquire) == seen) {
        std::unique_lock<std::mutex> lk(mu);
        cv.wait(lk, [&] { return stop || generation.load(std::memory_order_acquire) != seen; });
        if (stop) return;
      }
      seen = generation.load(std::memory_order_acquire);
      inParallel = true;
      chunks(t);
      pending.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  void start(int threads) {
    shutdown();
    stop = false;
    nthreads = std::max(1, threads);
    for (int t = 1; t < nthreads; ++t) workers.emplace_back([this, t] { workerLoop(t); });
  }

  void shutdown() {
    {
      std::lock_guard<std::mutex> lk(mu);
      stop = true;
    }
    cv.notify_all();
    for (auto& w : workers) w.join();
    workers.clear();
  }

  ~Pool() { shutdown(); }
};

Pool& pool() {
  static Pool p;
  static bool started = false;
  if (!started) {
    started = true;
    unsigned hw = std::thread::hardware_concurrency();
    p.start(static_cast<int>(std::min(8u, std::max(1u, hw))));
  }
  return p;
}

}  // namespace

int numThreads() { return pool().nthreads; }

void setNumThreads(int n) { pool().start(std::min(8, std::max(1, n))); }

void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn) {
  Pool& p = pool();
  if (n <= 0) return;
  if (inParallel || p.nthreads == 1 || n < 2 * std::max<int64_t>(1, grain)) {
    fn(0, n, 0);
    return;
  }
  inParallel = true;
  p.task = &fn;
  p.n = n;
  // ~4 chunks per thread (never below the grain) balance load without much scheduling overhead.
  p.chunkSize = std::max<int64_t>(std::max<int64_t>(1, grain), (n + 4 * p.nthreads - 1) / (4 * p.nthreads));
  p.numChunks = (n + p.chunkSize - 1) / p.chunkSize;
  p.nextChunk.store(0, std::memory_order_relaxed);
  p.pending.store(p.nthreads - 1, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lk(p.mu);
    p.generation.fetch_add(1, std::memory_order_acq_rel);
  }
  p.cv.notify_all();
  p.chunks(0);
  while (p.pending.load(std::memory_order_acquire) != 0) ACFT_PAUSE();
  inParallel = false;
}

}  // namespace acft
