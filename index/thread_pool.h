// A fixed-size pool of worker threads for batch search and bulk encoding.
//
// ParallelFor(n, fn) runs fn(i) for i in [0, n) across the workers and the
// calling thread, and returns when all are done. Calls from several threads
// are serialized. fn must not throw. Destruction joins the workers.
#ifndef TQDB_INDEX_THREAD_POOL_H_
#define TQDB_INDEX_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tqdb {

// A thread count setting: 0 means std::thread::hardware_concurrency() (at
// least 1).
uint32_t ResolveThreads(uint32_t threads);

class ThreadPool {
 public:
  // threads = 0: std::thread::hardware_concurrency(). The calling thread
  // takes part, so `threads` is the total parallelism.
  explicit ThreadPool(size_t threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t size() const { return workers_.size() + 1; }
  void ParallelFor(size_t n, const std::function<void(size_t)>& fn);

 private:
  void WorkerLoop();
  void RunItems();

  std::vector<std::thread> workers_;
  std::mutex call_mu_;  // one ParallelFor at a time
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  const std::function<void(size_t)>* fn_ = nullptr;
  size_t n_ = 0;
  std::atomic<size_t> next_{0};
  size_t finished_ = 0;  // workers done with the current generation
  uint64_t generation_ = 0;
  bool stop_ = false;
};

}  // namespace tqdb

#endif  // TQDB_INDEX_THREAD_POOL_H_
