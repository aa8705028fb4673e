// The HTTP API against the real server: every route and status code the Cart API's OpenAPI
// document declares is produced by the running server, bad input gets problem+json 4xx, and
// a checkout over HTTP completes with the audit clean.
#include "http/api.hpp"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "catalog/yaml.hpp"
#include "core/files.hpp"

namespace acme::http {
namespace {

namespace beast = boost::beast;
using nlohmann::json;

std::filesystem::path SourceDir() {
    const char* src = std::getenv("ACME_SOURCE_DIR");
    return src != nullptr ? src : ".";
}

struct Reply {
    int status = 0;
    std::string content_type;
    std::string body;
    json Json() const { return json::parse(body, nullptr, false); }
};

class HttpApiTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        std::random_device rd;
        data_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                          ("acme-http-" + std::to_string(rd())));
        runtime::SystemOptions options;
        options.data_dir = *data_;
        options.catalog_dir = SourceDir() / "catalog";
        options.warehouse = {300, 300, 300, 10};  // slow enough to cancel before shipping
        options.bus.poll_ms = 10;
        static SystemClock clock;
        auto s = runtime::System::Open(options, clock);
        ASSERT_TRUE(s.has_value()) << s.error().message;
        system_ = s->release();
        ASSERT_TRUE(system_->Start());
        api_ = new Api(*system_);
        auto server = HttpServer::Start(
            {.host = "127.0.0.1", .port = 0, .threads = 2},
            [](const HttpRequest& r, Respond respond) { api_->Handle(r, std::move(respond)); });
        ASSERT_TRUE(server.has_value()) << server.error().message;
        server_ = server->release();
    }
    static void TearDownTestSuite() {
        delete server_;
        delete api_;
        delete system_;
        std::filesystem::remove_all(*data_);
        delete data_;
    }

    static Reply Send(const std::string& method, const std::string& target,
                      const std::string& body = "",
                      const std::string& content_type = "application/json",
                      const std::vector<std::pair<std::string, std::string>>& headers = {}) {
        boost::asio::io_context io;
        beast::tcp_stream stream(io);
        stream.connect({boost::asio::ip::make_address("127.0.0.1"), server_->port()});
        beast::http::request<beast::http::string_body> req(beast::http::string_to_verb(method),
                                                           target, 11);
        req.set(beast::http::field::host, "127.0.0.1");
        if (!body.empty()) req.set(beast::http::field::content_type, content_type);
        for (const auto& [k, v] : headers) req.set(k, v);
        req.body() = body;
        req.prepare_payload();
        beast::http::write(stream, req);
        beast::flat_buffer buffer;
        beast::http::response<beast::http::string_body> res;
        beast::error_code ec;
        beast::http::read(stream, buffer, res, ec);
        Reply r{static_cast<int>(res.result_int()),
                std::string(res[beast::http::field::content_type]), res.body()};
        stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
        return r;
    }

    static std::string NewCart(const std::string& sku = "SKU-MUG", int qty = 1) {
        auto created = Send("POST", "/carts", R"({"customerId":"c-http"})").Json();
        const std::string id = created.at("id");
        if (!sku.empty()) {
            Send("POST", "/carts/" + id + "/items", json{{"sku", sku}, {"quantity", qty}}.dump());
        }
        return id;
    }

    static json WaitFor(const std::string& target, const std::string& key,
                        const std::string& value) {
        json last;
        for (int i = 0; i < 500; ++i) {
            last = Send("GET", target).Json();
            if (last.is_object() && last.value(key, "") == value) return last;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return last;
    }

    static inline std::filesystem::path* data_ = nullptr;
    static inline runtime::System* system_ = nullptr;
    static inline Api* api_ = nullptr;
    static inline HttpServer* server_ = nullptr;
};

// (method, OpenAPI path template, status) triples the document declares.
std::set<std::tuple<std::string, std::string, int>> Documented() {
    auto text = ReadFile(SourceDir() / "catalog/domains/shopping/services/cart-api/openapi.yml");
    EXPECT_TRUE(text.has_value());
    auto doc = catalog::ParseYaml(*text);
    EXPECT_TRUE(doc.has_value());
    std::set<std::tuple<std::string, std::string, int>> out;
    const catalog::YamlNode* paths = doc->root.Find("paths");
    for (std::size_t i = 0; i < paths->keys.size(); ++i) {
        const auto& item = paths->items[i];
        for (std::size_t k = 0; k < item.keys.size(); ++k) {
            std::string method = item.keys[k];
            if (method == "parameters") continue;
            for (char& c : method)
                c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            const catalog::YamlNode* responses = item.items[k].Find("responses");
            for (const auto& code : responses->keys)
                out.insert({method, paths->keys[i], std::stoi(code)});
        }
    }
    return out;
}

