#include "lib/sampling/string_pattern.h"

#include <algorithm>
#include <cctype>

#include "lib/tokenizer/tokenizer_utf8.h"

namespace glmv {
namespace {

constexpr size_t kMaxCount = 100000;  // a quantifier's bound above this is refused (the grammar unrolls it)

class PatternParser {
 public:
  explicit PatternParser(std::string_view p) : p_(p) {}

  Result<std::vector<PatternAtom>> Parse() {
    if (p_.size() < 2 || p_.front() != '^' || p_.back() != '$' || (p_.size() >= 3 && p_[p_.size() - 2] == '\\')) {
      return Error("must be anchored: start with '^' and end with '$'", 0);
    }
    at_ = 1;
    const size_t end = p_.size() - 1;
    std::vector<PatternAtom> atoms;
    while (at_ < end) {
      PatternAtom atom;
      GLMV_RETURN_IF_ERROR(ParseAtom(atom, end));
      GLMV_RETURN_IF_ERROR(ParseQuantifier(atom, end));
      atoms.push_back(std::move(atom));
    }
    return atoms;
  }

 private:
  Status Error(const std::string& what, size_t offset) const {
    return Status::Error("pattern \"" + std::string(p_) + "\": " + what + " (at offset " + std::to_string(offset) + ")");
  }

  // A character a JSON string may hold unescaped: adds it to `atom`, else an error.
  Status AddChar(PatternAtom& atom, std::string_view ch, size_t offset) {
    const auto c = static_cast<uint8_t>(ch[0]);
    if (ch.size() == 1) {
      if (c < 0x20 || c == '"' || c == '\\') return Error("a character JSON must escape is not supported", offset);
      atom.ascii.emplace_back(c, c);
    } else {
      atom.others.emplace_back(ch);
    }
    return Status::Ok();
  }

  // `\x` at at_ (the backslash): \d, \w or an escaped punctuation character.
  Status AddEscape(PatternAtom& atom, size_t end) {
    const size_t start = at_;
    if (at_ + 1 >= end) return Error("a lone backslash", start);
    const char e = p_[at_ + 1];
    at_ += 2;
    if (e == 'd') {
      atom.ascii.emplace_back('0', '9');
    } else if (e == 'w') {
      atom.ascii.insert(atom.ascii.end(), {{'a', 'z'}, {'A', 'Z'}, {'0', '9'}, {'_', '_'}});
    } else if (std::ispunct(static_cast<unsigned char>(e))) {
      return AddChar(atom, p_.substr(start + 1, 1), start);
    } else {
      return Error(std::string("the escape \\") + e + " is not supported", start);
    }
    return Status::Ok();
  }

  // One whole UTF-8 character at at_, consumed.
  Result<std::string_view> NextChar(size_t end) {
    const size_t n = Utf8CharLength(p_.substr(at_, end - at_));
    if (n == 0) return Error("ill-formed UTF-8", at_);
    const std::string_view ch = p_.substr(at_, n);
    at_ += n;
    return ch;
  }

  Status ParseAtom(PatternAtom& atom, size_t end) {
    const char c = p_[at_];
    if (c == '\\') return AddEscape(atom, end);
    if (c == '.' || c == '(' || c == ')' || c == '|' || c == '^' || c == '$') {
      return Error(std::string("'") + c + "' is not supported", at_);
    }
    if (c == '{' || c == '}' || c == '+' || c == '*' || c == '?' || c == ']') {
      return Error(std::string("'") + c + "' with nothing to repeat", at_);
    }
    if (c != '[') {
      const size_t offset = at_;
      GLMV_ASSIGN_OR_RETURN(const std::string_view ch, NextChar(end));
      return AddChar(atom, ch, offset);
    }
    const size_t open = at_++;
    if (at_ < end && p_[at_] == '^') return Error("negated classes [^...] are not supported", at_);
    while (at_ < end && p_[at_] != ']') {
      if (p_[at_] == '\\') {
        GLMV_RETURN_IF_ERROR(AddEscape(atom, end));
        continue;
      }
      const size_t offset = at_;
      GLMV_ASSIGN_OR_RETURN(const std::string_view lo, NextChar(end));
      if (at_ + 1 < end && p_[at_] == '-' && p_[at_ + 1] != ']') {
        ++at_;
        GLMV_ASSIGN_OR_RETURN(const std::string_view hi, NextChar(end));
        if (lo.size() != 1 || hi.size() != 1) return Error("ranges of non-ASCII characters are not supported", offset);
        if (lo[0] > hi[0]) return Error("a range from a higher to a lower character", offset);
        // The characters JSON must escape are left out of a range: the answer holds the others only.
        uint8_t from = static_cast<uint8_t>(std::max(lo[0], ' '));
        const auto to = static_cast<uint8_t>(hi[0]);
        for (const uint8_t skip : {uint8_t{'"'}, uint8_t{'\\'}}) {
          if (from < skip && skip <= to) atom.ascii.emplace_back(from, skip - 1);
          if (from <= skip && skip <= to) from = skip + 1;
        }
        if (from <= to) atom.ascii.emplace_back(from, to);
        if (atom.ascii.empty() && atom.others.empty()) return Error("a range of characters JSON must escape", offset);
      } else {
        GLMV_RETURN_IF_ERROR(AddChar(atom, lo, offset));
      }
    }
    if (at_ >= end) return Error("an unclosed '['", open);
    if (at_ == open + 1) return Error("an empty class []", open);
    ++at_;  // ']'
    return Status::Ok();
  }

  // A decimal number at at_, consumed.
  Result<size_t> Count(size_t end) {
    const size_t start = at_;
    size_t v = 0;
    while (at_ < end && std::isdigit(static_cast<unsigned char>(p_[at_]))) {
      v = v * 10 + static_cast<size_t>(p_[at_++] - '0');
      if (v > kMaxCount) return Error("a count above " + std::to_string(kMaxCount), start);
    }
    if (at_ == start) return Error("a quantifier without a number", start);
    return v;
  }

  Status ParseQuantifier(PatternAtom& atom, size_t end) {
    if (at_ >= end) return Status::Ok();
    const size_t start = at_;
    switch (p_[at_]) {
      case '?': atom.min = 0, atom.max = 1, ++at_; break;
      case '*': atom.min = 0, atom.max = std::nullopt, ++at_; break;
      case '+': atom.min = 1, atom.max = std::nullopt, ++at_; break;
      case '{': {
        ++at_;
        GLMV_ASSIGN_OR_RETURN(atom.min, Count(end));
        atom.max = atom.min;
        if (at_ < end && p_[at_] == ',') {
          ++at_;
          if (at_ < end && p_[at_] == '}') {
            atom.max = std::nullopt;
          } else {
            GLMV_ASSIGN_OR_RETURN(atom.max, Count(end));
          }
        }
        if (at_ >= end || p_[at_] != '}') return Error("an unclosed '{'", start);
        ++at_;
        if (atom.max && *atom.max < atom.min) return Error("a quantifier {m,n} with n < m", start);
        break;
      }
      default: return Status::Ok();
    }
    if (at_ < end && (p_[at_] == '?' || p_[at_] == '+' || p_[at_] == '*' || p_[at_] == '{')) {
      return Error("lazy, possessive or repeated quantifiers are not supported", at_);
    }
    return Status::Ok();
  }

  std::string_view p_;
  size_t at_ = 0;
};

}  // namespace

Result<std::vector<PatternAtom>> ParseStringPattern(std::string_view pattern) { return PatternParser(pattern).Parse(); }

}  // namespace glmv
