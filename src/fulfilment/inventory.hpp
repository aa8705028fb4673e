// Fulfilment: stock and reservations (inventory-service).
//
// Stock can never go negative: a reservation is all-or-nothing, and each SKU's count moves
// only by a statement that itself checks enough is left (`... WHERE on_hand - reserved >= ?`),
// so of two concurrent checkouts of the last unit only one wins on any backend, without
// relying on one writer. A reservation is released (compensation, cancellation) or committed
// (order completed: the units leave on-hand), each at most once: the status moves from `held`
// first and only the writer that moved it changes the stock.
#pragma once

#include <string>
#include <vector>

#include "core/error.hpp"
#include "messaging/bus.hpp"
#include "storage/database.hpp"

namespace acme::fulfilment {

struct StockLevel {
    std::string sku;
    std::int64_t on_hand = 0;
    std::int64_t reserved = 0;
    std::int64_t initial = 0;
};

// A SKU's stock next to what its reservations account for (the audit's view).
struct StockAccount {
    StockLevel level;
    std::int64_t committed = 0;  // units of committed reservations (shipped)
    std::int64_t held = 0;       // units of held reservations
};

struct ReservationView {
    std::string id;
    std::string checkout_id;
    std::string status;  // held | released | committed
};

class InventoryService {
  public:
    static constexpr const char* kService = "inventory-service";

    explicit InventoryService(IdGenerator& ids) : ids_(ids) {}

    [[nodiscard]] static Result<void> Migrate(storage::Connection& db);
    // Sets the starting stock of SKUs not yet known (first start).
    [[nodiscard]] static Result<void> Seed(storage::Connection& db,
                                           const std::vector<StockLevel>& stock);
    [[nodiscard]] static Result<std::vector<StockLevel>> Stock(storage::Connection& db);
    // Every SKU with the units its committed and held reservations account for; SKUs only a
    // reservation names appear with zero stock. kInternal when a stored reservation's items
    // are not JSON.
    [[nodiscard]] static Result<std::vector<StockAccount>> Accounts(storage::Connection& db);
    // The reservation made for `checkout_id` (kNotFound: none), or every reservation.
    [[nodiscard]] static Result<ReservationView> ReservationFor(storage::Connection& db,
                                                                const std::string& checkout_id);
    [[nodiscard]] static Result<std::vector<ReservationView>> Reservations(storage::Connection& db);
    [[nodiscard]] Result<void> Register(messaging::Bus& bus);

  private:
    IdGenerator& ids_;
};

}  // namespace acme::fulfilment
