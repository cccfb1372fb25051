// `webhookd listen`: a local receiver for development.
#include <boost/json/parse.hpp>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <webhookd/verify.hpp>

#include "app/commands.hpp"
#include "app/duration.hpp"
#include "app/receiver.hpp"

namespace webhookd::app {
namespace {

std::optional<std::string> ReadJsonFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  boost::json::error_code ec;
  boost::json::parse(text.str(), ec);
  if (ec) return std::nullopt;
  return text.str();
}

void PrintSummary(const ReceiverStats& s) {
  std::printf(
      "\nwebhookd listen: stopped. received %lld: verified %lld, failed verification %lld, "
      "unverified %lld; answered 2xx %lld, other %lld\n",
      static_cast<long long>(s.received), static_cast<long long>(s.verified),
      static_cast<long long>(s.failed_verification), static_cast<long long>(s.unverified),
      static_cast<long long>(s.answered_2xx), static_cast<long long>(s.answered_other));
}

}  // namespace

int RunListen(const ListenOptions& options) {
  if (!ConfigureLogging("warn")) return 2;
  Result<std::chrono::milliseconds> delay = ParseDuration(options.delay);
  if (!delay.ok()) {
    std::fprintf(stderr, "webhookd listen: --delay: %s\n", delay.error().message.c_str());
    return 2;
  }
  if (!options.secret.empty()) {
    // The secret is checked before anything else, so empty headers reveal only its validity.
    const VerifyResult probe = Verify(options.secret, "", "", "", "");
    if (probe.status == VerifyStatus::kBadSecret) {
      std::fprintf(stderr, "webhookd listen: --secret: %s\n", probe.message.c_str());
      return 2;
    }
  }
  ReceiverOptions receiver_options;
  if (!options.respond_file.empty()) {
    std::optional<std::string> body = ReadJsonFile(options.respond_file);
    if (!body) {
      std::fprintf(stderr, "webhookd listen: --respond %s is not a readable JSON file\n",
                   options.respond_file.c_str());
      return 2;
    }
    receiver_options.respond_body = std::move(*body);
  }
  receiver_options.host = options.host;
  receiver_options.port = options.port;
  receiver_options.secret = options.secret;
  receiver_options.print_body = options.print_body;
  receiver_options.status = options.status;
  receiver_options.fail_rate = options.fail_rate;
  receiver_options.seed = options.seed ? *options.seed : std::random_device{}();
  receiver_options.delay = *delay;

  Receiver receiver(receiver_options);
  Result<std::uint16_t> port = receiver.Listen();
  if (!port.ok()) {
    std::fprintf(stderr, "webhookd listen: %s\n", port.error().message.c_str());
    return 1;
  }
  const bool v6 = options.host.find(':') != std::string::npos;
  std::printf("webhookd listen: receiving on http://%s%s%s:%u\n", v6 ? "[" : "",
              options.host.c_str(), v6 ? "]" : "", unsigned{*port});
  std::printf("%s\n", options.secret.empty()
                          ? "No --secret: signatures are not verified."
                          : "Verifying signatures; requests that fail verification get HTTP 401.");
  std::fflush(stdout);
  receiver.Run();
  PrintSummary(receiver.Stats());
  return 0;
}

}  // namespace webhookd::app
