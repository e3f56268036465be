// Requests the server cannot parse are the caller's fault, so they must come
// back as INVALID_ARGUMENT, not the INTERNAL (synchronous handlers) or bare
// UNIMPLEMENTED (callback handlers) that gRPC answers when request
// deserialization fails. The usual cause is a proto3 string field holding
// bytes that are not UTF-8; protobuf reports which field through its log,
// which InstallProtobufLogCapture() intercepts (the log line never holds the
// value, only the field's full name). The status carries error details like
// every other (server/status_convert.h): reason INVALID_ARGUMENT with the
// field, or REQUEST_MALFORMED when protobuf named none.
//
// Install the capture once, before serving; add the interceptor factory to
// the ServerBuilder. Thread-safe.
#ifndef TOKENAUTH_SERVER_PARSE_ERRORS_H_
#define TOKENAUTH_SERVER_PARSE_ERRORS_H_

#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string>

namespace tokenauth {

// Routes protobuf's log through server/log.h and remembers, per thread, the
// last field reported as holding invalid UTF-8.
void InstallProtobufLogCapture();

// Takes (and clears) this thread's remembered field; empty if none.
std::string TakeInvalidUtf8Field();

class ParseErrorInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;
};

}  // namespace tokenauth

#endif  // TOKENAUTH_SERVER_PARSE_ERRORS_H_
