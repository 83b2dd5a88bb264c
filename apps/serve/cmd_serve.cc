// glmv serve: the OpenAI-compatible HTTP server. HTTP threads (cpp-httplib's pool) parse and validate
// requests, decode their images, videos and PDFs and post tasks to the scheduler, whose one thread owns the engine. The
// first line on stdout names the port (useful with --port 0); one log line per request goes to stderr.
#include <fmt/core.h>

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <map>
#include <mutex>
#include <tuple>
#include <memory>
#include <thread>

#include "apps/args.h"
#include "apps/byte_size.h"
#include "apps/cli_util.h"
#include "apps/commands.h"
#include "apps/generation_flags.h"
#include "apps/kv_type_flag.h"
#include "apps/vision_math_flag.h"
#include "apps/input_limits.h"
#include "apps/mem_budget_flag.h"
#include "apps/serve/chat_response.h"
#include "apps/serve/chat_stream.h"
#include "apps/serve/metrics_text.h"
#include "apps/serve/scheduler.h"
#include "apps/serve/tcp_peer.h"
#include "apps/pdf_inputs.h"
#include "apps/video_inputs.h"
#include "apps/visual_inputs.h"

namespace glmv::app {
namespace {

using json = nlohmann::ordered_json;

std::vector<OptionSpec> ServeOptions() {
  std::vector<OptionSpec> spec = {
      {"--model", "-m", true, "MODEL  a .glmv file or a model directory"},
      {"--host", "", true, "ADDR  address to listen on (default 127.0.0.1: this machine only)"},
      {"--port", "", true, "N  port (default 8080; 0 picks a free one, printed on the first line)"},
      {"--api-key", "", true, "KEY  require 'Authorization: Bearer KEY' (not on /health)"},
      {"--parallel", "", true, "N  requests generated at once, batched in every step (default 4)"},
      {"--max-queue", "", true, "N  requests waiting beyond --parallel; more get 429 (default 64)"},
      {"--max-body-bytes", "", true, "SIZE  largest request body (default 64MiB)"},
      {"--max-images", "", true, "N  image parts in one request (default 16)"},
      {"--max-videos", "", true, "N  video_url parts in one request (default 1; 0 refuses videos)"},
      {"--max-pdfs", "", true, "N  PDF file parts in one request (default 1; 0 refuses PDFs)"},
      {"--allow-local-files", "", true, "DIR  accept file:// image and video URLs inside DIR (default: refused)"},
      {"--alias", "", true, "NAME  the model's name in /v1/models and in answers (default: the file's name)"},
      {"--ctx", "", true, "N  context per request in tokens (default 4096; at most the model's positions)"},
      {"--kv-memory", "", true, "SIZE  cap on all requests' keys and values (default: --parallel × --ctx tokens)"},
      KvTypeOption(),
      VisionMathOption(),
      {"--cache-bytes", "", true, "SIZE  cap on finished requests' keys and values kept for prefix reuse"},
      {"--prefill-chunk", "", true, "N  prompt tokens per step (default 512)"},
      {"--sse-ping-ms", "", true, "N  a stream silent for N ms gets an SSE ': ping' comment (default 15000; small values are for tests)"},
      {"--experts-in-ram", "", false, "copy the routed experts into memory at load"},
      MemBudgetOption(),
      ExpertPrefetchOption(),
      {"--threads", "-t", true, "N  threads for the model (default: all cores)"},
      {"--help", "-h", false, "show this help"},
  };
  // run's media flags, less those that name a file or choose part of one (a request does that).
  for (auto* more : {ImageOptionSpecs, VideoOptionSpecs, PdfOptionSpecs}) {
    for (auto& s : more()) {
      if (s.name != "--image" && s.name != "--video" && s.name != "--start" && s.name != "--end" &&
          s.name != "--pdf" && s.name != "--pages" && s.name != "--password" && s.name != "--per-page" &&
          s.name != "--with-text") {
        spec.push_back(s);
      }
    }
  }
  for (auto& s : InputLimitOptionSpecs()) spec.push_back(s);
  return spec;
}

constexpr const char* kServeHelp =
    "usage: glmv serve -m MODEL [--host 127.0.0.1] [--port 8080] [--parallel 4] [options]\n\n"
    "An OpenAI-compatible HTTP server: POST /v1/chat/completions (streaming or not; images, videos and PDFs\n"
    "as data: URLs in image_url, video_url and file parts: see apps/serve/README.md),\n"
    "GET /v1/models, GET /health (503 while loading), GET /metrics (Prometheus text). Point an OpenAI\n"
    "client's base_url at http://HOST:PORT/v1. Up to --parallel requests generate together, batched in every\n"
    "step; up to --max-queue more wait; beyond that the answer is 429 with Retry-After.\n"
    "Also: n (up to --parallel choices, one slot each; the prompt is prefilled once), logprobs and\n"
    "top_logprobs (0-20; the raw model's log-probabilities), tools with tool_choice auto, none, required or a\n"
    "named function (forced into GLM's tool-call format), response_format json_object and json_schema.\n"
    "--mem-budget SIZE streams routed experts from a .glmv file through an expert cache so that weights, KV for\n"
    "--parallel × --ctx and the cache fit SIZE (refused below the minimum, which the error states); without it\n"
    "a model that does not fit in 90% of available memory gets that budget (one line says so). /metrics then\n"
    "exports glmv_expert_* counters (hits, misses, evictions, disk bytes, stall seconds, prefetches).\n\n";

struct Server {
  std::atomic<bool> ready{false};
  std::string model_name;
  std::string api_key;
  ChatModelInfo info;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<Scheduler> scheduler;
  GrammarCache grammars;
  std::atomic<uint64_t> next_id{1};
  int sse_ping_ms = 15000;
  RequestCounters counters;
  // Chat requests being answered, by id, for the log line written once the answer is sent (a stream's too).
  std::mutex answering_mu;
  std::map<std::string, std::pair<std::shared_ptr<Task>, double>> answering;  // task, start (steady seconds)
};

void SendJson(httplib::Response& res, int status, const json& j) {
  res.status = status;
  res.set_content(j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void SendError(httplib::Response& res, const HttpError& e) { SendJson(res, e.status, ErrorJson(e)); }

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void HandleChat(Server& s, const httplib::Request& req, httplib::Response& res) {
  if (!s.ready) return SendError(res, {503, "the model is still loading", "server_error", "", ""});
  auto task = std::make_shared<Task>();
  task->id = s.next_id++;
  const CompletionIds ids{"chatcmpl-" + std::to_string(task->id), UnixNow(), s.model_name};
  res.set_header("X-Request-Id", ids.id);
  const double start = NowSeconds();
  if (auto e = ParseChatRequest(req.body, s.info, task->chat)) return SendError(res, *e);
  task->reply = std::make_shared<Reply>(task->chat.n);
  if (!s.scheduler->Submit(task)) {
    res.set_header("Retry-After", "1");
    return SendError(res, {429, "the server is busy: every slot is generating and the queue is full; retry later",
                           "rate_limit_error", "", "queue_full"});
  }
  {
    std::lock_guard<std::mutex> lock(s.answering_mu);
    s.answering[ids.id] = {task, start};
  }
  if (!task->chat.stream) {
    // Nothing is written until the answer is whole, so a client that gives up is seen in the kernel's
    // connection table: its request is cancelled at the next step, as a stream's is when a write fails.
    TcpPeerWatch peer({req.local_addr, req.local_port, req.remote_addr, req.remote_port});
    std::vector<ChoiceNews> news;
    while (!task->reply->Take(news, 250)) {
      news.clear();
      if (!task->reply->cancelled() && peer.hung_up()) {
        task->reply->Cancel();
        s.scheduler->Poke();
      }
    }
    // Nobody to answer: 499 (nginx's "client closed request") goes to the log line and /metrics only.
    if (task->reply->cancelled()) return SendError(res, {499, "the client closed the connection", "client_closed", "", ""});
    const Status& st = task->reply->status();
    if (!st.ok()) return SendError(res, {500, st.message(), "server_error", "", ""});
    return SendJson(res, 200, CompletionJson(ids, task->chat, task->reply->results(), s.info.tokenizer));
  }
  struct StreamState {
    ChatStream chunks;
    std::vector<ChoiceNews> news;
    double last_write = NowSeconds();
  };
  auto state = std::make_shared<StreamState>(StreamState{ChatStream(ids, task->chat, s.info.tokenizer), {}});
  Scheduler* scheduler = s.scheduler.get();
  const double ping = s.sse_ping_ms / 1000.0;
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [task, state, scheduler, ping](size_t, httplib::DataSink& sink) {
        if (!sink.is_writable()) {  // the client went away: free its slot
          task->reply->Cancel();
          scheduler->Poke();
          return false;
        }
        const double until_ping = state->last_write + ping - NowSeconds();
        const int wait_ms = static_cast<int>(std::clamp(until_ping * 1000.0, 1.0, 200.0));
        const bool finished = task->reply->Take(state->news, wait_ms);
        std::string events;
        const Status& st = task->reply->status();
        if (finished && !st.ok()) {
          events = SseEvent(ErrorJson({500, st.message(), "server_error", "", ""}));
        } else {
          events = state->chunks.Push(state->news, *task->reply);
          if (finished) events += state->chunks.End(*task->reply);
        }
        // A long prefill or a wait in the queue sends nothing: a comment keeps proxies from closing the stream.
        if (events.empty() && NowSeconds() - state->last_write >= ping) events = ": ping\n\n";
        if (!events.empty()) {
          if (!sink.write(events.data(), events.size())) {
            task->reply->Cancel();
            scheduler->Poke();
            return false;
          }
          state->last_write = NowSeconds();
        }
        if (finished) sink.done();
        return true;
      },
      [task, scheduler](bool success) {
        if (!success) {
          task->reply->Cancel();
          scheduler->Poke();
        }
      });
}

}  // namespace

int RunServe(int argc, char** argv) {
  // SIGINT and SIGTERM are taken by sigwait at the end: blocked here, before any thread starts, so every
  // thread (HTTP workers, OpenMP, the scheduler) inherits the mask and none is killed by them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  const auto spec = ServeOptions();
  auto args = Args::Parse(spec, argc, argv, 2);
  if (!args.ok()) return CommandFailed("serve", args.status());
  if (args->Has("--help")) {
    fmt::print("{}Options:\n{}", kServeHelp, OptionsHelp(spec));
    return 0;
  }
  if (!args->Has("--model")) return CommandFailed("serve", Status::Error("-m MODEL is required"));
  auto int_flag = [&](const char* name, long long def, long long lo, long long hi) -> Result<long long> {
    GLMV_ASSIGN_OR_RETURN(long long v, args->GetInt(name, def));
    if (v < lo || v > hi) return Status::Error(std::string(name) + " must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    return v;
  };
  auto port = int_flag("--port", 8080, 0, 65535);
  auto parallel = int_flag("--parallel", 4, 1, 256);
  auto max_queue = int_flag("--max-queue", 64, 0, 1 << 20);
  auto max_images = int_flag("--max-images", 16, 0, 1024);
  auto max_videos = int_flag("--max-videos", 1, 0, 64);
  auto max_pdfs = int_flag("--max-pdfs", 1, 0, 64);
  auto ctx = int_flag("--ctx", 4096, 2, 1 << 24);
  auto chunk = int_flag("--prefill-chunk", 512, 1, 1 << 20);
  auto threads = int_flag("--threads", 0, 0, 4096);
  auto sse_ping = int_flag("--sse-ping-ms", 15000, 1, 3'600'000);
  for (const auto* r :
       {&port, &parallel, &max_queue, &max_images, &max_videos, &max_pdfs, &ctx, &chunk, &threads, &sse_ping}) {
    if (!r->ok()) return CommandFailed("serve", r->status());
  }
  uint64_t max_body = uint64_t{64} << 20;
  if (args->Has("--max-body-bytes")) {
    auto b = ParseByteSize(args->Get("--max-body-bytes"), "--max-body-bytes");
    if (!b.ok()) return CommandFailed("serve", b.status());
    max_body = *b;
  }
  Server server;
  server.api_key = args->Get("--api-key");
  const std::string model_path = args->Get("--model");
  server.model_name = args->Has("--alias") ? args->Get("--alias") : std::filesystem::path(model_path).filename().string();
  EngineOptions eo;
  eo.context_tokens = static_cast<size_t>(*ctx);
  eo.max_sequences = static_cast<size_t>(*parallel);
  eo.prefill_chunk = static_cast<size_t>(*chunk);
  eo.threads = static_cast<int>(*threads);
  eo.experts_in_ram = args->Has("--experts-in-ram");
  auto kv_type = ReadKvType(*args, model_path);
  if (!kv_type.ok()) return CommandFailed("serve", kv_type.status());
  eo.kv_type = *kv_type;
  auto vision_math = ReadVisionMath(*args);
  if (!vision_math.ok()) return CommandFailed("serve", vision_math.status());
  eo.vision_math = *vision_math;
  for (const char* flag : {"--kv-memory", "--cache-bytes"}) {
    if (!args->Has(flag)) continue;
    auto b = ParseByteSize(args->Get(flag), flag);
    if (!b.ok()) return CommandFailed("serve", b.status());
    (std::string(flag) == "--kv-memory" ? eo.kv_memory_bytes : eo.prefix_cache_bytes) = static_cast<size_t>(*b);
  }
  // The plan reserves KV for --parallel × --ctx (or --kv-memory): refused here, before the port is taken.
  auto mem_budget = ReadMemBudget(*args);
  if (!mem_budget.ok()) return CommandFailed("serve", mem_budget.status());
  if (Status prefetch = ReadExpertPrefetch(*args, eo); !prefetch.ok()) return CommandFailed("serve", prefetch);
  if (Status plan = ApplyMemoryPlan(model_path, *mem_budget, "serve", eo); !plan.ok()) {
    return CommandFailed("serve", plan);
  }
  auto limits = InputLimitsFromArgs(*args);
  if (!limits.ok()) return CommandFailed("serve", limits.status());
  auto image_cfg = ImageConfigFromArgs(*args, model_path);
  if (!image_cfg.ok()) return CommandFailed("serve", image_cfg.status());
  server.info.limits = *limits;
  server.info.image_config = *image_cfg;
  server.info.context_tokens = static_cast<size_t>(*ctx);
  server.info.max_images = static_cast<size_t>(*max_images);
  server.info.max_videos = static_cast<size_t>(*max_videos);
  server.info.max_pdfs = static_cast<size_t>(*max_pdfs);
  auto video_cfg = VideoConfigFromArgs(*args, model_path);
  if (!video_cfg.ok()) return CommandFailed("serve", video_cfg.status());
  auto video_options = VideoLoadOptionsFromArgs(*args, *limits);
  if (!video_options.ok()) return CommandFailed("serve", video_options.status());
  auto pdf_options = PdfOptionsFromArgs(*args);
  if (!pdf_options.ok()) return CommandFailed("serve", pdf_options.status());
  // Checked at start, not in each request's error: the ranges are the operator's to fix.
  if (Status s = pdf_options->Validate(); !s.ok()) return CommandFailed("serve", Explain(*limits, s));
  server.info.video_config = *video_cfg;
  server.info.video_options = *video_options;
  server.info.pdf_options = *pdf_options;
  server.info.max_choices = static_cast<size_t>(*parallel);
  server.sse_ping_ms = static_cast<int>(*sse_ping);
  if (args->Has("--allow-local-files")) {
    std::error_code ec;
    const auto root = std::filesystem::canonical(args->Get("--allow-local-files"), ec);
    if (ec || !std::filesystem::is_directory(root)) {
      return CommandFailed("serve",
                           Status::Error("--allow-local-files " + args->Get("--allow-local-files") + ": not a directory"));
    }
    server.info.local_files_root = root.string();
  }

  httplib::Server http;
  // Each SSE stream or idle keep-alive holds a worker: size the pool so /health, /metrics and the 429 answer
  // still get one while every slot streams and the queue is full.
  const size_t workers = static_cast<size_t>(*parallel + *max_queue + 4);
  http.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  http.set_payload_max_length(max_body);
  http.set_read_timeout(60, 0);
  http.set_write_timeout(600, 0);
  // An idle keep-alive connection holds its worker until this runs out, and stopping waits for it (SIGTERM
  // took up to 30 s): 5 s, as llama-server and cpp-httplib default to.
  http.set_keep_alive_timeout(5);
  http.set_pre_routing_handler([&](const httplib::Request& req, httplib::Response& res) {
    if (server.api_key.empty() || req.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
    if (req.get_header_value("Authorization") == "Bearer " + server.api_key) return httplib::Server::HandlerResponse::Unhandled;
    SendError(res, {401, "missing or wrong API key (Authorization: Bearer KEY)", "invalid_request_error", "", "invalid_api_key"});
    return httplib::Server::HandlerResponse::Handled;
  });
  http.Get("/health", [&](const httplib::Request&, httplib::Response& res) {
    if (!server.ready) return SendJson(res, 503, {{"status", "loading"}});
    SendJson(res, 200, {{"status", "ok"}});
  });
  http.Get("/v1/models", [&](const httplib::Request&, httplib::Response& res) {
    SendJson(res, 200, {{"object", "list"},
                        {"data", json::array({{{"id", server.model_name}, {"object", "model"}, {"created", 0},
                                               {"owned_by", "glmv"}}})}});
  });
  http.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(MetricsText(server.counters, server.ready ? server.scheduler.get() : nullptr), "text/plain; version=0.0.4");
  });
  http.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) { HandleChat(server, req, res); });
  http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    HttpError e{res.status, "", res.status == 404 ? "not_found_error" : "invalid_request_error", "", ""};
    e.message = res.status == 404 ? "no such endpoint: " + req.method + " " + req.path
              : res.status == 413 ? "the request body is over the server's limit (--max-body-bytes)"
                                  : "the request could not be handled (HTTP " + std::to_string(res.status) + ")";
    SendError(res, e);
  });
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& ex) {
      what = ex.what();
    } catch (...) {
    }
    SendError(res, {500, what, "server_error", "", ""});
  });
  // One line per request, once its answer (a whole stream included) is sent: id, status, tokens, time.
  http.set_logger([&](const httplib::Request& req, const httplib::Response& res) {
    server.counters.Count(req.path, res.status);
    const std::string id = res.get_header_value("X-Request-Id");
    std::shared_ptr<Task> task;
    double start = 0;
    if (!id.empty()) {
      std::lock_guard<std::mutex> lock(server.answering_mu);
      if (auto it = server.answering.find(id); it != server.answering.end()) {
        std::tie(task, start) = it->second;
        server.answering.erase(it);
      }
    }
    std::string tokens;
    if (task && !task->reply->finished()) {  // a client that went away: its request is still being ended
      tokens = fmt::format(" client gone, request cancelled {:.2f}s", NowSeconds() - start);
    } else if (task) {
      const GenerateResult& r = task->reply->result();
      size_t completion = 0;
      for (const GenerateResult& x : task->reply->results()) completion += x.ids.size();
      tokens = fmt::format(" prompt={} cached={} completion={} finish={} {:.2f}s", r.prompt_tokens, r.reused_prompt_tokens,
                           completion, FinishReasonName(r.finish), NowSeconds() - start);
    }
    fmt::print(stderr, "{} {} {} -> {}{}\n", id.empty() ? "-" : id, req.method, req.path, res.status, tokens);
  });

  const std::string host = args->Has("--host") ? args->Get("--host") : "127.0.0.1";
  int bound = 0;
  if (*port == 0) {
    bound = http.bind_to_any_port(host);
  } else {
    bound = http.bind_to_port(host, static_cast<int>(*port)) ? static_cast<int>(*port) : -1;
  }
  if (bound <= 0) {
    return CommandFailed("serve", Status::Error("cannot listen on " + host + ":" + std::to_string(*port)));
  }
  fmt::print("glmv serve: listening on http://{}:{}\n", host, bound);
  std::fflush(stdout);
  std::thread listener([&] { http.listen_after_bind(); });

  // Load while /health answers 503.
  auto engine = Engine::Load(model_path, eo);
  if (!engine.ok()) {
    http.stop();
    listener.join();
    return CommandFailed("serve", engine.status());
  }
  server.engine = std::move(engine).value();
  server.info.config = &server.engine->model().model_config();
  // --ctx capped by the model's positions (the engine's context): a request's room to generate is this.
  server.info.context_tokens = server.engine->context_tokens();
  server.info.tokenizer = server.engine->tokenizer();
  if (!server.info.tokenizer) fmt::print(stderr, "glmv serve: {} has no tokenizer: chat requests will fail\n", model_path);
  std::shared_ptr<const TokenTrie> trie = VocabularyTrie(*server.engine);
  server.info.grammars = &server.grammars;
  server.scheduler = std::make_unique<Scheduler>(*server.engine, static_cast<size_t>(*parallel), static_cast<size_t>(*max_queue),
                                                 std::move(trie));
  server.ready = true;
  fmt::print(stderr, "glmv serve: ready ({} slots, context {} tokens)\n", *parallel, server.info.context_tokens);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  fmt::print(stderr, "glmv serve: stopping (signal {})\n", sig);
  http.stop();
  listener.join();
  server.scheduler.reset();
  return 0;
}

}  // namespace glmv::app
