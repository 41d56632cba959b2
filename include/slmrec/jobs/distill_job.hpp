#pragma once
// `slmrec distill` as a function, shared by the command-line tool and the
// Python module (slmrec.distill): a trained teacher's checkpoint, a shallower
// student of the same arch initialised from it (or from a Hugging Face
// LLaMA), distilled block by block into a checkpoint directory, the best
// weights reported on the test split.
#include <string>

#include <fmt/core.h>

#include <slmrec/backend/concept.hpp>
#include <slmrec/data/data.hpp>
#include <slmrec/distill/distiller.hpp>
#include <slmrec/distill/init.hpp>
#include <slmrec/jobs/report.hpp>
#include <slmrec/model/factory.hpp>
#include <slmrec/model/hf_llama.hpp>
#include <slmrec/train/split.hpp>
#include <slmrec/train/trainer.hpp>

namespace slmrec::jobs {

struct distill_job {
  std::string teacher;  // the teacher's checkpoint directory
  train::train_config train;
  index student_layers = 2, blocks = 2;
  distill::distill_weights weights;
  std::string norm = "mse";    // mse | squared | l2
  std::string align = "last";  // last | all
  std::string init = "first";  // first | interval | random | hf:DIR
  double dropout = -1.0;       // the student's; < 0: the teacher's
  std::string out;             // the student's checkpoint directory
  bool resume = false;
};

template <backend::backend BE, class Comm = dist::none>
test_report_t run_distill(const distill_job& job, const data::dataset& ds, const Comm& comm = {}) {
  const bool verbose = job.train.verbosity > 0;
  auto weights = job.weights;
  weights.norm_type = distill::parse_norm_kind(job.norm);
  require(job.align == "last" || job.align == "all", "--align '{}' is not one of last, all", job.align);
  weights.all_positions = job.align == "all";
  const auto split = train::leave_one_out(ds, comm);
  const auto tcfg = model::checkpoint_model_config(job.teacher);
  require(tcfg.num_items == ds.num_items, "the teacher was trained on {} items, {} has {}", tcfg.num_items, ds.source,
          ds.num_items);
  const auto map = distill::make_block_map(tcfg.layers, job.student_layers, job.blocks);
  auto scfg = model::merged_config(tcfg);  // a student of a frozen backbone's teacher trains all its weights
  scfg.layers = job.student_layers;
  scfg.aux_layers.clear();
  if (weights.ms > 0)
    for (index k = 1; k < map.blocks; ++k) scfg.aux_layers.push_back(map.student_layer(k));
  if (job.dropout >= 0) scfg.dropout = job.dropout;
  return model::with_checkpoint<BE>(job.teacher, [&](auto& teacher) {
    return model::with_recommender<BE>(scfg, true, [&](auto& student) -> test_report_t {
      if constexpr (std::is_same_v<typename std::remove_cvref_t<decltype(teacher)>::arch_type,
                                   typename std::remove_cvref_t<decltype(student)>::arch_type>) {
        student.initialize(job.train.seed);
        if (job.init.starts_with("hf:")) {
          auto hf = model::load_hf_llama<BE>(job.init.substr(3), job.student_layers);
          index copied = 0;
          for (const auto& e : student.parameters().entries())
            if (const auto* src = hf.params.find(e.spec.name); src && src->spec.shape == e.spec.shape) {
              BE::copy(hf.params.value(*src), student.parameters().value(e), e.size);
              ++copied;
            }
          require(copied > 0, "--init {}: no tensor of that checkpoint fits the student", job.init);
          if (verbose) fmt::print("student: {} tensors from {}\n", copied, job.init.substr(3));
        } else {
          const auto how = distill::parse_student_init(job.init);
          const index copied =
              distill::init_student(teacher.parameters(), student.parameters(), how, tcfg.layers, scfg.layers);
          if (verbose)
            fmt::print("student: {} layers, {} tensors copied from the teacher ({})\n", scfg.layers, copied, job.init);
        }
        distill::distiller kd(teacher, student, map, weights, split.train);
        if (verbose)
          fmt::print("distilling {} -> {} layers in {} blocks: lambda cos {} norm {} ({}) ms {}, align {}\n",
                     tcfg.layers, scfg.layers, map.blocks, weights.cos, weights.norm, job.norm, weights.ms, job.align);
        const auto r = train::fit(kd, split, ds, job.train, job.out, job.resume, comm);
        return test_report(student, split, ds, r, job.train, job.out, comm);
      } else {
        fail("teacher and student must have the same arch");
      }
    });
  });
}

}  // namespace slmrec::jobs
