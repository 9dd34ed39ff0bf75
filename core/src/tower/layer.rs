//! `ScopeLayer`: what a service configures once for all its requests.

use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

use http::request::Parts;
use http::{HeaderMap, HeaderName};
use tokio::time::Instant;
use tower_layer::Layer;

use super::service::ScopeService;
use super::status::Outcome;
use super::timeout_header::{parse_grpc_timeout, parse_timeout_ms, GRPC_TIMEOUT};
use crate::registry::{EnterError, Key, Registry};
use crate::scope::Scope;
use crate::site::Origin;
use crate::token::Token;

/// Runs every request inside its own [`Scope`].
///
/// The scope is entered when the request's headers arrive (the service's
/// `call`), so time spent queued behind the layer counts against the
/// deadline. It is the current scope ([`Token::current`]) while the handler
/// and the response body are polled, so every `#[scoped_cancel]` call
/// inside nests under it and inherits its deadline; the token is also in
/// the request's extensions (`axum::Extension<Token>`). It ends when the
/// response body has been sent, fails, or is dropped: a client that
/// disconnects drops the response future or the body, and everything
/// inside the request is cancelled (the cause then reads
/// [`Cause::ScopeExited`](crate::Cause::ScopeExited)). A streaming or SSE
/// body keeps the scope alive while it streams; a timeout covers the whole
/// body, so give long streams a layer without one.
///
/// The request's deadline is the earliest of:
/// - [`timeout`](ScopeLayer::timeout), counted from the headers' arrival;
/// - a `grpc-timeout` header on gRPC requests (content type
///   `application/grpc…`);
/// - the plain-HTTP header named by
///   [`deadline_header`](ScopeLayer::deadline_header), in whole
///   milliseconds. There is no standard HTTP deadline header, so none is
///   read unless you name one ([`TIMEOUT_MS`](super::TIMEOUT_MS),
///   `x-timeout-ms`, is what [`PropagateDeadlineLayer`](super::PropagateDeadlineLayer)
///   sends when told to).
///
/// When the scope is cancelled before the handler answers, the layer drops
/// the handler's future and answers itself:
///
/// | why | HTTP | gRPC (trailers-only, HTTP 200) |
/// | --- | --- | --- |
/// | the deadline passed | 504 | 4 `DEADLINE_EXCEEDED` |
/// | cancelled by id ([`Registry::cancel`]) | 503 | 1 `CANCELLED` |
/// | shutdown, or the parent token cancelled | 503 | 14 `UNAVAILABLE` |
/// | the request's key has a live scope | 409 | 6 `ALREADY_EXISTS` |
/// | a malformed deadline header | 400 | 3 `INVALID_ARGUMENT` |
///
/// gRPC follows the protocol spec: an expired deadline is
/// `DEADLINE_EXCEEDED`, and a malformed `grpc-timeout` is refused rather
/// than ignored. (tonic's own server answers an expired `grpc-timeout` with
/// `CANCELLED` and runs a request whose header is malformed without a
/// deadline. Its `transport::Server` runs that timer outside every user
/// layer, so under it either answer may win; serve tonic routes through
/// axum — `Routes::into_axum_router()` — for the spec's.) If the deadline
/// passes after the handler answered, while the body streams, a gRPC body
/// ends with trailers carrying the status and an HTTP body is cut off.
///
/// ```
/// use std::time::Duration;
/// use scoped_cancel::{tower::ScopeLayer, Registry};
///
/// /// An id the server gave the request (set by a layer in front).
/// #[derive(Clone, Copy)]
/// struct RequestId(u64);
///
/// static REQUESTS: Registry<u64> = Registry::new();
///
/// let layer = ScopeLayer::new()
///     .name("api")
///     .timeout(Duration::from_secs(10))
///     .deadline_header(scoped_cancel::tower::TIMEOUT_MS)
///     // Cancel a request by its id: `REQUESTS.cancel(&id)`. Never key by
///     // a raw client header (see `keyed`).
///     .keyed(&REQUESTS, |req| req.extensions.get::<RequestId>().map(|id| id.0));
/// # let _ = layer;
/// ```
#[derive(Clone)]
pub struct ScopeLayer {
    config: Arc<Config>,
}

#[derive(Clone)]
pub(crate) struct Config {
    name: &'static str,
    location: &'static Location<'static>,
    timeout: Option<Duration>,
    deadline_header: Option<HeaderName>,
    parent: Option<Token>,
    keying: Option<Arc<dyn Keying>>,
    max_key_len: usize,
}

