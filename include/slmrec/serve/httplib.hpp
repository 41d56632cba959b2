#pragma once
// cpp-httplib's client, included once for slmrec's tests and load test (the
// service itself runs on libmicrohttpd: event_server.hpp). Its <resolv.h>
// defines `_res` as a macro (glibc's resolver state), a name Eigen's
// matrix-product kernels use for a parameter, so any Eigen header parsed after
// it fails to compile. Nothing of ours uses the resolver's _res: the macro goes.
#include <httplib.h>
#ifdef _res
#undef _res
#endif
