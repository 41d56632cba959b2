// slmrec.train and slmrec.distill: the command line's jobs (jobs::run_train,
// jobs::run_distill) with its options and defaults, the GIL released while
// they run. Every step looks for a pending signal (Ctrl-C) with the GIL held;
// a KeyboardInterrupt raised there stops the run, and the checkpoint keeps its
// last completed epoch.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/jobs/distill_job.hpp>
#include <slmrec/jobs/train_job.hpp>

#include "bindings.hpp"
#include "convert.hpp"

namespace slmrec::python {

namespace {

using cpu = backend::eigen_cpu;

// The trainer's hooks: signals checked after every step, progress(epoch
// record) after every epoch, both with the GIL.
void add_hooks(train::train_config& t, const py::object& progress) {
  t.on_step = [](index) {
    py::gil_scoped_acquire locked;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  };
  // A handle, not an object: copies of the hook (made without the GIL) must
  // not touch its reference count; the caller's argument keeps it alive.
  if (!progress.is_none())
    t.on_epoch = [callback = py::handle(progress)](const nlohmann::json& epoch) {
      py::gil_scoped_acquire locked;
      callback(to_python(epoch));
    };
}

// The training options train and distill share (the command line's
// add_train_options), set in one place.
void set_training(train::train_config& t, index epochs, index batch, double lr, double weight_decay, double beta2,
                  index warmup, const std::string& schedule, double clip, index patience, const std::string& metric,
                  const std::string& targets, std::uint64_t seed, index eval_users, index test_users, bool verbose) {
  t.epochs = epochs, t.batch_size = batch, t.lr = lr, t.weight_decay = weight_decay, t.beta2 = beta2;
  t.warmup_steps = warmup, t.schedule = schedule, t.clip = clip, t.patience = patience, t.metric = metric;
  t.targets = targets, t.seed = seed, t.eval_users = eval_users, t.test_users = test_users;
  t.verbosity = verbose ? 1 : 0;
}

// A finished run: its checkpoint loaded as the returned model.
template <class Run>
model_handle run_and_load(const std::string& out, Run&& run) {
  model_handle h;
  h.checkpoint = out;
  nlohmann::json report;
  {
    py::gil_scoped_release unlocked;
    report = run().json;
    h.model = load_model(out, 0);
  }
  h.test_metrics = to_python(report);
  return h;
}

std::string checkpoint_of(const py::handle& teacher) {
  if (py::isinstance<model_handle>(teacher)) {
    const auto& h = teacher.cast<const model_handle&>();
    if (h.checkpoint.empty())
      throw py::value_error(
          "teacher: this model exists only in memory; save() it first (distillation reads the "
          "teacher's checkpoint)");
    return h.checkpoint;
  }
  return path_string(teacher, "teacher");
}

constexpr const char* train_options_doc = R"doc(
Training (as the command line's options):
epochs: maximum epochs.
batch: sequences per batch.
lr: peak learning rate (AdamW).
weight_decay: AdamW decoupled weight decay.
beta2: AdamW beta2.
warmup: linear warm-up steps.
schedule: cosine | constant.
clip: gradient clipping norm (0 = off).
patience: epochs without a better validation metric before stopping.
metric: validation metric for model selection (NDCG@k, HR@k or MRR).
targets: all (a next-item target at every position) | last.
seed: the seed of everything random (initialisation, batches, dropout).
eval_users: validate each epoch on a random sample of this many users (0 = all).
test_users: test the trained model on a random sample of this many users
    (0 = all), drawn with seed.
resume: continue the checkpoint in `out` exactly where it stopped.
progress: None, or a callable called after every epoch with that epoch's record
    (a dict as metrics.jsonl holds it: epoch, train_loss, valid metrics, ...).
verbose: print the command line's lines (an epoch per line) on stdout.

Returns the best weights as a slmrec.Model (loaded from `out`), with the test
split's metrics in model.test_metrics. Ctrl-C stops at the next step with
KeyboardInterrupt; the checkpoint keeps its last completed epoch.)doc";

}  // namespace

void bind_train(py::module_& m) {
  const jobs::train_job t0;
  const auto& mc = t0.model;
  const auto& tc = t0.train;
  m.def(
      "train",
      [](const dataset_ptr& ds, const py::handle& out, const std::string& arch, std::optional<index> layers, index dim,
         index item_dim, index heads, index kv_heads, index ffn, index max_len, double dropout, const std::string& head,
         double init_std, double rope_theta, const std::string& loss, index negatives, const std::string& sampler,
         double popularity_power, bool in_batch, bool log_q, const std::string& items_from, bool train_items,
         const std::string& init, bool freeze_backbone, index lora_rank, double lora_alpha,
         const std::vector<std::string>& lora_targets, index epochs, index batch, double lr, double weight_decay,
         double beta2, index warmup, const std::string& schedule, double clip, index patience,
         const std::string& metric, const std::string& targets, std::uint64_t seed, index eval_users, index test_users,
         bool resume, const py::object& progress, bool verbose) {
        if (!ds) throw py::type_error("train: dataset is None (expected a slmrec.Dataset)");
        jobs::train_job job;
        auto& c = job.model;
        if (!init.empty()) {  // as the command line: the shape comes from the backbone
          const jobs::train_job d;
          const std::pair<const char*, bool> given[] = {{"dim", dim != d.model.dim},
                                                        {"heads", heads != d.model.heads},
                                                        {"kv_heads", kv_heads != d.model.kv_heads},
                                                        {"ffn", ffn != d.model.ffn},
                                                        {"rope_theta", rope_theta != d.model.rope_theta}};
          for (const auto& [name, set] : given)
            if (set)
              throw py::value_error(
                  fmt::format("train: {} comes from the backbone with init='{}': leave it out", name, init));
          job.init = init, job.init_layers = layers.value_or(0);
        }
        c.arch = arch, c.layers = layers.value_or(c.layers), c.dim = dim, c.item_dim = item_dim, c.heads = heads,
        c.kv_heads = kv_heads;
        c.ffn = ffn, c.max_len = max_len, c.dropout = dropout, c.head = head, c.init_std = init_std;
        c.rope_theta = rope_theta, c.freeze_backbone = freeze_backbone, c.lora_rank = lora_rank;
        c.lora_alpha = lora_alpha;
        if (lora_rank > 0) c.lora_targets = lora_targets;
        job.loss = loss, job.sampled.negatives = negatives, job.sampler = sampler,
        job.sampled.popularity_power = popularity_power, job.sampled.in_batch = in_batch;
        job.log_q = log_q, job.items_from = items_from, job.train_items = train_items;
        set_training(job.train, epochs, batch, lr, weight_decay, beta2, warmup, schedule, clip, patience, metric,
                     targets, seed, eval_users, test_users, verbose);
        job.resume = resume;
        job.out = path_string(out, "out");
        add_hooks(job.train, progress);
        return run_and_load(job.out, [&] { return jobs::run_train<cpu>(job, *ds); });
      },
      py::arg("dataset"), py::kw_only(), py::arg("out"), py::arg("arch") = mc.arch, py::arg("layers") = py::none(),
      py::arg("dim") = mc.dim, py::arg("item_dim") = mc.item_dim, py::arg("heads") = mc.heads,
      py::arg("kv_heads") = mc.kv_heads, py::arg("ffn") = mc.ffn, py::arg("max_len") = mc.max_len,
      py::arg("dropout") = mc.dropout, py::arg("head") = mc.head, py::arg("init_std") = mc.init_std,
      py::arg("rope_theta") = mc.rope_theta, py::arg("loss") = t0.loss, py::arg("negatives") = t0.sampled.negatives,
      py::arg("sampler") = t0.sampler, py::arg("popularity_power") = t0.sampled.popularity_power,
      py::arg("in_batch") = t0.sampled.in_batch, py::arg("log_q") = t0.log_q, py::arg("items_from") = t0.items_from,
      py::arg("train_items") = t0.train_items, py::arg("init") = t0.init,
      py::arg("freeze_backbone") = mc.freeze_backbone, py::arg("lora_rank") = mc.lora_rank,
      py::arg("lora_alpha") = mc.lora_alpha, py::arg("lora_targets") = jobs::default_lora_targets,
      py::arg("epochs") = tc.epochs, py::arg("batch") = tc.batch_size, py::arg("lr") = tc.lr,
      py::arg("weight_decay") = tc.weight_decay, py::arg("beta2") = tc.beta2, py::arg("warmup") = tc.warmup_steps,
      py::arg("schedule") = tc.schedule, py::arg("clip") = tc.clip, py::arg("patience") = tc.patience,
      py::arg("metric") = tc.metric, py::arg("targets") = tc.targets, py::arg("seed") = tc.seed,
      py::arg("eval_users") = tc.eval_users, py::arg("test_users") = tc.test_users, py::arg("resume") = t0.resume,
      py::arg("progress") = py::none(), py::arg("verbose") = false,
      (std::string(R"doc(
Trains a recommender with early stopping on validation into a checkpoint
directory, as `slmrec train` does (same options, same defaults, same files:
config.json, model.safetensors, metrics.jsonl, test_metrics.json).

dataset: a slmrec.Dataset, split leave-one-out (last item test, second to last validation).
out: the checkpoint directory (written atomically after every epoch).

Model:
arch: sasrec | llama.
layers: number of blocks (None: the command line's default, 2; with init, all of
    the backbone's).
dim: model width.
item_dim: item table width (0 = dim; narrower tables are read through a projection).
heads: attention heads.
kv_heads: key/value heads (0 = heads; llama grouped-query attention).
ffn: feed-forward width (0 = the arch's default).
max_len: the most recent items of a history the model reads.
dropout: embedding and residual dropout.
head: tied | classifier | projected.
init_std: llama weight initialisation std.
rope_theta: llama RoPE theta.

Loss:
loss: ce (softmax over all items) | bce (one sampled negative) | sampled
    (softmax over a shared sampled candidate set: catalog scale).
negatives: loss="sampled": candidates drawn per batch.
sampler: loss="sampled": uniform | popularity | mixed.
popularity_power: loss="sampled": popularity draws from (count + 1)^P; below 1
    flattens toward uniform.
in_batch: loss="sampled": the batch's targets are candidates too.
log_q: loss="sampled": log Q correction of the logits (False for ablation).
items_from: start the item table from this checkpoint's (E4SRec stage 2),
    frozen unless train_items.
train_items: with items_from: keep training the item table.

Pretrained backbone (the paper's premise; docs/results.md):
init: "hf:DIR": start the backbone from a Hugging Face LLaMA (its width, heads,
    ffn, norm eps and RoPE theta: leave dim, heads, kv_heads, ffn and
    rope_theta out; its first `layers` blocks, all of them when None).
freeze_backbone: with init: keep the backbone's weights fixed (the item
    table, projection and head learn).
lora_rank: with freeze_backbone: LoRA adapters of this rank (0 = none).
lora_alpha: LoRA scaling numerator (update x alpha / rank).
lora_targets: projections with adapters, among q, k, v, o, gate, up, down.
)doc") +
       train_options_doc)
          .c_str());

  const jobs::distill_job d0;
  const auto& dt = d0.train;
  m.def(
      "distill",
      [](const py::handle& teacher, const dataset_ptr& ds, const py::handle& out, index student_layers, index blocks,
         double lambda_cos, double lambda_norm, double lambda_ms, const std::string& norm, const std::string& align,
         const std::string& init, std::optional<double> dropout, index epochs, index batch, double lr,
         double weight_decay, double beta2, index warmup, const std::string& schedule, double clip, index patience,
         const std::string& metric, const std::string& targets, std::uint64_t seed, index eval_users, index test_users,
         bool resume, const py::object& progress, bool verbose) {
        if (!ds) throw py::type_error("distill: dataset is None (expected a slmrec.Dataset)");
        jobs::distill_job job;
        job.teacher = checkpoint_of(teacher);
        job.student_layers = student_layers, job.blocks = blocks;
        job.weights.cos = lambda_cos, job.weights.norm = lambda_norm, job.weights.ms = lambda_ms;
        job.norm = norm, job.align = align, job.init = init, job.dropout = dropout.value_or(-1.0);
        set_training(job.train, epochs, batch, lr, weight_decay, beta2, warmup, schedule, clip, patience, metric,
                     targets, seed, eval_users, test_users, verbose);
        job.resume = resume;
        job.out = path_string(out, "out");
        add_hooks(job.train, progress);
        return run_and_load(job.out, [&] { return jobs::run_distill<cpu>(job, *ds); });
      },
      py::arg("teacher"), py::arg("dataset"), py::kw_only(), py::arg("out"),
      py::arg("student_layers") = d0.student_layers, py::arg("blocks") = d0.blocks,
      py::arg("lambda_cos") = d0.weights.cos, py::arg("lambda_norm") = d0.weights.norm,
      py::arg("lambda_ms") = d0.weights.ms, py::arg("norm") = d0.norm, py::arg("align") = d0.align,
      py::arg("init") = d0.init, py::arg("dropout") = py::none(), py::arg("epochs") = dt.epochs,
      py::arg("batch") = dt.batch_size, py::arg("lr") = dt.lr, py::arg("weight_decay") = dt.weight_decay,
      py::arg("beta2") = dt.beta2, py::arg("warmup") = dt.warmup_steps, py::arg("schedule") = dt.schedule,
      py::arg("clip") = dt.clip, py::arg("patience") = dt.patience, py::arg("metric") = dt.metric,
      py::arg("targets") = dt.targets, py::arg("seed") = dt.seed, py::arg("eval_users") = dt.eval_users,
      py::arg("test_users") = dt.test_users, py::arg("resume") = d0.resume, py::arg("progress") = py::none(),
      py::arg("verbose") = false,
      (std::string(R"doc(
Distills a trained teacher into a shallower student of the same arch (SLMRec),
as `slmrec distill` does; the student's checkpoint is an ordinary one.

teacher: the teacher's checkpoint directory, or a slmrec.Model loaded from one.
dataset: the slmrec.Dataset the teacher was trained on.
out: the student's checkpoint directory.
student_layers: student depth N.
blocks: blocks B (teacher and student depths divisible by B).
lambda_cos: weight of 1 - cos between block outputs.
lambda_norm: weight of the norm term.
lambda_ms: weight of the extra heads' cross-entropy (multi-supervision).
norm: mse (mean over d) | squared (the paper's) | l2 (the released code's).
align: last (position) | all (real positions).
init: first | interval | random | hf:DIR (first N layers of a Hugging Face LLaMA).
dropout: the student's dropout (None: the teacher's).
)doc") +
       train_options_doc)
          .c_str());
}

}  // namespace slmrec::python