/// Enters a request's scope in a registry, under a key taken from the request.
/// The longest key's `Debug` form [`ScopeLayer::keyed`] accepts unless
/// [`ScopeLayer::max_key_len`] says otherwise.
const DEFAULT_MAX_KEY_LEN: usize = 256;

trait Keying: Send + Sync + 'static {
    fn enter(
        &self,
        parts: &Parts,
        origin: Origin,
        parent: Option<&Token>,
        max_key_len: usize,
    ) -> Result<Scope, Outcome>;
}

/// `true` if `key`'s `Debug` form is longer than `max` bytes; formats no
/// more than `max + 1` bytes to find out, allocating nothing.
fn too_long(key: &dyn fmt::Debug, max: usize) -> bool {
    struct Count(usize, usize);
    impl fmt::Write for Count {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0 += s.len();
            if self.0 > self.1 {
                Err(fmt::Error)
            } else {
                Ok(())
            }
        }
    }
    fmt::write(&mut Count(0, max), format_args!("{key:?}")).is_err()
}

struct Keyed<K: 'static, F> {
    registry: &'static Registry<K>,
    key: F,
}

impl<K, F> Keying for Keyed<K, F>
where
    K: Key,
    F: Fn(&Parts) -> Option<K> + Send + Sync + 'static,
{
    fn enter(
        &self,
        parts: &Parts,
        origin: Origin,
        parent: Option<&Token>,
        max_key_len: usize,
    ) -> Result<Scope, Outcome> {
        let parent = parent.map(|p| &p.node);
        match (self.key)(parts) {
            Some(key) if too_long(&key, max_key_len) => Err(Outcome::KeyTooLong),
            Some(key) => self
                .registry
                .enter_at(key, origin, parent)
                .map_err(|e| match e {
                    EnterError::Occupied(_) => Outcome::Occupied,
                    EnterError::ShuttingDown(_) => Outcome::Shutdown,
                }),
            None => Ok(Scope::under(parent, origin)),
        }
    }
}

