// Per-layer key/value cache of the text decoder: the rotated keys and the values of every past token.
#pragma once

#include <cstddef>
#include <vector>

namespace glmv {

struct KvCache {
  // k[layer] and v[layer]: [capacity, kv_heads · head_dim], row = absolute token index.
  std::vector<std::vector<float>> k, v;
  size_t capacity = 0;  // tokens
  size_t length = 0;    // tokens stored so far
  size_t kv_width = 0;  // kv_heads · head_dim

  KvCache() = default;
  KvCache(size_t layers, size_t capacity_tokens, size_t width)
      : k(layers, std::vector<float>(capacity_tokens * width)),
        v(layers, std::vector<float>(capacity_tokens * width)),
        capacity(capacity_tokens),
        kv_width(width) {}
};

}  // namespace glmv
