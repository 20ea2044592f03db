//! A queue route's origin rate limit (`max_per_second`): each forward of
//! the route takes the next free slot, `1000 / max_per_second` ms (rounded
//! up) after the one before, and waits for it, so a burst reaches the
//! origin at its pace, not the sender's.
//!
//! The slots are kept per isolate. They hold the limit for one consumer
//! invocation at a time, which is why a gate with a paced route runs its
//! delivery queue's consumer with `max_concurrency = 1`: the queue then
//! hands over the next batch only when this one is done, and holds the
//! rest of a burst itself, at no cost.

/// The next free slot of each paced route (path, Unix ms).
#[derive(Debug, Default)]
pub struct Pacer {
    next: Vec<(String, i64)>,
}

impl Pacer {
    /// No slot taken yet.
    pub const NEW: Self = Self { next: Vec::new() };

    /// Takes `route`'s next slot: how many ms from `now_ms` its forward
    /// waits (0 when the route has been quiet for a slot's length).
    pub fn wait_ms(&mut self, route: &str, per_second: u32, now_ms: i64) -> i64 {
        let per_second = i64::from(per_second.max(1));
        let gap = (1000 + per_second - 1) / per_second;
        let at = match self.next.iter().position(|(path, _)| path == route) {
            Some(at) => at,
            None => {
                self.next.push((route.to_owned(), now_ms));
                self.next.len() - 1
            }
        };
        let slot = self.next[at].1.max(now_ms);
        self.next[at].1 = slot.saturating_add(gap);
        slot - now_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_spread_over_slots_and_routes_are_apart() {
        let mut pacer = Pacer::default();
        let waits: Vec<i64> = (0..6).map(|_| pacer.wait_ms("/a", 5, 1_000)).collect();
        assert_eq!(waits, [0, 200, 400, 600, 800, 1_000]);
        assert_eq!(pacer.wait_ms("/b", 5, 1_000), 0, "another route's slots");
        // Later in time: the slots already taken still count.
        assert_eq!(pacer.wait_ms("/a", 5, 1_500), 700);
        // A quiet route starts again at once.
        assert_eq!(pacer.wait_ms("/a", 5, 10_000), 0);
        assert_eq!(pacer.wait_ms("/a", 5, 10_000), 200);
    }

    #[test]
    fn slots_round_up_so_the_limit_is_never_passed() {
        let mut pacer = Pacer::default();
        assert_eq!(pacer.wait_ms("/a", 3, 0), 0);
        assert_eq!(pacer.wait_ms("/a", 3, 0), 334);
        let mut fast = Pacer::default();
        fast.wait_ms("/a", 1_000, 0);
        assert_eq!(fast.wait_ms("/a", 1_000, 0), 1);
        assert_eq!(fast.wait_ms("/a", 0, 0), 2);
        assert_eq!(fast.wait_ms("/a", 0, 0), 1_002, "0 is read as 1 a second");
    }
}
