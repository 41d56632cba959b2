// slmrec.Dataset and slmrec.load_dataset: the library's readers and its
// in-memory dataset (one chronological item sequence per user, ids 1..n).
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <slmrec/data/data.hpp>
#include <slmrec/data/detail/numeric_ids.hpp>
#include <slmrec/data/detail/records.hpp>

#include "bindings.hpp"
#include "convert.hpp"

namespace slmrec::python {

namespace {

dataset_ptr from_sequences(const py::sequence& seqs, const std::string& name) {
  if (seqs.size() == 0) throw py::value_error("from_sequences: no sequences (an empty list)");
  std::vector<std::int32_t> users;
  data::sequence_table sequences;
  for (std::size_t u = 0; u < seqs.size(); ++u) {
    const std::string row = fmt::format("sequences[{}]", u);
    const auto ids = as_id_vector(seqs[u], row);
    if (ids.shape(0) == 0) throw py::value_error(row + " is empty (every user needs at least one item)");
    // The sequence files' ids: positive 32-bit integers, renumbered 1..n when not dense.
    sequences.push_back(checked_ids(ids, 1, std::numeric_limits<std::int32_t>::max(), row));
    users.push_back(std::int32_t(u + 1));
  }
  data::load_report report;
  report.detected = data::format::sequences;
  auto d = std::make_shared<data::dataset>(
      data::detail::from_numeric(std::move(users), std::move(sequences), name, std::move(report)));
  data::validate(*d);
  return d;
}

dataset_ptr from_interactions(const py::handle& users, const py::handle& items, const py::handle& timestamps,
                              const std::string& name) {
  const auto u = as_id_vector(users, "users"), i = as_id_vector(items, "items");
  const auto n = u.shape(0);
  if (i.shape(0) != n)
    throw py::value_error(fmt::format("from_interactions: {} users but {} items (one of each per interaction)", n,
                                      i.shape(0)));
  if (n == 0) throw py::value_error("from_interactions: no interactions (empty arrays)");
  std::optional<py::array_t<double, py::array::c_style | py::array::forcecast>> t;
  if (!timestamps.is_none()) {
    const py::array a = py::module_::import("numpy").attr("asarray")(timestamps);
    const char kind = a.dtype().kind();
    if (kind != 'i' && kind != 'u' && kind != 'f')
      throw py::value_error(fmt::format("timestamps: expected numbers, found an array of {}", std::string(py::str(a.dtype()))));
    if (a.ndim() != 1 || a.shape(0) != n)
      throw py::value_error(fmt::format("timestamps: expected {} values (one per interaction)", n));
    t = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(a);
  }
  // As the string-id readers (CSV, RecBole) do: ids numbered by first
  // appearance, each user's interactions stably sorted by timestamp.
  data::detail::records rec;
  rec.has_time = t.has_value();
  const auto uu = u.unchecked<1>(), ii = i.unchecked<1>();
  for (py::ssize_t k = 0; k < n; ++k)
    rec.add(std::to_string(uu(k)), std::to_string(ii(k)), 0.0, t ? t->at(k) : 0.0);
  data::load_report report;
  report.detected = data::format::csv;
  auto d = std::make_shared<data::dataset>(data::detail::group_records(std::move(rec), name, {}, std::move(report)));
  data::validate(*d);
  return d;
}

py::array_t<std::int32_t> user_items(const data::dataset& d, py::ssize_t u) {
  if (u < 0) u += py::ssize_t(d.num_users());
  if (u < 0 || u >= py::ssize_t(d.num_users()))
    throw py::index_error(fmt::format("user index {} out of range [0, {})", u, d.num_users()));
  const auto& s = d.sequences[std::size_t(u)];
  return py::array_t<std::int32_t>(py::ssize_t(s.size()), s.data());
}

}  // namespace

void bind_data(py::module_& m) {
  py::class_<data::dataset, dataset_ptr>(m, "Dataset", R"doc(
A dataset in memory: one chronological item sequence per user, items numbered
1..num_items (0 is padding). Made by slmrec.load_dataset, Dataset.from_sequences
or Dataset.from_interactions. ``len(ds)`` is the number of users; ``ds[u]`` the
items of user index u (an int32 array, oldest first).)doc")
      .def_static("from_sequences", &from_sequences, py::arg("sequences"), py::arg("name") = "<sequences>", R"doc(
A dataset from one item sequence per user.

sequences: a list of 1-D integer arrays (or lists), each one user's items,
    oldest first. Ids are positive integers (as in the sequence files); when
    they are not exactly 1..n they are renumbered 1..n in increasing id order,
    as the file readers do, and the originals kept in ``item_ids()``.
name: names the dataset in messages (as a file name would).)doc")
      .def_static("from_interactions", &from_interactions, py::arg("users"), py::arg("items"),
                  py::arg("timestamps") = py::none(), py::arg("name") = "<interactions>", R"doc(
A dataset from parallel arrays of interactions, as the CSV reader builds one.

users, items: 1-D integer arrays of equal length, any integer ids; numbered
    1..n in order of first appearance, originals kept (``user_ids()``, ``item_ids()``).
timestamps: optional numbers, one per interaction; each user's interactions are
    sorted by them (stably: ties keep their order). Without them, array order is
    each user's chronological order.
name: names the dataset in messages.)doc")
      .def("__len__", &data::dataset::num_users)
      .def("__getitem__", &user_items, py::arg("user"))
      .def_property_readonly("num_items", [](const data::dataset& d) { return d.num_items; },
                             "Items in the dataset (ids 1..num_items).")
      .def_property_readonly("num_users", &data::dataset::num_users, "Users (the same as len()).")
      .def_property_readonly("num_interactions", &data::dataset::num_interactions, "Items over all users.")
      .def_property_readonly("source", [](const data::dataset& d) { return d.source; }, "The file or name it came from.")
      .def("item_ids", [](const data::dataset& d) { return d.item_names; },
           "The original id of each item 1..num_items (as strings), or [] when the ids were kept.")
      .def("user_ids", [](const data::dataset& d) { return d.user_names; },
           "The original id of each user, or [] when the ids were kept.")
      .def("report", [](const data::dataset& d) { return d.report.summary(); },
           "What the load read, kept and removed, as text.")
      .def(
          "stats",
          [](const data::dataset& d) {
            const auto s = data::compute_stats(d);
            py::dict out;
            out["users"] = s.users;
            out["items"] = s.items;
            out["interactions"] = s.interactions;
            out["avg_len"] = s.avg_len;
            out["median_len"] = s.median_len;
            out["min_len"] = s.min_len;
            out["max_len"] = s.max_len;
            out["density"] = s.density;
            return out;
          },
          "The summary numbers of `slmrec data-stats`: users, items, interactions, avg/median/min/max length, density.")
      .def("__repr__", [](const data::dataset& d) {
        return fmt::format("<slmrec.Dataset {}: {} users, {} items, {} interactions>", d.source, d.num_users(),
                           d.num_items, d.num_interactions());
      });

  const data::load_options defaults;
  m.def(
      "load_dataset",
      [](const py::handle& path, const std::string& format, std::optional<double> min_rating, bool deduplicate,
         index min_interactions, bool csv_item_first, const std::string& user_column, const std::string& item_column,
         const std::string& rating_column, const std::string& timestamp_column) {
        data::load_options o;
        o.input_format = data::parse_format(format);
        o.min_rating = min_rating;
        o.deduplicate = deduplicate;
        o.min_interactions = min_interactions;
        o.csv_item_first = csv_item_first;
        o.user_column = user_column;
        o.item_column = item_column;
        o.rating_column = rating_column;
        o.timestamp_column = timestamp_column;
        const std::string file = path_string(path, "path");
        py::gil_scoped_release unlocked;
        return std::make_shared<data::dataset>(data::read_dataset(file, o));
      },
      py::arg("path"), py::arg("format") = "auto", py::arg("min_rating") = py::none(),
      py::arg("deduplicate") = defaults.deduplicate, py::arg("min_interactions") = defaults.min_interactions,
      py::arg("csv_item_first") = defaults.csv_item_first, py::arg("user_column") = defaults.user_column,
      py::arg("item_column") = defaults.item_column, py::arg("rating_column") = defaults.rating_column,
      py::arg("timestamp_column") = defaults.timestamp_column, R"doc(
Reads a dataset file with the command line's readers (`--data FILE --format F`).

path: the file (str or os.PathLike).
format: auto (decided from the extension and the content) | sequences
    (`user item1 item2 ...` per line) | interactions (`user item` per line) |
    recbole (a RecBole .inter file) | csv (`user,item[,rating[,timestamp]]`).
min_rating: keep only interactions rated at least this (formats with ratings).
deduplicate: keep only the earliest of repeated (user, item) interactions.
min_interactions: iterative k-core: every user and item keeps at least this many (0 or 1: off).
csv_item_first: a CSV without header is item,user,... (Amazon 2018 dumps).
user_column, item_column, rating_column, timestamp_column: RecBole field names.

Errors (a missing file, a malformed line) raise slmrec.Error (a ValueError)
naming the file and line, with the command line's message.)doc");
}

}  // namespace slmrec::python
