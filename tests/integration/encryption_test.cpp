// Encryption at rest (issue 14, section 1): what reaches the database file, its WAL and a
// pg_dump is ciphertext while the API answers in the clear; a damaged value fails its own row;
// key rotation and rewrap; a missing key refuses the start; a database from before encryption.
#include <libpq-fe.h>
#include <sqlite3.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "crypto/crypto.hpp"
#include "crypto/field_cipher.hpp"
#include "delivery_support.hpp"

namespace webhookd::itest {
namespace {

std::string UniqueMarker(std::string_view what) {
  std::random_device random;
  return std::string(what) + "-" + std::to_string(random()) + std::to_string(random());
}

std::string NewSecret() { return "whsec_" + crypto::Base64Encode(crypto::RandomBytes(32)); }

// The test database read and written behind the server's back, as someone holding the file (or
// a database login) would: the first column of each row, as text.
std::vector<std::string> Sql(const TestDatabase& db, const std::string& sql) {
  std::vector<std::string> out;
  if (db.backend() == Backend::kSqlite) {
    sqlite3* handle = nullptr;
    const std::string path = db.url().substr(std::string_view("sqlite:").size());
    if (sqlite3_open(path.c_str(), &handle) != SQLITE_OK) {
      ADD_FAILURE() << "cannot open " << path;
      sqlite3_close(handle);
      return out;
    }
    sqlite3_busy_timeout(handle, 10'000);
    char* error = nullptr;
    const auto collect = [](void* sink, int, char** values, char**) {
      static_cast<std::vector<std::string>*>(sink)->push_back(values[0] ? values[0] : "");
      return 0;
    };
    if (sqlite3_exec(handle, sql.c_str(), collect, &out, &error) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << (error ? error : "?");
      sqlite3_free(error);
    }
    sqlite3_close(handle);
    return out;
  }
  PGconn* conn = PQconnectdb(db.url().c_str());
  PGresult* result = PQexec(conn, sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    ADD_FAILURE() << sql << ": " << PQerrorMessage(conn);
  } else {
    for (int i = 0; i < PQntuples(result); ++i) out.emplace_back(PQgetvalue(result, i, 0));
  }
  PQclear(result);
  PQfinish(conn);
  return out;
}

std::string PgDumpBinary() {
  for (const char* path : {"/usr/lib/postgresql/15/bin/pg_dump", "/usr/bin/pg_dump"}) {
    if (std::filesystem::exists(path)) return path;
  }
  return "";
}

// Everything an attacker with the storage would read: the SQLite file and its WAL, or a pg_dump
// of the PostgreSQL database.
std::string StoredBytes(const TestDatabase& db) {
  if (db.backend() == Backend::kSqlite) {
    const std::string path = db.url().substr(std::string_view("sqlite:").size());
    return ReadFile(path) + ReadFile(path + "-wal");
  }
  const std::string pg_dump = PgDumpBinary();
  if (pg_dump.empty()) {
    ADD_FAILURE() << "pg_dump not found";
    return "";
  }
  std::string out;
  FILE* pipe = popen((pg_dump + " --dbname='" + db.url() + "' 2>&1").c_str(), "r");
  char buf[65536];
  for (std::size_t n; pipe != nullptr && (n = fread(buf, 1, sizeof buf, pipe)) > 0;) {
    out.append(buf, n);
  }
  if (pipe != nullptr) pclose(pipe);
  EXPECT_NE(out.find("CREATE TABLE public.events"), std::string::npos) << out.substr(0, 500);
  return out;
}

class EncryptionTest : public DeliveryTest {
 protected:
  struct Stored {
    std::string config_path;
    std::string event_id;
    std::string delivery_id;
  };

  // A configuration with `secret` and `api_key` whose receiver answers `answer`, and one event
  // whose patient is named `patient`, delivered.
  Stored StoreOneDelivered(HttpReceiver& receiver, const std::string& secret,
                           const std::string& api_key, const std::string& patient) {
    HttpClient admin = Admin();
    json::object body = HookBody(1, "BookAppointment", receiver.Url("/hook"));
    body["secret"] = secret;
    body["attributes"] = {{"apiKey", api_key}, {"organizationCode", "ORG-7"}};
    const json::object config = CreateConfig(admin, body);
    if (HasFailure()) return {};
    json::object payload = Appointment(admin, 1);
    payload["patient"].as_object()["firstName"] = patient;
    const HttpResponse accepted = PostEvent(admin, "BookAppointment", 1, payload);
    EXPECT_TRUE(IsJson(accepted, 202));
    if (HasFailure()) return {};
    const std::string delivery = AcceptedDeliveries(accepted).at(IdOf(config));
    EXPECT_EQ(WaitForStatus(admin, delivery, "succeeded", 10s).at("status"), "succeeded");
    return {ConfigPath(config), std::string(accepted.json.at("id").as_string()), delivery};
  }

  // The API answers every value in the clear.
  void ExpectApiReturns(const Stored& stored, const std::string& secret, const std::string& api_key,
                        const std::string& patient, const std::string& answer) {
    HttpClient admin = Admin();
    const HttpResponse config = admin.Get(stored.config_path);
    ASSERT_TRUE(IsJson(config, 200));
    EXPECT_EQ(config.json.at("secret"), json::value(secret));
    EXPECT_EQ(*At(config.json, "/attributes/apiKey"), json::value(api_key));
    const HttpResponse event = admin.Get("/events/" + stored.event_id);
    ASSERT_TRUE(IsJson(event, 200));
    EXPECT_EQ(*At(event.json, "/payload/patient/firstName"), json::value(patient));
    const json::array attempts = Attempts(admin, stored.delivery_id);
    ASSERT_FALSE(attempts.empty());
    EXPECT_EQ(attempts.back().at("responseBody"), json::value(answer));
  }

  std::string RunOk(const std::vector<std::string>& args) {
    const CommandResult r = RunCommand(args);
    EXPECT_EQ(r.exit_code, 0) << "stdout: " << r.out << "\nstderr: " << r.err;
    return r.out;
  }
};

TEST_F(EncryptionTest, DatabaseHoldsNoPayloadSecretApiKeyOrAnswerWhileTheApiReturnsThem) {
  const std::string secret = NewSecret();
  const std::string api_key = UniqueMarker("APIKEY");
  const std::string patient = UniqueMarker("PATIENT");
  const std::string answer = UniqueMarker("OBSERVATION");
  HttpReceiver receiver([&](const ReceivedRequest&) { return Answer(200, answer); });
  const Stored stored = StoreOneDelivered(receiver, secret, api_key, patient);
  ASSERT_FALSE(HasFailure());
  ExpectApiReturns(stored, secret, api_key, patient, answer);

  const std::string bytes = StoredBytes(*database_);
  ASSERT_FALSE(bytes.empty());
  for (const std::string& marker : {patient, api_key, answer, secret.substr(6)}) {
    EXPECT_EQ(bytes.find(marker), std::string::npos) << marker << " is stored in the clear";
  }
  // What is stored is the sealed form, under the key of the key file.
  const std::vector<std::string> payload =
      Sql(*database_, "SELECT payload FROM events WHERE id = '" + stored.event_id + "'");
  ASSERT_EQ(payload.size(), 1u);
  // On SQLite as bytes, in a BLOB (a third shorter than base64).
  EXPECT_TRUE(payload[0].starts_with(database_->backend() == Backend::kSqlite ? "$wk2$key-1$"
                                                                              : "$wk1$test-key-1$"))
      << payload[0].substr(0, 40);
  // The key file beside an SQLite database is private to its owner.
  EXPECT_EQ(
      std::filesystem::status(database_->key_file()).permissions() & std::filesystem::perms::all,
      std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST_F(EncryptionTest, AFlippedByteFailsItsOwnRowWithAProblemAndItsDeliveryWithAnAttempt) {
  HttpReceiver receiver([&](const ReceivedRequest&) { return Answer(200, "ok"); });
  const Stored damaged = StoreOneDelivered(receiver, NewSecret(), "ak_1", "Damaged");
  const Stored intact = StoreOneDelivered(receiver, NewSecret(), "ak_2", "Intact");
  ASSERT_FALSE(HasFailure());
  // One byte of the ciphertext replaced by another: a flipped bit in the database. SQLite keeps
  // it in a BLOB, which never equals a text, hence the CAST: without it a byte that already was
  // 'A' was "replaced" by 'A' and nothing changed.
  // As hex on SQLite: the helper reads text, which stops at the first NUL byte.
  const std::string stored_payload =
      std::string(database_->backend() == Backend::kSqlite ? "SELECT hex(payload)"
                                                           : "SELECT payload") +
      " FROM events WHERE id = '" + damaged.event_id + "'";
  const std::vector<std::string> intact_payload = Sql(*database_, stored_payload);
  Sql(*database_,
      "UPDATE events SET payload = substr(payload, 1, length(payload) - 5) || "
      "CASE WHEN CAST(substr(payload, length(payload) - 4, 1) AS TEXT) = 'A' THEN 'B' ELSE 'A' "
      "END || substr(payload, length(payload) - 3) WHERE id = '" +
          damaged.event_id + "'");
  ASSERT_NE(Sql(*database_, stored_payload), intact_payload);

  HttpClient admin = Admin();
  const HttpResponse r = admin.Get("/events/" + damaged.event_id);
  ASSERT_TRUE(IsProblem(r, 500, "stored-data-unreadable")) << r.Summary();
  EXPECT_EQ(r.json.at("detail"),
            json::value("event " + damaged.event_id + ": events.payload/" + damaged.event_id +
                        " cannot be decrypted: it was altered or belongs to another row"));
  EXPECT_TRUE(IsJson(admin.Get("/events/" + intact.event_id), 200));

  // A retry of its delivery cannot send it: the attempt says why, and the server carries on.
  const std::size_t before = Attempts(admin, damaged.delivery_id).size();
  ASSERT_TRUE(IsJson(admin.Request("POST", "/deliveries/" + damaged.delivery_id + "/retry"), 202));
  const json::object failed = WaitForStatus(admin, damaged.delivery_id, "failed", 10s);
  EXPECT_EQ(failed.at("status"), "failed");
  const json::array attempts = Attempts(admin, damaged.delivery_id);
  ASSERT_EQ(attempts.size(), before + 1);
  EXPECT_EQ(
      attempts.back().at("error"),
      json::value("not sent: event " + damaged.event_id + ": events.payload/" + damaged.event_id +
                  " cannot be decrypted: it was altered or belongs to another row"));
  EXPECT_TRUE(IsJson(admin.Request("POST", "/deliveries/" + intact.delivery_id + "/retry"), 202));
  EXPECT_EQ(WaitForStatus(admin, intact.delivery_id, "succeeded", 10s).at("status"), "succeeded");
}

TEST_F(EncryptionTest, RotateThenRewrapPutsEveryValueUnderTheNewKeyWhileTheServerRuns) {
  HttpReceiver receiver([&](const ReceivedRequest&) { return Answer(200, "answer"); });
  const std::string old_secret = NewSecret();
  // SQLite keeps payloads sealed as bytes, in BLOBs, which LIKE does not read reliably.
  const std::string payload_under_key_2 =
      std::string("CAST(substr(payload, 1, 11) AS TEXT) = '") +
      (database_->backend() == Backend::kSqlite ? "$wk2$" : "$wk1$") + "key-2$'";
  const Stored before = StoreOneDelivered(receiver, old_secret, "ak_before", "Before");
  ASSERT_FALSE(HasFailure());

  const std::string rotated = RunOk({"encryption", "rotate", "--db", db_url()});
  EXPECT_NE(rotated.find("Added key 'key-2' to " + database_->key_file().string()),
            std::string::npos)
      << rotated;
  RestartServer();
  const std::string new_secret = NewSecret();
  const Stored after = StoreOneDelivered(receiver, new_secret, "ak_after", "After");
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(Sql(*database_, "SELECT COUNT(*) FROM events WHERE " + payload_under_key_2),
            std::vector<std::string>{"1"});

  const std::string rewrapped =
      RunOk({"encryption", "rewrap", "--db", db_url(), "--batch-size", "1", "--pause-ms", "0"});
  EXPECT_NE(rewrapped.find("rewrap: events: 2 rows read, 1 re-encrypted, 0 unreadable"),
            std::string::npos)
      << rewrapped;
  EXPECT_NE(rewrapped.find("rewrap: done; every value is encrypted under key 'key-2'"),
            std::string::npos)
      << rewrapped;
  for (const std::string& query : std::vector<std::string>{
           "SELECT COUNT(*) FROM events WHERE NOT " + payload_under_key_2,
           "SELECT COUNT(*) FROM webhook_configs WHERE secret NOT LIKE '$wk1$key-2$%' OR "
           "attributes_json NOT LIKE '$wk1$key-2$%' OR previous_secret NOT LIKE '$wk1$key-2$%'",
           "SELECT COUNT(*) FROM attempts WHERE response_headers_json NOT LIKE '$wk1$key-2$%'"}) {
    EXPECT_EQ(Sql(*database_, query), std::vector<std::string>{"0"}) << query;
  }
  EXPECT_EQ(Sql(*database_, "SELECT name FROM encryption_keys"), std::vector<std::string>{"key-2"});

  // Running it again finds nothing to do.
  EXPECT_NE(RunOk({"encryption", "rewrap", "--db", db_url()})
                .find("rewrap: events: 2 rows read, 0 re-encrypted, 0 unreadable"),
            std::string::npos);

  // The old key can go: the server starts with the new key alone and reads everything.
  const std::string key_file = ReadFile(database_->key_file());
  std::ofstream(database_->key_file(), std::ios::trunc) << key_file.substr(key_file.find("key-2 "));
  RestartServer();
  ExpectApiReturns(before, old_secret, "ak_before", "Before", "answer");
  ExpectApiReturns(after, new_secret, "ak_after", "After", "answer");
}

TEST_F(EncryptionTest, AServerWithoutTheKeyOfStoredValuesRefusesToStartNamingIt) {
  HttpReceiver receiver([&](const ReceivedRequest&) { return Answer(200, "ok"); });
  StoreOneDelivered(receiver, NewSecret(), "ak", "Someone");
  ASSERT_FALSE(HasFailure());
  const std::string first_key = database_->backend() == Backend::kSqlite ? "key-1" : "test-key-1";
  const std::optional<ProcessExit> stopped = server_->Terminate();
  ASSERT_TRUE(stopped && stopped->Clean());

  const std::filesystem::path other = dir_.File("other.key");
  std::ofstream(other) << "other " << crypto::Base64Encode(crypto::RandomBytes(32)) << "\n";
  CommandResult refused = RunCommand({"serve", "--listen", "127.0.0.1:0", "--db", db_url(),
                                      "--encryption-key-file", other.string()},
                                     {}, 20s);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("the database holds values encrypted under key '" + first_key +
                             "', which the key file " + other.string() + " lacks"),
            std::string::npos)
      << refused.err;

  // A key file with a key of the same name but other bytes is found out too.
  std::filesystem::remove(other);
  std::ofstream(other) << first_key << " " << crypto::Base64Encode(std::string(32, 'x')) << "\n";
  refused = RunCommand({"serve", "--listen", "127.0.0.1:0", "--db", db_url(),
                        "--encryption-key-file", other.string()},
                       {}, 20s);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("the key '" + first_key + "' of the key file " + other.string() +
                             " is not the key the database's values were encrypted under"),
            std::string::npos)
      << refused.err;

  if (database_->backend() == Backend::kSqlite) {
    // Nor does a lost default key file get replaced by a new key.
    std::filesystem::rename(database_->key_file(), dir_.File("lost.key"));
    refused = RunCommand({"serve", "--listen", "127.0.0.1:0", "--db", db_url()}, {}, 20s);
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_NE(refused.err.find("but the database holds values encrypted under key 'key-1'"),
              std::string::npos)
        << refused.err;
    EXPECT_FALSE(std::filesystem::exists(database_->key_file()));
  } else {
    // PostgreSQL has no default: every node must be given the same file.
    refused = RunCommand({"serve", "--listen", "127.0.0.1:0", "--db", db_url()},
                         {{"WEBHOOKD_ENCRYPTION_KEY_FILE", ""}}, 20s);
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_NE(refused.err.find("a PostgreSQL database needs --encryption-key-file"),
              std::string::npos)
        << refused.err;
  }
}

TEST_F(EncryptionTest, ADatabaseFromBeforeEncryptionIsReadThenEncryptedByRewrap) {
  HttpReceiver receiver([&](const ReceivedRequest&) { return Answer(200, "sealed answer"); });
  const Stored stored = StoreOneDelivered(receiver, NewSecret(), "ak", "X");
  ASSERT_FALSE(HasFailure());
  HttpClient admin = Admin();
  json::object payload = Appointment(admin, 1);
  const std::optional<ProcessExit> stopped = server_->Terminate();
  ASSERT_TRUE(stopped && stopped->Clean());

  // The database as the schema before encryption had it: no key registry, every value in the
  // clear, and none of the migrations after it (catalog_version; on SQLite events_rowid and
  // deliveries_status_check, which run again on the tables they made and leave them as they
  // were; on PostgreSQL lean_hot_path, which runs again on the indexes it made and leaves them
  // as they were).
  const bool sqlite = database_->backend() == Backend::kSqlite;
  const std::string secret = NewSecret();
  const std::string api_key = UniqueMarker("APIKEY");
  const std::string patient = UniqueMarker("PATIENT");
  const std::string answer = UniqueMarker("ANSWER");
  payload["patient"].as_object()["firstName"] = patient;
  Sql(*database_, "DROP TABLE encryption_keys");
  Sql(*database_, "DROP TABLE catalog_version");
  Sql(*database_,
      "DELETE FROM schema_migrations WHERE version >= "
      "(SELECT version FROM schema_migrations WHERE name = 'encryption_keys')");
  Sql(*database_, "UPDATE webhook_configs SET secret = '" + secret +
                      "', previous_secret = '', headers_json = '{}', attributes_json = "
                      "'{\"apiKey\":\"" +
                      api_key + "\"}'");
  Sql(*database_, "UPDATE events SET payload = '" + json::serialize(payload) + "'");
  Sql(*database_, "UPDATE attempts SET response_headers_json = '{}', response_body = " +
                      (sqlite ? "CAST('" + answer + "' AS BLOB)" : "'" + answer + "'::bytea"));

  StartServer();
  // The upgrade says so in the log, naming what it runs.
  const std::string log = server_->ReadStdout() + server_->ReadStderr();
  EXPECT_NE(log.find("database schema: upgrading from version"), std::string::npos) << log;
  EXPECT_NE(log.find(" encryption_keys, "), std::string::npos) << log;
  ExpectApiReturns(stored, secret, api_key, patient, answer);
  EXPECT_EQ(Sql(*database_, "SELECT name FROM encryption_keys ORDER BY name"),
            (std::vector<std::string>{"", sqlite ? "key-1" : "test-key-1"}));

  const std::string rewrapped = RunOk({"encryption", "rewrap", "--db", db_url()});
  EXPECT_NE(rewrapped.find("rewrap: events: 1 rows read, 1 re-encrypted, 0 unreadable"),
            std::string::npos)
      << rewrapped;
  EXPECT_EQ(Sql(*database_, "SELECT name FROM encryption_keys"),
            std::vector<std::string>{sqlite ? "key-1" : "test-key-1"});
  ExpectApiReturns(stored, secret, api_key, patient, answer);
  ASSERT_TRUE(server_->Terminate().has_value());
  const std::string bytes = StoredBytes(*database_);
  for (const std::string& marker : {patient, api_key, answer, secret.substr(6)}) {
    EXPECT_EQ(bytes.find(marker), std::string::npos) << marker << " is stored in the clear";
  }

  // With every value sealed, a plain value slipped in is refused rather than trusted.
  StartServer();
  Sql(*database_, "UPDATE events SET payload = '{}' WHERE id = '" + stored.event_id + "'");
  EXPECT_TRUE(IsProblem(Admin().Get("/events/" + stored.event_id), 500, "stored-data-unreadable"));
}

}  // namespace
}  // namespace webhookd::itest
