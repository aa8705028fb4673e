// Boost.Beast adapter: the only file that includes Beast and Asio.
#include "http/server.hpp"

#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <optional>
#include <utility>

#include <pthread.h>
#include <sys/resource.h>

namespace acme::http {

namespace beast = boost::beast;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::string HttpRequest::Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
}

int HttpStatusFor(ErrorCode code) {
    switch (code) {
        case ErrorCode::kInvalidArgument:
            return 400;
        case ErrorCode::kNotFound:
            return 404;
        case ErrorCode::kUnprocessable:
            return 422;
        case ErrorCode::kConflict:
        case ErrorCode::kFailedPrecondition:
            return 409;
        case ErrorCode::kUnavailable:
            return 503;
        case ErrorCode::kDeadlineExceeded:
            return 504;
        case ErrorCode::kInternal:
            return 500;
    }
    return 500;
}

HttpResponse Problem(int status, const std::string& title, const std::string& detail) {
    std::string type = title;
    for (char& c : type)
        c = c == ' ' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    nlohmann::ordered_json j = {{"type", "https://acme.example/problems/" + type},
                                {"title", title},
                                {"status", status},
                                {"detail", detail}};
    // Details may quote a client's bytes: never let one that is not UTF-8 throw here.
    return {status,
            "application/problem+json",
            j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace),
            {}};
}

namespace {

using Stream = beast::tcp_stream;

// The Responds handed to the handler and not yet released: the server is only torn down once
// there are none, so an answer that comes late (after Stop) finds the io_context still there
// and is dropped with it.
class Outstanding {
  public:
    void Add() {
        std::lock_guard lock(mutex_);
        ++count_;
    }
    void Done() {
        // Notified under the lock: once it is released the waiter may destroy this object.
        std::lock_guard lock(mutex_);
        --count_;
        none_.notify_all();
    }
    void WaitNone() {
        std::unique_lock lock(mutex_);
        none_.wait(lock, [&] { return count_ == 0; });
    }

  private:
    std::mutex mutex_;
    std::condition_variable none_;
    int count_ = 0;
};

// Released with the last copy of a Respond.
struct RespondToken {
    explicit RespondToken(Outstanding& o) : outstanding(o) { outstanding.Add(); }
    ~RespondToken() { outstanding.Done(); }
    RespondToken(const RespondToken&) = delete;
    RespondToken& operator=(const RespondToken&) = delete;
    Outstanding& outstanding;
};

// Hands `request` to the handler and resumes the awaiting coroutine, on its own executor, with
// the response, whichever thread the handler answers from.
template <typename Token>
auto AsyncHandle(const AsyncRequestHandler& handler, const HttpRequest& request,
                 Outstanding& outstanding, Token&& token) {
    return asio::async_initiate<Token, void(HttpResponse)>(
        [&handler, &request, &outstanding](auto completion) {
            using Completion = decltype(completion);
            auto shared = std::make_shared<Completion>(std::move(completion));
            // Tracked: the io_context keeps running while a response is outstanding.
            asio::any_io_executor tracked = asio::prefer(asio::get_associated_executor(*shared),
                                                         asio::execution::outstanding_work.tracked);
            // Members go in reverse order: the executor (which touches the io_context) before
            // the token (whose release lets the server destroy the io_context).
            struct State {
                State(Outstanding& o, asio::any_io_executor e) : token(o), executor(std::move(e)) {}
                RespondToken token;
                asio::any_io_executor executor;
            };
            auto state = std::make_shared<State>(outstanding, std::move(tracked));
            Respond respond = [shared, state](HttpResponse response) {
                asio::post(state->executor, [shared, r = std::move(response)]() mutable {
                    (*shared)(std::move(r));
                });
            };
            const auto& executor = state->executor;
            try {
                handler(request, std::move(respond));
            } catch (const std::exception& e) {
                // Thrown before answering: answer here (a handler never throws after). The
                // reason goes to the log, never to the client.
                std::fprintf(stderr, "acme-http: handler failed on %s %s: %s\n",
                             request.method.c_str(), request.path.c_str(), e.what());
                asio::post(executor, [shared]() mutable {
                    (*shared)(Problem(500, "Internal Server Error",
                                      "the server could not answer this request"));
                });
            }
        },
        token);
}

HttpRequest FromBeast(beast::http::request<beast::http::string_body>& req) {
    HttpRequest r;
    // HEAD is answered as GET without the body (Reply drops it), so routes know only GET.
    r.method = req.method() == beast::http::verb::head ? std::string("GET")
                                                       : std::string(req.method_string());
    r.target = std::string(req.target());
    r.path = r.target.substr(0, r.target.find('?'));
    for (const auto& field : req) {
        std::string name(field.name_string());
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        r.headers[name] = std::string(field.value());
    }
    r.body = std::move(req.body());
    return r;
}

asio::awaitable<void> Reply(Stream& stream, HttpResponse r, bool keep_alive, unsigned version,
                            beast::error_code& ec, bool head = false) {
    beast::http::response<beast::http::string_body> res(static_cast<beast::http::status>(r.status),
                                                        version);
    res.set(beast::http::field::server, "acme");
    res.set(beast::http::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers) res.set(k, v);
    res.keep_alive(keep_alive);
    res.body() = std::move(r.body);
    res.prepare_payload();
    beast::http::response_serializer<beast::http::string_body> serializer(res);
    // A HEAD response carries the GET response's headers (Content-Length too) and no body.
    auto [write_ec, written] = head ? co_await beast::http::async_write_header(
                                          stream, serializer, asio::as_tuple(asio::use_awaitable))
                                    : co_await beast::http::async_write(
                                          stream, serializer, asio::as_tuple(asio::use_awaitable));
    (void)written;
    ec = write_ec;
}

HttpResponse UriTooLong(const ServerOptions& options) {
    return Problem(
        414, "URI Too Long",
        "the request target is longer than " + std::to_string(options.target_limit) + " bytes");
}

HttpResponse FieldsTooLarge(const ServerOptions& options) {
    return Problem(
        431, "Request Header Fields Too Large",
        "the header fields are larger than " + std::to_string(options.header_limit) + " bytes");
}

// A target of visible ASCII only: RFC 9112 has no raw bytes above 0x7E (percent-encode them).
bool IsAsciiTarget(std::string_view target) {
    for (const char c : target) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7F) return false;
    }
    return true;
}

