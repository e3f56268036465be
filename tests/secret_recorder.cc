#include "tests/secret_recorder.h"

#include <fcntl.h>
#include <google/protobuf/descriptor.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "core/token_format.h"
#include "gtest/gtest.h"
#include "tests/secret_scanner.h"

namespace tokenauth::e2e {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// The kind of secret a string field holds, or "" for none.
absl::string_view KindOfField(const FieldDescriptor& field) {
  const std::string& name = field.name();
  if (name == "password" || name == "current_password" ||
      name == "new_password") {
    return kSecretPassword;
  }
  if (name == "session_id") return kSecretSession;
  if (name == "csrf_token") return kSecretCsrf;
  const std::string& message = field.containing_type()->name();
  if ((name == "token" && message == "AuthenticateRequest") ||
      (name == "value" && (message == "CreateTokenResponse" ||
                           message == "RotateTokenResponse"))) {
    return kSecretToken;
  }
  return "";
}

void CollectSecrets(const Message& message, int depth, SecretList* out) {
  if (depth > 16) return;
  const Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
          CollectSecrets(reflection->GetRepeatedMessage(message, field, i),
                         depth + 1, out);
        }
      } else {
        CollectSecrets(reflection->GetMessage(message, field), depth + 1, out);
      }
      continue;
    }
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_STRING) continue;
    const absl::string_view kind = KindOfField(*field);
    if (kind.empty()) continue;
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        std::string value = reflection->GetRepeatedString(message, field, i);
        if (!value.empty()) out->emplace_back(kind, std::move(value));
      }
    } else {
      std::string value = reflection->GetString(message, field);
      if (!value.empty()) out->emplace_back(kind, std::move(value));
    }
  }
}

bool WriteAll(const std::string& path, absl::string_view record) {
  // 0600: secrets.tsv holds the run's real (test-only) secrets.
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  // One write() per record: O_APPEND makes it atomic against other writers.
  const ssize_t n = write(fd, record.data(), record.size());
  close(fd);
  return n == static_cast<ssize_t>(record.size());
}

std::string Sanitize(absl::string_view name) {
  std::string out;
  for (char c : name) {
    out.push_back(absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                          c == '.' || c == '-' || c == '_'
                      ? c
                      : '_');
  }
  return out.empty() ? "unknown" : out;
}

class Recorder {
 public:
  static Recorder& Get() {
    static Recorder* recorder = new Recorder();  // Never destroyed.
    return *recorder;
  }

  const std::string& dir() const { return dir_; }

  void Record(const SecretList& secrets) {
    std::string record;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [kind, value] : secrets) {
        if (!seen_.insert(absl::StrCat(kind, "\t", value)).second) continue;
        absl::StrAppend(&record, kind, "\t", absl::CEscape(value), "\n");
        if (kind == kSecretToken || kind == kSecretSession ||
            kind == kSecretCsrf) {
          AddHashesLocked(kind, value);
        }
      }
    }
    if (!record.empty()) Append("secrets.tsv", record);
  }

  void Append(absl::string_view file, absl::string_view record) {
    if (dir_.empty()) return;
    const std::string path = absl::StrCat(dir_, "/", file);
    if (!WriteAll(path, record)) {
      ADD_FAILURE() << "secret recorder: cannot append to " << path << ": "
                    << std::strerror(errno);
    }
  }

  std::vector<std::string> FindHashes(absl::string_view bytes) {
    std::vector<std::string> found;
    absl::MutexLock lock(&mu_);
    hashes_.FindAll(bytes, [&](size_t, int index) {
      found.push_back(hash_descriptions_[index]);
    });
    return found;
  }

  std::pair<std::string, std::string> NewServerLogPaths() {
    if (dir_.empty()) return {"", ""};
    const std::string servers = absl::StrCat(dir_, "/servers");
    std::error_code error;
    std::filesystem::create_directories(servers, error);
    if (error) {
      ADD_FAILURE() << "secret recorder: cannot create " << servers << ": "
                    << error.message();
      return {"", ""};
    }
    std::string test = "setup";
    const ::testing::UnitTest* unit = ::testing::UnitTest::GetInstance();
    if (const ::testing::TestInfo* info = unit->current_test_info()) {
      test = absl::StrCat(info->test_suite_name(), ".", info->name());
    } else if (const ::testing::TestSuite* suite = unit->current_test_suite()) {
      test = suite->name();
    }
    int n;
    {
      absl::MutexLock lock(&mu_);
      n = ++servers_;
    }
    const std::string base =
        absl::StrCat(servers, "/", Sanitize(program_invocation_short_name), ".",
                     Sanitize(test), ".", getpid(), ".", n);
    return {absl::StrCat(base, ".stdout"), absl::StrCat(base, ".stderr")};
  }

 private:
  Recorder() {
    const char* dir = std::getenv("TOKENAUTH_TEST_RUN_DIR");
    if (dir == nullptr || *dir == '\0') return;
    dir_ = dir;
    std::error_code error;
    std::filesystem::create_directories(dir_, error);
    if (error) {
      ADD_FAILURE() << "secret recorder: cannot create " << dir_ << ": "
                    << error.message();
    }
  }

  void AddHashesLocked(absl::string_view kind, absl::string_view value)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::string hex = TokenFormat::Hash(value);  // SHA-256, lower hex.
    const std::string raw = absl::HexStringToBytes(hex);
    const std::pair<std::string, absl::string_view> forms[] = {
        {hex, "hex"},
        {absl::AsciiStrToUpper(hex), "upper-case hex"},
        {raw, "raw bytes"},
        {std::string(absl::StripSuffix(absl::Base64Escape(raw), "=")),
         "base64"},
        {absl::WebSafeBase64Escape(raw), "web-safe base64"},
    };
    for (const auto& [needle, form] : forms) {
      const int index = hashes_.Add(needle);
      if (static_cast<size_t>(index) >= hash_descriptions_.size()) {
        hash_descriptions_.push_back(
            absl::StrCat("SHA-256 (", form, ") of a ", kind));
      }
    }
  }

  std::string dir_;  // Fixed at construction.
  absl::Mutex mu_;
  absl::flat_hash_set<std::string> seen_ ABSL_GUARDED_BY(mu_);
  NeedleSet hashes_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> hash_descriptions_ ABSL_GUARDED_BY(mu_);
  int servers_ ABSL_GUARDED_BY(mu_) = 0;
};

