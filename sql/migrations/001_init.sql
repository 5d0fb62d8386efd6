-- 001_init: the minute table of docs/design.md section 6 and the idempotency ledger of the persister.
-- Applied by marketflow-persister --sink postgres inside one transaction (no BEGIN/COMMIT here).

CREATE TABLE aggregated_prices (
    exchange      text        NOT NULL,
    pair_name     text        NOT NULL,
    "timestamp"   timestamptz NOT NULL,          -- start of the minute, UTC
    average_price float8      NOT NULL,          -- price_sum::float8 / tick_count, recomputed on merge
    min_price     float8      NOT NULL,
    max_price     float8      NOT NULL,
    tick_count    bigint      NOT NULL,
    price_sum     numeric     NOT NULL,          -- exact sum of the prices
    open_price    float8      NOT NULL,
    open_ts       bigint      NOT NULL,
    open_id       bigint      NOT NULL DEFAULT -1, -- -1: the tick had no trade id
    close_price   float8      NOT NULL,
    close_ts      bigint      NOT NULL,
    close_id      bigint      NOT NULL DEFAULT -1,
    min_ts        bigint      NOT NULL,
    max_ts        bigint      NOT NULL,
    volume        numeric     NOT NULL DEFAULT 0, -- exact sum of qty (ticks with qty)
    notional      numeric     NOT NULL DEFAULT 0, -- exact sum of price*qty
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (exchange, pair_name, "timestamp")
);

-- Queries over all exchanges of one symbol (GET /prices/.../{symbol}).
CREATE INDEX aggregated_prices_pair_ts ON aggregated_prices (pair_name, "timestamp");

-- Every 1 s partial merged so far, by its bus identity: a redelivered partial, or one that a
-- second persister replica also fetched, finds its row here and is not merged twice.
CREATE TABLE applied_partials (
    producer   text        NOT NULL,
    seq        bigint      NOT NULL,
    minute     timestamptz NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (producer, seq)
);

CREATE INDEX applied_partials_applied_at ON applied_partials (applied_at);
