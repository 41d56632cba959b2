#pragma once
// dist::mpi: the communicator policy over MPI (link slmrec::mpi, which
// CMake makes when SLMREC_WITH_MPI=ON finds MPI). One rank per process;
// every collective works on host memory (a GPU backend's gradients would need
// a CUDA-aware MPI or NCCL, which this policy does not assume).
//
// Failure: MPI_COMM_WORLD keeps MPI's default handler (errors are fatal), so
// a broken collective ends the job instead of hanging; a rank that throws
// reaches guarded(), which prints the error with the rank's number and calls
// MPI_Abort, so its peers never wait in a collective it will not join; a rank
// killed outright is noticed by mpirun, which ends the others (Open MPI's
// default) and names the rank.
#include <mpi.h>

#include <climits>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <new>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/dist/communicator.hpp>

namespace slmrec::dist {

namespace detail {
template <class T>
MPI_Datatype mpi_type() {
  if constexpr (std::is_same_v<T, float>)
    return MPI_FLOAT;
  else if constexpr (std::is_same_v<T, double>)
    return MPI_DOUBLE;
  else if constexpr (std::is_same_v<T, char>)
    return MPI_CHAR;
  else if constexpr (std::is_same_v<T, std::int32_t>)
    return MPI_INT32_T;
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return MPI_INT64_T;
  else if constexpr (std::is_same_v<T, std::uint64_t>)
    return MPI_UINT64_T;
  else
    static_assert(sizeof(T) == 0, "dist::mpi: no MPI datatype for this element type");
}
// MPI counts are int: a larger piece is an error, not a silent wrap.
inline int mpi_count(index n, std::string_view what) {
  require(n >= 0 && n <= index(INT_MAX), "dist::mpi: {} of {} elements exceeds MPI's int count", what, n);
  return int(n);
}
}  // namespace detail

// MPI_Init_thread / MPI_Finalize for a program's lifetime (the slmrec tool,
// the dist tests). Funneled: only the main thread calls MPI; OpenMP threads
// inside a rank never do.
class mpi_session {
 public:
  mpi_session(int& argc, char**& argv) {
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  }
  ~mpi_session() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
  mpi_session(const mpi_session&) = delete;
  mpi_session& operator=(const mpi_session&) = delete;
};

class mpi {
 public:
  static constexpr bool distributed = true;

  // MPI must be initialised (mpi_session) before a communicator is made.
  explicit mpi(MPI_Comm comm = MPI_COMM_WORLD) : comm_(comm) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }

  [[nodiscard]] int rank() const { return rank_; }
  [[nodiscard]] int size() const { return size_; }
  [[nodiscard]] bool root() const { return rank_ == 0; }
  [[nodiscard]] MPI_Comm handle() const { return comm_; }
  // This rank's place among the ranks of its machine (picks its GPU).
  [[nodiscard]] int local_rank() const {
    MPI_Comm node;
    MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
    int local = 0;
    MPI_Comm_rank(node, &local);
    MPI_Comm_free(&node);
    return local;
  }

  // data[0, n) <- its sum over the ranks, the same on every rank.
  template <class T>
  void allreduce_sum(T* data, index n) const {
    if (size_ == 1 || n == 0) return;
    MPI_Allreduce(MPI_IN_PLACE, data, detail::mpi_count(n, "an allreduce"), detail::mpi_type<T>(), MPI_SUM, comm_);
  }

  // Every rank's `mine`, concatenated in rank order, into `all` on every
  // rank; counts[r] = rank r's size.
  template <class T>
  void allgatherv(std::span<const T> mine, std::vector<T>& all, std::vector<index>& counts) const {
    std::vector<int> n(std::size_t(size_), 0), displ(std::size_t(size_), 0);
    const int own = detail::mpi_count(index(mine.size()), "a gathered piece");
    MPI_Allgather(&own, 1, MPI_INT, n.data(), 1, MPI_INT, comm_);
    index total = 0;
    counts.assign(std::size_t(size_), 0);
    for (int r = 0; r < size_; ++r) {
      displ[std::size_t(r)] = detail::mpi_count(total, "a gather's offset");
      counts[std::size_t(r)] = n[std::size_t(r)];
      total += n[std::size_t(r)];
    }
    (void)detail::mpi_count(total, "a gather");
    all.resize(std::size_t(total));
    MPI_Allgatherv(mine.data(), own, detail::mpi_type<T>(), all.data(), n.data(), displ.data(), detail::mpi_type<T>(),
                   comm_);
  }

  void barrier() const { MPI_Barrier(comm_); }

  // Prints "slmrec: error: rank R of N: message" and ends every rank.
  [[noreturn]] void abort(std::string_view message) const {
    fmt::print(stderr, "slmrec: error: rank {} of {}: {}\n", rank_, size_, message);
    std::fflush(stderr);
    MPI_Abort(comm_, 1);
    std::abort();  // MPI_Abort does not return; this keeps [[noreturn]] honest
  }

  // Runs f on this rank; an exception ends the whole job (abort above) when
  // there are peers, which would otherwise wait forever in the next
  // collective. Alone, the exception propagates as in one process.
  template <class F>
  decltype(auto) guarded(F&& f) const {
    if (size_ == 1) return std::forward<F>(f)();
    try {
      return std::forward<F>(f)();
    } catch (const std::bad_alloc&) {
      abort("out of memory");
    } catch (const std::exception& e) {
      abort(e.what());
    }
  }

 private:
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
};
static_assert(communicator<mpi>);

}  // namespace slmrec::dist
