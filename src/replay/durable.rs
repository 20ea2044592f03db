//! The strict replay store: replay keys in Durable Objects, where a claim is
//! one atomic check-and-set (see [`super::ledger`]), so any number of
//! simultaneous copies of a delivery produce exactly one forward.
//!
//! This is the client half, pure and generic over [`ShardClient`]; the Worker
//! glue sends its requests to the `ReplayShard` Durable Object class, which
//! runs a [`super::ledger::Ledger`] over its SQLite storage.

use super::kv::key_for;
use super::{Claim, ReplayStore, StoreError};
use sha2::{Digest, Sha256};

/// How many Durable Objects share the ids.
///
/// Atomicity needs only that every copy of one id reaches the same object,
/// which a hash of the id guarantees for any count. The count is about load:
/// one object runs one request at a time (some hundreds of claims a second),
/// and a sender that fans out a burst would queue on a single object. Sixteen
/// objects give that headroom while keeping cold starts and clean-up alarms
/// few. The count can never change once deployed: a new count would move ids
/// to other objects, and a retry arriving during the switch could be
/// forwarded again.
pub const SHARDS: u32 = 16;

/// The shard that owns an id: the first four bytes of its SHA-256.
pub fn shard_for(id: &str) -> u32 {
    let digest = Sha256::digest(id.as_bytes());
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % SHARDS
}

/// The name of a shard's Durable Object.
pub fn shard_name(shard: u32) -> String {
    format!("replay-shard-{shard}")
}

/// One request to a shard. Encoded as a path so the object needs no body
/// parsing: `/claim?key=…&ttl=…&keep=…`, `/done?key=…&until=…`,
/// `/release?key=…`, and `/rows` (how many rows the shard stores; for tests
/// and operators). `ttl` is seconds from the shard's clock; `keep` and
/// `until` are Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardRequest {
    Claim {
        key: String,
        ttl_seconds: u64,
        keep_until: i64,
    },
    Done {
        key: String,
        until: i64,
    },
    Release {
        key: String,
    },
    Rows,
}

impl ShardRequest {
    pub fn to_path(&self) -> String {
        match self {
            ShardRequest::Claim {
                key,
                ttl_seconds,
                keep_until,
            } => {
                format!("/claim?key={key}&ttl={ttl_seconds}&keep={keep_until}")
            }
            ShardRequest::Done { key, until } => format!("/done?key={key}&until={until}"),
            ShardRequest::Release { key } => format!("/release?key={key}"),
            ShardRequest::Rows => "/rows".to_owned(),
        }
    }

    /// Parses what [`Self::to_path`] wrote. Keys are the store's own hex
    /// hashes, so anything else is refused rather than decoded.
    pub fn parse(path: &str, query: &str) -> Option<Self> {
        let mut key = None;
        let mut ttl = None;
        let mut keep = None;
        let mut until = None;
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("key", value)) if is_store_key(value) => key = Some(value.to_owned()),
                Some(("ttl", value)) => ttl = value.parse::<u64>().ok(),
                Some(("keep", value)) => keep = value.parse::<i64>().ok(),
                Some(("until", value)) => until = value.parse::<i64>().ok(),
                _ => {}
            }
        }
        match path {
            "/claim" => Some(ShardRequest::Claim {
                key: key?,
                ttl_seconds: ttl?,
                keep_until: keep?,
            }),
            "/done" => Some(ShardRequest::Done {
                key: key?,
                until: until?,
            }),
            "/release" => Some(ShardRequest::Release { key: key? }),
            "/rows" => Some(ShardRequest::Rows),
            _ => None,
        }
    }
}

