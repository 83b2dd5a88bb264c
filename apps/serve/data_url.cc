#include "apps/serve/data_url.h"

#include <cstdio>

namespace glmv::app {

namespace {

int Sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

Result<std::vector<uint8_t>> DecodeBase64(std::string_view text) {
  size_t len = text.size();
  size_t pad = 0;
  while (len > 0 && text[len - 1] == '=' && pad < 2) --len, ++pad;
  if (pad > 0 && (len + pad) % 4 != 0) {
    return Status::Error("base64: padding at offset " + std::to_string(len) + " does not end a 4-character group");
  }
  std::vector<uint8_t> out;
  out.reserve(len / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < len; ++i) {
    const int v = Sextet(text[i]);
    if (v < 0) {
      const unsigned char c = static_cast<unsigned char>(text[i]);
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", c);
      return Status::Error("base64: character " + (c > 0x20 && c < 0x7f ? "'" + std::string(1, text[i]) + "'" : std::string(hex)) +
                           " at offset " + std::to_string(i) + " is not in the alphabet");
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>((acc >> bits) & 0xFF));
    }
  }
  // Checked after the characters, so a stray character is what the message names.
  if (len % 4 == 1) return Status::Error("base64: " + std::to_string(text.size()) + " characters cannot be a payload");
  return out;
}

Result<DataUrl> ParseDataUrl(std::string_view url, const std::string& what) {
  if (url.substr(0, 5) != "data:") return Status::Error(what + ": not a data: URL");
  const size_t comma = url.find(',');
  if (comma == std::string_view::npos) return Status::Error(what + ": a data: URL needs a ',' before its payload");
  std::string_view meta = url.substr(5, comma - 5);
  const std::string_view payload = url.substr(comma + 1);
  DataUrl out;
  const bool base64 = meta.size() >= 7 && meta.substr(meta.size() - 7) == ";base64";
  if (!base64) return Status::Error(what + ": only base64 data: URLs are accepted (data:<type>;base64,<payload>)");
  meta.remove_suffix(7);
  out.media_type = std::string(meta.substr(0, meta.find(';')));
  auto bytes = DecodeBase64(payload);
  if (!bytes.ok()) return Status::Error(what + ": " + bytes.status().message());
  out.bytes = std::move(bytes).value();
  if (out.bytes.empty()) return Status::Error(what + ": the data: URL's payload is empty");
  return out;
}

}  // namespace glmv::app
