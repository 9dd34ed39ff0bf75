//! How a request that never got its handler's answer is answered, in HTTP
//! and in gRPC.

use http::{header, HeaderMap, HeaderValue, Response, StatusCode};

use crate::cause::{Cancelled, Cause};
use crate::node::Node;

/// Why the layer answered a request itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The request's deadline passed: 504, gRPC `DEADLINE_EXCEEDED` (4).
    Deadline,
    /// Cancelled by id or by a scope's `cancel`: 503, gRPC `CANCELLED` (1).
    Requested,
    /// The server is shutting down: 503, gRPC `UNAVAILABLE` (14).
    Shutdown,
    /// The request's key has a live scope: 409, gRPC `ALREADY_EXISTS` (6).
    Occupied,
    /// A deadline header did not parse: 400, gRPC `INVALID_ARGUMENT` (3).
    Malformed,
    /// The request's key is longer than the layer accepts: 400, gRPC
    /// `INVALID_ARGUMENT` (3).
    KeyTooLong,
}

impl Outcome {
    /// The outcome for a request whose scope (`node`) was cancelled. A
    /// cancel that came from a parent is read as shutdown, whatever the
    /// parent's own cause: a request's parent is the server's lifetime.
    /// The `Cancelled` is handed on with it.
    pub(crate) fn of_scope(node: &Node, cancelled: &Cancelled) -> (Outcome, Cancelled) {
        let cause = node.cause().unwrap_or(Cause::Parent);
        (Outcome::of(&cause), cancelled.clone())
    }

    /// The outcome for a scope cancelled with `cause` (its own).
    pub(crate) fn of(cause: &Cause) -> Outcome {
        match cause {
            Cause::Deadline => Outcome::Deadline,
            Cause::Shutdown | Cause::ShuttingDown | Cause::Parent => Outcome::Shutdown,
            Cause::KeyOccupied => Outcome::Occupied,
            _ => Outcome::Requested,
        }
    }

    fn http(self) -> StatusCode {
        match self {
            Outcome::Deadline => StatusCode::GATEWAY_TIMEOUT,
            Outcome::Requested | Outcome::Shutdown => StatusCode::SERVICE_UNAVAILABLE,
            Outcome::Occupied => StatusCode::CONFLICT,
            Outcome::Malformed | Outcome::KeyTooLong => StatusCode::BAD_REQUEST,
        }
    }

    pub(crate) fn grpc(self) -> &'static str {
        match self {
            Outcome::Deadline => "4",
            Outcome::Requested => "1",
            Outcome::Shutdown => "14",
            Outcome::Occupied => "6",
            Outcome::Malformed | Outcome::KeyTooLong => "3",
        }
    }

    /// A short text for the HTTP body and the `grpc-message` header.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Outcome::Deadline => "deadline exceeded",
            Outcome::Requested => "request cancelled",
            Outcome::Shutdown => "server shutting down",
            Outcome::Occupied => "a request with this key is in progress",
            Outcome::Malformed => "malformed deadline header",
            Outcome::KeyTooLong => "request key too long",
        }
    }

    /// The text body of an HTTP answer: the message and a newline.
    pub(crate) fn body(self) -> &'static str {
        match self {
            Outcome::Deadline => "deadline exceeded\n",
            Outcome::Requested => "request cancelled\n",
            Outcome::Shutdown => "server shutting down\n",
            Outcome::Occupied => "a request with this key is in progress\n",
            Outcome::Malformed => "malformed deadline header\n",
            Outcome::KeyTooLong => "request key too long\n",
        }
    }

    /// The `grpc-status` and `grpc-message` pair, as headers or trailers.
    pub(crate) fn grpc_headers(self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(2);
        map.insert("grpc-status", HeaderValue::from_static(self.grpc()));
        // Percent-encoding is only needed outside printable ASCII: none here.
        map.insert("grpc-message", HeaderValue::from_static(self.message()));
        map
    }

    /// The response: for gRPC a trailers-only response (HTTP 200, the status
    /// in the headers, no body); for HTTP the status code and a text body.
    pub(crate) fn response<B>(self, grpc: bool, body: B) -> Response<B> {
        let mut response = Response::new(body);
        if grpc {
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/grpc"),
            );
            headers.extend(self.grpc_headers());
        } else {
            *response.status_mut() = self.http();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
        }
        response
    }
}

/// `true` for gRPC requests (and gRPC-Web: same prefix).
/// gRPC, and gRPC-Web (`application/grpc-web`, `application/grpc-web-text`):
/// both read an early answer's status from a trailers-only response's
/// headers. A gRPC-Web body's trailers mid-stream are encoded into the body
/// by the gRPC-Web translation layer (tonic-web's), so `ScopeLayer` goes
/// inside that layer.
pub(crate) fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(b"application/grpc"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mapping_of_wave_2() {
        let table = [
            (Cause::Deadline, 504, "4"),
            (Cause::Requested, 503, "1"),
            (Cause::Shutdown, 503, "14"),
            (Cause::ShuttingDown, 503, "14"),
            (Cause::Parent, 503, "14"),
            (Cause::KeyOccupied, 409, "6"),
        ];
        for (cause, http, grpc) in table {
            let outcome = Outcome::of(&cause);
            assert_eq!(outcome.http().as_u16(), http, "{cause:?}");
            assert_eq!(outcome.grpc(), grpc, "{cause:?}");
            let r = outcome.response(true, ());
            assert_eq!(r.status(), 200);
            assert_eq!(r.headers()["grpc-status"], grpc);
        }
        assert_eq!(Outcome::Malformed.response(false, ()).status(), 400);
        assert_eq!(Outcome::Malformed.grpc(), "3");
    }

    #[test]
    fn bodies_are_the_messages_with_a_newline() {
        use Outcome::*;
        for o in [Deadline, Requested, Shutdown, Occupied, Malformed] {
            assert_eq!(o.body(), format!("{}\n", o.message()));
        }
    }

    #[test]
    fn grpc_is_recognised_by_content_type_prefix() {
        let mut h = HeaderMap::new();
        assert!(!is_grpc(&h));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc+proto"),
        );
        assert!(is_grpc(&h));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert!(!is_grpc(&h));
    }
}
