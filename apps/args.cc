#include "apps/args.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace glmv::app {

Result<Args> Args::Parse(const std::vector<OptionSpec>& spec, int argc, char** argv, int first) {
  Args args;
  bool only_positional = false;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (only_positional || a.size() < 2 || a[0] != '-' || a == "-") {
      args.positional_.push_back(a);
      continue;
    }
    if (a == "--") {
      only_positional = true;
      continue;
    }
    std::string inline_value;
    bool has_inline = false;
    if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_inline = true;
    }
    const OptionSpec* match = nullptr;
    for (const auto& s : spec) {
      if (a == s.name || (!s.short_name.empty() && a == s.short_name)) match = &s;
    }
    if (!match) return Status::Error("unknown option " + a + " (see --help)");
    if (!match->takes_value) {
      if (has_inline) return Status::Error(match->name + " takes no value");
      args.values_.emplace(match->name, "");
      continue;
    }
    if (has_inline) {
      args.values_.emplace(match->name, inline_value);
    } else if (i + 1 < argc) {
      args.values_.emplace(match->name, argv[++i]);
    } else {
      return Status::Error(match->name + " needs a value");
    }
  }
  return args;
}

std::string Args::Get(const std::string& name, const std::string& fallback) const {
  auto range = values_.equal_range(name);
  if (range.first == range.second) return fallback;
  return std::prev(range.second)->second;  // the last one wins
}

std::vector<std::string> Args::GetAll(const std::string& name) const {
  std::vector<std::string> out;
  auto range = values_.equal_range(name);
  for (auto it = range.first; it != range.second; ++it) out.push_back(it->second);
  return out;
}

Result<long long> Args::GetInt(const std::string& name, long long fallback) const {
  if (!Has(name)) return fallback;
  const std::string v = Get(name);
  char* end = nullptr;
  errno = 0;
  const long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0) return Status::Error(name + " expects an integer, got '" + v + "'");
  return n;
}

Result<double> Args::GetDouble(const std::string& name, double fallback) const {
  if (!Has(name)) return fallback;
  const std::string v = Get(name);
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !std::isfinite(d)) return Status::Error(name + ": '" + v + "' is not a number");
  return d;
}

std::string OptionsHelp(const std::vector<OptionSpec>& spec) {
  std::string out;
  for (const auto& s : spec) {
    std::string left = "  " + (s.short_name.empty() ? std::string("    ") : s.short_name + ", ") + s.name;
    std::string help = s.help;
    if (s.takes_value) {
      const auto sp = help.find("  ");
      if (sp != std::string::npos) {
        left += " " + help.substr(0, sp);
        help = help.substr(sp + 2);
      }
    }
    if (left.size() < 30) left.resize(30, ' ');
    else left += "  ";
    out += left + help + "\n";
  }
  return out;
}

Result<std::vector<int64_t>> ParseIdList(const std::string& text, const std::string& what) {
  std::vector<int64_t> ids;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || errno == ERANGE) return Status::Error(what + ": '" + item + "' is not an integer");
    ids.push_back(v);
  }
  if (ids.empty()) return Status::Error(what + " is empty");
  return ids;
}

}  // namespace glmv::app
