#pragma once
// The whole library in one include. Larger programs may include the folders
// they use (backend/, nn/, quant/, prune/, model/, train/, io/, data/, eval/) for faster builds.
#include <slmrec/version.hpp>

#include <slmrec/core/error.hpp>
#include <slmrec/core/rng.hpp>
#include <slmrec/core/types.hpp>

#include <slmrec/backend/eigen_cpu.hpp>

#include <slmrec/nn/attention.hpp>
#include <slmrec/nn/dropout.hpp>
#include <slmrec/nn/embedding.hpp>
#include <slmrec/nn/linear.hpp>
#include <slmrec/nn/llama_block.hpp>
#include <slmrec/nn/lora.hpp>
#include <slmrec/nn/mlp.hpp>
#include <slmrec/nn/norm.hpp>
#include <slmrec/nn/parameters.hpp>
#include <slmrec/nn/rope.hpp>
#include <slmrec/nn/sasrec_block.hpp>
#include <slmrec/nn/stack.hpp>

#include <slmrec/io/safetensors.hpp>

#include <slmrec/data/data.hpp>
#include <slmrec/data/synthetic.hpp>
#include <slmrec/eval/eval.hpp>

#include <slmrec/model/arch.hpp>
#include <slmrec/model/batch_api.hpp>
#include <slmrec/model/factory.hpp>
#include <slmrec/model/hf_llama.hpp>
#include <slmrec/model/llama_decoder.hpp>
#include <slmrec/model/quantize.hpp>
#include <slmrec/model/quantized_checkpoint.hpp>
#include <slmrec/model/recommender.hpp>
#include <slmrec/model/serving.hpp>

#include <slmrec/prune/magnitude.hpp>
#include <slmrec/prune/mask.hpp>
#include <slmrec/prune/policy.hpp>
#include <slmrec/prune/structured.hpp>

#include <slmrec/distill/block_map.hpp>
#include <slmrec/distill/distiller.hpp>
#include <slmrec/distill/init.hpp>

#include <slmrec/train/adamw.hpp>
#include <slmrec/train/checkpoint.hpp>
#include <slmrec/train/clip.hpp>
#include <slmrec/train/trainer.hpp>

namespace slmrec {
// The names of the design document: slmrec::recommender<cpu, slmrec::arch::llama, slmrec::depth<8>>.
using model::quantize;
using model::recommender;
using distill::distiller;
}  // namespace slmrec
