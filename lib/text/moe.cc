#include "lib/text/moe.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "lib/model/linear.h"
#include "simd/kernels.h"

namespace glmv {

void SelectExperts(const TextConfig& c, const float* logits, const float* correction_bias, int64_t* ids,
                   float* weights) {
  SelectScratch scratch;
  SelectExperts(c, logits, correction_bias, ids, weights, scratch);
}

void SelectExperts(const TextConfig& c, const float* logits, const float* correction_bias, int64_t* ids,
                   float* weights, SelectScratch& s) {
  const size_t E = static_cast<size_t>(c.n_routed_experts);
  const size_t k = static_cast<size_t>(c.num_experts_per_tok);
  std::vector<float>& score = s.score;
  std::vector<float>& choice = s.choice;
  score.resize(E);
  choice.resize(E);
  for (size_t e = 0; e < E; ++e) {
    score[e] = 1.0f / (1.0f + std::exp(-logits[e]));
    choice[e] = score[e] + correction_bias[e];
  }
  // Group-limited selection: rank groups by the sum of their two best corrected scores and keep
  // topk_group of them. With n_group = 1 (GLM-4.5V) this keeps everything.
  const size_t groups = static_cast<size_t>(c.n_group);
  if (groups > 1) {
    const size_t per = E / groups;
    s.group_score.resize(groups);
    for (size_t g = 0; g < groups; ++g) {
      s.group_values.assign(choice.begin() + g * per, choice.begin() + (g + 1) * per);
      std::sort(s.group_values.begin(), s.group_values.end(), std::greater<float>());
      s.group_score[g] = s.group_values[0] + (per > 1 ? s.group_values[1] : 0.0f);
    }
    s.group_order.resize(groups);
    std::iota(s.group_order.begin(), s.group_order.end(), 0);
    // Ties keep group order (what a stable sort gives), without a stable sort's temporary buffer.
    std::sort(s.group_order.begin(), s.group_order.end(), [&](size_t a, size_t b) {
      return s.group_score[a] > s.group_score[b] || (s.group_score[a] == s.group_score[b] && a < b);
    });
    for (size_t r = static_cast<size_t>(c.topk_group); r < groups; ++r) {
      const size_t g = s.group_order[r];
      std::fill(choice.begin() + g * per, choice.begin() + (g + 1) * per, -std::numeric_limits<float>::infinity());
    }
  }
  std::vector<size_t>& order = s.order;
  order.resize(E);
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](size_t a, size_t b) {
    return choice[a] > choice[b] || (choice[a] == choice[b] && a < b);
  });
  for (size_t i = 0; i < k; ++i) ids[i] = static_cast<int64_t>(order[i]);
  WeighExperts(c, logits, ids, weights);
}

void WeighExperts(const TextConfig& c, const float* logits, const int64_t* ids, float* weights) {
  const size_t k = static_cast<size_t>(c.num_experts_per_tok);
  float sum = 0.0f;
  for (size_t i = 0; i < k; ++i) {
    weights[i] = 1.0f / (1.0f + std::exp(-logits[ids[i]]));  // the uncorrected score
    sum += weights[i];
  }
  const float scale = static_cast<float>(c.routed_scaling_factor);
  for (size_t i = 0; i < k; ++i) {
    if (c.norm_topk_prob) weights[i] /= (sum + 1e-20f);
    weights[i] *= scale;
  }
}

