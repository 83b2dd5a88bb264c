#include "lib/model/config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

namespace glmv {
namespace {

using nlohmann::json;

// Reads optional keys with type checks; the first problem is kept and reported with the key's path.
class Reader {
 public:
  Reader(const json& j, std::string path) : j_(j), path_(std::move(path)) {}

  template <typename T>
  void Get(const char* key, T& out, bool required, Status& st) const {
    if (!st.ok()) return;
    if (!j_.contains(key) || j_[key].is_null()) {
      if (required) st = Status::Error("missing key " + path_ + key);
      return;
    }
    const json& v = j_[key];
    if constexpr (std::is_same_v<T, bool>) {
      if (!v.is_boolean()) { st = Status::Error(path_ + key + " must be true or false"); return; }
    } else if constexpr (std::is_integral_v<T>) {
      if (!v.is_number_integer()) { st = Status::Error(path_ + key + " must be an integer"); return; }
    } else if constexpr (std::is_floating_point_v<T>) {
      if (!v.is_number()) { st = Status::Error(path_ + key + " must be a number"); return; }
    } else {
      if (!v.is_string()) { st = Status::Error(path_ + key + " must be a string"); return; }
    }
    out = v.get<T>();
  }

 private:
  const json& j_;
  std::string path_;
};

Status Check(bool ok, const std::string& what) { return ok ? Status::Ok() : Status::Error(what); }

// eos_token_id: an integer or a list of integers.
Status ParseEos(const json& e, const std::string& path, std::vector<int64_t>& out) {
  if (e.is_number_integer()) {
    out.push_back(e.get<int64_t>());
  } else if (e.is_array()) {
    for (const auto& v : e) {
      if (!v.is_number_integer()) return Status::Error(path + "eos_token_id must hold integers");
      out.push_back(v.get<int64_t>());
    }
  } else if (!e.is_null()) {
    return Status::Error(path + "eos_token_id must be an integer or a list");
  }
  return Status::Ok();
}

Status ParseText(const json& tj, const std::string& path, TextConfig& t) {
  Reader r(tj, path);
  Status st;
  r.Get("vocab_size", t.vocab_size, true, st);
  r.Get("hidden_size", t.hidden_size, true, st);
  r.Get("num_hidden_layers", t.num_hidden_layers, true, st);
  r.Get("num_attention_heads", t.num_attention_heads, true, st);
  r.Get("num_key_value_heads", t.num_key_value_heads, true, st);
  r.Get("head_dim", t.head_dim, false, st);
  r.Get("attention_bias", t.attention_bias, false, st);
  r.Get("intermediate_size", t.intermediate_size, true, st);
  r.Get("first_k_dense_replace", t.first_k_dense_replace, true, st);
  r.Get("moe_intermediate_size", t.moe_intermediate_size, true, st);
  r.Get("n_routed_experts", t.n_routed_experts, true, st);
  r.Get("num_experts_per_tok", t.num_experts_per_tok, true, st);
  r.Get("n_shared_experts", t.n_shared_experts, false, st);
  r.Get("n_group", t.n_group, false, st);
  r.Get("topk_group", t.topk_group, false, st);
  r.Get("norm_topk_prob", t.norm_topk_prob, false, st);
  r.Get("routed_scaling_factor", t.routed_scaling_factor, false, st);
  r.Get("rms_norm_eps", t.rms_norm_eps, false, st);
  r.Get("partial_rotary_factor", t.partial_rotary_factor, false, st);
  r.Get("max_position_embeddings", t.max_position_embeddings, false, st);
  r.Get("pad_token_id", t.pad_token_id, false, st);
  r.Get("tie_word_embeddings", t.tie_word_embeddings, false, st);
  GLMV_RETURN_IF_ERROR(st);
  if (t.head_dim == 0 && t.num_attention_heads > 0) t.head_dim = t.hidden_size / t.num_attention_heads;

  std::string act = "silu";
  r.Get("hidden_act", act, false, st);
  bool qk_norm = false;
  r.Get("use_qk_norm", qk_norm, false, st);
  GLMV_RETURN_IF_ERROR(st);
  GLMV_RETURN_IF_ERROR(Check(act == "silu", path + "hidden_act '" + act + "' is not supported (only silu)"));
  GLMV_RETURN_IF_ERROR(Check(!qk_norm, path + "use_qk_norm = true is not supported (GLM-4.5V has no q/k norm)"));

  if (tj.contains("eos_token_id")) GLMV_RETURN_IF_ERROR(ParseEos(tj["eos_token_id"], path, t.eos_token_ids));

  // Rope: transformers 4 writes rope_theta + rope_scaling{mrope_section}; transformers 5 may write
  // rope_parameters{rope_theta, mrope_section, partial_rotary_factor}.
  r.Get("rope_theta", t.rope_theta, false, st);
  GLMV_RETURN_IF_ERROR(st);
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    if (!tj.contains(key) || !tj[key].is_object()) continue;
    const json& rp = tj[key];
    Reader rr(rp, path + key + ".");
    rr.Get("rope_theta", t.rope_theta, false, st);
    rr.Get("partial_rotary_factor", t.partial_rotary_factor, false, st);
    std::string type = "default";
    rr.Get("rope_type", type, false, st);
    GLMV_RETURN_IF_ERROR(st);
    GLMV_RETURN_IF_ERROR(Check(type == "default" || type == "mrope",
                               path + key + ".rope_type '" + type + "' is not supported"));
    if (rp.contains("mrope_section")) {
      if (!rp["mrope_section"].is_array()) return Status::Error(path + key + ".mrope_section must be a list");
      t.mrope_section.clear();
      for (const auto& v : rp["mrope_section"]) {
        if (!v.is_number_integer() || v.get<int64_t>() < 0) {
          return Status::Error(path + key + ".mrope_section must hold non-negative integers");
        }
        t.mrope_section.push_back(v.get<int64_t>());
      }
    }
  }
  if (t.mrope_section.empty()) t.mrope_section = {8, 12, 12};  // the reference's default

