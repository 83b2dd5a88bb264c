#include "io/exif.h"

#include <cstring>
#include <utility>
#include <vector>

namespace glmv {
namespace {

constexpr uint16_t kOrientationTag = 0x0112;

// Reads little- or big-endian integers at offsets the caller has already checked against the blob size.
struct TiffReader {
  std::span<const uint8_t> bytes;
  bool little_endian;

  uint32_t U16(uint64_t at) const {
    const uint8_t* p = bytes.data() + at;
    return little_endian ? (p[0] | p[1] << 8) : (p[0] << 8 | p[1]);
  }
  uint32_t U32(uint64_t at) const {
    const uint8_t* p = bytes.data() + at;
    return little_endian ? (uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24)
                         : (uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]});
  }
};

// The first value of one IFD entry, if its type is an integer type. Signed negatives cannot be an orientation.
std::optional<uint32_t> EntryValue(const TiffReader& r, uint64_t entry) {
  const uint32_t type = r.U16(entry + 2);
  const uint64_t count = r.U32(entry + 4);
  uint64_t unit = 0;
  switch (type) {
    case 1: case 6: unit = 1; break;  // BYTE, SBYTE
    case 3: case 8: unit = 2; break;  // SHORT, SSHORT
    case 4: case 9: unit = 4; break;  // LONG, SLONG
    default: return std::nullopt;     // RATIONAL, ASCII, UNDEFINED, ...: not an orientation
  }
  if (count == 0) return std::nullopt;
  // Values of up to 4 bytes sit in the entry itself; longer arrays sit at an offset that must fit whole, as
  // Pillow drops entries whose data runs past the end.
  uint64_t at = entry + 8;
  if (unit * count > 4) {
    at = r.U32(entry + 8);
    if (at + unit * count > r.bytes.size()) return std::nullopt;
  }
  int64_t value = 0;
  switch (type) {
    case 1: value = r.bytes[at]; break;
    case 6: value = static_cast<int8_t>(r.bytes[at]); break;
    case 3: value = r.U16(at); break;
    case 8: value = static_cast<int16_t>(r.U16(at)); break;
    case 4: value = r.U32(at); break;
    case 9: value = static_cast<int32_t>(r.U32(at)); break;
  }
  if (value < 0) return std::nullopt;
  return static_cast<uint32_t>(value);
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<uint32_t> ExifOrientation(std::span<const uint8_t> blob) {
  static constexpr uint8_t kExifPrefix[6] = {'E', 'x', 'i', 'f', 0, 0};
  if (blob.size() >= 6 && std::memcmp(blob.data(), kExifPrefix, 6) == 0) blob = blob.subspan(6);
  if (blob.size() < 8) return std::nullopt;
  TiffReader r{blob, false};
  if (blob[0] == 'I' && blob[1] == 'I' && blob[2] == 0x2A && blob[3] == 0) {
    r.little_endian = true;
  } else if (!(blob[0] == 'M' && blob[1] == 'M' && blob[2] == 0 && blob[3] == 0x2A)) {
    return std::nullopt;
  }
  const uint64_t ifd = r.U32(4);
  if (ifd + 2 > blob.size()) return std::nullopt;
  const uint32_t entries = r.U16(ifd);
  std::optional<uint32_t> orientation;
  for (uint32_t i = 0; i < entries; ++i) {
    const uint64_t entry = ifd + 2 + uint64_t{12} * i;
    if (entry + 12 > blob.size()) break;  // a cut-off directory keeps the entries read so far, as in Pillow
    if (r.U16(entry) != kOrientationTag) continue;
    if (auto v = EntryValue(r, entry)) orientation = v;
  }
  return orientation;
}

std::optional<uint32_t> ExifOrientationFromRawProfile(std::string_view text) {
  // Pillow: bytes.fromhex("".join(text.split("\n")[3:])), i.e. skip three newlines, then hex with whitespace.
  for (int newlines = 0; newlines < 3; ++newlines) {
    const size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;
    text.remove_prefix(nl + 1);
  }
  std::vector<uint8_t> blob;
  blob.reserve(text.size() / 2);
  int high = -1;
  for (char c : text) {
    if (c == '\n') continue;  // the split/join removed newlines, even inside a byte
    if (c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f') {
      if (high >= 0) return std::nullopt;  // whitespace inside a byte: fromhex rejects it
      continue;
    }
    const int d = HexDigit(c);
    if (d < 0) return std::nullopt;
    if (high < 0) {
      high = d;
    } else {
      blob.push_back(static_cast<uint8_t>(high << 4 | d));
      high = -1;
    }
  }
  if (high >= 0) return std::nullopt;
  return ExifOrientation(blob);
}

std::optional<uint32_t> XmpOrientation(std::string_view xmp) {
  // re.search(r'tiff:Orientation(="|>)([0-9])'): the first place where the whole pattern matches.
  static constexpr std::string_view kKey = "tiff:Orientation";
  for (size_t at = xmp.find(kKey); at != std::string_view::npos; at = xmp.find(kKey, at + 1)) {
    std::string_view rest = xmp.substr(at + kKey.size());
    if (rest.size() >= 3 && rest[0] == '=' && rest[1] == '"' && rest[2] >= '0' && rest[2] <= '9') {
      return static_cast<uint32_t>(rest[2] - '0');
    }
    if (rest.size() >= 2 && rest[0] == '>' && rest[1] >= '0' && rest[1] <= '9') {
      return static_cast<uint32_t>(rest[1] - '0');
    }
  }
  return std::nullopt;
}

RgbImage ApplyExifOrientation(RgbImage image, uint32_t orientation) {
  if (orientation < 2 || orientation > 8) return image;
  const int w = image.width;
  const int h = image.height;
  const bool swaps = orientation >= 5;  // transpose-like: the output is h wide and w tall
  RgbImage out = RgbImage::Black(swaps ? h : w, swaps ? w : h);
  for (int y = 0; y < h; ++y) {
    const uint8_t* src = image.Row(y);
    for (int x = 0; x < w; ++x) {
      int ox = x, oy = y;  // where stored pixel (x, y) lands; formulas follow Pillow's Geometry.c
      switch (orientation) {
        case 2: ox = w - 1 - x; break;                        // FLIP_LEFT_RIGHT
        case 3: ox = w - 1 - x; oy = h - 1 - y; break;        // ROTATE_180
        case 4: oy = h - 1 - y; break;                        // FLIP_TOP_BOTTOM
        case 5: ox = y; oy = x; break;                        // TRANSPOSE
        case 6: ox = h - 1 - y; oy = x; break;                // ROTATE_270 (90 clockwise)
        case 7: ox = h - 1 - y; oy = w - 1 - x; break;        // TRANSVERSE
        case 8: ox = y; oy = w - 1 - x; break;                // ROTATE_90 (90 counter-clockwise)
      }
      std::memcpy(out.Row(oy) + static_cast<size_t>(ox) * 3, src + static_cast<size_t>(x) * 3, 3);
    }
  }
  return out;
}

}  // namespace glmv
