// Shopping: carts, product prices and promotions (the Cart API and Promotions services).
//
// Carts are edited by the HTTP layer through this class (the add-item-to-cart and
// remove-item-from-cart commands arrive over HTTP); a checkout freezes the cart and publishes
// cart-checked-out in the same transaction. An Idempotency-Key maps to one checkout forever.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "messaging/bus.hpp"
#include "storage/database.hpp"

namespace acme::shopping {

struct Product {
    std::string sku;
    std::string name;
    std::int64_t price = 0;  // minor units
    std::string currency;
};

struct CartItem {
    std::string sku;
    std::string name;
    std::int64_t quantity = 0;
    std::int64_t unit_price = 0;
};

struct Cart {
    std::string id;
    std::string customer_id;
    std::string status;  // open | checked_out
    std::vector<CartItem> items;
    std::int64_t subtotal = 0;
    std::int64_t discount = 0;
    std::int64_t total = 0;
    std::string currency = "EUR";
    std::string checkout_id;
};

struct CheckoutAccepted {
    std::string checkout_id;
    bool replayed = false;  // the Idempotency-Key was seen before
};

// A cart edit in two halves: `write`, for Bus::Write or Bus::WriteAsync; once it committed,
// the answer is cart `cart_id` read back (CartService::Get).
struct CartEdit {
    messaging::WriteFn write;
    std::string cart_id;
};

// A checkout priced and ready to write: run `write` with Bus::Write or Bus::WriteAsync; once
// it committed, `accepted` holds the checkout.
struct PreparedCheckout {
    messaging::WriteFn write;
    std::shared_ptr<CheckoutAccepted> accepted;
};

class CartService {
  public:
    static constexpr const char* kService = "cart-api";
    static constexpr std::int64_t kMaxQuantity = 1000;

    CartService(messaging::Bus& bus, IdGenerator& ids) : bus_(bus), ids_(ids) {}

    [[nodiscard]] static Result<void> Migrate(storage::Connection& db);
    // Inserts the demo products on first start.
    [[nodiscard]] static Result<void> Seed(storage::Connection& db,
                                           const std::vector<Product>& products);

    [[nodiscard]] Result<std::vector<Product>> Products(storage::Connection& db) const;
    [[nodiscard]] Result<Cart> Create(storage::Connection& db, const std::string& customer_id);
    // The edits behind Create, AddItem and RemoveItem (the writes only; errors of the write as
    // documented there). AddItemEdit: kInvalidArgument for the quantity, before any write.
    [[nodiscard]] CartEdit CreateEdit(const std::string& customer_id);
    [[nodiscard]] Result<CartEdit> AddItemEdit(const std::string& cart_id, const std::string& sku,
                                               std::int64_t quantity);
    [[nodiscard]] CartEdit RemoveItemEdit(const std::string& cart_id, const std::string& sku);
    // Writes `edit` (waiting for its group commit) and reads the cart back.
    [[nodiscard]] Result<Cart> Apply(storage::Connection& db, const CartEdit& edit);
    // kNotFound: no such cart. Prices the cart by asking Promotions (calculate-discount).
    [[nodiscard]] Result<Cart> Get(storage::Connection& db, const std::string& cart_id) const;
    // kNotFound: cart or SKU; kInvalidArgument: quantity; kConflict: cart checked out.
    [[nodiscard]] Result<Cart> AddItem(storage::Connection& db, const std::string& cart_id,
                                       const std::string& sku, std::int64_t quantity);
    [[nodiscard]] Result<Cart> RemoveItem(storage::Connection& db, const std::string& cart_id,
                                          const std::string& sku);
    // Freezes the cart and publishes cart-checked-out. With an idempotency key seen before,
    // returns the first checkout and publishes nothing. kConflict: empty or already checked out
    // under another key.
    [[nodiscard]] Result<CheckoutAccepted> Checkout(storage::Connection& db,
                                                    const std::string& cart_id,
                                                    const std::string& payment_token,
                                                    const std::string& idempotency_key);
    // The checkout an Idempotency-Key stands for (kNotFound: the key was never accepted).
    [[nodiscard]] static Result<std::string> CheckoutForKey(storage::Connection& db,
                                                            const std::string& idempotency_key);
    // Whether a checkout with this id was accepted (a saga may not have started yet).
    [[nodiscard]] static Result<bool> HasCheckout(storage::Connection& db,
                                                  const std::string& checkout_id);
    // Checkout in two halves: the pricing here (kNotFound: no cart), the write later.
    [[nodiscard]] Result<PreparedCheckout> PrepareCheckout(storage::Connection& db,
                                                           const std::string& cart_id,
                                                           const std::string& payment_token,
                                                           const std::string& idempotency_key);

  private:
    // sku, quantity, unit price; ordered by sku like Cart::items
    using ItemRows = std::vector<std::tuple<std::string, std::int64_t, std::int64_t>>;
    struct CartState {
        std::string status;
        ItemRows items;
    };
    // The cart's status and quantities, without pricing (inside a write).
    [[nodiscard]] Result<CartState> LoadForUpdate(storage::Connection& db,
                                                  const std::string& cart_id) const;
    // Only the quantities (kNotFound is not told apart from an empty cart).
    [[nodiscard]] Result<ItemRows> LoadItems(storage::Connection& db,
                                             const std::string& cart_id) const;

    messaging::Bus& bus_;
    IdGenerator& ids_;
};

// The demo catalogue loaded on first start.
[[nodiscard]] std::vector<Product> DemoProducts();

}  // namespace acme::shopping
