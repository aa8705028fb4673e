#include "http/api.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string_view>

#include "fulfilment/inventory.hpp"
#include "messaging/dead_letters.hpp"
#include "ordering/checkout_api.hpp"
#include "ordering/checkout_orchestrator.hpp"
#include "ordering/order_service.hpp"
#include "shopping/cart.hpp"
#include "storage/database.hpp"

namespace acme::http {

namespace {

using nlohmann::json;
using storage::Value;

HttpResponse Json(int status, const json& body) {
    return {
        status, "application/json", body.dump(-1, ' ', false, json::error_handler_t::replace), {}};
}

HttpResponse FromError(const Error& e) {
    const int status = HttpStatusFor(e.code);
    static const std::map<int, std::string> kTitles = {{400, "Bad Request"},
                                                       {404, "Not Found"},
                                                       {409, "Conflict"},
                                                       {422, "Unprocessable Content"},
                                                       {500, "Internal Server Error"},
                                                       {503, "Service Unavailable"},
                                                       {504, "Gateway Timeout"}};
    auto it = kTitles.find(status);
    return Problem(status, it == kTitles.end() ? "Error" : it->second, e.message);
}

json CartJson(const shopping::Cart& c) {
    json items = json::array();
    for (const auto& i : c.items) {
        items.push_back({{"sku", i.sku},
                         {"name", i.name},
                         {"quantity", i.quantity},
                         {"unitPrice", i.unit_price}});
    }
    json j = {{"id", c.id},       {"customerId", c.customer_id}, {"status", c.status},
              {"items", items},   {"subtotal", c.subtotal},      {"discount", c.discount},
              {"total", c.total}, {"currency", c.currency}};
    if (!c.checkout_id.empty()) j["checkoutId"] = c.checkout_id;
    return j;
}

json OrderJson(const ordering::OrderView& o) {
    json items = json::array();
    const json raw = json::parse(o.items_json, nullptr, false);
    if (raw.is_array()) {
        for (const auto& i : raw) {
            items.push_back(
                {{"sku", i.value("sku", "")},
                 {"quantity", i.value("quantity", 0)},
                 {"unitPrice", i.contains("unitPrice") ? i["unitPrice"].value("amount", 0) : 0}});
        }
    }
    return {{"id", o.id},
            {"checkoutId", o.checkout_id},
            {"customerId", o.customer_id},
            {"status", o.status},
            {"items", items},
            {"total", o.total},
            {"currency", o.currency}};
}

}  // namespace

bool IsJsonMediaType(std::string_view content_type) {
    // type "/" subtype *( OWS ";" OWS parameter ), compared case-insensitively (RFC 9110 8.3.1).
    std::string_view media = content_type.substr(0, content_type.find(';'));
    while (!media.empty() && (media.front() == ' ' || media.front() == '\t'))
        media.remove_prefix(1);
    while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
    std::string lower(media);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "application/json") return true;
    // application/*+json (problem+json, merge-patch+json, vnd.acme+json...)
    constexpr std::string_view kPrefix = "application/";
    constexpr std::string_view kSuffix = "+json";
    if (!lower.starts_with(kPrefix) || !lower.ends_with(kSuffix)) return false;
    const std::string_view sub = std::string_view(lower).substr(
        kPrefix.size(), lower.size() - kPrefix.size() - kSuffix.size());
    if (sub.empty()) return false;
    for (const char c : sub) {
        if (std::isalnum(static_cast<unsigned char>(c)) == 0 &&
            std::string_view("!#$&-^_.").find(c) == std::string_view::npos)
            return false;
    }
    return true;
}

