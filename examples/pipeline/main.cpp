// pipeline — the SLMRec pipeline end to end, on real data (--data FILE) or, by
// default, on a built-in synthetic dataset with real sequential structure:
//   1. SASRec, whose item table is kept (E4SRec stage 1);
//   2. a deep LLaMA teacher reading that frozen table through a learned
//      projection, with the SLMRec head (or E4SRec's classifier);
//   3. a shallow student distilled from it layer by layer;
//   plus the same LLaMA trained from scratch at several depths, and a
//   popularity baseline. Writes results.md (the table) and depth.svg (test
//   NDCG@10 against depth, popularity as a reference line) into --out.
//   With --init hf:DIR the teacher starts from a pretrained LLaMA (E4SRec),
//   every LLaMA model takes that backbone's shape, and the plot marks the
//   pretrained teacher and its student.
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <slmrec/backend/eigen_cpu.hpp>
#include <slmrec/data/data.hpp>
#include <slmrec/data/synthetic.hpp>
#include <slmrec/distill/distiller.hpp>
#include <slmrec/distill/init.hpp>
#include <slmrec/eval/eval.hpp>
#include <slmrec/eval/popularity.hpp>
#include <slmrec/io/atomic_file.hpp>
#include <slmrec/model/arch.hpp>
#include <slmrec/model/pretrained_backbone.hpp>
#include <slmrec/model/recommender.hpp>
#include <slmrec/train/trainer.hpp>

#include "svg_plot.hpp"

