// glmv synth as users run it: the directory it writes loads with the runtime's loader and generates,
// shards obey --shard-size, the seed decides every byte, and it refuses (writing nothing) a non-empty
// output, a model that would not fit on the disk, and absurd configs; a failed run leaves no partial
// directory behind.
#include <doctest/doctest.h>
#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <sys/wait.h>

#include "apps/byte_size.h"
#include "apps/synth_model.h"
#include "io/model_file.h"
#include "lib/model/checkpoint.h"
#include "lib/text/text_weights.h"
#include "lib/vision/vision_weights.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;
const fs::path kTinyConfig = test::DataDir() / "tiny-glm4v-moe" / "config.json";

struct Run {
  int status = -1;
  std::string out;  // stdout, and stderr unless stdout_only
};

Run Glmv(const std::string& args, bool stdout_only = false) {
  const std::string cmd = std::string(GLMV_BIN) + " " + args + (stdout_only ? " 2>/dev/null" : " 2>&1") + " < /dev/null";
  Run r;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string ReadText(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> Shards(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".safetensors") out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Entries in `dir` whose names contain ".partial-" (left-overs of an unfinished synth).
int Partials(const fs::path& dir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.path().filename().string().find(".partial-") != std::string::npos;
  return n;
}

// The tiny config with some text_config values replaced, written to dir/config.json.
fs::path EditedConfig(const test::TempDir& dir, const nlohmann::json& text_changes) {
  auto j = nlohmann::json::parse(ReadText(kTinyConfig));
  for (auto it = text_changes.begin(); it != text_changes.end(); ++it) j["text_config"][it.key()] = it.value();
  fs::create_directories(dir / "cfg");
  const fs::path p = dir / "cfg" / "config.json";
  std::ofstream(p) << j.dump(2);
  return p;
}

std::string Synth(const fs::path& out, const std::string& extra = "") {
  return "synth --config " + kTinyConfig.string() + " -o " + out.string() + " " + extra;
}

TEST_CASE("synth: the tiny config becomes a model the loader accepts and the runtime runs") {
  test::TempDir dir;
  const fs::path out = dir / "model";
  auto r = Glmv(Synth(out, "--seed 3"));
  REQUIRE_MESSAGE(r.status == 0, r.out);
  CHECK(r.out.find("synth: ") != std::string::npos);
  CHECK(r.out.find("tokens (vocab_size 300)") != std::string::npos);  // its tokenizer.json was copied and loads
  CHECK(ReadText(out / "config.json") == ReadText(kTinyConfig));
  CHECK(fs::exists(out / "tokenizer.json"));
  CHECK(Shards(out) == std::vector<std::string>{"model-00001-of-00001.safetensors"});
  CHECK(Partials(dir.path()) == 0);

  auto ckpt = Checkpoint::Open(out.string());
  REQUIRE_MESSAGE(ckpt.ok(), ckpt.status().message());
  const TensorView* corr = (*ckpt)->Find("model.language_model.layers.1.mlp.gate.e_score_correction_bias");
  REQUIRE(corr != nullptr);
  CHECK(corr->dtype == DType::kF32);
  CHECK((*ckpt)->Find("model.language_model.layers.1.mlp.experts.7.down_proj.weight")->dtype == DType::kBF16);
  TextWeights text;
  VisionWeights vision;
  WeightStorage storage;
  CHECK(BindTextWeights((*ckpt)->config().text, **ckpt, text, storage).ok());
  CHECK(BindVisionWeights((*ckpt)->config().vision, **ckpt, vision, storage).ok());

  const auto index = nlohmann::json::parse(ReadText(out / "model.safetensors.index.json"));
  CHECK(index["weight_map"].size() == (*ckpt)->num_tensors());
  uint64_t total = 0;
  for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
    total += static_cast<uint64_t>((*ckpt)->Find(it.key())->bytes.size());
  }
  CHECK(index["metadata"]["total_size"].get<uint64_t>() == total);

  auto run = Glmv("run -m " + out.string() + " --prompt-ids 1,2,3,4 -n 2", /*stdout_only=*/true);
  CHECK_MESSAGE(run.status == 0, run.out);
  int ids = 0;
  std::stringstream ss(run.out);
  for (long long id; ss >> id;) ids += id >= 0 && id < 300;
  CHECK(ids == 2);
}

TEST_CASE("synth: --shard-size splits the model; the seed, not the layout, decides the values") {
  test::TempDir dir;
  REQUIRE(Glmv(Synth(dir / "one", "--seed 9")).status == 0);
  auto r = Glmv(Synth(dir / "many", "--seed 9 --shard-size 60KB"));
  REQUIRE_MESSAGE(r.status == 0, r.out);
  // The patch embedding (32 × 1176 bf16 = 75 KB) cannot fit: it gets a shard of its own, with a note.
  CHECK(r.out.find("patch_embed.proj.weight is larger than --shard-size") != std::string::npos);
  const auto shards = Shards(dir / "many");
  REQUIRE(shards.size() > 8);
  CHECK(shards.back() == fmt::format("model-{:05d}-of-{:05d}.safetensors", shards.size(), shards.size()));
  auto one = Checkpoint::Open((dir / "one").string());
  auto many = Checkpoint::Open((dir / "many").string());  // also checks the index against the shards
  REQUIRE(one.ok());
  REQUIRE_MESSAGE(many.ok(), many.status().message());
  for (const auto& s : shards) {
    auto f = SafetensorsFile::Open((dir / "many" / s).string());
    REQUIRE(f.ok());
    CHECK_MESSAGE((fs::file_size(dir / "many" / s) <= 60000 || f->tensors().size() == 1), s);
  }
  const auto index = nlohmann::json::parse(ReadText(dir / "many" / "model.safetensors.index.json"));
  std::set<std::string> listed;
  for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) listed.insert(it.value());
  CHECK(listed.size() == shards.size());
  // Every tensor holds the same bytes however the model is split, so the two models compute the same.
  CHECK((*many)->num_tensors() == (*one)->num_tensors());
  CHECK(index["weight_map"].size() == (*one)->num_tensors());
  for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
    const auto a = (*one)->Find(it.key())->bytes, b = (*many)->Find(it.key())->bytes;
    CHECK_MESSAGE(std::equal(a.begin(), a.end(), b.begin(), b.end()), it.key());
  }
}

