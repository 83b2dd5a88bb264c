// GET /metrics in Prometheus' text format: requests by endpoint and status, tokens in and out, prompt
// tokens served from the prefix cache and the requests that hit it, queue depth, active slots, images in
// requests and images the vision tower actually ran, KV memory in use; the expert cache's counters when it
// is on (--mem-budget).
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>

#include "apps/serve/scheduler.h"

namespace glmv::app {

class RequestCounters {
 public:
  void Count(const std::string& path, int status);
  std::string Text() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
};

// `scheduler` is null while the model loads.
std::string MetricsText(const RequestCounters& counters, const Scheduler* scheduler);

}  // namespace glmv::app
