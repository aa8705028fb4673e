// A minimal blocking HTTP/1.1 client with one keep-alive connection, for the load generator
// and tests. Not thread-safe: one client per thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace acme::http {

struct ClientResponse {
    int status = 0;
    std::string content_type;
    std::string body;
};

class HttpClient {
  public:
    HttpClient(std::string host, std::uint16_t port);
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    // Sends a request (reconnecting when the connection was closed). kUnavailable when the
    // server cannot be reached.
    [[nodiscard]] Result<ClientResponse> Send(
        const std::string& method, const std::string& target, const std::string& body = "",
        const std::vector<std::pair<std::string, std::string>>& headers = {});

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Splits "http://host:port" into host and port. kInvalidArgument otherwise.
[[nodiscard]] Result<std::pair<std::string, std::uint16_t>> ParseBaseUrl(const std::string& url);

}  // namespace acme::http