namespace {

bool Packed(const MlpWeights& m) { return m.gate.is_packed() && m.up.is_packed() && m.down.is_packed(); }

// Finishes the group's expert i (ExpertSource::FinishAcquire) into s.group_out. On an error the rest of the
// group is finished too, so that nothing stays begun; the caller releases whatever was acquired.
Status FinishOne(ExpertSource& experts, size_t layer_index, MoeScratch& s, size_t i) {
  const std::span<const size_t> ids(s.group_ids);
  const std::span<const MlpWeights*> out(s.group_out);
  const Status finished = experts.FinishAcquire(layer_index, ids.subspan(i, 1), out.subspan(i, 1));
  if (finished.ok()) return finished;
  (void)experts.FinishAcquire(layer_index, ids.subspan(i + 1), out.subspan(i + 1));
  return finished;
}

// Decode and other small batches with packed experts: every routed expert of a group that got tokens (and
// the shared expert, with the last group) runs in two passes, gate and up of all of them, then down of all
// of them (LinearPackedBatch), in place of three passes per expert — 2 thread fork/joins per group instead
// of 3 · (k + 1), and weight streams that run on from one expert into the next. Same arithmetic as SwiGlu
// per expert (each job's result is exactly Linear()'s), summed in the same order. The experts BeginAcquire
// left to come run after that first wave, one wave each as FinishAcquire hands them over: their reads
// overlap the waves before them. The group is the one the caller began (s.group_ids, s.group_out), all of
// whose experts it has checked are packed.
Status BatchedExperts(LinearContext& cx, const TextConfig& c, const TextLayerWeights& layer, size_t layer_index,
                      ExpertSource& experts, const float* x, size_t n, float* out, MoeScratch& s, ActRows acts,
                      bool with_shared) {
  const size_t H = static_cast<size_t>(c.hidden_size), width = static_cast<size_t>(c.moe_intermediate_size);
  size_t total = 0;
  for (const size_t e : s.group_ids) total += s.per_expert[e].size();
  const bool shared = with_shared && layer.has_shared;
  const size_t shared_width = shared ? static_cast<size_t>(layer.shared.gate.rows()) : 0;
  const size_t shared_n = shared ? n : 0;
  // [gathered: total·H][gate: total·width][up: total·width][expert out: total·H] then the shared expert's
  // [gate: n·sw][up: n·sw][out: n·H].
  const size_t need = 2 * total * H + 2 * total * width + shared_n * (2 * shared_width + H);
  if (s.mlp.size() < need) s.mlp.resize(need);
  float* gathered = s.mlp.data();
  float* gate = gathered + total * H;
  float* up = gate + total * width;
  float* expert_out = up + total * width;
  float* shared_gate = expert_out + total * H;
  float* shared_up = shared_gate + shared_n * shared_width;
  float* shared_out = shared_up + shared_n * shared_width;
  std::vector<PackedLinearJob>& jobs = s.jobs;
  s.gathered_acts.resize(total);
  // Each group expert's first row in the gathered, gate, up and expert-out blocks (expert order).
  s.group_rows.resize(s.group_ids.size());
  size_t at = 0;
  for (size_t g = 0; g < s.group_ids.size(); ++g) {
    const auto& list = s.per_expert[s.group_ids[g]];
    s.group_rows[g] = at;
    for (size_t i = 0; i < list.size(); ++i) {
      std::copy_n(x + list[i].first * H, H, gathered + (at + i) * H);
      s.gathered_acts[at + i] = acts.At(list[i].first);
    }
    at += list.size();
  }
  s.ran.assign(s.group_ids.size(), 0);
  // One wave: the acquired experts not run yet (and the shared expert, in the first wave).
  auto wave = [&](bool with_shared_expert) {
    jobs.clear();
    for (size_t g = 0; g < s.group_ids.size(); ++g) {
      if (!s.group_out[g] || s.ran[g]) continue;
      const size_t r = s.group_rows[g], m = s.per_expert[s.group_ids[g]].size();
      const ActRows expert_acts{.per_row = s.gathered_acts.data() + r};
      jobs.push_back({&s.group_out[g]->gate, gathered + r * H, m, gate + r * width, nullptr, expert_acts});
      jobs.push_back({&s.group_out[g]->up, gathered + r * H, m, up + r * width, nullptr, expert_acts});
    }
    if (with_shared_expert) {
      jobs.push_back({&layer.shared.gate, x, n, shared_gate, nullptr, acts});
      jobs.push_back({&layer.shared.up, x, n, shared_up, nullptr, acts});
    }
    if (jobs.empty()) return;
    LinearPackedBatch(cx, jobs);
    jobs.clear();
    for (size_t g = 0; g < s.group_ids.size(); ++g) {
      if (!s.group_out[g] || s.ran[g]) continue;
      const size_t r = s.group_rows[g], m = s.per_expert[s.group_ids[g]].size();
      simd::SiluMul(gate + r * width, up + r * width, gate + r * width, m * width);
      jobs.push_back({&s.group_out[g]->down, gate + r * width, m, expert_out + r * H, nullptr,
                      ActRows{.per_row = s.gathered_acts.data() + r}});
      s.ran[g] = 1;
    }
    if (with_shared_expert) {
      simd::SiluMul(shared_gate, shared_up, shared_gate, n * shared_width);
      jobs.push_back({&layer.shared.down, shared_gate, n, shared_out, nullptr, acts});
    }
    LinearPackedBatch(cx, jobs);
  };
  wave(shared);
  // Then the rest one at a time, in the order their reads were asked for (expert order), each run as soon as
  // it is there while the next is read.
  for (size_t i = 0; i < s.group_ids.size(); ++i) {
    if (s.group_out[i]) continue;
    GLMV_RETURN_IF_ERROR(FinishOne(experts, layer_index, s, i));
    wave(false);
  }
  for (size_t g = 0; g < s.group_ids.size(); ++g) {
    const auto& list = s.per_expert[s.group_ids[g]];
    const float* rows = expert_out + s.group_rows[g] * H;
    for (size_t i = 0; i < list.size(); ++i) simd::Axpy(list[i].second, rows + i * H, out + list[i].first * H, H);
  }
  if (shared) {
    for (size_t i = 0; i < n * H; ++i) out[i] += shared_out[i];
  }
  return Status::Ok();
}

// Each expert of the group on its tokens, one at a time (three passes each), accumulated in expert order.
// Each is finished (FinishAcquire) just before it runs, so the reads BeginAcquire started, which arrive in
// expert order, overlap the experts before them.
Status ExpertsOneByOne(LinearContext& cx, const TextConfig& c, size_t layer_index, ExpertSource& experts, const float* x,
                       float* out, MoeScratch& s, ActRows acts) {
  const size_t H = static_cast<size_t>(c.hidden_size);
  for (size_t g = 0; g < s.group_ids.size(); ++g) {
    const size_t e = s.group_ids[g];
    if (!s.group_out[g]) GLMV_RETURN_IF_ERROR(FinishOne(experts, layer_index, s, g));
    const auto& list = s.per_expert[e];
    const size_t m = list.size();
    if (s.gathered.size() < m * H) s.gathered.resize(m * H);
    if (s.expert_out.size() < m * H) s.expert_out.resize(m * H);
    if (s.gathered_acts.size() < m) s.gathered_acts.resize(m);
    for (size_t i = 0; i < m; ++i) {
      std::copy_n(x + list[i].first * H, H, s.gathered.data() + i * H);
      s.gathered_acts[i] = acts.At(list[i].first);
    }
    SwiGlu(cx, *s.group_out[g], s.gathered.data(), m, s.expert_out.data(), s.mlp, ActRows{.per_row = s.gathered_acts.data()});
    for (size_t i = 0; i < m; ++i) simd::Axpy(list[i].second, s.expert_out.data() + i * H, out + list[i].first * H, H);
  }
  return Status::Ok();
}

// Releases the experts a group holds (s.group_out) when it goes out of scope, whatever happened in between.
struct ReleaseGroup {
  ExpertSource& source;
  size_t layer;
  MoeScratch& s;
  ~ReleaseGroup() {
    for (size_t g = 0; g < s.group_ids.size(); ++g) {
      if (s.group_out[g]) source.Release(layer, s.group_ids[g]);
      s.group_out[g] = nullptr;
    }
  }
};

}  // namespace

