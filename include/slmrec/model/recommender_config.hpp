#pragma once
// The run-time description of a recommender: what a checkpoint's config.json
// holds, what the command line fills in, and what a compile-time
// recommender<Backend, Arch, Depth> is checked against when it loads one.
#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <slmrec/core/error.hpp>
#include <slmrec/core/limits.hpp>
#include <slmrec/core/types.hpp>
#include <slmrec/io/json.hpp>

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
  // E4SRec's frozen backbone (llama only): the blocks and the final norm get no
  // gradient; with lora_rank > 0 the projections named in lora_targets (q, k,
  // v, o, gate, up, down) carry trainable low-rank adapters (nn/lora.hpp).
  bool freeze_backbone = false;
  index lora_rank = 0;
  double lora_alpha = 16.0;
  std::vector<std::string> lora_targets;

  [[nodiscard]] index resolved_item_dim() const { return item_dim > 0 ? item_dim : dim; }
  [[nodiscard]] index resolved_kv_heads() const { return kv_heads > 0 ? kv_heads : heads; }
  [[nodiscard]] index resolved_head_dim() const { return head_dim > 0 ? head_dim : dim / heads; }
  [[nodiscard]] index resolved_ffn() const {
    if (ffn > 0) return ffn;
    return arch == "sasrec" ? dim : (8 * dim / 3 + 7) / 8 * 8;
  }
  [[nodiscard]] double resolved_norm_eps() const { return norm_eps > 0 ? norm_eps : (arch == "sasrec" ? 1e-8 : 1e-6); }

  // A lower bound on the parameters of a model of this config (the item table,
  // each block's attention and feed-forward matrices, and max_len x head width
  // for the position table or rotary cache), overflow-checked:
  // a loader compares it with the bytes a weights file holds before building
  // anything, so a config claiming 2^31 items or 10^9 layers is refused, not
  // allocated.
  [[nodiscard]] index minimum_parameters() const {
    const char* what = "model config";
    const index width = limits::checked_mul({heads, resolved_head_dim()}, what);
    const index kv_width = limits::checked_mul({resolved_kv_heads(), resolved_head_dim()}, what);
    const index block = limits::checked_add({limits::checked_mul({2, dim, width}, what),
                                             limits::checked_mul({2, dim, kv_width}, what),
                                             limits::checked_mul({2, dim, resolved_ffn()}, what)},
                                            what);
    return limits::checked_add({limits::checked_mul({num_items + 1, resolved_item_dim()}, what),
                                limits::checked_mul({layers, block}, what),
                                limits::checked_mul({max_len, resolved_head_dim()}, what)},
                               what);
  }

  void validate() const {
    require(arch == "sasrec" || arch == "llama", "model config: arch '{}' is not one of sasrec, llama", arch);
    require(num_items >= 1 && num_items <= limits::max_items, "model config: num_items = {}, expected 1..{}", num_items,
            limits::max_items);
    require(dim <= limits::max_dim && item_dim >= 0 && item_dim <= limits::max_dim && head_dim <= limits::max_head_dim &&
                layers <= limits::max_layers && heads <= limits::max_heads && kv_heads >= 0 &&
                kv_heads <= limits::max_heads && ffn >= 0 && ffn <= limits::max_ffn && max_len <= limits::max_len,
            "model config: a size is beyond slmrec's limits (dim, item_dim <= {}, head_dim <= {}, layers, heads, kv_heads <= "
            "{}, ffn <= {}, max_len <= {}; got dim {}, item_dim {}, head_dim {}, layers {}, heads {}, kv_heads {}, "
            "ffn {}, max_len {})",
            limits::max_dim, limits::max_head_dim, limits::max_layers, limits::max_ffn, limits::max_len, dim, item_dim, head_dim, layers,
            heads, kv_heads, ffn, max_len);
    require(std::isfinite(rope_theta) && rope_theta > 0, "model config: rope_theta {} must be a positive number",
            rope_theta);
    require(std::isfinite(norm_eps) && norm_eps >= 0 && std::isfinite(init_std) && init_std >= 0,
            "model config: norm_eps {} and init_std {} must be finite and non-negative", norm_eps, init_std);
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
    require(!freeze_backbone || arch == "llama", "model config: a frozen backbone is for llama models");
    require(lora_rank >= 0 && lora_rank <= limits::max_dim && (lora_rank == 0 || freeze_backbone),
            "model config: lora_rank {} (0..{}, and adapters need a frozen backbone)", lora_rank, limits::max_dim);
    require(std::isfinite(lora_alpha) && lora_alpha > 0, "model config: lora_alpha {} must be positive", lora_alpha);
    require(lora_rank == 0 || !lora_targets.empty(), "model config: lora_rank {} with no lora_targets", lora_rank);
    for (const auto& t : lora_targets)
      require(t == "q" || t == "k" || t == "v" || t == "o" || t == "gate" || t == "up" || t == "down",
              "model config: LoRA target '{}' is not one of q, k, v, o, gate, up, down", printable(t));
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
  if (c.freeze_backbone)  // only then: checkpoints of plain models stay as they were
    j.update({{"freeze_backbone", true}, {"lora_rank", c.lora_rank}, {"lora_alpha", c.lora_alpha},
              {"lora_targets", c.lora_targets}});
}

