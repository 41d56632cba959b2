#pragma once
// device_buffer<T>: an owning array in GPU memory, with the part of
// std::vector's interface the layers use (size, data, resize, construction
// with a size and a zero value). Like std::vector, resize keeps the old
// elements and zeroes the new ones, so code written against the CPU buffer
// behaves the same. It is moved, never copied (a copy of device memory is
// always an explicit BE::copy).
#include <cstddef>
#include <type_traits>
#include <utility>

#include <slmrec/backend/cuda/runtime.hpp>
#include <slmrec/core/error.hpp>

namespace slmrec::backend::cuda_memory {

template <class T>
class device_buffer {
  static_assert(std::is_trivially_copyable_v<T>, "device_buffer holds plain numbers");

 public:
  using value_type = T;
  using size_type = std::size_t;

  device_buffer() = default;
  explicit device_buffer(std::size_t n) { resize(n); }
  // Only zero can be filled without a kernel per element type; the layers
  // never ask for another value.
  device_buffer(std::size_t n, T value) {
    require(value == T(0), "device_buffer: only a zero fill is supported at construction");
    resize(n);
  }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  device_buffer(device_buffer&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  device_buffer& operator=(device_buffer&& o) noexcept {
    if (this != &o) {
      cuda_runtime::release(data_);
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  ~device_buffer() { cuda_runtime::release(data_); }

  [[nodiscard]] T* data() noexcept { return data_; }
  [[nodiscard]] const T* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

  // Keeps min(old, n) elements, zeroes the rest.
  void resize(std::size_t n) {
    if (n == size_) return;
    T* fresh = n > 0 ? static_cast<T*>(cuda_runtime::allocate(n * sizeof(T))) : nullptr;
    const std::size_t kept = n < size_ ? n : size_;
    try {
      if (kept > 0) cuda_runtime::copy_on_device(fresh, data_, kept * sizeof(T));
      if (n > kept) cuda_runtime::zero(fresh + kept, (n - kept) * sizeof(T));
    } catch (...) {
      cuda_runtime::release(fresh);
      throw;
    }
    cuda_runtime::release(data_);
    data_ = fresh;
    size_ = n;
  }
  // n elements, all `value` (zero only, as at construction).
  void assign(std::size_t n, T value) {
    require(value == T(0), "device_buffer: only a zero fill is supported by assign");
    if (n != size_) {
      clear();
      if (n > 0) data_ = static_cast<T*>(cuda_runtime::allocate(n * sizeof(T)));
      size_ = n;
    }
    if (n > 0) cuda_runtime::zero(data_, n * sizeof(T));
  }
  void clear() noexcept {
    cuda_runtime::release(data_);
    data_ = nullptr;
    size_ = 0;
  }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace slmrec::backend::cuda_memory
