#include "io/decode_video.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <utility>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>
}

#include "io/decode_video_frame.h"

namespace glmv {
namespace {

using Clock = std::chrono::steady_clock;

// Demuxers that read one self-contained file. Left out on purpose: playlists and indirections (hls, dash,
// concat, image2, ...), which would open further files or URLs named inside an untrusted file.
constexpr const char* kDemuxers =
    "mov,matroska,ogg,mpeg,mpegts,mpegvideo,avi,flv,asf,nut,mxf,ivf,h264,hevc,m4v,h263,yuv4mpegpipe,gif,dv,rm";

// FFmpeg's read buffer for a video in memory (its file protocol reads 32 KiB at a time; the size changes
// only how often the read callback runs, never what is read).
constexpr int kMemoryReadBufferBytes = 64 << 10;

// Everything FFmpeg tells one reader at error level, so messages can say why ("moov atom not found").
struct LogSink {
  std::mutex mutex;
  std::string last_error;
};
thread_local LogSink* g_thread_sink = nullptr;  // the reader running on this thread, for parser/demuxer logs

void LogCallback(void* avcl, int level, const char* fmt, va_list args) {
  if (level > AV_LOG_ERROR) return;
  LogSink* sink = g_thread_sink;
  if (avcl != nullptr) {
    const AVClass* cls = *static_cast<const AVClass**>(avcl);
    // Decoder threads log through copies of our codec context; its opaque field leads back to the reader.
    if (cls == avcodec_get_class()) sink = static_cast<LogSink*>(static_cast<AVCodecContext*>(avcl)->opaque);
    if (cls == avformat_get_class()) sink = static_cast<LogSink*>(static_cast<AVFormatContext*>(avcl)->opaque);
  }
  if (sink == nullptr) return;
  char line[512];
  int print_prefix = 0;
  av_log_format_line2(nullptr, level, fmt, args, line, sizeof(line), &print_prefix);
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  if (text.empty()) return;
  std::lock_guard<std::mutex> lock(sink->mutex);
  sink->last_error = std::move(text);
}

void InstallLogCallbackOnce() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_callback(LogCallback); });
}

std::string AvError(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, buf, sizeof(buf));
  return buf;
}

bool UsableRate(AVRational r) {
  if (r.num <= 0 || r.den <= 0) return false;
  const double fps = av_q2d(r);
  return fps >= 1e-3 && fps <= 1000.0;  // beyond this a "rate" is a time-base artefact, not a frame rate
}

}  // namespace

std::string SniffVideoContainer(std::span<const uint8_t> b) {
  auto at = [&](size_t off, const char* magic, size_t n) {
    return b.size() >= off + n && std::memcmp(b.data() + off, magic, n) == 0;
  };
  for (const char* box : {"ftyp", "moov", "mdat", "free", "wide", "skip", "pnot"}) {
    if (at(4, box, 4)) return "mp4";
  }
  if (at(0, "\x1A\x45\xDF\xA3", 4)) return "matroska";
  if (at(0, "OggS", 4)) return "ogg";
  if (at(0, "\x00\x00\x01\xBA", 4)) return "mpeg-ps";
  if (at(0, "\x00\x00\x01\xB3", 4)) return "mpeg-video";
  if (b.size() > 376 && b[0] == 0x47 && b[188] == 0x47 && b[376] == 0x47) return "mpeg-ts";
  if (at(0, "RIFF", 4) && at(8, "AVI ", 4)) return "avi";
  if (at(0, "FLV\x01", 4)) return "flv";
  if (at(0, "\x30\x26\xB2\x75\x8E\x66\xCF\x11", 8)) return "asf";
  return "";
}

struct VideoReader::Impl {
  std::string path;
  VideoLimits limits;
  VideoInfo info;
  LogSink log;
  Clock::time_point deadline;

