// Runs a test body once per Highway target compiled into this build that the CPU can run.
#pragma once

#include <hwy/targets.h>

#include <string>

namespace glmv::test {

// body(target_name) once per usable target, with dispatch forced to that target; restores it after.
template <typename Body>
void ForEachTarget(Body&& body) {
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    body(std::string(hwy::TargetName(target)));
  }
  hwy::SetSupportedTargetsForTest(0);
}

}  // namespace glmv::test
