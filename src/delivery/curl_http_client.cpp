#include "delivery/curl_http_client.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <mutex>
#include <utility>

#include "core/text.hpp"
#include "core/thread_name.hpp"

namespace webhookd::delivery {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Longest wait in curl_multi_poll when nothing happens; Send and Stop wake it earlier.
constexpr int kIdlePollMs = 1'000;

std::int64_t MillisSince(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start).count();
}

std::string_view Trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n";
  std::size_t first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

HttpResponse CancelledResponse(SteadyClock::time_point started) {
  HttpResponse response;
  response.transport_error = true;
  response.cancelled = true;
  response.error = "cancelled: the HTTP client is shutting down";
  response.duration_ms = MillisSince(started);
  return response;
}

}  // namespace

// Everything one request needs while libcurl works on it. Owned by `active_`; its address is
// handed to libcurl's callbacks.
struct CurlHttpClient::Transfer {
  Queued queued;
  const SsrfGuard* guard = nullptr;
  CURL* easy = nullptr;
  curl_slist* header_list = nullptr;
  HttpResponse response;
  char error_buffer[CURL_ERROR_SIZE] = {};
  std::vector<std::string> refusals;  // SSRF guard messages, one per refused address

  ~Transfer() {
    curl_slist_free_all(header_list);
    if (easy != nullptr) curl_easy_cleanup(easy);
  }

  static size_t OnBody(char* data, size_t size, size_t count, void* user) {
    auto* self = static_cast<Transfer*>(user);
    std::string& body = self->response.body;
    size_t bytes = size * count;
    size_t room = kMaxResponseBodyBytes - body.size();
    body.append(data, std::min(bytes, room));
    if (bytes > room) self->response.body_truncated = true;
    return bytes;  // everything is "consumed": a large body is not an error
  }

  static size_t OnHeader(char* data, size_t size, size_t count, void* user) {
    auto* self = static_cast<Transfer*>(user);
    std::string_view line(data, size * count);
    if (line.starts_with("HTTP/")) {
      self->response.headers.clear();  // a new response (after 1xx): keep the final one's
    } else if (size_t colon = line.find(':'); colon != std::string_view::npos) {
      self->response.headers.emplace_back(Lowercase(Trim(line.substr(0, colon))),
                                          std::string(Trim(line.substr(colon + 1))));
    }
    return size * count;
  }

  static curl_socket_t OnOpenSocket(void* user, curlsocktype, curl_sockaddr* address) {
    auto* self = static_cast<Transfer*>(user);
    SsrfDecision decision = self->guard->Check(&address->addr);
    if (!decision.allowed) {
      self->refusals.push_back(std::move(decision.message));
      return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  }

  // The text of a failed transfer: the guard's reasons when it refused every address,
  // otherwise libcurl's error name and its detailed message.
  std::string ErrorText(CURLcode code) const {
    if (!refusals.empty() && code == CURLE_COULDNT_CONNECT) {
      std::string text = refusals.front();
      for (size_t i = 1; i < refusals.size(); ++i) text += "; " + refusals[i];
      return text;
    }
    std::string text = curl_easy_strerror(code);
    if (error_buffer[0] != '\0') text += std::string(": ") + error_buffer;
    return text;
  }
};

Result<std::unique_ptr<CurlHttpClient>> CurlHttpClient::Create(CurlHttpClientOptions options) {
  static const CURLcode global_init = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (global_init != CURLE_OK) {
    return Error::Internal(std::string("curl_global_init: ") + curl_easy_strerror(global_init));
  }
  CURLM* multi = curl_multi_init();
  if (multi == nullptr) return Error::Internal("curl_multi_init failed");
  curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                    static_cast<long>(options.max_host_connections));
  curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                    static_cast<long>(options.max_total_connections));
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(options.max_total_connections));
  return std::unique_ptr<CurlHttpClient>(new CurlHttpClient(std::move(options), multi));
}

CurlHttpClient::CurlHttpClient(CurlHttpClientOptions options, CURLM* multi)
    : options_(std::move(options)), multi_(multi) {
  for (const std::string& entry : options_.resolve) {
    resolve_list_ = curl_slist_append(resolve_list_, entry.c_str());
  }
  // Started here, in the body, once every member is constructed.
  thread_ = NamedThread("http-client", [this] { Run(); });
}

CurlHttpClient::~CurlHttpClient() {
  Stop();
  curl_multi_cleanup(multi_);
  curl_slist_free_all(resolve_list_);
}

