//! [`SingleCore`]: the one cell the binding keeps its global state in.
//!
//! The a653rs traits are static functions (`PkernelHypervisor::get_time()`), so the APEX
//! services and the process table must live in a `static`. A lock would be the usual answer,
//! but a bare-metal partition runs with its MMU off, where every access is Device memory and
//! exclusive loads and stores (what a spin lock's compare-and-swap is made of) are not
//! reliable. Nor is a lock needed:
//!
//! - a partition has one vCPU (pkernel starts only vCPU 0), so one core runs its code;
//! - it has no interrupt handlers (bm-runtime enters with every exception masked and never
//!   unmasks them, and installs no vector table), so nothing preempts that core's thread;
//! - ARINC 653 Part 4 runs one process at a time: the initialisation process, then, once the
//!   partition is NORMAL, the one process it started, which the binding enters only after it
//!   has let go of the cell ([`crate`] docs).
//!
//! So at any moment at most one execution context exists that could touch the cell, and the
//! only way to reach it twice at once is re-entrancy: a call made while the cell is
//! borrowed, from inside the borrow. [`SingleCore::with`] checks that with a flag (a plain
//! load and store, no read-modify-write) and panics instead of handing out a second `&mut`.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

/// A value reachable from one execution context only, borrowed mutably for the length of a
/// closure, never twice at once.
pub struct SingleCore<T> {
    /// A borrow is live. Relaxed load and store only: the one context that reads it also
    /// wrote it, in program order.
    busy: AtomicBool,
    value: UnsafeCell<Option<T>>,
}

// SAFETY: `Sync` lets the cell be a `static`. It is sound only where one execution context
// exists: a pkernel bare-metal partition, with one vCPU, exceptions masked and no handlers
// (see the module docs). There, every access happens in program order on one core, and
// `with` refuses re-entrant access, so no two `&mut T` ever coexist. The impl is limited to
// the bare-metal target: host tests use the cell as a local, never from two threads.
#[cfg(target_os = "none")]
unsafe impl<T> Sync for SingleCore<T> {}

impl<T> SingleCore<T> {
    /// An empty cell.
    pub const fn new() -> Self {
        Self {
            busy: AtomicBool::new(false),
            value: UnsafeCell::new(None),
        }
    }

    /// Puts `value` in the cell, replacing what it held, and clears the borrow flag.
    ///
    /// # Safety
    ///
    /// No borrow handed out by [`with`](Self::with) may be live. The runtime calls this at
    /// the partition's entry only: every entry (the first, and each cold or warm restart,
    /// which may have abandoned a borrow together with its whole stack) starts on a fresh
    /// stack, where no frame holds a borrow.
    pub unsafe fn reset(&self, value: T) {
        // SAFETY: the caller guarantees no `&mut T` from `with` is live, and the cell is
        // reached from one execution context only (see `Sync` above), so this is the only
        // access to the value now.
        unsafe { *self.value.get() = Some(value) };
        self.busy.store(false, Ordering::Relaxed);
    }

    /// Runs `f` with the value.
    ///
    /// # Panics
    ///
    /// If called from inside another `with` on this cell (re-entrancy: a bug in the
    /// binding), or before [`reset`](Self::reset) filled the cell.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        assert!(
            !self.busy.load(Ordering::Relaxed),
            "a653rs-pkernel: re-entrant APEX call (the binding's state is already in use)"
        );
        self.busy.store(true, Ordering::Relaxed);
        // SAFETY: `busy` was clear, so no other borrow is live (every `with` sets it for the
        // length of its borrow and only clears it after), and the cell is reached from one
        // execution context only (see `Sync` above), so nothing else accesses the value while
        // `f` runs. A panic in `f` leaves `busy` set: the cell stays refused (poisoned).
        let value = unsafe { &mut *self.value.get() };
        let value = value
            .as_mut()
            .expect("a653rs-pkernel: not initialised (link the runtime: a653rs_pkernel::entry!)");
        let result = f(value);
        self.busy.store(false, Ordering::Relaxed);
        result
    }
}

impl<T> Default for SingleCore<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::SingleCore;

    #[test]
    fn lends_the_value_and_takes_it_back() {
        let cell = SingleCore::new();
        // SAFETY: no borrow exists yet.
        unsafe { cell.reset(5) };
        assert_eq!(cell.with(|v| *v + 1), 6);
        cell.with(|v| *v = 7);
        assert_eq!(cell.with(|v| *v), 7);
    }

    #[test]
    #[should_panic(expected = "re-entrant")]
    fn refuses_a_second_borrow_from_inside_the_first() {
        let cell = SingleCore::new();
        // SAFETY: no borrow exists yet.
        unsafe { cell.reset(1) };
        cell.with(|_| cell.with(|v| *v));
    }

    #[test]
    #[should_panic(expected = "not initialised")]
    fn refuses_an_empty_cell() {
        let cell: SingleCore<u8> = SingleCore::new();
        cell.with(|v| *v);
    }

    #[test]
    fn reset_clears_an_abandoned_borrow() {
        let cell = SingleCore::new();
        // SAFETY: no borrow exists yet.
        unsafe { cell.reset(1) };
        // A borrow abandoned by a panic (as a restart abandons one with its stack).
        let poisoned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cell.with(|_| panic!("abandoned"))
        }));
        assert!(poisoned.is_err());
        // SAFETY: the abandoned borrow's frame is gone.
        unsafe { cell.reset(2) };
        assert_eq!(cell.with(|v| *v), 2);
    }
}
