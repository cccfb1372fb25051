// `webhookd demo`: the whole system on one machine in under a minute, with nothing else running.
//
// A `webhookd serve` child on a temporary SQLite database, two in-process receivers (the
// `listen` engine), one configuration per event type, the 12 sample events, and a table of
// what happened. One receiver fails the first two attempts on purpose to show retries.
#include <fmt/core.h>
#include <stdlib.h>

#include <boost/json/parse.hpp>
#include <cstdio>
#include <thread>

#include "app/api_client.hpp"
#include "app/child_server.hpp"
#include "app/commands.hpp"
#include "app/pretty_json.hpp"
#include "app/receiver.hpp"
#include "crypto/secret.hpp"

namespace webhookd::app {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr std::int64_t kOrganization = 1;
// Short waits so that retries show within seconds; the fourth attempt is a spare.
constexpr const char* kRetrySchedule = "0s,1s,2s,2s";
constexpr int kFailedAttempts = 2;
constexpr std::string_view kRetryingType = "InferenceToObservations";
constexpr auto kServerStartTimeout = 20s;
constexpr auto kDeliveryTimeout = 40s;

// What an inference service would answer to the sample InferenceToObservations event.
constexpr const char* kObservations = R"({
  "fileId": "1042_6f1c2d9e-3b7a-4c55-9e0f-8a2b7c4d1e90",
  "observations": [
    {"code": "2093-3", "display": "Cholesterol, total", "value": "212", "unit": "mg/dL",
     "referenceRange": "<200", "effectiveDate": "2024-06-10"},
    {"code": "2085-9", "display": "HDL cholesterol", "value": "38", "unit": "mg/dL",
     "referenceRange": ">40", "effectiveDate": "2024-06-10"}
  ],
  "summary": ["Total cholesterol is above the reference range.",
              "HDL cholesterol is below the reference range."]
})";

