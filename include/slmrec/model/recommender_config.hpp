#pragma once
// The run-time description of a recommender: what a checkpoint's config.json
// holds, what the command line fills in, and what a compile-time
// recommender<Backend, Arch, Depth> is checked against when it loads one.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <slmrec/core/error.hpp>
#include <slmrec/core/types.hpp>

namespace slmrec::model {

struct recommender_config {
  std::string arch = "sasrec";  // "sasrec" | "llama"
  index num_items = 0;          // real items; tables have num_items + 1 rows (row 0 = padding)
  index dim = 64;               // decoder width
  index item_dim = 0;           // item table width; 0 = dim. != dim: read through a learned projection
  index heads = 2;
  index kv_heads = 0;           // 0 = heads
  index head_dim = 0;           // 0 = dim / heads (llama; a head-pruned model keeps its heads' width)
  index ffn = 0;                // 0 = the arch default (dim for sasrec, about 8/3 dim for llama)
  index layers = 2;
  index max_len = 50;
  double dropout = 0.2;         // embedding and residual-branch dropout
  double norm_eps = 0.0;        // 0 = the arch default (1e-8 sasrec, 1e-6 llama)
  double rope_theta = 10000.0;  // llama only
  double init_std = 0.02;       // llama: N(0, std) weights; sasrec uses Xavier as SASRec does
  std::string head = "tied";    // "tied" (dot with the item table) | "classifier" (E4SRec) | "projected" (SLMRec)
  bool freeze_items = false;    // keep the item table fixed (a pretrained SASRec table)
  std::vector<index> aux_layers;  // extra prediction heads on these (0-based) layers' outputs (multi-supervision)

  [[nodiscard]] index resolved_item_dim() const { return item_dim > 0 ? item_dim : dim; }
  [[nodiscard]] index resolved_kv_heads() const { return kv_heads > 0 ? kv_heads : heads; }
  [[nodiscard]] index resolved_head_dim() const { return head_dim > 0 ? head_dim : dim / heads; }
  [[nodiscard]] index resolved_ffn() const {
    if (ffn > 0) return ffn;
    return arch == "sasrec" ? dim : (8 * dim / 3 + 7) / 8 * 8;
  }
  [[nodiscard]] double resolved_norm_eps() const { return norm_eps > 0 ? norm_eps : (arch == "sasrec" ? 1e-8 : 1e-6); }

  void validate() const {
    require(arch == "sasrec" || arch == "llama", "model config: arch '{}' is not one of sasrec, llama", arch);
    require(num_items >= 1, "model config: num_items = {}, expected at least 1", num_items);
    require(dim >= 1 && layers >= 1 && heads >= 1 && max_len >= 1,
            "model config: dim, layers, heads and max_len must be positive (got {}, {}, {}, {})", dim, layers, heads,
            max_len);
    require(head_dim > 0 || dim % heads == 0, "model config: width {} is not divisible by {} heads", dim, heads);
    require(head_dim >= 0 && (head_dim == 0 || arch == "llama"),
            "model config: head_dim {} (an explicit head width is for llama models)", head_dim);
    require(heads % resolved_kv_heads() == 0, "model config: {} heads cannot be grouped over {} key/value heads", heads,
            resolved_kv_heads());
    require(arch != "llama" || resolved_head_dim() % 2 == 0,
            "model config: llama needs an even head dimension, got {}", resolved_head_dim());
    require(dropout >= 0.0 && dropout < 1.0, "model config: dropout {} is outside [0, 1)", dropout);
    require(head == "tied" || head == "classifier" || head == "projected",
            "model config: head '{}' is not one of tied, classifier, projected", head);
    for (index l : aux_layers)
      require(l >= 0 && l < layers - 1, "model config: an extra head on layer {} (expected 0..{})", l, layers - 2);
    require(head != "tied" || resolved_item_dim() == dim,
            "model config: a tied head scores with the item table, so item_dim ({}) must equal dim ({}); use the "
            "projected head",
            resolved_item_dim(), dim);
  }
};

inline void to_json(nlohmann::json& j, const recommender_config& c) {
  j = {{"arch", c.arch},         {"num_items", c.num_items},   {"dim", c.dim},       {"item_dim", c.item_dim},
       {"heads", c.heads},       {"kv_heads", c.kv_heads},     {"head_dim", c.head_dim},
       {"ffn", c.ffn},           {"layers", c.layers},
       {"max_len", c.max_len},   {"dropout", c.dropout},       {"norm_eps", c.norm_eps},
       {"rope_theta", c.rope_theta}, {"init_std", c.init_std}, {"head", c.head}, {"freeze_items", c.freeze_items},
       {"aux_layers", c.aux_layers}};
}

inline void from_json(const nlohmann::json& j, recommender_config& c) {
  const recommender_config d;
  c.arch = j.value("arch", d.arch);
  c.num_items = j.at("num_items").get<index>();
  c.dim = j.value("dim", d.dim);
  c.item_dim = j.value("item_dim", d.item_dim);
  c.heads = j.value("heads", d.heads);
  c.kv_heads = j.value("kv_heads", d.kv_heads);
  c.head_dim = j.value("head_dim", d.head_dim);
  c.ffn = j.value("ffn", d.ffn);
  c.layers = j.value("layers", d.layers);
  c.max_len = j.value("max_len", d.max_len);
  c.dropout = j.value("dropout", d.dropout);
  c.norm_eps = j.value("norm_eps", d.norm_eps);
  c.rope_theta = j.value("rope_theta", d.rope_theta);
  c.init_std = j.value("init_std", d.init_std);
  c.head = j.value("head", d.head);
  c.freeze_items = j.value("freeze_items", d.freeze_items);
  c.aux_layers = j.value("aux_layers", d.aux_layers);
}

}  // namespace slmrec::model
