// Minimal command-line parsing for the glmv subcommands: options with values, boolean flags and
// positionals; unknown options are errors that name the option.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "io/status.h"

namespace glmv::app {

struct OptionSpec {
  std::string name;        // "--prompt-ids"
  std::string short_name;  // "-m" or ""
  bool takes_value = true;
  std::string help;        // one line; "VALUE  explanation"
};

class Args {
 public:
  static Result<Args> Parse(const std::vector<OptionSpec>& spec, int argc, char** argv, int first);

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  // All values of an option given several times (e.g. --image a --image b).
  std::vector<std::string> GetAll(const std::string& name) const;
  Result<long long> GetInt(const std::string& name, long long fallback) const;
  // A finite number (decimal or exponent notation), or `fallback` when the option is absent.
  Result<double> GetDouble(const std::string& name, double fallback) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::multimap<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

// "1,2,3" → {1, 2, 3}; an empty list or an item that is not an integer is an error naming `what`.
Result<std::vector<int64_t>> ParseIdList(const std::string& text, const std::string& what);

// "  -m, --model DIR     explanation" lines for --help.
std::string OptionsHelp(const std::vector<OptionSpec>& spec);

}  // namespace glmv::app