TEST_CASE("synth: same seed, same bytes; another seed or dtype, other bytes") {
  test::TempDir dir;
  REQUIRE(Glmv(Synth(dir / "a", "--seed 7")).status == 0);
  REQUIRE(Glmv(Synth(dir / "b", "--seed 7 --threads 1")).status == 0);
  REQUIRE(Glmv(Synth(dir / "c", "--seed 8 --dtype f32")).status == 0);
  const std::string shard = "model-00001-of-00001.safetensors";
  const auto a = test::ReadBytes(dir / "a" / shard);
  CHECK(a == test::ReadBytes(dir / "b" / shard));
  CHECK(ReadText(dir / "a" / "model.safetensors.index.json") == ReadText(dir / "b" / "model.safetensors.index.json"));
  auto ca = Checkpoint::Open((dir / "a").string()), cc = Checkpoint::Open((dir / "c").string());
  REQUIRE(ca.ok());
  REQUIRE(cc.ok());
  const TensorView* wa = (*ca)->Find("model.language_model.layers.0.self_attn.o_proj.weight");
  const TensorView* wc = (*cc)->Find("model.language_model.layers.0.self_attn.o_proj.weight");
  CHECK(wa->dtype == DType::kBF16);
  CHECK(wc->dtype == DType::kF32);
  const size_t n = static_cast<size_t>(wa->NumElements());
  std::vector<float> fa(n), fc(n);
  WidenToF32(wa->dtype, wa->bytes.data(), n, fa.data());
  WidenToF32(wc->dtype, wc->bytes.data(), n, fc.data());
  size_t differ = 0;
  for (size_t i = 0; i < n; ++i) differ += std::abs(fa[i] - fc[i]) > std::abs(fc[i]) / 256;  // beyond bf16 rounding
  CHECK(differ > n / 2);  // seed 8 is another model, not seed 7 rounded differently
}

TEST_CASE("synth refuses a non-empty output directory unless --force, and never its own input") {
  test::TempDir dir;
  const fs::path out = dir / "busy";
  fs::create_directories(out);
  std::ofstream(out / "keep.txt") << "mine";
  auto r = Glmv(Synth(out));
  CHECK(r.status != 0);
  CHECK(r.out.find("not empty") != std::string::npos);
  CHECK(fs::exists(out / "keep.txt"));
  CHECK(!fs::exists(out / "config.json"));
  CHECK(Partials(dir.path()) == 0);
  auto forced = Glmv(Synth(out, "--force"));
  CHECK(forced.status == 0);
  CHECK(!fs::exists(out / "keep.txt"));
  CHECK(fs::exists(out / "model.safetensors.index.json"));
  fs::create_directories(dir / "empty");
  CHECK(Glmv(Synth(dir / "empty")).status == 0);  // an existing empty directory is fine
  // --force on the directory holding the config would delete the input.
  const fs::path cfg = EditedConfig(dir, nlohmann::json::object());
  auto self = Glmv("synth --config " + cfg.string() + " -o " + cfg.parent_path().string() + " --force");
  CHECK(self.status != 0);
  CHECK(self.out.find("holds an input") != std::string::npos);
  CHECK(fs::exists(cfg));
}

