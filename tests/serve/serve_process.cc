#include "tests/serve/serve_process.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

namespace glmv::test {

ServeProcess::ServeProcess(const std::vector<std::string>& args) {
  int out[2];
  REQUIRE(pipe(out) == 0);
  pid_ = fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlives a test that died
    dup2(out[1], 1);
    close(out[0]);
    close(out[1]);
    std::vector<std::string> all = {GLMV_BIN, "serve", "--port", "0", "--host", "127.0.0.1"};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(GLMV_BIN, argv.data());
    _exit(127);
  }
  close(out[1]);
  // Kept open until the server stops: a closed pipe would kill it with SIGPIPE at its next stdout line.
  out_ = fdopen(out[0], "r");
  char line[512] = {};
  const bool got = out_ && std::fgets(line, sizeof line, out_);
  REQUIRE_MESSAGE(got, "glmv serve printed no line");
  const std::string s(line);
  const size_t colon = s.rfind(':');
  REQUIRE_MESSAGE(colon != std::string::npos, s);
  port_ = std::atoi(s.c_str() + colon + 1);
  REQUIRE_MESSAGE(port_ > 0, s);
  // The port answers at once, /health with 503 until the model is loaded: wait for 200 (60 s at most).
  bool ready = false;
  for (int i = 0; i < 600 && !ready; ++i) {
    ready = RawExchange(port_, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "\r\n\r\n")
                .rfind("HTTP/1.1 200", 0) == 0;
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE_MESSAGE(ready, "glmv serve did not become ready");
}

bool ServeProcess::running() const {
  int status = 0;
  return pid_ > 0 && waitpid(pid_, &status, WNOHANG) == 0;
}

ServeProcess::~ServeProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    bool stopped = false;
    for (int i = 0; i < 100 && !stopped; ++i) {  // up to 10 s for a clean stop
      stopped = waitpid(pid_, nullptr, WNOHANG) == pid_;
      if (!stopped) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!stopped) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  if (out_) std::fclose(out_);
}

std::string RawExchange(int port, const std::string& request, const std::string& until, size_t max_bytes,
                        const std::function<void()>& before_close) {
  // No REQUIRE here: it may run on a thread of its own, where a failed assertion's exception would abort.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return "";
  }
  timeval timeout{30, 0};  // a test never hangs on a server that stopped answering
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string got;
  char buf[4096];
  while (got.size() < max_bytes && got.find(until) == std::string::npos) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  if (before_close) before_close();
  close(fd);
  return got;
}

}  // namespace glmv::test