// A temporary directory, removed with its contents unless the user wants to keep it.
class DemoDir {
 public:
  explicit DemoDir(bool keep) : keep_(keep) {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/webhookd-demo-XXXXXX";
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~DemoDir() {
    if (path_.empty()) return;
    if (keep_) {
      std::printf("\nKept %s (demo.db: the database, server.log: the server's log).\n",
                  path_.c_str());
      return;
    }
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  DemoDir(const DemoDir&) = delete;
  DemoDir& operator=(const DemoDir&) = delete;

  bool ok() const { return !path_.empty(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  bool keep_;
};

// A Receiver serving on its own thread until destroyed.
class ReceiverThread {
 public:
  explicit ReceiverThread(ReceiverOptions options) : receiver_(std::move(options)) {}
  ~ReceiverThread() {
    if (!thread_.joinable()) return;
    receiver_.Shutdown();
    thread_.join();
  }
  ReceiverThread(const ReceiverThread&) = delete;
  ReceiverThread& operator=(const ReceiverThread&) = delete;

  Status Start() {
    Result<std::uint16_t> port = receiver_.Listen();
    if (!port.ok()) return port.error();
    port_ = *port;
    thread_ = std::thread([this] { receiver_.Run(); });
    return Status::Ok();
  }
  std::string Url(std::string_view path) const {
    return fmt::format("http://127.0.0.1:{}{}", port_, path);
  }
  const Receiver& receiver() const { return receiver_; }

 private:
  Receiver receiver_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

// One line of the final table.
struct Row {
  const EventTypeInfo* type = nullptr;
  std::string event_id;
  DeliveryState delivery;
  bool verified = false;
};

ReceiverOptions DemoReceiver(std::string secret, std::string prefix) {
  ReceiverOptions options;
  options.port = 0;
  options.secret = std::move(secret);
  options.line_prefix = std::move(prefix);
  options.threads = 2;
  options.seed = 1;
  return options;
}

Status CreateConfigurations(ApiClient& client, const std::vector<EventTypeInfo>& types,
                            const ReceiverThread& main_receiver, const std::string& main_secret,
                            const ReceiverThread& retrying, const std::string& retrying_secret) {
  for (const EventTypeInfo& type : types) {
    const bool retries = type.name == kRetryingType;
    const json::object body{
        {"organizationId", kOrganization},
        {"name", "demo " + type.name},
        {"url", retries ? retrying.Url("/inference") : main_receiver.Url("/webhooks")},
        {"webhookEventId", type.id},
        {"secret", retries ? retrying_secret : main_secret},
        {"attributes", {{"organizationCode", "DEMO-ORG"}}}};
    Result<json::value> created = client.Call("POST", "/external-events", body);
    if (!created.ok()) {
      return Error::Unavailable("creating the " + type.name +
                                " configuration failed: " + created.error().message);
    }
  }
  return Status::Ok();
}

Result<std::vector<Row>> TriggerAll(ApiClient& client, const std::vector<EventTypeInfo>& types) {
  std::vector<Row> rows;
  for (const EventTypeInfo& type : types) {
    Result<AcceptedEvent> event = client.PostEvent(kOrganization, type.name, type.sample);
    if (!event.ok()) {
      return Error::Unavailable("triggering " + type.name + " failed: " + event.error().message);
    }
    if (event->deliveries.size() != 1) {
      return Error::Unavailable(
          fmt::format("{} made {} deliveries instead of 1", type.name, event->deliveries.size()));
    }
    rows.push_back({&type, event->id, event->deliveries.front(), false});
  }
  return rows;
}

Status WaitForDeliveries(ApiClient& client, std::vector<Row>& rows) {
  const auto deadline = std::chrono::steady_clock::now() + kDeliveryTimeout;
  for (Row& row : rows) {
    const auto left = std::max(0ms, std::chrono::duration_cast<std::chrono::milliseconds>(
                                        deadline - std::chrono::steady_clock::now()));
    Result<std::vector<DeliveryState>> states = client.WaitUntilFinal(row.event_id, left);
    if (!states.ok()) return states.error();
    if (states->size() == 1) row.delivery = states->front();
  }
  return Status::Ok();
}

void PrintTable(const std::vector<Row>& rows) {
  std::size_t type_width = 10;
  std::size_t id_width = 8;
  for (const Row& row : rows) {
    type_width = std::max(type_width, row.type->name.size());
    id_width = std::max(id_width, row.delivery.id.size());
  }
  std::printf("\n%-*s  %-*s  %-10s  %-8s  %-9s  %s\n", static_cast<int>(type_width), "EVENT TYPE",
              static_cast<int>(id_width), "DELIVERY", "STATUS", "ATTEMPTS", "LAST CODE",
              "SIGNATURE VERIFIED");
  for (const Row& row : rows) {
    const std::string code = row.delivery.last_status_code == 0
                                 ? std::string("-")
                                 : std::to_string(row.delivery.last_status_code);
    std::printf("%-*s  %-*s  %-10s  %-8lld  %-9s  %s\n", static_cast<int>(type_width),
                row.type->name.c_str(), static_cast<int>(id_width), row.delivery.id.c_str(),
                row.delivery.status.c_str(), static_cast<long long>(row.delivery.attempts),
                code.c_str(), row.verified ? "yes" : "no");
  }
}

void PrintInferenceResult(ApiClient& client, const std::vector<Row>& rows) {
  for (const Row& row : rows) {
    if (row.type->name != kRetryingType) continue;
    const std::string path = "/events/" + row.event_id + "/result";
    Result<json::value> result = client.Call("GET", path);
    std::printf("\n%s result (GET %s):\n", row.type->name.c_str(), path.c_str());
    if (!result.ok()) {
      std::printf("  unavailable: %s\n", result.error().message.c_str());
      continue;
    }
    std::printf("  %s\n", PrettyJson(*result, "  ").c_str());
  }
}

// The demo once the temporary directory exists; the caller cleans up.
int RunIn(const DemoDir& dir) {
  const std::string main_secret = crypto::GenerateSecret();
  const std::string retrying_secret = crypto::GenerateSecret();
  ReceiverThread main_receiver(DemoReceiver(main_secret, "  receiver 1 | "));
  ReceiverOptions retrying_options = DemoReceiver(retrying_secret, "  receiver 2 | ");
  retrying_options.fail_first_attempts = kFailedAttempts;
  retrying_options.respond_body = kObservations;
  ReceiverThread retrying(std::move(retrying_options));
  for (ReceiverThread* r : {&main_receiver, &retrying}) {
    if (Status s = r->Start(); !s.ok()) {
      std::fprintf(stderr, "webhookd demo: cannot start a receiver: %s\n",
                   s.error().message.c_str());
      return 1;
    }
  }
  const std::string db = "sqlite:" + (dir.path() / "demo.db").string();
  Result<std::unique_ptr<ChildServer>> server = ChildServer::Start(
      {"serve", "--listen", "127.0.0.1:0", "--db", db, "--allow-insecure-urls", "--allow-target",
       "127.0.0.0/8", "--retry-schedule", kRetrySchedule, "--threads", "2"},
      dir.path(), kServerStartTimeout);
  if (!server.ok()) {
    std::fprintf(stderr, "webhookd demo: %s\n", server.error().message.c_str());
    return 1;
  }
  std::printf("1. Server: %s (webhookd serve, SQLite database in %s, retry schedule %s)\n",
              (*server)->url().c_str(), dir.path().c_str(), kRetrySchedule);
  std::printf(
      "2. Receivers: %s verifies signatures for 11 event types;\n"
      "   %s takes %.*s, fails its first %d attempts, then answers observations\n",
      main_receiver.Url("/").c_str(), retrying.Url("/").c_str(),
      static_cast<int>(kRetryingType.size()), kRetryingType.data(), kFailedAttempts);

  ApiClient client((*server)->url(), (*server)->admin_key());
  Result<std::vector<EventTypeInfo>> types = client.EventTypes();
  if (!types.ok()) {
    std::fprintf(stderr, "webhookd demo: GET /event-types: %s\n", types.error().message.c_str());
    return 1;
  }
  if (Status s = CreateConfigurations(client, *types, main_receiver, main_secret, retrying,
                                      retrying_secret);
      !s.ok()) {
    std::fprintf(stderr, "webhookd demo: %s\n", s.error().message.c_str());
    return 1;
  }
  std::printf("3. Created 12 configurations for organization %lld, one per event type\n",
              static_cast<long long>(kOrganization));
  std::printf("4. Triggering the 12 sample events; the receivers print each request:\n");
  std::fflush(stdout);
  Result<std::vector<Row>> rows = TriggerAll(client, *types);
  if (!rows.ok()) {
    std::fprintf(stderr, "webhookd demo: %s\n", rows.error().message.c_str());
    return 1;
  }
  if (Status s = WaitForDeliveries(client, *rows); !s.ok()) {
    std::fprintf(stderr, "webhookd demo: %s\n", s.error().message.c_str());
    return 1;
  }
  bool all_good = true;
  for (Row& row : *rows) {
    const ReceiverThread& receiver = row.type->name == kRetryingType ? retrying : main_receiver;
    row.verified = receiver.receiver().AllVerified(row.event_id).value_or(false);
    all_good = all_good && row.verified && row.delivery.status == "succeeded";
  }
  std::printf("\n5. Results (GET /events/{id}):");
  PrintTable(*rows);
  PrintInferenceResult(client, *rows);
  (*server)->Stop();
  if (all_good) {
    std::printf(
        "\nAll 12 deliveries succeeded and every signature verified.\n"
        "Next: `make run`, then `webhookd listen` and `webhookd trigger` "
        "(see docs/receiving.md).\n");
    return 0;
  }
  std::printf(
      "\nNot every delivery succeeded with a verified signature; the server log is %s "
      "(run with --keep to look at it).\n",
      (*server)->log_path().c_str());
  return 1;
}

}  // namespace

int RunDemo(const DemoOptions& options) {
  if (!ConfigureLogging("warn")) return 2;
  DemoDir dir(options.keep);
  if (!dir.ok()) {
    std::fprintf(stderr, "webhookd demo: cannot create a temporary directory\n");
    return 1;
  }
  std::printf("webhookd demo: the whole system on this machine; nothing else needs to run.\n\n");
  std::fflush(stdout);
  return RunIn(dir);
}

}  // namespace webhookd::app
