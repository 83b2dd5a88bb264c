// Mixture-of-experts routing and forward (spec §2.6): sigmoid scores, the correction bias used only to
// choose experts, group-limited top-k, normalised weights × routed_scaling_factor, plus shared experts.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "lib/experts/expert_source.h"
#include "lib/model/config.h"
#include "lib/model/linear.h"
#include "lib/text/text_weights.h"

namespace glmv {

// Chooses num_experts_per_tok experts for one token from its router logits [E].
// ids/weights: [k], in selection order (best corrected score first; ties go to the lower expert id).
// Working memory of SelectExperts, reused across tokens so routing does not allocate.
struct SelectScratch {
  std::vector<float> score, choice, group_score, group_values;  // [E], [E], [groups], [E / groups]
  std::vector<size_t> order, group_order;                       // [E], [groups]
};
void SelectExperts(const TextConfig& config, const float* router_logits, const float* correction_bias,
                   int64_t* ids, float* weights, SelectScratch& scratch);
// The same with scratch of its own (tests, one-off calls).
void SelectExperts(const TextConfig& config, const float* router_logits, const float* correction_bias,
                   int64_t* ids, float* weights);

// Weights of imposed expert choices ids [k] from the router logits [E], as SelectExperts weighs its own:
// the uncorrected sigmoid scores, normalised when norm_topk_prob, times routed_scaling_factor.
void WeighExperts(const TextConfig& config, const float* router_logits, const int64_t* ids, float* weights);

// Scratch reused across calls; grows to the largest batch seen.
struct MoeScratch {
  std::vector<float> router_logits;    // [n, E]
  std::vector<int64_t> ids;            // [n, k]
  std::vector<float> weights;          // [n, k]
  std::vector<float> gathered, expert_out, mlp;  // per-expert batches
  std::vector<std::vector<std::pair<uint32_t, float>>> per_expert;  // token, weight
  std::vector<PackedLinearJob> jobs;  // decode: the experts' layers run as one batch
  std::vector<ActQuant> gathered_acts;  // ActQuant of each gathered row, expert by expert
  std::vector<size_t> group_ids;             // the group being run: its experts with tokens, in expert order
  std::vector<const MlpWeights*> group_out;  // [group_ids]: acquired (BeginAcquire/FinishAcquire), else null
  std::vector<size_t> group_rows;            // [group_ids]: BatchedExperts' first gathered row of each
  std::vector<uint8_t> ran;                  // [group_ids]: BatchedExperts has run it (its waves)
  SelectScratch select;
};

// out[t] = Σ_k w_k · Expert_{id_k}(x[t]) + Shared(x[t]) for n tokens of width H.
// Leaves the router logits and choices in `scratch` for tracing. With `forced_ids` ([n, k], expert ids in
// [0, E)) those experts are used instead of the router's top-k, weighed by WeighExperts: golden checks
// compare a quantized model's arithmetic along the reference's routing, apart from near-tie flips.
// `acts` says how each of the n rows meets packed weights; a gathered row keeps its own. Routed experts come
// from `experts` (layer `layer_index`), acquired in groups of at most experts.max_held() in expert order,
// each group released after its GEMMs; the result does not depend on the grouping, bit for bit. A group's
// experts still being read when it begins (ExpertSource::BeginAcquire) run after the cached ones: their
// reads overlap the cached experts' GEMMs (and the shared expert's), and the sums keep expert order.
// Linear layers run in `cx` (lib/model/linear.h).
Status MoeForward(LinearContext& cx, const TextConfig& config, const TextLayerWeights& layer, size_t layer_index,
                  ExpertSource& experts, const float* x, size_t n, float* out, MoeScratch& scratch,
                  const int64_t* forced_ids = nullptr, ActRows acts = {});

// MoeForward's two halves (bench_decode times them apart). RouteTokens: the router's logits, each token's
// experts and weights, and each expert's list of tokens, into `scratch`. RunExperts: out[t] from those
// lists — every routed expert on its tokens and the shared expert on all.
void RouteTokens(LinearContext& cx, const TextConfig& config, const TextLayerWeights& layer, const float* x, size_t n,
                 MoeScratch& scratch, const int64_t* forced_ids = nullptr);
// Experts [begin, end) of a layer, of which at most max_held got tokens.
struct ExpertGroup {
  size_t begin = 0, end = 0;
};
// The next group from expert `begin` on: it starts at the first expert with tokens and ends after max_held
// (at least 1) experts with tokens or at the last expert; begin == end == E when none is left.
ExpertGroup NextExpertGroup(std::span<const std::vector<std::pair<uint32_t, float>>> per_expert, size_t begin,
                            size_t max_held);
Status RunExperts(LinearContext& cx, const TextConfig& config, const TextLayerWeights& layer, size_t layer_index,
                  ExpertSource& experts, const float* x, size_t n, float* out, MoeScratch& scratch, ActRows acts = {});

}  // namespace glmv