  // Consistency: everything the model code will rely on.
  GLMV_RETURN_IF_ERROR(Check(t.vocab_size > 0 && t.hidden_size > 0 && t.num_hidden_layers > 0,
                             path + "vocab_size, hidden_size and num_hidden_layers must be positive"));
  GLMV_RETURN_IF_ERROR(Check(t.num_attention_heads > 0 && t.num_key_value_heads > 0 &&
                                 t.num_attention_heads % t.num_key_value_heads == 0,
                             path + "num_attention_heads must be a positive multiple of num_key_value_heads"));
  GLMV_RETURN_IF_ERROR(Check(t.head_dim > 0, path + "head_dim must be positive"));
  const int64_t rd = t.rotary_dim();
  GLMV_RETURN_IF_ERROR(Check(rd >= 0 && rd <= t.head_dim && rd % 2 == 0,
                             path + "head_dim × partial_rotary_factor must be an even number ≤ head_dim"));
  const int64_t sec_sum = std::accumulate(t.mrope_section.begin(), t.mrope_section.end(), int64_t{0});
  GLMV_RETURN_IF_ERROR(Check(t.mrope_section.size() == 3 && sec_sum == rd / 2,
                             path + "mrope_section must have 3 entries summing to rotary_dim/2 = " +
                                 std::to_string(rd / 2) + " (got sum " + std::to_string(sec_sum) + ")"));
  GLMV_RETURN_IF_ERROR(Check(t.first_k_dense_replace >= 0 && t.first_k_dense_replace <= t.num_hidden_layers,
                             path + "first_k_dense_replace must be within [0, num_hidden_layers]"));
  const bool has_moe = t.first_k_dense_replace < t.num_hidden_layers;
  if (t.first_k_dense_replace > 0) {
    GLMV_RETURN_IF_ERROR(Check(t.intermediate_size > 0, path + "intermediate_size must be positive"));
  }
  if (has_moe) {
    GLMV_RETURN_IF_ERROR(Check(t.n_routed_experts > 0 && t.moe_intermediate_size > 0,
                               path + "n_routed_experts and moe_intermediate_size must be positive"));
    GLMV_RETURN_IF_ERROR(Check(t.num_experts_per_tok > 0 && t.num_experts_per_tok <= t.n_routed_experts,
                               path + "num_experts_per_tok must be within [1, n_routed_experts]"));
    GLMV_RETURN_IF_ERROR(Check(t.n_shared_experts >= 0, path + "n_shared_experts must not be negative"));
    GLMV_RETURN_IF_ERROR(Check(t.n_group > 0 && t.n_routed_experts % t.n_group == 0,
                               path + "n_routed_experts must be a multiple of n_group"));
    GLMV_RETURN_IF_ERROR(Check(t.topk_group > 0 && t.topk_group <= t.n_group,
                               path + "topk_group must be within [1, n_group]"));
    GLMV_RETURN_IF_ERROR(Check(t.num_experts_per_tok <= t.topk_group * (t.n_routed_experts / t.n_group),
                               path + "num_experts_per_tok exceeds the experts of the kept groups"));
  }
  GLMV_RETURN_IF_ERROR(Check(t.rms_norm_eps > 0, path + "rms_norm_eps must be positive"));
  return Status::Ok();
}

Status ParseVision(const json& vj, const std::string& path, VisionConfig& v) {
  Reader r(vj, path);
  Status st;
  r.Get("depth", v.depth, true, st);
  r.Get("hidden_size", v.hidden_size, true, st);
  r.Get("num_heads", v.num_heads, true, st);
  r.Get("intermediate_size", v.intermediate_size, true, st);
  r.Get("out_hidden_size", v.out_hidden_size, true, st);
  r.Get("patch_size", v.patch_size, false, st);
  r.Get("temporal_patch_size", v.temporal_patch_size, false, st);
  r.Get("spatial_merge_size", v.spatial_merge_size, false, st);
  r.Get("image_size", v.image_size, false, st);
  r.Get("in_channels", v.in_channels, false, st);
  r.Get("attention_bias", v.attention_bias, false, st);
  r.Get("rms_norm_eps", v.rms_norm_eps, false, st);
  GLMV_RETURN_IF_ERROR(st);
  GLMV_RETURN_IF_ERROR(Check(v.depth > 0 && v.hidden_size > 0 && v.num_heads > 0 && v.hidden_size % v.num_heads == 0,
                             path + "depth, hidden_size, num_heads must be positive and heads must divide hidden_size"));
  GLMV_RETURN_IF_ERROR(Check(v.patch_size > 0 && v.temporal_patch_size > 0 && v.spatial_merge_size > 0 &&
                                 v.image_size % v.patch_size == 0,
                             path + "patch_size, temporal_patch_size, spatial_merge_size must be positive and "
                                    "image_size a multiple of patch_size"));
  return Status::Ok();
}

}  // namespace

