#include "core/token_reader.h"

#include <algorithm>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/call_deadline.h"

namespace tokenauth {

struct TokenReader::Request {
  explicit Request(const std::string& id) : public_id(id) {}

  const std::string& public_id;
  // Set under mu_: taken by a read, then answered.
  bool taken = false;
  bool done = false;
  // Written by the read that took it, before `done`.
  absl::StatusOr<std::pair<TokenRecord, User>> result =
      absl::UnknownError("not read");
};

std::vector<absl::StatusOr<std::pair<TokenRecord, User>>> MatchTokenRows(
    absl::Span<const std::string> ids,
    const std::vector<std::pair<TokenRecord, User>>& rows) {
  absl::flat_hash_map<absl::string_view, const std::pair<TokenRecord, User>*>
      by_id;
  for (const auto& row : rows) by_id[row.first.public_id] = &row;
  std::vector<absl::StatusOr<std::pair<TokenRecord, User>>> matched;
  matched.reserve(ids.size());
  for (const std::string& id : ids) {
    const auto it = by_id.find(id);
    if (it == by_id.end()) {
      matched.push_back(absl::NotFoundError("access token not found"));
    } else {
      matched.push_back(*it->second);
    }
  }
  return matched;
}

TokenReader::TokenReader(Store* store, int max_reads, absl::Duration stall_wait)
    : store_(store),
      max_reads_(std::max(1, max_reads)),
      stall_wait_(stall_wait) {}

absl::StatusOr<std::pair<TokenRecord, User>> TokenReader::Read(
    const std::string& public_id) {
  Request me(public_id);
  const absl::Time deadline = CurrentCallDeadline();
  const absl::Time stalled = absl::Now() + stall_wait_;
  absl::MutexLock lock(&mu_);
  waiting_.push_back(&me);
  auto answered_or_can_start = [this, &me]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                                   mu_) { return me.done || CanStartLocked(); };
  while (true) {
    if (me.done) return std::move(me.result);
    // A free read, or the reads in flight are taking too long: take the
    // oldest waiters (usually this caller among them; if not, this thread
    // reads for them and goes on waiting).
    if (CanStartLocked() || (!me.taken && absl::Now() >= stalled)) {
      ReadBatch();
      continue;
    }
    if (me.taken) {  // Its read is running: it ends within its I/O timeouts.
      mu_.Await(absl::Condition(&me.done));
      continue;
    }
    mu_.AwaitWithDeadline(absl::Condition(&answered_or_can_start),
                          std::min(deadline, stalled));
    if (!me.taken && !me.done && absl::Now() >= deadline) {
      waiting_.erase(std::find(waiting_.begin(), waiting_.end(), &me));
      return absl::UnavailableError(
          "database busy: no token read started within the call's deadline");
    }
  }
}

void TokenReader::ReadBatch() {
  std::vector<Request*> batch;
  while (!waiting_.empty() && batch.size() < kMaxBatch) {
    Request* request = waiting_.front();
    waiting_.pop_front();
    request->taken = true;
    batch.push_back(request);
  }
  ++reads_;
  mu_.Unlock();
  if (batch.size() == 1) {
    batch[0]->result = store_->GetTokenAndOwner(batch[0]->public_id);
  } else {
    std::vector<std::string> ids;
    ids.reserve(batch.size());
    for (const Request* request : batch) ids.push_back(request->public_id);
    absl::StatusOr<std::vector<std::pair<TokenRecord, User>>> found =
        store_->GetTokensAndOwners(ids);
    if (!found.ok()) {
      for (Request* request : batch) request->result = found.status();
    } else {
      std::vector<absl::StatusOr<std::pair<TokenRecord, User>>> rows =
          MatchTokenRows(ids, *found);
      for (size_t i = 0; i < batch.size(); ++i) {
        batch[i]->result = std::move(rows[i]);
      }
    }
  }
  mu_.Lock();
  --reads_;
  for (Request* request : batch) request->done = true;
}

size_t TokenReader::waiting() const {
  absl::MutexLock lock(&mu_);
  return waiting_.size();
}

}  // namespace tokenauth
