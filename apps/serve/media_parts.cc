#include "apps/serve/media_parts.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

#include "apps/input_limits.h"
#include "apps/serve/data_url.h"
#include "io/decode_pdf.h"
#include "io/sniff_media.h"
#include "lib/media/image_inputs.h"
#include "lib/media/pdf_inputs.h"
#include "lib/media/video_inputs.h"
#include "lib/prompt/pdf_request.h"

namespace glmv::app {
namespace {

using json = nlohmann::ordered_json;

HttpError Bad(std::string message) { return HttpError{400, std::move(message), "invalid_request_error", "messages", ""}; }

// io/ and lib/media name a limit or a setting by its field; a client reads the server's flags for the limits
// (apps/input_limits.h) and, for what a request chose, the request's own fields.
constexpr Wording kRequestWording[] = {
    {"(give it with PdfOptions::password)", "(the server takes no passwords: send the PDF decrypted)"},
    {"use PdfOptions::per_page", "send the pages in separate requests"},
    {"PdfOptions::pages", "file.pages"},
};

HttpError MediaError(const ChatModelInfo& info, const Status& status) {
  return Bad(Explain(info.limits, status, kRequestWording).message());
}

enum class PartKind { kText, kImage, kVideo, kFile };

// As the chat template's reader (ChatMessagesFromJson) reads a part: anything else is text or its error.
PartKind KindOf(const json& part) {
  if (!part.is_object()) return PartKind::kText;
  const std::string type = part.value("type", std::string());
  if (type == "text") return PartKind::kText;
  if (type == "image" || type == "image_url" || part.contains("image")) return PartKind::kImage;
  if (type == "video" || type == "video_url" || part.contains("video")) return PartKind::kVideo;
  if (type == "file") return PartKind::kFile;
  return PartKind::kText;
}

// The part type that carries each kind of media, for messages that redirect a client.
const char* PartFor(MediaKind kind) {
  switch (kind) {
    case MediaKind::kImage: return "an image_url part";
    case MediaKind::kVideo: return "a video_url part";
    case MediaKind::kPdf: return "a file part";
    case MediaKind::kUnknown: break;
  }
  return "a text part";
}

// "an image", "a video", "a PDF".
std::string Noun(MediaKind kind) {
  switch (kind) {
    case MediaKind::kImage: return "an image";
    case MediaKind::kVideo: return "a video";
    case MediaKind::kPdf: return "a PDF";
    case MediaKind::kUnknown: break;
  }
  return "unknown data";
}

// A data: URL's declared type must fit the part: image/* for an image, video/* for a video, application/pdf
// for a file. No type, or application/octet-stream, leaves it to the bytes.
Status CheckDeclaredType(const std::string& type, MediaKind want, const std::string& where) {
  if (type.empty() || type == "application/octet-stream") return Status::Ok();
  const bool fits = want == MediaKind::kImage   ? type.starts_with("image/")
                    : want == MediaKind::kVideo ? type.starts_with("video/")
                                                : type == "application/pdf";
  if (fits) return Status::Ok();
  MediaKind is = MediaKind::kUnknown;
  if (type.starts_with("image/")) is = MediaKind::kImage;
  if (type.starts_with("video/")) is = MediaKind::kVideo;
  if (type == "application/pdf") is = MediaKind::kPdf;
  return Status::Error(where + ": the data: URL is " + type + ", not " + Noun(want) +
                       (is != MediaKind::kUnknown ? std::string("; send it as ") + PartFor(is) : std::string()));
}

// Bytes of another kind of media than the part's are refused with where they belong; bytes of no known kind
// are left to the decoder, whose error says what they are.
Status CheckContentKind(std::span<const uint8_t> bytes, MediaKind want, const std::string& where) {
  const MediaSniff sniff = SniffMediaBytes(bytes.first(std::min(bytes.size(), kSniffBytes)));
  if (sniff.kind == MediaKind::kUnknown || sniff.kind == want) return Status::Ok();
  const std::string what = Noun(sniff.kind) + (sniff.kind == MediaKind::kPdf ? "" : " (" + sniff.format + ")");
  return Status::Error(where + ": the data holds " + what + ", not " + Noun(want) + "; send it as " +
                       PartFor(sniff.kind));
}

// A file:// URL's path, confined to `root` (already canonical): no `..` or symlink leads outside it.
Result<std::string> ConfinedPath(const std::string& url, const std::string& root, const std::string& where) {
  if (root.empty()) return Status::Error(where + ": file:// URLs need the server started with --allow-local-files DIR");
  std::string path = url.substr(7);
  if (path.rfind("localhost/", 0) == 0) path = path.substr(9);
  std::error_code ec;
  const std::filesystem::path real = std::filesystem::canonical(path, ec);
  if (ec) return Status::Error(where + ": " + path + ": " + ec.message());
  const std::string r = real.string();
  if (r != root && r.rfind(root + "/", 0) != 0) {
    return Status::Error(where + ": " + path + " is outside the directory the server allows (--allow-local-files)");
  }
  return r;
}

// Where an image or video part's media is: bytes from a data: URL, or a file under --allow-local-files.
struct Source {
  std::vector<uint8_t> bytes;
  std::string path;  // set for a file:// URL
};

// The URL of an image_url or video_url part (`field`), as a Source. http(s) is refused: the server is offline.
Result<Source> ReadUrl(const json& part, const std::string& where, const std::string& field, MediaKind kind,
                       const ChatModelInfo& info) {
  const json* url = nullptr;
  if (part.contains(field)) {
    const json& u = part[field];
    url = u.is_object() && u.contains("url") ? &u["url"] : &u;
  } else {
    const std::string bare = kind == MediaKind::kImage ? "image" : "video";  // {"type": "image", "image": URL}
    if (part.contains(bare)) url = &part[bare];
  }
  const std::string at = where + "." + field;
  if (url == nullptr || !url->is_string()) return Status::Error(at + ".url must be a string");
  const std::string u = url->get<std::string>();
  const std::string noun(MediaKindName(kind));
  Source source;
  if (u.rfind("data:", 0) == 0) {
    GLMV_ASSIGN_OR_RETURN(DataUrl data, ParseDataUrl(u, at + ".url"));
    GLMV_RETURN_IF_ERROR(CheckDeclaredType(data.media_type, kind, at + ".url"));
    source.bytes = std::move(data.bytes);
  } else if (u.rfind("http://", 0) == 0 || u.rfind("https://", 0) == 0) {
    return Status::Error(at + ": the server does not fetch URLs (it runs offline); send the " + noun +
                         " inline as a data: URL (data:" + (kind == MediaKind::kImage ? "image/png" : "video/mp4") +
                         ";base64,...)");
  } else if (u.rfind("file://", 0) == 0) {
    GLMV_ASSIGN_OR_RETURN(source.path, ConfinedPath(u, info.local_files_root, at));
    return source;
  } else {
    return Status::Error(at + ": " + (kind == MediaKind::kImage ? "an image" : "a video") +
                         " URL must be a data: URL (or file:// under --allow-local-files)");
  }
  GLMV_RETURN_IF_ERROR(CheckContentKind(source.bytes, kind, at + ".url"));
  return source;
}

// A file part's PDF: `file.file_data` as a data: URL or bare base64 (clients send both). `file_id` refers to
// an upload, and the server has no files API.
Result<std::vector<uint8_t>> ReadFileData(const json& part, const std::string& where) {
  const std::string at = where + ".file";
  if (!part.contains("file") || !part["file"].is_object()) {
    return Status::Error(at + " must be an object with file_data (the PDF as data:application/pdf;base64,...)");
  }
  const json& file = part["file"];
  if (file.contains("file_id") && !file["file_id"].is_null()) {
    return Status::Error(at + ".file_id: the server has no files API (nothing can be uploaded to it); send the PDF "
                         "inline as file.file_data (data:application/pdf;base64,...)");
  }
  if (!file.contains("file_data") || !file["file_data"].is_string()) {
    return Status::Error(at + ".file_data must be a string: the PDF as a data: URL (data:application/pdf;base64,...)");
  }
  if (!PdfSupportBuiltIn()) {
    return Status::Error(at + ": this server was built without PDF support (MuPDF), so PDF file parts are refused");
  }
  const std::string& data = file["file_data"].get_ref<const std::string&>();
  std::vector<uint8_t> bytes;
  if (data.rfind("data:", 0) == 0) {
    GLMV_ASSIGN_OR_RETURN(DataUrl url, ParseDataUrl(data, at + ".file_data"));
    GLMV_RETURN_IF_ERROR(CheckDeclaredType(url.media_type, MediaKind::kPdf, at + ".file_data"));
    bytes = std::move(url.bytes);
  } else {
    auto decoded = DecodeBase64(data);
    if (!decoded.ok()) return Status::Error(at + ".file_data: " + decoded.status().message());
    bytes = std::move(decoded).value();
    if (bytes.empty()) return Status::Error(at + ".file_data is empty");
  }
  GLMV_RETURN_IF_ERROR(CheckContentKind(bytes, MediaKind::kPdf, at + ".file_data"));
  return bytes;
}

// Loads the parts of one message into `out`, appending their placeholders to `content`.
class PartLoader {
 public:
  PartLoader(const ChatModelInfo& info, MediaParts& out) : info_(info), out_(out) {}

