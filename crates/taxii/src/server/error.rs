//! The one error table of the TAXII server: every failure a request can meet maps,
//! through [`ServerError::code`] and [`ServerError::status`], to a stable code and an
//! HTTP status, and is written as a TAXII 2.1 error message (§3.6.1).
//! `crates/taxii/README.md` documents the table; keep both in step.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use store::StoreError;

use super::media::TAXII_MEDIA_TYPE;

/// Everything that can make a TAXII request fail.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// No credentials, unknown user, wrong password, unknown or revoked token.
    #[error("authentication required: {0}")]
    Unauthenticated(String),
    /// Authenticated, but the organisation or role lacks the right.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Unknown route, API root, collection, object or status resource.
    #[error("{what} not found")]
    NotFound { what: String },
    /// The method is not defined for this resource.
    #[error("method {method} is not allowed on this resource")]
    MethodNotAllowed { method: String },
    /// The Accept header names no media type this endpoint can produce.
    #[error("not acceptable: {0}")]
    NotAcceptable(String),
    /// The request body has a media type the endpoint does not accept.
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// The request body is larger than the API root's max_content_length.
    #[error("request body exceeds max_content_length of {limit} bytes")]
    TooLarge { limit: u64 },
    /// A URL parameter is malformed or repeated.
    #[error("invalid parameter {param}: {reason}")]
    BadParameter { param: String, reason: String },
    /// A `next` token that this server did not issue for this requester and query.
    #[error("invalid next token: {0}")]
    BadNext(&'static str),
    /// The body is not JSON.
    #[error("request body is not valid JSON at line {line}, column {column}: {reason}")]
    BadJson {
        line: usize,
        column: usize,
        reason: String,
    },
    /// The body is JSON but not a TAXII envelope.
    #[error("request body is not a TAXII envelope at {pointer}: {reason}")]
    BadEnvelope { pointer: String, reason: String },
    /// The storage layer failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The request took longer than the server's request timeout.
    #[error("request took longer than {0:?}")]
    Timeout(std::time::Duration),
    /// A server-side failure that is not the requester's fault.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServerError {
    /// Stable machine-readable code (the `error_code` of the TAXII error message).
    pub fn code(&self) -> &'static str {
        match self {
            ServerError::Unauthenticated(_) => "taxii.unauthenticated",
            ServerError::Forbidden(_) => "taxii.forbidden",
            ServerError::NotFound { .. } => "taxii.not_found",
            ServerError::MethodNotAllowed { .. } => "taxii.method_not_allowed",
            ServerError::NotAcceptable(_) => "taxii.not_acceptable",
            ServerError::UnsupportedMediaType(_) => "taxii.unsupported_media_type",
            ServerError::TooLarge { .. } => "taxii.too_large",
            ServerError::BadParameter { .. } => "taxii.bad_parameter",
            ServerError::BadNext(_) => "taxii.bad_next",
            ServerError::BadJson { .. } => "taxii.bad_json",
            ServerError::BadEnvelope { .. } => "taxii.bad_envelope",
            ServerError::Store(e) => e.code(),
            ServerError::Timeout(_) => "taxii.timeout",
            ServerError::Internal(_) => "taxii.internal",
        }
    }

    /// HTTP status for the error.
    pub fn status(&self) -> StatusCode {
        match self {
            ServerError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ServerError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServerError::NotFound { .. } => StatusCode::NOT_FOUND,
            ServerError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ServerError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ServerError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ServerError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ServerError::BadParameter { .. }
            | ServerError::BadNext(_)
            | ServerError::BadJson { .. } => StatusCode::BAD_REQUEST,
            ServerError::BadEnvelope { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ServerError::Store(e) => match e {
                StoreError::NotFound { .. } => StatusCode::NOT_FOUND,
                StoreError::AlreadyExists { .. } => StatusCode::CONFLICT,
                StoreError::InvalidArgument(_) => StatusCode::BAD_REQUEST,
                StoreError::Database(_)
                | StoreError::Migration(_)
                | StoreError::Open { .. }
                | StoreError::UnsupportedUrl(_)
                | StoreError::Corrupt(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
            ServerError::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            ServerError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Short human title for the error message.
    fn title(&self) -> &'static str {
        match self.status() {
            StatusCode::UNAUTHORIZED => "Unauthorized",
            StatusCode::FORBIDDEN => "Forbidden",
            StatusCode::NOT_FOUND => "Not Found",
            StatusCode::METHOD_NOT_ALLOWED => "Method Not Allowed",
            StatusCode::NOT_ACCEPTABLE => "Not Acceptable",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "Unsupported Media Type",
            StatusCode::PAYLOAD_TOO_LARGE => "Payload Too Large",
            StatusCode::BAD_REQUEST => "Bad Request",
            StatusCode::UNPROCESSABLE_ENTITY => "Unprocessable Entity",
            StatusCode::CONFLICT => "Conflict",
            StatusCode::SERVICE_UNAVAILABLE => "Service Unavailable",
            _ => "Internal Server Error",
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        ServerError::NotFound { what: what.into() }
    }

    pub fn bad_param(param: impl Into<String>, reason: impl Into<String>) -> Self {
        ServerError::BadParameter {
            param: param.into(),
            reason: reason.into(),
        }
    }

    /// The TAXII error message document.
    pub fn to_json(&self) -> serde_json::Value {
        let status = self.status();
        let description = if status == StatusCode::INTERNAL_SERVER_ERROR {
            // Do not leak database details to the requester; they are logged.
            "the server could not complete the request".to_owned()
        } else {
            self.to_string()
        };
        serde_json::json!({
            "title": self.title(),
            "description": description,
            "error_code": self.code(),
            "http_status": status.as_u16().to_string(),
        })
    }
}

/// The `WWW-Authenticate` challenge sent with every 401.
pub const WWW_AUTHENTICATE: &str =
    r#"Basic realm="nadhir-taxii", charset="UTF-8", Bearer realm="nadhir-taxii""#;

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(code = self.code(), error = %self, "request failed");
        }
        let body = self.to_json().to_string();
        let mut resp = (status, body).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(TAXII_MEDIA_TYPE),
        );
        if status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(WWW_AUTHENTICATE),
            );
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_a_code_and_status() {
        let cases: Vec<(ServerError, u16, &str)> = vec![
            (
                ServerError::Unauthenticated("x".into()),
                401,
                "taxii.unauthenticated",
            ),
            (ServerError::Forbidden("x".into()), 403, "taxii.forbidden"),
            (ServerError::not_found("collection"), 404, "taxii.not_found"),
            (
                ServerError::MethodNotAllowed {
                    method: "PUT".into(),
                },
                405,
                "taxii.method_not_allowed",
            ),
            (
                ServerError::NotAcceptable("x".into()),
                406,
                "taxii.not_acceptable",
            ),
            (
                ServerError::UnsupportedMediaType("x".into()),
                415,
                "taxii.unsupported_media_type",
            ),
            (ServerError::TooLarge { limit: 1 }, 413, "taxii.too_large"),
            (
                ServerError::bad_param("limit", "x"),
                400,
                "taxii.bad_parameter",
            ),
            (ServerError::BadNext("x"), 400, "taxii.bad_next"),
            (
                ServerError::BadJson {
                    line: 1,
                    column: 2,
                    reason: "x".into(),
                },
                400,
                "taxii.bad_json",
            ),
            (
                ServerError::BadEnvelope {
                    pointer: "/objects".into(),
                    reason: "x".into(),
                },
                422,
                "taxii.bad_envelope",
            ),
            (
                ServerError::Store(StoreError::Corrupt("x".into())),
                500,
                "store.corrupt",
            ),
            (
                ServerError::Store(StoreError::NotFound {
                    kind: "org",
                    id: "a".into(),
                }),
                404,
                "store.not_found",
            ),
            (
                ServerError::Timeout(std::time::Duration::from_secs(1)),
                503,
                "taxii.timeout",
            ),
            (ServerError::Internal("x".into()), 500, "taxii.internal"),
        ];
        for (e, status, code) in cases {
            assert_eq!(e.status().as_u16(), status, "{e}");
            assert_eq!(e.code(), code);
            let j = e.to_json();
            assert_eq!(j["http_status"], status.to_string());
            assert_eq!(j["error_code"], code);
        }
    }

    #[test]
    fn unauthorized_carries_challenge() {
        let r = ServerError::Unauthenticated("no credentials".into()).into_response();
        assert_eq!(r.status(), 401);
        let h = r
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .unwrap()
            .to_str()
            .unwrap();
        assert!(h.contains("Basic") && h.contains("Bearer"));
        assert_eq!(
            r.headers().get(header::CONTENT_TYPE).unwrap(),
            TAXII_MEDIA_TYPE
        );
    }

    #[test]
    fn internal_errors_do_not_leak_details() {
        let j = ServerError::Store(StoreError::Corrupt("secret table x".into())).to_json();
        assert!(!j["description"].as_str().unwrap().contains("secret"));
    }
}
