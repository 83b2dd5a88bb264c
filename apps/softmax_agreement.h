// How close one model's next-token distributions are to another's, position by position: KL(reference ‖
// ours) of the softmaxes, in double precision, and whether the top-1 tokens agree. Used by check-golden
// (reference = golden logits) and compare (reference = the unquantized model).
#pragma once

#include <cstddef>
#include <vector>

namespace glmv::app {

class SoftmaxAgreement {
 public:
  // One position's logits of both, `vocab` entries each.
  void Add(const double* reference, const float* ours, size_t vocab);
  // Every row of [rows, vocab] arrays.
  void AddRows(const float* reference, const float* ours, size_t rows, size_t vocab);

  size_t positions() const { return positions_; }
  double kl_sum() const { return kl_sum_; }
  double kl_mean() const { return positions_ ? kl_sum_ / static_cast<double>(positions_) : 0.0; }
  double kl_max() const { return kl_max_; }
  size_t top1_hits() const { return top1_hits_; }
  double top1() const { return positions_ ? static_cast<double>(top1_hits_) / static_cast<double>(positions_) : 0.0; }
  // Median over positions of the reference's largest logit minus its second largest: how far apart its
  // top two tokens are. A logit error of that size swaps them, which explains greedy divergence on
  // random-weight models, whose distributions are nearly flat.
  double median_top1_margin() const;

 private:
  double kl_sum_ = 0, kl_max_ = 0;
  size_t positions_ = 0, top1_hits_ = 0;
  std::vector<double> margins_;
};

}  // namespace glmv::app
