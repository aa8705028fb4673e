// A small HTTP/1.1 server on Boost.Beast: each keep-alive connection is a C++20 coroutine on
// a few threads. A request goes to the handler with a `Respond` to call once, from any thread:
// a handler waiting for something (a group commit) holds no thread meanwhile. Bodies over
// `body_limit` get 413 and malformed requests 400 before the handler runs.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace acme::http {

struct HttpRequest {
    std::string method;
    std::string target;                          // path and query as sent
    std::string path;                            // without the query
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;

    [[nodiscard]] std::string Header(const std::string& lower_name) const;
};

struct HttpResponse {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

// Sends the response; call it exactly once, from any thread.
using Respond = std::function<void(HttpResponse)>;
using AsyncRequestHandler = std::function<void(const HttpRequest&, Respond)>;
// A handler that answers at once, on the server's thread.
using RequestHandler = std::function<HttpResponse(const HttpRequest&)>;

struct ServerOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;  // 0 picks a free port
    int threads = 2;
    std::size_t body_limit = 64 * 1024;
};

class HttpServer {
  public:
    ~HttpServer();
    // Binds and starts serving. kUnavailable when the address cannot be bound.
    [[nodiscard]] static Result<std::unique_ptr<HttpServer>> Start(const ServerOptions& options,
                                                                   AsyncRequestHandler handler);
    [[nodiscard]] static Result<std::unique_ptr<HttpServer>> Start(const ServerOptions& options,
                                                                   RequestHandler handler);
    void Stop();
    [[nodiscard]] std::uint16_t port() const;

    struct Impl;

  private:
    explicit HttpServer(std::shared_ptr<Impl> impl);
    // Shared with every outstanding Respond: one called after the server is gone is harmless.
    std::shared_ptr<Impl> impl_;
};

// An RFC 9457 problem+json response.
[[nodiscard]] HttpResponse Problem(int status, const std::string& title, const std::string& detail);
// The one mapping of error codes to HTTP statuses.
[[nodiscard]] int HttpStatusFor(ErrorCode code);

}  // namespace acme::http
