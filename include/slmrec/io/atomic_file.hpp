#pragma once
// Whole-file reads and crash-safe writes. A checkpoint or an exported model
// is written to a temporary file next to the target and renamed onto it only
// once every byte is on disk, so a crash, a full disk or an exception leaves
// either the old file or the new one, never half of one.
#include "slmrec/core/error.hpp"

#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <concepts>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <ios>
#include <iterator>
#include <limits>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>  // renameat2, RENAME_EXCHANGE (glibc 2.28)
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

namespace slmrec::io {
namespace detail {

inline std::string errno_text(int code) { return std::generic_category().message(code); }

// Unique per process (pid) and per call (counter), in the target's own
// directory so that the final rename never crosses a file system.
inline std::filesystem::path temporary_path_for(const std::filesystem::path& target) {
  static std::atomic<unsigned long long> counter{0};
  return std::filesystem::path(fmt::format("{}.tmp.{}.{}", target.string(), static_cast<long long>(::getpid()),
                                           counter.fetch_add(1)));
}

inline void remove_quietly(const std::filesystem::path& p) noexcept {
  std::error_code ignored;
  std::filesystem::remove(p, ignored);
}

// fsync through a fresh descriptor: the kernel flushes the file, not the
// descriptor, so this also covers data written through an std::ofstream.
inline int fsync_path(const std::filesystem::path& p, int flags) noexcept {
  const int fd = ::open(p.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return errno;
  const int result = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return result;
}

// Renames the finished temporary onto the target, then (best effort) syncs
// the directory so the rename itself survives a power loss.
inline void commit(const std::filesystem::path& temporary, const std::filesystem::path& target) {
  std::error_code ec;
  std::filesystem::rename(temporary, target, ec);
  if (ec) {
    remove_quietly(temporary);
    fail("{}: cannot rename the temporary file '{}' onto it: {}", target.string(), temporary.string(), ec.message());
  }
  const std::filesystem::path directory = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  (void)fsync_path(directory, O_RDONLY | O_DIRECTORY);
}

}  // namespace detail

// Writes `bytes` to `target` atomically (see the top of this file).
inline void write_file_atomically(const std::filesystem::path& target, std::string_view bytes) {
  const std::filesystem::path temporary = detail::temporary_path_for(target);
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) {
    fail("{}: cannot create the temporary file '{}': {}", target.string(), temporary.string(), detail::errno_text(errno));
  }
  auto abandon = [&](std::string_view what, int code) {
    ::close(fd);
    detail::remove_quietly(temporary);
    fail("{}: {} the temporary file '{}': {}", target.string(), what, temporary.string(), detail::errno_text(code));
  };
  // ::write may write less than asked (signals, pipes, quotas): loop.
  while (!bytes.empty()) {
    const ::ssize_t written = ::write(fd, bytes.data(), bytes.size());
    if (written >= 0) {
      bytes.remove_prefix(static_cast<std::size_t>(written));
    } else if (errno != EINTR) {
      abandon("cannot write", errno);
    }
  }
  if (::fsync(fd) != 0) abandon("cannot fsync", errno);
  // close can report a deferred write error (NFS): it must be checked too.
  if (::close(fd) != 0) {
    const int code = errno;
    detail::remove_quietly(temporary);
    fail("{}: cannot close the temporary file '{}': {}", target.string(), temporary.string(), detail::errno_text(code));
  }
  detail::commit(temporary, target);
}

// Streams into `target` atomically: `write(std::ostream&)` produces the
// content (without buffering the whole file in memory). If it throws, the
// temporary file is removed and the exception propagates unchanged.
template <class Writer>
  requires std::invocable<Writer&, std::ostream&>
void write_file_atomically(const std::filesystem::path& target, Writer&& write) {
  const std::filesystem::path temporary = detail::temporary_path_for(target);
  {
    errno = 0;
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out.is_open()) {
      const int code = errno;
      fail("{}: cannot create the temporary file '{}': {}", target.string(), temporary.string(),
           code != 0 ? detail::errno_text(code) : std::string("unknown error"));
    }
    try {
      write(static_cast<std::ostream&>(out));
    } catch (...) {
      out.close();
      detail::remove_quietly(temporary);
      throw;
    }
    errno = 0;
    out.flush();
    out.close();  // sets failbit if the final flush fails
    if (out.fail()) {
      const int code = errno;
      detail::remove_quietly(temporary);
      fail("{}: writing the temporary file '{}' failed: {}", target.string(), temporary.string(),
           code != 0 ? detail::errno_text(code) : std::string("stream error"));
    }
  }
  if (const int code = detail::fsync_path(temporary, O_RDONLY); code != 0) {
    detail::remove_quietly(temporary);
    fail("{}: cannot fsync the temporary file '{}': {}", target.string(), temporary.string(), detail::errno_text(code));
  }
  detail::commit(temporary, target);
}

