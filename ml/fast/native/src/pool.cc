// Persistent pool: workers spin briefly on a generation counter, then sleep on a condvar.
// A spinning worker answers in ~1 us, which matters for the many ~50 us kernels of a step;
// the short spin bound keeps an idle acft from burning a core other processes need.
#include "pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
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

// One parallelFor call. Workers hold it by shared_ptr, so a worker that wakes after the call has
// returned still finds valid counters (it claims no chunk then, and never touches `fn`).
struct Job {
  const std::function<void(int64_t, int64_t, int)>* fn;
  int64_t n, chunkSize, numChunks;
  std::atomic<int64_t> next{0}, done{0};

  // Dynamic schedule: threads take chunks from a shared counter, so a thread the OS has
  // descheduled (other processes share these cores) delays at most the one chunk it holds.
  void run(int t) {
    for (;;) {
      int64_t c = next.fetch_add(1, std::memory_order_relaxed);
      if (c >= numChunks) return;
      int64_t b = c * chunkSize, e = std::min<int64_t>(n, b + chunkSize);
      (*fn)(b, e, t);
      done.fetch_add(1, std::memory_order_acq_rel);
    }
  }
};

struct Pool {
  std::vector<std::thread> workers;
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<uint64_t> generation{0};
  std::shared_ptr<Job> job;  // guarded by mu
  int nthreads = 1;
  bool stop = false;

  void workerLoop(int t) {
    uint64_t seen = 0;
    for (;;) {
      int spins = 0;
      while (generation.load(std::memory_order_acquire) == seen && spins < 2000) { ACFT_PAUSE(); ++spins; }
      std::shared_ptr<Job> j;
      {
        std::unique_lock<std::mutex> lk(mu);
        cv.wait(lk, [&] { return stop || generation.load(std::memory_order_acquire) != seen; });
        if (stop) return;
        seen = generation.load(std::memory_order_acquire);
        j = job;
      }
      inParallel = true;
      if (j) j->run(t);
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
  auto j = std::make_shared<Job>();
  j->fn = &fn;
  j->n = n;
  // ~4 chunks per thread (never below the grain) balance load without much scheduling overhead.
  j->chunkSize = std::max<int64_t>(std::max<int64_t>(1, grain), (n + 4 * p.nthreads - 1) / (4 * p.nthreads));
  j->numChunks = (n + j->chunkSize - 1) / j->chunkSize;
  {
    std::lock_guard<std::mutex> lk(p.mu);
    p.job = j;
    p.generation.fetch_add(1, std::memory_order_acq_rel);
  }
  p.cv.notify_all();
  j->run(0);
  // Wait for the chunks, not for the workers: a worker the OS has not scheduled yet finds no
  // chunk left when it wakes, so it no longer delays the caller by a whole time slice.
  while (j->done.load(std::memory_order_acquire) != j->numChunks) ACFT_PAUSE();
  inParallel = false;
}

}  // namespace acft
