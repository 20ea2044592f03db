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

/// Takes a route's next free slot (`next`, Unix ms, 0 before the first):
/// how many ms from `now_ms` its forward waits (0 when the route has been
/// quiet for a slot's length).
pub fn take_slot(next: &mut i64, per_second: u32, now_ms: i64) -> i64 {
    let per_second = i64::from(per_second.max(1));
    let slot = (*next).max(now_ms);
    *next = slot.saturating_add((1000 + per_second - 1) / per_second);
    slot - now_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_spread_over_slots() {
        let mut next = 0;
        let waits: Vec<i64> = (0..6).map(|_| take_slot(&mut next, 5, 1_000)).collect();
        assert_eq!(waits, [0, 200, 400, 600, 800, 1_000]);
        // Later in time: the slots already taken still count.
        assert_eq!(take_slot(&mut next, 5, 1_500), 700);
        // A quiet route starts again at once.
        assert_eq!(take_slot(&mut next, 5, 10_000), 0);
        assert_eq!(take_slot(&mut next, 5, 10_000), 200);
    }

    #[test]
    fn slots_round_up_so_the_limit_is_never_passed() {
        let mut next = 0;
        assert_eq!(take_slot(&mut next, 3, 0), 0);
        assert_eq!(take_slot(&mut next, 3, 0), 334);
        let mut fast = 0;
        take_slot(&mut fast, 1_000, 0);
        assert_eq!(take_slot(&mut fast, 1_000, 0), 1);
        assert_eq!(take_slot(&mut fast, 0, 0), 2);
        assert_eq!(take_slot(&mut fast, 0, 0), 1_002, "0 is read as 1 a second");
    }
}