TEST_CASE("synth refuses, before writing anything, a model the disk cannot hold, and bad flags") {
  test::TempDir dir;
  // 10^6 × 10^6 embedding and lm_head: 4 TB in bf16.
  const fs::path huge = EditedConfig(dir, {{"vocab_size", 1000000}, {"hidden_size", 1000000}});
  auto r = Glmv("synth --config " + huge.string() + " -o " + (dir / "huge").string());
  CHECK(r.status == 1);
  CHECK(r.out.find("10 % margin") != std::string::npos);
  CHECK(r.out.find("free") != std::string::npos);
  CHECK(!fs::exists(dir / "huge"));
  CHECK(Partials(dir.path()) == 0);
  CHECK(Glmv(Synth(dir / "x", "--dtype f16")).status == 1);  // a bad flag is an error, not a crash
  CHECK(!fs::exists(dir / "x"));
}

TEST_CASE("absurd configs are refused by the planner or the disk check, not wrapped or built") {
  test::TempDir dir;
  app::SynthOptions options;
  options.out_dir = (dir / "out").string();
  // Sizes past 2^64 bytes saturate instead of wrapping around into small numbers.
  options.config_path = EditedConfig(dir, {{"vocab_size", 4000000000000LL}, {"hidden_size", 4000000000000LL}}).string();
  auto plan = app::PlanSynthModel(options);
  REQUIRE(plan.ok());
  CHECK(plan->tensor_bytes == ~uint64_t{0});
  const Status s = app::CheckSynthOutput(*plan, options);
  CHECK(!s.ok());
  CHECK(s.message().find("free") != std::string::npos);
  // Millions of tensors: refused before the list is built.
  options.config_path = EditedConfig(dir, {{"num_hidden_layers", 10000000}}).string();
  auto layers = app::PlanSynthModel(options);
  REQUIRE(!layers.ok());
  CHECK(layers.status().message().find("tensors") != std::string::npos);
  CHECK(!fs::exists(dir / "out"));
}

TEST_CASE("a synth that fails midway removes its partial directory and leaves the target untouched") {
  test::TempDir dir;
  app::SynthOptions options;
  options.config_path = kTinyConfig.string();
  options.out_dir = (dir / "model").string();
  options.shard_bytes = 60000;
  auto plan = app::PlanSynthModel(options);
  REQUIRE(plan.ok());
  REQUIRE(plan->shards.size() > 2);
  REQUIRE(app::CheckSynthOutput(*plan, options).ok());
  size_t calls = 0;
  // Stop in the second shard, as Ctrl-C does (the signal handler makes progress return an error).
  const Status s = app::WriteSynthModel(*plan, options, [&](uint64_t, size_t shard) {
    ++calls;
    return shard == 1 ? Status::Error("interrupted") : Status::Ok();
  });
  CHECK(!s.ok());
  CHECK(s.message().find("interrupted") != std::string::npos);
  CHECK(calls > 1);
  CHECK(!fs::exists(dir / "model"));
  CHECK(Partials(dir.path()) == 0);
  // The same plan, uninterrupted, completes.
  CHECK(app::WriteSynthModel(*plan, options, nullptr).ok());
  CHECK(fs::exists(dir / "model" / "model.safetensors.index.json"));
  CHECK(Partials(dir.path()) == 0);
}