void RouteTokens(LinearContext& cx, const TextConfig& c, const TextLayerWeights& layer, const float* x, size_t n, MoeScratch& s,
                 const int64_t* forced_ids) {
  const size_t E = static_cast<size_t>(c.n_routed_experts);
  const size_t k = static_cast<size_t>(c.num_experts_per_tok);
  s.router_logits.resize(n * E);
  s.ids.resize(n * k);
  s.weights.resize(n * k);
  Linear(cx, layer.router, nullptr, x, n, s.router_logits.data());
  s.per_expert.resize(E);
  for (auto& list : s.per_expert) list.clear();
  for (size_t t = 0; t < n; ++t) {
    if (forced_ids) {
      std::copy_n(forced_ids + t * k, k, s.ids.data() + t * k);
      WeighExperts(c, s.router_logits.data() + t * E, s.ids.data() + t * k, s.weights.data() + t * k);
    } else {
      SelectExperts(c, s.router_logits.data() + t * E, layer.correction_bias.data, s.ids.data() + t * k,
                    s.weights.data() + t * k, s.select);
    }
    for (size_t i = 0; i < k; ++i) {
      s.per_expert[static_cast<size_t>(s.ids[t * k + i])].emplace_back(static_cast<uint32_t>(t), s.weights[t * k + i]);
    }
  }
}

