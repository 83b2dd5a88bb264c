// The expert reader on a small synthesized .glmv (the tiny model's config, written by glmv synth's writer):
// every unit read by pread, O_DIRECT and io_uring equals the mapping's bytes; refusals of io_uring and
// O_DIRECT fall back to pread with one note each; a truncated copy gives an error naming the file, the unit
// and its offset, and the reader goes on reading the units that are there.
#include <doctest/doctest.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "io/expert_reader.h"
#include "tests/experts/tiny_glmv.h"
#include "tests/test_util.h"

namespace glmv {
namespace {

namespace fs = std::filesystem;

// A 4 KiB-aligned buffer.
class Aligned {
 public:
  explicit Aligned(size_t n) : n_(n), p_(static_cast<uint8_t*>(std::aligned_alloc(kExpertReadAlign, n))) {
    std::memset(p_, 0xA5, n_);
  }
  ~Aligned() { std::free(p_); }
  Aligned(const Aligned&) = delete;
  Aligned& operator=(const Aligned&) = delete;
  std::span<uint8_t> span() { return {p_, n_}; }

 private:
  size_t n_;
  uint8_t* p_;
};

std::string SynthTiny(const test::TempDir& dir) { return test::WriteTinySynthGlmv(dir); }

ModelFile OpenFile(const std::string& path) {
  auto f = ModelFile::Open(path);
  REQUIRE_MESSAGE(f.ok(), f.status().message());
  return std::move(f).value();
}

std::unique_ptr<ExpertReader> OpenReader(const std::string& path, const ModelFile& file, const ExpertReaderOptions& o) {
  auto r = ExpertReader::Open(path, UnitExtents(file), o);
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  return std::move(r).value();
}

bool SameAsMapping(const ModelFile& file, size_t unit, std::span<const uint8_t> got) {
  const auto want = file.units()[unit].bytes;
  return got.size() >= want.size() && std::memcmp(got.data(), want.data(), want.size()) == 0;
}

TEST_CASE("every unit read by pread, O_DIRECT and io_uring equals the mapping") {
  test::TempDir dir;
  const std::string path = SynthTiny(dir);
  const ModelFile file = OpenFile(path);
  const size_t units = file.units().size();
  REQUIRE(units == 16);  // 2 MoE layers × 8 experts
  uint64_t unit_bytes = 0;
  for (const auto& u : file.units()) unit_bytes += u.bytes.size();

  struct Mode {
    std::string name;
    ExpertReaderOptions options;
    bool batch;
  };
  const Mode modes[] = {
      {"pread, page cache", {.direct = false, .io_uring = false}, false},
      {"pread, O_DIRECT", {.direct = true, .io_uring = false}, false},
      {"io_uring, one unit a call", {.direct = true, .io_uring = true}, false},
      {"io_uring, batches of 5 in a ring of 4", {.direct = true, .io_uring = true, .ring_entries = 4}, true},
      {"io_uring, page cache, one batch", {.direct = false, .io_uring = true}, true},
  };
  for (const Mode& m : modes) {
    CAPTURE(m.name);
    auto reader = OpenReader(path, file, m.options);
    for (const auto& n : reader->notes()) MESSAGE(m.name << ": " << n);
    const bool uring = m.options.io_uring && reader->uses_io_uring();
    if (m.options.io_uring && !uring) MESSAGE(m.name << ": io_uring unavailable here, its path untested");
    std::vector<std::unique_ptr<Aligned>> buffers;
    for (size_t u = 0; u < units; ++u) buffers.push_back(std::make_unique<Aligned>(reader->UnitReadBytes(u)));
    if (m.batch) {
      std::vector<UnitRead> batch;
      for (size_t u = 0; u < units; ++u) {
        batch.push_back({u, buffers[u]->span()});
        if (batch.size() == 5 || u + 1 == units) {
          const Status st = reader->ReadBatch(batch);
          REQUIRE_MESSAGE(st.ok(), st.message());
          batch.clear();
        }
      }
    } else {
      for (size_t u = units; u-- > 0;) {  // backwards: nothing depends on order
        const Status st = reader->Read(u, buffers[u]->span());
        REQUIRE_MESSAGE(st.ok(), st.message());
      }
    }
    for (size_t u = 0; u < units; ++u) {
      CAPTURE(file.units()[u].name);
      CHECK(SameAsMapping(file, u, buffers[u]->span()));
    }
    const ExpertReadStats s = reader->stats();
    CHECK(s.reads == units);
    CHECK(s.bytes >= unit_bytes);
    CHECK(s.bytes % kExpertReadAlign == 0);
    CHECK(s.stall_seconds > 0);
    if (uring) CHECK(s.uring_reads == units);
    else CHECK(s.uring_reads == 0);
    if (m.options.direct) CHECK(reader->direct());  // ext4 and tmpfs (Linux ≥ 6.6) both take O_DIRECT
  }
}

TEST_CASE("refused io_uring and O_DIRECT fall back to pread with one note each") {
  test::TempDir dir;
  const std::string path = SynthTiny(dir);
  const ModelFile file = OpenFile(path);
  for (const int err : {EPERM, ENOSYS}) {
    CAPTURE(err);
    auto reader = OpenReader(path, file, {.direct = true, .io_uring = true, .simulate_io_uring_error = err});
    CHECK(!reader->uses_io_uring());
    const auto notes = reader->notes();
    REQUIRE(notes.size() == 1);
    CHECK(notes[0].find("io_uring") != std::string::npos);
    // Without liburing in the build there is no ring to refuse: the note says so instead.
    CHECK(notes[0].find(IoUringBuiltIn() ? std::strerror(err) : "not built in") != std::string::npos);
    CHECK(notes[0].find("pread") != std::string::npos);
    Aligned buffer(reader->UnitReadBytes(3));
    std::vector<UnitRead> batch = {{3, buffer.span()}};
    REQUIRE(reader->ReadBatch(batch).ok());
    CHECK(SameAsMapping(file, 3, buffer.span()));
    CHECK(reader->stats().uring_reads == 0);
  }
  {
    auto reader = OpenReader(path, file, {.direct = true, .io_uring = false, .simulate_direct_error = EINVAL});
    CHECK(!reader->direct());
    const auto notes = reader->notes();
    REQUIRE(notes.size() == 1);
    CHECK(notes[0].find("O_DIRECT") != std::string::npos);
    CHECK(notes[0].find(path) != std::string::npos);
    CHECK(notes[0].find(std::strerror(EINVAL)) != std::string::npos);
    Aligned buffer(reader->UnitReadBytes(9));
    REQUIRE(reader->Read(9, buffer.span()).ok());
    CHECK(SameAsMapping(file, 9, buffer.span()));
  }
  {  // both at once: two notes, and the plainest read still works
    auto reader = OpenReader(path, file, {.simulate_io_uring_error = EPERM, .simulate_direct_error = EINVAL});
    CHECK(reader->notes().size() == 2);
    Aligned buffer(reader->UnitReadBytes(0));
    REQUIRE(reader->Read(0, buffer.span()).ok());
    CHECK(SameAsMapping(file, 0, buffer.span()));
  }
  {  // nothing asked for, nothing noted
    auto reader = OpenReader(path, file, {.direct = false, .io_uring = false});
    CHECK(reader->notes().empty());
  }
}

TEST_CASE("a truncated copy: the missing units are errors naming the file, the unit and its offset; the rest read") {
  test::TempDir dir;
  const std::string path = SynthTiny(dir);
  const ModelFile file = OpenFile(path);  // the intact file's unit table, as a running server holds it
  const auto extents = UnitExtents(file);
  const size_t units = extents.size();
  // Cut the copy in the middle of the second-to-last unit: it and the last one are short.
  const std::string cut = (dir / "cut.glmv").string();
  fs::copy_file(path, cut);
  const UnitExtent& victim = extents[units - 2];
  fs::resize_file(cut, victim.offset + victim.bytes / 2);
  for (const bool uring : {false, true}) {
    for (const bool direct : {false, true}) {
      CAPTURE(uring);
      CAPTURE(direct);
      auto reader = OpenReader(cut, file, {.direct = direct, .io_uring = uring});
      Aligned buffer(reader->UnitReadBytes(units - 2));
      const Status st = reader->Read(units - 2, buffer.span());
      REQUIRE(!st.ok());
      MESSAGE(st.message());
      CHECK(st.message().find(cut) != std::string::npos);
      CHECK(st.message().find("'" + victim.name + "'") != std::string::npos);
      CHECK(st.message().find("offset " + std::to_string(victim.offset)) != std::string::npos);
      CHECK(st.message().find("short read") != std::string::npos);
      // A batch with good and missing units: the good ones are read, the first missing one is the error.
      std::vector<std::unique_ptr<Aligned>> buffers;
      std::vector<UnitRead> batch;
      for (size_t u = units - 4; u < units; ++u) {
        buffers.push_back(std::make_unique<Aligned>(reader->UnitReadBytes(u)));
        batch.push_back({u, buffers.back()->span()});
      }
      const Status batch_status = reader->ReadBatch(batch);
      REQUIRE(!batch_status.ok());
      CHECK(batch_status.message().find("'" + victim.name + "'") != std::string::npos);
      CHECK(SameAsMapping(file, units - 4, buffers[0]->span()));
      CHECK(SameAsMapping(file, units - 3, buffers[1]->span()));
      // The reader lives on.
      Aligned first(reader->UnitReadBytes(0));
      REQUIRE(reader->Read(0, first.span()).ok());
      CHECK(SameAsMapping(file, 0, first.span()));
    }
  }
}

TEST_CASE("bad requests are errors, not reads: an unknown unit, a misaligned or small buffer, a misaligned unit") {
  test::TempDir dir;
  const std::string path = SynthTiny(dir);
  const ModelFile file = OpenFile(path);
  auto reader = OpenReader(path, file, {});
  Aligned buffer(reader->UnitReadBytes(0) + kExpertReadAlign);
  CHECK(reader->Read(99, buffer.span()).message().find("unit 99 does not exist") != std::string::npos);
  CHECK(reader->Read(0, buffer.span().subspan(64)).message().find("aligned") != std::string::npos);
  CHECK(reader->Read(0, buffer.span().first(kExpertReadAlign / 2)).message().find("aligned") != std::string::npos);
  CHECK(reader->stats().reads == 0);
  auto extents = UnitExtents(file);
  extents[1].offset += 512;
  auto bad = ExpertReader::Open(path, extents, {});
  REQUIRE(!bad.ok());
  CHECK(bad.status().message().find(extents[1].name) != std::string::npos);
  CHECK(!ExpertReader::Open((dir / "absent.glmv").string(), {}, {}).ok());
}

}  // namespace
}  // namespace glmv
