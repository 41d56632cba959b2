#pragma once
// Quantized checkpoints: a directory like a float one (config.json,
// model.safetensors), with a "quant" section in the config and each packed
// matrix stored as its codes (I8, U8 nibbles, BF16 or F16 bits) plus
// "<name>.scale" (F32 per row for int8, F16 per block for int4). Float
// parameters (norms, biases) stay F32. `with_any_checkpoint` opens float and
// quantized checkpoints alike and hands the right compile-time type to f.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <slmrec/core/error.hpp>
#include <slmrec/io/safetensors.hpp>
#include <slmrec/model/dispatch.hpp>
#include <slmrec/model/factory.hpp>
#include <slmrec/model/recommender.hpp>
#include <slmrec/quant/matrix_for.hpp>
#include <slmrec/nn/checkpoint_files.hpp>

namespace slmrec::model {

namespace detail {

template <class M>
struct packed_format;
template <>
struct packed_format<quant::int8_matrix> {
  static constexpr io::dtype codes = io::dtype::i8;
  static constexpr bool has_scales = true;
};
template <index B>
struct packed_format<quant::int4_matrix<B>> {
  static constexpr io::dtype codes = io::dtype::u8;
  static constexpr bool has_scales = true;
};
template <>
struct packed_format<quant::half_matrix<quant::bf16>> {
  static constexpr io::dtype codes = io::dtype::bf16;
  static constexpr bool has_scales = false;
};
template <>
struct packed_format<quant::half_matrix<quant::fp16>> {
  static constexpr io::dtype codes = io::dtype::f16;
  static constexpr bool has_scales = false;
};
// int8 on a device backend: the same tensors, uploaded once read.
template <class BE>
struct packed_format<quant::device_int8_matrix<BE>> : packed_format<quant::int8_matrix> {};

// Little-endian bytes of a vector of integers (codes, fp16 bits).
template <class U>
std::vector<std::byte> le_bytes(const std::vector<U>& v) {
  std::vector<std::byte> out(v.size() * sizeof(U));
  for (std::size_t i = 0; i < v.size(); ++i) io::detail::store_le(v[i], out.data() + i * sizeof(U));
  return out;
}
template <class U>
std::vector<U> from_le_bytes(std::span<const std::byte> b) {
  std::vector<U> out(b.size() / sizeof(U));
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = io::detail::load_le<U>(b.data() + i * sizeof(U));
  return out;
}

template <class M>
void add_packed(io::safetensors_writer& w, const std::string& name, const M& m) {
  const auto codes = m.codes();
  using code_t = typename decltype(codes)::value_type;
  const auto count = std::int64_t(codes.size());
  w.add(name, packed_format<M>::codes, {m.rows(), count / m.rows()}, le_bytes(codes));
  if constexpr (packed_format<M>::has_scales) {
    const auto scales = m.scales();
    using scale_t = typename decltype(scales)::value_type;
    const auto n = std::int64_t(scales.size());
    if constexpr (std::is_same_v<scale_t, float>) {
      w.add_f32(name + ".scale", {m.rows(), n / m.rows()}, scales);
    } else {
      w.add(name + ".scale", io::dtype::f16, {m.rows(), n / m.rows()}, le_bytes(scales));
    }
  }
  static_assert(sizeof(code_t) <= 2);
}

template <class M>
M read_packed(const io::safetensors_file& f, const std::string& name, index rows, index cols) {
  const auto& t = f.at(name);
  require(t.type == packed_format<M>::codes, "{}: tensor '{}' is {}, this model stores it as {}", f.path().string(),
          name, io::dtype_name(t.type), io::dtype_name(packed_format<M>::codes));
  using code_t = typename decltype(std::declval<const M&>().codes())::value_type;
  const auto codes = from_le_bytes<code_t>(f.bytes(name));
  if constexpr (packed_format<M>::has_scales) {
    using scale_t = typename decltype(std::declval<const M&>().scales())::value_type;
    const std::string sname = name + ".scale";
    require(f.contains(sname), "{}: no tensor '{}' (the scales of '{}')", f.path().string(), sname, name);
    if constexpr (std::is_same_v<scale_t, float>) {
      return M::from_codes(codes, f.to_float(sname), rows, cols);
    } else {
      require(f.at(sname).type == io::dtype::f16, "{}: tensor '{}' must be F16", f.path().string(), sname);
      return M::from_codes(codes, from_le_bytes<scale_t>(f.bytes(sname)), rows, cols);
    }
  } else {
    return M::from_codes(codes, rows, cols);
  }
}

template <class Q>
nlohmann::json quant_json() {
  nlohmann::json j{{"scheme", Q::name}};
  if constexpr (requires { Q::block; }) j["block"] = Q::block;
  return j;
}

}  // namespace detail

// Writes a quantized model as a checkpoint directory (atomically). `extra`
// is merged into config.json (e.g. where the float model came from).
template <class Model>
void save_quantized(const std::filesystem::path& dir, Model& m, const nlohmann::json& extra = {}) {
  using Q = typename Model::quant_scheme;
  static_assert(quant::is_quantized<Q>, "save_quantized: a float model is saved by the trainer's checkpoint");
  io::safetensors_writer w;
  w.set_metadata("format", "slmrec");
  w.set_metadata("quant", Q::name);
  m.visit([&](const nn::param_spec& spec, auto& slot) {
    if constexpr (nn::is_param_slot<decltype(slot), float>) {
      const std::vector<std::int64_t> shape(spec.shape.begin(), spec.shape.end());
      w.add_f32(spec.name, shape, std::span<const float>(slot.value, std::size_t(slot.size)));
    } else {
      detail::add_packed(w, spec.name, slot);
    }
  }, "");
  nlohmann::json config = extra.is_object() ? extra : nlohmann::json::object();
  config["format"] = "slmrec-checkpoint";
  config["model"] = m.config();
  config["quant"] = detail::quant_json<Q>();
  io::write_directory_atomically(dir, {io::directory_file::bytes("config.json", config.dump(2) + "\n"),
                                       {"model.safetensors", [&w](std::ostream& out) { w.write_to(out); }}});
}

// Reads a quantized checkpoint's weights into a model of the matching type.
template <class Model>
void load_quantized_weights(const std::filesystem::path& dir, Model& m) {
  const auto f = io::safetensors_file::open(dir / "model.safetensors");
  m.visit([&](const nn::param_spec& spec, auto& slot) {
    using slot_t = std::remove_cvref_t<decltype(slot)>;
    require(f.contains(spec.name), "{}: no tensor '{}' (is this checkpoint for a different model?)", f.path().string(),
            spec.name);
    if constexpr (nn::is_param_slot<slot_t, float>) {
      const std::vector<std::int64_t> shape(spec.shape.begin(), spec.shape.end());
      const auto v = f.to_float_checked(spec.name, shape);
      Model::backend_type::upload(v.data(), slot.value, index(v.size()));
    } else {
      slot = detail::read_packed<slot_t>(f, spec.name, spec.shape[0], spec.shape[1]);
    }
  }, "");
}

namespace detail {

// The scheme and int4 block of a checkpoint's parsed config ("none" for float).
inline std::pair<std::string, index> quant_section(const nlohmann::json& j, const std::filesystem::path& dir) {
  const io::json_reader config(j, (dir / "config.json").string());
  if (!config.has("quant")) return {"none", 0};
  const io::json_reader q = config.object("quant");
  return {q.string("scheme"), index(q.integer_or("block", 32, 1, limits::max_dim))};
}

}  // namespace detail

// The scheme a checkpoint's config names ("none" for a float checkpoint).
inline std::string checkpoint_scheme(const std::filesystem::path& dir) {
  return detail::quant_section(nn::read_checkpoint_config(dir), dir).first;
}

// Opens a float or quantized checkpoint for inference and calls
// f(std::unique_ptr<model>) with the model's compile-time type (one
// instantiation per arch and scheme), handing it the model. On a device
// backend an int8 checkpoint runs on the device's int8 kernels; int4, bf16
// and fp16 ones are refused (their kernels are CPU kernels).
template <backend::backend BE, class F>
decltype(auto) open_any_checkpoint(const std::filesystem::path& dir, F&& f) {
  const auto config = nn::read_checkpoint_config(dir);
  const auto [scheme, block] = detail::quant_section(config, dir);
  if (scheme == "none") return open_checkpoint<BE>(dir, std::forward<F>(f));
  const recommender_config cfg = checkpoint_model_config(config, dir);
  require(scheme != "int4" || block == 32, "{}: int4 blocks of {} (this build reads blocks of 32)", dir.string(), block);
  const std::string where = (dir / "config.json").string();
  return with_quantized_scheme(
      scheme,
      [&]<class Q>(Q) -> decltype(auto) {
        // What this backend runs: Q on a host; on a device, int8 only. The
        // other schemes stop here at run time, so that every scheme's branch
        // calls f with a type that exists (no model of int4 on a GPU is made).
        using Runs = std::conditional_t<BE::is_host, Q, quant::int8_per_channel>;
        require(std::is_same_v<Runs, Q>,
                "{}: {} checkpoints run on the CPU only (--device cpu); on {} only int8 ones do", dir.string(),
                Q::name, BE::name);
        // The smallest codes (int4: half a byte a weight), checked before allocating.
        require_weights_fit(cfg, dir / "model.safetensors", std::is_same_v<Q, quant::int4_block<32>> ? 0.5 : 1.0);
        return with_arch(
            cfg.arch,
            [&]<class Arch>(Arch) -> decltype(auto) {
              auto m = std::make_unique<recommender<BE, Arch, depth<dynamic>, Runs>>(cfg, false);
              load_quantized_weights(dir, *m);
              return f(std::move(m));
            },
            where);
      },
      where);
}

// The same, calling f(model&).
template <backend::backend BE, class F>
decltype(auto) with_any_checkpoint(const std::filesystem::path& dir, F&& f) {
  return open_any_checkpoint<BE>(dir, [&](auto m) -> decltype(auto) { return f(*m); });
}

}  // namespace slmrec::model
