// Shared by decode_video_test.cc and decode_video_shared_test.cc.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "io/status.h"

namespace glmv::test {

// An error that starts with the path and says something.
inline void CheckNamedError(const Status& s, const std::string& path) {
  CHECK_MESSAGE(s.message().rfind(path + ": ", 0) == 0, s.message());
  CHECK(s.message().size() > path.size() + 10);
}

}  // namespace glmv::test
