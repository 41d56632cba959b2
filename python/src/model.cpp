// slmrec.load and slmrec.Model: evaluation, recommendation, embeddings,
// quantization and pruning of a loaded model, NumPy arrays in and out. Calls
// that run the model release the GIL.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <slmrec/model/batch_api.hpp>

#include "bindings.hpp"
#include "convert.hpp"

namespace slmrec::python {

namespace {

model_handle load(const py::handle& path, int threads) {
  model_handle h;
  h.checkpoint = path_string(path, "path");
  py::gil_scoped_release unlocked;
  h.model = load_model(h.checkpoint, threads);
  return h;
}

py::tuple recommend(model_handle& self, const py::handle& histories_in, index k, bool exclude_history) {
  auto& m = *self.model;
  const index n_items = m.config().num_items;
  if (k < 1 || k > n_items) throw py::value_error(fmt::format("k = {}: expected 1..{} (this model's items)", k, n_items));
  auto h = read_histories(histories_in, n_items, "histories");
  const index max_len = m.config().max_len;
  if (h.padded && h.columns > max_len) {  // wider than the model reads: as histories of any length
    for (index r = 0; r < h.rows; ++r) {
      const auto* row = h.cells.data() + r * h.columns;
      const index start = model::history_start(row, h.columns);
      h.lists.emplace_back(row + start, row + h.columns);
    }
    h.padded = false;
  }
  const index rows = h.padded ? h.rows : index(h.lists.size());
  py::array_t<std::int32_t> ids({rows, k});
  py::array_t<float> scores({rows, k});
  const std::span<std::int32_t> out(ids.mutable_data(), std::size_t(rows * k));
  const std::span<float> out_scores(scores.mutable_data(), std::size_t(rows * k));
  {
    py::gil_scoped_release unlocked;
    if (h.padded) {
      m.recommend(h.cells, h.rows, h.columns, k, exclude_history, out, out_scores);
    } else {
      m.recommend(std::span<const std::vector<std::int32_t>>(h.lists), k, exclude_history, out, out_scores);
    }
  }
  return py::make_tuple(ids, scores);
}

py::array_t<float> user_embeddings(model_handle& self, const py::handle& histories_in) {
  auto& m = *self.model;
  const auto& cfg = m.config();
  auto h = read_histories(histories_in, cfg.num_items, "histories");
  if (!h.padded) {  // the last max_len items of each, left-padded (model::pad_sequences)
    const auto padded = model::pad_sequences(h.lists, cfg.max_len);
    h.rows = index(h.lists.size());
    h.columns = cfg.max_len;
    h.cells.assign(padded.begin(), padded.end());
  } else if (h.columns > cfg.max_len) {
    throw py::value_error(fmt::format("histories: {} columns, but this model reads at most max_len = {} (pass a list "
                                      "of arrays for longer histories: their last max_len items are read)",
                                      h.columns, cfg.max_len));
  }
  py::array_t<float> out({h.rows, cfg.dim});
  const std::span<float> dst(out.mutable_data(), std::size_t(h.rows * cfg.dim));
  py::gil_scoped_release unlocked;
  m.user_embeddings(h.cells, h.rows, h.columns, dst);
  return out;
}

py::array_t<float> item_embeddings(const py::object& self_obj) {
  auto& self = self_obj.cast<model_handle&>();
  auto& m = *self.model;
  const index rows = m.config().num_items + 1, dim = m.config().resolved_item_dim();
  if (const float* table = m.item_table()) {
    // A view of the model's own weights: the array keeps the model alive, and
    // is read-only so that no one edits a model that is serving by accident.
    py::array_t<float> view({rows, dim}, {dim * index(sizeof(float)), index(sizeof(float))}, table, self_obj);
    py::detail::array_proxy(view.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
    return view;
  }
  py::array_t<float> copy({rows, dim});
  m.dequantize_items(std::span<float>(copy.mutable_data(), std::size_t(rows * dim)));
  return copy;
}

model_handle derived(std::unique_ptr<any_model> made, const py::object& out, const nlohmann::json& extra) {
  model_handle h;
  h.model = std::move(made);
  if (!out.is_none()) {
    h.checkpoint = path_string(out, "out");
    py::gil_scoped_release unlocked;
    h.model->save(h.checkpoint, extra);
  }
  return h;
}

}  // namespace

void bind_model(py::module_& m) {
  py::class_<model_handle>(m, "Model", R"doc(
A trained model (float or quantized, sasrec or llama), from slmrec.load,
slmrec.train, slmrec.distill, Model.quantize or Model.prune. Calls from
several Python threads run at once (each borrows its own inference replica;
the weights are shared) with the GIL released.)doc")
      .def_property_readonly("config", [](const model_handle& h) { return to_python(nlohmann::json(h.model->config())); },
                             "The model section of the checkpoint's config.json, as a dict.")
      .def_property_readonly("scheme", [](const model_handle& h) { return h.model->scheme(); },
                             "The weight format: none (float32) | int8 | int4 | bf16 | fp16.")
      .def_property_readonly("num_items", [](const model_handle& h) { return h.model->config().num_items; },
                             "Items the model ranks (ids 1..num_items).")
      .def_property_readonly("max_len", [](const model_handle& h) { return h.model->config().max_len; },
                             "The most recent items of a history the model reads.")
      .def_property_readonly("checkpoint", [](const model_handle& h) { return h.checkpoint; },
                             "The checkpoint directory it was loaded from or saved to ('' if only in memory).")
      .def_property_readonly("test_metrics", [](const model_handle& h) { return h.test_metrics; },
                             "After train/distill: the test split's metrics (test_metrics.json); None otherwise.")
      .def_property_readonly("weight_bytes", [](const model_handle& h) { return h.model->weight_bytes(); },
                             "Bytes of the weights as stored (packed formats at their size).")
      .def(
          "evaluate",
          [](model_handle& self, const dataset_ptr& ds, const std::string& protocol, index negatives,
             const std::string& sampler, const std::string& split, std::uint64_t seed, index max_users, index batch,
             bool keep_history) {
            if (!ds) throw py::type_error("evaluate: dataset is None (expected a slmrec.Dataset)");
            jobs::eval_job job;
            job.protocol = protocol;
            job.negatives = negatives;
            job.sampler = sampler;
            job.split = split;
            job.seed = seed;
            job.max_users = max_users;
            job.batch = batch;
            job.keep_history = keep_history;
            nlohmann::json r;
            {
              py::gil_scoped_release unlocked;
              r = self.model->evaluate(*ds, job, ds->source);
            }
            return to_python(r);
          },
          py::arg("dataset"), py::arg("protocol") = jobs::eval_job{}.protocol,
          py::arg("negatives") = jobs::eval_job{}.negatives, py::arg("sampler") = jobs::eval_job{}.sampler,
          py::arg("split") = jobs::eval_job{}.split, py::arg("seed") = jobs::eval_job{}.seed,
          py::arg("max_users") = jobs::eval_job{}.max_users, py::arg("batch") = jobs::eval_job{}.batch,
          py::arg("keep_history") = jobs::eval_job{}.keep_history, R"doc(
Evaluates on a dataset split leave-one-out, as `slmrec eval --json` does, and
returns its JSON line as a dict (HR@k, NDCG@k, MRR, protocol, split, users...).

dataset: the slmrec.Dataset the model was trained on (same items).
protocol: full (rank the target among all items) | sampled (among the target and `negatives` sampled items).
negatives: sampled protocol: negatives per user.
sampler: sampled protocol: uniform | popularity.
split: test (the last item of each user) | valid (the second to last).
seed: the seed of the negative sample and of the max_users subset.
max_users: evaluate a random subset of this many users (0 = all).
batch: users per scoring batch.
keep_history: full ranking: the user's own items stay candidates (excluded by default).)doc")
      .def("recommend", &recommend, py::arg("histories"), py::arg("k") = 10, py::arg("exclude_history") = true, R"doc(
The k best next items for each history, best first: a tuple (ids, scores) of
[users, k] arrays (int32 ids, float32 scores), the answer `slmrec recommend` gives.

histories: a list of 1-D integer arrays (each a user's item ids, oldest first,
    any length: the model reads the last max_len), or a 2-D integer array of
    left-padded rows (0 = padding).
k: items per user, 1..num_items.
exclude_history: never recommend an item of the user's own history.

Ids outside 1..num_items, float arrays, ragged or empty rows raise ValueError.)doc")
      .def("item_embeddings", &item_embeddings, R"doc(
The item table [num_items + 1, item_dim] as float32 (row 0 = padding). For a
float model this is a read-only view of the model's own memory (no copy; the
array keeps the model alive); a quantized model's table is dequantized into a
new array.)doc")
      .def("user_embeddings", &user_embeddings, py::arg("histories"), R"doc(
The final hidden state after each history's last item, [users, dim] float32
(`slmrec export --what user-embeddings`).

histories: as for recommend (a list of 1-D arrays, or a left-padded 2-D array
    of at most max_len columns).)doc")
      .def(
          "quantize",
          [](model_handle& self, const std::string& scheme, const py::object& out) {
            std::unique_ptr<any_model> q;
            {
              py::gil_scoped_release unlocked;
              q = self.model->quantize(scheme);
            }
            return derived(std::move(q), out, {{"quantized_from", self.checkpoint}});
          },
          py::arg("scheme") = "int8", py::arg("out") = py::none(), R"doc(
An inference-only copy in a compact weight format (`slmrec quantize`).

scheme: int8 (per output channel) | int4 (blocks of 32) | bf16 | fp16.
out: if given, the quantized checkpoint directory to write (slmrec.load and
    `slmrec eval`/`recommend` read it).)doc")
      .def(
          "prune",
          [](model_handle& self, const std::string& method, double sparsity, const std::string& scope, double heads,
             const py::object& out) {
            prune_request r{method, sparsity, scope, heads};
            std::unique_ptr<any_model> p;
            {
              py::gil_scoped_release unlocked;
              p = self.model->prune(r);
            }
            return derived(std::move(p), out, {{"pruned_from", self.checkpoint}});
          },
          py::arg("method") = prune_request{}.method, py::arg("sparsity") = prune_request{}.sparsity,
          py::arg("scope") = prune_request{}.scope, py::arg("heads") = prune_request{}.heads,
          py::arg("out") = py::none(), R"doc(
A pruned copy of a float model, not fine-tuned (`slmrec prune` without --data;
fine-tune it with slmrec.distill or train from its checkpoint).

method: magnitude (the smallest decoder weights set to zero) | structured
    (FFN channels and attention heads removed; llama only).
sparsity: magnitude: fraction of decoder weights; structured: fraction of FFN channels.
scope: magnitude: layer (each matrix) | global (one threshold).
heads: structured: fraction of attention heads removed.
out: if given, the pruned checkpoint directory to write.)doc")
      .def(
          "save",
          [](model_handle& self, const py::handle& path) {
            const std::string dir = path_string(path, "path");
            {
              py::gil_scoped_release unlocked;
              self.model->save(dir, nlohmann::json::object());
            }
            self.checkpoint = dir;
          },
          py::arg("path"), "Writes the model as a checkpoint directory (atomically) that slmrec.load reads.")
      .def("__repr__", [](const model_handle& h) {
        const auto& c = h.model->config();
        return fmt::format("<slmrec.Model {} x{} d={} {} items{}{}>", c.arch, c.layers, c.dim, c.num_items,
                           h.model->scheme() == "none" ? "" : " " + h.model->scheme(),
                           h.checkpoint.empty() ? "" : " from " + h.checkpoint);
      });

  m.def("load", &load, py::arg("path"), py::arg("threads") = 0, R"doc(
Loads a checkpoint directory (float or quantized, as `slmrec eval` reads it).

path: the checkpoint directory (str or os.PathLike).
threads: workers that share one batch (0: OpenMP's thread count). With several
    Python threads calling recommend at once, threads=1 keeps each call on one core.)doc");
}

}  // namespace slmrec::python