  std::optional<HttpError> Image(const json& part, const std::string& where, json& content) {
    if (images_++ >= info_.max_images) {
      return Bad("more than " + std::to_string(info_.max_images) + " images in one request");
    }
    auto source = ReadUrl(part, where, "image_url", MediaKind::kImage, info_);
    if (!source.ok()) return Bad(source.status().message());
    const std::string name = where + ".image_url";
    auto loaded = source->path.empty() ? LoadImageBytes(source->bytes, name, info_.image_config, info_.limits)
                                       : LoadImageFile(source->path, info_.image_config, info_.limits);
    // A file's errors start with its path: the part is named in front.
    if (!loaded.ok()) return MediaError(info_, source->path.empty() ? loaded.status() : loaded.status().Annotate(name));
    out_.media.AddImage(loaded->preprocessed);
    out_.image_sizes.emplace_back(loaded->image.width, loaded->image.height);
    content.push_back({{"type", "image"}});
    return std::nullopt;
  }

  std::optional<HttpError> Video(const json& part, const std::string& where, json& content) {
    if (auto e = OverLimit(videos_, info_.max_videos, where, "video(s)", "--max-videos")) return e;
    auto source = ReadUrl(part, where, "video_url", MediaKind::kVideo, info_);
    if (!source.ok()) return Bad(source.status().message());
    const std::string name = where + ".video_url";
    auto loaded = source->path.empty()
                      ? LoadVideoBytes(source->bytes, name, info_.video_options, info_.video_config)
                      : LoadVideoFile(source->path, info_.video_options, info_.video_config);
    if (!loaded.ok()) return MediaError(info_, source->path.empty() ? loaded.status() : loaded.status().Annotate(name));
    out_.media.AddVideo(std::move(loaded->video));
    content.push_back({{"type", "video"}});
    return std::nullopt;
  }

