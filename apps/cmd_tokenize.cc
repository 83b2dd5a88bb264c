// glmv tokenize / detokenize: the tokenizer alone (a directory with tokenizer files is enough; no weights).
#include <fmt/core.h>

#include <cstdlib>
#include <iostream>
#include <iterator>
#include <sstream>

#include "apps/args.h"
#include "apps/commands.h"
#include "lib/tokenizer/tokenizer.h"

namespace glmv::app {
namespace {

const std::vector<OptionSpec> kTokenizeOptions = {
    {"--model", "-m", true, "DIR  directory with tokenizer.json, or tokenizer.model + tokenizer_config.json"},
    {"--help", "-h", false, "show this help"},
};

std::string ReadStdin() {
  return std::string((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
}

}  // namespace

int RunTokenize(int argc, char** argv) {
  auto args = Args::Parse(kTokenizeOptions, argc, argv, 2);
  if (!args.ok() || args->Has("--help") || !args->Has("--model") || args->positional().size() > 1) {
    if (!args.ok()) fmt::print(stderr, "glmv tokenize: {}\n", args.status().message());
    fmt::print(args.ok() && args->Has("--help") ? stdout : stderr,
               "usage: glmv tokenize -m DIR [TEXT]\n\nPrints the token ids of TEXT (or of standard input when TEXT is\n"
               "absent) on one line, space-separated. Special tokens written in the text ([gMASK], <|user|>, ...)\n"
               "become their ids. No chat template is applied.\n\n{}",
               OptionsHelp(kTokenizeOptions));
    return args.ok() && args->Has("--help") ? 0 : 2;
  }
  auto tok = Tokenizer::LoadFromDir(args->Get("--model"));
  if (!tok.ok()) {
    fmt::print(stderr, "glmv tokenize: {}\n", tok.status().message());
    return 1;
  }
  const std::string text = args->positional().empty() ? ReadStdin() : args->positional()[0];
  const auto ids = (*tok)->Encode(text);
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
  fmt::print("{}\n", line);
  return 0;
}

int RunDetokenize(int argc, char** argv) {
  auto args = Args::Parse(kTokenizeOptions, argc, argv, 2);
  if (!args.ok() || args->Has("--help") || !args->Has("--model")) {
    if (!args.ok()) fmt::print(stderr, "glmv detokenize: {}\n", args.status().message());
    fmt::print(args.ok() && args->Has("--help") ? stdout : stderr,
               "usage: glmv detokenize -m DIR [IDS...]\n\nPrints the text of token ids given as arguments or on\n"
               "standard input, separated by spaces or commas.\n\n{}",
               OptionsHelp(kTokenizeOptions));
    return args.ok() && args->Has("--help") ? 0 : 2;
  }
  auto tok = Tokenizer::LoadFromDir(args->Get("--model"));
  if (!tok.ok()) {
    fmt::print(stderr, "glmv detokenize: {}\n", tok.status().message());
    return 1;
  }
  std::string input;
  for (const auto& p : args->positional()) input += p + " ";
  if (args->positional().empty()) input = ReadStdin();
  for (char& c : input) {
    if (c == ',') c = ' ';
  }
  std::vector<int64_t> ids;
  std::stringstream ss(input);
  std::string item;
  while (ss >> item) {
    char* end = nullptr;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    if (*end != '\0' || v < 0 || static_cast<size_t>(v) >= (*tok)->size()) {
      fmt::print(stderr, "glmv detokenize: '{}' is not a token id of this tokenizer (0..{})\n", item, (*tok)->size() - 1);
      return 1;
    }
    ids.push_back(v);
  }
  const std::string text = (*tok)->Decode(ids);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputs("\n", stdout);
  return 0;
}

}  // namespace glmv::app
