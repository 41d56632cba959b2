#pragma once
// The whole library in one include. Larger programs may include the folders
// they use (backend/, nn/, model/, train/, io/, data/, eval/) for faster builds.
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
#include <slmrec/model/hf_llama.hpp>
#include <slmrec/model/llama_decoder.hpp>
#include <slmrec/train/adamw.hpp>
#include <slmrec/train/clip.hpp>
