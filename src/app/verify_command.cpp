// `webhookd verify`: checks a captured webhook request offline.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <webhookd/verify.hpp>

#include "app/commands.hpp"
#include "app/duration.hpp"

namespace webhookd::app {

int RunVerify(const VerifyOptions& options) {
  Result<std::chrono::milliseconds> tolerance = ParseDuration(options.tolerance);
  if (!tolerance.ok()) {
    std::fprintf(stderr, "webhookd verify: --tolerance: %s\n", tolerance.error().message.c_str());
    return 2;
  }
  std::ifstream in(options.body_file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "webhookd verify: cannot read %s\n", options.body_file.c_str());
    return 2;
  }
  std::stringstream body;
  body << in.rdbuf();
  const auto now = options.now
                       ? std::chrono::system_clock::time_point(std::chrono::seconds(*options.now))
                       : std::chrono::system_clock::now();
  const VerifyResult result =
      Verify(options.secret, options.id, options.timestamp, options.signature, body.str(), now,
             std::chrono::duration_cast<std::chrono::seconds>(*tolerance));
  if (result.ok()) {
    std::printf("verified\n");
    return 0;
  }
  std::printf("NOT verified (%s): %s\n", ToString(result.status), result.message.c_str());
  return 1;
}

}  // namespace webhookd::app
