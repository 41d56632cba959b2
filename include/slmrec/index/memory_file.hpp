#pragma once
// A file that lives in memory (Linux memfd), with a path hnswlib can open:
// hnswlib 0.6.2 saves and loads only through a file name, and we want its
// bytes in hand (to digest and write atomically) and its loader to read
// exactly the bytes we validated, not whatever is on disk a moment later.
#include <cerrno>
#include <string>
#include <string_view>

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <slmrec/core/error.hpp>
#include <slmrec/io/atomic_file.hpp>

namespace slmrec::ann {

class memory_file {
 public:
  explicit memory_file(const char* name) : fd_(::memfd_create(name, MFD_CLOEXEC)) {
    require(fd_ >= 0, "memfd_create failed: {}", io::detail::errno_text(errno));
  }
  ~memory_file() { ::close(fd_); }
  memory_file(const memory_file&) = delete;
  memory_file& operator=(const memory_file&) = delete;

  // A name that opens this file (a new open of the same memory, from offset 0).
  [[nodiscard]] std::string path() const { return fmt::format("/proc/self/fd/{}", fd_); }

  void write(std::string_view bytes) const {
    for (std::size_t done = 0; done < bytes.size();) {
      const ::ssize_t n = ::pwrite(fd_, bytes.data() + done, bytes.size() - done, ::off_t(done));
      require(n > 0 || errno == EINTR, "writing an in-memory file: {}", io::detail::errno_text(errno));
      if (n > 0) done += std::size_t(n);
    }
  }
  [[nodiscard]] std::string read() const {
    struct ::stat st {};
    require(::fstat(fd_, &st) == 0, "reading an in-memory file: {}", io::detail::errno_text(errno));
    std::string bytes(std::size_t(st.st_size), '\0');
    for (std::size_t done = 0; done < bytes.size();) {
      const ::ssize_t n = ::pread(fd_, bytes.data() + done, bytes.size() - done, ::off_t(done));
      require(n > 0 || (n < 0 && errno == EINTR), "reading an in-memory file: {}",
              n == 0 ? std::string("unexpected end") : io::detail::errno_text(errno));
      if (n > 0) done += std::size_t(n);
    }
    return bytes;
  }

 private:
  int fd_;
};

}  // namespace slmrec::ann
