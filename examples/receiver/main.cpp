// Verifies one captured webhook with the installed webhookd::verify library and says why it
// fails, the way a receiver's request handler would before trusting a body.
//
//   verify_capture --secret whsec_... --id msg_... --timestamp 1614265330 \
//                  --signature "v1,..." --body body.json [--now 1614265330]
//
// --now (Unix seconds) replaces the clock, to check an old capture against the 5-minute
// tolerance as of when it arrived. Prints "verified" and exits 0, or "not verified: ..." and
// exits 1; usage errors exit 2.
#include <charconv>
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <webhookd/verify.hpp>

namespace {

constexpr const char* kUsage =
    "usage: verify_capture --secret SECRET --id WEBHOOK_ID --timestamp UNIX_SECONDS\n"
    "                      --signature SIGNATURES --body FILE [--now UNIX_SECONDS]\n";

std::optional<std::map<std::string, std::string>> ParseArguments(int argc, char** argv) {
  std::map<std::string, std::string> options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i];
    if (name.rfind("--", 0) != 0) return std::nullopt;
    options[name.substr(2)] = argv[i + 1];
  }
  if (argc % 2 == 0) return std::nullopt;
  for (const char* required : {"secret", "id", "timestamp", "signature", "body"}) {
    if (options.count(required) == 0) return std::nullopt;
  }
  return options;
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::optional<std::chrono::system_clock::time_point> ParseNow(const std::string& text) {
  long long seconds = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return std::chrono::system_clock::time_point(std::chrono::seconds(seconds));
}

}  // namespace

int main(int argc, char** argv) {
  const auto options = ParseArguments(argc, argv);
  if (!options) {
    std::cerr << kUsage;
    return 2;
  }
  const auto body = ReadFile(options->at("body"));
  if (!body) {
    std::cerr << "cannot read " << options->at("body") << "\n";
    return 2;
  }
  auto now = std::chrono::system_clock::now();
  if (options->count("now") != 0) {
    const auto given = ParseNow(options->at("now"));
    if (!given) {
      std::cerr << "--now must be Unix seconds\n" << kUsage;
      return 2;
    }
    now = *given;
  }
  // The body is verified byte for byte, exactly as captured: never re-encode it first.
  const webhookd::VerifyResult result =
      webhookd::Verify(options->at("secret"), options->at("id"), options->at("timestamp"),
                       options->at("signature"), *body, now);
  if (!result.ok()) {
    std::cout << "not verified: " << webhookd::ToString(result.status) << ": " << result.message
              << "\n";
    return 1;
  }
  std::cout << "verified\n";
  return 0;
}
