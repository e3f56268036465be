#include "server/parse_errors.h"

#include <google/protobuf/stubs/logging.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/errors.h"
#include "server/log.h"
#include "server/status_convert.h"

namespace tokenauth {
namespace {

thread_local std::string invalid_utf8_field;

void ProtobufLogHandler(google::protobuf::LogLevel level, const char* filename,
                        int line, const std::string& message) {
  // "String field 'pkg.Message.field' contains invalid UTF-8 data ..."
  constexpr absl::string_view kMarker = "String field '";
  absl::string_view m(message);
  if (size_t start = m.find(kMarker); start != absl::string_view::npos) {
    start += kMarker.size();
    size_t end = m.find('\'', start);
    if (end != absl::string_view::npos &&
        m.find("invalid UTF-8", end) != absl::string_view::npos) {
      invalid_utf8_field = std::string(m.substr(start, end - start));
      return;  // The caller's mistake; the RPC reports it, no log needed.
    }
  }
  const char* name =
      level >= google::protobuf::LOGLEVEL_ERROR ? "ERROR" : "WARN";
  LogLine(name, absl::StrCat("protobuf ", filename, ":", line, ": ", message));
}

// INVALID_ARGUMENT with details (server/status_convert.h). `utf8_field` is
// the full name of the field protobuf reported, or empty if it named none.
grpc::Status ParseFailureStatus(const std::string& utf8_field) {
  if (utf8_field.empty()) {
    constexpr absl::string_view kRule =
        "not a valid message of the method's request type";
    return MakeGrpcStatus(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("request: ", kRule),
                          reasons::kRequestMalformed, {},
                          {FieldViolation{"", std::string(kRule)}});
  }
  // The short name only: the path from the request root is not known.
  const std::string field = utf8_field.substr(utf8_field.rfind('.') + 1);
  const std::string rule =
      absl::StrCat("must be valid UTF-8 (field ", utf8_field, ")");
  return MakeGrpcStatus(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat(field, ": ", rule),
                        DefaultReason(absl::StatusCode::kInvalidArgument),
                        {{"field", field}}, {FieldViolation{field, rule}});
}

class ParseErrorInterceptor : public grpc::experimental::Interceptor {
 public:
  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() == nullptr) {
      parse_failed_ = true;
      utf8_field_ = TakeInvalidUtf8Field();
    }
    if (parse_failed_ && methods->QueryInterceptionHookPoint(
                             InterceptionHookPoints::PRE_SEND_STATUS)) {
      // What gRPC sends for a request it cannot parse: INTERNAL from a
      // synchronous handler, UNIMPLEMENTED with no message from a callback
      // one (Authenticate, Health/Check).
      grpc::Status sent = methods->GetSendStatus();
      if (sent.error_code() == grpc::StatusCode::INTERNAL ||
          sent.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
        methods->ModifySendStatus(ParseFailureStatus(utf8_field_));
      }
    }
    methods->Proceed();
  }

 private:
  bool parse_failed_ = false;
  std::string utf8_field_;
};

}  // namespace

void InstallProtobufLogCapture() {
  google::protobuf::SetLogHandler(&ProtobufLogHandler);
}

std::string TakeInvalidUtf8Field() {
  return std::exchange(invalid_utf8_field, std::string());
}

grpc::experimental::Interceptor*
ParseErrorInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* /*info*/) {
  return new ParseErrorInterceptor;
}

}  // namespace tokenauth