Result<ModelConfig> ParseModelConfig(const std::string& json_text, const std::string& source) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::Error(source + ": not a valid JSON object");
  ModelConfig cfg;
  Status st;
  Reader top(j, "");
  top.Get("model_type", cfg.model_type, false, st);
  top.Get("image_token_id", cfg.image_token_id, false, st);
  top.Get("video_token_id", cfg.video_token_id, false, st);
  top.Get("image_start_token_id", cfg.image_start_token_id, false, st);
  top.Get("image_end_token_id", cfg.image_end_token_id, false, st);
  top.Get("video_start_token_id", cfg.video_start_token_id, false, st);
  top.Get("video_end_token_id", cfg.video_end_token_id, false, st);
  if (!st.ok()) return st.Annotate(source);

  // GLM-4.5V nests the decoder under text_config; a text-only GLM-4.5(-Air) config has it at top level.
  const bool nested = j.contains("text_config") && j["text_config"].is_object();
  const json& tj = nested ? j["text_config"] : j;
  GLMV_RETURN_IF_ERROR(ParseText(tj, nested ? "text_config." : "", cfg.text).Annotate(source));
  if (!nested && j.contains("tie_word_embeddings") && j["tie_word_embeddings"].is_boolean()) {
    cfg.text.tie_word_embeddings = j["tie_word_embeddings"].get<bool>();
  }
  if (nested && j.contains("tie_word_embeddings") && j["tie_word_embeddings"].is_boolean()) {
    cfg.text.tie_word_embeddings = cfg.text.tie_word_embeddings || j["tie_word_embeddings"].get<bool>();
  }
  if (cfg.text.eos_token_ids.empty() && j.contains("eos_token_id")) {  // some configs keep eos at top level
    GLMV_RETURN_IF_ERROR(ParseEos(j["eos_token_id"], "", cfg.text.eos_token_ids).Annotate(source));
  }
  if (j.contains("vision_config") && j["vision_config"].is_object()) {
    cfg.has_vision = true;
    GLMV_RETURN_IF_ERROR(ParseVision(j["vision_config"], "vision_config.", cfg.vision).Annotate(source));
  }
  return cfg;
}

Result<ModelConfig> LoadModelConfig(const std::string& path) {
  std::ifstream f(path);
  if (!f) return Status::Error(path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  return ParseModelConfig(ss.str(), path);
}

}  // namespace glmv
