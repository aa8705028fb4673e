#include "http/api.hpp"

#include <future>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>

#include "fulfilment/inventory.hpp"
#include "ordering/checkout_saga.hpp"
#include "shopping/cart.hpp"
#include "storage/database.hpp"

namespace acme::http {

namespace {

using nlohmann::json;
using storage::Value;

HttpResponse Json(int status, const json& body) {
    return {status, "application/json", body.dump(), {}};
}

HttpResponse FromError(const Error& e) {
    const int status = HttpStatusFor(e.code);
    static const std::map<int, std::string> kTitles = {
        {400, "Bad Request"},           {404, "Not Found"},           {409, "Conflict"},
        {500, "Internal Server Error"}, {503, "Service Unavailable"}, {504, "Gateway Timeout"}};
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

// Parses a JSON object body; a problem response when it is not one.
std::optional<HttpResponse> ParseBody(const HttpRequest& r, json& out) {
    const std::string type = r.Header("content-type");
    if (type.rfind("application/json", 0) != 0) {
        return Problem(415, "Unsupported Media Type", "send the body as application/json");
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

}  // namespace

std::unique_ptr<storage::Connection> Api::Acquire() {
    {
        std::lock_guard lock(pool_mutex_);
        if (!pool_.empty()) {
            auto db = std::move(pool_.back());
            pool_.pop_back();
            return db;
        }
    }
    auto db = system_.Connect();
    return db ? std::move(*db) : nullptr;
}

void Api::Release(std::unique_ptr<storage::Connection> db) {
    std::lock_guard lock(pool_mutex_);
    pool_.push_back(std::move(db));
}

void Api::Handle(const HttpRequest& request, Respond respond) {
    if (request.method == "POST" || request.method == "DELETE") {
        auto db = Acquire();
        if (!db) {
            respond(Problem(503, "Service Unavailable", "no database connection"));
            return;
        }
        bool answered = false;
        try {
            answered = EditCart(request, *db, respond) || Checkout(request, *db, respond);
        } catch (const std::exception& e) {
            respond(Problem(500, "Internal Server Error", e.what()));
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
    auto db = Acquire();
    if (!db) return Problem(503, "Service Unavailable", "no database connection");
    HttpResponse response;
    try {
        response = Route(request, *db);
    } catch (const std::exception& e) {
        response = Problem(500, "Internal Server Error", e.what());
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
        db, edit->write,
        [this, status, id = edit->cart_id, respond = std::move(respond)](Result<void> done) {
            writers_.Post([this, status, id, respond, done = std::move(done)] {
                auto read_back = [&]() -> HttpResponse {
                    if (!done) return FromError(done.error());
                    auto reader = Acquire();
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
    if (r.method != "POST") {
        return answer(
            Problem(405, "Method Not Allowed", r.method + " is not allowed on " + r.path));
    }
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
        db, prepared->write,
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
    static const std::regex kItems(R"(^/carts/([A-Za-z0-9-]{1,64})/items$)");
    static const std::regex kItem(R"(^/carts/([A-Za-z0-9-]{1,64})/items/([A-Za-z0-9_.-]{1,64})$)");
    static const std::regex kCheckoutGet(R"(^/checkouts/([A-Za-z0-9-]{1,64})$)");
    static const std::regex kOrder(R"(^/orders/([A-Za-z0-9-]{1,64})$)");
    static const std::regex kCancel(R"(^/orders/([A-Za-z0-9-]{1,64})/cancel$)");
    static const std::regex kReturn(R"(^/orders/([A-Za-z0-9-]{1,64})/return$)");
    auto method_not_allowed = [&] {
        return Problem(405, "Method Not Allowed", r.method + " is not allowed on " + r.path);
    };
    std::smatch m;
    auto& cart = system_.cart();
    if (r.path == "/healthz") return Json(200, {{"status", "ok"}});
    if (r.path == "/metrics") {
        if (r.method != "GET") return method_not_allowed();
        return Metrics(db);
    }
    if (r.path == "/products") {
        if (r.method != "GET") return method_not_allowed();
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
    if (r.path == "/carts") return method_not_allowed();  // POST is EditCart's
    const std::string& path = r.path;
    if (std::regex_match(path, m, kCart)) {
        if (r.method != "GET") return method_not_allowed();
        auto c = cart.Get(db, m[1]);
        return c ? Json(200, CartJson(*c)) : FromError(c.error());
    }
    // POST on items and DELETE on an item are EditCart's.
    if (std::regex_match(path, m, kItems) || std::regex_match(path, m, kItem)) {
        return method_not_allowed();
    }
    if (std::regex_match(path, m, kCheckoutGet)) {
        if (r.method != "GET") return method_not_allowed();
        auto view = ordering::CheckoutOrchestrator::Get(db, m[1]);
        if (view) {
            json j = {{"id", view->id}, {"state", view->state}};
            if (!view->order_id.empty()) j["orderId"] = view->order_id;
            if (!view->reason.empty()) j["reason"] = view->reason;
            return Json(200, j);
        }
        if (view.error().code != ErrorCode::kNotFound) return FromError(view.error());
        // Accepted but the saga has not started yet.
        const Value k[] = {std::string(m[1])};
        auto known = db.Query("SELECT 1 FROM shop_checkout_keys WHERE checkout_id = ?", k);
        if (known && !known->empty())
            return Json(200, {{"id", std::string(m[1])}, {"state", "pending"}});
        return Problem(404, "Not Found", "no checkout '" + std::string(m[1]) + "'");
    }
    if (std::regex_match(path, m, kOrder)) {
        if (r.method != "GET") return method_not_allowed();
        // The storefront's get-order query, answered by the Order Service through the bus.
        auto answer =
            system_.bus().Ask(db, "storefront", "get-order", json{{"orderId", std::string(m[1])}});
        if (!answer) return FromError(answer.error());
        const json& o = *answer;
        return Json(
            200, OrderJson({o.value("id", ""), o.value("checkoutId", ""), o.value("customerId", ""),
                            o.value("status", ""), o.contains("items") ? o["items"].dump() : "[]",
                            o.value("total", std::int64_t{0}), o.value("currency", "")}));
    }
    if (std::regex_match(path, m, kCancel)) {
        if (r.method != "POST") return method_not_allowed();
        auto o = ordering::OrderService::RequestCancel(db, system_.bus(), m[1]);
        if (!o) return FromError(o.error());
        system_.bus().Notify();
        return Json(202, OrderJson(*o));
    }
    if (std::regex_match(path, m, kReturn)) {
        if (r.method != "POST") return method_not_allowed();
        auto o = ordering::OrderService::RequestReturn(db, system_.bus(), m[1]);
        if (!o) return FromError(o.error());
        system_.bus().Notify();
        return Json(202, OrderJson(*o));
    }
    return Problem(404, "Not Found", "no route " + r.method + " " + r.path);
}

HttpResponse Api::Metrics(storage::Connection& db) {
    std::string out;
    auto rows = db.Query(
        "SELECT CASE WHEN state IN ('completed','rejected') THEN state ELSE 'pending' END, "
        "count(*) "
        "FROM ord_sagas GROUP BY 1 ORDER BY 1");
    out += "# HELP acme_checkouts_total Checkouts by outcome.\n# TYPE acme_checkouts_total gauge\n";
    if (rows) {
        for (const auto& r : *rows) {
            out += "acme_checkouts_total{outcome=\"" + r.Text(0) + "\"} " + r.Text(1) + "\n";
        }
    }
    out +=
        "# HELP acme_saga_step_seconds Saga step latency.\n# TYPE acme_saga_step_seconds summary\n";
    auto steps = db.Query(
        "SELECT step, count(*), sum(finished_ms - started_ms) FROM ord_saga_steps WHERE "
        "finished_ms "
        "IS NOT NULL GROUP BY step ORDER BY step");
    if (steps) {
        for (const auto& r : *steps) {
            out += "acme_saga_step_seconds_count{step=\"" + r.Text(0) + "\"} " + r.Text(1) + "\n";
            out += "acme_saga_step_seconds_sum{step=\"" + r.Text(0) + "\"} " +
                   std::to_string(static_cast<double>(r.Int(2)) / 1000.0) + "\n";
        }
    }
    // Not max(seq) - min(stored offset): a consumer of rare messages keeps an old offset
    // while it is fully caught up. The bus knows how far each consumer has looked.
    out +=
        "# HELP acme_outbox_lag_messages Log messages some consumer has not looked at yet "
        "(checkouts are refused past --max-backlog).\n"
        "# TYPE acme_outbox_lag_messages gauge\n";
    out += "acme_outbox_lag_messages " + std::to_string(system_.bus().Backlog()) + "\n";
    const auto wal = system_.CheckpointStats();
    const auto wal_writes = storage::GetWalWriteStats();
    out +=
        "# HELP acme_wal_frames Frames in the SQLite WAL at the last background checkpoint.\n"
        "# TYPE acme_wal_frames gauge\nacme_wal_frames " +
        std::to_string(wal.wal_frames) +
        "\n# HELP acme_wal_checkpoints_total Background WAL checkpoints run.\n"
        "# TYPE acme_wal_checkpoints_total counter\nacme_wal_checkpoints_total " +
        std::to_string(wal.checkpoints) +
        "\n# HELP acme_wal_writes_total WAL writes SQLite made (a frame is two: header, page).\n"
        "# TYPE acme_wal_writes_total counter\nacme_wal_writes_total " +
        std::to_string(wal_writes.writes) +
        "\n# HELP acme_wal_write_calls_total System calls that carried them (gathered per "
        "transaction).\n# TYPE acme_wal_write_calls_total counter\nacme_wal_write_calls_total " +
        std::to_string(wal_writes.flushes) +
        "\n# HELP acme_dispatcher_nice Scheduling priority (nice) of the bus's one writer.\n"
        "# TYPE acme_dispatcher_nice gauge\nacme_dispatcher_nice " +
        std::to_string(system_.bus().Stats().dispatcher_nice) + "\n";
    auto dead = db.Query("SELECT count(*) FROM bus_dead_letters WHERE replayed = 0");
    out +=
        "# HELP acme_dead_letters Dead letters awaiting replay.\n# TYPE acme_dead_letters gauge\n";
    out += "acme_dead_letters " + (dead && !dead->empty() ? dead->front().Text(0) : "0") + "\n";
    const auto stats = system_.bus().Stats();
    out += "# TYPE acme_messages_published_total counter\nacme_messages_published_total " +
           std::to_string(stats.published) + "\n";
    out += "# TYPE acme_messages_handled_total counter\nacme_messages_handled_total " +
           std::to_string(stats.handled) + "\n";
    out += "# TYPE acme_message_retries_total counter\nacme_message_retries_total " +
           std::to_string(stats.retries) + "\n";
    out +=
        "# HELP acme_writes_total Writes (HTTP commands, tickers, workers) run by the "
        "dispatcher.\n# TYPE acme_writes_total counter\nacme_writes_total " +
        std::to_string(stats.writes) + "\n";
    out +=
        "# HELP acme_write_commits_total Transactions those writes were group-committed in.\n"
        "# TYPE acme_write_commits_total counter\nacme_write_commits_total " +
        std::to_string(stats.write_commits) + "\n";
    return {200, "text/plain; version=0.0.4", out, {}};
}

}  // namespace acme::http
