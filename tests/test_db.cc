#include "tests/test_db.h"

#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/resultset_metadata.h>

#include <cstdlib>
#include <exception>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "storage/connection_pool.h"

namespace tokenauth {
namespace {

std::optional<std::string> Env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

// Fills `options` from the environment; returns the names that are missing.
std::vector<std::string> ReadEnv(MysqlOptions& options) {
  std::vector<std::string> missing;
  std::optional<std::string> socket = Env("TOKENAUTH_MYSQL_SOCKET");
  std::optional<std::string> host = Env("TOKENAUTH_MYSQL_HOST");
  std::optional<std::string> port = Env("TOKENAUTH_MYSQL_PORT");
  if (socket.has_value() && !socket->empty()) {
    options.socket = *socket;
  } else if (!host.has_value() || host->empty()) {
    missing.push_back("TOKENAUTH_MYSQL_HOST (or TOKENAUTH_MYSQL_SOCKET)");
  } else {
    options.host = *host;
    if (port.has_value() && !absl::SimpleAtoi(*port, &options.port)) {
      missing.push_back("TOKENAUTH_MYSQL_PORT (not a number)");
    }
  }
  std::optional<std::string> user = Env("TOKENAUTH_MYSQL_USER");
  if (!user.has_value() || user->empty()) {
    missing.push_back("TOKENAUTH_MYSQL_USER");
  } else {
    options.user = *user;
  }
  std::optional<std::string> password = Env("TOKENAUTH_MYSQL_PASSWORD");
  if (!password.has_value()) {
    missing.push_back("TOKENAUTH_MYSQL_PASSWORD");
  } else {
    options.password = *password;
  }
  return missing;
}

std::string RandomDatabaseName() {
  absl::BitGen gen;
  return absl::StrCat("tokenauth_test_", absl::Hex(absl::Uniform<uint64_t>(gen),
                                                   absl::kZeroPad16));
}

// TestMysqlOptions(), and whether the environment had everything.
bool TestMysqlOptionsOrFail(MysqlOptions& options) {
  std::vector<std::string> missing = ReadEnv(options);
  if (missing.empty()) return true;
  ADD_FAILURE() << "This test needs a MariaDB server, but these are not set: "
                << absl::StrJoin(missing, ", ")
                << ". Run it through tools/test, or export "
                   "TOKENAUTH_MYSQL_HOST and TOKENAUTH_MYSQL_PORT (or "
                   "TOKENAUTH_MYSQL_SOCKET), TOKENAUTH_MYSQL_USER and "
                   "TOKENAUTH_MYSQL_PASSWORD.";
  return false;
}

}  // namespace

MysqlOptions TestMysqlOptions() {
  MysqlOptions options;
  TestMysqlOptionsOrFail(options);
  return options;
}

ScopedTestDatabase::ScopedTestDatabase() {
  if (!TestMysqlOptionsOrFail(options_)) return;
  MysqlOptions admin = options_;
  admin.database.clear();
  const std::string name = RandomDatabaseName();
  // The name is generated here from hex digits; identifiers cannot be bound.
  absl::Status status = ExecuteForTest(
      admin, absl::StrCat("CREATE DATABASE `", name,
                          "` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"));
  if (!status.ok()) {
    ADD_FAILURE() << "cannot create test database " << name << ": " << status;
    return;
  }
  options_.database = name;
  ok_ = true;
}

ScopedTestDatabase::~ScopedTestDatabase() {
  if (!ok_) return;
  MysqlOptions admin = options_;
  admin.database.clear();
  absl::Status status = ExecuteForTest(
      admin, absl::StrCat("DROP DATABASE IF EXISTS `", options_.database, "`"));
  if (!status.ok()) {
    ADD_FAILURE() << "cannot drop test database " << options_.database << ": "
                  << status;
  }
}

std::unique_ptr<MysqlStore> OpenMigratedStore(const MysqlOptions& options) {
  absl::StatusOr<std::unique_ptr<MysqlStore>> store = MysqlStore::Open(options);
  if (!store.ok()) {
    ADD_FAILURE() << "MysqlStore::Open: " << store.status();
    return nullptr;
  }
  absl::Status migrated = (*store)->Migrate();
  if (!migrated.ok()) {
    ADD_FAILURE() << "MysqlStore::Migrate: " << migrated;
    return nullptr;
  }
  return *std::move(store);
}

absl::StatusOr<TestRows> QueryForTest(const MysqlOptions& options,
                                      const std::string& sql) {
  absl::StatusOr<std::unique_ptr<sql::Connection>> connection =
      OpenMysqlConnection(options);
  if (!connection.ok()) return connection.status();
  try {
    std::unique_ptr<sql::PreparedStatement> statement(
        (*connection)->prepareStatement(sql));
    std::unique_ptr<sql::ResultSet> rows(statement->executeQuery());
    const unsigned int columns = rows->getMetaData()->getColumnCount();
    TestRows result;
    while (rows->next()) {
      std::vector<std::optional<std::string>>& row = result.emplace_back();
      for (unsigned int i = 1; i <= columns; ++i) {
        if (rows->isNull(i)) {
          row.push_back(std::nullopt);
        } else {
          row.push_back(rows->getString(i).asStdString());
        }
      }
    }
    return result;
  } catch (const sql::SQLException& e) {
    // Test code: the server's message is what a failing test should show.
    return absl::InternalError(absl::StrCat("MySQL error ", e.getErrorCode(),
                                            ": ", e.what(), " in: ", sql));
  }
}

absl::Status ExecuteForTest(const MysqlOptions& options,
                            const std::string& sql) {
  absl::StatusOr<std::unique_ptr<sql::Connection>> connection =
      OpenMysqlConnection(options);
  if (!connection.ok()) return connection.status();
  try {
    std::unique_ptr<sql::PreparedStatement> statement(
        (*connection)->prepareStatement(sql));
    statement->execute();
    return absl::OkStatus();
  } catch (const sql::SQLException& e) {
    return absl::InternalError(absl::StrCat("MySQL error ", e.getErrorCode(),
                                            ": ", e.what(), " in: ", sql));
  }
}

}  // namespace tokenauth