impl ScopeLayer {
    /// A layer with no timeout, no parent and no registry: every request
    /// gets an anonymous scope, named `"request"` in reports, at the line
    /// that called `new`.
    #[track_caller]
    pub fn new() -> Self {
        ScopeLayer {
            config: Arc::new(Config {
                name: "request",
                location: Location::caller(),
                timeout: None,
                deadline_header: None,
                parent: None,
                keying: None,
                max_key_len: DEFAULT_MAX_KEY_LEN,
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Config)) -> Self {
        f(Arc::make_mut(&mut self.config));
        self
    }

    /// The requests' scope name in leak reports and shutdown reports.
    pub fn name(self, name: &'static str) -> Self {
        self.edit(|c| c.name = name)
    }

    /// The longest a request may take, from the arrival of its headers
    /// until its response body ends. A caller's deadline header can only
    /// shorten it.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.edit(|c| c.timeout = Some(timeout))
    }

    /// Reads a caller's deadline from this header on plain-HTTP requests:
    /// whole milliseconds, 1 to 10 ASCII digits (as Connect's
    /// `connect-timeout-ms`). A malformed value is answered with 400.
    pub fn deadline_header(self, name: HeaderName) -> Self {
        self.edit(|c| c.deadline_header = Some(name))
    }

    /// Makes every request's scope a child of `parent` (for example the
    /// server's lifetime scope): cancelling it cancels every request, which
    /// are then answered 503 / `UNAVAILABLE`.
    ///
    /// Each request's scope links into the parent's token and unlinks when
    /// it ends, under that token's lock; on many threads that one lock is
    /// contended (see `BENCHMARKS.md`). Keyed requests need no parent to be
    /// shut down: [`Registry::shutdown`] cancels them, without a shared lock.
    pub fn parent(self, parent: &Token) -> Self {
        let parent = parent.clone();
        self.edit(|c| c.parent = Some(parent))
    }

    /// Enters each request's scope in `registry` under the key `key` takes
    /// from the request's head (its [`Parts`]: method, URI, headers,
    /// extensions), so that it can be listed ([`Registry::report`]),
    /// cancelled by key ([`Registry::cancel`]: 503 / `CANCELLED`) and shut
    /// down ([`Registry::shutdown`]: 503 / `UNAVAILABLE`). A key that
    /// already has a live scope is answered 409 / `ALREADY_EXISTS`; a
    /// request for which `key` returns `None` gets an anonymous scope; a key
    /// whose `Debug` form is longer than [`max_key_len`](ScopeLayer::max_key_len)
    /// (256 bytes unless set) is answered 400 / `INVALID_ARGUMENT`.
    ///
    /// **Do not let a client choose another client's key.** A key taken
    /// as-is from a client's header lets any client occupy a key (every
    /// later request with it gets 409) and, where the service exposes
    /// cancel-by-id, cancel someone else's request. Key by something the
    /// server controls: an id it generated and handed out, or the pair of
    /// the authenticated principal and the client's id, so that clients
    /// can only collide with themselves.
    ///
    /// ```
    /// use http::request::Parts;
    /// use scoped_cancel::{tower::ScopeLayer, Registry};
    ///
    /// /// Who is calling: set by the authentication layer in front.
    /// #[derive(Clone)]
    /// struct Principal(String);
    ///
    /// static REQUESTS: Registry<(String, String)> = Registry::new();
    ///
    /// fn request_key(parts: &Parts) -> Option<(String, String)> {
    ///     let principal = parts.extensions.get::<Principal>()?.0.clone();
    ///     let id = parts.headers.get("x-request-id")?.to_str().ok()?.to_owned();
    ///     Some((principal, id))
    /// }
    ///
    /// let layer = ScopeLayer::new().keyed(&REQUESTS, request_key);
    /// # let _ = layer;
    /// ```
    pub fn keyed<K, F>(self, registry: &'static Registry<K>, key: F) -> Self
    where
        K: Key,
        F: Fn(&Parts) -> Option<K> + Send + Sync + 'static,
    {
        let keying: Arc<dyn Keying> = Arc::new(Keyed { registry, key });
        self.edit(|c| c.keying = Some(keying))
    }

    /// The longest key [`keyed`](ScopeLayer::keyed) accepts, measured on
    /// its `Debug` form (a cap on what reports, dumps and events carry, and
    /// on what a client can make the server store): longer keys are
    /// answered 400 / `INVALID_ARGUMENT`.
    pub fn max_key_len(self, bytes: usize) -> Self {
        self.edit(|c| c.max_key_len = bytes)
    }
}

impl Default for ScopeLayer {
    #[track_caller]
    fn default() -> Self {
        ScopeLayer::new()
    }
}

impl<S> Layer<S> for ScopeLayer {
    type Service = ScopeService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ScopeService::new(inner, self.config.clone())
    }
}

impl fmt::Debug for ScopeLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt(f)
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeLayer")
            .field("name", &self.name)
            .field("timeout", &self.timeout)
            .field("deadline_header", &self.deadline_header)
            .field("parent", &self.parent.is_some())
            .field("keyed", &self.keying.is_some())
            .finish()
    }
}

impl Config {
    pub(crate) fn wants_parts(&self) -> bool {
        self.keying.is_some()
    }

    /// The request's deadline, counted from `now`; `Err` for a malformed header.
    pub(crate) fn deadline(&self, headers: &HeaderMap, grpc: bool) -> Result<Option<Instant>, ()> {
        let mut budget = self.timeout;
        let mut shorten = |d: Duration| budget = Some(budget.map_or(d, |b| b.min(d)));
        // A header given more than once: the smallest value wins (each must
        // parse), so no proxy's copy can extend another's budget.
        if grpc {
            for value in headers.get_all(GRPC_TIMEOUT) {
                shorten(parse_grpc_timeout(value.as_bytes()).map_err(drop)?);
            }
        }
        if let Some(name) = &self.deadline_header {
            for value in headers.get_all(name) {
                shorten(parse_timeout_ms(value.as_bytes()).map_err(drop)?);
            }
        }
        // A budget too far out to represent is no deadline at all.
        Ok(budget.and_then(|b| Instant::now().checked_add(b)))
    }

    /// Enters the request's scope (keyed if configured).
    pub(crate) fn enter(&self, parts: Option<&Parts>) -> Result<Scope, Outcome> {
        let origin = Origin::Caller {
            name: self.name,
            location: self.location,
        };
        match (&self.keying, parts) {
            (Some(keying), Some(parts)) => {
                keying.enter(parts, origin, self.parent.as_ref(), self.max_key_len)
            }
            _ => Ok(Scope::under(self.parent.as_ref().map(|p| &p.node), origin)),
        }
    }
}