std::string AllowedMethods(std::string_view path) {
    // Split "/a/b/c" into its segments without allocating; "" or a trailing "/" matches nothing.
    std::string_view seg[5];
    std::size_t n = 0;
    if (!path.starts_with('/')) return {};
    for (std::size_t at = 1; at <= path.size() && n < 5;) {
        const std::size_t slash = std::min(path.find('/', at), path.size());
        seg[n++] = path.substr(at, slash - at);
        at = slash + 1;
        if (slash == path.size()) break;
    }
    if (n == 5 || path.ends_with('/')) return {};
    auto name = [](std::string_view s, std::string_view extra) {
        if (s.empty() || s.size() > 64) return false;
        return std::all_of(s.begin(), s.end(), [&](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
                   extra.find(c) != std::string_view::npos;
        });
    };
    auto id = [&](std::string_view s) { return name(s, "-"); };
    const std::string_view top = n > 0 ? seg[0] : std::string_view();
    switch (n) {
        case 1:
            if (top == "healthz" || top == "metrics" || top == "products") return "GET, HEAD";
            if (top == "carts") return "POST";
            return {};
        case 2:
            if ((top == "carts" || top == "checkouts" || top == "orders") && id(seg[1])) {
                return "GET, HEAD";
            }
            return {};
        case 3:
            if (top == "carts" && id(seg[1]) && (seg[2] == "items" || seg[2] == "checkout")) {
                return "POST";
            }
            if (top == "orders" && id(seg[1]) && (seg[2] == "cancel" || seg[2] == "return")) {
                return "POST";
            }
            return {};
        case 4:
            if (top == "carts" && id(seg[1]) && seg[2] == "items" && name(seg[3], "_.-")) {
                return "DELETE";
            }
            return {};
        default:
            return {};
    }
}

namespace {

// 405 with the methods the route takes.
HttpResponse MethodNotAllowed(const HttpRequest& r, const std::string& allow) {
    HttpResponse res = Problem(405, "Method Not Allowed",
                               r.method + " is not allowed on " + r.path + "; it takes " + allow);
    res.headers.emplace_back("Allow", allow);
    return res;
}

// The answer to an exception that escaped a handler: logged, and nothing of it to the client.
HttpResponse Internal(const HttpRequest& r, const std::exception& e) {
    std::fprintf(stderr, "acme-http: %s %s failed: %s\n", r.method.c_str(), r.path.c_str(),
                 e.what());
    return Problem(500, "Internal Server Error", "the server could not answer this request");
}

// Parses a JSON object body; a problem response when it is not one.
std::optional<HttpResponse> ParseBody(const HttpRequest& r, json& out) {
    if (!IsJsonMediaType(r.Header("content-type"))) {
        return Problem(415, "Unsupported Media Type",
                       "send the body as application/json (or application/*+json)");
    }
    // A NUL byte is never part of JSON text (inside a string it must be escaped); the parser
    // would stop at it and accept what came before.
    if (r.body.find('\0') != std::string::npos) {
        return Problem(400, "Bad Request", "the body holds a NUL byte; it is not JSON text");
    }
    out = json::parse(r.body, nullptr, false);
    if (out.is_discarded()) return Problem(400, "Bad Request", "the body is not valid JSON");
    if (!out.is_object()) return Problem(400, "Bad Request", "the body must be a JSON object");
    return std::nullopt;
}

std::optional<HttpResponse> RequireString(const json& body, const char* key, std::string& out,
                                          std::size_t max = 200) {
    auto it = body.find(key);
    if (it == body.end() || !it->is_string() || it->get<std::string>().empty()) {
        return Problem(400, "Bad Request", std::string("'") + key + "' must be a non-empty string");
    }
    out = it->get<std::string>();
    if (out.size() > max) {
        return Problem(400, "Bad Request",
                       std::string("'") + key + "' is longer than " + std::to_string(max));
    }
    return std::nullopt;
}

// Who the HTTP API is in the catalog, and the role its reads run as.
constexpr const char* kStorefront = "storefront";

}  // namespace

