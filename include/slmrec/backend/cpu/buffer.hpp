#pragma once
// Host memory for the CPU backend: a std::vector with 64-byte alignment, so
// Eigen and the compiler can use aligned AVX-512 loads on every buffer start.
#include <cstddef>
#include <new>
#include <vector>

namespace slmrec::backend::cpu {

template <class T, std::size_t Alignment = 64>
struct aligned_allocator {
  using value_type = T;
  aligned_allocator() noexcept = default;
  template <class U>
  aligned_allocator(const aligned_allocator<U, Alignment>&) noexcept {}
  template <class U>
  struct rebind {
    using other = aligned_allocator<U, Alignment>;
  };
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{Alignment})); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t{Alignment}); }
  template <class U>
  bool operator==(const aligned_allocator<U, Alignment>&) const noexcept { return true; }
};

template <class T>
using buffer = std::vector<T, aligned_allocator<T>>;

}  // namespace slmrec::backend::cpu
