#include "convert.hpp"

#include <fmt/core.h>

#include <slmrec/core/error.hpp>

namespace slmrec::python {

namespace {

std::string type_name(const py::handle& h) { return py::str(py::type::handle_of(h).attr("__name__")); }

// An ndarray of any integer kind (no silent float truncation, no bool).
py::array integer_array(const py::handle& what, const std::string& name) {
  py::array a;
  if (py::isinstance<py::array>(what)) {
    a = py::reinterpret_borrow<py::array>(what);
  } else {
    try {
      a = py::module_::import("numpy").attr("asarray")(what);
    } catch (py::error_already_set& e) {
      throw py::value_error(fmt::format("{}: expected integer item ids, could not read a {} as an array ({})", name,
                                        type_name(what), e.what()));
    }
  }
  // An empty list reads as float64; its emptiness is the error worth reporting.
  if (a.size() == 0) return py::array_t<std::int64_t>(std::vector<py::ssize_t>(std::size_t(a.ndim()), 0));
  const char kind = a.dtype().kind();
  if (kind != 'i' && kind != 'u') {
    const std::string found = kind == 'O' ? "objects (a ragged or mixed list?)" : std::string(py::str(a.dtype()));
    throw py::value_error(fmt::format("{}: expected integer item ids, found an array of {}", name, found));
  }
  return a;
}

}  // namespace

py::array_t<std::int64_t> as_id_vector(const py::handle& what, const std::string& name) {
  const py::array a = integer_array(what, name);
  if (a.ndim() != 1)
    throw py::value_error(fmt::format("{}: expected a 1-D sequence of item ids, found {} dimensions", name, a.ndim()));
  return py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(a);
}

std::vector<std::int32_t> checked_ids(const py::array_t<std::int64_t>& ids, std::int64_t lo, std::int64_t hi,
                                      const std::string& name) {
  const auto v = ids.unchecked<1>();
  std::vector<std::int32_t> out(std::size_t(v.shape(0)));
  for (py::ssize_t i = 0; i < v.shape(0); ++i) {
    if (v(i) < lo || v(i) > hi)
      throw py::value_error(
          fmt::format("{}[{}] is item id {}, expected {}..{}", name, i, v(i), lo, hi));
    out[std::size_t(i)] = std::int32_t(v(i));
  }
  return out;
}

histories read_histories(const py::handle& h, index num_items, const std::string& name) {
  histories out;
  if (py::isinstance<py::array>(h) && py::reinterpret_borrow<py::array>(h).ndim() == 2) {
    const py::array a = integer_array(h, name);
    const auto cells = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(a);
    out.padded = true;
    out.rows = index(cells.shape(0));
    out.columns = index(cells.shape(1));
    if (out.rows == 0 || out.columns == 0)
      throw py::value_error(fmt::format("{}: an empty [{}, {}] array (expected at least one row and one column)", name,
                                        out.rows, out.columns));
    const auto v = cells.unchecked<2>();
    out.cells.resize(std::size_t(out.rows * out.columns));
    for (index r = 0; r < out.rows; ++r) {
      bool any = false;
      for (index c = 0; c < out.columns; ++c) {
        const std::int64_t id = v(r, c);
        if (id < 0 || id > num_items)
          throw py::value_error(fmt::format("{}[{}, {}] is item id {}, expected 1..{} (0 = padding, on the left)",
                                            name, r, c, id, num_items));
        any = any || id != 0;
        out.cells[std::size_t(r * out.columns + c)] = std::int32_t(id);
      }
      if (!any) throw py::value_error(fmt::format("{}[{}] is all padding (at least one item is needed)", name, r));
    }
    return out;
  }
  if (py::isinstance<py::array>(h))
    throw py::value_error(fmt::format("{}: expected a 2-D padded array or a list of 1-D arrays, found a {}-D array",
                                      name, py::reinterpret_borrow<py::array>(h).ndim()));
  if (!py::isinstance<py::sequence>(h) || py::isinstance<py::str>(h))
    throw py::value_error(
        fmt::format("{}: expected a list of 1-D integer arrays or a 2-D integer array, found a {}", name, type_name(h)));
  const auto seq = py::reinterpret_borrow<py::sequence>(h);
  if (seq.size() == 0) throw py::value_error(fmt::format("{}: no histories (an empty list)", name));
  out.lists.reserve(seq.size());
  for (std::size_t u = 0; u < seq.size(); ++u) {
    const std::string row = fmt::format("{}[{}]", name, u);
    const auto ids = as_id_vector(seq[u], row);
    if (ids.shape(0) == 0) throw py::value_error(fmt::format("{} is empty (at least one item is needed)", row));
    out.lists.push_back(checked_ids(ids, 1, num_items, row));
  }
  return out;
}

py::object to_python(const nlohmann::json& j) {
  return py::module_::import("json").attr("loads")(py::str(j.dump()));
}

nlohmann::json from_python(const py::handle& h) {
  if (h.is_none()) return nlohmann::json::object();
  return nlohmann::json::parse(std::string(py::str(py::module_::import("json").attr("dumps")(h))));
}

}  // namespace slmrec::python
