#pragma once
// The pieces of the extension module, one translation unit each (compiling is
// the slow part), and the Python-side handles they share.
#include <memory>
#include <string>

#include <pybind11/pybind11.h>

#include <slmrec/data/dataset.hpp>

#include "any_model.hpp"

namespace slmrec::python {

namespace py = pybind11;

// A Python slmrec.Model: the loaded model, and where it came from.
struct model_handle {
  std::shared_ptr<any_model> model;
  std::string checkpoint;  // the directory it was loaded from or written to ("" for one only in memory)
  py::object test_metrics = py::none();  // train/distill: the best weights on the test split
};

using dataset_ptr = std::shared_ptr<data::dataset>;

void bind_data(py::module_& m);
void bind_model(py::module_& m);
void bind_train(py::module_& m);

// A checkpoint directory as a string (str or os.PathLike).
std::string path_string(const py::handle& p, const char* name);

}  // namespace slmrec::python
