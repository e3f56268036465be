// BenchSeeder: bulk-inserts filler access-token rows, for tools/bench only.
//
// Seeding a million tokens through CreateToken takes far too long, so the
// benchmark makes real token values itself (core/token_format.h) and writes
// their rows here with multi-row INSERTs. The rows are what CreateToken would
// store for a read-write token without scopes or expiration, created at
// `now`; the per-user token limit is not checked. Never used by the server.
//
// Ownership: a BenchSeeder owns one connection of its own (outside any pool).
// Thread-safety: not thread-safe; use one from one thread at a time.
#ifndef TOKENAUTH_STORAGE_BENCH_SEED_H_
#define TOKENAUTH_STORAGE_BENCH_SEED_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "storage/mysql_options.h"

namespace sql {
class Connection;
}  // namespace sql

namespace tokenauth {

// One token row: what TokenFormat::Generate and TokenFormat::Hash give.
struct BenchTokenRow {
  std::string public_id;
  std::string value_hash;  // Lower-case hex SHA-256 of the value.
  std::string hint;
};

class BenchSeeder {
 public:
  // Connects to `options` (its `database` must be migrated already).
  static absl::StatusOr<std::unique_ptr<BenchSeeder>> Open(
      const MysqlOptions& options);
  ~BenchSeeder();

  BenchSeeder(const BenchSeeder&) = delete;
  BenchSeeder& operator=(const BenchSeeder&) = delete;

  // Inserts `rows` as tokens of `user_id` named `name`, kRowsPerInsert rows
  // per statement, each statement its own transaction. Stops at the first
  // error (earlier statements stay committed).
  absl::Status InsertTokens(int64_t user_id, const std::string& name,
                            absl::Span<const BenchTokenRow> rows,
                            absl::Time now);

  // Rows in access_tokens, usable or not.
  absl::StatusOr<int64_t> CountTokens();

  static constexpr int kRowsPerInsert = 1000;

 private:
  explicit BenchSeeder(std::unique_ptr<sql::Connection> connection);

  std::unique_ptr<sql::Connection> connection_;
};

}  // namespace tokenauth

#endif  // TOKENAUTH_STORAGE_BENCH_SEED_H_
