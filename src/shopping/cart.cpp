#include "shopping/cart.hpp"

#include <nlohmann/json.hpp>

namespace acme::shopping {

namespace {

using storage::Value;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS shop_products (
    sku TEXT PRIMARY KEY, name TEXT NOT NULL, price INTEGER NOT NULL, currency TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS shop_carts (
    id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, status TEXT NOT NULL,
    checkout_id TEXT, created_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS shop_cart_items (
    cart_id TEXT NOT NULL, sku TEXT NOT NULL, quantity INTEGER NOT NULL,
    unit_price INTEGER NOT NULL, PRIMARY KEY (cart_id, sku)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS shop_checkout_keys (
    idempotency_key TEXT PRIMARY KEY, cart_id TEXT NOT NULL, checkout_id TEXT NOT NULL UNIQUE,
    request_fingerprint TEXT
) WITHOUT ROWID;
)sql";
// The same tables on PostgreSQL: 64-bit integers (SQLite's INTEGER), heap tables.
constexpr const char* kPostgresSchema = R"sql(
CREATE TABLE IF NOT EXISTS shop_products (
    sku TEXT PRIMARY KEY, name TEXT NOT NULL, price BIGINT NOT NULL, currency TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS shop_carts (
    id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, status TEXT NOT NULL,
    checkout_id TEXT, created_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS shop_cart_items (
    cart_id TEXT NOT NULL, sku TEXT NOT NULL, quantity BIGINT NOT NULL,
    unit_price BIGINT NOT NULL, PRIMARY KEY (cart_id, sku)
);
CREATE TABLE IF NOT EXISTS shop_checkout_keys (
    idempotency_key TEXT PRIMARY KEY, cart_id TEXT NOT NULL, checkout_id TEXT NOT NULL UNIQUE,
    request_fingerprint TEXT
);
)sql";

}  // namespace

std::vector<Product> DemoProducts() {
    return {{"SKU-KETTLE", "Stovetop kettle", 3'499, "EUR"},
            {"SKU-MUG", "Stoneware mug", 1'250, "EUR"},
            {"SKU-BEANS", "Coffee beans 1 kg", 2'400, "EUR"},
            {"SKU-GRINDER", "Burr grinder", 12'900, "EUR"},
            {"SKU-FILTER", "Paper filters (100)", 450, "EUR"},
            {"SKU-SCALE", "Brew scale", 4'999, "EUR"}};
}

Result<void> CartService::Migrate(storage::Connection& db) {
    // Keys stored before the fingerprint (databases from before versioned migrations) get the
    // column; NULL: any payload matches them.
    constexpr auto kFingerprint = [](storage::Connection& c) {
        return storage::AddColumnIfMissing(c, "shop_checkout_keys", "request_fingerprint", "TEXT");
    };
    static constexpr storage::Migration kSteps[] = {{.version = 1,
                                                     .summary = "carts, products, checkout keys",
                                                     .sqlite = kSchema,
                                                     .postgresql = kPostgresSchema,
                                                     .upgrade = kFingerprint}};
    return storage::Migrate(db, kService, kSteps);
}

Result<void> CartService::Seed(storage::Connection& db, const std::vector<Product>& products) {
    return storage::InTransaction(db, [&]() -> Result<void> {
        for (const Product& p : products) {
            const Value v[] = {p.sku, p.name, p.price, p.currency};
            if (auto ok = db.Execute("INSERT INTO shop_products(sku, name, price, "
                                     "currency) VALUES (?,?,?,?) ON CONFLICT DO NOTHING",
                                     v);
                !ok) {
                return ok;
            }
        }
        return {};
    });
}

Result<std::string> CartService::CheckoutForKey(storage::Connection& db,
                                                const std::string& idempotency_key) {
    const Value k[] = {idempotency_key};
    auto rows = db.Query("SELECT checkout_id FROM shop_checkout_keys WHERE idempotency_key = ?", k);
    if (!rows) return std::unexpected(rows.error());
    if (rows->empty()) return MakeError(ErrorCode::kNotFound, "Idempotency-Key not seen");
    return rows->front().Text(0);
}

Result<bool> CartService::HasCheckout(storage::Connection& db, const std::string& checkout_id) {
    const Value k[] = {checkout_id};
    auto rows = db.Query("SELECT 1 FROM shop_checkout_keys WHERE checkout_id = ?", k);
    if (!rows) return std::unexpected(rows.error());
    return !rows->empty();
}

Result<std::vector<Product>> CartService::Products(storage::Connection& db) const {
    auto rows = db.Query("SELECT sku, name, price, currency FROM shop_products ORDER BY sku");
    if (!rows) return std::unexpected(rows.error());
    std::vector<Product> out;
    for (const auto& r : *rows) out.push_back({r.Text(0), r.Text(1), r.Int(2), r.Text(3)});
    return out;
}

CartEdit CartService::CreateEdit(const std::string& customer_id) {
    std::string id = ids_.Next();
    const std::int64_t now = bus_.clock().NowMillis();
    return {[id, customer_id, now](storage::Connection& tx) {
                const Value v[] = {id, customer_id, now};
                return tx.Execute(
                    "INSERT INTO shop_carts(id, customer_id, status, created_ms) VALUES (?, ?, "
                    "'open', ?)",
                    v);
            },
            id};
}

Result<Cart> CartService::Apply(storage::Connection& db, const CartEdit& edit) {
    if (auto done = bus_.Write(db, kService, edit.write); !done)
        return std::unexpected(done.error());
    return Get(db, edit.cart_id);
}

Result<Cart> CartService::Create(storage::Connection& db, const std::string& customer_id) {
    return Apply(db, CreateEdit(customer_id));
}

Result<CartService::CartState> CartService::LoadForUpdate(storage::Connection& db,
                                                          const std::string& cart_id) const {
    const Value key[] = {cart_id};
    auto rows = db.Query("SELECT status FROM shop_carts WHERE id = ?", key);
    if (!rows) return std::unexpected(rows.error());
    if (rows->empty()) return MakeError(ErrorCode::kNotFound, "no cart '" + cart_id + "'");
    CartState state{rows->front().Text(0), {}};
    auto items = LoadItems(db, cart_id);
    if (!items) return std::unexpected(items.error());
    state.items = std::move(*items);
    return state;
}

Result<CartService::ItemRows> CartService::LoadItems(storage::Connection& db,
                                                     const std::string& cart_id) const {
    const Value key[] = {cart_id};
    auto rows = db.Query(
        "SELECT sku, quantity, unit_price FROM shop_cart_items WHERE cart_id = ? ORDER BY sku",
        key);
    if (!rows) return std::unexpected(rows.error());
    ItemRows items;
    items.reserve(rows->size());
    for (auto& r : *rows) items.emplace_back(r.TakeText(0), r.Int(1), r.Int(2));
    return items;
}

Result<Cart> CartService::Get(storage::Connection& db, const std::string& cart_id) const {
    const Value key[] = {cart_id};
    auto rows =
        db.Query("SELECT id, customer_id, status, checkout_id FROM shop_carts WHERE id = ?", key);
    if (!rows) return std::unexpected(rows.error());
    if (rows->empty()) return MakeError(ErrorCode::kNotFound, "no cart '" + cart_id + "'");
    Cart cart;
    cart.id = rows->front().Text(0);
    cart.customer_id = rows->front().Text(1);
    cart.status = rows->front().Text(2);
    cart.checkout_id = rows->front().Text(3);
    auto items = db.Query(
        "SELECT i.sku, p.name, i.quantity, i.unit_price FROM shop_cart_items i JOIN shop_products "
        "p "
        "ON p.sku = i.sku WHERE i.cart_id = ? ORDER BY i.sku",
        key);
    if (!items) return std::unexpected(items.error());
    for (const auto& r : *items) {
        cart.items.push_back({r.Text(0), r.Text(1), r.Int(2), r.Int(3)});
        cart.subtotal += r.Int(2) * r.Int(3);
    }
    if (!cart.items.empty()) {
        nlohmann::json priced = nlohmann::json::array();
        for (const CartItem& i : cart.items) {
            priced.push_back(
                {{"sku", i.sku},
                 {"quantity", i.quantity},
                 {"unitPrice", {{"amount", i.unit_price}, {"currency", cart.currency}}}});
        }
        const nlohmann::json request = {
            {"cartId", cart.id},
            {"customerId", cart.customer_id},
            {"items", priced},
            {"subtotal", {{"amount", cart.subtotal}, {"currency", cart.currency}}}};
        auto answer = bus_.Ask(db, kService, "calculate-discount", request);
        if (!answer) return std::unexpected(answer.error());
        if (!answer->is_object() || !answer->contains("discount")) {
            return MakeError(ErrorCode::kInternal, "calculate-discount answered " + answer->dump());
        }
        cart.discount = (*answer)["discount"].value("amount", std::int64_t{0});
    }
    cart.total = cart.subtotal - cart.discount;
    return cart;
}

Result<CartEdit> CartService::AddItemEdit(const std::string& cart_id, const std::string& sku,
                                          std::int64_t quantity) {
    if (quantity <= 0 || quantity > kMaxQuantity) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "quantity must be between 1 and " + std::to_string(kMaxQuantity));
    }
    return CartEdit{
        [this, cart_id, sku, quantity](storage::Connection& tx) -> Result<void> {
            auto cart = LoadForUpdate(tx, cart_id);
            if (!cart) return std::unexpected(cart.error());
            if (cart->status != "open") {
                return MakeError(ErrorCode::kConflict, "cart '" + cart_id + "' is checked out");
            }
            const Value k[] = {sku};
            auto product = tx.Query("SELECT price FROM shop_products WHERE sku = ?", k);
            if (!product) return std::unexpected(product.error());
            if (product->empty()) {
                return MakeError(ErrorCode::kNotFound, "no product '" + sku + "'");
            }
            for (const auto& [item_sku, item_quantity, price] : cart->items) {
                if (item_sku == sku && item_quantity + quantity > kMaxQuantity) {
                    return MakeError(ErrorCode::kInvalidArgument,
                                     "at most " + std::to_string(kMaxQuantity) + " of one product");
                }
            }
            const Value v[] = {cart_id, sku, quantity, product->front().Int(0)};
            return tx.Execute(
                "INSERT INTO shop_cart_items(cart_id, sku, quantity, unit_price) "
                "VALUES (?,?,?,?) ON CONFLICT(cart_id, sku) DO UPDATE SET quantity = "
                "shop_cart_items.quantity + excluded.quantity",
                v);
        },
        cart_id};
}

Result<Cart> CartService::AddItem(storage::Connection& db, const std::string& cart_id,
                                  const std::string& sku, std::int64_t quantity) {
    auto edit = AddItemEdit(cart_id, sku, quantity);
    if (!edit) return std::unexpected(edit.error());
    return Apply(db, *edit);
}

CartEdit CartService::RemoveItemEdit(const std::string& cart_id, const std::string& sku) {
    return {[this, cart_id, sku](storage::Connection& tx) -> Result<void> {
                auto cart = LoadForUpdate(tx, cart_id);
                if (!cart) return std::unexpected(cart.error());
                if (cart->status != "open") {
                    return MakeError(ErrorCode::kConflict, "cart '" + cart_id + "' is checked out");
                }
                const Value v[] = {cart_id, sku};
                if (auto ok =
                        tx.Execute("DELETE FROM shop_cart_items WHERE cart_id = ? AND sku = ?", v);
                    !ok) {
                    return ok;
                }
                if (tx.Changes() == 0) {
                    return MakeError(ErrorCode::kNotFound,
                                     "cart '" + cart_id + "' has no '" + sku + "'");
                }
                return {};
            },
            cart_id};
}

Result<Cart> CartService::RemoveItem(storage::Connection& db, const std::string& cart_id,
                                     const std::string& sku) {
    return Apply(db, RemoveItemEdit(cart_id, sku));
}

namespace {

nlohmann::json CheckoutMessage(const Cart& cart, const std::string& checkout_id,
                               const std::string& payment_token) {
    nlohmann::json items = nlohmann::json::array();
    for (const CartItem& i : cart.items) {
        items.push_back({{"sku", i.sku},
                         {"quantity", i.quantity},
                         {"unitPrice", {{"amount", i.unit_price}, {"currency", cart.currency}}}});
    }
    return nlohmann::json{{"checkoutId", checkout_id},
                          {"cartId", cart.id},
                          {"customerId", cart.customer_id},
                          {"items", std::move(items)},
                          {"total", {{"amount", cart.total}, {"currency", cart.currency}}},
                          {"paymentToken", payment_token}};
}

// What identifies a checkout request's payload beside its cart: the payment token, hashed
// (FNV-1a, stable across builds) so the key table holds no token.
std::string RequestFingerprint(const std::string& payment_token) {
    std::uint64_t h = 1469598103934665603ULL;
    for (const char c : "paymentToken=" + payment_token) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ULL;
    }
    char out[17];
    std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
    return out;
}

// What a prepared checkout's write needs, owned by the write (it may run later, elsewhere).
struct CheckoutState {
    std::string cart_id;
    std::string payment_token;
    std::string idempotency_key;
    std::string checkout_id;
    Cart priced;
    std::optional<messaging::PreparedMessage> message;  // cart-checked-out, checked ahead
};

}  // namespace

Result<PreparedCheckout> CartService::PrepareCheckout(storage::Connection& db,
                                                      const std::string& cart_id,
                                                      const std::string& payment_token,
                                                      const std::string& idempotency_key) {
    // Priced before the write, on the caller's connection (the promotions query and the
    // message are the costly part); the write only checks that the cart still holds what was
    // priced, and prices again in the rare case it changed in between.
    auto priced = Get(db, cart_id);
    if (!priced) return std::unexpected(priced.error());
    auto state = std::make_shared<CheckoutState>();
    state->cart_id = cart_id;
    state->payment_token = payment_token;
    state->idempotency_key = idempotency_key;
    state->checkout_id = ids_.Next();
    // cart-checked-out for `cart`, checked and serialized ahead of the write.
    auto prepare_message = [this](CheckoutState& s, const Cart& cart) -> Result<void> {
        auto message = bus_.Prepare(kService, "cart-checked-out", s.checkout_id,
                                    CheckoutMessage(cart, s.checkout_id, s.payment_token), nullptr);
        if (!message) return std::unexpected(message.error());
        s.message = std::move(*message);
        return {};
    };
    // A cart that cannot be checked out gets no message: the write says why (409).
    if (priced->status == "open" && !priced->items.empty()) {
        if (auto ok = prepare_message(*state, *priced); !ok) return std::unexpected(ok.error());
    }
    state->priced = std::move(*priced);
    PreparedCheckout prepared;
    prepared.accepted = std::make_shared<CheckoutAccepted>();
    prepared.write = [this, state, accepted = prepared.accepted,
                      prepare_message](storage::Connection& tx) -> Result<void> {
        // Every statement here runs on the one writer, so the common case takes the fewest:
        // the key is claimed and the cart frozen first (a failure below rolls both back with
        // this write's savepoint), then the items are compared with what was priced.
        const std::string& cid = state->cart_id;
        const std::string key =
            state->idempotency_key.empty() ? "auto:" + state->checkout_id : state->idempotency_key;
        const std::string fingerprint = RequestFingerprint(state->payment_token);
        const Value ins[] = {key, cid, state->checkout_id, fingerprint};
        if (auto ok = tx.Execute("INSERT INTO shop_checkout_keys(idempotency_key, cart_id, "
                                 "checkout_id, request_fingerprint) VALUES (?,?,?,?) "
                                 "ON CONFLICT DO NOTHING",
                                 ins);
            !ok) {
            return ok;
        }
        if (tx.Changes() == 0) {
            // The key was used before: the same checkout again, or a mistake.
            const Value k[] = {key};
            auto seen = tx.Query(
                "SELECT cart_id, checkout_id, request_fingerprint FROM shop_checkout_keys "
                "WHERE idempotency_key = ?",
                k);
            if (!seen) return std::unexpected(seen.error());
            if (seen->empty() || seen->front().Text(0) != cid) {
                return MakeError(ErrorCode::kUnprocessable,
                                 "Idempotency-Key was used for another cart");
            }
            if (!seen->front().IsNull(2) && seen->front().Text(2) != fingerprint) {
                return MakeError(ErrorCode::kUnprocessable,
                                 "Idempotency-Key was used with a different request body");
            }
            *accepted = {seen->front().Text(1), true};
            return {};
        }
        const Value upd[] = {state->checkout_id, cid};
        if (auto ok = tx.Execute("UPDATE shop_carts SET status = 'checked_out', checkout_id = ? "
                                 "WHERE id = ? AND status = 'open'",
                                 upd);
            !ok) {
            return ok;
        }
        if (tx.Changes() == 0) {
            auto cart = LoadForUpdate(tx, cid);
            if (!cart) return std::unexpected(cart.error());  // no such cart
            return MakeError(ErrorCode::kConflict, "cart '" + cid + "' is already checked out");
        }
        auto items = LoadItems(tx, cid);
        if (!items) return std::unexpected(items.error());
        if (items->empty()) return MakeError(ErrorCode::kConflict, "cart is empty");
        const auto& priced_items = state->priced.items;
        bool same = items->size() == priced_items.size();
        for (std::size_t i = 0; same && i < items->size(); ++i) {
            const CartItem& p = priced_items[i];
            same = (*items)[i] == std::tuple(p.sku, p.quantity, p.unit_price);
        }
        if (!same || !state->message) {
            auto again = Get(tx, cid);
            if (!again) return std::unexpected(again.error());
            if (auto ok = prepare_message(*state, *again); !ok) return ok;
        }
        if (auto ok = bus_.Publish(tx, *state->message); !ok) {
            return ok;
        }
        *accepted = {state->checkout_id, false};
        return {};
    };
    return prepared;
}

Result<CheckoutAccepted> CartService::Checkout(storage::Connection& db, const std::string& cart_id,
                                               const std::string& payment_token,
                                               const std::string& idempotency_key) {
    auto prepared = PrepareCheckout(db, cart_id, payment_token, idempotency_key);
    if (!prepared) return std::unexpected(prepared.error());
    if (auto done = bus_.Write(db, kService, prepared->write); !done)
        return std::unexpected(done.error());
    return *prepared->accepted;
}

}  // namespace acme::shopping
