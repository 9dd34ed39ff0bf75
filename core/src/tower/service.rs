//! `ScopeService` and its response future: one scope per request.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower_service::Service;

use super::body::{Guard, ScopeBody};
use super::layer::Config;
use super::status::{is_grpc, Outcome};
use crate::ambient::Entered;
use crate::node::Node;
use crate::race::Watch;
use crate::scope::Scope;

/// The service [`ScopeLayer`](super::ScopeLayer) wraps around yours.
#[derive(Clone, Debug)]
pub struct ScopeService<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> ScopeService<S> {
    pub(crate) fn new(inner: S, config: Arc<Config>) -> Self {
        ScopeService { inner, config }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ScopeService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ScopeBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let grpc = is_grpc(req.headers());
        // The deadline counts from here, when the headers have arrived.
        let Ok(deadline) = self.config.deadline(req.headers(), grpc) else {
            return ResponseFuture::answer(Outcome::Malformed, grpc);
        };
        if deadline.is_some_and(|at| at <= Instant::now()) {
            return ResponseFuture::answer(Outcome::Deadline, grpc);
        }
        let entered = if self.config.wants_parts() {
            let (parts, body) = req.into_parts();
            let entered = self.config.enter(Some(&parts));
            req = Request::from_parts(parts, body);
            entered
        } else {
            self.config.enter(None)
        };
        let scope = match entered {
            Ok(scope) => scope,
            Err(outcome) => return ResponseFuture::answer(outcome, grpc),
        };
        let mut watch = Watch::new();
        if let Some(at) = deadline {
            // Set before the handler runs: `Token::deadline` reads it.
            scope.node().lower_deadline(at);
            watch.set_deadline(Some(at));
        }
        req.extensions_mut().insert(scope.token());
        let mut ambient = Some(scope.node().clone());
        // Services that start work in `call` see the request's scope too.
        let inner = {
            let _current = Entered::new(&mut ambient);
            self.inner.call(req)
        };
        ResponseFuture {
            state: State::Running {
                inner: Some(inner),
                watch,
                ambient,
                scope: Some(scope),
                grpc,
            },
            _body: PhantomData,
        }
    }
}

pin_project! {
    /// The response future of [`ScopeService`]: the handler's future raced
    /// against the request's scope and deadline.
    #[must_use = "futures do nothing unless polled; dropping this ends the request's scope"]
    pub struct ResponseFuture<F, B> {
        #[pin]
        state: State<F>,
        _body: PhantomData<fn() -> B>,
    }

    impl<F, B> PinnedDrop for ResponseFuture<F, B> {
        fn drop(this: Pin<&mut Self>) {
            // The handler's future drops while its scope is current, as it
            // would inside `Scope::run`, and before the scope ends.
            if let StateProj::Running { mut inner, ambient, watch, scope, .. } =
                this.project().state.project()
            {
                if let Some(scope) = scope {
                    watch.unpark(scope.node());
                }
                let _current = Entered::new(ambient);
                inner.set(None);
            }
        }
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Running {
            // Fields drop in declaration order: the handler's future first,
            // the scope last.
            #[pin]
            inner: Option<F>,
            watch: Watch,
            // A second handle to the scope's node, moved into the thread's
            // current-scope slot while the handler is polled.
            ambient: Option<Arc<Node>>,
            scope: Option<Scope>,
            grpc: bool,
        },
        Answer {
            outcome: Option<Outcome>,
            grpc: bool,
        },
    }
}

impl<F, B> ResponseFuture<F, B> {
    fn answer(outcome: Outcome, grpc: bool) -> Self {
        ResponseFuture {
            state: State::Answer {
                outcome: Some(outcome),
                grpc,
            },
            _body: PhantomData,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ScopeBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Answer { outcome, grpc } => {
                let outcome = outcome
                    .take()
                    .expect("ResponseFuture polled after completion");
                Poll::Ready(Ok(
                    outcome.response(*grpc, ScopeBody::answer(outcome, *grpc))
                ))
            }
            StateProj::Running {
                mut inner,
                watch,
                ambient,
                scope,
                grpc,
            } => {
                let Some(owned) = scope.as_mut() else {
                    panic!("ResponseFuture polled after completion");
                };
                let (node, link) = owned.node_and_link();
                // The one race (`race.rs`): the handler first, so a
                // finished answer is never thrown away.
                let raced = watch.race(node, link, false, cx, |cx| {
                    match inner.as_mut().as_pin_mut() {
                        Some(fut) => {
                            let _current = Entered::new(ambient);
                            fut.poll(cx)
                        }
                        None => Poll::Pending,
                    }
                });
                let raced = match raced {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(raced) => raced,
                };
                watch.unpark(node);
                // The handler's future is dropped before the scope ends.
                {
                    let _current = Entered::new(ambient);
                    inner.set(None);
                }
                match raced {
                    Ok(out) => {
                        let watch = std::mem::replace(watch, Watch::new());
                        let guard = scope
                            .take()
                            .map(|s| Guard::new(s, ambient.take(), watch, *grpc));
                        Poll::Ready(out.map(|r| r.map(|b| ScopeBody::new(b, guard))))
                    }
                    Err(_) => {
                        let (outcome, _) = Outcome::of_scope(node, &crate::race::cancelled(node));
                        *scope = None;
                        Poll::Ready(Ok(
                            outcome.response(*grpc, ScopeBody::answer(outcome, *grpc))
                        ))
                    }
                }
            }
        }
    }
}
