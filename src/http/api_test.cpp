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

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

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
    const std::vector<std::pair<std::string, std::string>> key = {{"Idempotency-Key", "k-422"}};
    const Reply accepted =
        Send("POST", checkout, R"({"paymentToken":"tok_visa"})", "application/json", key);
    check("POST", "/carts/{cartId}/checkout", accepted, 202);
    // The same key with another body (another token) is refused, not the first checkout again.
    check("POST", "/carts/{cartId}/checkout",
          Send("POST", checkout, R"({"paymentToken":"tok_mastercard"})", "application/json", key),
          422);
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
    EXPECT_NE(metrics.body.find("acme_checkouts{outcome=\"completed\"}"), std::string::npos);
    EXPECT_NE(metrics.body.find("acme_checkouts{outcome=\"pending\"}"), std::string::npos);
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

// Raw bytes to the server and what comes back until it closes, or `wait` passes.
std::string Raw(std::uint16_t port, const std::string& bytes,
                std::chrono::milliseconds wait = std::chrono::milliseconds(2000)) {
    boost::asio::io_context io;
    beast::tcp_stream stream(io);
    stream.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    boost::asio::write(stream.socket(), boost::asio::buffer(bytes));
    std::string out;
    char chunk[8192];
    stream.expires_after(wait);
    for (;;) {
        beast::error_code ec;
        const std::size_t n = stream.read_some(boost::asio::buffer(chunk), ec);
        out.append(chunk, n);
        if (ec) break;
    }
    return out;
}

int StatusOf(const std::string& response) {
    return response.size() > 12 && response.starts_with("HTTP/1.")
               ? std::stoi(response.substr(9, 3))
               : 0;
}

std::string HeaderOf(const std::string& response, const std::string& name) {
    std::string lower = response.substr(0, response.find("\r\n\r\n"));
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const auto at = lower.find("\r\n" + name + ": ");
    if (at == std::string::npos) return {};
    const auto begin = at + name.size() + 4;
    const auto end = std::min(lower.find("\r\n", begin), lower.size());
    return response.substr(begin, end - begin);
}