  AVFormatContext* fmt = nullptr;
  AVCodecContext* dec = nullptr;
  int stream = -1;
  AVPacket* pkt = nullptr;
  AVFrame* frame = nullptr;
  VideoFrameConverter converter;
  bool flushed = false;     // the demuxer hit the end and the decoder was told
  int64_t start_pts = AV_NOPTS_VALUE;
  // Frames per second that turns a timestamp into a frame index after a seek: the stream's base rate when
  // it agrees with the average rate (a constant-rate stream; an MP4's average is frames / duration and can
  // be off by a hair), else 0 and no seeking.
  double index_rate = 0;
  bool read_started = false;

  // A video held in memory (OpenBytes): FFmpeg reads it through `avio`, whose callbacks move `memory_pos`
  // over `memory` (the caller's bytes, never copied).
  bool in_memory = false;
  std::span<const uint8_t> memory;
  int64_t memory_pos = 0;
  AVIOContext* avio = nullptr;

  ~Impl() { Close(); }

  void Close() {
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);  // leaves a custom AVIOContext alone
    if (avio != nullptr) {
      av_freep(&avio->buffer);  // FFmpeg may have replaced the buffer it was given
      avio_context_free(&avio);
    }
    flushed = false;
  }

  // The AVIOContext callbacks of a video in memory: a file's semantics (reads past the end give EOF, a seek
  // may go past the end), so FFmpeg sees the same bytes in the same way as through its file protocol.
  static int ReadMemory(void* opaque, uint8_t* buf, int size) {
    Impl* d = static_cast<Impl*>(opaque);
    if (d->TimeUp()) return AVERROR_EXIT;
    const int64_t left = static_cast<int64_t>(d->memory.size()) - d->memory_pos;
    if (left <= 0 || size <= 0) return AVERROR_EOF;
    const int n = static_cast<int>(std::min<int64_t>(left, size));
    std::memcpy(buf, d->memory.data() + d->memory_pos, static_cast<size_t>(n));
    d->memory_pos += n;
    return n;
  }

  static int64_t SeekMemory(void* opaque, int64_t offset, int whence) {
    Impl* d = static_cast<Impl*>(opaque);
    const int64_t size = static_cast<int64_t>(d->memory.size());
    whence &= ~AVSEEK_FORCE;
    if (whence == AVSEEK_SIZE) return size;
    int64_t base = 0;
    switch (whence) {
      case SEEK_SET: base = 0; break;
      case SEEK_CUR: base = d->memory_pos; break;
      case SEEK_END: base = size; break;
      default: return AVERROR(EINVAL);
    }
    // Offsets come from the file: no signed overflow, no position before the start.
    if ((offset > 0 && base > INT64_MAX - offset) || (offset < 0 && base + offset < 0)) return AVERROR(EINVAL);
    d->memory_pos = base + offset;
    return d->memory_pos;
  }

  // A demuxer that wants a further file or URL (a reference inside the container) gets none: a video in
  // memory is one self-contained buffer.
  static int RefuseNestedOpen(AVFormatContext*, AVIOContext**, const char*, int, AVDictionary**) {
    return AVERROR(EPERM);
  }

  bool TimeUp() const { return Clock::now() > deadline; }

  // "path: what (FFmpeg's reason; its last log line)".
  Status Error(const std::string& what, int code = 0) {
    std::string reason;
    if (code == AVERROR_EXIT || (code != 0 && TimeUp())) {
      return Status::Error(path + ": " + what + ": the decode time limit of " + FormatSeconds(limits.max_seconds) +
                           " s was exceeded (VideoLimits::max_seconds)");
    }
    if (code != 0) reason = AvError(code);
    {
      std::lock_guard<std::mutex> lock(log.mutex);
      if (!log.last_error.empty()) reason += (reason.empty() ? "" : "; ") + std::string("FFmpeg: ") + log.last_error;
    }
    return Status::Error(path + ": " + what + (reason.empty() ? "" : " (" + reason + ")"));
  }

  static std::string FormatSeconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%g", s);
    return buf;
  }

  static int Interrupt(void* opaque) { return static_cast<Impl*>(opaque)->TimeUp() ? 1 : 0; }

  // Opens the container, probes it and opens the decoder of its video stream.
  Status OpenContainer() {
    Close();
    {
      std::lock_guard<std::mutex> lock(log.mutex);
      log.last_error.clear();  // a reason from an earlier pass must not explain this one
    }
    fmt = avformat_alloc_context();
    if (fmt == nullptr) return Status::Error(path + ": out of memory");
    fmt->interrupt_callback = {&Impl::Interrupt, this};
    fmt->opaque = &log;
    fmt->format_whitelist = av_strdup(kDemuxers);
    fmt->protocol_whitelist = av_strdup("file");
    // "file:" keeps a name like "a:b.mp4" from being read as a protocol. A video in memory has no URL (and so
    // no file name extension to hint at its format: the bytes alone decide, as they do for a file).
    std::string url = "file:" + path;
    if (in_memory) {
      url.clear();
      memory_pos = 0;
      auto* buffer = static_cast<uint8_t*>(av_malloc(kMemoryReadBufferBytes));
      if (buffer == nullptr) return Status::Error(path + ": out of memory");
      avio = avio_alloc_context(buffer, kMemoryReadBufferBytes, 0, this, &Impl::ReadMemory, nullptr, &Impl::SeekMemory);
      if (avio == nullptr) {
        av_free(buffer);
        return Status::Error(path + ": out of memory");
      }
      fmt->pb = avio;
      fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
      fmt->io_open = &Impl::RefuseNestedOpen;
    }
    int rc = avformat_open_input(&fmt, url.c_str(), nullptr, nullptr);  // frees fmt (not avio) on failure
    if (rc < 0) return Error("not a video file FFmpeg can read", rc);

    // The probe decodes a few frames with decoders it opens itself: give them the pixel limit too.
    std::vector<AVDictionary*> probe_options(fmt->nb_streams, nullptr);
    for (unsigned i = 0; i < fmt->nb_streams; ++i) {
      av_dict_set_int(&probe_options[i], "max_pixels", static_cast<int64_t>(limits.max_frame_pixels), 0);
      av_dict_set(&probe_options[i], "threads", "1", 0);
    }
    rc = avformat_find_stream_info(fmt, probe_options.empty() ? nullptr : probe_options.data());
    for (auto*& d : probe_options) av_dict_free(&d);
    if (rc < 0) return Error("cannot read the stream parameters", rc);

    const AVCodec* codec = nullptr;
    stream = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (stream >= 0 && (fmt->streams[stream]->disposition & AV_DISPOSITION_ATTACHED_PIC)) stream = -1;
    for (unsigned i = 0; stream < 0 && i < fmt->nb_streams; ++i) {  // skip cover art for a real video stream
      const AVStream* s = fmt->streams[i];
      if (s->codecpar->codec_type == AVMEDIA_TYPE_VIDEO && !(s->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
        stream = static_cast<int>(i);
        codec = avcodec_find_decoder(s->codecpar->codec_id);
      }
    }
    if (stream < 0) return Status::Error(path + ": the file has no video stream");
    AVStream* st = fmt->streams[stream];
    if (codec == nullptr) {
      return Status::Error(path + ": no decoder for the video codec '" + avcodec_get_name(st->codecpar->codec_id) +
                           "'");
    }
    for (unsigned i = 0; i < fmt->nb_streams; ++i) {
      if (static_cast<int>(i) != stream) fmt->streams[i]->discard = AVDISCARD_ALL;
    }
    const AVCodecParameters* par = st->codecpar;
    if (par->width <= 0 || par->height <= 0) return Status::Error(path + ": the video stream has no picture size");
    const uint64_t pixels = static_cast<uint64_t>(par->width) * static_cast<uint64_t>(par->height);
    if (pixels > limits.max_frame_pixels) {
      return Status::Error(path + ": frames of " + std::to_string(par->width) + "x" + std::to_string(par->height) +
                           " exceed the limit of " + std::to_string(limits.max_frame_pixels) +
                           " pixels per frame (VideoLimits::max_frame_pixels)");
    }

    dec = avcodec_alloc_context3(codec);
    if (dec == nullptr) return Status::Error(path + ": out of memory");
    rc = avcodec_parameters_to_context(dec, par);
    if (rc < 0) return Error("cannot set up the decoder", rc);
    dec->pkt_timebase = st->time_base;
    dec->max_pixels = static_cast<int64_t>(limits.max_frame_pixels);
    dec->opaque = &log;
    dec->thread_count = 0;  // FFmpeg picks per core
    // Crop exactly to the visible picture (Theora codes 214 columns as 224 with an offset); without this
    // FFmpeg keeps a few left columns to preserve memory alignment.
    dec->flags |= AV_CODEC_FLAG_UNALIGNED;
    rc = avcodec_open2(dec, codec, nullptr);
    if (rc < 0) return Error(std::string("cannot open the ") + codec->name + " decoder", rc);

    pkt = av_packet_alloc();
    frame = av_frame_alloc();
    if (pkt == nullptr || frame == nullptr) return Status::Error(path + ": out of memory");
    start_pts = st->start_time;
    return Status::Ok();
  }

  // Fills `info` from the opened stream (everything but the frame count).
  void DescribeStream() {
    AVStream* st = fmt->streams[stream];
    const AVCodecParameters* par = st->codecpar;
    info.container = fmt->iformat->name;
    info.codec = dec->codec->name;
    const char* pix = av_get_pix_fmt_name(static_cast<AVPixelFormat>(par->format));
    info.pixel_format = pix != nullptr ? pix : "unknown";
    info.coded_width = par->width;
    info.coded_height = par->height;
    size_t sd_size = 0;
    const uint8_t* sd = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &sd_size);
    info.rotation = RotationFromDisplayMatrix(sd, sd_size);
    const bool swap = info.rotation == 90 || info.rotation == 270;
    info.width = swap ? par->height : par->width;
    info.height = swap ? par->width : par->height;

    const AVRational guessed = av_guess_frame_rate(fmt, st, nullptr);
    if (UsableRate(st->avg_frame_rate)) {
      info.fps = av_q2d(st->avg_frame_rate), info.fps_source = "avg_frame_rate";
    } else if (UsableRate(st->r_frame_rate)) {
      info.fps = av_q2d(st->r_frame_rate), info.fps_source = "r_frame_rate";
    } else if (UsableRate(guessed)) {
      info.fps = av_q2d(guessed), info.fps_source = "guessed";
    } else {
      info.fps = 2.0, info.fps_source = "assumed";  // what the reference's sampling assumes without metadata
    }
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0) {
      info.duration = static_cast<double>(st->duration) * av_q2d(st->time_base);
    } else if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0) {
      info.duration = static_cast<double>(fmt->duration) / AV_TIME_BASE;
    }
    info.start_time =
        st->start_time != AV_NOPTS_VALUE ? static_cast<double>(st->start_time) * av_q2d(st->time_base) : 0;
    info.has_keyframe_index = avformat_index_get_entries_count(st) > 1;
    if (info.fps_source != "assumed" && UsableRate(st->r_frame_rate) &&
        std::fabs(av_q2d(st->r_frame_rate) / info.fps - 1) < 0.01) {
      index_rate = av_q2d(st->r_frame_rate);
    }
  }

  // Frames of the video stream by demuxing only (packets carry one frame each in every container we take),
  // and where the data of any stream ends (seconds from the file's start), to spot a truncated file.
  struct PacketCount {
    int64_t frames = 0;
    double end_seconds = 0;
  };
  Result<PacketCount> CountPackets() {
    for (unsigned i = 0; i < fmt->nb_streams; ++i) fmt->streams[i]->discard = AVDISCARD_DEFAULT;
    const int64_t file_start = fmt->start_time != AV_NOPTS_VALUE ? fmt->start_time : 0;
    PacketCount count;
    for (;;) {
      if (TimeUp()) return Error("counting frames", AVERROR_EXIT);
      const int rc = av_read_frame(fmt, pkt);
      if (rc == AVERROR_EOF) break;
      if (rc < 0) return Error("reading the file failed while counting frames", rc);
      if (pkt->stream_index == stream && pkt->size > 0) ++count.frames;
      const int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
      if (ts != AV_NOPTS_VALUE && pkt->stream_index >= 0 &&
          static_cast<unsigned>(pkt->stream_index) < fmt->nb_streams) {
        // Doubles again: untrusted timestamps must not overflow integer arithmetic.
        const double tb = av_q2d(fmt->streams[pkt->stream_index]->time_base);
        const double end = (static_cast<double>(ts) + static_cast<double>(std::max<int64_t>(pkt->duration, 0))) * tb -
                           static_cast<double>(file_start) / AV_TIME_BASE;
        if (std::isfinite(end)) count.end_seconds = std::max(count.end_seconds, end);
      }
      av_packet_unref(pkt);
      if (count.frames > limits.max_frames) {
        return Status::Error(path + ": more than " + std::to_string(limits.max_frames) +
                             " frames (VideoLimits::max_frames)");
      }
    }
    return count;
  }

  // A file whose data stops well before the length it declares has lost its tail. Half a second (and 1 %)
  // of slack covers streams that end a little apart.
  static bool EndsEarly(double end_seconds, double declared_seconds) {
    return declared_seconds > 0 && end_seconds < declared_seconds - 0.5 - 0.01 * declared_seconds;
  }

  // The next decoded frame into `frame`; false at the end of the stream.
  Result<bool> DecodeNext() {
    for (;;) {
      if (TimeUp()) return Error("decoding", AVERROR_EXIT);
      int rc = avcodec_receive_frame(dec, frame);
      if (rc == 0) return true;
      if (rc == AVERROR_EOF) return false;
      if (rc != AVERROR(EAGAIN)) return Error("the video data is damaged", rc);
      if (flushed) return false;
      rc = av_read_frame(fmt, pkt);
      if (rc == AVERROR_EOF) {
        flushed = true;
        rc = avcodec_send_packet(dec, nullptr);
        if (rc < 0 && rc != AVERROR_EOF) return Error("the video data is damaged", rc);
        continue;
      }
      if (rc < 0) return Error("reading the file failed", rc);
      if (pkt->stream_index != stream) {
        av_packet_unref(pkt);
        continue;
      }
      const bool corrupt = (pkt->flags & AV_PKT_FLAG_CORRUPT) != 0;
      const double at = pkt->pts != AV_NOPTS_VALUE ? PtsSeconds(pkt->pts) : -1;
      rc = avcodec_send_packet(dec, pkt);
      av_packet_unref(pkt);
      if (corrupt && !limits.accept_damaged_frames) {
        return Status::Error(path + ": the file is damaged or truncated (a corrupt packet" + AtText(at) + ")");
      }
      if (rc < 0 && !limits.accept_damaged_frames) return Error("the video data is damaged" + AtText(at), rc);
    }
  }

  static std::string AtText(double seconds) {
    return seconds >= 0 ? " at " + FormatSeconds(std::round(seconds * 1000) / 1000) + " s" : "";
  }

  // In doubles: a hostile file's timestamps may be anywhere in int64, and their difference could overflow.
  double PtsSeconds(int64_t pts) const {
    const double base = start_pts != AV_NOPTS_VALUE ? static_cast<double>(start_pts) : 0.0;
    return (static_cast<double>(pts) - base) * av_q2d(fmt->streams[stream]->time_base);
  }

  // The decoded frame as upright RGB, in a buffer reused for the next frame.
  Result<const RgbImage*> ConvertFrame() {
    const int w = frame->width, h = frame->height;
    if (w <= 0 || h <= 0 || static_cast<uint64_t>(w) * static_cast<uint64_t>(h) > limits.max_frame_pixels) {
      return Status::Error(path + ": a decoded frame of " + std::to_string(w) + "x" + std::to_string(h) +
                           " is empty or exceeds the limit of " + std::to_string(limits.max_frame_pixels) +
                           " pixels per frame (VideoLimits::max_frame_pixels)");
    }
    auto image = converter.Convert(*frame, info.rotation);
    if (!image.ok()) return image.status().Annotate(path);
    return image;
  }
};