// The status for a read error: 413, 414, 431 or 400. `pending` is what was read and not parsed
// (for a header over the limit: is it the request line or the fields?).
HttpResponse ReadErrorResponse(const beast::error_code& ec, std::string_view pending,
                               const ServerOptions& options) {
    if (ec == beast::http::error::body_limit) {
        return Problem(413, "Payload Too Large",
                       "the body is larger than " + std::to_string(options.body_limit) + " bytes");
    }
    if (ec == beast::http::error::header_limit) {
        const std::size_t line_end = pending.find("\r\n");
        const bool long_line =
            line_end == std::string_view::npos || line_end > options.target_limit + 32;
        return long_line ? UriTooLong(options) : FieldsTooLarge(options);
    }
    return Problem(400, "Bad Request", "malformed HTTP request: " + ec.message());
}

// RFC 9110/9112 checks on a parsed header; nullopt when the request may go on.
std::optional<HttpResponse> CheckHeader(
    const beast::http::request_parser<beast::http::string_body>& parser,
    const ServerOptions& options) {
    const auto& req = parser.get();
    if (req.target().size() > options.target_limit) return UriTooLong(options);
    std::size_t field_bytes = 0;
    for (const auto& field : req)
        field_bytes += field.name_string().size() + field.value().size() + 4;
    if (field_bytes > options.header_limit) return FieldsTooLarge(options);
    if (!IsAsciiTarget(req.target())) {
        return Problem(400, "Bad Request",
                       "the request target holds bytes that are not visible ASCII "
                       "(percent-encode them)");
    }
    const auto hosts = req.count(beast::http::field::host);
    if ((req.version() >= 11 && hosts != 1) || hosts > 1) {
        return Problem(400, "Bad Request", "an HTTP/1.1 request needs exactly one Host header");
    }
    if (auto expect = req.find(beast::http::field::expect); expect != req.end()) {
        if (!beast::iequals(expect->value(), "100-continue")) {
            return Problem(417, "Expectation Failed", "only 'Expect: 100-continue' is understood");
        }
    }
    return std::nullopt;
}

// Counts a connection for as long as the coroutine frame it is moved into lives.
class Counted {
  public:
    explicit Counted(std::atomic<std::uint64_t>& count) : count_(&count) { count.fetch_add(1); }
    Counted(Counted&& other) noexcept : count_(std::exchange(other.count_, nullptr)) {}
    Counted& operator=(Counted&&) = delete;
    ~Counted() {
        if (count_ != nullptr) count_->fetch_sub(1);
    }

