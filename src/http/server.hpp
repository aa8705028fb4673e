// A small HTTP/1.1 server on Boost.Beast: each keep-alive connection is a C++20 coroutine on
// a few threads. A request goes to the handler with a `Respond` to call once, from any thread:
// a handler waiting for something (a group commit) holds no thread meanwhile.
//
// Before the handler runs, the server answers what RFC 9110/9112 leave to it: 400 for a
// malformed request, an HTTP/1.1 request without exactly one Host, or a target that is not
// ASCII; 413 for a body over `body_limit`; 414 for a target over `target_limit`; 431 for
// header fields over `header_limit`; 417 for an Expect other than 100-continue, and
// `100 Continue` before reading the body of a request that asks for it. HEAD is handed to the
// handler as GET and answered with the same headers and no body. Accept errors (out of file
// descriptors, aborted handshakes) never stop the server: it backs off, says so once per burst
// on stderr, and counts them; connections past `max_connections` get a 503 and are closed
// (at most 64 are being told at once, each for at most 200 ms; past that they are just closed).
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
    std::size_t target_limit = 8 * 1024;   // request line's target, bytes (414 past it)
    std::size_t header_limit = 16 * 1024;  // request line and header fields, bytes (431)
    // Open connections served at once; the next get 503 and are closed. 0: the process's
    // file descriptor limit less a reserve for the database and logs (DefaultMaxConnections).
    std::size_t max_connections = 0;
};

// The file descriptor limit (RLIMIT_NOFILE) less a reserve for everything else the process
// opens (an eighth of the limit, at least 128); at least 16.
[[nodiscard]] std::size_t DefaultMaxConnections();

struct ServerStats {
    std::uint64_t accept_errors = 0;     // accept() failed (EMFILE, ENFILE, ENOBUFS, ...)
    std::uint64_t refused_at_limit = 0;  // accepted past max_connections, answered 503
    std::uint64_t connections = 0;       // open now
    std::uint64_t max_connections = 0;   // the limit in force
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
    // Thread-safe; counters since Start.
    [[nodiscard]] ServerStats Stats() const;

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