  std::optional<HttpError> Pdf(const json& part, const std::string& where, json& content) {
    if (auto e = OverLimit(pdfs_, info_.max_pdfs, where, "PDF file part(s)", "--max-pdfs")) return e;
    auto bytes = ReadFileData(part, where);
    if (!bytes.ok()) return Bad(bytes.status().message());
    PdfOptions options = info_.pdf_options;
    const json& file = part["file"];
    if (file.contains("pages") && !file["pages"].is_null()) {
      if (!file["pages"].is_string()) return Bad(where + ".file.pages must be a string such as \"1-3,7\"");
      options.pages = file["pages"].get<std::string>();
    }
    std::string name = where + ".file";
    if (file.contains("filename") && file["filename"].is_string()) {
      name += " (" + file["filename"].get<std::string>().substr(0, 120) + ")";
    }
    auto pdf = LoadPdfBytes(*bytes, name, options, info_.image_config, info_.limits);
    if (!pdf.ok()) return MediaError(info_, pdf.status());
    // Every page in this request, as `glmv run --pdf` makes them; the question is the message's own text.
    auto request = MakePdfRequest(*pdf, 0, pdf->page_numbers.size(), "");
    if (!request.ok()) return MediaError(info_, request.status());
    for (const LoadedImage& page : request->pages) {
      out_.media.AddImage(page.preprocessed);
      out_.image_sizes.emplace_back(page.image.width, page.image.height);
    }
    for (const ChatContentPart& p : request->parts) {
      if (p.type == ChatContentPart::Type::kImage) content.push_back({{"type", "image"}});
      if (p.type == ChatContentPart::Type::kText && !p.text.empty()) {
        content.push_back({{"type", "text"}, {"text", p.text}});
      }
    }
    return std::nullopt;
  }

