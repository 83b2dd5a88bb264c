#include "tests/test_util.h"

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <regex>
#include <random>

namespace glmv::test {

std::filesystem::path DataDir() { return GLMV_TEST_DATA; }
std::filesystem::path SharedDir() {
  const char* override_dir = std::getenv("GLMV_SHARED_DIR");
  if (override_dir != nullptr && *override_dir != '\0') return override_dir;
  return GLMV_SHARED_DIR;
}

TempDir::TempDir() {
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto p = std::filesystem::temp_directory_path() / ("glmv_test_" + std::to_string(rd()));
    if (std::filesystem::create_directory(p)) {
      path_ = p;
      return;
    }
  }
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

void WriteBytes(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<uint8_t> ReadBytes(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

std::vector<float> RandomFloats(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

CommandResult RunCommand(const std::string& command, const std::string& stdin_text, bool capture_stderr) {
  TempDir dir;
  WriteBytes(dir / "stdin", {stdin_text.begin(), stdin_text.end()});
  std::string full = command + " < " + (dir / "stdin").string();
  if (capture_stderr) full += " 2> " + (dir / "stderr").string();
  CommandResult r;
  FILE* p = popen(full.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  if (capture_stderr) {
    const auto err = ReadBytes(dir / "stderr");
    r.err.assign(err.begin(), err.end());
  }
  return r;
}

double MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]));
  return worst;
}

uint64_t Number(const std::string& text, const std::string& pattern) {
  std::smatch m;
  REQUIRE_MESSAGE(std::regex_search(text, m, std::regex(pattern)), text);
  return std::stoull(m[1].str());
}

std::string WriteTextOnlyTinyGlmv(const std::string& glmv_bin, const TempDir& dir) {
  std::ifstream in(DataDir() / "tiny-glm4v-moe" / "config.json");
  std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Drop `"vision_config": {...},` (the config's strings hold no braces).
  const size_t key = json.find("\"vision_config\"");
  REQUIRE(key != std::string::npos);
  size_t end = json.find('{', key);
  REQUIRE(end != std::string::npos);
  for (int depth = 0; end < json.size(); ++end) {
    depth += json[end] == '{' ? 1 : json[end] == '}' ? -1 : 0;
    if (depth == 0) break;
  }
  REQUIRE(end < json.size());
  end = json.find_first_not_of(" \n\t", end + 1);
  if (end != std::string::npos && json[end] == ',') ++end;
  json.erase(key, end - key);
  const auto config = dir / "text-only-config.json";
  std::ofstream(config) << json;
  const std::string model = (dir / "text-only.glmv").string();
  const auto r = RunCommand(glmv_bin + " synth --config " + config.string() + " --format glmv -o " + model +
                            " --tokenizer-from " + (DataDir() / "tiny-glm4v-moe").string());
  REQUIRE_MESSAGE(r.status == 0, r.err);
  return model;
}

}  // namespace glmv::test