TEST_F(HttpApiTest, EveryDocumentedRouteAndStatusIsServed) {
    std::set<std::tuple<std::string, std::string, int>> seen;
    auto check = [&](const std::string& method, const std::string& route, const Reply& r,
                     int expect) {
        EXPECT_EQ(r.status, expect) << method << " " << route << ": " << r.body;
        if (expect >= 400) {
            EXPECT_EQ(r.content_type, "application/problem+json") << method << " " << route;
            EXPECT_EQ(r.Json().value("status", 0), expect);
        }
        seen.insert({method, route, r.status});
    };
    const std::string big(70 * 1024, 'x');
    const std::string big_body = R"({"customerId":")" + big + "\"}";
    check("GET", "/products", Send("GET", "/products"), 200);
    check("POST", "/carts", Send("POST", "/carts", R"({"customerId":"c1"})"), 201);
    check("POST", "/carts", Send("POST", "/carts", R"({"customer":"c1"})"), 400);
    check("POST", "/carts", Send("POST", "/carts", big_body), 413);
    check("POST", "/carts", Send("POST", "/carts", "customerId=c1", "text/plain"), 415);
    const std::string cart = NewCart("SKU-BEANS", 2);
    check("GET", "/carts/{cartId}", Send("GET", "/carts/" + cart), 200);
    check("GET", "/carts/{cartId}", Send("GET", "/carts/nope"), 404);
    const std::string items = "/carts/" + cart + "/items";
    check("POST", "/carts/{cartId}/items", Send("POST", items, R"({"sku":"SKU-MUG","quantity":1})"),
          200);
    check("POST", "/carts/{cartId}/items", Send("POST", items, R"({"sku":"SKU-MUG","quantity":0})"),
          400);
    check("POST", "/carts/{cartId}/items",
          Send("POST", items, R"({"sku":"SKU-NONE","quantity":1})"), 404);
    check("POST", "/carts/{cartId}/items", Send("POST", items, big_body), 413);
    check("POST", "/carts/{cartId}/items", Send("POST", items, "sku", "text/plain"), 415);
    check("DELETE", "/carts/{cartId}/items/{sku}", Send("DELETE", items + "/SKU-MUG"), 200);
    check("DELETE", "/carts/{cartId}/items/{sku}", Send("DELETE", items + "/SKU-MUG"), 404);
    const std::string checkout = "/carts/" + cart + "/checkout";
    check("POST", "/carts/{cartId}/checkout", Send("POST", checkout, R"({"token":"x"})"), 400);
    check("POST", "/carts/{cartId}/checkout", Send("POST", checkout, big_body), 413);
    check("POST", "/carts/{cartId}/checkout", Send("POST", checkout, "x", "text/plain"), 415);
    check("POST", "/carts/{cartId}/checkout",
          Send("POST", "/carts/nope/checkout", R"({"paymentToken":"tok_visa"})"), 404);
    check("POST", "/carts/{cartId}/checkout",
          Send("POST", "/carts/" + NewCart("") + "/checkout", R"({"paymentToken":"tok_visa"})"),
          409);
    const Reply accepted = Send("POST", checkout, R"({"paymentToken":"tok_visa"})");
    check("POST", "/carts/{cartId}/checkout", accepted, 202);
    check("POST", "/carts/{cartId}/items", Send("POST", items, R"({"sku":"SKU-MUG","quantity":1})"),
          409);
    check("DELETE", "/carts/{cartId}/items/{sku}", Send("DELETE", items + "/SKU-BEANS"), 409);
    const std::string checkout_id = accepted.Json().at("checkoutId");
    check("GET", "/checkouts/{checkoutId}", Send("GET", "/checkouts/" + checkout_id), 200);
    check("GET", "/checkouts/{checkoutId}", Send("GET", "/checkouts/nope"), 404);
    const json done = WaitFor("/checkouts/" + checkout_id, "state", "completed");
    ASSERT_EQ(done.value("state", ""), "completed") << done.dump();
    const std::string order = done.at("orderId");
    check("GET", "/orders/{orderId}", Send("GET", "/orders/" + order), 200);
    check("GET", "/orders/{orderId}", Send("GET", "/orders/nope"), 404);
    // Cancel a fresh order before the warehouse ships it (300 ms a stage).
    const Reply second = Send("POST", "/carts/" + NewCart("SKU-KETTLE", 1) + "/checkout",
                              R"({"paymentToken":"tok_visa"})");
    const json second_done = WaitFor(
        "/checkouts/" + second.Json().at("checkoutId").get<std::string>(), "state", "completed");
    const std::string second_order = second_done.at("orderId");
    const Reply cancelled = Send("POST", "/orders/" + second_order + "/cancel");
    check("POST", "/orders/{orderId}/cancel", cancelled, 202);
    EXPECT_EQ(WaitFor("/orders/" + second_order, "status", "cancelled").value("status", ""),
              "cancelled");
    check("POST", "/orders/{orderId}/cancel", Send("POST", "/orders/nope/cancel"), 404);
    // A cancelled order cannot be returned; a completed one is, and its payment is refunded.
    check("POST", "/orders/{orderId}/return", Send("POST", "/orders/" + second_order + "/return"),
          409);
    check("POST", "/orders/{orderId}/return", Send("POST", "/orders/nope/return"), 404);
    WaitFor("/orders/" + order, "status", "completed");
    check("POST", "/orders/{orderId}/cancel", Send("POST", "/orders/" + order + "/cancel"), 409);
    check("POST", "/orders/{orderId}/return", Send("POST", "/orders/" + order + "/return"), 202);
    EXPECT_EQ(WaitFor("/orders/" + order, "status", "refunded").value("status", ""), "refunded");
    {
        // Admission control: an API whose backlog limit is below zero refuses every checkout,
        // with Retry-After, and accepts nothing.
        Api refusing(*system_, {.writers = 1, .max_backlog = -1});
        HttpRequest req{"POST",
                        "/carts/" + cart + "/checkout",
                        "/carts/" + cart + "/checkout",
                        {{"content-type", "application/json"}},
                        R"({"paymentToken":"tok_visa"})"};
        const std::string busy_cart = NewCart("SKU-MUG", 1);
        req.target = req.path = "/carts/" + busy_cart + "/checkout";
        const HttpResponse busy = refusing.Handle(req);
        Reply reply{busy.status, busy.content_type, busy.body};
        check("POST", "/carts/{cartId}/checkout", reply, 503);
        bool retry_after = false;
        for (const auto& [k, v] : busy.headers)
            retry_after = retry_after || (k == "Retry-After" && v == "1");
        EXPECT_TRUE(retry_after);
        EXPECT_EQ(Send("GET", "/carts/" + busy_cart).Json().value("status", ""), "open");
    }
    check("GET", "/healthz", Send("GET", "/healthz"), 200);
    const Reply metrics = Send("GET", "/metrics");
    check("GET", "/metrics", metrics, 200);
    EXPECT_NE(metrics.body.find("acme_checkouts_total{outcome=\"completed\"}"), std::string::npos);
    EXPECT_NE(metrics.body.find("acme_saga_step_seconds_count{step=\"authorize-payment\"}"),
              std::string::npos);
    auto counter = [&](const std::string& name) -> double {
        const auto at = metrics.body.find("\n" + name + " ");
        return at == std::string::npos ? -1 : std::stod(metrics.body.substr(at + name.size() + 2));
    };
    // The WAL writes of this test's transactions, gathered: fewer system calls than writes.
    EXPECT_GT(counter("acme_wal_write_calls_total"), 0);
    EXPECT_LT(counter("acme_wal_write_calls_total"), counter("acme_wal_writes_total"));
    for (const auto& d : Documented()) {
        EXPECT_TRUE(seen.contains(d)) << "documented but not exercised: " << std::get<0>(d) << " "
                                      << std::get<1>(d) << " " << std::get<2>(d);
    }
    for (const auto& s : seen) {
        EXPECT_TRUE(Documented().contains(s)) << "served but not documented: " << std::get<0>(s)
                                              << " " << std::get<1>(s) << " " << std::get<2>(s);
    }
}