namespace {

namespace fs = std::filesystem;
using be = slmrec::backend::eigen_cpu;
using slmrec::index;
using sasrec_model = slmrec::model::recommender<be, slmrec::arch::sasrec>;
using llama_model = slmrec::model::recommender<be, slmrec::arch::llama>;

struct options {
  std::string data, format = "auto", out = "pipeline_out", head = "projected", init;
  index teacher_layers = 4, student_layers = 2, blocks = 2, dim = 64, item_dim = 32, epochs = 30, patience = 3;
  std::vector<index> depths{1, 2, 4};
  double lr = 2e-3, dropout = 0.2, lambda_cos = 1.0, lambda_norm = 0.1, lambda_ms = 1.0;
  std::uint64_t seed = 0;
};

struct row {
  std::string model;
  index layers = 0;
  index parameters = 0;
  slmrec::eval::metric_accumulator test;
  double seconds = 0;
};

template <class Model>
slmrec::eval::metric_accumulator test_metrics(Model& m, const slmrec::data::split& split,
                                              const slmrec::data::dataset& ds) {
  slmrec::eval::eval_options eo;
  eo.max_len = m.config().max_len;
  eo.batch_size = 256;
  auto scorer = [&](const slmrec::data::batch& in, std::span<float> s) {
    m.score_last(in.items, in.size, in.length, s);
  };
  return slmrec::eval::evaluate(slmrec::eval::test_view(split, ds), scorer, eo).metrics;
}

slmrec::model::recommender_config llama_config(const options& o, const slmrec::data::dataset& ds, index layers) {
  slmrec::model::recommender_config c;
  c.arch = "llama";
  c.num_items = ds.num_items;
  c.dim = o.dim;
  c.item_dim = o.item_dim == o.dim ? 0 : o.item_dim;
  c.heads = 4;
  c.layers = layers;
  c.dropout = o.dropout;
  c.head = o.item_dim == o.dim ? (o.head == "projected" ? "tied" : o.head) : o.head;
  c.freeze_items = true;
  if (!o.init.empty()) {  // the pretrained backbone's shape (width, heads, ffn, norm eps, RoPE) at every depth
    c = slmrec::model::with_hf_backbone(c, o.init.substr(3), 0);
    c.layers = layers;
    c.validate();
  }
  return c;
}

slmrec::train::train_config train_config(const options& o) {
  slmrec::train::train_config t;
  t.epochs = o.epochs;
  t.patience = o.patience;
  t.lr = o.lr;
  t.seed = o.seed;
  t.verbosity = 0;
  return t;
}

// Copies the SASRec item table into a LLaMA model (frozen there).
void copy_items(sasrec_model& from, llama_model& to) {
  auto& a = from.item_table();
  auto& b = to.item_table();
  slmrec::require(a.rows() == b.rows() && a.dim() == b.dim(), "item tables differ: {}x{} vs {}x{}", a.rows(), a.dim(),
                  b.rows(), b.dim());
  be::copy(a.weight.value, b.weight.value, a.rows() * a.dim());
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The SLMRec pipeline: SASRec -> LLaMA teacher -> distilled student -> evaluation"};
  options o;
  app.add_option("--data", o.data, "dataset file (default: the built-in synthetic data)");
  app.add_option("--format", o.format, "dataset format")->capture_default_str();
  app.add_option("--out", o.out, "output directory")->capture_default_str();
  app.add_option("--teacher-layers", o.teacher_layers, "teacher depth M")->capture_default_str();
  app.add_option("--student-layers", o.student_layers, "student depth N")->capture_default_str();
  app.add_option("--blocks", o.blocks, "distillation blocks B")->capture_default_str();
  app.add_option("--depths", o.depths, "from-scratch depths for the depth study")->capture_default_str();
  app.add_option("--dim", o.dim, "LLaMA width")->capture_default_str();
  app.add_option("--item-dim", o.item_dim, "SASRec width = item table width")->capture_default_str();
  app.add_option("--head", o.head, "projected (SLMRec) | classifier (E4SRec)")->capture_default_str();
  app.add_option("--epochs", o.epochs, "maximum epochs per model")->capture_default_str();
  app.add_option("--patience", o.patience, "early-stopping patience")->capture_default_str();
  app.add_option("--lr", o.lr, "learning rate")->capture_default_str();
  app.add_option("--dropout", o.dropout, "dropout")->capture_default_str();
  app.add_option("--lambda-cos", o.lambda_cos, "")->capture_default_str();
  app.add_option("--lambda-norm", o.lambda_norm, "")->capture_default_str();
  app.add_option("--lambda-ms", o.lambda_ms, "")->capture_default_str();
  app.add_option("--seed", o.seed, "seed")->capture_default_str();
  app.add_option("--init", o.init, "hf:DIR: the teacher starts from this pretrained LLaMA (E4SRec), fine-tuned");
  CLI11_PARSE(app, argc, argv);
  try {
    namespace sl = slmrec;
    if (!o.init.empty()) {
      sl::require(o.init.starts_with("hf:") && o.init.size() > 3, "--init '{}': expected hf:DIR", o.init);
      o.dim = sl::model::read_hf_llama_config(o.init.substr(3)).block.dim;
    }
    const sl::data::dataset ds = [&] {
      if (!o.data.empty()) {
        sl::data::load_options lo;
        lo.input_format = sl::data::parse_format(o.format);
        return sl::data::read_dataset(o.data, lo);
      }
      sl::data::synthetic_options so;
      so.users = 2000;
      so.items = 600;
      so.min_len = 5;
      so.max_len = 30;
      so.seed = 1 + o.seed;
      return sl::data::make_synthetic(so);
    }();
    const auto split = sl::data::leave_one_out(ds);
    const auto st = sl::data::compute_stats(ds);
    fmt::print("data {}: {} users, {} items, {} interactions, avg length {:.1f}\n", ds.source, st.users, st.items,
               st.interactions, st.avg_len);
    fs::create_directories(o.out);
    const fs::path out = o.out;
    std::vector<row> rows;
    const auto tc = train_config(o);

    {  // Popularity: the floor any sequential model must clear.
      sl::eval::popularity_scorer scorer(split.train_item_counts);
      rows.push_back({"popularity", 0, 0, sl::eval::evaluate(sl::eval::test_view(split, ds), scorer).metrics, 0});
    }

    // Stage 1: SASRec; its item table feeds the LLaMA models.
    sl::model::recommender_config sc;
    sc.arch = "sasrec";
    sc.num_items = ds.num_items;
    sc.dim = o.item_dim;
    sc.dropout = o.dropout;
    sasrec_model sasrec(sc);
    sasrec.initialize(o.seed);
    auto t0 = std::chrono::steady_clock::now();
    {
      sl::train::next_item_objective obj(sasrec, sl::train::loss_kind::cross_entropy);
      sl::train::fit(obj, split, ds, tc, out / "sasrec");
    }
    rows.push_back({"SASRec (stage 1)", sc.layers, sasrec.parameters().count(), test_metrics(sasrec, split, ds),
                    seconds_since(t0)});
    fmt::print("stage 1  SASRec           NDCG@10 {:.4f}\n", rows.back().test.mean("NDCG@10"));
    std::fflush(stdout);

    auto train_llama = [&](llama_model& m, const std::string& name, bool pretrained = false) {
      m.initialize(o.seed);
      if (pretrained) sl::model::load_hf_backbone(m.parameters(), o.init.substr(3));
      copy_items(sasrec, m);
      const auto start = std::chrono::steady_clock::now();
      sl::train::next_item_objective obj(m, sl::train::loss_kind::cross_entropy);
      sl::train::fit(obj, split, ds, tc, out / name);
      return seconds_since(start);
    };

    // Stage 2: the teacher.
    llama_model teacher(llama_config(o, ds, o.teacher_layers));
    const bool pretrained = !o.init.empty();
    const double teacher_secs = train_llama(teacher, "teacher", pretrained);
    const std::string from = pretrained ? fmt::format(", from {}", fs::path(o.init.substr(3)).filename().string()) : "";
    rows.push_back({fmt::format("LLaMA teacher ({} layers{})", o.teacher_layers, from), o.teacher_layers,
                    teacher.parameters().count(), test_metrics(teacher, split, ds), teacher_secs});
    fmt::print("stage 2  teacher ({} layers)  NDCG@10 {:.4f}\n", o.teacher_layers, rows.back().test.mean("NDCG@10"));
    std::fflush(stdout);

    // Stage 3: the distilled student, started from the teacher's first layers.
    const auto map = sl::distill::make_block_map(o.teacher_layers, o.student_layers, o.blocks);
    auto scfg = llama_config(o, ds, o.student_layers);
    for (slmrec::index k = 1; k < map.blocks; ++k) scfg.aux_layers.push_back(map.student_layer(k));
    llama_model student(scfg);
    student.initialize(o.seed);
    sl::distill::init_student(teacher.parameters(), student.parameters(), sl::distill::student_init::first,
                              o.teacher_layers, o.student_layers);
    t0 = std::chrono::steady_clock::now();
    {
      sl::distill::distill_weights w{o.lambda_cos, o.lambda_norm, o.lambda_ms, sl::distill::norm_kind::mse, false};
      sl::distill::distiller kd(teacher, student, map, w, split.train);
      sl::train::fit(kd, split, ds, tc, out / "student");
    }
    rows.push_back({fmt::format("distilled student ({} <- {})", o.student_layers, o.teacher_layers),
                    o.student_layers, student.parameters().count(), test_metrics(student, split, ds),
                    seconds_since(t0)});
    fmt::print("stage 3  student ({} <- {})  NDCG@10 {:.4f}\n", o.student_layers, o.teacher_layers,
               rows.back().test.mean("NDCG@10"));
    std::fflush(stdout);

    // The depth study: the same LLaMA from scratch at each depth.
    std::vector<std::pair<double, double>> scratch;
    for (slmrec::index depth : o.depths) {
      if (depth == o.teacher_layers && !pretrained) {
        scratch.emplace_back(double(depth), rows[2].test.mean("NDCG@10"));
        continue;
      }
      llama_model m(llama_config(o, ds, depth));
      const double secs = train_llama(m, fmt::format("llama_{}", depth));
      rows.push_back({fmt::format("LLaMA from scratch ({} layers)", depth), depth, m.parameters().count(),
                      test_metrics(m, split, ds), secs});
      scratch.emplace_back(double(depth), rows.back().test.mean("NDCG@10"));
      fmt::print("depth    {} layers from scratch  NDCG@10 {:.4f}\n", depth, rows.back().test.mean("NDCG@10"));
    std::fflush(stdout);
    }
    std::sort(scratch.begin(), scratch.end());

    std::string md = fmt::format(
        "# SLMRec pipeline results\n\nData: {} ({} users, {} items). Test split, full ranking over all items with "
        "the user's history excluded, pessimistic ties. Seed {}.\n\n"
        "| model | layers | parameters | HR@10 | NDCG@10 | MRR | train seconds |\n|---|---|---|---|---|---|---|\n",
        ds.source, st.users, st.items, o.seed);
    for (const auto& r : rows)
      md += fmt::format("| {} | {} | {} | {:.4f} | {:.4f} | {:.4f} | {:.1f} |\n", r.model, r.layers, r.parameters,
                        r.test.mean("HR@10"), r.test.mean("NDCG@10"), r.test.mean("MRR"), r.seconds);
    sl::io::write_file_atomically(out / "results.md", md);
    // The pretrained teacher and its student are squares: a different starting point, not another depth.
    const auto mark = pretrained ? sl::pipeline::marker::square : sl::pipeline::marker::circle;
    const std::vector<sl::pipeline::series> plot{
        {"from scratch", "#1f77b4", scratch, true},
        {pretrained ? "teacher (pretrained)" : "teacher", "#d62728",
         {{double(o.teacher_layers), rows[2].test.mean("NDCG@10")}}, false, mark},
        {pretrained ? "its distilled student" : "distilled student", "#2ca02c",
         {{double(o.student_layers), rows[3].test.mean("NDCG@10")}}, false, mark},
        {"SASRec", "#7f7f7f", {{double(sc.layers), rows[1].test.mean("NDCG@10")}}, false}};
    const std::vector<sl::pipeline::reference_line> refs{{"popularity", "#9467bd", rows[0].test.mean("NDCG@10")}};
    sl::io::write_file_atomically(
        out / "depth.svg", sl::pipeline::svg_plot("Test NDCG@10 against depth", "layers", "NDCG@10", plot, refs));
    fmt::print("\n{}\nwrote {} and {}\n", md, (out / "results.md").string(), (out / "depth.svg").string());
    // A sequential model that does not beat popularity has learned nothing: fail loudly.
    for (const auto& r : rows)
      if (r.layers > 0 && r.test.mean("NDCG@10") <= rows.front().test.mean("NDCG@10"))
        sl::fail("{} (NDCG@10 {:.4f}) does not beat popularity ({:.4f})", r.model, r.test.mean("NDCG@10"),
                 rows.front().test.mean("NDCG@10"));
  } catch (const std::exception& e) {
    fmt::print(stderr, "pipeline: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
