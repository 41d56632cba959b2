#pragma once
// An exception may not leave an OpenMP parallel region (it would call
// std::terminate), and a thread that throws before a barrier leaves the
// others waiting there. So a region's work that can throw runs through
// first_error::capture, which keeps the first exception, and the caller
// rethrows it after the region; nothing that can throw may stand between a
// region's start and a barrier outside capture.
#include <exception>

#include <slmrec/core/omp.hpp>

namespace slmrec {

class first_error {
 public:
  template <class F>
  void capture(F&& f) noexcept {
    try {
      f();
    } catch (...) {
      SLMREC_OMP(critical(slmrec_first_error))
      if (!error_) error_ = std::current_exception();
    }
  }
  [[nodiscard]] bool failed() const noexcept { return bool(error_); }
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::exception_ptr error_;
};

}  // namespace slmrec
