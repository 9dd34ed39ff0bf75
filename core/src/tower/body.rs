//! `ScopeBody`: the response body that keeps the request's scope alive
//! until the body has been sent or dropped.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::status::Outcome;
use super::BoxError;
use crate::ambient::Entered;
use crate::cause::Cancelled;
use crate::node::Node;
use crate::race::Watch;
use crate::scope::Scope;

/// One frame of `B`, or its error.
type FrameOf<B> = Result<Frame<<B as Body>::Data>, <B as Body>::Error>;

/// How a request's scope ended a body: the answer, and the error.
type Ended = (Outcome, Cancelled);

/// The request's scope, carried by its response body.
pub(crate) struct Guard {
    /// The scope's node, moved into the thread's current-scope slot while
    /// the inner body is polled or dropped (as in [`Run`](crate::Run)).
    ambient: Option<Arc<Node>>,
    pub(crate) scope: Scope,
    pub(crate) grpc: bool,
    /// The race between frames (`race.rs`), with the request's deadline.
    watch: Watch,
    /// A frame has been sent.
    sent: bool,
}

impl Guard {
    pub(crate) fn new(scope: Scope, ambient: Option<Arc<Node>>, watch: Watch, grpc: bool) -> Guard {
        Guard {
            ambient,
            scope,
            grpc,
            watch,
            sent: false,
        }
    }

    /// Polls the inner body for a frame, raced against the scope: `Err`
    /// once the scope is cancelled or the deadline has passed. Looked at
    /// before every frame after the first, so a body whose frames are
    /// always ready (an endless stream) still ends at the deadline or the
    /// cancel, while a handler's finished answer (biased, as in `Run`) is
    /// not cut off before its first frame.
    fn poll_frame<B: Body>(
        &mut self,
        inner: Pin<&mut B>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<FrameOf<B>>, Ended>> {
        let (node, link) = self.scope.node_and_link();
        if self.sent {
            if let Some(cancelled) = self.watch.check(node, link) {
                return Poll::Ready(Err(Outcome::of_scope(node, &cancelled)));
            }
        }
        let ambient = &mut self.ambient;
        let polled = self
            .watch
            .race(node, link, false, cx, |cx| {
                let _current = Entered::new(ambient);
                inner.poll_frame(cx)
            })
            .map_err(|_| Outcome::of_scope(node, &crate::race::cancelled(node)));
        self.sent |= polled.is_ready();
        polled
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.watch.unpark(self.scope.node());
    }
}

pin_project! {
    /// The response body of a [`ScopeLayer`](super::ScopeLayer) service.
    ///
    /// It holds the request's scope: the scope ends (its token is
    /// cancelled, its key released) when the body reports its end, fails, or
    /// is dropped — for example when the client disconnects in the middle of
    /// a stream. Between frames, and while it waits for the next one,
    /// it watches the scope: if the scope is cancelled or the deadline
    /// passes mid-stream, a gRPC body ends with trailers carrying the
    /// status, and an HTTP body ends with an error, so the client sees an
    /// incomplete response rather than a complete-looking one. A body whose
    /// frames are always ready (an endless stream) ends there too; its
    /// first frame is always sent, so a handler that finished its answer
    /// (a single frame) as its scope was cancelled is not cut off.
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
            Some(guard) => guard.poll_frame(inner, cx),
            None => inner.poll_frame(cx).map(Ok),
        };
        match polled {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(Some(Ok(frame)))) => Poll::Ready(Some(Ok(frame))),
            Poll::Ready(Ok(end)) => {
                // End of stream or an error: the request is over.
                end_inner(this.inner, this.guard);
                *this.guard = None;
                Poll::Ready(end.map(|r| r.map_err(Into::into)))
            }
            Poll::Ready(Err((outcome, cancelled))) => {
                let grpc = this.guard.as_ref().is_some_and(|guard| guard.grpc);
                end_inner(this.inner, this.guard);
                *this.guard = None;
                Poll::Ready(Some(if grpc {
                    Ok(Frame::trailers(outcome.grpc_headers()))
                } else {
                    Err(Box::new(cancelled) as BoxError)
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
