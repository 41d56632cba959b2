// Hostile files (issue 23), through the command-line tool: every case must
// end with exit code 1 and a message naming the file and what was wrong,
// within a second, with a peak memory of the tool's own baseline plus a
// small constant (the files here are kilobytes). The tool is run as a child
// process (posix_spawn) so its exit code, time and peak RSS (wait4) are its own.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <slmrec/io/atomic_file.hpp>
#include <slmrec/io/safetensors.hpp>

#include "support/temp_dir.hpp"

extern char** environ;

namespace fs = std::filesystem;
using Catch::Contains;
using slmrec::test::temp_dir;

namespace {

struct run_result {
  int exit_code = -1;
  std::string out, err;
  double seconds = 0;
  long max_rss_kb = 0;
};

run_result run(const temp_dir& dir, const std::vector<std::string>& args) {
  std::vector<std::string> argv_s{SLMREC_CLI};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  const auto out_path = dir.path() / "stdout.txt", err_path = dir.path() / "stderr.txt";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const auto t0 = std::chrono::steady_clock::now();
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  int status = 0;
  struct rusage usage {};
  REQUIRE(::wait4(pid, &status, 0, &usage) == pid);
  run_result r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.max_rss_kb = usage.ru_maxrss;
  r.out = slmrec::io::read_file(out_path);
  r.err = slmrec::io::read_file(err_path);
  return r;
}

// A checkpoint and its data, made once by the tool itself: a 1-layer llama
// trained one epoch on 200 synthetic users, and its bf16 quantization.
struct fixture {
  temp_dir dir;
  fs::path data, float_ck, bf16_ck;
  long baseline_rss_kb = 0;

  fixture() {
    data = dir.path() / "data.txt";
    float_ck = dir.path() / "float";
    bf16_ck = dir.path() / "bf16";
    const auto must = [&](const std::vector<std::string>& args) {
      const auto r = run(dir, args);
      INFO(r.err);
      REQUIRE(r.exit_code == 0);
      return r;
    };
    must({"synth", "--users", "200", "--items", "300", "--mean-len", "8", "--seed", "1", "--out", data.string()});
    must({"train", "--data", data.string(), "--arch", "llama", "--dim", "16", "--heads", "2", "--layers", "1",
          "--max-len", "10", "--epochs", "1", "--out", float_ck.string()});
    must({"quantize", "--checkpoint", float_ck.string(), "--scheme", "bf16", "--out", bf16_ck.string()});
    // The tool's own peak memory when it refuses a missing checkpoint.
    baseline_rss_kb = run(dir, {"recommend", "--checkpoint", (dir.path() / "none").string(), "--history", "1"}).max_rss_kb;
  }
};

fixture& shared() {
  static fixture f;
  return f;
}

// A copy of a checkpoint directory to damage.
fs::path copy_of(const fs::path& ck, const temp_dir& into, const std::string& name) {
  const auto to = into.path() / name;
  fs::copy(ck, to, fs::copy_options::recursive);
  return to;
}

void edit_json(const fs::path& file, const std::function<void(nlohmann::json&)>& edit) {
  auto j = nlohmann::json::parse(slmrec::io::read_file(file));
  edit(j);
  slmrec::io::write_file_atomically(file, j.dump(2));
}

// Runs the tool, which must refuse: exit 1, every part in its message, fast, small.
void refuses(const temp_dir& dir, const std::vector<std::string>& args, const std::vector<std::string>& parts) {
  const auto r = run(dir, args);
  INFO("stderr: " << r.err << "\nseconds " << r.seconds << ", peak RSS " << r.max_rss_kb << " kB (baseline "
                  << shared().baseline_rss_kb << " kB)");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Contains("slmrec: error: "));
  for (const auto& p : parts) CHECK_THAT(r.err, Contains(p));
  CHECK(r.seconds < 1.0);
  CHECK(r.max_rss_kb < shared().baseline_rss_kb + 32 * 1024);
}

std::vector<std::string> recommend(const fs::path& ck) {
  return {"recommend", "--checkpoint", ck.string(), "--history", "1 2 3"};
}

}  // namespace