 private:
  // Counts one more part of a kind; the error when that makes more than `max`.
  static std::optional<HttpError> OverLimit(size_t& count, size_t max, const std::string& where, const char* what,
                                            const char* flag) {
    if (count++ < max) return std::nullopt;
    return Bad(where + ": more than " + std::to_string(max) + " " + what + " in one request (the server's " + flag + ")");
  }

  const ChatModelInfo& info_;
  MediaParts& out_;
  size_t images_ = 0, videos_ = 0, pdfs_ = 0;
};

// The messages with each media part of a non-tool message replaced by what `on_part(kind, part, where,
// content)` appends to the message's new content; everything else copied (the media parts are not).
template <typename OnPart>
std::optional<HttpError> RewriteParts(const json& messages, json& out, const OnPart& on_part) {
  out = json::array();
  for (size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    const std::string role = m.is_object() ? m.value("role", std::string()) : std::string();
    if (!m.is_object() || !m.contains("content") || !m["content"].is_array() || role == "tool" ||
        role == "observation") {
      out.push_back(m);  // tool outputs are text; other shapes are the template reader's to judge
      continue;
    }
    json message = json::object();
    for (auto it = m.begin(); it != m.end(); ++it) {
      if (it.key() != "content") message[it.key()] = it.value();
    }
    json content = json::array();
    const json& parts = m["content"];
    for (size_t k = 0; k < parts.size(); ++k) {
      const PartKind kind = KindOf(parts[k]);
      if (kind == PartKind::kText) {
        content.push_back(parts[k]);
        continue;
      }
      const std::string where = "messages[" + std::to_string(i) + "].content[" + std::to_string(k) + "]";
      if (auto error = on_part(kind, parts[k], where, content)) return error;
    }
    message["content"] = std::move(content);
    out.push_back(std::move(message));
  }
  return std::nullopt;
}

}  // namespace

json MediaPlaceholders(const json& messages) {
  json out;
  (void)RewriteParts(messages, out, [](PartKind kind, const json&, const std::string&, json& content) {
    content.push_back({{"type", kind == PartKind::kVideo ? "video" : "image"}});
    return std::optional<HttpError>();
  });
  return out;
}

std::optional<HttpError> LoadMediaParts(const json& messages, const ChatModelInfo& info, MediaParts& out) {
  PartLoader loader(info, out);
  return RewriteParts(messages, out.messages,
                      [&](PartKind kind, const json& part, const std::string& where, json& content) {
                        switch (kind) {
                          case PartKind::kImage: return loader.Image(part, where, content);
                          case PartKind::kVideo: return loader.Video(part, where, content);
                          case PartKind::kFile: return loader.Pdf(part, where, content);
                          case PartKind::kText: break;
                        }
                        return std::optional<HttpError>();
                      });
}

}  // namespace glmv::app
