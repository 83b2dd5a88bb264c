#include "apps/golden_check.h"
#include "apps/golden_preprocess.h"
#include "apps/softmax_agreement.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/npy.h"
#include "lib/engine/greedy.h"
#include "lib/prompt/multimodal.h"
#include "lib/vision/vision_model.h"
#include "lib/text/text_model.h"

namespace glmv::app {
namespace {

namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;


// Accumulates the comparison of one case.
struct CaseCheck {
  std::string name;
  bool verbose = false;
  bool exact = true;  // false for quantized models: float errors and weight-dependent ids are only reported
  double logits_err = -1, hidden_err = -1;
  std::string ids = "-";
  std::vector<std::string> problems;
  SoftmaxAgreement agreement;  // of the logits
  size_t routing_flips = 0;    // (layer, token) pairs whose set of experts differs from the reference's

  void Floats(const std::string& key, const std::vector<float>& ours, const NpyArray& golden, bool is_logits) {
    if (static_cast<int64_t>(ours.size()) != golden.NumElements()) {
      problems.push_back(fmt::format("{}: {} values, golden has {}", key, ours.size(), golden.NumElements()));
      return;
    }
    double worst = 0;
    for (size_t i = 0; i < ours.size(); ++i) {
      const double d = std::fabs(static_cast<double>(ours[i]) - golden.At(static_cast<int64_t>(i)));
      worst = std::isnan(d) ? INFINITY : std::max(worst, d);
    }
    double& slot = is_logits ? logits_err : hidden_err;
    slot = std::max(slot, worst);
    if (is_logits && !golden.shape.empty() && golden.shape.back() > 0) {
      const size_t vocab = static_cast<size_t>(golden.shape.back());
      std::vector<double> g(vocab);
      for (size_t r = 0; r < ours.size() / vocab; ++r) {
        for (size_t i = 0; i < vocab; ++i) g[i] = golden.At(static_cast<int64_t>(r * vocab + i));
        agreement.Add(g.data(), ours.data() + r * vocab, vocab);
      }
    }
    if (worst > kGoldenTolerance && exact) problems.push_back(fmt::format("{} off by {:.2e}", key, worst));
    if (verbose) fmt::print(stderr, "  {} {}: max abs error {:.3e}\n", name, key, worst);
  }

  void Ints(const std::string& key, const std::vector<int64_t>& ours, const NpyArray& golden) {
    const auto g = golden.ToInt64();
    const bool same = g == ours;
    // Expert choices depend on the weights' values; positions and token types do not.
    const bool weight_dependent = key.find("topk_ids") != std::string::npos;
    if (!same && (exact || !weight_dependent)) problems.push_back(key + " differ");
    if (weight_dependent && !golden.shape.empty() && golden.shape.back() > 0 && g.size() == ours.size()) {
      // Both sorted by expert id per token (the golden convention; TextTrace records them so).
      const size_t k = static_cast<size_t>(golden.shape.back());
      for (size_t t = 0; t + k <= g.size(); t += k) routing_flips += !std::equal(g.begin() + t, g.begin() + t + k, ours.begin() + t);
    }
    if (verbose) fmt::print(stderr, "  {} {}: {}\n", name, key, same ? "equal" : "DIFFERENT");
  }
};

struct GoldenSet {
  fs::path dir;
  ordered_json index;

