
// `slmrec distill --teacher DIR --data FILE --student-layers N --blocks B
//   [--lambda-cos 1 --lambda-norm 0.1 --lambda-ms 1 --norm mse|squared|l2 --align last|all
//    --init first|interval|random|hf:DIR ...training options] --out DIR`
// The result is an ordinary checkpoint (the student) that `slmrec eval` reads.
#include "commands.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <memory>
#include <string>

#include <slmrec/backend/select.hpp>
#include <slmrec/distill/distiller.hpp>
#include <slmrec/distill/init.hpp>
#include <slmrec/model/factory.hpp>
#include <slmrec/model/hf_llama.hpp>

#include "cmd_common.hpp"

namespace slmrec::cli {

void add_distill(CLI::App& app) {
  struct options {
    data_options data;
    train::train_config train;
    std::string teacher, out, init = "first", norm = "mse", align = "last", device = "cpu";
    index student_layers = 2, blocks = 2;
    distill::distill_weights weights;
    double dropout = -1.0;
    bool resume = false;
  };
  auto o = std::make_shared<options>();
  auto* cmd = app.add_subcommand("distill", "Distill a trained teacher into a shallower student (SLMRec)");
  cmd->add_option("--teacher", o->teacher, "the teacher's checkpoint directory")->required();
  o->data.add(cmd);
  cmd->add_option("--student-layers", o->student_layers, "student depth N")->capture_default_str();
  cmd->add_option("--blocks", o->blocks, "blocks B (teacher and student depths divisible by B)")->capture_default_str();
  cmd->add_option("--lambda-cos", o->weights.cos, "weight of 1 - cos")->capture_default_str();
  cmd->add_option("--lambda-norm", o->weights.norm, "weight of the norm term")->capture_default_str();
  cmd->add_option("--lambda-ms", o->weights.ms, "weight of the extra heads' cross-entropy")->capture_default_str();
  cmd->add_option("--norm", o->norm, "mse (mean over d) | squared (the paper's) | l2 (the released code's)")
      ->capture_default_str();
  cmd->add_option("--align", o->align, "last (position) | all (real positions)")->capture_default_str();
  cmd->add_option("--init", o->init, "first | interval | random | hf:DIR (first N layers of a HF LLaMA)")
      ->capture_default_str();
  cmd->add_option("--dropout", o->dropout, "student dropout (default: the teacher's)");
  add_train_options(cmd, o->train);
  cmd->add_option("--out", o->out, "the student's checkpoint directory")->required();
  cmd->add_flag("--resume", o->resume, "continue from the checkpoint in --out");
  cmd->add_option("--device", o->device, backend::device_names)->capture_default_str();
  cmd->callback([o] {
    o->weights.norm_type = distill::parse_norm_kind(o->norm);
    require(o->align == "last" || o->align == "all", "--align '{}' is not one of last, all", o->align);
    o->weights.all_positions = o->align == "all";
    const auto ds = o->data.load();
    const auto split = data::leave_one_out(ds);
    const auto tcfg = model::checkpoint_model_config(o->teacher);
    require(tcfg.num_items == ds.num_items, "the teacher was trained on {} items, {} has {}", tcfg.num_items,
            o->data.file, ds.num_items);
    const auto map = distill::make_block_map(tcfg.layers, o->student_layers, o->blocks);
    auto scfg = model::merged_config(tcfg);  // a student of a frozen backbone's teacher trains all its weights
    scfg.layers = o->student_layers;
    scfg.aux_layers.clear();
    if (o->weights.ms > 0)
      for (index k = 1; k < map.blocks; ++k) scfg.aux_layers.push_back(map.student_layer(k));
    if (o->dropout >= 0) scfg.dropout = o->dropout;
    backend::with_device(o->device, [&](auto device) {
      using BE = typename decltype(device)::type;
      model::with_checkpoint<BE>(o->teacher, [&](auto& teacher) {
        model::with_recommender<BE>(scfg, true, [&](auto& student) {
          if constexpr (std::is_same_v<typename std::remove_cvref_t<decltype(teacher)>::arch_type,
                                       typename std::remove_cvref_t<decltype(student)>::arch_type>) {
            student.initialize(o->train.seed);
            if (o->init.starts_with("hf:")) {
              auto hf = model::load_hf_llama<BE>(o->init.substr(3), o->student_layers);
              index copied = 0;
              for (const auto& e : student.parameters().entries())
                if (const auto* src = hf.params.find(e.spec.name); src && src->spec.shape == e.spec.shape) {
                  BE::copy(hf.params.value(*src), student.parameters().value(e), e.size);
                  ++copied;
                }
              require(copied > 0, "--init {}: no tensor of that checkpoint fits the student", o->init);
              fmt::print("student: {} tensors from {}\n", copied, o->init.substr(3));
            } else {
              const auto how = distill::parse_student_init(o->init);
              const index copied =
                  distill::init_student(teacher.parameters(), student.parameters(), how, tcfg.layers, scfg.layers);
              fmt::print("student: {} layers, {} tensors copied from the teacher ({})\n", scfg.layers, copied, o->init);
            }
            distill::distiller kd(teacher, student, map, o->weights, split.train);
            fmt::print("distilling {} -> {} layers in {} blocks: lambda cos {} norm {} ({}) ms {}, align {}\n",
                       tcfg.layers, scfg.layers, map.blocks, o->weights.cos, o->weights.norm, o->norm, o->weights.ms,
                       o->align);
            const auto r = train::fit(kd, split, ds, o->train, o->out, o->resume);
            report_test(student, split, ds, r, o->train, o->out);
          } else {
            fail("teacher and student must have the same arch");
          }
        });
      });
    });
  });
}

}  // namespace slmrec::cli
