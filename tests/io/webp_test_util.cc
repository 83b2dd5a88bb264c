#include "tests/io/webp_test_util.h"

#include <webp/encode.h>
#include <webp/mux.h>

namespace glmv::test {
namespace {

// Copies libwebp's output buffer and frees it.
std::vector<uint8_t> Take(uint8_t* out, size_t size) {
  std::vector<uint8_t> bytes;
  if (out != nullptr && size > 0) bytes.assign(out, out + size);
  WebPFree(out);
  return bytes;
}

}  // namespace

RgbImage WebpTestPattern(int width, int height, uint32_t seed) {
  RgbImage image = RgbImage::Black(width, height);
  uint32_t state = seed * 2654435761u + 1;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      state = state * 1664525u + 1013904223u;
      uint8_t* p = image.Row(y) + 3 * x;
      p[0] = static_cast<uint8_t>(x * 255 / (width > 1 ? width - 1 : 1));
      p[1] = static_cast<uint8_t>(y * 255 / (height > 1 ? height - 1 : 1));
      p[2] = static_cast<uint8_t>((x / 4 + y / 4) % 2 ? 200 : 40) ^ static_cast<uint8_t>((state >> 24) & 0x0F);
    }
  }
  return image;
}

std::vector<uint8_t> EncodeWebpLossless(const RgbImage& image) {
  uint8_t* out = nullptr;
  const size_t size = WebPEncodeLosslessRGB(image.pixels.data(), image.width, image.height, image.width * 3, &out);
  return Take(out, size);
}

std::vector<uint8_t> EncodeWebpLossy(const RgbImage& image, float quality) {
  uint8_t* out = nullptr;
  const size_t size = WebPEncodeRGB(image.pixels.data(), image.width, image.height, image.width * 3, quality, &out);
  return Take(out, size);
}

std::vector<uint8_t> EncodeWebpLosslessRgba(int width, int height, const std::vector<uint8_t>& rgba, bool exact) {
  WebPConfig config;
  WebPPicture picture;
  if (!WebPConfigInit(&config) || !WebPPictureInit(&picture)) return {};
  config.lossless = 1;
  config.exact = exact ? 1 : 0;
  picture.use_argb = 1;
  picture.width = width;
  picture.height = height;
  WebPMemoryWriter writer;
  WebPMemoryWriterInit(&writer);
  picture.writer = WebPMemoryWrite;
  picture.custom_ptr = &writer;
  std::vector<uint8_t> bytes;
  if (WebPPictureImportRGBA(&picture, rgba.data(), width * 4) && WebPEncode(&config, &picture)) {
    bytes.assign(writer.mem, writer.mem + writer.size);
  }
  WebPPictureFree(&picture);
  WebPMemoryWriterClear(&writer);
  return bytes;
}

std::vector<uint8_t> EncodeWebpAnimation(int width, int height, const std::vector<std::vector<uint8_t>>& frames_rgba) {
  WebPAnimEncoderOptions options;
  if (!WebPAnimEncoderOptionsInit(&options)) return {};
  WebPAnimEncoder* encoder = WebPAnimEncoderNew(width, height, &options);
  if (encoder == nullptr) return {};
  bool ok = true;
  int timestamp_ms = 0;
  for (const auto& rgba : frames_rgba) {
    WebPConfig config;
    WebPPicture picture;
    ok = ok && WebPConfigInit(&config) && WebPPictureInit(&picture);
    if (!ok) break;
    config.lossless = 1;
    picture.use_argb = 1;
    picture.width = width;
    picture.height = height;
    ok = WebPPictureImportRGBA(&picture, rgba.data(), width * 4) &&
         WebPAnimEncoderAdd(encoder, &picture, timestamp_ms, &config);
    WebPPictureFree(&picture);
    timestamp_ms += 100;
  }
  WebPData data;
  WebPDataInit(&data);
  ok = ok && WebPAnimEncoderAdd(encoder, nullptr, timestamp_ms, nullptr) && WebPAnimEncoderAssemble(encoder, &data);
  std::vector<uint8_t> bytes;
  if (ok) bytes.assign(data.bytes, data.bytes + data.size);
  WebPDataClear(&data);
  WebPAnimEncoderDelete(encoder);
  return bytes;
}

std::vector<uint8_t> AddWebpExif(const std::vector<uint8_t>& webp, const std::vector<uint8_t>& exif) {
  const WebPData image{webp.data(), webp.size()};
  WebPMux* mux = WebPMuxCreate(&image, /*copy_data=*/1);
  if (mux == nullptr) return {};
  const WebPData chunk{exif.data(), exif.size()};
  WebPData out;
  WebPDataInit(&out);
  std::vector<uint8_t> bytes;
  if (WebPMuxSetChunk(mux, "EXIF", &chunk, 1) == WEBP_MUX_OK && WebPMuxAssemble(mux, &out) == WEBP_MUX_OK) {
    bytes.assign(out.bytes, out.bytes + out.size);
  }
  WebPDataClear(&out);
  WebPMuxDelete(mux);
  return bytes;
}

std::vector<uint8_t> OrientationExif(uint16_t orientation) {
  // "II*\0", IFD0 at offset 8: one entry (tag 0x0112, type SHORT, count 1, value), then no next IFD.
  return {'I', 'I', 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00,
          0x01, 0x00,
          0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00,
          static_cast<uint8_t>(orientation & 0xFF), static_cast<uint8_t>(orientation >> 8), 0x00, 0x00,
          0x00, 0x00, 0x00, 0x00};
}

}  // namespace glmv::test
