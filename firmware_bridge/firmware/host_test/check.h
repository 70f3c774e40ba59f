// Tiny test reporting shared by the host checks: one line per check, a final tally.
// Host-only code (may use stdio and std::string); the firmware never includes it.
#ifndef TOOLHUT_HOST_CHECK_H
#define TOOLHUT_HOST_CHECK_H

#include <stdio.h>

#include <string>

struct Tally {
  int passed = 0;
  int failed = 0;

  bool check(bool ok, const std::string& name, const std::string& detail = std::string()) {
    if (ok) {
      ++passed;
      printf("ok   %s\n", name.c_str());
    } else {
      ++failed;
      printf("FAIL %s%s%s\n", name.c_str(), detail.empty() ? "" : ": ", detail.c_str());
    }
    return ok;
  }

  int finish() const {
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
  }
};

#endif  // TOOLHUT_HOST_CHECK_H
