#include "apps/serve/metrics_text.h"

#include <fmt/core.h>

namespace glmv::app {

void RequestCounters::Count(const std::string& path, int status) {
  // Only known endpoints get a label of their own: a scan of random paths must not grow the map.
  const bool known = path == "/v1/chat/completions" || path == "/v1/models" || path == "/health" || path == "/metrics";
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{known ? path : "other", status}];
}

std::string RequestCounters::Text() const {
  std::string out = "# HELP glmv_requests_total HTTP requests answered, by endpoint and status.\n"
                    "# TYPE glmv_requests_total counter\n";
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, n] : requests_) {
    out += fmt::format("glmv_requests_total{{path=\"{}\",status=\"{}\"}} {}\n", key.first, key.second, n);
  }
  return out;
}

namespace {

// The expert cache's counters (--mem-budget, or a budget the server chose), when it is on.
template <typename Metric>
void ExpertCacheMetrics(const SchedulerStats& s, Metric& metric) {
  const struct {
    const char* name;
    const char* help;
    double value;
  } counters[] = {
      {"glmv_expert_cache_hits_total", "Routed expert acquires served from the expert cache.", static_cast<double>(s.expert_hits)},
      {"glmv_expert_cache_misses_total", "Routed expert acquires that read the expert from disk.", static_cast<double>(s.expert_misses)},
      {"glmv_expert_cache_evictions_total", "Experts whose cache slot went to another expert.", static_cast<double>(s.expert_evictions)},
      {"glmv_expert_disk_bytes_total", "Bytes of routed experts read from disk (misses and prefetches).",
       static_cast<double>(s.expert_disk_bytes)},
      {"glmv_expert_stall_seconds_total", "Seconds steps waited for expert reads.", s.expert_stall_seconds.load()},
      {"glmv_expert_prefetch_issued_total", "Experts read ahead by the prefetcher.", static_cast<double>(s.expert_prefetch_issued)},
      {"glmv_expert_prefetch_useful_total", "Prefetched experts used before their eviction.",
       static_cast<double>(s.expert_prefetch_useful)},
      {"glmv_expert_predicted_total", "Experts the next layer's router predicted for the next MoE layer.",
       static_cast<double>(s.expert_predicted)},
      {"glmv_expert_predicted_used_total", "Predicted experts the next layer then used (÷ predicted = prefetch accuracy).",
       static_cast<double>(s.expert_predicted_used)},
  };
  for (const auto& c : counters) metric(c.name, "counter", c.help, c.value);
  const double acquires = static_cast<double>(s.expert_hits + s.expert_misses);
  metric("glmv_expert_cache_hit_rate", "gauge", "Hits ÷ acquires since the start (0 before the first).",
         acquires > 0 ? static_cast<double>(s.expert_hits) / acquires : 0.0);
}

}  // namespace

std::string MetricsText(const RequestCounters& counters, const Scheduler* scheduler) {
  std::string out = counters.Text();
  auto metric = [&](const char* name, const char* type, const char* help, double value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
  };
  if (scheduler) {
    const SchedulerStats& s = scheduler->stats();
    metric("glmv_prompt_tokens_total", "counter", "Prompt tokens of started requests.", static_cast<double>(s.prompt_tokens));
    metric("glmv_prompt_tokens_cached_total", "counter", "Prompt tokens whose keys and values came from the prefix cache.",
           static_cast<double>(s.cached_prompt_tokens));
    metric("glmv_completion_tokens_total", "counter", "Tokens generated.", static_cast<double>(s.completion_tokens));
    metric("glmv_requests_finished_total", "counter", "Requests generated to the end.", static_cast<double>(s.finished));
    metric("glmv_requests_cancelled_total", "counter", "Requests ended by a disconnect.", static_cast<double>(s.cancelled));
    metric("glmv_requests_failed_total", "counter", "Requests the engine ended with an error.", static_cast<double>(s.failed));
    metric("glmv_images_total", "counter", "Images in started requests.", static_cast<double>(s.images));
    metric("glmv_vision_images_encoded_total", "counter",
           "Images run through the vision tower (one reused from the prefix cache is not run again).",
           static_cast<double>(s.images_encoded));
    metric("glmv_vision_videos_encoded_total", "counter", "Videos run through the vision tower.",
           static_cast<double>(s.videos_encoded));
    metric("glmv_prompt_cache_hits_total", "counter", "Requests that reused prompt tokens from the prefix cache.",
           static_cast<double>(s.prompt_cache_hits));
    metric("glmv_steps_total", "counter", "Engine steps run.", static_cast<double>(s.steps));
    metric("glmv_decode_step_seconds_total", "counter",
           "Wall time of the steps that generated tokens (whole steps, a prefill chunk beside them included).",
           s.decode_step_seconds.load());
    const double seconds = s.decode_step_seconds.load();
    metric("glmv_decode_tokens_per_second", "gauge",
           "Tokens generated per second of the steps that generated them, since the start (all requests together).",
           seconds > 0 ? static_cast<double>(s.step_tokens) / seconds : 0.0);
    metric("glmv_queue_depth", "gauge", "Requests waiting for a slot.", static_cast<double>(scheduler->queued()));
    metric("glmv_slots_active", "gauge", "Slots generating (a request with n choices holds n).",
           static_cast<double>(scheduler->active()));
    metric("glmv_slots_total", "gauge", "Slots (--parallel).", static_cast<double>(scheduler->parallel()));
    metric("glmv_kv_bytes_in_use", "gauge", "Bytes of KV pages held by requests and the prefix cache.",
           static_cast<double>(s.kv_bytes));
    metric("glmv_prefix_cache_sequences", "gauge", "Finished requests kept for prefix reuse.",
           static_cast<double>(s.cached_sequences));
    if (s.expert_cache) ExpertCacheMetrics(s, metric);
  }
  return out;
}

}  // namespace glmv::app
