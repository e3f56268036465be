#include "server/tls.h"

#include <arpa/inet.h>
#include <grpcpp/security/server_credentials.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tokenauth {
namespace {

constexpr char kCertSetting[] = "TOKENAUTH_TLS_CERT_FILE";
constexpr char kKeySetting[] = "TOKENAUTH_TLS_KEY_FILE";
constexpr char kClientCaSetting[] = "TOKENAUTH_TLS_CLIENT_CA_FILE";

absl::StatusOr<std::string> ReadSettingFile(absl::string_view setting,
                                            const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat(
        setting, ": cannot read ", path, ": ", std::strerror(errno)));
  }
  std::stringstream content;
  content << in.rdbuf();
  if (in.bad()) {
    return absl::InvalidArgumentError(
        absl::StrCat(setting, ": cannot read ", path));
  }
  if (content.str().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(setting, ": ", path, " is empty"));
  }
  return content.str();
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;

BioPtr MemoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Never prompts: an encrypted key is refused instead of asking a terminal.
int NoPassphrase(char*, int, int, void*) { return 0; }

// The certificates in `pem`, in order (the first is the leaf of a chain).
std::vector<X509Ptr> ParseCertificates(const std::string& pem) {
  std::vector<X509Ptr> certs;
  BioPtr bio = MemoryBio(pem);
  while (bio != nullptr) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
    if (cert == nullptr) break;
    certs.push_back(std::move(cert));
  }
  ERR_clear_error();  // The end of input reads as an error.
  return certs;
}

absl::StatusOr<std::vector<X509Ptr>> CheckCertificates(
    absl::string_view setting, const std::string& path,
    const std::string& pem) {
  std::vector<X509Ptr> certs = ParseCertificates(pem);
  if (certs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        setting, ": ", path,
        " holds no PEM certificate (-----BEGIN CERTIFICATE-----)"));
  }
  return certs;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsSettings& settings) {
  if (!settings.enabled()) {
    if (settings.mutual()) {
      return absl::InvalidArgumentError(
          absl::StrCat(kClientCaSetting, ": client certificates need TLS: set ",
                       kCertSetting, " and ", kKeySetting, " too"));
    }
    return grpc::InsecureServerCredentials();
  }
  if (settings.cert_file.empty() || settings.key_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(settings.cert_file.empty() ? kCertSetting : kKeySetting,
                     ": must be set together with ",
                     settings.cert_file.empty() ? kKeySetting : kCertSetting,
                     " (TLS needs both the certificate and its private key)"));
  }

  absl::StatusOr<std::string> cert_pem =
      ReadSettingFile(kCertSetting, settings.cert_file);
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem =
      ReadSettingFile(kKeySetting, settings.key_file);
  if (!key_pem.ok()) return key_pem.status();
  std::string client_ca_pem;
  if (settings.mutual()) {
    absl::StatusOr<std::string> ca =
        ReadSettingFile(kClientCaSetting, settings.client_ca_file);
    if (!ca.ok()) return ca.status();
    client_ca_pem = *std::move(ca);
    absl::StatusOr<std::vector<X509Ptr>> roots = CheckCertificates(
        kClientCaSetting, settings.client_ca_file, client_ca_pem);
    if (!roots.ok()) return roots.status();
  }

  absl::StatusOr<std::vector<X509Ptr>> chain =
      CheckCertificates(kCertSetting, settings.cert_file, *cert_pem);
  if (!chain.ok()) return chain.status();
  BioPtr key_bio = MemoryBio(*key_pem);
  KeyPtr key(key_bio == nullptr
                 ? nullptr
                 : PEM_read_bio_PrivateKey(key_bio.get(), nullptr, NoPassphrase,
                                           nullptr));
  ERR_clear_error();
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(kKeySetting, ": ", settings.key_file,
                     " holds no unencrypted PEM private key"));
  }
  if (X509_check_private_key(chain->front().get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat(kKeySetting, ": the key in ", settings.key_file,
                     " does not belong to the certificate in ",
                     settings.cert_file, " (", kCertSetting, ")"));
  }

  grpc::SslServerCredentialsOptions options(
      settings.mutual()
          ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
          : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  options.pem_root_certs = client_ca_pem;
  options.pem_key_cert_pairs.push_back(
      {*std::move(key_pem), *std::move(cert_pem)});
  return grpc::SslServerCredentials(options);
}

bool IsLoopbackListenAddress(absl::string_view listen) {
  // Unix sockets are not reachable over the network.
  if (absl::StartsWith(listen, "unix:") ||
      absl::StartsWith(listen, "unix-abstract:")) {
    return true;
  }
  std::string host;
  if (absl::StartsWith(listen, "[")) {
    const size_t close = listen.find(']');
    if (close == absl::string_view::npos) return false;
    host = std::string(listen.substr(1, close - 1));
  } else if (const size_t colon = listen.rfind(':');
             colon != absl::string_view::npos &&
             listen.find(':') == colon) {  // Exactly one colon: host:port.
    host = std::string(listen.substr(0, colon));
  } else {
    host = std::string(listen);  // No port, or a bare IPv6 address.
  }
  absl::AsciiStrToLower(&host);
  if (host == "localhost") return true;
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

std::string PlaintextListenWarning(absl::string_view listen) {
  return absl::StrCat(
      "INSECURE: serving WITHOUT TLS on ", listen,
      ", which is not a loopback address: every call crosses the network in "
      "plaintext, credentials included (passwords, tokens, session IDs). Set ",
      kCertSetting, " and ", kKeySetting,
      " to serve TLS (docs/SETTINGS.md), or listen on 127.0.0.1.");
}

}  // namespace tokenauth
