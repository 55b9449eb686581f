//! The two ways cores share kernel statics: a minimal spin lock for the few structures
//! several cores touch (the console and its queues, the GIC driver), and [`TakeOnce`] for
//! state one core owns for good once it claims it (a partition's vCPU context).
//!
//! The kernel runs with interrupts masked at EL2, so a holder is never preempted on its own
//! core; contention only comes from other cores, and every holder keeps it for a bounded
//! time (one line copied, or one drain budget).

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

pub struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: access to `value` is serialised by `locked` (acquire on lock, release on unlock).
unsafe impl<T: Send> Sync for SpinLock<T> {}

impl<T> SpinLock<T> {
    pub const fn new(value: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            while self.locked.load(Ordering::Relaxed) {
                core::hint::spin_loop();
            }
        }
        SpinLockGuard { lock: self }
    }

    /// Takes the lock if it is free now; never waits.
    pub fn try_lock(&self) -> Option<SpinLockGuard<'_, T>> {
        // Built only on success: a guard made and dropped on failure would release the
        // holder's lock.
        match self
            .locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => Some(SpinLockGuard { lock: self }),
            Err(_) => None,
        }
    }
}

/// A static value that exactly one caller may take, once, as `&'static mut`: the owner is
/// then the only one who can reach it, with no lock on any later access.
pub struct TakeOnce<T> {
    taken: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is reached only through `take`, which hands out at most one reference
// for the life of the program (atomic swap), so no two threads ever share it.
unsafe impl<T: Send> Sync for TakeOnce<T> {}

impl<T> TakeOnce<T> {
    pub const fn new(value: T) -> Self {
        Self {
            taken: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// The value, to the first caller only; `None` ever after.
    // A `&mut` out of `&self` is this type's purpose: the atomic flag makes it the only one.
    #[allow(clippy::mut_from_ref)]
    pub fn take(&'static self) -> Option<&'static mut T> {
        if self.taken.swap(true, Ordering::AcqRel) {
            return None;
        }
        // SAFETY: the swap above returned false exactly once, so this is the only reference
        // ever made to the value, and it lives as long as the static.
        Some(unsafe { &mut *self.value.get() })
    }
}

pub struct SpinLockGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> Deref for SpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while `locked` is held by us.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard exists only while `locked` is held by us, and is not Clone.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn lock_serialises_threads() {
        let lock = Arc::new(SpinLock::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        *lock.lock() += 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*lock.lock(), 40_000);
    }

    #[test]
    fn take_once_gives_one_owner() {
        static CELL: TakeOnce<u32> = TakeOnce::new(5);
        let first = CELL.take().unwrap();
        *first += 1;
        assert!(CELL.take().is_none());
        assert_eq!(*first, 6);
    }

    #[test]
    fn try_lock_never_waits() {
        let lock = SpinLock::new(1);
        let held = lock.lock();
        assert!(lock.try_lock().is_none());
        // A failed attempt must leave the holder's lock held.
        assert!(lock.try_lock().is_none());
        drop(held);
        assert_eq!(*lock.try_lock().unwrap(), 1);
    }
}
