#include "lib/sampling/grammar_cache.h"

#include <string>

namespace glmv {

Result<std::shared_ptr<const Grammar>> GrammarCache::JsonSchema(const nlohmann::ordered_json& schema,
                                                               const JsonSchemaOptions& options) {
  // The key: the options, then the schema as compact JSON (property order included: it orders the answer).
  return Get(std::string(options.strict ? "strict:" : "loose:") + schema.dump(),
             [&] { return CompileJsonSchema(schema, options); });
}

Result<std::shared_ptr<const Grammar>> GrammarCache::Get(
    const std::string& text, const std::function<Result<std::shared_ptr<const Grammar>>()>& compile) {
  const Hash256 key = HashBytes(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (const auto it = index_.find(key); it != index_.end()) {
      entries_.splice(entries_.begin(), entries_, it->second);
      ++hits_;
      return it->second->second;
    }
    ++misses_;
  }
  // Compiled outside the lock: another thread may compile the same schema meanwhile; the first one in wins.
  GLMV_ASSIGN_OR_RETURN(std::shared_ptr<const Grammar> grammar, compile());
  std::lock_guard<std::mutex> lock(mutex_);
  if (const auto it = index_.find(key); it != index_.end()) return it->second->second;
  entries_.emplace_front(key, grammar);
  index_[key] = entries_.begin();
  while (entries_.size() > capacity_) {
    index_.erase(entries_.back().first);
    entries_.pop_back();
  }
  return grammar;
}

size_t GrammarCache::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}

size_t GrammarCache::hits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return hits_;
}

size_t GrammarCache::misses() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return misses_;
}

}  // namespace glmv
