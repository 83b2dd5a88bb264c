#include "apps/softmax_agreement.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace glmv::app {
namespace {

template <typename T>
double LogSumExp(const T* v, size_t n) {
  double m = -INFINITY;
  for (size_t i = 0; i < n; ++i) m = std::max(m, static_cast<double>(v[i]));
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += std::exp(static_cast<double>(v[i]) - m);
  return m + std::log(s);
}

}  // namespace

void SoftmaxAgreement::Add(const double* reference, const float* ours, size_t vocab) {
  if (vocab == 0) return;
  const double r_lse = LogSumExp(reference, vocab), o_lse = LogSumExp(ours, vocab);
  double kl = 0;
  for (size_t i = 0; i < vocab; ++i) {
    const double lr = reference[i] - r_lse;
    kl += std::exp(lr) * (lr - (static_cast<double>(ours[i]) - o_lse));
  }
  kl = std::isnan(kl) ? INFINITY : std::max(kl, 0.0);  // rounding makes an exact match slightly negative
  const size_t r_top = static_cast<size_t>(std::max_element(reference, reference + vocab) - reference);
  const size_t o_top = static_cast<size_t>(std::max_element(ours, ours + vocab) - ours);
  kl_sum_ += kl, kl_max_ = std::max(kl_max_, kl), ++positions_, top1_hits_ += r_top == o_top;
  double second = -INFINITY;
  for (size_t i = 0; i < vocab; ++i) {
    if (i != r_top) second = std::max(second, reference[i]);
  }
  margins_.push_back(vocab > 1 ? reference[r_top] - second : INFINITY);
}

double SoftmaxAgreement::median_top1_margin() const {
  if (margins_.empty()) return 0;
  std::vector<double> m = margins_;
  std::nth_element(m.begin(), m.begin() + static_cast<std::ptrdiff_t>(m.size() / 2), m.end());
  return m[m.size() / 2];
}

void SoftmaxAgreement::AddRows(const float* reference, const float* ours, size_t rows, size_t vocab) {
  std::vector<double> ref(vocab);
  for (size_t r = 0; r < rows; ++r) {
    std::copy(reference + r * vocab, reference + (r + 1) * vocab, ref.begin());
    Add(ref.data(), ours + r * vocab, vocab);
  }
}

}  // namespace glmv::app
