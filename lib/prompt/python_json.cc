#include "lib/prompt/python_json.h"

#include <cmath>
#include <cstdio>

namespace glmv {
namespace {

void Dump(const nlohmann::ordered_json& v, std::string& out) {
  switch (v.type()) {
    case nlohmann::json::value_t::object: {
      out += '{';
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first) out += ", ";
        first = false;
        out += nlohmann::ordered_json(it.key()).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        out += ": ";
        Dump(it.value(), out);
      }
      out += '}';
      return;
    }
    case nlohmann::json::value_t::array: {
      out += '[';
      for (size_t i = 0; i < v.size(); ++i) {
        if (i) out += ", ";
        Dump(v[i], out);
      }
      out += ']';
      return;
    }
    case nlohmann::json::value_t::number_float: {
      // Python prints floats by shortest repr, always with a '.' or exponent ("2.0", "1e-05").
      const double d = v.get<double>();
      if (std::isnan(d)) { out += "NaN"; return; }
      if (std::isinf(d)) { out += d > 0 ? "Infinity" : "-Infinity"; return; }
      std::string s = v.dump();
      if (s.find_first_of(".eE") == std::string::npos) s += ".0";
      out += s;
      return;
    }
    default:
      out += v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
}

}  // namespace

std::string PythonJsonDumps(const nlohmann::ordered_json& value) {
  std::string out;
  Dump(value, out);
  return out;
}

}  // namespace glmv