// The request and response types of `method` ("/pkg.Service/Method"), from
// the generated descriptor pool; null for a method it does not know.
const google::protobuf::MethodDescriptor* FindMethod(absl::string_view method) {
  std::string name(absl::StripPrefix(method, "/"));
  const size_t slash = name.rfind('/');
  if (slash == std::string::npos) return nullptr;
  name[slash] = '.';
  return google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
      name);
}

class RecordingInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit RecordingInterceptor(grpc::experimental::ClientRpcInfo* info)
      : method_name_(info->method() != nullptr ? info->method() : ""),
        method_(FindMethod(method_name_)) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      if (const auto* metadata = methods->GetSendInitialMetadata()) {
        RecordSecrets(SecretsInMetadata(*metadata));
      }
    }
    if (method_ != nullptr && methods->QueryInterceptionHookPoint(
                                  InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      OnRequest(methods);
    }
    if (method_ != nullptr && methods->QueryInterceptionHookPoint(
                                  InterceptionHookPoints::POST_RECV_MESSAGE)) {
      if (const Message* response = AsResponse(methods->GetRecvMessage())) {
        OnResponse(*response);
      }
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_STATUS)) {
      if (const grpc::Status* status = methods->GetRecvStatus();
          status != nullptr && !status->ok()) {
        RecordError(method_name_, *status);
      }
    }
    methods->Proceed();
  }

 private:
  // gRPC hands interceptors messages as void*: a generated stub's message
  // (as its MessageLite base) or, from grpc::GenericStub, a grpc::ByteBuffer.
  // Requests are therefore read from their serialized form, parsed as the
  // method's input type. A response is used only if its first word is the
  // vtable pointer of the method's generated output type (Itanium C++ ABI);
  // a ByteBuffer's first word is a heap pointer, never that.
  const Message* AsResponse(const void* received) const {
    if (received == nullptr) return nullptr;
    const Message* prototype =
        google::protobuf::MessageFactory::generated_factory()->GetPrototype(
            method_->output_type());
    if (prototype == nullptr) return nullptr;
    const void* vptr =
        *static_cast<const void* const*>(static_cast<const void*>(prototype));
    if (*static_cast<const void* const*>(received) != vptr) return nullptr;
    return static_cast<const Message*>(
        static_cast<const google::protobuf::MessageLite*>(received));
  }

  void OnRequest(grpc::experimental::InterceptorBatchMethods* methods) {
    grpc::ByteBuffer* buffer = methods->GetSerializedSendMessage();
    std::vector<grpc::Slice> slices;
    if (buffer == nullptr || !buffer->Dump(&slices).ok()) return;
    std::string bytes;
    for (const grpc::Slice& slice : slices) {
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
    const Message* prototype =
        google::protobuf::MessageFactory::generated_factory()->GetPrototype(
            method_->input_type());
    if (prototype == nullptr) return;
    std::unique_ptr<Message> request(prototype->New());
    if (request->ParseFromString(bytes)) {
      RecordSecrets(SecretsInMessage(*request));
    }
  }

  void OnResponse(const Message& response) {
    // Learn the response's own secrets first, so a response that carried the
    // hash of the token it creates is caught too.
    RecordSecrets(SecretsInMessage(response));
    const std::vector<std::string> found =
        FindSecretHashes(response.SerializeAsString());
    for (const std::string& what : found) {
      Recorder::Get().Append(
          "violations.tsv",
          absl::StrCat(method_name_, "\tresponse carries ", what, "\n"));
      ADD_FAILURE() << method_name_ << ": the response carries " << what
                    << " (token hashes must never be returned)";
    }
  }

  std::string method_name_;
  const google::protobuf::MethodDescriptor* method_;
};

