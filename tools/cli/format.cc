#include "format.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"

namespace tokenauth::cli {
namespace {

std::string Short(const google::protobuf::Timestamp& t,
                  const std::string& unset) {
  if (t.seconds() == 0 && t.nanos() == 0) return unset;
  return absl::FormatTime("%Y-%m-%d %H:%M", absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

}  // namespace

std::string FormatTimestamp(const google::protobuf::Timestamp& t,
                            const std::string& unset) {
  if (t.seconds() == 0 && t.nanos() == 0) return unset;
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC",
                          absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

std::string AccessName(v1::TokenAccess access) {
  switch (access) {
    case v1::TOKEN_ACCESS_READ_ONLY:
      return "read-only";
    case v1::TOKEN_ACCESS_READ_WRITE:
      return "read-write";
    default:
      return "unspecified";
  }
}

std::string StateName(v1::TokenState state) {
  switch (state) {
    case v1::TOKEN_STATE_ACTIVE:
      return "active";
    case v1::TOKEN_STATE_EXPIRED:
      return "expired";
    case v1::TOKEN_STATE_REVOKED:
      return "revoked";
    case v1::TOKEN_STATE_STALE:
      return "stale";
    default:
      return "unspecified";
  }
}

std::string KindName(v1::CredentialKind kind) {
  switch (kind) {
    case v1::CREDENTIAL_KIND_BASIC:
      return "password";
    case v1::CREDENTIAL_KIND_SESSION:
      return "session";
    case v1::CREDENTIAL_KIND_ACCESS_TOKEN:
      return "access token";
    default:
      return "unknown";
  }
}

std::string TokenDetails(const v1::Token& t) {
  std::string out;
  auto line = [&](const char* name, const std::string& value) {
    absl::StrAppend(&out, absl::StrFormat("%-12s%s\n", name, value));
  };
  line("id:", t.id());
  line("name:", t.name());
  line("hint:", t.hint());
  line("user id:", absl::StrCat(t.user_id()));
  line("access:", AccessName(t.permissions().access()));
  line("scopes:", t.permissions().scopes().empty()
                      ? "(any)"
                      : absl::StrJoin(t.permissions().scopes(), " "));
  line("state:", StateName(t.state()));
  line("created:", FormatTimestamp(t.create_time(), "-"));
  line("expires:", FormatTimestamp(t.expire_time(), "never"));
  line("last used:", FormatTimestamp(t.last_used_time(), "never"));
  if (!t.last_used_peers().empty()) {
    line("used from:", absl::StrJoin(t.last_used_peers(), " "));
  }
  if (t.has_revoke_time())
    line("revoked:", FormatTimestamp(t.revoke_time(), "-"));
  if (!t.rotated_to_id().empty()) line("rotated to:", t.rotated_to_id());
  return out;
}

std::string UserDetails(const v1::User& u) {
  return absl::StrFormat("%-10s%d\n%-10s%s\n%-10s%s\n%-10s%s\n%-10s%s\n",
                         "id:", u.id(), "username:", u.username(),
                         "admin:", u.admin() ? "yes" : "no",
                         "disabled:", u.disabled() ? "yes" : "no",
                         "created:", FormatTimestamp(u.create_time(), "-"));
}

std::string TokenTableHeader() {
  return absl::StrFormat("%-12s  %-24s  %-10s  %-7s  %-16s  %s\n", "ID", "NAME",
                         "ACCESS", "STATE", "EXPIRES", "LAST USED");
}

std::string TokenTableRow(const v1::Token& t) {
  std::string name = t.name();
  if (name.size() > 24) name = name.substr(0, 21) + "...";
  return absl::StrFormat("%-12s  %-24s  %-10s  %-7s  %-16s  %s\n", t.id(), name,
                         AccessName(t.permissions().access()),
                         StateName(t.state()), Short(t.expire_time(), "never"),
                         Short(t.last_used_time(), "never"));
}

std::string SessionTableHeader() {
  return absl::StrFormat("  %-14s  %-16s  %-16s  %-16s  %s\n", "HANDLE",
                         "CREATED", "LAST SEEN", "IDLE EXPIRY", "PEER");
}

std::string SessionTableRow(const v1::Session& s, bool current) {
  return absl::StrFormat(
      "%s %-14s  %-16s  %-16s  %-16s  %s\n", current ? "*" : " ", s.handle(),
      Short(s.create_time(), "-"), Short(s.last_seen_time(), "-"),
      Short(s.idle_expire_time(), "-"), s.peer());
}

}  // namespace tokenauth::cli
