#pragma once
// Hot reload: the engine that serves, behind a pointer that is swapped
// whole. A request takes the current engine when it arrives and keeps it (a
// shared_ptr) until it is answered, so requests in flight finish on the
// model they were validated against while new ones go to the new model; the
// old one is freed when its last request is done. A load builds the new
// engine beside the current one and switches only when it succeeded: a
// checkpoint that fails to load leaves the current model serving.
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>

#include <slmrec/core/error.hpp>

namespace slmrec::serve {

template <class Engine>
class model_slot {
 public:
  using loader = std::function<std::shared_ptr<Engine>(const std::filesystem::path&)>;

  explicit model_slot(loader load) : load_(std::move(load)) {}

  // The engine serving now (null before the first load).
  [[nodiscard]] std::shared_ptr<Engine> current() const {
    std::lock_guard lock(mutex_);
    return current_;
  }

  // Loads `dir` beside the current engine and switches to it; throws, and
  // keeps the current one, if the load fails. One load runs at a time.
  std::shared_ptr<Engine> load(const std::filesystem::path& dir) {
    std::lock_guard one_at_a_time(loading_);
    auto next = load_(dir);
    require(next != nullptr, "{}: the loader returned no model", dir.string());
    std::lock_guard lock(mutex_);
    current_ = next;
    return next;
  }

 private:
  loader load_;
  mutable std::mutex mutex_;
  std::mutex loading_;
  std::shared_ptr<Engine> current_;
};

}  // namespace slmrec::serve
