// The public HTTP API of the order system, as described by the Cart API's OpenAPI document in
// catalog/. Each request runs on a pooled database connection; bad input gets an RFC 9457
// problem with a 4xx status and changes nothing.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "http/server.hpp"
#include "runtime/system.hpp"

namespace acme::http {

class Api {
  public:
    explicit Api(runtime::System& system) : system_(system) {}

    [[nodiscard]] HttpResponse Handle(const HttpRequest& request);

  private:
    std::unique_ptr<storage::Connection> Acquire();
    void Release(std::unique_ptr<storage::Connection> db);
    HttpResponse Route(const HttpRequest& request, storage::Connection& db);
    HttpResponse Metrics(storage::Connection& db);

    runtime::System& system_;
    std::mutex pool_mutex_;
    std::vector<std::unique_ptr<storage::Connection>> pool_;
};

}  // namespace acme::http