TEST_CASE("the tool refuses configs with hostile sizes: exit 1, fast, no allocation", "[hostile][cli]") {
  auto& f = shared();
  temp_dir dir;
  struct bad_case {
    const char* field;
    nlohmann::json value;
    const char* expected;
  };
  const std::vector<bad_case> cases{
      {"num_items", std::int64_t{1} << 31, "expected an integer in [1, 2147483646]"},
      {"num_items", std::int64_t{1} << 40, "found 1099511627776"},
      {"layers", 1e9, "expected an integer in [1, 4096]"},
      {"max_len", std::int64_t{1} << 40, "expected an integer in [1, 1048576]"},
      {"dim", std::int64_t{1} << 32, "expected an integer in [1, 65536]"},
      {"dim", 32.9, "found 32.9"},
      {"ffn", -5, "found -5"},
      {"rope_theta", 0, "expected a number in (0"},
      {"rope_theta", -10000, "found -10000"},
  };
  int n = 0;
  for (const auto& c : cases) {
    for (const fs::path& source : {f.float_ck, f.bf16_ck}) {
      const auto ck = copy_of(source, dir, fmt::format("c{}", n++));
      edit_json(ck / "config.json", [&](nlohmann::json& j) { j["model"][c.field] = c.value; });
      INFO(source.filename().string() << ": " << c.field << " = " << c.value.dump());
      refuses(dir, recommend(ck), {(ck / "config.json").string() + ": field 'model." + c.field + "'", c.expected});
    }
  }
  SECTION("a bf16 checkpoint claiming 2^59 items (whose table size would wrap around)") {
    const auto ck = copy_of(f.bf16_ck, dir, "huge");
    edit_json(ck / "config.json", [](nlohmann::json& j) { j["model"]["num_items"] = std::int64_t{1} << 59; });
    refuses(dir, recommend(ck), {"field 'model.num_items'", "found 576460752303423488"});
  }
  SECTION("sizes within the limits but beyond the weights present") {
    for (const fs::path& source : {f.float_ck, f.bf16_ck}) {
      const auto ck = copy_of(source, dir, fmt::format("big{}", n++));
      edit_json(ck / "config.json", [](nlohmann::json& j) { j["model"]["num_items"] = 100'000'000; });
      refuses(dir, recommend(ck),
              {(ck / "model.safetensors").string() + ": the config describes a model of at least",
               "100000000 items", "but the file has"});
    }
  }
  SECTION("commands that build a model from a checkpoint's config check it against the weights too") {
    const auto ck = copy_of(f.float_ck, dir, "prune_big");
    edit_json(ck / "config.json", [](nlohmann::json& j) { j["model"]["layers"] = 4000; });
    refuses(dir, {"prune", "--checkpoint", ck.string(), "--method", "magnitude", "--out", (dir.path() / "p").string()},
            {(ck / "model.safetensors").string() + ": the config describes a model of at least", "but the file has"});
  }
  SECTION("-k of 10^13") {
    refuses(dir, {"recommend", "--checkpoint", f.float_ck.string(), "--history", "1 2", "-k", "10000000000000"},
            {"-k 10000000000000: at most 2147483646 items"});
    refuses(dir, {"recommend", "--checkpoint", f.float_ck.string(), "--history", "1 2", "-k", "301"},
            {"-k 301: this model ranks 300 items"});
  }
}