// Reads the "model" section of a checkpoint's config.json: every field typed
// and range-checked (limits.hpp), then validate()d, before any model is built.
inline recommender_config read_recommender_config(const io::json_reader& r) {
  using limits::max_dim;
  const recommender_config d;
  recommender_config c;
  c.arch = r.string_or("arch", d.arch);
  c.num_items = r.integer("num_items", 1, limits::max_items);
  c.dim = r.integer_or("dim", d.dim, 1, max_dim);
  c.item_dim = r.integer_or("item_dim", d.item_dim, 0, max_dim);
  c.heads = r.integer_or("heads", d.heads, 1, limits::max_heads);
  c.kv_heads = r.integer_or("kv_heads", d.kv_heads, 0, limits::max_heads);
  c.head_dim = r.integer_or("head_dim", d.head_dim, 0, limits::max_head_dim);
  c.ffn = r.integer_or("ffn", d.ffn, 0, limits::max_ffn);
  c.layers = r.integer_or("layers", d.layers, 1, limits::max_layers);
  c.max_len = r.integer_or("max_len", d.max_len, 1, limits::max_len);
  c.dropout = r.real_or("dropout", d.dropout, 0.0, 0.999999);
  c.norm_eps = r.real_or("norm_eps", d.norm_eps, 0.0, 1.0);
  c.rope_theta = r.positive_real_or("rope_theta", d.rope_theta, 1e12);
  c.init_std = r.real_or("init_std", d.init_std, 0.0, 1e3);
  c.head = r.string_or("head", d.head);
  c.freeze_items = r.boolean_or("freeze_items", d.freeze_items);
  c.aux_layers = r.integers_or("aux_layers", d.aux_layers, 0, limits::max_layers, std::size_t(limits::max_layers));
  c.freeze_backbone = r.boolean_or("freeze_backbone", d.freeze_backbone);
  c.lora_rank = r.integer_or("lora_rank", d.lora_rank, 0, max_dim);
  c.lora_alpha = r.positive_real_or("lora_alpha", d.lora_alpha, 1e6);
  if (r.has("lora_targets")) {
    const nlohmann::json& t = r.at("lora_targets");
    require(t.is_array() && t.size() <= 7, "{}: lora_targets should be a list of at most 7 names, found {}",
            r.where("lora_targets"), io::describe_json(t));
    for (const auto& x : t) {
      require(x.is_string(), "{}: lora_targets holds {}, expected names", r.where("lora_targets"),
              io::describe_json(x));
      c.lora_targets.push_back(x.get<std::string>());
    }
  }
  try {
    c.validate();
  } catch (const error& e) {
    fail("{}: {}", r.source(), e.what());
  }
  return c;
}

// For nlohmann's get<recommender_config>() (a config that is not a file).
inline void from_json(const nlohmann::json& j, recommender_config& c) {
  c = read_recommender_config(io::json_reader(j, "model config"));
}

}  // namespace slmrec::model