ExpertGroup NextExpertGroup(std::span<const std::vector<std::pair<uint32_t, float>>> per_expert, size_t begin,
                            size_t max_held) {
  while (begin < per_expert.size() && per_expert[begin].empty()) ++begin;
  size_t end = begin, held = 0;
  while (end < per_expert.size() && held < std::max<size_t>(1, max_held)) {
    if (!per_expert[end].empty()) ++held;
    ++end;
  }
  return {begin, end};
}

Status RunExperts(LinearContext& cx, const TextConfig& c, const TextLayerWeights& layer, size_t layer_index,
                  ExpertSource& experts, const float* x, size_t n, float* out, MoeScratch& s, ActRows acts) {
  const size_t H = static_cast<size_t>(c.hidden_size);
  // Small batches of packed experts run as one LinearPackedBatch per group; whether they do is decided once
  // for the layer (by token counts and the experts' formats as bound in the mapping, not by grouping or by
  // what is cached), though the results would be the same either way.
  bool batch = !layer.has_shared || (Packed(layer.shared) && n <= kBatchedExpertMaxTokens);
  for (size_t e = 0; e < s.per_expert.size(); ++e) {
    if (s.per_expert[e].empty()) continue;
    batch = batch && s.per_expert[e].size() <= kBatchedExpertMaxTokens && e < layer.experts.size() && Packed(layer.experts[e]);
  }
  // Routed experts in expert order, each on the batch of tokens routed to it, as the reference does. They are
  // acquired in groups of at most experts.max_held() (each expert read once for all its tokens), run, and
  // released before the next group; accumulating group after group keeps the expert order.
  std::fill(out, out + n * H, 0.0f);
  const size_t max_held = experts.max_held();
  bool shared_done = false;
  for (ExpertGroup g = NextExpertGroup(s.per_expert, 0, max_held); g.begin < g.end;
       g = NextExpertGroup(s.per_expert, g.end, max_held)) {
    s.group_ids.clear();
    for (size_t e = g.begin; e < g.end; ++e) {
      if (!s.per_expert[e].empty()) s.group_ids.push_back(e);
    }
    s.group_out.assign(s.group_ids.size(), nullptr);
    ReleaseGroup release{experts, layer_index, s};
    GLMV_RETURN_IF_ERROR(experts.BeginAcquire(layer_index, s.group_ids, s.group_out));
    const bool last = NextExpertGroup(s.per_expert, g.end, max_held).begin == s.per_expert.size();
    if (batch) {
      GLMV_RETURN_IF_ERROR(BatchedExperts(cx, c, layer, layer_index, experts, x, n, out, s, acts, last));
      shared_done = last;
    } else {
      GLMV_RETURN_IF_ERROR(ExpertsOneByOne(cx, c, layer_index, experts, x, out, s, acts));
    }
  }
  if (layer.has_shared && !shared_done) {
    if (s.expert_out.size() < n * H) s.expert_out.resize(n * H);
    SwiGlu(cx, layer.shared, x, n, s.expert_out.data(), s.mlp, acts);
    for (size_t i = 0; i < n * H; ++i) out[i] += s.expert_out[i];
  }
  return Status::Ok();
}

Status MoeForward(LinearContext& cx, const TextConfig& c, const TextLayerWeights& layer, size_t layer_index,
                  ExpertSource& experts, const float* x, size_t n, float* out, MoeScratch& s, const int64_t* forced_ids,
                  ActRows acts) {
  RouteTokens(cx, c, layer, x, n, s, forced_ids);
  return RunExperts(cx, c, layer, layer_index, experts, x, n, out, s, acts);
}

}  // namespace glmv