TEST_CASE("the tool refuses hostile weights and training states", "[hostile][cli]") {
  auto& f = shared();
  temp_dir dir;
  SECTION("model.safetensors is a link to /dev/zero") {
    const auto ck = copy_of(f.float_ck, dir, "zero");
    fs::remove(ck / "model.safetensors");
    fs::create_symlink("/dev/zero", ck / "model.safetensors");
    refuses(dir, recommend(ck), {(ck / "model.safetensors").string() + ": not a regular file"});
  }
  SECTION("a NaN in the float weights") {
    const auto ck = copy_of(f.float_ck, dir, "nan");
    const auto file = ck / "model.safetensors";
    std::string bytes = slmrec::io::read_file(file);
    const auto st = slmrec::io::safetensors_file::parse(bytes, file);
    const auto& t = st.at("item_embedding.weight");
    std::uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= std::uint64_t(static_cast<unsigned char>(bytes[std::size_t(i)])) << (8 * i);
    const std::size_t at = 8 + n + t.begin + 4 * 20;  // element 20: row 1, col 4 of a width-16 table
    const std::uint32_t nan_bits = 0x7FC00000u;
    for (int i = 0; i < 4; ++i) bytes[at + std::size_t(i)] = char((nan_bits >> (8 * i)) & 0xFF);
    slmrec::io::write_file_atomically(file, bytes);
    // The checksum refuses it; unverified on purpose, the finiteness check does.
    refuses(dir, recommend(ck), {file.string() + ": tensor 'item_embedding.weight': checksum mismatch"});
    auto unverified = recommend(ck);
    unverified.push_back("--no-verify");
    refuses(dir, unverified,
            {file.string() + ": tensor 'item_embedding.weight' (F32) element 20 (row 1, col 4) is nan",
             "weights must be finite"});
  }
  SECTION("4 KiB of flipped bytes inside the tensor data (header intact)") {
    for (const fs::path& source : {f.float_ck, f.bf16_ck}) {
      const auto ck = copy_of(source, dir, "flip" + source.filename().string());
      const auto file = ck / "model.safetensors";
      std::string bytes = slmrec::io::read_file(file);
      std::uint64_t n = 0;
      for (int i = 0; i < 8; ++i) n |= std::uint64_t(static_cast<unsigned char>(bytes[std::size_t(i)])) << (8 * i);
      const std::size_t data = 8 + n, middle = data + (bytes.size() - data) / 2;
      REQUIRE(bytes.size() - data > 8192);
      for (std::size_t i = middle; i < middle + 4096; ++i) bytes[i] = char(~static_cast<unsigned char>(bytes[i]));
      slmrec::io::write_file_atomically(file, bytes);
      refuses(dir, recommend(ck), {file.string() + ": tensor '", "': checksum mismatch"});
    }
  }
  SECTION("a training state with an absurd epoch, or a history entry that is not an object") {
    const std::vector<std::pair<std::string, nlohmann::json>> edits{
        {"/epoch", 1e300}, {"/epoch", -5}, {"/step", "corrupt"}, {"/history/0", 3}};
    int n = 0;
    for (const auto& [where, value] : edits) {
      const auto ck = copy_of(f.float_ck, dir, fmt::format("s{}", n++));
      edit_json(ck / "state.json", [&](nlohmann::json& j) { j[nlohmann::json::json_pointer(where)] = value; });
      INFO(where << " = " << value.dump());
      refuses(dir,
              {"train", "--data", f.data.string(), "--arch", "llama", "--dim", "16", "--heads", "2", "--layers", "1",
               "--max-len", "10", "--epochs", "2", "--out", ck.string(), "--resume"},
              {(ck / "state.json").string() + ": field '"});
    }
  }
}

TEST_CASE("the tool refuses hostile Hugging Face checkpoints", "[hostile][cli]") {
  temp_dir dir;
  const fs::path fixture = SLMREC_SHARED_DIR "/fixtures/tiny_llama";
  const auto reference = (fixture / "reference.safetensors").string();
  const auto hf_copy = [&](const std::string& name) {
    const auto to = dir.path() / name;
    fs::create_directories(to);
    fs::copy_file(fixture / "config.json", to / "config.json");
    return to;
  };
  SECTION("config sizes") {
    const std::vector<std::pair<const char*, nlohmann::json>> cases{
        {"hidden_size", std::int64_t{1} << 40}, {"head_dim", std::int64_t{1} << 40}, {"num_hidden_layers", 1e9},
        {"vocab_size", 1e300}};
    int n = 0;
    for (const auto& [field, value] : cases) {
      const auto model = hf_copy(fmt::format("hf{}", n++));
      fs::copy_file(fixture / "model.safetensors", model / "model.safetensors");
      edit_json(model / "config.json", [&](nlohmann::json& j) { j[field] = value; });
      refuses(dir, {"llama-check", "--model", model.string(), "--reference", reference},
              {(model / "config.json").string() + ": field '" + field + "': expected"});
    }
  }
  SECTION("shard indexes") {
    const std::vector<std::pair<nlohmann::json, std::string>> cases{
        {"../../../../../etc/passwd", "shard '../../../../../etc/passwd' is not a plain file name"},
        {"/dev/zero", "shard '/dev/zero' is not a plain file name"},
        {7, "maps to 7, expected a file name"}};
    int n = 0;
    for (const auto& [shard, expected] : cases) {
      const auto model = hf_copy(fmt::format("idx{}", n++));
      slmrec::io::write_file_atomically(model / "model.safetensors.index.json",
                                        nlohmann::json{{"weight_map", {{"model.norm.weight", shard}}}}.dump());
      refuses(dir, {"llama-check", "--model", model.string(), "--reference", reference},
              {(model / "model.safetensors.index.json").string(), expected});
    }
  }
}

TEST_CASE("the tool reads CR-only line ends as line breaks", "[hostile][cli]") {
  temp_dir dir;
  const auto file = dir.write("mac.txt", "1 1 2 3\r2 2 3 4\r3 1 4 5\r");
  const auto r = run(dir, {"data-stats", "--data", file.string(), "--format", "sequences"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("users: 3\n"));
}
