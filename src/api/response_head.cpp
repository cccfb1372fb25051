#include "api/response_head.hpp"

#include <algorithm>
#include <array>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/status.hpp>

#include "core/text.hpp"

namespace webhookd::api {
namespace {

bool HasNoBody(int status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

bool IsServerOwned(std::string_view name) {
  static constexpr std::array<std::string_view, 5> kOwned = {
      "server", "content-type", "content-length", "connection", "transfer-encoding"};
  return std::any_of(kOwned.begin(), kOwned.end(),
                     [name](std::string_view owned) { return boost::beast::iequals(name, owned); });
}

void AppendHeader(std::string& head, std::string_view name, std::string_view value) {
  head.append(name).append(": ").append(value).append("\r\n");
}

}  // namespace

std::string ResponseHead(const Response& response, unsigned version, bool keep_alive) {
  const auto status = static_cast<boost::beast::http::status>(response.status);
  std::string head;
  head.reserve(160);
  head.append("HTTP/")
      .append(1, static_cast<char>('0' + version / 10))
      .append(1, '.')
      .append(1, static_cast<char>('0' + version % 10))
      .append(1, ' ')
      .append(std::to_string(response.status))
      .append(1, ' ')
      .append(boost::beast::http::obsolete_reason(status))
      .append("\r\n");
  AppendHeader(head, "Server", "webhookd");
  const bool no_body = HasNoBody(response.status);
  if (!no_body) AppendHeader(head, "Content-Type", response.content_type);
  for (const auto& [name, value] : response.headers) {
    if (HasLineBreak(name) || HasLineBreak(value) || IsServerOwned(name)) continue;
    AppendHeader(head, name, value);
  }
  if (version >= 11 && !keep_alive) AppendHeader(head, "Connection", "close");
  if (version < 11 && keep_alive) AppendHeader(head, "Connection", "keep-alive");
  if (!no_body) AppendHeader(head, "Content-Length", std::to_string(response.body.size()));
  head.append("\r\n");
  return head;
}

std::string_view ResponseBody(const Response& response, bool head_only) {
  if (head_only || HasNoBody(response.status)) return {};
  return response.body;
}

}  // namespace webhookd::api
