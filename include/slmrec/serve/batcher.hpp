#pragma once
// Dynamic batching: requests from many connections, gathered into one batch
// for one worker thread, so that under load the model runs the batch path
// (one read of the item table for many users) instead of one user at a time.
//
// A job is queued with submit (false when the queue already holds max_queue
// users: the caller answers 503 instead of letting memory grow). The worker
// takes the oldest job and keeps gathering jobs of the same key (the same
// model) until the batch holds max_batch users or the oldest job has waited
// max_wait — but it stops waiting as soon as no request is on its way
// (arrival(): a request being read and parsed), so a lone request runs at
// once instead of sleeping out the wait. Then it calls run(jobs) on its own
// thread and starts over. stop() runs what is queued, then ends the worker.
//
// Job: users() (how many users it brings), key() (jobs batch together only
// with equal keys) and fail(std::exception_ptr) (run threw; the job must
// still be answered). The batcher never owns a job: a job must outlive its run.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>

namespace slmrec::serve {

struct batcher_options {
  index max_batch = 64;                     // users per batch
  std::chrono::microseconds max_wait{500};  // longest the oldest job waits for company
  index max_queue = 1024;                   // users queued at most (beyond: submit refuses)

  void validate() const {
    require(max_batch >= 1, "max_batch = {}, expected at least 1", max_batch);
    require(max_wait.count() >= 0, "max_wait = {} us, expected at least 0", max_wait.count());
    require(max_queue >= max_batch, "max_queue = {} users, expected at least max_batch = {}", max_queue, max_batch);
  }
};

template <class Job>
class batcher {
 public:
  using clock = std::chrono::steady_clock;
  using run_fn = std::function<void(std::span<Job* const>)>;

  batcher(batcher_options o, run_fn run) : options_(o), run_(std::move(run)) {
    options_.validate();
    worker_ = std::thread([this] { work(); });
  }
  ~batcher() { stop(); }
  batcher(const batcher&) = delete;
  batcher& operator=(const batcher&) = delete;

  // Queues a job; false (and not queued) when the queue is full or stopped.
  // A job bringing more than max_queue users is never accepted.
  bool submit(Job& job) {
    bool wake = false;
    {
      std::lock_guard lock(mutex_);
      if (stopping_ || queued_users_ + job.users() > options_.max_queue) return false;
      queue_.push_back({&job, clock::now()});
      queued_users_ += job.users();
      // Only a wake that can change what the worker does: it was idle, or it
      // gathers and the batch may be full now (queued_users_ >= its key's users).
      wake = doing_ == worker_state::idle ||
             (doing_ == worker_state::gathering && queued_users_ >= options_.max_batch);
    }
    if (wake) changed_.notify_one();
    return true;
  }

  // A request on its way (held while it is read and parsed, released once it
  // is submitted or refused): the worker waits for it, up to max_wait.
  class arrival {
   public:
    explicit arrival(batcher& b) : b_(&b) {
      std::lock_guard lock(b_->mutex_);
      ++b_->arriving_;
    }
    ~arrival() { release(); }
    arrival(const arrival&) = delete;
    arrival& operator=(const arrival&) = delete;
    void release() {
      if (!b_) return;
      bool wake = false;
      {
        std::lock_guard lock(b_->mutex_);
        --b_->arriving_;
        wake = b_->doing_ == worker_state::gathering && b_->arriving_ == 0;  // nothing more to wait for
      }
      if (wake) b_->changed_.notify_one();
      b_ = nullptr;
    }

   private:
    batcher* b_;
  };

  // Runs every queued job, then ends the worker. Later submits are refused.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    if (worker_.joinable()) worker_.join();
  }

  [[nodiscard]] index queued_users() const {
    std::lock_guard lock(mutex_);
    return queued_users_;
  }
  [[nodiscard]] const batcher_options& options() const { return options_; }

 private:
  struct entry {
    Job* job;
    clock::time_point queued;
  };
  // What the worker is doing, so that submit and release wake it only when
  // that can change its course: a wake of a sleeping thread is a futex call
  // and a context switch, and waking it on every arrival and submit made two
  // per request where one per batch is enough.
  enum class worker_state { idle, gathering, running };

  // Users queued with the oldest job's key.
  index ready_users() const {
    index n = 0;
    for (const auto& e : queue_)
      if (e.job->key() == queue_.front().job->key()) n += e.job->users();
    return n;
  }

  void work() {
    std::vector<Job*> batch;
    std::unique_lock lock(mutex_);
    for (;;) {
      doing_ = worker_state::idle;
      changed_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;  // stopping, and everything queued has run
      const auto deadline = queue_.front().queued + options_.max_wait;
      doing_ = worker_state::gathering;
      while (!stopping_ && arriving_ > 0 && ready_users() < options_.max_batch)
        if (changed_.wait_until(lock, deadline) == std::cv_status::timeout) break;
      doing_ = worker_state::running;
      // The oldest job always goes; then others of its key while they fit.
      batch.clear();
      const auto key = queue_.front().job->key();
      index users = 0;
      for (auto it = queue_.begin(); it != queue_.end();) {
        if (it->job->key() == key && (batch.empty() || users + it->job->users() <= options_.max_batch)) {
          users += it->job->users();
          batch.push_back(it->job);
          it = queue_.erase(it);
        } else {
          ++it;
        }
      }
      queued_users_ -= users;
      lock.unlock();
      try {
        run_(batch);
      } catch (...) {
        for (Job* j : batch) j->fail(std::current_exception());
      }
      lock.lock();
    }
  }

  batcher_options options_;
  run_fn run_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<entry> queue_;
  index queued_users_ = 0, arriving_ = 0;
  worker_state doing_ = worker_state::running;  // until its first wait
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace slmrec::serve
