//! What a group and its tasks share: how many tasks are running, their
//! values in spawn order, the first failure, and the waker of `join`.
//!
//! Everything changes under one lock (from `crate::sync`, so the shuttle
//! models explore it). A task's end records its value or failure and counts
//! itself out in one step, so when `join` sees no task running, every
//! value and failure is in.

use std::any::Any;
use std::task::{Context, Poll, Waker};

use crate::cause::Cancelled;
use crate::sync::{Mutex, MutexGuard};

/// A task's failure.
pub(super) enum Failure<E> {
    Failed(E),
    Panicked(Box<dyn Any + Send + 'static>),
}

/// How a task ended.
pub(super) enum Outcome<T, E> {
    Value(T),
    Failure(Failure<E>),
    /// Cancelled (or dropped) before it returned.
    Cancelled(Cancelled),
}

pub(super) struct Shared<T, E> {
    inner: Mutex<Inner<T, E>>,
}

struct Inner<T, E> {
    running: usize,
    values: Vec<Option<T>>,
    failure: Option<Failure<E>>,
    /// The first task cancelled before it returned.
    cancelled: Option<Cancelled>,
    join: Option<Waker>,
}

/// What `join` finds once no task runs.
pub(super) struct Done<T, E> {
    pub(super) values: Vec<Option<T>>,
    pub(super) failure: Option<Failure<E>>,
    pub(super) cancelled: Option<Cancelled>,
}

impl<T, E> Shared<T, E> {
    pub(super) fn new() -> Shared<T, E> {
        Shared {
            inner: Mutex::new(Inner {
                running: 0,
                values: Vec::new(),
                failure: None,
                cancelled: None,
                join: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<T, E>> {
        crate::sync::lock(&self.inner)
    }

    /// A new task starts: its index in spawn order.
    pub(super) fn start(&self) -> usize {
        let mut inner = self.lock();
        inner.running += 1;
        if inner.values.capacity() == 0 {
            // Room for a small group at once: no regrowth for the first 16.
            inner.values.reserve(16);
        }
        inner.values.push(None);
        inner.values.len() - 1
    }

    /// The task at `index` ended with `outcome`; `true` if it is the
    /// group's first failure. Wakes `join` when it was the last.
    pub(super) fn end(&self, index: usize, outcome: Outcome<T, E>) -> bool {
        let (first_failure, wake, dropped) = {
            let mut inner = self.lock();
            let mut dropped = None;
            let first_failure = match outcome {
                Outcome::Value(value) => {
                    inner.values[index] = Some(value);
                    false
                }
                Outcome::Failure(failure) => match inner.failure {
                    None => {
                        inner.failure = Some(failure);
                        true
                    }
                    // A later failure: dropped outside the lock (its
                    // destructor is user code).
                    Some(_) => {
                        dropped = Some(failure);
                        false
                    }
                },
                Outcome::Cancelled(cancelled) => {
                    inner.cancelled.get_or_insert(cancelled);
                    false
                }
            };
            inner.running -= 1;
            let wake = if inner.running == 0 {
                inner.join.take()
            } else {
                None
            };
            (first_failure, wake, dropped)
        };
        drop(dropped);
        if let Some(waker) = wake {
            waker.wake();
        }
        first_failure
    }

    /// `Ready` once no task runs, with what they left.
    pub(super) fn poll_done(&self, cx: &mut Context<'_>) -> Poll<Done<T, E>> {
        let mut inner = self.lock();
        if inner.running > 0 {
            match &inner.join {
                Some(waker) if waker.will_wake(cx.waker()) => {}
                _ => inner.join = Some(cx.waker().clone()),
            }
            return Poll::Pending;
        }
        Poll::Ready(Done {
            values: std::mem::take(&mut inner.values),
            failure: inner.failure.take(),
            cancelled: inner.cancelled.take(),
        })
    }
}