  const ordered_json& Case(const std::string& name) const { return index["cases"][name]; }
  bool Has(const std::string& c, const std::string& key) const { return Case(c)["files"].contains(key); }
  Result<NpyArray> Load(const std::string& c, const std::string& key) const {
    return ReadNpy((dir / Case(c)["files"][key]["file"].get<std::string>()).string());
  }
};

// rope tables as the golden set stores them: the rotary_dim/2 angles duplicated to rotary_dim.
std::vector<float> Duplicated(const std::vector<float>& half_table, size_t half) {
  std::vector<float> out;
  const size_t n = half ? half_table.size() / half : 0;
  for (size_t t = 0; t < n; ++t) {
    for (int rep = 0; rep < 2; ++rep) out.insert(out.end(), half_table.begin() + t * half, half_table.begin() + (t + 1) * half);
  }
  return out;
}

Result<std::vector<VisionGrid>> LoadGrids(const GoldenSet& set, const std::string& c, const std::string& key) {
  std::vector<VisionGrid> grids;
  if (!set.Has(c, key)) return grids;
  GLMV_ASSIGN_OR_RETURN(NpyArray a, set.Load(c, key));
  const auto v = a.ToInt64();
  for (size_t i = 0; i + 2 < v.size(); i += 3) grids.push_back({v[i], v[i + 1], v[i + 2]});
  return grids;
}

// The models of a golden set: the decoder, and the vision tower when the config has one.
// The model under check, loaded as an engine: forward cases run its text model's forward (the call the
// engine's steps make) with traces and the reference's routing; generation cases run through its steps.
struct GoldenModels {
  std::unique_ptr<Engine> engine;
  const TextModel* text = nullptr;
  const VisionModel* vision = nullptr;
  Status vision_status;  // why there is no vision tower
  ActPrecision act_precision = ActPrecision::kAuto;
  KvType kv_type = KvType::kF32;
};

// The prompt of `ids_case` with the visual inputs of `pixels_case` (the same case, or a generation case's
// prompt_case), and the vision intermediates for comparison.
struct CasePrompt {
  std::vector<int64_t> ids;
  PreparedPrompt prompt;
  VisionTrace image_trace, video_trace;
};

struct CaseInputs {
  std::vector<int64_t> ids;
  VisualInputs visual;
};

// The prompt ids of `ids_case` and the pixels and grids of `pixels_case`.
Result<CaseInputs> LoadInputs(const GoldenModels& models, const GoldenSet& set, const std::string& ids_case,
                              const std::string& pixels_case) {
  CaseInputs in;
  GLMV_ASSIGN_OR_RETURN(NpyArray ids_npy, set.Load(ids_case, "input_ids"));
  in.ids = ids_npy.ToInt64();
  VisualInputs& visual = in.visual;
  GLMV_ASSIGN_OR_RETURN(visual.image_grids, LoadGrids(set, pixels_case, "image_grid_thw"));
  GLMV_ASSIGN_OR_RETURN(visual.video_grids, LoadGrids(set, pixels_case, "video_grid_thw"));
  if (set.Has(pixels_case, "pixel_values")) {
    GLMV_ASSIGN_OR_RETURN(NpyArray px, set.Load(pixels_case, "pixel_values"));
    visual.image_pixels = px.ToFloat();
  }
  if (set.Has(pixels_case, "pixel_values_videos")) {
    GLMV_ASSIGN_OR_RETURN(NpyArray px, set.Load(pixels_case, "pixel_values_videos"));
    visual.video_pixels = px.ToFloat();
  }
  if (!visual.empty() && !models.vision) return models.vision_status;
  return in;
}

Result<CasePrompt> BuildPrompt(const GoldenModels& models, const GoldenSet& set, const std::string& ids_case,
                               const std::string& pixels_case) {
  GLMV_ASSIGN_OR_RETURN(CaseInputs in, LoadInputs(models, set, ids_case, pixels_case));
  CasePrompt out;
  out.ids = std::move(in.ids);
  GLMV_ASSIGN_OR_RETURN(out.prompt, PreparePrompt(*models.text, models.vision, out.ids, in.visual, &out.image_trace,
                                                  &out.video_trace));
  return out;
}

// Vision intermediates under their golden names; images first, then videos (a case has one or the other).
void AddVisionKeys(const CasePrompt& p, std::map<std::string, std::vector<float>>& floats,
                   std::map<std::string, std::vector<int64_t>>& ints) {
  const VisionTrace& t = p.image_trace.merged.empty() ? p.video_trace : p.image_trace;
  if (t.merged.empty()) return;
  ints["vision_position_ids"] = t.position_ids;
  floats["vision_patch_embed"] = t.patch_embed;
  floats["vision_post_conv_norm"] = t.post_conv_norm;
  floats["vision_with_pos_embed"] = t.with_pos_embed;
  for (size_t b = 0; b < t.block_out.size(); ++b) floats["vision_block" + std::to_string(b) + "_out"] = t.block_out[b];
  floats["vision_post_norm"] = t.post_norm;
  floats["vision_downsample"] = t.downsample;
  floats["vision_merged"] = t.merged;
}

// The reference's expert choices of every MoE layer of a forward case ([n, k] each, empty for dense layers);
// empty when the set does not store them.
Result<std::vector<std::vector<int64_t>>> ReferenceRouting(const TextModel& model, const GoldenSet& set,
                                                           const std::string& c) {
  std::vector<std::vector<int64_t>> routing(static_cast<size_t>(model.config().num_hidden_layers));
  bool any = false;
  for (size_t l = 0; l < routing.size(); ++l) {
    const std::string key = "text_layer" + std::to_string(l) + "_topk_ids";
    if (!set.Has(c, key)) continue;
    GLMV_ASSIGN_OR_RETURN(NpyArray a, set.Load(c, key));
    routing[l] = a.ToInt64();
    any = true;
  }
  if (!any) routing.clear();
  return routing;
}

// One forward case. With `reference_routing`, the MoE layers use the reference's expert choices.
Status CheckForward(GoldenModels& models, const GoldenSet& set, const std::string& c, CaseCheck& check,
                    bool reference_routing = false) {
  const TextModel& model = *models.text;
  GLMV_ASSIGN_OR_RETURN(CasePrompt p, BuildPrompt(models, set, c, c));
  const size_t n = p.ids.size();
  GLMV_ASSIGN_OR_RETURN(KvCache cache, model.NewCache(n, 16, models.kv_type));
  const MRopePositions& pos = p.prompt.positions.positions;
  std::vector<float> logits;
  TextTrace trace;
  std::vector<std::vector<int64_t>> routing;
  ForwardOptions fo;
  fo.precision = models.act_precision;
  fo.trace = &trace;
  if (reference_routing) {
    GLMV_ASSIGN_OR_RETURN(routing, ReferenceRouting(model, set, c));
    fo.forced_routing = &routing;
  }
  GLMV_RETURN_IF_ERROR(model.Forward(p.prompt.embeddings.data(), n, pos, cache, /*all_logits=*/true, logits, fo));

  const size_t layers = trace.layer_out.size();
  std::map<std::string, std::vector<float>> floats = {
      {"logits", logits},
      {"text_layer_input", trace.layer_input},
      {"text_final_norm", trace.final_norm},
      {"rope_cos", Duplicated(trace.rope.cos, trace.rope.half)},
      {"rope_sin", Duplicated(trace.rope.sin, trace.rope.half)},
  };
  std::vector<float> hf = trace.layer_input;  // HF hidden_states: input, layer outs but the last, final norm
  for (size_t l = 0; l + 1 < layers; ++l) hf.insert(hf.end(), trace.layer_out[l].begin(), trace.layer_out[l].end());
  hf.insert(hf.end(), trace.final_norm.begin(), trace.final_norm.end());
  floats["hf_hidden_states"] = hf;
  std::map<std::string, std::vector<int64_t>> ints;
  for (size_t l = 0; l < layers; ++l) {
    const std::string prefix = "text_layer" + std::to_string(l);
    floats[prefix + "_out"] = trace.layer_out[l];
    if (!trace.router_logits[l].empty()) {
      floats[prefix + "_router_logits"] = trace.router_logits[l];
      floats[prefix + "_topk_weights"] = trace.topk_weights[l];
      ints[prefix + "_topk_ids"] = trace.topk_ids[l];
    }
  }
  std::vector<int64_t> positions;
  for (const auto* axis : {&pos.t, &pos.h, &pos.w}) positions.insert(positions.end(), axis->begin(), axis->end());
  ints["position_ids"] = positions;
  ints["rope_deltas"] = {p.prompt.positions.rope_delta};
  ints["mm_token_type_ids"] = p.prompt.modality;
  AddVisionKeys(p, floats, ints);

  for (const auto& [key, ours] : floats) {
    if (!set.Has(c, key)) continue;
    GLMV_ASSIGN_OR_RETURN(NpyArray g, set.Load(c, key));
    check.Floats(key, ours, g, key == "logits");
  }
  for (const auto& [key, ours] : ints) {
    if (!set.Has(c, key)) continue;
    GLMV_ASSIGN_OR_RETURN(NpyArray g, set.Load(c, key));
    check.Ints(key, ours, g);
  }
  return Status::Ok();
}

Status CheckGenerate(GoldenModels& models, const GoldenSet& set, const std::string& c, const std::string& prompt_case,
                     CaseCheck& check) {
  GLMV_ASSIGN_OR_RETURN(NpyArray want_npy, set.Load(c, "generated_ids"));
  const std::vector<int64_t> want = want_npy.ToInt64();
  // The generation case carries its prompt ids; pixels (if any) are the prompt case's.
  GLMV_ASSIGN_OR_RETURN(CaseInputs in, LoadInputs(models, set, c, prompt_case.empty() ? c : prompt_case));
  GreedyOptions opt;
  opt.max_new_tokens = want.size();
  opt.stop_at_eos = false;  // compare every step the reference produced
  opt.keep_step_logits = set.Has(c, "step_logits");
  if (!check.exact) opt.forced_ids = want;  // every step along the reference's path, so its logits compare
  // Through the engine's steps: the images encoded stage by stage, the prompt prefilled, one decode row a step.
  GLMV_ASSIGN_OR_RETURN(GreedyResult r, GenerateGreedy(*models.engine, std::move(in.ids), std::move(in.visual), opt));
  check.ids = r.ids == want ? "match" : "mismatch";
  if (r.ids != want && check.exact) check.problems.push_back("generated ids differ");
  if (opt.keep_step_logits) {
    GLMV_ASSIGN_OR_RETURN(NpyArray g, set.Load(c, "step_logits"));
    // Compare only the steps both ran (a mismatch already fails the case).
    std::vector<float> ours = r.step_logits;
    ours.resize(std::min<size_t>(ours.size(), static_cast<size_t>(g.NumElements())));
    if (static_cast<int64_t>(ours.size()) == g.NumElements()) check.Floats("step_logits", ours, g, true);
  }
  if (set.Has(c, "decode_position_ids")) {
    GLMV_ASSIGN_OR_RETURN(NpyArray g, set.Load(c, "decode_position_ids"));
    std::vector<int64_t> ours;
    for (int axis = 0; axis < 3; ++axis) ours.insert(ours.end(), r.decode_positions.begin(), r.decode_positions.end());
    check.Ints("decode_position_ids", ours, g);
  }
  return Status::Ok();
}

std::string FormatErr(double e) { return e < 0 ? "-" : fmt::format("{:.2e}", e); }

}  // namespace

std::string FormatCaseLine(const GoldenCaseResult& r) {
  std::string kl = r.positions ? fmt::format(" kl_mean={:.3g} kl_max={:.3g} top1={:.4g}", r.kl_mean, r.kl_max, r.top1)
                               : std::string();
  if (r.routing_flips) kl += fmt::format(" routing_flips={}", r.routing_flips);
  if (r.kl_mean_ref_routing >= 0) kl += fmt::format(" kl_mean_ref_routing={:.3g}", r.kl_mean_ref_routing);
  return fmt::format("{} {} logits={} hidden={} ids={}{}{}", r.name, r.verdict, FormatErr(r.logits_err),
                     FormatErr(r.hidden_err), r.ids, kl, r.reason.empty() ? "" : " " + r.reason);
}

Result<GoldenReport> CheckGoldenSet(const std::string& dir, const GoldenOptions& options) {
  const bool verbose = options.verbose;
  GoldenSet set;
  set.dir = dir;
  {
    std::ifstream f(set.dir / "cases.json");
    if (!f) return Status::Error(dir + ": no cases.json");
    std::stringstream ss;
    ss << f.rdbuf();
    set.index = ordered_json::parse(ss.str(), nullptr, false);
    if (set.index.is_discarded() || !set.index.contains("cases") || !set.index["cases"].is_object()) {
      return Status::Error(dir + "/cases.json: no \"cases\" object");
    }
  }
  if (IsPreprocessSet(set.index)) return CheckPreprocessSet(dir, set.index, verbose);
  const bool has_model = !options.model.empty() || fs::exists(set.dir / "config.json");
  GoldenModels models;
  models.act_precision = options.act_precision;
  models.kv_type = options.kv_type;
  Status load_status;
  GoldenReport report;
  if (has_model) {
    EngineOptions eo;
    eo.act_precision = options.act_precision;
    eo.kv_type = options.kv_type;
    eo.vision_math = options.vision_math;
    eo.max_sequences = 1;
    auto m = Engine::Load(options.model.empty() ? set.dir.string() : options.model, eo);
    if (m.ok()) {
      models.engine = std::move(m).value();
      models.text = &models.engine->model();
      models.vision = models.engine->vision();
      if (models.vision) report.vision_math = models.vision->math_name();
      models.vision_status = models.engine->vision_status();
      if (const ModelFile* file = models.text->storage().checkpoint->model_file()) {
        for (const auto& t : file->tensors()) report.quantized |= IsPacked(t.dtype);
      }
      report.quantized |= options.judge_by_kl;
    } else {
      load_status = m.status();
    }
  }

  double kl_sum = 0;
  size_t top1_hits = 0;
  for (auto it = set.index["cases"].begin(); it != set.index["cases"].end(); ++it) {
    const std::string c = it.key();
    CaseCheck check;
    check.name = c, check.verbose = verbose, check.exact = !report.quantized;
    std::string skip;
    Status run;
    const std::string prompt_case = it.value().value("prompt_case", std::string());
    if (!has_model) {
      skip = "no config.json beside cases.json: no model to run";
    } else if (!models.text) {
      run = load_status;
    } else if (set.Has(c, "generated_ids")) {
      run = CheckGenerate(models, set, c, prompt_case, check);
    } else if (set.Has(c, "input_ids")) {
      run = CheckForward(models, set, c, check);
    } else {
      skip = "no input_ids in this case";
    }
    if (!run.ok()) check.problems.push_back(run.message());
    GoldenCaseResult r{c, "PASS", check.logits_err, check.hidden_err, check.ids, ""};
    r.routing_flips = check.routing_flips;
    // A quantized model whose expert choices differ from the reference's runs the case again along the
    // reference's routing: that KL is the quantization's arithmetic alone, without near-tie flips.
    if (run.ok() && !check.exact && check.routing_flips > 0) {
      CaseCheck forced;
      forced.name = c, forced.exact = false;
      const Status st = CheckForward(models, set, c, forced, /*reference_routing=*/true);
      if (st.ok() && forced.agreement.positions()) r.kl_mean_ref_routing = forced.agreement.kl_mean();
    }
    if (const SoftmaxAgreement& a = check.agreement; a.positions()) {
      r.positions = a.positions();
      r.kl_mean = a.kl_mean(), r.kl_max = a.kl_max(), r.top1 = a.top1();
      kl_sum += a.kl_sum(), top1_hits += a.top1_hits(), report.positions += a.positions();
      report.kl_max = std::max(report.kl_max, a.kl_max());
      const bool judge_forced = options.reference_routing && r.kl_mean_ref_routing >= 0;
      const double judged = judge_forced ? r.kl_mean_ref_routing : r.kl_mean;
      if (!check.exact && judged > options.max_kl) {
        check.problems.push_back(fmt::format("mean KL{} {:.3g} > {:.3g}", judge_forced ? " along the reference's routing" : "",
                                             judged, options.max_kl));
      }
    }
    if (!skip.empty()) {
      r.verdict = "SKIP", r.reason = skip, ++report.skipped;
    } else if (!check.problems.empty()) {
      r.verdict = "FAIL", ++report.failed;
      for (const auto& p : check.problems) r.reason += (r.reason.empty() ? "" : "; ") + p;
    } else {
      ++report.passed;
    }
    report.cases.push_back(std::move(r));
  }
  if (report.positions) {
    report.kl_mean = kl_sum / static_cast<double>(report.positions);
    report.top1 = static_cast<double>(top1_hits) / static_cast<double>(report.positions);
  }
  return report;
}

}  // namespace glmv::app
