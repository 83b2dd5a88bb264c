// The command line's limits on untrusted media files (--max-image-pixels, --max-decoded-frames,
// --max-decoded-bytes, --max-file-bytes, --decode-time-limit) as lib's InputLimits (lib/media/input_limits.h).
// The decoders and lib/media name a limit or a setting by its field ("(DecodeLimits::max_pixels)",
// "PdfOptions::pages"); Explain() turns that into the flag that sets it, so a user reading the error knows what
// to type.
#pragma once

#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "apps/args.h"
#include "io/status.h"
#include "lib/media/input_limits.h"

namespace glmv::app {

// --max-image-pixels, --max-decoded-frames, --max-decoded-bytes, --max-file-bytes, --decode-time-limit.
std::vector<OptionSpec> InputLimitOptionSpecs();

Result<InputLimits> InputLimitsFromArgs(const Args& args);

// `status` with every decoder limit name replaced by "raise it with" the flag that raises that limit (which of
// --max-image-pixels and --max-decoded-bytes binds depends on `limits`), and every lib/media setting
// (PdfOptions::*, VideoLoadOptions::*, InputLimits::*) by its flag. OK stays OK.
Status Explain(const InputLimits& limits, const Status& status);

// The same with `overrides` (a field or a phrase → the caller's words for it) replaced first: the server names
// what a request chose by the request's own fields, and the rest by its flags.
using Wording = std::pair<std::string_view, std::string_view>;
Status Explain(const InputLimits& limits, const Status& status, std::span<const Wording> overrides);

}  // namespace glmv::app
