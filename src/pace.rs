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

use crate::pause::hold_seconds;
use crate::route::QueuePolicy;

/// What a queue route's message does before its forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeforeForward {
    /// The route is paused: the message is held (sent again after this
    /// long, no attempt spent) and not forwarded now.
    Hold { delay_seconds: u64 },
    /// Forwarded after this long (ms): a paced route's wait for its slot,
    /// 0 for at once.
    Wait { ms: i64 },
}

/// Decides [`BeforeForward`] for a message of a route with `policy`, held
/// `held` times before, when the route is `paused` or not; a paced route
/// takes its next slot (`next`: the route's, when the isolate keeps one).
pub fn before_forward(
    policy: &QueuePolicy,
    paused: bool,
    held: u32,
    next: Option<&mut i64>,
    now_ms: i64,
) -> BeforeForward {
    if paused {
        return BeforeForward::Hold {
            delay_seconds: hold_seconds(held, policy.retry_base_seconds),
        };
    }
    let limit = policy.max_per_second;
    let ms = match next {
        Some(next) if limit > 0 => take_slot(next, limit, now_ms),
        _ => 0,
    };
    BeforeForward::Wait { ms }
}

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
    fn a_paused_route_holds_and_a_paced_one_waits_for_its_slot() {
        let paced = QueuePolicy {
            max_per_second: 5,
            ..QueuePolicy::DEFAULT
        };
        let mut next = 0;
        // Paused: held, the hold growing with the holds before it, and no
        // slot taken.
        let first = before_forward(&paced, true, 0, Some(&mut next), 1_000);
        let later = before_forward(&paced, true, 3, Some(&mut next), 1_000);
        let hold = |held| hold_seconds(held, paced.retry_base_seconds);
        assert_eq!(
            first,
            BeforeForward::Hold {
                delay_seconds: hold(0)
            }
        );
        assert_eq!(
            later,
            BeforeForward::Hold {
                delay_seconds: hold(3)
            }
        );
        assert_eq!(next, 0, "a held message takes no slot");
        // Paced: the first goes at once, the next waits its slot.
        assert_eq!(
            before_forward(&paced, false, 0, Some(&mut next), 1_000),
            BeforeForward::Wait { ms: 0 }
        );
        assert_eq!(
            before_forward(&paced, false, 0, Some(&mut next), 1_000),
            BeforeForward::Wait { ms: 200 }
        );
        // Unpaced, or no slot kept: at once.
        let free = QueuePolicy::DEFAULT;
        assert_eq!(free.max_per_second, 0);
        assert_eq!(
            before_forward(&free, false, 0, Some(&mut next), 1_000),
            BeforeForward::Wait { ms: 0 }
        );
        assert_eq!(
            before_forward(&paced, false, 0, None, 1_000),
            BeforeForward::Wait { ms: 0 }
        );
    }

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
