#include "store/sqlite/rows.hpp"

#include <string_view>

namespace webhookd::sqlite {
namespace {

// Binds one parameter after the other, from `first` on (SQLite parameters are numbered).
class NumberedBinder {
 public:
  NumberedBinder(Query& query, int first) : query_(query), next_(first) {}
  NumberedBinder& Int(std::int64_t value) {
    query_.BindInt(next_++, value);
    return *this;
  }
  NumberedBinder& Bool(bool value) { return Int(value ? 1 : 0); }
  NumberedBinder& Text(std::string_view value) {
    query_.BindText(next_++, value);
    return *this;
  }

 private:
  Query& query_;
  int next_;
};

}  // namespace

void BindConfigFields(Query& query, const WebhookConfig& config) {
  NumberedBinder binder(query, 2);
  store_common::BindConfigFields(binder, config);
}

}  // namespace webhookd::sqlite
