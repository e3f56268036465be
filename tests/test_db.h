// Helpers for tests that run against a real MariaDB / MySQL server.
//
// The server comes from the environment: TOKENAUTH_MYSQL_HOST and
// TOKENAUTH_MYSQL_PORT, or TOKENAUTH_MYSQL_SOCKET, plus TOKENAUTH_MYSQL_USER
// and TOKENAUTH_MYSQL_PASSWORD (tools/test sets them). A test that needs the
// database FAILS, never skips, when they are missing. The user needs CREATE
// and DROP on databases named `tokenauth_test_*`.
//
// Each ScopedTestDatabase is a fresh database, so tests may run in parallel
// against one server. Failures are reported with ADD_FAILURE(), so these
// helpers work in constructors and in non-void functions; check ok() or the
// returned pointer before going on.
//
// Thread-safety: the free functions are thread-safe; a ScopedTestDatabase is
// made and destroyed on one thread, its options() may be read from any.
// FakeClock (tests/fake_clock.h) is included for convenience.
#ifndef TOKENAUTH_TESTS_TEST_DB_H_
#define TOKENAUTH_TESTS_TEST_DB_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/mysql_store.h"
#include "tests/fake_clock.h"

namespace tokenauth {

// Server address and credentials from TOKENAUTH_MYSQL_*; `database` is empty.
// Adds a test failure naming the missing variables if there are any.
MysqlOptions TestMysqlOptions();

// Creates `tokenauth_test_<16 random hex digits>` on construction and drops
// it on destruction. Destroy every store using it first.
class ScopedTestDatabase {
 public:
  ScopedTestDatabase();
  ~ScopedTestDatabase();

  ScopedTestDatabase(const ScopedTestDatabase&) = delete;
  ScopedTestDatabase& operator=(const ScopedTestDatabase&) = delete;

  // False if the database could not be created (a failure was added).
  bool ok() const { return ok_; }
  // TestMysqlOptions() with `database` set to this database.
  const MysqlOptions& options() const { return options_; }
  const std::string& name() const { return options_.database; }

 private:
  MysqlOptions options_;
  bool ok_ = false;
};

// A MysqlStore over `options`, migrated. Null (and a failure added) on error.
std::unique_ptr<MysqlStore> OpenMigratedStore(const MysqlOptions& options);

// Runs one parameterless statement on a new connection to `options`, for
// test setup and inspection only. QueryForTest returns every row, each
// column as text (nullopt for NULL).
using TestRows = std::vector<std::vector<std::optional<std::string>>>;
absl::StatusOr<TestRows> QueryForTest(const MysqlOptions& options,
                                      const std::string& sql);
absl::Status ExecuteForTest(const MysqlOptions& options,
                            const std::string& sql);

}  // namespace tokenauth

#endif  // TOKENAUTH_TESTS_TEST_DB_H_