TEST_F(HttpApiTest, IdempotencyKeyOverHttpReturnsTheSameCheckout) {
    const std::string cart = NewCart("SKU-FILTER", 3);
    const std::vector<std::pair<std::string, std::string>> key = {{"Idempotency-Key", "k-http-1"}};
    const Reply a = Send("POST", "/carts/" + cart + "/checkout", R"({"paymentToken":"tok_visa"})",
                         "application/json", key);
    const Reply b = Send("POST", "/carts/" + cart + "/checkout", R"({"paymentToken":"tok_visa"})",
                         "application/json", key);
    ASSERT_EQ(a.status, 202);
    ASSERT_EQ(b.status, 202);
    EXPECT_EQ(a.Json().at("checkoutId"), b.Json().at("checkoutId"));
}

TEST_F(HttpApiTest, GarbageNeverCrashesTheServer) {
    for (const std::string& body : {std::string("{"), std::string("[]"), std::string("null"),
                                    std::string("{\"customerId\": 7}"), std::string("\xff\xfe")}) {
        const Reply r = Send("POST", "/carts", body);
        EXPECT_EQ(r.status, 400) << body;
        EXPECT_EQ(r.content_type, "application/problem+json");
    }
    EXPECT_EQ(Send("GET", "/no/such/route").status, 404);
    EXPECT_EQ(Send("PUT", "/products").status, 405);
    EXPECT_EQ(
        Send("POST", "/carts/" + NewCart("") + "/items", R"({"sku":"SKU-MUG","quantity":"2"})")
            .status,
        400);
    EXPECT_EQ(
        Send("POST", "/carts/" + NewCart("") + "/items", R"({"sku":"SKU-MUG","quantity":100000})")
            .status,
        400);
    EXPECT_EQ(Send("GET", "/healthz").status, 200);
}

}  // namespace
}  // namespace acme::http
