#pragma once
// NumPy and Python values at the module's boundary: item-id arrays checked
// (integer dtype, range) before any C++ sees them, so bad input is a Python
// exception naming the argument and the row, never undefined behaviour; the
// library's JSON results as Python dicts.
#include <cstdint>
#include <string>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <nlohmann/json.hpp>

#include <slmrec/core/types.hpp>

namespace slmrec::python {

namespace py = pybind11;

// `what` as a 1-D array of int64 (any integer dtype, or a list of Python ints);
// floats, booleans, strings, nested lists and other shapes raise ValueError.
py::array_t<std::int64_t> as_id_vector(const py::handle& what, const std::string& name);

// Ids checked against lo..hi and narrowed to int32.
std::vector<std::int32_t> checked_ids(const py::array_t<std::int64_t>& ids, std::int64_t lo, std::int64_t hi,
                                      const std::string& name);

// Histories as a model reads them: a list (or other sequence) of 1-D integer
// arrays, each oldest first, or a 2-D integer array whose rows are
// left-padded with 0. Ids in 1..num_items (0 also, in a padded array).
struct histories {
  bool padded = false;
  std::vector<std::vector<std::int32_t>> lists;  // !padded
  std::vector<std::int32_t> cells;               // padded: [rows, columns]
  index rows = 0, columns = 0;
};
histories read_histories(const py::handle& h, index num_items, const std::string& name);

py::object to_python(const nlohmann::json& j);
nlohmann::json from_python(const py::handle& h);

}  // namespace slmrec::python