  private:
    std::atomic<std::uint64_t>* count_;
};

// One connection: read a request, await the handler's response, write it; until the client
// closes, stops keeping alive, idles 30 s or sends something malformed.
asio::awaitable<void> Session(Stream stream, const AsyncRequestHandler& handler,
                              const ServerOptions& options, Outstanding& outstanding,
                              Counted /*open*/) {
    beast::flat_buffer buffer;
    auto pending = [&] {
        const auto data = buffer.data();
        return std::string_view(static_cast<const char*>(data.data()), data.size());
    };
    for (;;) {
        beast::http::request_parser<beast::http::string_body> parser;
        parser.body_limit(options.body_limit);
        // Room for the longest target allowed and the fields; CheckHeader tells the two apart.
        parser.header_limit(
            static_cast<std::uint32_t>(options.target_limit + options.header_limit));
        stream.expires_after(std::chrono::seconds(30));
        auto [ec, read] = co_await beast::http::async_read_header(
            stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
        (void)read;
        if (ec == beast::http::error::end_of_stream || ec == beast::error::timeout ||
            ec == asio::error::connection_reset || ec == asio::error::eof) {
            break;
        }
        beast::error_code write_ec;
        if (ec) {
            co_await Reply(stream, ReadErrorResponse(ec, pending(), options), false, 11, write_ec);
            break;
        }
        if (auto refused = CheckHeader(parser, options)) {
            co_await Reply(stream, std::move(*refused), false, 11, write_ec);
            break;
        }
        if (parser.get()[beast::http::field::expect].size() != 0 && parser.get().version() >= 11 &&
            !parser.is_done()) {
            static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
            auto [continue_ec, sent] =
                co_await asio::async_write(stream, asio::buffer(kContinue.data(), kContinue.size()),
                                           asio::as_tuple(asio::use_awaitable));
            (void)sent;
            if (continue_ec) break;
        }
        if (!parser.is_done()) {
            auto [body_ec, body_read] = co_await beast::http::async_read(
                stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
            (void)body_read;
            if (body_ec == beast::error::timeout || body_ec == asio::error::connection_reset ||
                body_ec == asio::error::eof || body_ec == beast::http::error::end_of_stream) {
                break;
            }
            if (body_ec) {
                co_await Reply(stream, ReadErrorResponse(body_ec, pending(), options), false, 11,
                               write_ec);
                break;
            }
        }
        auto& req = parser.get();
        const bool keep_alive = req.keep_alive();
        const unsigned version = req.version();
        const bool head = req.method() == beast::http::verb::head;
        const HttpRequest request = FromBeast(req);
        stream.expires_never();  // the handler may wait for a group commit
        HttpResponse response =
            co_await AsyncHandle(handler, request, outstanding, asio::use_awaitable);
        stream.expires_after(std::chrono::seconds(30));
        co_await Reply(stream, std::move(response), keep_alive, version, write_ec, head);
        if (write_ec || !keep_alive) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

// At most this many refused connections are being told 503 at once; past it a refused
// connection is closed at once (each holds a descriptor while it is told).
constexpr std::uint64_t kMaxRefusing = 64;

// A connection past max_connections: told so, then closed within 200 ms.
asio::awaitable<void> RefuseSession(Stream stream, Counted /*refusing*/) {
    stream.expires_after(std::chrono::milliseconds(200));
    HttpResponse busy = Problem(503, "Service Unavailable",
                                "the server has as many connections open as it serves; retry "
                                "shortly");
    busy.headers.emplace_back("Retry-After", "1");
    beast::error_code ec;
    co_await Reply(stream, std::move(busy), false, 11, ec);
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    // Read what the client sent until it closes (or the 200 ms pass): closing with unread
    // bytes would reset the connection and could discard the 503 before the client reads it.
    char sink[4096];
    for (int i = 0; i < 16 && !ec; ++i) {
        auto [read_ec, n] = co_await stream.async_read_some(asio::buffer(sink),
                                                            asio::as_tuple(asio::use_awaitable));
        (void)n;
        ec = read_ec;
    }
}

}  // namespace

struct HttpServer::Impl {
    // Before the io_context: sessions still in it when it is destroyed count themselves out.
    std::atomic<std::uint64_t> accept_errors{0};
    std::atomic<std::uint64_t> refused_at_limit{0};
    std::atomic<std::uint64_t> connections{0};
    std::atomic<std::uint64_t> refusing{0};
    asio::io_context io;
    tcp::acceptor acceptor{io};
    AsyncRequestHandler handler;
    ServerOptions options;
    std::vector<std::thread> threads;
    Outstanding outstanding;

    asio::awaitable<void> Accept() {
        asio::steady_timer backoff(io);
        std::uint64_t burst = 0;
        for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(io),
                                                               asio::as_tuple(asio::use_awaitable));
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
            if (ec) {
                // Out of descriptors (EMFILE, ENFILE), of buffers (ENOBUFS), or a handshake
                // aborted: the connection waits in the listen queue; try again shortly.
                accept_errors.fetch_add(1);
                if (burst++ == 0) {
                    std::fprintf(stderr, "acme-http: accept failed (%s); backing off\n",
                                 ec.message().c_str());
                }
                backoff.expires_after(std::chrono::milliseconds(20));
                co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
                continue;
            }
            if (burst != 0) {
                std::fprintf(stderr, "acme-http: accepting again after %llu failed accepts\n",
                             static_cast<unsigned long long>(burst));
                burst = 0;
            }
            auto executor = socket.get_executor();
            if (connections.load() >= options.max_connections) {
                refused_at_limit.fetch_add(1);
                if (refusing.load() < kMaxRefusing) {
                    asio::co_spawn(executor,
                                   RefuseSession(Stream(std::move(socket)), Counted(refusing)),
                                   asio::detached);
                }
                continue;  // else the socket closes here
            }
            asio::co_spawn(executor,
                           Session(Stream(std::move(socket)), handler, options, outstanding,
                                   Counted(connections)),
                           asio::detached);
        }
    }
};

std::size_t DefaultMaxConnections() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 65'536;
    // The reserve holds the database connections (about 60 under load), the log and the
    // connections being told 503.
    const auto fds = static_cast<std::size_t>(limit.rlim_cur);
    const std::size_t reserve = std::max<std::size_t>(128, fds / 8);
    return fds > reserve + 16 ? fds - reserve : 16;
}

