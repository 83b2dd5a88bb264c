// Compiled response_format grammars kept for reuse, keyed by a hash of the schema's text and the options:
// a server sees the same schema on request after request and compiles it once. Bounded: past `capacity`
// entries the least recently used is dropped (sequences still holding it keep it alive through their
// shared_ptr). Thread-safe, so HTTP threads may compile (and fail, with a 400) before queueing a request.
#pragma once

#include <cstddef>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <nlohmann/json.hpp>

#include "io/status.h"
#include "lib/base/hash.h"
#include "lib/sampling/grammar.h"
#include "lib/sampling/json_schema.h"

namespace glmv {

class GrammarCache {
 public:
  explicit GrammarCache(size_t capacity = 64) : capacity_(capacity) {}

  // CompileJsonSchema(schema, options), or the grammar compiled for the same schema text before. Errors are
  // not kept.
  Result<std::shared_ptr<const Grammar>> JsonSchema(const nlohmann::ordered_json& schema, const JsonSchemaOptions& options);
  // Any grammar: the one kept under `key` (text that determines it, e.g. "tools:" + the functions' JSON),
  // or compile()'s, then kept under it.
  Result<std::shared_ptr<const Grammar>> Get(const std::string& key,
                                             const std::function<Result<std::shared_ptr<const Grammar>>()>& compile);

  size_t size() const;
  size_t hits() const;
  size_t misses() const;

 private:
  using Entry = std::pair<Hash256, std::shared_ptr<const Grammar>>;
  size_t capacity_;
  mutable std::mutex mutex_;
  std::list<Entry> entries_;  // most recently used first
  std::map<Hash256, std::list<Entry>::iterator> index_;
  size_t hits_ = 0, misses_ = 0;
};

}  // namespace glmv
