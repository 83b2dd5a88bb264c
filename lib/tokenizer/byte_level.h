// GPT-2's byte-level alphabet: each of the 256 byte values is shown as one printable Unicode character,
// so that a byte-level BPE vocabulary can be stored as JSON strings (Hugging Face `ByteLevel`). Bytes
// that are printable Latin-1 map to themselves; the other 68 map to U+0100.. in byte order
// (space 0x20 -> 'Ġ' U+0120, '\n' -> 'Ċ' U+010A).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace glmv {

// The code point that stands for `byte`.
char32_t ByteToUnicode(uint8_t byte);

// Raw bytes -> their byte-level form (UTF-8 text, one character per byte).
std::string BytesToByteLevel(std::string_view bytes);

// Byte-level form -> raw bytes; nullopt when the text is not valid UTF-8 or holds a character outside
// the 256-character alphabet.
std::optional<std::string> ByteLevelToBytes(std::string_view text);

}  // namespace glmv
