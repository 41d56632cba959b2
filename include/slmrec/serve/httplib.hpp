#pragma once
// cpp-httplib, included once for slmrec: its <resolv.h> defines `_res` as a
// macro (glibc's resolver state), a name Eigen's matrix-product kernels use
// for a parameter, so any Eigen header parsed after it fails to compile.
// Nothing of ours uses the resolver's _res: the macro goes. And the server
// class the service runs (a deeper accept queue).
#include <sys/socket.h>

#include <httplib.h>
#ifdef _res
#undef _res
#endif

namespace slmrec::serve {

namespace detail {

// httplib's server with a deeper accept queue: Debian's library is compiled
// with a listen backlog of 5, so 64 clients connecting at once to a busy
// server overflow it and some connections fail on their first read. Linux
// lets listen() be called again on a listening socket to change its backlog.
class http_server : public httplib::Server {
 public:
  void set_backlog(int n) {
    if (svr_sock_ != INVALID_SOCKET) ::listen(svr_sock_, n);
  }
};

}  // namespace detail

}  // namespace slmrec::serve
