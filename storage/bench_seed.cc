#include "storage/bench_seed.h"

#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/connection_pool.h"
#include "storage/mysql_errors.h"

namespace tokenauth {
namespace {

// The columns CreateToken fills for a read-write token (access 2) without
// scopes, expiration, family or last use.
std::string InsertSql(int rows) {
  std::string sql =
      "INSERT INTO access_tokens (public_id, user_id, name, value_hash, hint, "
      "access, scopes, create_time_us, update_time_us) VALUES ";
  for (int i = 0; i < rows; ++i) {
    absl::StrAppend(&sql, i == 0 ? "" : ", ", "(?, ?, ?, ?, ?, 2, '', ?, ?)");
  }
  return sql;
}

}  // namespace

absl::StatusOr<std::unique_ptr<BenchSeeder>> BenchSeeder::Open(
    const MysqlOptions& options) {
  absl::StatusOr<std::unique_ptr<sql::Connection>> connection =
      OpenMysqlConnection(options, absl::Seconds(60));
  if (!connection.ok()) return connection.status();
  return std::unique_ptr<BenchSeeder>(new BenchSeeder(*std::move(connection)));
}

BenchSeeder::BenchSeeder(std::unique_ptr<sql::Connection> connection)
    : connection_(std::move(connection)) {}

BenchSeeder::~BenchSeeder() = default;

absl::Status BenchSeeder::InsertTokens(int64_t user_id, const std::string& name,
                                       absl::Span<const BenchTokenRow> rows,
                                       absl::Time now) {
  const int64_t now_us = absl::ToUnixMicros(now);
  try {
    std::unique_ptr<sql::PreparedStatement> full;
    size_t done = 0;
    while (done < rows.size()) {
      const int n = static_cast<int>(
          std::min<size_t>(kRowsPerInsert, rows.size() - done));
      std::unique_ptr<sql::PreparedStatement> partial;
      sql::PreparedStatement* statement;
      if (n == kRowsPerInsert) {
        if (full == nullptr) {
          full.reset(connection_->prepareStatement(InsertSql(n)));
        }
        statement = full.get();
      } else {
        partial.reset(connection_->prepareStatement(InsertSql(n)));
        statement = partial.get();
      }
      int index = 1;
      for (int i = 0; i < n; ++i) {
        const BenchTokenRow& row = rows[done + i];
        statement->setString(index++, row.public_id);
        statement->setInt64(index++, user_id);
        statement->setString(index++, name);
        statement->setString(index++, row.value_hash);
        statement->setString(index++, row.hint);
        statement->setInt64(index++, now_us);
        statement->setInt64(index++, now_us);
      }
      statement->executeUpdate();
      done += n;
    }
  } catch (const sql::SQLException& e) {
    return SqlErrorToStatus(e, "BenchSeeder::InsertTokens");
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> BenchSeeder::CountTokens() {
  try {
    std::unique_ptr<sql::PreparedStatement> statement(
        connection_->prepareStatement("SELECT COUNT(*) FROM access_tokens"));
    std::unique_ptr<sql::ResultSet> result(statement->executeQuery());
    if (!result->next()) {
      return absl::InternalError("BenchSeeder::CountTokens: no row");
    }
    return static_cast<int64_t>(result->getInt64(1));
  } catch (const sql::SQLException& e) {
    return SqlErrorToStatus(e, "BenchSeeder::CountTokens");
  }
}

}  // namespace tokenauth