std::unique_ptr<storage::Connection> Api::Acquire(std::string_view service) {
    std::unique_ptr<storage::Connection> db;
    {
        std::lock_guard lock(pool_mutex_);
        if (!pool_.empty()) {
            db = std::move(pool_.back());
            pool_.pop_back();
        }
    }
    if (!db) {
        auto opened = system_.Connect();
        if (!opened) return nullptr;
        db = std::move(*opened);
    }
    if (!system_.bus().ActAs(*db, service)) return nullptr;
    return db;
}

void Api::Release(std::unique_ptr<storage::Connection> db) {
    std::lock_guard lock(pool_mutex_);
    pool_.push_back(std::move(db));
}

void Api::Handle(const HttpRequest& request, Respond respond) {
    const std::string allow = AllowedMethods(request.path);
    if (allow.empty()) {
        respond(Problem(404, "Not Found", "no route " + request.method + " " + request.path));
        return;
    }
    const std::string& method = request.method == "HEAD" ? std::string("GET") : request.method;
    bool allowed = false;
    for (std::size_t at = 0; at < allow.size();) {
        const std::size_t comma = allow.find(',', at);
        const std::size_t end = comma == std::string::npos ? allow.size() : comma;
        allowed = allowed || allow.compare(at, end - at, method) == 0;
        at = comma == std::string::npos ? allow.size() : comma + 2;
    }
    if (!allowed) {
        respond(MethodNotAllowed(request, allow));
        return;
    }
    if (request.method == "POST" || request.method == "DELETE") {
        auto db = Acquire(shopping::CartService::kService);
        if (!db) {
            respond(Problem(503, "Service Unavailable", "no database connection"));
            return;
        }
        bool answered = false;
        try {
            answered = EditCart(request, *db, respond) || Checkout(request, *db, respond);
        } catch (const std::exception& e) {
            respond(Internal(request, e));
            answered = true;
        }
        Release(std::move(db));
        if (answered) return;
        // Other writes block until their group commit: on the Api's own threads.
        writers_.Post([this, request, respond = std::move(respond)] {
            respond(RouteOnPooledConnection(request));
        });
        return;
    }
    respond(RouteOnPooledConnection(request));  // reads answer at once
}

HttpResponse Api::RouteOnPooledConnection(const HttpRequest& request) {
    auto db = Acquire(kStorefront);
    if (!db) return Problem(503, "Service Unavailable", "no database connection");
    HttpResponse response;
    try {
        response = Route(request, *db);
    } catch (const std::exception& e) {
        response = Internal(request, e);
    }
    Release(std::move(db));
    return response;
}

HttpResponse Api::Handle(const HttpRequest& request) {
    std::promise<HttpResponse> answer;
    auto future = answer.get_future();
    Handle(request, [&answer](HttpResponse r) { answer.set_value(std::move(r)); });
    return future.get();
}

Api::~Api() {
    std::unique_lock lock(edits_mutex_);
    edits_done_.wait(lock, [&] { return edits_in_flight_ == 0; });
}

