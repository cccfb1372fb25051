#include "app/receiver.hpp"

#include <fmt/core.h>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <thread>
#include <webhookd/verify.hpp>

#include "app/pretty_json.hpp"
#include "core/time_format.hpp"

namespace webhookd::app {
namespace {

std::string Or(std::string_view value, std::string_view fallback) {
  return std::string(value.empty() ? fallback : value);
}

// "14:03:12.345Z": the time of day in UTC is enough on a line of a development tool.
std::string TimeOf(std::chrono::system_clock::time_point t) {
  const std::string full = FormatRfc3339(
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
  return full.substr(full.find('T') + 1);
}

std::string BodyForPrinting(const std::string& body) {
  boost::json::error_code ec;
  const boost::json::value parsed = boost::json::parse(body, ec);
  if (ec) return "    " + body + "  (not JSON)";
  return "    " + PrettyJson(parsed, "    ");
}

api::Response ErrorAnswer(int status, std::string_view why) {
  api::Response response;
  response.status = status;
  response.body = boost::json::serialize(boost::json::object{{"error", why}});
  return response;
}

}  // namespace

Receiver::Receiver(ReceiverOptions options)
    : options_(std::move(options)),
      router_([](const api::Request&) -> Result<api::Principal> { return api::Principal{}; }),
      random_(options_.seed) {
  router_.SetFallback([this](api::Call& call) { return Handle(call.request); });
  api::ServerOptions server_options;
  server_options.host = options_.host;
  server_options.port = options_.port;
  server_options.threads = options_.threads;
  server_options.max_body_bytes = 16 * 1024 * 1024;
  server_options.drain_timeout = std::chrono::seconds(2);
  server_ = std::make_unique<api::HttpServer>(server_options, router_);
}

Receiver::~Receiver() = default;

Result<std::uint16_t> Receiver::Listen() { return server_->Listen(); }
void Receiver::Run() { server_->Run(); }
void Receiver::Shutdown() { server_->Shutdown(); }

ReceiverStats Receiver::Stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

std::optional<bool> Receiver::AllVerified(std::string_view webhook_id) const {
  std::lock_guard lock(mu_);
  const auto it = seen_.find(webhook_id);
  if (it == seen_.end()) return std::nullopt;
  return it->second.all_verified;
}

api::Response Receiver::Handle(const api::Request& request) {
  if (request.method != "POST") {
    api::Response refused = ErrorAnswer(405, "webhooks are POST requests");
    refused.headers.emplace_back("allow", "POST");
    return refused;
  }
  const auto arrived = std::chrono::system_clock::now();
  const Verdict verdict = Check(request);
  const int status = Decide(request, verdict);
  if (options_.delay.count() > 0) std::this_thread::sleep_for(options_.delay);
  PrintLine(arrived, request, verdict, status);
  if (verdict.kind == Verdict::Kind::kFailed) return ErrorAnswer(status, verdict.text);
  if (status < 200 || status > 299) return ErrorAnswer(status, "failure simulated by the receiver");
  api::Response response;
  response.status = status;
  if (options_.respond_body.empty()) {
    response.content_type = "text/plain";
  } else {
    response.body = options_.respond_body;
  }
  return response;
}

Receiver::Verdict Receiver::Check(const api::Request& request) const {
  if (options_.secret.empty()) return {Verdict::Kind::kUnverified, "unverified (no --secret)"};
  const VerifyResult result =
      Verify(options_.secret, request.Header("webhook-id"), request.Header("webhook-timestamp"),
             request.Header("webhook-signature"), request.body);
  if (result.ok()) return {Verdict::Kind::kVerified, "verified"};
  return {Verdict::Kind::kFailed,
          fmt::format("NOT verified: {} ({})", result.message, ToString(result.status))};
}

int Receiver::Decide(const api::Request& request, const Verdict& verdict) {
  std::lock_guard lock(mu_);
  ++stats_.received;
  switch (verdict.kind) {
    case Verdict::Kind::kVerified:
      ++stats_.verified;
      break;
    case Verdict::Kind::kFailed:
      ++stats_.failed_verification;
      break;
    case Verdict::Kind::kUnverified:
      ++stats_.unverified;
      break;
  }
  Seen& seen = seen_[std::string(request.Header("webhook-id"))];
  ++seen.requests;
  seen.all_verified = seen.all_verified && verdict.kind == Verdict::Kind::kVerified;

  int status = options_.status;
  if (verdict.kind == Verdict::Kind::kFailed) {
    status = 401;
  } else if (seen.requests <= options_.fail_first_attempts) {
    status = 500;
  } else if (options_.fail_rate > 0 &&
             std::uniform_real_distribution<double>(0, 1)(random_) < options_.fail_rate) {
    status = 500;
  }
  ++(status >= 200 && status <= 299 ? stats_.answered_2xx : stats_.answered_other);
  return status;
}

void Receiver::PrintLine(std::chrono::system_clock::time_point arrived, const api::Request& request,
                         const Verdict& verdict, int status) {
  if (options_.out == nullptr) return;
  std::string text =
      fmt::format("{}{}  {}  {}  {}  {}  answered {}\n", options_.line_prefix, TimeOf(arrived),
                  request.path, Or(request.Header("x-webhook-event"), "-"),
                  Or(request.Header("webhook-id"), "(no webhook-id)"), verdict.text, status);
  if (options_.print_body) text += BodyForPrinting(request.body) + "\n";
  std::lock_guard lock(print_mu_);
  std::fputs(text.c_str(), options_.out);
  std::fflush(options_.out);
}

}  // namespace webhookd::app
