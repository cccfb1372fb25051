#include "store/sqlite/fan_out_memo.hpp"

#include <sqlite3.h>

#include <string>

#include "store/sqlite/query_util.hpp"

namespace webhookd::sqlite {
namespace {

#define WEBHOOKD_FORGET_FUNCTION "webhookd_fan_out_changed"
#define WEBHOOKD_WATCH_TRIGGER(NAME, EVENT)   \
  "CREATE TEMP TRIGGER " NAME " AFTER " EVENT \
  " ON main.webhook_configs "                 \
  "BEGIN SELECT " WEBHOOKD_FORGET_FUNCTION "(); END;"

// TEMP: the triggers belong to this connection alone and are never stored in the file, so no
// other connection or tool needs the function they call.
constexpr std::string_view kWatchTriggers =
    WEBHOOKD_WATCH_TRIGGER("webhookd_configs_inserted", "INSERT")
        WEBHOOKD_WATCH_TRIGGER("webhookd_configs_updated", "UPDATE")
            WEBHOOKD_WATCH_TRIGGER("webhookd_configs_deleted", "DELETE");
#undef WEBHOOKD_WATCH_TRIGGER
constexpr std::string_view kDataVersion = "PRAGMA data_version";

void ForgetFromTrigger(sqlite3_context* context, int /*argc*/, sqlite3_value** /*argv*/) {
  static_cast<FanOutMemo*>(sqlite3_user_data(context))->Forget();
  sqlite3_result_null(context);
}

}  // namespace

Status FanOutMemo::Watch(Connection& db) {
  const int code = sqlite3_create_function_v2(db.handle(), WEBHOOKD_FORGET_FUNCTION, 0, SQLITE_UTF8,
                                              this, ForgetFromTrigger, nullptr, nullptr, nullptr);
  if (code != SQLITE_OK) {
    return Error::Internal(std::string("cannot register the fan-out memo's function: ") +
                           sqlite3_errstr(code));
  }
  return db.Exec(kWatchTriggers);
}

Status FanOutMemo::CheckOtherWriters(Connection& db) {
  Result<Query> query = db.Prepare(kDataVersion);
  if (!query.ok()) return query.error();
  Result<std::optional<std::int64_t>> version =
      ReadFirst<std::int64_t>(*query, [](const Query& row) { return row.Int(0); });
  if (!version.ok()) return version.error();
  if (!*version) return Error::Internal("PRAGMA data_version returned no row");
  if (**version != data_version_) Forget();
  data_version_ = **version;
  return Status::Ok();
}

const std::vector<WebhookConfig>* FanOutMemo::Find(std::int64_t organization_id,
                                                   int event_type_id) const {
  const auto it = entries_.find({organization_id, event_type_id});
  return it == entries_.end() ? nullptr : &it->second;
}

void FanOutMemo::Remember(std::int64_t organization_id, int event_type_id,
                          std::vector<WebhookConfig> configs) {
  if (entries_.size() >= kMaxEntries) Forget();
  for (const WebhookConfig& config : configs) {
    if (config.failing_since == 0) healthy_.insert(config.id);
  }
  entries_.insert_or_assign({organization_id, event_type_id}, std::move(configs));
}

#undef WEBHOOKD_FORGET_FUNCTION

}  // namespace webhookd::sqlite