bool Api::EditCart(const HttpRequest& r, storage::Connection& db, Respond& respond) {
    static const std::regex kItems(R"(^/carts/([A-Za-z0-9-]{1,64})/items$)");
    static const std::regex kItem(R"(^/carts/([A-Za-z0-9-]{1,64})/items/([A-Za-z0-9_.-]{1,64})$)");
    std::smatch m;
    auto answer = [&](HttpResponse res) {
        respond(std::move(res));
        return true;
    };
    auto& cart = system_.cart();
    std::optional<shopping::CartEdit> edit;
    int status = 200;
    if (r.path == "/carts" && r.method == "POST") {
        json body;
        if (auto bad = ParseBody(r, body)) return answer(std::move(*bad));
        std::string customer;
        if (auto bad = RequireString(body, "customerId", customer)) return answer(std::move(*bad));
        edit = cart.CreateEdit(customer);
        status = 201;
    } else if (r.method == "POST" && std::regex_match(r.path, m, kItems)) {
        json body;
        if (auto bad = ParseBody(r, body)) return answer(std::move(*bad));
        std::string sku;
        if (auto bad = RequireString(body, "sku", sku, 64)) return answer(std::move(*bad));
        auto q = body.find("quantity");
        if (q == body.end() || !q->is_number_integer()) {
            return answer(Problem(400, "Bad Request", "'quantity' must be an integer"));
        }
        auto added = cart.AddItemEdit(m[1], sku, q->get<std::int64_t>());
        if (!added) return answer(FromError(added.error()));
        edit = std::move(*added);
    } else if (r.method == "DELETE" && std::regex_match(r.path, m, kItem)) {
        edit = cart.RemoveItemEdit(m[1], m[2]);
    } else {
        return false;
    }
    // The write joins the dispatcher's next group commit; once it committed, the cart is read
    // back on the Api's own threads (never on the dispatcher's).
    {
        std::lock_guard lock(edits_mutex_);
        ++edits_in_flight_;
    }
    system_.bus().WriteAsync(
        db, shopping::CartService::kService, edit->write,
        [this, status, id = edit->cart_id, respond = std::move(respond)](Result<void> done) {
            writers_.Post([this, status, id, respond, done = std::move(done)] {
                auto read_back = [&]() -> HttpResponse {
                    if (!done) return FromError(done.error());
                    auto reader = Acquire(kStorefront);
                    if (!reader) {
                        return Problem(503, "Service Unavailable", "no database connection");
                    }
                    auto c = system_.cart().Get(*reader, id);
                    Release(std::move(reader));
                    return c ? Json(status, CartJson(*c)) : FromError(c.error());
                };
                respond(read_back());
                // Notified under the lock: once it is released ~Api may go ahead.
                std::lock_guard lock(edits_mutex_);
                --edits_in_flight_;
                edits_done_.notify_all();
            });
        });
    return true;
}

bool Api::Checkout(const HttpRequest& r, storage::Connection& db, Respond& respond) {
    static const std::regex kCheckout(R"(^/carts/([A-Za-z0-9-]{1,64})/checkout$)");
    std::smatch m;
    if (!std::regex_match(r.path, m, kCheckout)) return false;
    auto answer = [&](HttpResponse res) {
        respond(std::move(res));
        return true;
    };
    json body;
    if (auto bad = ParseBody(r, body)) return answer(std::move(*bad));
    std::string token;
    if (auto bad = RequireString(body, "paymentToken", token, 100)) return answer(std::move(*bad));
    const std::string key = r.Header("idempotency-key");
    if (key.size() > 200) return answer(Problem(400, "Bad Request", "Idempotency-Key is too long"));
    if (const std::int64_t backlog = system_.bus().Backlog(); backlog > options_.max_backlog) {
        HttpResponse busy = Problem(503, "Service Unavailable",
                                    "checkouts are " + std::to_string(backlog) +
                                        " messages behind; nothing was accepted, retry shortly");
        busy.headers.emplace_back("Retry-After", "1");
        return answer(std::move(busy));
    }
    auto prepared = system_.cart().PrepareCheckout(db, m[1], token, key);
    if (!prepared) return answer(FromError(prepared.error()));
    // The write joins the dispatcher's next group commit; this thread goes back to serving.
    system_.bus().WriteAsync(
        db, shopping::CartService::kService, prepared->write,
        [accepted = prepared->accepted, respond = std::move(respond)](Result<void> done) {
            if (!done) {
                respond(FromError(done.error()));
                return;
            }
            HttpResponse res = Json(202, {{"checkoutId", accepted->checkout_id}});
            res.headers.emplace_back("Location", "/checkouts/" + accepted->checkout_id);
            respond(std::move(res));
        });
    return true;
}

