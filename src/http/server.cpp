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

#include <pthread.h>

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
    return {status, "application/problem+json", j.dump(), {}};
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
                // Thrown before answering: answer here (a handler never throws after).
                asio::post(executor, [shared, what = std::string(e.what())]() mutable {
                    (*shared)(Problem(500, "Internal Server Error", what));
                });
            }
        },
        token);
}

HttpRequest FromBeast(beast::http::request<beast::http::string_body>& req) {
    HttpRequest r;
    r.method = std::string(req.method_string());
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
                            beast::error_code& ec) {
    beast::http::response<beast::http::string_body> res(static_cast<beast::http::status>(r.status),
                                                        version);
    res.set(beast::http::field::server, "acme");
    res.set(beast::http::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers) res.set(k, v);
    res.keep_alive(keep_alive);
    res.body() = std::move(r.body);
    res.prepare_payload();
    auto [write_ec, written] =
        co_await beast::http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
    (void)written;
    ec = write_ec;
}

// One connection: read a request, await the handler's response, write it; until the client
// closes, stops keeping alive, idles 30 s or sends something malformed.
asio::awaitable<void> Session(Stream stream, const AsyncRequestHandler& handler,
                              std::size_t body_limit, Outstanding& outstanding) {
    beast::flat_buffer buffer;
    for (;;) {
        beast::http::request_parser<beast::http::string_body> parser;
        parser.body_limit(body_limit);
        stream.expires_after(std::chrono::seconds(30));
        auto [ec, read] = co_await beast::http::async_read(stream, buffer, parser,
                                                           asio::as_tuple(asio::use_awaitable));
        (void)read;
        if (ec == beast::http::error::end_of_stream || ec == beast::error::timeout ||
            ec == asio::error::connection_reset || ec == asio::error::eof) {
            break;
        }
        beast::error_code write_ec;
        if (ec == beast::http::error::body_limit) {
            co_await Reply(
                stream,
                Problem(413, "Payload Too Large",
                        "the body is larger than " + std::to_string(body_limit) + " bytes"),
                false, 11, write_ec);
            break;
        }
        if (ec) {
            co_await Reply(stream,
                           Problem(400, "Bad Request", "malformed HTTP request: " + ec.message()),
                           false, 11, write_ec);
            break;
        }
        auto& req = parser.get();
        const bool keep_alive = req.keep_alive();
        const unsigned version = req.version();
        const HttpRequest request = FromBeast(req);
        stream.expires_never();  // the handler may wait for a group commit
        HttpResponse response =
            co_await AsyncHandle(handler, request, outstanding, asio::use_awaitable);
        stream.expires_after(std::chrono::seconds(30));
        co_await Reply(stream, std::move(response), keep_alive, version, write_ec);
        if (write_ec || !keep_alive) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace

struct HttpServer::Impl {
    asio::io_context io;
    tcp::acceptor acceptor{io};
    AsyncRequestHandler handler;
    ServerOptions options;
    std::vector<std::thread> threads;
    Outstanding outstanding;

    asio::awaitable<void> Accept() {
        for (;;) {
            auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(io),
                                                               asio::as_tuple(asio::use_awaitable));
            if (ec) co_return;  // acceptor closed
            auto executor = socket.get_executor();
            asio::co_spawn(
                executor,
                Session(Stream(std::move(socket)), handler, options.body_limit, outstanding),
                asio::detached);
        }
    }
};

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