void CurlHttpClient::Send(HttpRequest request, Callback done) {
  Queued queued{std::move(request), std::move(done), SteadyClock::now()};
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      // One wake-up (a write to libcurl's wake-up pipe) per burst: while requests are queued
      // a wake-up is already pending, and the transfer thread adopts the whole queue at once.
      const bool first = queue_.empty();
      queue_.push_back(std::move(queued));
      if (first) curl_multi_wakeup(multi_);
      return;
    }
  }
  queued.done(CancelledResponse(queued.enqueued_at));
}

void CurlHttpClient::Stop() {
  std::lock_guard stop_lock(stop_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      stopping_ = true;
      deadline_ = SteadyClock::now() + options_.shutdown_grace;
    }
  }
  curl_multi_wakeup(multi_);
  if (thread_.joinable()) thread_.join();
}

void CurlHttpClient::Run() {
  for (;;) {
    AdoptQueued();
    int running = 0;
    curl_multi_perform(multi_, &running);
    CompleteFinished();
    if (ShouldExit()) break;
    curl_multi_poll(multi_, nullptr, 0, kIdlePollMs, nullptr);
  }
  CancelEverything();
}

void CurlHttpClient::AdoptQueued() {
  std::vector<Queued> adopted;
  {
    std::lock_guard lock(mutex_);
    adopted.swap(queue_);
  }
  for (Queued& queued : adopted) Start(std::move(queued));
}

void CurlHttpClient::Start(Queued queued) {
  auto transfer = std::make_unique<Transfer>();
  transfer->queued = std::move(queued);
  transfer->guard = &options_.ssrf_guard;
  transfer->easy = curl_easy_init();
  if (transfer->easy == nullptr) {
    HttpResponse response;
    response.transport_error = true;
    response.error = "could not create a libcurl transfer";
    transfer->queued.done(std::move(response));
    return;
  }
  const HttpRequest& request = transfer->queued.request;
  for (const auto& [name, value] : request.headers) {
    // "name;" is libcurl's spelling of a header with an empty value.
    std::string line = value.empty() ? name + ";" : name + ": " + value;
    transfer->header_list = curl_slist_append(transfer->header_list, line.c_str());
  }
  // No "Expect: 100-continue" round trip before larger bodies.
  transfer->header_list = curl_slist_append(transfer->header_list, "Expect:");

  CURL* easy = transfer->easy;
  Transfer* self = transfer.get();
  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_POST, 1L);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, transfer->header_list);
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_PROXY, "");  // never via a proxy: the guard checks the target
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (resolve_list_ != nullptr) curl_easy_setopt(easy, CURLOPT_RESOLVE, resolve_list_);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout_ms));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout_ms));
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, self->error_buffer);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Transfer::OnBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, self);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Transfer::OnHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, self);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &Transfer::OnOpenSocket);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, self);

  CURLMcode added = curl_multi_add_handle(multi_, easy);
  if (added != CURLM_OK) {
    HttpResponse response;
    response.transport_error = true;
    response.error = std::string("could not start the transfer: ") + curl_multi_strerror(added);
    transfer->queued.done(std::move(response));
    return;
  }
  active_.emplace(easy, std::move(transfer));
}

void CurlHttpClient::CompleteFinished() {
  int remaining = 0;
  while (CURLMsg* message = curl_multi_info_read(multi_, &remaining)) {
    if (message->msg != CURLMSG_DONE) continue;
    auto node = active_.extract(message->easy_handle);
    if (node.empty()) continue;
    CURLcode code = message->data.result;
    curl_multi_remove_handle(multi_, node.key());

    Transfer& transfer = *node.mapped();
    HttpResponse& response = transfer.response;
    if (code == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(transfer.easy, CURLINFO_RESPONSE_CODE, &status);
      response.status_code = static_cast<int>(status);
    } else {
      response.status_code = 0;
      response.transport_error = true;
      response.timed_out = code == CURLE_OPERATION_TIMEDOUT;
      response.error = transfer.ErrorText(code);
    }
    response.duration_ms = MillisSince(transfer.queued.enqueued_at);
    transfer.queued.done(std::move(response));
  }
}

bool CurlHttpClient::ShouldExit() {
  std::lock_guard lock(mutex_);
  if (!stopping_) return false;
  return (active_.empty() && queue_.empty()) || SteadyClock::now() >= deadline_;
}

void CurlHttpClient::CancelEverything() {
  for (auto& [easy, transfer] : active_) {
    curl_multi_remove_handle(multi_, easy);
    transfer->queued.done(CancelledResponse(transfer->queued.enqueued_at));
  }
  active_.clear();
  std::vector<Queued> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(queue_);
  }
  for (Queued& queued : left) queued.done(CancelledResponse(queued.enqueued_at));
}

}  // namespace webhookd::delivery