HttpResponse Api::Route(const HttpRequest& r, storage::Connection& db) {
    static const std::regex kCart(R"(^/carts/([A-Za-z0-9-]{1,64})$)");
    static const std::regex kCheckoutGet(R"(^/checkouts/([A-Za-z0-9-]{1,64})$)");
    static const std::regex kOrder(R"(^/orders/([A-Za-z0-9-]{1,64})$)");
    static const std::regex kCancel(R"(^/orders/([A-Za-z0-9-]{1,64})/cancel$)");
    static const std::regex kReturn(R"(^/orders/([A-Za-z0-9-]{1,64})/return$)");
    // Handle has answered 404 and 405 already: here every path is known and its method allowed.
    std::smatch m;
    auto& cart = system_.cart();
    if (r.path == "/healthz") return Json(200, {{"status", "ok"}});
    if (r.path == "/metrics") return Metrics(db);
    if (r.path == "/products") {
        auto products = cart.Products(db);
        auto stock = fulfilment::InventoryService::Stock(db);
        if (!products) return FromError(products.error());
        if (!stock) return FromError(stock.error());
        std::map<std::string, std::int64_t> available;
        for (const auto& s : *stock) available[s.sku] = s.on_hand - s.reserved;
        json out = json::array();
        for (const auto& p : *products) {
            out.push_back({{"sku", p.sku},
                           {"name", p.name},
                           {"price", p.price},
                           {"currency", p.currency},
                           {"stock", available[p.sku]}});
        }
        return Json(200, out);
    }
    const std::string& path = r.path;
    if (std::regex_match(path, m, kCart)) {
        auto c = cart.Get(db, m[1]);
        return c ? Json(200, CartJson(*c)) : FromError(c.error());
    }
    if (std::regex_match(path, m, kCheckoutGet)) {
        auto view = ordering::CheckoutOrchestrator::Get(db, m[1]);
        if (view) {
            json j = {{"id", view->id}, {"state", view->state}};
            if (!view->order_id.empty()) j["orderId"] = view->order_id;
            if (!view->reason.empty()) j["reason"] = view->reason;
            return Json(200, j);
        }
        if (view.error().code != ErrorCode::kNotFound) return FromError(view.error());
        // Accepted but the saga has not started yet.
        auto known = shopping::CartService::HasCheckout(db, m[1]);
        if (!known) return FromError(known.error());
        if (*known) return Json(200, {{"id", std::string(m[1])}, {"state", "pending"}});
        return Problem(404, "Not Found", "no checkout '" + std::string(m[1]) + "'");
    }
    if (std::regex_match(path, m, kOrder)) {
        // The storefront's get-order query, answered by the Order Service through the bus.
        auto answer =
            system_.bus().Ask(db, kStorefront, "get-order", json{{"orderId", std::string(m[1])}});
        if (!answer) return FromError(answer.error());
        const json& o = *answer;
        return Json(
            200, OrderJson({o.value("id", ""), o.value("checkoutId", ""), o.value("customerId", ""),
                            o.value("status", ""), o.contains("items") ? o["items"].dump() : "[]",
                            o.value("total", std::int64_t{0}), o.value("currency", "")}));
    }
    if (std::regex_match(path, m, kCancel)) {
        auto o = ordering::OrderService::RequestCancel(db, system_.bus(), m[1]);
        if (!o) return FromError(o.error());
        system_.bus().Notify();
        return Json(202, OrderJson(*o));
    }
    if (std::regex_match(path, m, kReturn)) {
        auto o = ordering::OrderService::RequestReturn(db, system_.bus(), m[1]);
        if (!o) return FromError(o.error());
        system_.bus().Notify();
        return Json(202, OrderJson(*o));
    }
    return Problem(404, "Not Found", "no route " + r.method + " " + r.path);
}