fn is_store_key(text: &str) -> bool {
    text.strip_prefix("hookgate:v1:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The body of a shard's answer to a claim.
pub fn claim_reply(claim: Claim) -> &'static str {
    match claim {
        Claim::Claimed => "claimed",
        Claim::AlreadyDone => "done",
        Claim::InFlight => "in-flight",
    }
}

fn parse_claim_reply(text: &str) -> Option<Claim> {
    match text {
        "claimed" => Some(Claim::Claimed),
        "done" => Some(Claim::AlreadyDone),
        "in-flight" => Some(Claim::InFlight),
        _ => None,
    }
}

/// Sends one request to one shard and returns the answer's body; any
/// non-2xx answer or failure is [`StoreError::Unavailable`].
#[allow(async_fn_in_trait)] // Workers run on one thread; no Send bound is wanted.
pub trait ShardClient {
    async fn call(&self, shard: u32, request: &ShardRequest) -> Result<String, StoreError>;
}

/// A [`ReplayStore`] on Durable Object shards.
pub struct DurableReplayStore<C> {
    client: C,
}

impl<C: ShardClient> DurableReplayStore<C> {
    pub fn new(client: C) -> Self {
        Self { client }
    }
}

impl<C: ShardClient> ReplayStore for DurableReplayStore<C> {
    async fn claim(
        &self,
        text: &str,
        _now: i64,
        claim_seconds: u64,
        keep_until: i64,
    ) -> Result<Claim, StoreError> {
        let request = ShardRequest::Claim {
            key: key_for(text),
            ttl_seconds: claim_seconds,
            keep_until,
        };
        let reply = self.client.call(shard_for(text), &request).await?;
        // An answer the store does not understand fails closed.
        parse_claim_reply(&reply).ok_or(StoreError::Unavailable)
    }

    async fn mark_done(&self, text: &str, _now: i64, until: i64) -> Result<(), StoreError> {
        let request = ShardRequest::Done {
            key: key_for(text),
            until,
        };
        self.client.call(shard_for(text), &request).await.map(drop)
    }

    async fn release(&self, text: &str) -> Result<(), StoreError> {
        let request = ShardRequest::Release { key: key_for(text) };
        self.client.call(shard_for(text), &request).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::ledger::tests::MemoryTable;
    use crate::replay::ledger::{Ledger, LedgerTable};
    use crate::testing::block_on;
    use std::cell::{Cell, RefCell};

    /// Shards as ledgers in memory, reached through the same request
    /// encoding the Worker uses, with a clock the test moves.
    struct FakeShards {
        ledgers: Vec<Ledger<MemoryTable>>,
        now_ms: Cell<i64>,
        calls: RefCell<Vec<(u32, String)>>,
        down: Cell<bool>,
    }

    impl FakeShards {
        fn new() -> Self {
            Self {
                ledgers: (0..SHARDS)
                    .map(|_| Ledger::new(MemoryTable::default()))
                    .collect(),
                now_ms: Cell::new(0),
                calls: RefCell::new(Vec::new()),
                down: Cell::new(false),
            }
        }
    }

    impl ShardClient for &FakeShards {
        async fn call(&self, shard: u32, request: &ShardRequest) -> Result<String, StoreError> {
            if self.down.get() {
                return Err(StoreError::Unavailable);
            }
            let path = request.to_path();
            self.calls.borrow_mut().push((shard, path.clone()));
            let (path, query) = path.split_once('?').unwrap_or((&path, ""));
            let ledger = &self.ledgers[shard as usize];
            let now = self.now_ms.get();
            match ShardRequest::parse(path, query).ok_or(StoreError::Unavailable)? {
                ShardRequest::Claim {
                    key,
                    ttl_seconds,
                    keep_until,
                } => ledger
                    .claim(&key, now, ttl_seconds as i64 * 1000, keep_until * 1000)
                    .map(|c| claim_reply(c).to_owned()),
                ShardRequest::Done { key, until } => ledger
                    .mark_done(&key, until * 1000)
                    .map(|()| "ok".to_owned()),
                ShardRequest::Release { key } => ledger.release(&key).map(|()| "ok".to_owned()),
                ShardRequest::Rows => ledger.table().rows().map(|n| n.to_string()),
            }
        }
    }

    #[test]
    fn requests_round_trip_through_their_paths() {
        let key = key_for("msg_1");
        for request in [
            ShardRequest::Claim {
                key: key.clone(),
                ttl_seconds: 40,
                keep_until: 1_700_000_600,
            },
            ShardRequest::Done {
                key: key.clone(),
                until: 1_700_259_200,
            },
            ShardRequest::Release { key: key.clone() },
            ShardRequest::Rows,
        ] {
            let path = request.to_path();
            let (p, q) = path.split_once('?').unwrap_or((&path, ""));
            assert_eq!(ShardRequest::parse(p, q), Some(request));
        }
        assert_eq!(
            ShardRequest::parse("/claim", "key=not-a-store-key&ttl=1"),
            None
        );
        assert_eq!(
            ShardRequest::parse("/claim", &format!("key={key}")),
            None,
            "ttl required"
        );
        assert_eq!(ShardRequest::parse("/drop-table", ""), None);
    }

    #[test]
    fn every_copy_of_an_id_goes_to_one_shard_and_ids_spread() {
        assert_eq!(shard_for("msg_1"), shard_for("msg_1"));
        let used: std::collections::HashSet<u32> =
            (0..500).map(|i| shard_for(&format!("msg_{i}"))).collect();
        assert_eq!(used.len(), SHARDS as usize, "500 ids reach every shard");
    }

    #[test]
    fn claim_done_release_through_the_shards() {
        let shards = FakeShards::new();
        let store = DurableReplayStore::new(&shards);
        assert_eq!(block_on(store.claim("msg_1", 0, 40, 0)), Ok(Claim::Claimed));
        assert_eq!(
            block_on(store.claim("msg_1", 0, 40, 0)),
            Ok(Claim::InFlight)
        );
        block_on(store.release("msg_1")).expect("release");
        assert_eq!(block_on(store.claim("msg_1", 0, 40, 0)), Ok(Claim::Claimed));
        block_on(store.mark_done("msg_1", 0, 259_200)).expect("done");
        assert_eq!(
            block_on(store.claim("msg_1", 0, 40, 0)),
            Ok(Claim::AlreadyDone)
        );
        let calls = shards.calls.borrow();
        assert!(calls.iter().all(|(shard, _)| *shard == shard_for("msg_1")));
        assert_eq!(
            calls[0].1,
            format!("/claim?key={}&ttl=40&keep=0", key_for("msg_1"))
        );
    }

    #[test]
    fn the_done_mark_expires_when_it_was_told() {
        let shards = FakeShards::new();
        let store = DurableReplayStore::new(&shards);
        assert_eq!(block_on(store.claim("msg_1", 0, 40, 0)), Ok(Claim::Claimed));
        block_on(store.mark_done("msg_1", 0, 600)).expect("done");
        shards.now_ms.set(599_999);
        assert_eq!(
            block_on(store.claim("msg_1", 599, 40, 0)),
            Ok(Claim::AlreadyDone)
        );
        shards.now_ms.set(600_000);
        assert_eq!(
            block_on(store.claim("msg_1", 600, 40, 0)),
            Ok(Claim::Claimed)
        );
    }

    #[test]
    fn an_unreachable_shard_or_a_strange_answer_fails_closed() {
        let shards = FakeShards::new();
        let store = DurableReplayStore::new(&shards);
        shards.down.set(true);
        assert_eq!(
            block_on(store.claim("msg_1", 0, 40, 0)),
            Err(StoreError::Unavailable)
        );
        assert_eq!(parse_claim_reply("maybe"), None);
    }
}
