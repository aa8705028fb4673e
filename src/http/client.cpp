// Boost.Beast adapter for the client side.
#include "http/client.hpp"

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <optional>

namespace acme::http {

namespace beast = boost::beast;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct HttpClient::Impl {
    std::string host;
    std::uint16_t port;
    asio::io_context io;
    std::optional<beast::tcp_stream> stream;
    beast::flat_buffer buffer;

    Result<void> Connect() {
        stream.emplace(io);
        beast::error_code ec;
        stream->connect(tcp::endpoint(asio::ip::make_address(host, ec), port), ec);
        if (ec) {
            stream.reset();
            return MakeError(
                ErrorCode::kUnavailable,
                "cannot connect to " + host + ":" + std::to_string(port) + ": " + ec.message());
        }
        buffer.clear();
        return {};
    }
};

HttpClient::HttpClient(std::string host, std::uint16_t port) : impl_(std::make_unique<Impl>()) {
    impl_->host = std::move(host);
    impl_->port = port;
}

HttpClient::~HttpClient() {
    if (impl_->stream) {
        beast::error_code ec;
        impl_->stream->socket().shutdown(tcp::socket::shutdown_both, ec);
    }
}

Result<ClientResponse> HttpClient::Send(
    const std::string& method, const std::string& target, const std::string& body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (!impl_->stream) {
            if (auto ok = impl_->Connect(); !ok) return std::unexpected(ok.error());
        }
        beast::http::request<beast::http::string_body> req(beast::http::string_to_verb(method),
                                                           target, 11);
        req.set(beast::http::field::host, impl_->host);
        req.keep_alive(true);
        if (!body.empty()) req.set(beast::http::field::content_type, "application/json");
        for (const auto& [k, v] : headers) req.set(k, v);
        req.body() = body;
        req.prepare_payload();
        beast::error_code ec;
        beast::http::write(*impl_->stream, req, ec);
        beast::http::response<beast::http::string_body> res;
        if (!ec) beast::http::read(*impl_->stream, impl_->buffer, res, ec);
        if (ec) {
            impl_->stream.reset();  // stale keep-alive connection: reconnect once
            if (attempt == 0) continue;
            return MakeError(ErrorCode::kUnavailable, method + " " + target + ": " + ec.message());
        }
        if (!res.keep_alive()) impl_->stream.reset();
        return ClientResponse{static_cast<int>(res.result_int()),
                              std::string(res[beast::http::field::content_type]), res.body()};
    }
    return MakeError(ErrorCode::kUnavailable, "unreachable");
}

Result<std::pair<std::string, std::uint16_t>> ParseBaseUrl(const std::string& url) {
    std::string rest = url;
    if (rest.starts_with("http://")) rest = rest.substr(7);
    while (!rest.empty() && rest.back() == '/') rest.pop_back();
    const std::size_t colon = rest.rfind(':');
    if (colon == std::string::npos)
        return MakeError(ErrorCode::kInvalidArgument, "url needs a port: " + url);
    try {
        const int port = std::stoi(rest.substr(colon + 1));
        if (port <= 0 || port > 65535) throw std::out_of_range("port");
        return std::make_pair(rest.substr(0, colon), static_cast<std::uint16_t>(port));
    } catch (const std::exception&) {
        return MakeError(ErrorCode::kInvalidArgument, "bad port in url " + url);
    }
}

}  // namespace acme::http
