// JSON text as Python's json.dumps writes it (", " and ": " separators, keys in insertion order,
// non-ASCII kept as UTF-8): what the chat templates' `tojson(ensure_ascii=False)` puts in the prompt.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace glmv {

std::string PythonJsonDumps(const nlohmann::ordered_json& value);

}  // namespace glmv
