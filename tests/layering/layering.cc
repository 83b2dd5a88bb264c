#include "tests/layering/layering.h"

#include <fstream>
#include <map>
#include <regex>
#include <set>

namespace glmv::test {
namespace {

namespace fs = std::filesystem;

// Top-level folders of ours and what each may include (besides itself).
const std::map<std::string, std::set<std::string>> kTopAllowed = {
    {"apps", {"lib", "io"}},
    {"lib", {"quant", "io", "simd"}},
    {"quant", {"simd"}},
    {"io", {}},
    {"simd", {}},
};
const std::set<std::string> kOurs = {"apps", "lib", "simd", "quant", "io", "tests", "benchmarks"};

// lib/ sub-folders and the sub-folders each may include (besides itself). The same direction as the
// libraries' dependencies in lib/*/meson.build. tools is reached only from outside lib/.
const std::map<std::string, std::set<std::string>> kLibAllowed = {
    {"base", {}},
    {"model", {"base"}},
    {"tokenizer", {"model", "base"}},
    {"media", {"model", "base"}},
    {"experts", {"model", "base"}},
    {"text", {"experts", "model", "base"}},
    {"vision", {"model", "base"}},
    {"sampling", {"tokenizer", "model", "base"}},
    {"prompt", {"text", "vision", "tokenizer", "media", "model", "base"}},
    {"engine", {"prompt", "sampling", "text", "experts", "vision", "tokenizer", "media", "model", "base"}},
    {"tools", {"engine", "prompt", "sampling", "text", "experts", "vision", "tokenizer", "media", "model", "base"}},
};

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> parts;
  for (const auto& p : fs::path(path)) parts.push_back(p.string());
  return parts;
}

// Why `file` (relative, split) may not include `target` (split), or "" when it may.
std::string Check(const std::vector<std::string>& file, const std::vector<std::string>& target) {
  const std::string& from = file[0];
  const std::string& to = target[0];
  if (!kOurs.count(to)) return "";  // a system or library header with a slash, e.g. "hwy/highway.h"
  if (to == "tests" || to == "benchmarks") return from + "/ must not depend on " + to + "/";
  if (to != from && !kTopAllowed.at(from).count(to)) return from + "/ may not include " + to + "/";
  if (to != "lib" || target.size() < 3) return "";
  const std::string& to_mod = target[1];
  if (from != "lib") return "";  // apps may include any of lib/, lib/tools included
  const std::string& from_mod = file.size() >= 3 ? file[1] : "";
  if (from_mod == to_mod) return "";
  if (to_mod == "tools") return "lib/tools is for apps, tests and benchmarks, not lib/" + from_mod;
  auto rule = kLibAllowed.find(from_mod);
  if (rule == kLibAllowed.end()) return "";  // reported once per folder below
  if (!rule->second.count(to_mod)) return "lib/" + from_mod + " may not include lib/" + to_mod;
  return "";
}

}  // namespace

std::vector<IncludeViolation> FindLayeringViolations(const fs::path& root) {
  std::vector<IncludeViolation> found;
  const std::regex include_line(R"re(^\s*#\s*include\s+"([^"]+)")re");
  for (const auto& [top, allowed] : kTopAllowed) {
    const fs::path dir = root / top;
    if (!fs::exists(dir)) continue;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      if (!entry.is_regular_file()) continue;
      const std::string ext = entry.path().extension().string();
      if (ext != ".h" && ext != ".cc") continue;
      const std::string rel = fs::relative(entry.path(), root).generic_string();
      const auto file = Split(rel);
      std::ifstream in(entry.path());
      std::string line;
      int number = 0;
      while (std::getline(in, line)) {
        ++number;
        std::smatch m;
        if (!std::regex_search(line, m, include_line)) continue;
        const std::string target = m[1].str();
        const auto parts = Split(target);
        if (parts.size() < 2) continue;  // "foo.h" beside the file: same folder
        if (std::string why = Check(file, parts); !why.empty()) found.push_back({rel, number, target, why});
      }
    }
  }
  if (fs::exists(root / "lib")) {
    for (const auto& entry : fs::directory_iterator(root / "lib")) {
      if (entry.is_directory() && !kLibAllowed.count(entry.path().filename().string())) {
        found.push_back({"lib/" + entry.path().filename().string(), 0, "",
                         "a lib/ sub-folder with no layering rule (add it to tests/layering/layering.cc and its "
                         "meson library)"});
      }
    }
  }
  return found;
}

}  // namespace glmv::test
