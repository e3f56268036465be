#include "profile.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace tokenauth::cli {
namespace {

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::UnknownError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// mkdir -p; the last component gets `mode`, the others 0755 (less umask).
absl::Status MakeDirs(const std::string& dir, mode_t mode) {
  std::string partial;
  const std::vector<std::string> parts = absl::StrSplit(dir, '/');
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) partial += "/";
    partial += parts[i];
    if (partial.empty() || partial == "/") continue;
    const mode_t m = i + 1 == parts.size() ? mode : 0755;
    if (mkdir(partial.c_str(), m) != 0 && errno != EEXIST) {
      return Errno("cannot create", partial);
    }
  }
  return absl::OkStatus();
}

bool WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> ProfilePath() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  // The XDG spec: a relative path is invalid and must be ignored.
  if (xdg != nullptr && xdg[0] == '/') {
    return absl::StrCat(xdg, "/tokenauth/profile");
  }
  const char* home = std::getenv("HOME");
  std::string home_dir = home != nullptr ? home : "";
  if (home_dir.empty()) {
    if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_dir) {
      home_dir = pw->pw_dir;
    }
  }
  if (home_dir.empty()) {
    return absl::FailedPreconditionError(
        "cannot find the profile: set XDG_CONFIG_HOME or HOME");
  }
  return absl::StrCat(home_dir, "/.config/tokenauth/profile");
}

absl::StatusOr<Profile> LoadProfile(const std::string& path,
                                    bool* loose_permissions) {
  *loose_permissions = false;
  const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError("no saved login");
    return Errno("cannot read", path);
  }
  struct stat st;
  if (fstat(fd, &st) == 0 && (st.st_mode & 077) != 0) {
    *loose_permissions = true;
  }
  std::string content;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) {
    content.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  if (n < 0) return Errno("cannot read", path);

  Profile profile;
  for (absl::string_view line : absl::StrSplit(content, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(line, absl::MaxSplits('=', 1));
    const std::string value(kv.second);
    if (kv.first == "addr") profile.addr = value;
    if (kv.first == "username") profile.username = value;
    if (kv.first == "session_id") profile.session_id = value;
    if (kv.first == "csrf_token") profile.csrf_token = value;
    if (kv.first == "session_handle") profile.session_handle = value;
    if (kv.first == "token") profile.token = value;
  }
  return profile;
}

absl::Status SaveProfile(const std::string& path, const Profile& profile) {
  for (const std::string* v :
       {&profile.addr, &profile.username, &profile.session_id,
        &profile.csrf_token, &profile.session_handle, &profile.token}) {
    if (absl::StrContains(*v, '\n')) {
      return absl::InvalidArgumentError("profile: a value contains a newline");
    }
  }
  const std::string dir = Dirname(path);
  if (absl::Status s = MakeDirs(dir, 0700); !s.ok()) return s;
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0) return Errno("cannot stat", dir);
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, " is not a directory"));
  }
  if ((st.st_mode & 077) != 0) {
    if (st.st_uid != getuid() || chmod(dir.c_str(), 0700) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          dir, " is accessible to others and cannot be made private (mode ",
          absl::StrFormat("%04o", st.st_mode & 0777), ")"));
    }
  }

  std::string content =
      "# tokenauth CLI login. Holds a secret: keep it private (mode 0600).\n";
  auto add = [&](absl::string_view key, const std::string& value) {
    if (!value.empty()) absl::StrAppend(&content, key, "=", value, "\n");
  };
  add("addr", profile.addr);
  add("username", profile.username);
  add("session_id", profile.session_id);
  add("csrf_token", profile.csrf_token);
  add("session_handle", profile.session_handle);
  add("token", profile.token);

  const std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  const int fd = open(
      tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot create", tmp);
  // Exactly 0600, whatever the umask.
  bool ok = fchmod(fd, 0600) == 0 && WriteAll(fd, content) && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status error = Errno("cannot write", path);
    unlink(tmp.c_str());
    return error;
  }
  return absl::OkStatus();
}

absl::Status RemoveProfile(const std::string& path) {
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Errno("cannot remove", path);
  }
  return absl::OkStatus();
}

}  // namespace tokenauth::cli