TEST_CASE("synth --format glmv: the q8 file holds what synth then convert --quantizer rtn write; mixed runs") {
  test::TempDir dir;
  const fs::path direct = dir / "direct.glmv", hf = dir / "hf", converted = dir / "converted.glmv";
  auto r = Glmv(Synth(direct, "--seed 5 --format glmv --recipe q8"));
  REQUIRE_MESSAGE(r.status == 0, r.out);
  REQUIRE(Glmv(Synth(hf, "--seed 5")).status == 0);
  r = Glmv("convert " + hf.string() + " -o " + converted.string() + " --recipe q8 --quantizer rtn");
  REQUIRE_MESSAGE(r.status == 0, r.out);

  auto a = ModelFile::Open(direct.string());
  auto b = ModelFile::Open(converted.string());
  REQUIRE_MESSAGE(a.ok(), a.status().message());
  REQUIRE(b.ok());
  REQUIRE(a->tensors().size() == b->tensors().size());
  size_t same = 0, packed = 0;
  for (const TensorView& t : a->tensors()) {
    const TensorView* u = b->Find(t.name);
    REQUIRE_MESSAGE(u != nullptr, t.name);
    CHECK_MESSAGE(t.dtype == u->dtype, t.name);
    CHECK_MESSAGE(t.shape == u->shape, t.name);
    const bool equal = t.bytes.size() == u->bytes.size() && std::equal(t.bytes.begin(), t.bytes.end(), u->bytes.begin());
    CHECK_MESSAGE(equal, t.name);
    same += equal;
    packed += t.dtype == DType::kQ8G32;
  }
  MESSAGE(same << " of " << a->tensors().size() << " tensors byte-identical, " << packed << " of them Q8G32");
  CHECK(packed > 0);
  CHECK(a->metadata().at("config.json") == ReadText(kTinyConfig));
  CHECK(a->metadata().count("tokenizer.json") == 1);
  CHECK(nlohmann::json::parse(a->metadata().at("glmv.source"))["synthetic"] == true);

  // The default recipe: experts on the non-uniform int4 grid, and the model generates.
  const fs::path mixed = dir / "mixed.glmv";
  r = Glmv(Synth(mixed, "--seed 5 --format glmv"));
  REQUIRE_MESSAGE(r.status == 0, r.out);
  auto m = ModelFile::Open(mixed.string());
  REQUIRE(m.ok());
  CHECK(m->Find("model.language_model.layers.1.mlp.experts.0.up_proj.weight")->dtype == DType::kQ4NLG32);
  CHECK(m->units().size() == a->units().size());
  auto run = Glmv("run -m " + mixed.string() + " -p hello -n 3 --seed 1 --no-think", /*stdout_only=*/true);
  CHECK_MESSAGE(run.status == 0, run.out);
}

TEST_CASE("synth --format glmv refuses an existing file without --force, a directory, flags of the other format, bad skews") {
  test::TempDir dir;
  const fs::path out = dir / "m.glmv";
  std::ofstream(out) << "keep me";
  auto r = Glmv(Synth(out, "--format glmv"));
  CHECK(r.status == 1);
  CHECK(r.out.find("exists") != std::string::npos);
  CHECK(ReadText(out) == "keep me");
  r = Glmv(Synth(dir.path(), "--format glmv --force"));
  CHECK(r.status == 1);
  CHECK(r.out.find("is a directory") != std::string::npos);
  r = Glmv(Synth(dir / "x.glmv", "--format glmv --shard-size 1MB"));
  CHECK(r.status == 1);
  CHECK(r.out.find("--shard-size applies to --format dir only") != std::string::npos);
  r = Glmv(Synth(dir / "d", "--recipe q8"));
  CHECK(r.status == 1);
  CHECK(r.out.find("--recipe applies to --format glmv only") != std::string::npos);
  r = Glmv(Synth(dir / "y", "--format gguf"));
  CHECK(r.status == 1);
  CHECK(r.out.find("--format must be dir or glmv") != std::string::npos);
  r = Glmv(Synth(dir / "z.glmv", "--format glmv --recipe q3"));
  CHECK(r.status == 1);
  CHECK(r.out.find("unknown recipe") != std::string::npos);
  r = Glmv(Synth(dir / "e", "--expert-skew 1"));
  CHECK(r.status == 1);
  CHECK(r.out.find("--expert-skew applies to --format glmv only") != std::string::npos);
  for (const char* bad : {"-1", "x", "1.5x", "1000"}) {
    r = Glmv(Synth(dir / "s.glmv", std::string("--format glmv --expert-skew ") + bad));
    CHECK(r.status == 1);
    CHECK(r.out.find("--expert-skew takes a number from 0 to 100") != std::string::npos);
  }
  CHECK(!fs::exists(dir / "x.glmv"));
  CHECK(!fs::exists(dir / "z.glmv"));
  CHECK(!fs::exists(dir / "s.glmv"));
}

TEST_CASE("sizes on the command line") {
  CHECK(app::ParseByteSize("4GB", "--shard-size").value() == 4000000000ull);
  CHECK(app::ParseByteSize("2GiB", "--shard-size").value() == 2147483648ull);
  CHECK(app::ParseByteSize("500mb", "--shard-size").value() == 500000000ull);
  CHECK(app::ParseByteSize("1.5KB", "--shard-size").value() == 1500ull);
  CHECK(app::ParseByteSize("1000", "--shard-size").value() == 1000ull);
  CHECK(!app::ParseByteSize("", "--shard-size").ok());
  CHECK(!app::ParseByteSize("GB", "--shard-size").ok());
  CHECK(!app::ParseByteSize("0", "--shard-size").ok());
  CHECK(!app::ParseByteSize("4XB", "--shard-size").ok());
  CHECK(!app::ParseByteSize("1.2.3GB", "--shard-size").ok());
  CHECK(app::FormatBytes(18700000000ull) == "18.70 GB");
}

}  // namespace
}  // namespace glmv
