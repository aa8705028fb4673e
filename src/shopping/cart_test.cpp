// The Cart API's and Promotions' business rules, in the service harness: prices and the
// discount, a checkout that freezes the cart once, and an Idempotency-Key that always means
// the first checkout.
#include "shopping/cart.hpp"

#include <gtest/gtest.h>

#include "messaging/testing/service_harness.hpp"
#include "shopping/promotions.hpp"

namespace acme::shopping {
namespace {

class CartTest : public ::testing::TestWithParam<storage::Dialect> {
  protected:
    CartTest() : carts_(h_.bus(), h_.ids()) {}
    void SetUp() override {
        if (!h_.ready()) GTEST_SKIP() << h_.why();
        EXPECT_TRUE(CartService::Migrate(h_.db()));
        EXPECT_TRUE(CartService::Seed(h_.db(), DemoProducts()));
        EXPECT_TRUE(PromotionsService::Register(h_.bus()));
    }
    // A cart holding `qty` of `sku`.
    std::string CartWith(const std::string& sku, std::int64_t qty) {
        auto cart = carts_.Create(h_.db(), "cust-1");
        EXPECT_TRUE(cart.has_value());
        EXPECT_TRUE(carts_.AddItem(h_.db(), cart->id, sku, qty).has_value());
        return cart->id;
    }

    messaging::testing::ServiceHarness h_{GetParam()};
    CartService carts_;
};

INSTANTIATE_TEST_SUITE_P(Backends, CartTest, storage::testing::AllBackends(),
                         storage::testing::BackendName);

TEST_P(CartTest, ACartIsPricedAndDiscountedFromOneHundredUp) {
    const std::string small = CartWith("SKU-MUG", 2);  // 2 x 12.50
    auto cart = carts_.Get(h_.db(), small);
    ASSERT_TRUE(cart.has_value());
    EXPECT_EQ(cart->subtotal, 2'500);
    EXPECT_EQ(cart->discount, 0);
    EXPECT_EQ(cart->total, 2'500);
    const std::string big = CartWith("SKU-GRINDER", 1);  // 129.00: 10% off
    cart = carts_.Get(h_.db(), big);
    EXPECT_EQ(cart->discount, 1'290);
    EXPECT_EQ(cart->total, 11'610);
    // Adding the same SKU again adds to its quantity; removing it empties the cart.
    ASSERT_TRUE(carts_.AddItem(h_.db(), small, "SKU-MUG", 1));
    EXPECT_EQ(carts_.Get(h_.db(), small)->items.at(0).quantity, 3);
    ASSERT_TRUE(carts_.RemoveItem(h_.db(), small, "SKU-MUG"));
    EXPECT_TRUE(carts_.Get(h_.db(), small)->items.empty());
}

TEST_P(CartTest, EditsAreCheckedBeforeAnythingIsWritten) {
    const std::string id = CartWith("SKU-MUG", 1);
    EXPECT_EQ(carts_.AddItem(h_.db(), id, "SKU-NOPE", 1).error().code, ErrorCode::kNotFound);
    EXPECT_EQ(carts_.AddItem(h_.db(), id, "SKU-MUG", 0).error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(carts_.AddItem(h_.db(), "no-such-cart", "SKU-MUG", 1).error().code,
              ErrorCode::kNotFound);
    EXPECT_EQ(carts_.Get(h_.db(), id)->items.at(0).quantity, 1);
}

TEST_P(CartTest, ACheckoutFreezesTheCartAndPublishesItOnce) {
    const std::string id = CartWith("SKU-MUG", 2);
    auto first = carts_.Checkout(h_.db(), id, "tok_visa", "key-1");
    ASSERT_TRUE(first.has_value()) << first.error().message;
    EXPECT_FALSE(first->replayed);
    const auto published = h_.Published("cart-checked-out");
    ASSERT_EQ(published.size(), 1u);
    EXPECT_EQ(published[0]["checkoutId"], first->checkout_id);
    EXPECT_EQ(published[0]["cartId"], id);
    EXPECT_EQ(published[0]["paymentToken"], "tok_visa");
    EXPECT_EQ(published[0]["total"]["amount"], 2'500);
    auto cart = carts_.Get(h_.db(), id);
    EXPECT_EQ(cart->status, "checked_out");
    EXPECT_EQ(cart->checkout_id, first->checkout_id);
    // Frozen: no more edits, no second checkout under another key.
    EXPECT_EQ(carts_.AddItem(h_.db(), id, "SKU-MUG", 1).error().code, ErrorCode::kConflict);
    EXPECT_EQ(carts_.Checkout(h_.db(), id, "tok_visa", "key-2").error().code, ErrorCode::kConflict);
    EXPECT_EQ(h_.Published("cart-checked-out").size(), 1u);
}

TEST_P(CartTest, AnIdempotencyKeyAlwaysMeansItsFirstCheckout) {
    const std::string id = CartWith("SKU-MUG", 2);
    auto first = carts_.Checkout(h_.db(), id, "tok_visa", "key-1");
    ASSERT_TRUE(first.has_value());
    auto again = carts_.Checkout(h_.db(), id, "tok_visa", "key-1");
    ASSERT_TRUE(again.has_value());
    EXPECT_TRUE(again->replayed);
    EXPECT_EQ(again->checkout_id, first->checkout_id);
    EXPECT_EQ(h_.Published("cart-checked-out").size(), 1u);
    // The same key with another request, or for another cart, is a mistake (422).
    EXPECT_EQ(carts_.Checkout(h_.db(), id, "tok_mastercard", "key-1").error().code,
              ErrorCode::kUnprocessable);
    const std::string other = CartWith("SKU-MUG", 1);
    EXPECT_EQ(carts_.Checkout(h_.db(), other, "tok_visa", "key-1").error().code,
              ErrorCode::kUnprocessable);
    EXPECT_EQ(carts_.Get(h_.db(), other)->status, "open");
}

TEST_P(CartTest, AnEmptyCartCannotCheckOut) {
    auto cart = carts_.Create(h_.db(), "cust-1");
    ASSERT_TRUE(cart.has_value());
    EXPECT_EQ(carts_.Checkout(h_.db(), cart->id, "tok_visa", "key-1").error().code,
              ErrorCode::kConflict);
    EXPECT_TRUE(h_.Published("cart-checked-out").empty());
    EXPECT_EQ(carts_.Get(h_.db(), cart->id)->status, "open");
}

}  // namespace
}  // namespace acme::shopping
