#include "lib/tokenizer/tokenizer_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>

#include "lib/tokenizer/tokenizer_utf8.h"

namespace glmv {
namespace {

pcre2_code* Code(void* p) { return static_cast<pcre2_code*>(p); }

std::string PcreMessage(int code) {
  PCRE2_UCHAR buf[256];
  const int n = pcre2_get_error_message(code, buf, sizeof(buf));
  return n < 0 ? "PCRE2 error " + std::to_string(code) : std::string(reinterpret_cast<char*>(buf));
}

// Frees match data on every path out of Split.
struct MatchData {
  explicit MatchData(const pcre2_code* code) : md(pcre2_match_data_create_from_pattern(code, nullptr)) {}
  ~MatchData() { pcre2_match_data_free(md); }
  pcre2_match_data* md;
};

}  // namespace

Result<std::unique_ptr<PreTokenizer>> PreTokenizer::Create(std::string_view pattern) {
  int err = 0;
  PCRE2_SIZE err_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &err, &err_offset, nullptr);
  if (code == nullptr) {
    return Status::Error("pre-tokenizer regex does not compile at offset " + std::to_string(err_offset) + ": " +
                         PcreMessage(err));
  }
  // JIT is an optimisation only: when it is unavailable pcre2_match interprets the pattern.
  (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  std::unique_ptr<PreTokenizer> p(new PreTokenizer());
  p->pattern_ = std::string(pattern);
  p->code_ = code;
  return p;
}

PreTokenizer::~PreTokenizer() { pcre2_code_free(Code(code_)); }

void PreTokenizer::Split(std::string_view text, std::vector<std::string_view>& pieces) const {
  const pcre2_code* code = Code(code_);
  MatchData data(code);
  if (data.md == nullptr) {  // out of memory: one piece is still a correct (if slower) answer
    if (!text.empty()) pieces.push_back(text);
    return;
  }
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  const size_t n = text.size();
  size_t pos = 0;  // where the next match may start
  size_t gap = 0;  // start of text not yet emitted
  while (pos < n) {
    // The caller validated the UTF-8, and PCRE2 would otherwise re-check the rest of the text on every
    // call (quadratic in the text length).
    int rc = pcre2_match(code, subject, n, pos, PCRE2_NO_UTF_CHECK, data.md, nullptr);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
      // The JIT ran out of stack or a match limit was hit: retry interpreted, then give up on this
      // character (it becomes its own piece) rather than fail the whole encode.
      rc = pcre2_match(code, subject, n, pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, data.md, nullptr);
      if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
        const size_t len = std::max<size_t>(1, Utf8CharLength(text.substr(pos)));
        if (pos > gap) pieces.push_back(text.substr(gap, pos - gap));
        pieces.push_back(text.substr(pos, len));
        pos = gap = pos + len;
        continue;
      }
    }
    if (rc == PCRE2_ERROR_NOMATCH) break;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data.md);
    const size_t start = ov[0], end = ov[1];
    if (end <= start) {  // empty match: step over one character, which stays in the pending gap
      if (start >= n) break;
      pos = start + std::max<size_t>(1, Utf8CharLength(text.substr(start)));
      continue;
    }
    if (start > gap) pieces.push_back(text.substr(gap, start - gap));
    pieces.push_back(text.substr(start, end - start));
    pos = gap = end;
  }
  if (gap < n) pieces.push_back(text.substr(gap));
}

}  // namespace glmv
