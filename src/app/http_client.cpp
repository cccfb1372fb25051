#include "app/http_client.hpp"

#include <curl/curl.h>

#include <memory>

namespace webhookd::app {
namespace {

constexpr std::string_view kUnreachable = "cannot reach ";

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlGlobal() { curl_global_cleanup(); }
};

std::size_t AppendBody(char* data, std::size_t size, std::size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

HeaderList Append(HeaderList list, const std::string& header) {
  curl_slist* appended = curl_slist_append(list.get(), header.c_str());
  if (appended != nullptr) {
    list.release();
    list.reset(appended);
  }
  return list;
}

}  // namespace

HttpClient::HttpClient(std::string base_url, std::string bearer) : base_url_(std::move(base_url)) {
  static CurlGlobal global;
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  if (!bearer.empty()) authorization_ = "Authorization: Bearer " + bearer;
  curl_ = curl_easy_init();
}

HttpClient::~HttpClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

Result<HttpReply> HttpClient::Send(std::string_view method, std::string_view path,
                                   std::string_view body) {
  CURL* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) return Error::Internal("libcurl could not be initialised");
  curl_easy_reset(curl);
  const std::string url = base_url_ + std::string(path);
  const std::string method_text(method);
  HttpReply reply;
  HeaderList headers;
  if (!authorization_.empty()) headers = Append(std::move(headers), authorization_);
  if (!body.empty()) headers = Append(std::move(headers), "Content-Type: application/json");
  headers = Append(std::move(headers), "Expect:");  // no 100-continue round trip
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method_text.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  if (!body.empty()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  const CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK) {
    return Error::Unavailable(std::string(kUnreachable) + base_url_ + ": " +
                              curl_easy_strerror(code));
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  const char* content_type = nullptr;
  curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &content_type);
  if (content_type != nullptr) reply.content_type = content_type;
  return reply;
}

bool IsUnreachable(const Error& error) {
  return error.kind == ErrorKind::kUnavailable && error.message.starts_with(kUnreachable);
}

}  // namespace webhookd::app