// Reads a whole file (binary) into a string. Only regular files, after
// following symbolic links: a weights file that is a link to /dev/zero, a
// pipe or a /proc file has no size to check against, so it would be read
// until memory runs out. `max_bytes` refuses larger files before reading.
inline std::string read_file(const std::filesystem::path& source,
                             std::uint64_t max_bytes = std::numeric_limits<std::uint64_t>::max()) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below).
  const int fd = ::open(source.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) fail("{}: cannot open for reading: {}", source.string(), detail::errno_text(errno));
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } close_on_exit{fd};
  struct ::stat st{};
  if (::fstat(fd, &st) != 0) fail("{}: cannot read its size: {}", source.string(), detail::errno_text(errno));
  require(!S_ISDIR(st.st_mode), "{}: cannot open for reading: it is a directory", source.string());
  require(S_ISREG(st.st_mode),
          "{}: not a regular file (a device, pipe or socket, after following links): slmrec reads only regular files",
          source.string());
  const auto size = static_cast<std::uint64_t>(st.st_size);
  require(size <= max_bytes, "{}: {} bytes, more than the {} this file may have", source.string(), size, max_bytes);
  std::string bytes(static_cast<std::size_t>(size), '\0');
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ::ssize_t got = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (got > 0) {
      done += static_cast<std::size_t>(got);
    } else if (got == 0) {
      fail("{}: read {} of {} bytes (was the file changed while reading?)", source.string(), done, size);
    } else if (errno != EINTR) {
      fail("{}: read error: {}", source.string(), detail::errno_text(errno));
    }
  }
  return bytes;
}

// One file of a directory written by write_directory_atomically: its name
// and what streams its content (a file of gigabytes need not be held in
// memory first).
struct directory_file {
  std::string name;
  std::function<void(std::ostream&)> write;

  // A file of these bytes.
  static directory_file bytes(std::string name, std::string content) {
    return {std::move(name), [content = std::move(content)](std::ostream& out) {
              out.write(content.data(), static_cast<std::streamsize>(content.size()));
            }};
  }
};

// A directory of files written as a whole: each file into a fresh sibling
// directory, flushed, and the directory then swapped into place. If a file
// cannot be written the sibling is removed and DIR keeps what it held.
inline void write_directory_atomically(const std::filesystem::path& dir, const std::vector<directory_file>& files) {
  namespace fs = std::filesystem;
  const fs::path parent = dir.has_parent_path() ? dir.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(parent, ec);
  const std::string tag = fmt::format("{}", static_cast<long long>(::getpid()));
  const fs::path tmp = parent / (dir.filename().string() + ".tmp-" + tag);
  const fs::path old = parent / (dir.filename().string() + ".old-" + tag);
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  require(!ec, "cannot create {}: {}", tmp.string(), ec.message());
  try {
    for (const auto& f : files) io::write_file_atomically(tmp / f.name, f.write);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  // Swapped in one atomic step where the file system can (Linux renameat2):
  // a SIGKILL at any moment leaves DIR holding the old checkpoint or the new
  // one. Elsewhere two renames, with DIR.old-<pid> between them.
  if (fs::exists(dir) && ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) == 0) {
    fs::remove_all(tmp, ec);  // now the previous checkpoint
    return;
  }
  if (fs::exists(dir)) {
    fs::rename(dir, old, ec);
    require(!ec, "cannot move the previous checkpoint {} aside: {}", dir.string(), ec.message());
  }
  fs::rename(tmp, dir, ec);
  require(!ec, "cannot move the new checkpoint into {}: {}", dir.string(), ec.message());
  fs::remove_all(old, ec);
}

}  // namespace slmrec::io