VideoReader::VideoReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VideoReader::~VideoReader() {
  LogSink* saved = g_thread_sink;
  g_thread_sink = &impl_->log;
  impl_.reset();
  g_thread_sink = saved;
}

const VideoInfo& VideoReader::info() const { return impl_->info; }
const std::string& VideoReader::path() const { return impl_->path; }

namespace {
// Routes FFmpeg's log lines from this thread to the reader for the duration of a call.
class ScopedSink {
 public:
  explicit ScopedSink(LogSink* sink) : saved_(g_thread_sink) { g_thread_sink = sink; }
  ~ScopedSink() { g_thread_sink = saved_; }

 private:
  LogSink* saved_;
};
}  // namespace

Result<std::unique_ptr<VideoReader>> VideoReader::Open(const std::string& path, const VideoLimits& limits) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Status::Error(path + ": cannot open: " + (std::filesystem::exists(path, ec) ? "not a regular file"
                                                                                         : "no such file"));
  }
  if (std::filesystem::file_size(path, ec) == 0 || ec) return Status::Error(path + ": the file is empty");
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->limits = limits;
  return OpenImpl(std::move(impl));
}

Result<std::unique_ptr<VideoReader>> VideoReader::OpenBytes(std::span<const uint8_t> bytes, const std::string& name,
                                                            const VideoLimits& limits) {
  if (bytes.empty()) return Status::Error(name + ": the video data is empty");
  auto impl = std::make_unique<Impl>();
  impl->path = name;
  impl->limits = limits;
  impl->in_memory = true;
  impl->memory = bytes;
  return OpenImpl(std::move(impl));
}

