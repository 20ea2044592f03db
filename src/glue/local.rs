//! The isolate's values between calls, in plain statics. `thread_local!`
//! reaches each of its values through a function pointer that may report
//! the value gone (a panic with its location at every use, 27 instances of
//! `LocalKey::with` in the module); a wasm32 module without the atomics
//! feature runs one thread and never drops either kind, so a static holds
//! the same value for the same calls.

use std::cell::{Cell, RefCell};
use std::ops::Deref;

// The `Sync` below holds only while the module has one thread.
#[cfg(target_feature = "atomics")]
compile_error!("glue::local assumes one thread: a build with atomics needs thread_local! again");

/// A value of the isolate's one thread.
pub struct Local<T>(T);

// SAFETY: the module is built without the atomics feature (checked above),
// so there is one thread and no value is ever reached from another.
unsafe impl<T> Sync for Local<T> {}

impl<T> Local<T> {
    pub const fn new(value: T) -> Self {
        Self(value)
    }
}

impl<T> Deref for Local<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Local<RefCell<T>> {
    /// Runs `f` with the value borrowed, as `LocalKey::with_borrow` did.
    pub fn with_borrow<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.0.borrow())
    }

    /// Runs `f` with the value borrowed mutably, as
    /// `LocalKey::with_borrow_mut` did.
    pub fn with_borrow_mut<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.0.borrow_mut())
    }
}

// Values made at their first use: an `Option`, not a `LazyCell` (whose
// poisoning and reentrancy checks each link a panic).

impl<T: Copy> Local<Cell<Option<T>>> {
    /// The value, made by `make` at the first use.
    pub fn get_or(&self, make: impl FnOnce() -> T) -> T {
        match self.0.get() {
            Some(value) => value,
            None => {
                let value = make();
                self.0.set(Some(value));
                value
            }
        }
    }
}

impl<T: Default> Local<RefCell<Option<T>>> {
    /// Runs `f` with the value (its default at the first use) borrowed
    /// mutably.
    pub fn with_made_mut<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(self.0.borrow_mut().get_or_insert_with(T::default))
    }
}