ServerStats HttpServer::Stats() const {
    return {impl_->accept_errors.load(), impl_->refused_at_limit.load(), impl_->connections.load(),
            impl_->options.max_connections};
}

HttpServer::HttpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() {
    Stop();
    // A handler still holding a Respond answers into the stopped io_context; wait for it so
    // the io_context is destroyed here, after the last one.
    if (impl_) impl_->outstanding.WaitNone();
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const ServerOptions& options,
                                                      RequestHandler handler) {
    return Start(options, [handler = std::move(handler)](const HttpRequest& r, Respond respond) {
        respond(handler(r));
    });
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const ServerOptions& options,
                                                      AsyncRequestHandler handler) {
    auto impl = std::make_shared<Impl>();
    impl->handler = std::move(handler);
    impl->options = options;
    if (impl->options.max_connections == 0) impl->options.max_connections = DefaultMaxConnections();
    beast::error_code ec;
    const auto address = asio::ip::make_address(options.host, ec);
    if (ec)
        return MakeError(ErrorCode::kInvalidArgument, "bad listen address '" + options.host + "'");
    const tcp::endpoint endpoint(address, options.port);
    impl->acceptor.open(endpoint.protocol(), ec);
    if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) impl->acceptor.bind(endpoint, ec);
    if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        return MakeError(ErrorCode::kUnavailable, "cannot listen on " + options.host + ":" +
                                                      std::to_string(options.port) + ": " +
                                                      ec.message());
    }
    asio::co_spawn(impl->io, impl->Accept(), asio::detached);
    for (int i = 0; i < std::max(1, options.threads); ++i) {
        impl->threads.emplace_back([io = &impl->io] {
            pthread_setname_np(pthread_self(), "acme-http");
            io->run();
        });
    }
    return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::Stop() {
    if (!impl_) return;
    impl_->io.stop();
    for (auto& t : impl_->threads) {
        if (t.joinable()) t.join();
    }
    impl_->threads.clear();
}

std::uint16_t HttpServer::port() const { return impl_->acceptor.local_endpoint().port(); }

}  // namespace acme::http