Result<std::unique_ptr<VideoReader>> VideoReader::OpenImpl(std::unique_ptr<Impl> impl) {
  InstallLogCallbackOnce();
  const std::string& path = impl->path;
  const VideoLimits& limits = impl->limits;
  impl->deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                                      std::clamp(limits.max_seconds, 0.0, 1e7)));
  ScopedSink sink(&impl->log);
  GLMV_RETURN_IF_ERROR(impl->OpenContainer());
  impl->DescribeStream();
  VideoInfo& info = impl->info;
  const int64_t header_count = impl->fmt->streams[impl->stream]->nb_frames;
  if (header_count > limits.max_frames) {
    return Status::Error(path + ": the file declares " + std::to_string(header_count) +
                         " frames, more than the limit of " + std::to_string(limits.max_frames) +
                         " (VideoLimits::max_frames)");
  }
  if (header_count > 0) {
    info.frame_count = header_count;
    info.frame_count_source = "header";
  } else {
    // Matroska, Ogg and MPEG program streams carry no frame count: count packets, then start over.
    GLMV_ASSIGN_OR_RETURN(const Impl::PacketCount count, impl->CountPackets());
    info.frame_count = count.frames;
    info.frame_count_source = "counted packets";
    // Only a length the container states counts (Matroska's segment duration); Ogg's and MPEG's are
    // estimated from the last timestamps, so a cut file simply looks shorter.
    const AVFormatContext* fmt = impl->fmt;
    if (fmt->duration_estimation_method == AVFMT_DURATION_FROM_STREAM && fmt->duration > 0 &&
        Impl::EndsEarly(count.end_seconds, static_cast<double>(fmt->duration) / AV_TIME_BASE)) {
      const double declared = static_cast<double>(fmt->duration) / AV_TIME_BASE;
      return Status::Error(path + ": the file is truncated: its data ends at " +
                           Impl::FormatSeconds(count.end_seconds) + " s but it declares " +
                           Impl::FormatSeconds(declared) + " s");
    }
    GLMV_RETURN_IF_ERROR(impl->OpenContainer());
  }
  if (info.frame_count <= 0) return Status::Error(path + ": the video stream has no frames");
  return std::unique_ptr<VideoReader>(new VideoReader(std::move(impl)));
}

