
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
#include <slmrec/jobs/distill_job.hpp>

#include "cmd_common.hpp"

namespace slmrec::cli {

void add_distill(CLI::App& app) {
  struct options {
    data_options data;
    jobs::distill_job job;
    std::string device = "cpu";
  };
  auto o = std::make_shared<options>();
  auto* cmd = app.add_subcommand("distill", "Distill a trained teacher into a shallower student (SLMRec)");
  cmd->add_option("--teacher", o->job.teacher, "the teacher's checkpoint directory")->required();
  o->data.add(cmd);
  o->data.add_shard(cmd);
  cmd->add_option("--student-layers", o->job.student_layers, "student depth N")->capture_default_str();
  cmd->add_option("--blocks", o->job.blocks, "blocks B (teacher and student depths divisible by B)")->capture_default_str();
  cmd->add_option("--lambda-cos", o->job.weights.cos, "weight of 1 - cos")->capture_default_str();
  cmd->add_option("--lambda-norm", o->job.weights.norm, "weight of the norm term")->capture_default_str();
  cmd->add_option("--lambda-ms", o->job.weights.ms, "weight of the extra heads' cross-entropy")->capture_default_str();
  cmd->add_option("--norm", o->job.norm, "mse (mean over d) | squared (the paper's) | l2 (the released code's)")
      ->capture_default_str();
  cmd->add_option("--align", o->job.align, "last (position) | all (real positions)")->capture_default_str();
  cmd->add_option("--init", o->job.init, "first | interval | random | hf:DIR (first N layers of a HF LLaMA)")
      ->capture_default_str();
  cmd->add_option("--dropout", o->job.dropout, "student dropout (default: the teacher's)");
  add_train_options(cmd, o->job.train);
  cmd->add_option("--out", o->job.out, "the student's checkpoint directory")->required();
  cmd->add_flag("--resume", o->job.resume, "continue from the checkpoint in --out");
  cmd->add_option("--device", o->device, backend::device_names)->capture_default_str();
  cmd->callback([o] {
    const auto ds = o->data.load();
    backend::with_device(o->device, [&](auto device) {
      using BE = typename decltype(device)::type;
      // dist::mpi under SLMREC_WITH_MPI (dist::nccl for a CUDA device where NCCL was found)
      with_communicator<BE>([&](const auto& comm) { print_test(jobs::run_distill<BE>(o->job, ds, comm)); });
    });
  });
}

}  // namespace slmrec::cli
