// Boost.Beast adapter: the only file that includes Beast and Asio.
#include "http/server.hpp"

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <nlohmann/json.hpp>
#include <thread>

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

class Session : public std::enable_shared_from_this<Session> {
  public:
    Session(tcp::socket socket, const RequestHandler& handler, std::size_t body_limit)
        : stream_(std::move(socket)), handler_(handler), body_limit_(body_limit) {}

    void Run() { Read(); }

  private:
    void Read() {
        parser_.emplace();
        parser_->body_limit(body_limit_);
        stream_.expires_after(std::chrono::seconds(30));
        beast::http::async_read(
            stream_, buffer_, *parser_,
            [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
    }

    void OnRead(beast::error_code ec) {
        if (ec == beast::http::error::end_of_stream || ec == beast::error::timeout ||
            ec == asio::error::connection_reset || ec == asio::error::eof) {
            Close();
            return;
        }
        if (ec == beast::http::error::body_limit) {
            Reply(Problem(413, "Payload Too Large",
                          "the body is larger than " + std::to_string(body_limit_) + " bytes"),
                  false, 11);
            return;
        }
        if (ec) {
            Reply(Problem(400, "Bad Request", "malformed HTTP request: " + ec.message()), false,
                  11);
            return;
        }
        auto& req = parser_->get();
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
        HttpResponse response;
        try {
            response = handler_(r);
        } catch (const std::exception& e) {
            response = Problem(500, "Internal Server Error", e.what());
        }
        Reply(std::move(response), req.keep_alive(), req.version());
    }

    void Reply(HttpResponse r, bool keep_alive, unsigned version) {
        auto res = std::make_shared<beast::http::response<beast::http::string_body>>(
            static_cast<beast::http::status>(r.status), version);
        res->set(beast::http::field::server, "acme");
        res->set(beast::http::field::content_type, r.content_type);
        for (const auto& [k, v] : r.headers) res->set(k, v);
        res->keep_alive(keep_alive);
        res->body() = std::move(r.body);
        res->prepare_payload();
        beast::http::async_write(
            stream_, *res,
            [self = shared_from_this(), res, keep_alive](beast::error_code ec, std::size_t) {
                if (ec || !keep_alive) {
                    self->Close();
                    return;
                }
                self->Read();
            });
    }

    void Close() {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::optional<beast::http::request_parser<beast::http::string_body>> parser_;
    const RequestHandler& handler_;
    std::size_t body_limit_;
};

}  // namespace

struct HttpServer::Impl {
    asio::io_context io;
    tcp::acceptor acceptor{io};
    RequestHandler handler;
    ServerOptions options;
    std::vector<std::thread> threads;

    void Accept() {
        acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket s) {
            if (ec) return;  // acceptor closed
            std::make_shared<Session>(std::move(s), handler, options.body_limit)->Run();
            Accept();
        });
    }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const ServerOptions& options,
                                                      RequestHandler handler) {
    auto impl = std::make_unique<Impl>();
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
    impl->Accept();
    for (int i = 0; i < std::max(1, options.threads); ++i) {
        impl->threads.emplace_back([io = &impl->io] { io->run(); });
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
