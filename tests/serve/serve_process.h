// A `glmv serve` process for tests: started with `--port 0` on loopback, its port read from the first line it
// prints, stopped by SIGTERM (then SIGKILL) when the object goes away. Raw HTTP over a socket for what a
// client library hides: reading part of a stream and then hanging up.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace glmv::test {

class ServeProcess {
 public:
  // Starts GLMV_BIN serve with `args` (after `serve --port 0`); REQUIREs that it prints its port and that
  // /health answers 200 (the model loaded).
  explicit ServeProcess(const std::vector<std::string>& args);
  ~ServeProcess();
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  int port() const { return port_; }
  bool running() const;  // the process has not exited

 private:
  int pid_ = -1;
  int port_ = 0;
  FILE* out_ = nullptr;  // the server's stdout
};

// Sends `request` (a whole HTTP/1.1 request) to 127.0.0.1:port, reads until `until` appears in the answer,
// calls `before_close` if given (e.g. to hold the connection open until the test says so)
// (or the connection closes, or `max_bytes`, or 30 s pass without a byte), then closes the socket. Returns
// what was read.
std::string RawExchange(int port, const std::string& request, const std::string& until, size_t max_bytes = 1 << 20,
                        const std::function<void()>& before_close = {});

}  // namespace glmv::test