class RecordingInterceptorFactoryImpl
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    return new RecordingInterceptor(info);
  }
};

}  // namespace

SecretList SecretsInMessage(const Message& message) {
  SecretList out;
  CollectSecrets(message, 0, &out);
  return out;
}

SecretList SecretsInMetadata(
    const std::multimap<std::string, std::string>& metadata) {
  SecretList out;
  for (const auto& [key, value] : metadata) {
    const std::string name = absl::AsciiStrToLower(key);
    if (value.empty()) continue;
    if (name == "x-session-id") {
      out.emplace_back(kSecretSession, value);
    } else if (name == "x-csrf-token") {
      out.emplace_back(kSecretCsrf, value);
    } else if (name == "authorization") {
      const absl::string_view v(value);
      const size_t space = v.find(' ');
      const std::string scheme = absl::AsciiStrToLower(v.substr(0, space));
      const absl::string_view rest =
          space == absl::string_view::npos
              ? absl::string_view()
              : absl::StripLeadingAsciiWhitespace(v.substr(space + 1));
      if (scheme == "bearer" && !rest.empty()) {
        out.emplace_back(kSecretToken, std::string(rest));
      } else if (scheme == "basic" && !rest.empty()) {
        out.emplace_back(kSecretBasic, std::string(rest));
        std::string decoded;
        if (absl::Base64Unescape(rest, &decoded)) {
          const size_t colon = decoded.find(':');
          if (colon != std::string::npos && colon + 1 < decoded.size()) {
            out.emplace_back(kSecretPassword, decoded.substr(colon + 1));
          }
        }
      } else {
        // Not a scheme we know: the whole value is the secret.
        out.emplace_back(kSecretToken, value);
      }
    }
  }
  return out;
}

std::string TestRunDir() { return Recorder::Get().dir(); }

void RecordSecrets(const SecretList& secrets) {
  if (!secrets.empty()) Recorder::Get().Record(secrets);
}

void RecordError(absl::string_view method, const grpc::Status& status) {
  const std::vector<std::string> found = FindSecretHashes(
      absl::StrCat(status.error_message(), "\n", status.error_details()));
  for (const std::string& what : found) {
    Recorder::Get().Append(
        "violations.tsv",
        absl::StrCat(method, "\terror status carries ", what, "\n"));
    ADD_FAILURE() << method << ": the error status carries " << what;
  }
  Recorder::Get().Append(
      "errors.tsv",
      absl::StrCat(Sanitize(program_invocation_short_name), "\t", method, "\t",
                   static_cast<int>(status.error_code()), "\t",
                   absl::CEscape(status.error_message()), "\t",
                   absl::CEscape(status.error_details()), "\n"));
}

std::pair<std::string, std::string> NewServerLogPaths() {
  return Recorder::Get().NewServerLogPaths();
}

std::vector<std::string> FindSecretHashes(absl::string_view bytes) {
  return Recorder::Get().FindHashes(bytes);
}

std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>
RecordingInterceptorFactory() {
  return std::make_unique<RecordingInterceptorFactoryImpl>();
}

std::shared_ptr<grpc::Channel> NewRecordingChannel(
    const std::string& address,
    std::shared_ptr<grpc::ChannelCredentials> credentials,
    const grpc::ChannelArguments& args) {
  std::vector<
      std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(RecordingInterceptorFactory());
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      address,
      credentials != nullptr ? credentials : grpc::InsecureChannelCredentials(),
      args, std::move(interceptors));
}

}  // namespace tokenauth::e2e
