// The HTTP request path: bytes -> Beast's parser and the server's framing rules
// (src/api/http_parsing.*) -> router -> handlers, against a temporary SQLite store, so that
// every handler's input checks are fuzzed too.
// Input: the bytes a client sends on one connection (several requests may follow each other).
// "$ADMIN_KEY" and "$ORG_KEY" in it stand for an admin key and a key of organization 1, which
// a fuzzer could not guess. The store keeps what earlier inputs created, as a server does.
// Besides not crashing: no request gets a 500 (bad input is a 4xx naming what is wrong), and
// every error is problem+json whose "status" is the response's.
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/json.hpp>
#include <cstring>
#include <filesystem>
#include <future>
#include <memory>
#include <string>

#include "api/api.hpp"
#include "api/http_parsing.hpp"
#include "api/problem.hpp"
#include "fuzz_input.hpp"
#include "store/open_store.hpp"

namespace {

using namespace webhookd;
using webhookd::fuzz::Broken;
namespace http = boost::beast::http;

constexpr std::size_t kMaxBodyBytes = 1024 * 1024;  // the server's default
constexpr int kMaxRequestsPerInput = 8;

// The server's parts as `webhookd serve` wires them, minus sockets and the dispatcher.
struct Server {
  Server() {
    directory =
        std::filesystem::temp_directory_path() / ("webhookd-fuzz-" + std::to_string(::getpid()));
    std::filesystem::remove_all(directory);
    std::filesystem::create_directories(directory);
    store = Must(OpenStore("sqlite:" + (directory / "fuzz.db").string(), clock));
    admin_key = Must(api::IssueApiKey(*store, std::nullopt, "fuzz admin")).key;
    org_key = Must(api::IssueApiKey(*store, 1, "fuzz org 1")).key;
    context.reset(new api::ApiContext{*store, catalog, clock, {}, nullptr, {}});
    context->options.allow_insecure_urls = true;
    router = api::BuildRouter(*context);
  }
  template <class T>
  static T Must(Result<T> result) {
    if (!result.ok()) Broken("the fuzz target's server cannot start");
    return std::move(*result);
  }

  std::filesystem::path directory;
  SystemClock clock;
  std::unique_ptr<Store> store;
  std::string admin_key;
  std::string org_key;
  Catalog catalog;
  std::unique_ptr<api::ApiContext> context;
  std::unique_ptr<api::Router> router;
};

Server& TheServer() {
  static Server* server = new Server();  // lives until exit, with its writer thread
  return *server;
}

std::string WithKeys(std::string text, const Server& server) {
  for (const auto& [placeholder, key] :
       {std::pair<std::string_view, const std::string&>{"$ADMIN_KEY", server.admin_key},
        {"$ORG_KEY", server.org_key}}) {
    for (std::size_t at = text.find(placeholder); at != std::string::npos;
         at = text.find(placeholder, at + key.size())) {
      text.replace(at, placeholder.size(), key);
    }
  }
  return text;
}

void CheckResponse(const api::Response& response) {
  if (response.status == 500) Broken("a request got a 500");
  if (response.status < 400) return;
  if (response.content_type != "application/problem+json") Broken("an error is not problem+json");
  boost::system::error_code ec;
  const boost::json::value problem = boost::json::parse(response.body, ec);
  const boost::json::value* status =
      !ec && problem.is_object() ? problem.as_object().if_contains("status") : nullptr;
  if (status == nullptr || !status->is_int64() || status->as_int64() != response.status) {
    Broken("a problem's status is not the response's");
  }
}

api::Response Dispatch(const api::Router& router, const api::Request& request) {
  std::promise<api::Response> answer;
  std::future<api::Response> response = answer.get_future();
  router.DispatchAsync(
      request, [](const std::function<void()>& work) { work(); },
      [&answer](api::Response r) { answer.set_value(std::move(r)); });
  return response.get();
}

// Reads the next request from `buffer` as HttpServer::Impl::ServeOne does and answers it.
// False when the connection would close or wait for more bytes.
bool ServeOne(const Server& server, boost::beast::flat_buffer& buffer) {
  http::request_parser<http::string_body> parser;
  parser.body_limit(kMaxBodyBytes);
  parser.header_limit(api::kMaxHeaderBytes);
  boost::beast::error_code ec;
  if (api::HasObsoleteLineFolding(api::HeaderBytes(buffer))) {
    ec = api::MakeError(api::FramingError::kObsoleteLineFolding);
  } else {
    buffer.consume(parser.put(buffer.data(), ec));
    if (ec == http::error::need_more || (!ec && !parser.is_header_done())) return false;
    if (!ec) ec = api::CheckFraming(parser.get());
  }
  parser.eager(true);  // as http::async_read reads a body
  while (!ec && !parser.is_done()) {
    const std::size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == http::error::need_more || (!ec && used == 0)) return false;
  }
  if (ec) {
    if (auto refusal = api::RefusalFor(ec, kMaxBodyBytes)) CheckResponse(*refusal);
    return false;
  }
  std::optional<api::Request> request = api::ToRequest(parser.get());
  if (!request) return parser.get().keep_alive();  // a 400, as HttpServer answers
  CheckResponse(Dispatch(*server.router, *request));
  return parser.get().keep_alive();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Server& server = TheServer();
  const std::string bytes = WithKeys(std::string(webhookd::fuzz::AsText(data, size)), server);
  boost::beast::flat_buffer buffer;
  buffer.commit(boost::asio::buffer_copy(buffer.prepare(bytes.size()), boost::asio::buffer(bytes)));
  for (int i = 0; i < kMaxRequestsPerInput && buffer.size() > 0; ++i) {
    if (!ServeOne(server, buffer)) break;
  }
  return 0;
}