HttpResponse Api::Metrics(storage::Connection& db) {
    std::string out;
    auto totals = ordering::CheckoutOrchestrator::Totals(db);
    // A gauge (pending goes down), so no _total suffix; every outcome present from the start.
    const ordering::SagaTotals t = totals.value_or(ordering::SagaTotals{});
    out +=
        "# HELP acme_checkouts Sagas by outcome (pending: still running).\n"
        "# TYPE acme_checkouts gauge\n";
    for (const auto& [outcome, count] :
         {std::pair<const char*, std::int64_t>{"completed", t.completed},
          {"pending", t.pending},
          {"rejected", t.rejected}}) {
        out += "acme_checkouts{outcome=\"" + std::string(outcome) + "\"} " + std::to_string(count) +
               "\n";
    }
    out +=
        "# HELP acme_saga_step_seconds Saga step latency.\n# TYPE acme_saga_step_seconds summary\n";
    for (const auto& st : t.steps) {
        out += "acme_saga_step_seconds_count{step=\"" + st.step + "\"} " +
               std::to_string(st.count) + "\n";
        out += "acme_saga_step_seconds_sum{step=\"" + st.step + "\"} " +
               std::to_string(static_cast<double>(st.total_ms) / 1000.0) + "\n";
    }
    // Not max(seq) - min(stored offset): a consumer of rare messages keeps an old offset
    // while it is fully caught up. The bus knows how far each consumer has looked.
    out +=
        "# HELP acme_outbox_lag_messages Log messages some consumer has not looked at yet "
        "(checkouts are refused past --max-backlog).\n"
        "# TYPE acme_outbox_lag_messages gauge\n";
    out += "acme_outbox_lag_messages " + std::to_string(system_.bus().Backlog()) + "\n";
    // One series without labels: HELP, TYPE and the value.
    auto metric = [&out](const char* name, const char* type, const char* help,
                         const std::string& value) {
        out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
               name + " " + value + "\n";
    };
    auto number = [](auto v) { return std::to_string(v); };
    const auto wal = system_.CheckpointStats();
    const auto wal_writes = storage::GetWalWriteStats();
    metric("acme_wal_frames", "gauge",
           "Frames in the SQLite WAL at the last background checkpoint.", number(wal.wal_frames));
    metric("acme_wal_checkpoints_total", "counter", "Background WAL checkpoints run.",
           number(wal.checkpoints));
    metric("acme_wal_writes_total", "counter",
           "WAL writes SQLite made (a frame is two: header, page).", number(wal_writes.writes));
    metric("acme_wal_write_calls_total", "counter",
           "System calls that carried them (gathered per transaction).",
           number(wal_writes.flushes));
    const auto stats = system_.bus().Stats();
    metric("acme_dispatcher_nice", "gauge", "Scheduling priority (nice) of the bus's one writer.",
           number(stats.dispatcher_nice));
    auto dead = messaging::CountDeadLetters(db);
    metric("acme_dead_letters", "gauge", "Dead letters awaiting replay.", number(dead.value_or(0)));
    metric("acme_messages_published_total", "counter", "Messages published to the log.",
           number(stats.published));
    metric("acme_messages_handled_total", "counter", "Messages handled by their consumers.",
           number(stats.handled));
    metric("acme_message_retries_total", "counter", "Handler failures scheduled for a retry.",
           number(stats.retries));
    metric("acme_writes_total", "counter",
           "Writes (HTTP commands, tickers, workers) run by the dispatcher.", number(stats.writes));
    metric("acme_write_commits_total", "counter",
           "Transactions those writes were group-committed in.", number(stats.write_commits));
    ServerStats server;
    if (server_stats_) server = server_stats_();
    metric("acme_http_connections", "gauge", "Connections open now.", number(server.connections));
    metric("acme_http_max_connections", "gauge",
           "Connections served at once (--max-connections); the next get 503.",
           number(server.max_connections));
    metric("acme_http_accept_errors_total", "counter",
           "Failed accepts (out of file descriptors or buffers); the server backs off and goes "
           "on.",
           number(server.accept_errors));
    metric("acme_http_connections_refused_total", "counter",
           "Connections answered 503 and closed because max connections were open.",
           number(server.refused_at_limit));
    return {200, "text/plain; version=0.0.4", out, {}};
}

}  // namespace acme::http
