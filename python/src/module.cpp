// slmrec._core: the extension module behind `import slmrec` (python/slmrec).
#include <pybind11/pybind11.h>

#include <slmrec/core/error.hpp>
#include <slmrec/version.hpp>

#include "bindings.hpp"

namespace slmrec::python {

std::string path_string(const py::handle& p, const char* name) {
  const py::object os = py::module_::import("os");
  try {
    return py::str(os.attr("fspath")(p));
  } catch (py::error_already_set&) {
    throw py::type_error(std::string(name) + ": expected a path (str or os.PathLike), found " +
                         std::string(py::str(py::type::handle_of(p).attr("__name__"))));
  }
}

}  // namespace slmrec::python

PYBIND11_MODULE(_core, m) {
  namespace py = pybind11;
  m.doc() = "slmrec's C++ core (header-only library) for Python; use the slmrec package.";
  // The library's one exception type: bad input, a damaged file, an option out
  // of range; its message is the command line's. A ValueError, so callers can
  // catch it as that or as slmrec.Error.
  py::register_exception<slmrec::error>(m, "Error", PyExc_ValueError);
  m.attr("__version__") = slmrec::version;
  slmrec::python::bind_data(m);
  slmrec::python::bind_model(m);
  slmrec::python::bind_train(m);
}
