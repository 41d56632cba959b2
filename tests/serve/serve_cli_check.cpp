// Runs `slmrec serve` as CI would: on a free loopback port (--port 0, read
// back from its "listening on" line), waits for /health, asks for
// recommendations (a good request, a bad id), then sends SIGTERM while four
// clients keep it busy: every request must be answered 200 until the
// connections close, and the process must exit 0.
//   serve_cli_check SLMREC_BINARY CHECKPOINT_DIR
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <slmrec/serve/httplib.hpp>

namespace {

[[noreturn]] void die(const std::string& what, pid_t child) {
  fmt::print(stderr, "serve_cli_check: {}\n", what);
  if (child > 0) kill(child, SIGKILL);
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    fmt::print(stderr, "usage: serve_cli_check SLMREC_BINARY CHECKPOINT_DIR\n");
    return 2;
  }
  int out[2];
  if (pipe(out) != 0) die("pipe failed", 0);
  const pid_t child = fork();
  if (child < 0) die("fork failed", 0);
  if (child == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    execl(argv[1], argv[1], "serve", "--checkpoint", argv[2], "--port", "0", "--max-wait-us", "200", "--threads", "1",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  FILE* lines = fdopen(out[0], "r");
  int port = 0;
  char line[4096];
  while (port == 0 && std::fgets(line, sizeof line, lines)) {
    const std::string s = line;
    fmt::print("server: {}", s);
    const auto at = s.find("listening on http://127.0.0.1:");
    if (at != std::string::npos) port = std::stoi(s.substr(at + 30));
  }
  if (port == 0) die("the server printed no 'listening on' line", child);

  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(30, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (;;) {
    auto h = c.Get("/health");
    if (h && h->status == 200) break;
    if (std::chrono::steady_clock::now() > deadline) die("/health did not answer 200 within 120 s", child);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto good = c.Post("/v1/recommend", R"({"history": [1, 2, 3], "k": 5})", "application/json");
  if (!good || good->status != 200) die("a good request was not answered 200", child);
  const auto items = nlohmann::json::parse(good->body)["items"];
  if (items.size() != 5) die("the answer holds " + std::to_string(items.size()) + " items, expected 5", child);
  auto bad = c.Post("/v1/recommend", R"({"history": [1, 999999999]})", "application/json");
  if (!bad || bad->status != 400 || bad->body.find("999999999") == std::string::npos)
    die("an unknown id was not refused with 400 naming it", child);
  fmt::print("top-5 after [1, 2, 3]: {}\n", items.dump());

  // SIGTERM under load: every answer before the connections close is a 200.
  std::atomic<int> ok{0}, not_ok{0};
  std::atomic<bool> stopping{false};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t)
    clients.emplace_back([&] {
      httplib::Client cc("127.0.0.1", port);
      cc.set_read_timeout(30, 0);
      for (;;) {
        auto r = cc.Post("/v1/recommend", R"({"histories": [[1, 2, 3], [4, 5], [6]], "k": 10})", "application/json");
        if (!r) {
          if (stopping) return;
          continue;
        }
        (r->status == 200 ? ok : not_ok)++;
      }
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stopping = true;
  kill(child, SIGTERM);
  int status = 0;
  waitpid(child, &status, 0);
  for (auto& t : clients) t.join();
  while (std::fgets(line, sizeof line, lines)) fmt::print("server: {}", line);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die(fmt::format("the server exited with status {}", status), 0);
  if (not_ok > 0 || ok == 0) die(fmt::format("under load: {} answers 200, {} others", ok.load(), not_ok.load()), 0);
  fmt::print("serve_cli_check: ok: {} requests answered 200 under load; SIGTERM: exit 0\n", ok.load());
  return 0;
}
