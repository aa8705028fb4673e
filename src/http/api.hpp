// The public HTTP API of the order system, as described by the Cart API's OpenAPI document in
// catalog/. Each request runs on a pooled database connection; bad input gets an RFC 9457
// problem with a 4xx status and changes nothing: an unknown path 404, a method the route
// does not take 405 with Allow, a body that is not exactly one JSON object 400, a media type
// other than application/json or application/*+json 415, an Idempotency-Key reused with
// another payload 422. An internal failure is a 500 whose body says nothing about it (the
// reason goes to stderr).
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/thread_pool.hpp"
#include "http/server.hpp"
#include "runtime/system.hpp"

namespace acme::http {

struct ApiOptions {
    // Writes other than checkouts wait for their group commit on one of this many threads of
    // the Api's own, never on the server's.
    std::size_t writers = 16;
    // Admission control: a checkout is refused (503, Retry-After) while the message log has
    // more than this many messages some consumer has not handled: past the system's
    // throughput, accepting more only lengthens the queue. Negative: refuse every checkout.
    std::int64_t max_backlog = 20'000;
};

// True for `application/json` and `application/*+json`, with any parameters, in any case.
[[nodiscard]] bool IsJsonMediaType(std::string_view content_type);
// The methods a route of the API takes ("GET, HEAD", "POST"), as an Allow header lists them;
// empty when no route has this path.
[[nodiscard]] std::string AllowedMethods(std::string_view path);

class Api {
  public:
    explicit Api(runtime::System& system, ApiOptions options = {})
        : system_(system), options_(options), writers_(options.writers, "acme-api") {}
    // Waits for the cart edits still in the dispatcher's hands (their answers use the Api).
    ~Api();
    Api(const Api&) = delete;
    Api& operator=(const Api&) = delete;

    // Answers through `respond`, at once or, for a checkout, once its write committed (the
    // calling thread does not wait for the group commit).
    void Handle(const HttpRequest& request, Respond respond);
    // The same, waiting for the answer.
    [[nodiscard]] HttpResponse Handle(const HttpRequest& request);
    // Where /metrics reads the HTTP server's counters (connections, refused accepts); call
    // before serving. Without it they read 0.
    void SetServerStats(std::function<ServerStats()> stats) { server_stats_ = std::move(stats); }

  private:
    // A pooled connection acting as `service` (messaging::Bus::ActAs): the cart's writes as
    // cart-api, every read as the storefront. Null when none can be had.
    std::unique_ptr<storage::Connection> Acquire(std::string_view service);
    void Release(std::unique_ptr<storage::Connection> db);
    HttpResponse Route(const HttpRequest& request, storage::Connection& db);
    // POST /carts/{id}/checkout: true when it answered (or will) through `respond`.
    bool Checkout(const HttpRequest& request, storage::Connection& db, Respond& respond);
    // POST /carts, POST /carts/{id}/items, DELETE /carts/{id}/items/{sku}: the same.
    bool EditCart(const HttpRequest& request, storage::Connection& db, Respond& respond);
    HttpResponse Metrics(storage::Connection& db);

    HttpResponse RouteOnPooledConnection(const HttpRequest& request);

    runtime::System& system_;
    ApiOptions options_;
    std::function<ServerStats()> server_stats_;
    std::mutex pool_mutex_;
    std::vector<std::unique_ptr<storage::Connection>> pool_;
    std::mutex edits_mutex_;
    std::condition_variable edits_done_;
    int edits_in_flight_ = 0;
    TaskPool writers_;  // last member: its threads finish before the rest goes
};

}  // namespace acme::http
