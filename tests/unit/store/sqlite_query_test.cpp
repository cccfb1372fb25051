// Query's bindings: copied ones and views, which SQLite reads in place until the Query ends.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "store/sqlite/connection.hpp"
#include "store_test_util.hpp"

namespace webhookd::sqlite {
namespace {

using test::Must;
using test::QueryText;
using test::TempDir;

class SqliteQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = Must(Connection::Open(file_.string(), /*create=*/true));
    ASSERT_TRUE(db_->Exec("CREATE TABLE t (k TEXT, v TEXT, b BLOB)").ok());
  }

  // Inserts one row, binding each value as a view or a copy.
  void Insert(const std::string& k, const std::string& v, const std::string& b, bool views) {
    {
      Result<Query> insert = db_->Prepare("INSERT INTO t (k, v, b) VALUES (?1, ?2, ?3)");
      ASSERT_TRUE(insert.ok()) << insert.error().message;
      if (views) {
        insert->BindTextView(1, k).BindTextView(2, v).BindBlobView(3, b);
      } else {
        insert->BindText(1, k).BindText(2, v).BindBlob(3, b);
      }
      ASSERT_TRUE(insert->Run().ok());
    }
  }

  // Runs a one-row SELECT and reads its first column.
  std::string SelectOne(const std::string& sql) {
    Result<Query> query = db_->Prepare(sql);
    if (!query.ok()) return "prepare failed: " + query.error().message;
    Result<bool> row = query->Step();
    if (!row.ok() || !*row) return "no row";
    return query->Text(0);
  }

  std::string Row(const std::string& k) {
    return QueryText(file_,
                     "SELECT v || '|' || hex(b) || '|' || typeof(v) FROM t WHERE k = '" + k + "'");
  }

  TempDir dir_;
  std::filesystem::path file_ = dir_.path() / "q.db";
  std::unique_ptr<Connection> db_;
};

TEST_F(SqliteQueryTest, ViewsAndCopiesStoreTheSameBytes) {
  const std::string blob("a\0b\xff", 4);
  Insert("view", "caf\xC3\xA9 " + std::string(3000, 'v'), blob, /*views=*/true);
  Insert("copy", "caf\xC3\xA9 " + std::string(3000, 'v'), blob, /*views=*/false);
  const std::string expected = "caf\xC3\xA9 " + std::string(3000, 'v') + "|610062FF|text";
  EXPECT_EQ(Row("view"), expected);
  EXPECT_EQ(Row("copy"), expected);
}

// An empty std::string is an empty value, not NULL, whichever way it is bound.
TEST_F(SqliteQueryTest, AnEmptyStringIsBoundAsAnEmptyValueNotNull) {
  Insert("view", "", "", /*views=*/true);
  Insert("copy", "", "", /*views=*/false);
  EXPECT_EQ(Row("view"), "||text");
  EXPECT_EQ(Row("copy"), "||text");
  EXPECT_EQ(QueryText(file_, "SELECT COUNT(*) FROM t WHERE b IS NULL OR v IS NULL"), "0");
}

// A view's pointer does not outlive its Query: the cached statement, used again, has no value
// left from it (under ASan, reading the freed string would fail the test too).
TEST_F(SqliteQueryTest, AViewIsForgottenWithItsQuery) {
  {
    auto gone = std::make_unique<std::string>(100, 'g');
    Result<Query> insert = db_->Prepare("INSERT INTO t (k, v, b) VALUES (?1, ?2, ?3)");
    ASSERT_TRUE(insert.ok());
    insert->BindTextView(1, "first").BindTextView(2, *gone).BindBlobView(3, *gone);
    ASSERT_TRUE(insert->Run().ok());
  }
  Result<Query> again = db_->Prepare("INSERT INTO t (k, v, b) VALUES (?1, ?2, ?3)");
  ASSERT_TRUE(again.ok());
  again->BindText(1, "second");
  ASSERT_TRUE(again->Run().ok());
  EXPECT_EQ(QueryText(file_, "SELECT length(v) FROM t WHERE k = 'first'"), "100");
  EXPECT_EQ(QueryText(file_, "SELECT typeof(v) || typeof(b) FROM t WHERE k = 'second'"),
            "nullnull");
}

// Prepare finds a statement first by its text's address; the text at that address may since
// have changed (a buffer reused), and then it must not get the old text's statement.
TEST_F(SqliteQueryTest, NewSqlAtAnOldTextsAddressGetsItsOwnStatement) {
  std::string sql = "SELECT 'first'";
  const char* const address = sql.data();
  EXPECT_EQ(SelectOne(sql), "first");
  EXPECT_EQ(SelectOne(sql), "first");
  sql.replace(8, 5, "other");
  ASSERT_EQ(sql.data(), address);
  EXPECT_EQ(SelectOne(sql), "other");
  sql.replace(8, 5, "first");
  EXPECT_EQ(SelectOne(sql), "first");
  EXPECT_EQ(SelectOne("SELECT 'a longer text, elsewhere'"), "a longer text, elsewhere");
}

// A statement still stepping cannot be handed out again, however it is found.
TEST_F(SqliteQueryTest, AStatementInUseIsNotHandedOutTwice) {
  const std::string sql = "SELECT k FROM t";
  ASSERT_TRUE(db_->Exec("INSERT INTO t (k) VALUES ('a'), ('b')").ok());
  Result<Query> first = db_->Prepare(sql);
  ASSERT_TRUE(first.ok());
  const Result<bool> row = first->Step();
  ASSERT_TRUE(row.ok() && *row);
  const Result<Query> second = db_->Prepare(sql);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("used twice at once"), std::string::npos)
      << second.error().message;
  const std::string copy = sql;  // the same text at another address
  EXPECT_FALSE(db_->Prepare(copy).ok());
}

}  // namespace
}  // namespace webhookd::sqlite