Result<VideoReadStats> VideoReader::ReadFrames(std::span<const int64_t> indices, const FrameCallback& on_frame) {
  Impl& d = *impl_;
  ScopedSink sink(&d.log);
  VideoReadStats stats;
  if (d.read_started) return Status::Error(d.path + ": ReadFrames may be called once per reader");
  d.read_started = true;
  for (size_t i = 0; i < indices.size(); ++i) {
    if (indices[i] < 0 || (i > 0 && indices[i] <= indices[i - 1])) {
      return Status::Error(d.path + ": frame indices must be non-negative and strictly ascending");
    }
  }
  AVStream* st = d.fmt->streams[d.stream];
  const double tb = av_q2d(st->time_base);
  const double fps = d.info.fps;
  const bool timed = d.index_rate > 0 && tb > 0;
  bool exact = true;        // indices are ordinals counted from the first frame
  bool may_seek = timed && d.limits.min_seek_gap_seconds >= 0;
  int64_t ordinal = 0;      // frames decoded since the start (exact mode)
  double last_seconds = 0;  // timestamp of the last decoded frame
  int64_t last_index = -1;
  int64_t sought = -1;      // the wanted index the last seek was for: one seek per wanted frame
  bool check_after_seek = false;
  int64_t index_before_seek = -1;
  // Back to the first frame, counting exactly and never seeking again: after a seek that failed or landed
  // past its frame. Frames already delivered are not delivered again (their indices are behind `next`).
  auto restart = [&]() -> Status {
    GLMV_RETURN_IF_ERROR(d.OpenContainer());
    st = d.fmt->streams[d.stream];
    exact = true, may_seek = false, check_after_seek = false;
    ordinal = 0, last_seconds = 0, last_index = -1;
    return Status::Ok();
  };
  size_t next = 0;
  while (next < indices.size()) {
    const int64_t want = indices[next];
    if (may_seek && want != sought && want > last_index + 1 &&
        static_cast<double>(want) / d.index_rate - last_seconds >= d.limits.min_seek_gap_seconds) {
      // Seek to the keyframe at or before the wanted frame when it lies well ahead of the decoder. Matroska
      // reads its keyframe index (cues) only when first asked to seek, so there the first seek goes by time.
      const double base = d.start_pts != AV_NOPTS_VALUE ? static_cast<double>(d.start_pts) : 0.0;
      const double want_ts_real = base + std::floor(static_cast<double>(want) / d.index_rate / tb);
      const bool representable = std::fabs(want_ts_real) < 9e18;  // else the cast below would be undefined
      const int64_t want_ts = representable ? static_cast<int64_t>(want_ts_real) : 0;
      int64_t seek_ts = AV_NOPTS_VALUE;
      if (!representable) {
        // No seek: a timestamp this far out is not a real video's.
      } else if (avformat_index_get_entries_count(st) > 1) {
        const AVIndexEntry* key = avformat_index_get_entry_from_timestamp(st, want_ts, AVSEEK_FLAG_BACKWARD);
        if (key != nullptr &&
            (static_cast<double>(key->timestamp) - base) * tb - last_seconds >= d.limits.min_seek_gap_seconds) {
          seek_ts = key->timestamp;
        }
      } else if (d.info.container.find("matroska") != std::string::npos) {
        seek_ts = want_ts;
      }
      if (seek_ts != AV_NOPTS_VALUE) {
        sought = want;
        ++stats.seeks;
        if (av_seek_frame(d.fmt, d.stream, seek_ts, AVSEEK_FLAG_BACKWARD) < 0) {
          GLMV_RETURN_IF_ERROR(restart());  // a failed seek may leave the demuxer anywhere
        } else {
          avcodec_flush_buffers(d.dec);
          d.flushed = false;
          exact = false;
          check_after_seek = true;
          index_before_seek = last_index;
        }
      }
    }
    GLMV_ASSIGN_OR_RETURN(const bool got, d.DecodeNext());
    if (!got) break;
    ++stats.frames_decoded;
    if (d.frame->decode_error_flags != 0 || (d.frame->flags & AV_FRAME_FLAG_CORRUPT)) {
      ++stats.damaged_frames;
      if (!d.limits.accept_damaged_frames) {
        const int64_t ts = d.frame->best_effort_timestamp;
        return Status::Error(d.path + ": the video data is damaged" +
                             Impl::AtText(ts != AV_NOPTS_VALUE ? d.PtsSeconds(ts) : -1) +
                             " (the decoder had to conceal errors in a frame)");
      }
    }
    if (stats.frames_decoded > d.limits.max_frames) {
      return Status::Error(d.path + ": more than " + std::to_string(d.limits.max_frames) +
                           " frames decoded (VideoLimits::max_frames)");
    }
    const int64_t ts = d.frame->best_effort_timestamp;
    const double seconds = ts != AV_NOPTS_VALUE ? d.PtsSeconds(ts) : last_seconds + 1.0 / fps;
    const int64_t pts_index = std::llround(std::clamp(seconds * d.index_rate, -1e15, 1e15));
    const int64_t index = exact ? ordinal : pts_index;
    // Seeking relies on timestamps that count frames; the frames decoded in order check that they do.
    if (exact && (ts == AV_NOPTS_VALUE || pts_index != ordinal)) may_seek = false;
    ++ordinal;
    if (check_after_seek) {
      check_after_seek = false;
      // Past the wanted frame (the frame is lost), or not ahead of where the decoder was (seeking does not
      // help in this file): count from the start instead.
      if (index > want || index <= index_before_seek) {
        GLMV_RETURN_IF_ERROR(restart());
        continue;
      }
    } else if (!exact && index < last_index) {
      // Timestamps stepped back after a seek (a file spliced from pieces): they cannot place frames.
      GLMV_RETURN_IF_ERROR(restart());
      continue;
    }
    last_seconds = seconds;
    last_index = index;
    if (index < want) continue;  // not wanted: never converted
    GLMV_ASSIGN_OR_RETURN(const RgbImage* image, d.ConvertFrame());
    while (next < indices.size() && indices[next] <= index) {
      const VideoFrame out{indices[next], index, seconds, *image};
      GLMV_RETURN_IF_ERROR(on_frame(out));
      ++stats.frames_delivered;
      ++next;
    }
  }
  if (next < indices.size()) {
    stats.ended_early = true;
    if (exact) stats.frames_in_stream = ordinal;
    // The video track's own length (MP4 states one per track) says whether frames are missing at the end.
    const double declared = st->duration != AV_NOPTS_VALUE ? static_cast<double>(st->duration) * tb : 0;
    if (exact && Impl::EndsEarly(last_seconds + 1.0 / fps, declared)) {
      return Status::Error(d.path + ": the file is truncated: the video ends at " + Impl::FormatSeconds(last_seconds) +
                           " s (frame " + std::to_string(ordinal) + ") but the track declares " +
                           Impl::FormatSeconds(declared) + " s and " + std::to_string(d.info.frame_count) + " frames");
    }
  }
  return stats;
}

}  // namespace glmv