TEST_F(HttpApiTest, HeadAnswersEveryGetRouteWithoutABody) {
    for (const std::string path : {"/healthz", "/products", "/metrics"}) {
        // HEAD, then GET on the same keep-alive connection: a body after HEAD would be read as
        // the start of the next response.
        const std::string both =
            Raw(server_->port(), "HEAD " + path + " HTTP/1.1\r\nHost: t\r\n\r\nGET " + path +
                                     " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        ASSERT_EQ(StatusOf(both), 200) << path << ": " << both.substr(0, 200);
        const auto second = both.find("HTTP/1.1 ", 1);
        ASSERT_NE(second, std::string::npos) << path;
        const std::string head = both.substr(0, second);
        EXPECT_TRUE(head.ends_with("\r\n\r\n")) << path << ": HEAD carried a body";
        const std::string get = both.substr(second);
        EXPECT_EQ(StatusOf(get), 200) << path;
        if (path != "/metrics") {  // the metrics' numbers move between the two
            EXPECT_EQ(HeaderOf(head, "content-length"), HeaderOf(get, "content-length")) << path;
        }
        EXPECT_FALSE(HeaderOf(head, "content-length").empty()) << path;
    }
}

TEST_F(HttpApiTest, MethodsARouteDoesNotTakeAre405WithAllow) {
    struct Case {
        const char* method;
        std::string path;
        const char* allow;
    };
    const std::string cart = NewCart("");
    for (const Case& c :
         {Case{"DELETE", "/healthz", "GET, HEAD"}, Case{"PUT", "/healthz", "GET, HEAD"},
          Case{"FOO", "/healthz", "GET, HEAD"}, Case{"POST", "/products", "GET, HEAD"},
          Case{"GET", "/carts/" + cart + "/checkout", "POST"},
          Case{"PUT", "/carts/" + cart + "/checkout", "POST"}, Case{"GET", "/carts", "POST"},
          Case{"DELETE", "/orders/x/cancel", "POST"}}) {
        const std::string r = Raw(server_->port(), std::string(c.method) + " " + c.path +
                                                       " HTTP/1.1\r\nHost: t\r\nConnection: "
                                                       "close\r\nContent-Length: 0\r\n\r\n");
        EXPECT_EQ(StatusOf(r), 405) << c.method << " " << c.path << ": " << r.substr(0, 300);
        EXPECT_EQ(HeaderOf(r, "allow"), c.allow) << c.method << " " << c.path;
        EXPECT_EQ(HeaderOf(r, "content-type"), "application/problem+json");
    }
    EXPECT_EQ(Send("GET", "/no/such/route").status, 404);
}

TEST_F(HttpApiTest, RawBytesInThePathAre400AndNoInternalTextLeaks) {
    const std::string r = Raw(
        server_->port(), "GET /carts/\xff\xfe HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(StatusOf(r), 400) << r;
    EXPECT_EQ(HeaderOf(r, "content-type"), "application/problem+json");
    const json body = json::parse(r.substr(r.find("\r\n\r\n") + 4), nullptr, false);
    ASSERT_TRUE(body.is_object()) << r;
    EXPECT_EQ(body.value("status", 0), 400);
    EXPECT_EQ(r.find("json.exception"), std::string::npos) << r;
    // Percent-encoded, the same bytes are an ordinary unknown cart.
    EXPECT_EQ(Send("GET", "/carts/%FF").status, 404);
}

TEST_F(HttpApiTest, MediaTypesAreComparedExactlyAndWithoutCase) {
    const std::string body = R"({"customerId":"media"})";
    for (const char* ok :
         {"application/json", "APPLICATION/JSON", "Application/Json; charset=utf-8",
          "application/json ; charset=UTF-8", "application/vnd.acme+json"}) {
        EXPECT_EQ(Send("POST", "/carts", body, ok).status, 201) << ok;
    }
    for (const char* bad : {"application/jsonfoo", "application/json-seq", "text/json",
                            "application/+json", "application/x+jsonx", "json"}) {
        EXPECT_EQ(Send("POST", "/carts", body, bad).status, 415) << bad;
    }
}

TEST_F(HttpApiTest, BytesAfterTheJsonValueAre400) {
    EXPECT_EQ(Send("POST", "/carts", std::string(R"({"customerId":"ab"})") + '\0').status, 400);
    EXPECT_EQ(Send("POST", "/carts", std::string(R"({"customerId":"a)") + '\0' + "b\"}").status,
              400);
    EXPECT_EQ(Send("POST", "/carts", R"({"customerId":"ab"} xyz)").status, 400);
    EXPECT_EQ(Send("POST", "/carts", R"({"customerId":"ab"}{})").status, 400);
    EXPECT_EQ(Send("POST", "/carts", "{\"customerId\":\"ab\"} \r\n\t ").status, 201);
}

TEST_F(HttpApiTest, AnUnknownPaymentTokenIsDeclined) {
    const Reply r = Send("POST", "/carts/" + NewCart("SKU-MUG", 1) + "/checkout",
                         R"({"paymentToken":"tok_unknown"})");
    ASSERT_EQ(r.status, 202);
    const json done =
        WaitFor("/checkouts/" + r.Json().at("checkoutId").get<std::string>(), "state", "rejected");
    EXPECT_EQ(done.value("state", ""), "rejected") << done.dump();
    EXPECT_EQ(done.value("reason", ""), "payment_declined:invalid_token") << done.dump();
    EXPECT_FALSE(done.contains("orderId"));
}

TEST_F(HttpApiTest, Rfc9110And9112Statuses) {
    const std::uint16_t port = server_->port();
    const std::string long_target = "/carts/" + std::string(9000, 'a');
    EXPECT_EQ(StatusOf(Raw(port, "GET " + long_target + " HTTP/1.1\r\nHost: t\r\n\r\n")), 414);
    const std::string very_long_target = "/carts/" + std::string(40'000, 'a');
    EXPECT_EQ(StatusOf(Raw(port, "GET " + very_long_target + " HTTP/1.1\r\nHost: t\r\n\r\n")), 414);
    std::string flood = "GET /healthz HTTP/1.1\r\nHost: t\r\n";
    for (int i = 0; i < 200; ++i)
        flood += "X-Flood-" + std::to_string(i) + ": " + std::string(200, 'v') + "\r\n";
    EXPECT_EQ(StatusOf(Raw(port, flood + "\r\n")), 431);
    EXPECT_EQ(StatusOf(Raw(port, "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")), 400);
    EXPECT_EQ(StatusOf(Raw(port, "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")), 400);
    EXPECT_EQ(StatusOf(Raw(port, "GET /healthz HTTP/1.0\r\n\r\n")), 200);  // 1.0 needs no Host
    EXPECT_EQ(StatusOf(Raw(port,
                           "POST /carts HTTP/1.1\r\nHost: t\r\nExpect: teapot\r\n"
                           "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")),
              417);
    {
        // Expect: 100-continue: the interim response comes before the body is sent.
        boost::asio::io_context io;
        beast::tcp_stream stream(io);
        stream.connect({boost::asio::ip::make_address("127.0.0.1"), port});
        const std::string body = R"({"customerId":"continue"})";
        const std::string head =
            "POST /carts HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
            "Expect: 100-continue\r\nContent-Type: application/json\r\n"
            "Content-Length: " +
            std::to_string(body.size()) + "\r\n\r\n";
        boost::asio::write(stream.socket(), boost::asio::buffer(head));
        stream.expires_after(std::chrono::seconds(2));
        std::string interim(25, '\0');
        beast::error_code ec;
        boost::asio::read(stream, boost::asio::buffer(interim.data(), interim.size()), ec);
        ASSERT_FALSE(ec) << ec.message();
        EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
        boost::asio::write(stream.socket(), boost::asio::buffer(body));
        std::string rest;
        char chunk[4096];
        for (;;) {
            const std::size_t n = stream.read_some(boost::asio::buffer(chunk), ec);
            rest.append(chunk, n);
            if (ec) break;
        }
        EXPECT_EQ(StatusOf(rest), 201) << rest;
    }
    EXPECT_EQ(Send("GET", "/healthz").status, 200);
}

// One rule for repeats, in parallel as in sequence: the first cancel is accepted, every other
// one is a 409 naming the order's status.
TEST_F(HttpApiTest, ParallelCancelsAcceptExactlyOne) {
    const Reply placed = Send("POST", "/carts/" + NewCart("SKU-SCALE", 1) + "/checkout",
                              R"({"paymentToken":"tok_visa"})");
    const json done = WaitFor("/checkouts/" + placed.Json().at("checkoutId").get<std::string>(),
                              "state", "completed");
    ASSERT_TRUE(done.contains("orderId")) << done.dump();
    const std::string order = done.at("orderId");
    std::vector<std::thread> threads;
    std::vector<Reply> replies(30);
    for (std::size_t i = 0; i < replies.size(); ++i) {
        threads.emplace_back([&, i] { replies[i] = Send("POST", "/orders/" + order + "/cancel"); });
    }
    for (auto& t : threads) t.join();
    int accepted = 0;
    int conflicts = 0;
    for (const Reply& r : replies) {
        accepted += r.status == 202 ? 1 : 0;
        if (r.status == 409) {
            ++conflicts;
            EXPECT_NE(r.Json().value("detail", "").find(" is "), std::string::npos) << r.body;
        }
    }
    EXPECT_EQ(accepted, 1);
    EXPECT_EQ(conflicts, 29);
    EXPECT_EQ(Send("POST", "/orders/" + order + "/cancel").status, 409);
}

TEST_F(HttpApiTest, MetricsPassPromtool) {
    if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
        GTEST_SKIP() << "promtool not installed (scripts/install-deps.sh installs prometheus)";
    }
    const Reply metrics = Send("GET", "/metrics");
    ASSERT_EQ(metrics.status, 200);
    const auto file = *data_ / "metrics.txt";
    ASSERT_TRUE(WriteFile(file, metrics.body));
    const std::string cmd = "promtool check metrics < " + file.string() + " > " +
                            (*data_ / "promtool.out").string() + " 2>&1";
    const int status = std::system(cmd.c_str());
    EXPECT_EQ(status, 0) << ReadFile(*data_ / "promtool.out").value_or("") << metrics.body;
}

// A server of its own, for what needs connections: the limit answered with 503, and running
// out of file descriptors survived.
class HttpServerLimitsTest : public ::testing::Test {
  protected:
    static int OpenFds() {
        int n = 0;
        for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
            ++n;
        return n;
    }
};

TEST_F(HttpServerLimitsTest, ConnectionsPastTheLimitGet503) {
    auto server =
        HttpServer::Start({.host = "127.0.0.1", .port = 0, .threads = 2, .max_connections = 4},
                          [](const HttpRequest&) {
                              return HttpResponse{200, "text/plain", "ok", {}};
                          });
    ASSERT_TRUE(server.has_value());
    boost::asio::io_context io;
    std::vector<std::unique_ptr<beast::tcp_stream>> held;
    for (int i = 0; i < 4; ++i) {
        held.push_back(std::make_unique<beast::tcp_stream>(io));
        held.back()->connect({boost::asio::ip::make_address("127.0.0.1"), (*server)->port()});
    }
    // Wait until the four are counted open.
    for (int i = 0; i < 200 && (*server)->Stats().connections < 4; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_EQ((*server)->Stats().connections, 4u);
    const std::string refused = Raw((*server)->port(), "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_EQ(StatusOf(refused), 503) << refused;
    EXPECT_EQ(HeaderOf(refused, "retry-after"), "1");
    EXPECT_EQ((*server)->Stats().refused_at_limit, 1u);
    held.clear();
    for (int i = 0; i < 200 && (*server)->Stats().connections > 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_EQ(
        StatusOf(Raw((*server)->port(), "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")),
        200);
}

// Out of descriptors, accept fails (EMFILE) while connections wait in the listen queue; the
// server must back off and serve them once descriptors are free, not stop accepting for good.
TEST_F(HttpServerLimitsTest, RunningOutOfFileDescriptorsDoesNotStopTheServer) {
    auto server = HttpServer::Start(
        {.host = "127.0.0.1", .port = 0, .threads = 2, .max_connections = 100'000},
        [](const HttpRequest&) {
            return HttpResponse{200, "text/plain", "ok", {}};
        });
    ASSERT_TRUE(server.has_value());
    const std::uint16_t port = (*server)->port();
    rlimit saved{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
    boost::asio::io_context io;
    // Sockets made while descriptors are plenty, connected once there are none left.
    std::vector<std::unique_ptr<boost::asio::ip::tcp::socket>> clients;
    for (int i = 0; i < 20; ++i) {
        clients.push_back(std::make_unique<boost::asio::ip::tcp::socket>(io));
        clients.back()->open(boost::asio::ip::tcp::v4());
    }
    // Use up every descriptor below a limit just above what is open now.
    rlimit tight = saved;
    tight.rlim_cur = static_cast<rlim_t>(OpenFds() + 32);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
    std::vector<int> fillers;
    for (int fd; (fd = ::open("/dev/null", O_RDONLY)) >= 0;) fillers.push_back(fd);
    for (auto& c : clients) {
        boost::system::error_code ec;
        c->connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
        ASSERT_FALSE(ec) << ec.message();  // the kernel completes the handshake; accept fails
    }
    for (int i = 0; i < 200 && (*server)->Stats().accept_errors == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const std::uint64_t errors = (*server)->Stats().accept_errors;
    for (const int fd : fillers) ::close(fd);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
    EXPECT_GT(errors, 0u);
    clients.clear();
    // Served again: a new connection within a few seconds.
    const std::string r = Raw(port, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                              std::chrono::milliseconds(3000));
    EXPECT_EQ(StatusOf(r), 200) << "the server stopped accepting: '" << r << "'";
}

}  // namespace
}  // namespace acme::http
