//! `ScopeBody`: the response body that keeps the request's scope alive
//! until the body has been sent or dropped.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::WaitForCancellationFutureOwned;

use super::status::Outcome;
use super::BoxError;
use crate::ambient::Entered;
use crate::cause::{Cancelled, Cause};
use crate::node::Node;
use crate::scope::Scope;

/// What a streaming body watches between frames: its scope's token and the
/// request's deadline. Boxed, and made only when the inner body first waits,
/// so a body that is ready at once pays nothing for it.
struct Watch {
    waiter: Pin<Box<WaitForCancellationFutureOwned>>,
    sleep: Option<Pin<Box<Sleep>>>,
}

/// The request's scope, carried by its response body.
pub(crate) struct Guard {
    /// The scope's node, moved into the thread's current-scope slot while
    /// the inner body is polled or dropped (as in [`Run`](crate::Run)).
    ambient: Option<Arc<Node>>,
    pub(crate) scope: Scope,
    pub(crate) deadline: Option<Instant>,
    pub(crate) grpc: bool,
    watch: Option<Watch>,
}

impl Guard {
    pub(crate) fn new(
        scope: Scope,
        ambient: Option<Arc<Node>>,
        deadline: Option<Instant>,
        grpc: bool,
    ) -> Guard {
        Guard {
            ambient,
            scope,
            deadline,
            grpc,
            watch: None,
        }
    }

    /// `Ready(cause)` once the scope is cancelled or its deadline passed.
    fn poll_cancelled(&mut self, cx: &mut Context<'_>) -> Poll<Cause> {
        let node = self.scope.node();
        let watch = self.watch.get_or_insert_with(|| Watch {
            waiter: Box::pin(node.ct().clone().cancelled_owned()),
            sleep: self
                .deadline
                .map(|at| Box::pin(tokio::time::sleep_until(at))),
        });
        if let Some(sleep) = watch.sleep.as_mut() {
            if sleep.as_mut().poll(cx).is_ready() {
                node.cancel_with(Cause::Deadline);
            }
        }
        match watch.waiter.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(node.cause().unwrap_or(Cause::Parent)),
            Poll::Pending => Poll::Pending,
        }
    }
}

pin_project! {
    /// The response body of a [`ScopeLayer`](super::ScopeLayer) service.
    ///
    /// It holds the request's scope: the scope ends (its token is
    /// cancelled, its key released) when the body reports its end, fails, or
    /// is dropped — for example when the client disconnects in the middle of
    /// a stream. While the body waits for its next frame, it watches the
    /// scope: if the scope is cancelled or the deadline passes mid-stream,
    /// a gRPC body ends with trailers carrying the status, and an HTTP body
    /// ends with an error, so the client sees an incomplete response rather
    /// than a complete-looking one.
    pub struct ScopeBody<B> {
        #[pin]
        inner: Option<B>,
        message: Option<&'static str>,
        // Declared after `inner`: the inner body is dropped before the scope ends.
        guard: Option<Guard>,
    }

    impl<B> PinnedDrop for ScopeBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            if let Some(guard) = this.guard.as_mut() {
                let _current = Entered::new(&mut guard.ambient);
                this.inner.set(None);
            }
        }
    }
}

impl<B> ScopeBody<B> {
    pub(crate) fn new(inner: B, guard: Option<Guard>) -> Self {
        ScopeBody {
            inner: Some(inner),
            message: None,
            guard,
        }
    }

    /// The body of a response the layer wrote itself.
    pub(crate) fn answer(outcome: Outcome, grpc: bool) -> Self {
        ScopeBody {
            inner: None,
            message: (!grpc).then(|| outcome.body()),
            guard: None,
        }
    }
}

impl<B> Body for ScopeBody<B>
where
    B: Body,
    B::Data: From<&'static str>,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            return Poll::Ready(this.message.take().map(|m| Ok(Frame::data(m.into()))));
        };
        let polled = match this.guard.as_mut() {
            Some(guard) => {
                let _current = Entered::new(&mut guard.ambient);
                inner.poll_frame(cx)
            }
            None => inner.poll_frame(cx),
        };
        match polled {
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
            Poll::Ready(end) => {
                // End of stream or an error: the request is over.
                end_inner(this.inner, this.guard);
                *this.guard = None;
                Poll::Ready(end.map(|r| r.map_err(Into::into)))
            }
            Poll::Pending => {
                let Some(guard) = this.guard.as_mut() else {
                    return Poll::Pending;
                };
                let Poll::Ready(cause) = guard.poll_cancelled(cx) else {
                    return Poll::Pending;
                };
                let grpc = guard.grpc;
                end_inner(this.inner, this.guard);
                *this.guard = None;
                let outcome = Outcome::of(&cause);
                Poll::Ready(Some(if grpc {
                    Ok(Frame::trailers(outcome.grpc_headers()))
                } else {
                    Err(Box::new(Cancelled::new(cause)) as BoxError)
                }))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Some(inner) => inner.is_end_stream(),
            None => self.message.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match (&self.inner, self.message) {
            (Some(inner), _) => inner.size_hint(),
            (None, Some(m)) => SizeHint::with_exact(m.len() as u64),
            (None, None) => SizeHint::with_exact(0),
        }
    }
}

/// Drops the inner body with its scope current, before the scope ends.
fn end_inner<B>(mut inner: Pin<&mut Option<B>>, guard: &mut Option<Guard>) {
    match guard.as_mut() {
        Some(guard) => {
            let _current = Entered::new(&mut guard.ambient);
            inner.set(None);
        }
        None => inner.set(None),
    }
}

impl<B> std::fmt::Debug for ScopeBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopeBody")
            .field("scope", &self.guard.as_ref().map(|g| &g.scope))
            .finish_non_exhaustive()
    }
}
