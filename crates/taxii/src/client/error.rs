//! Errors of the TAXII client. Every variant has a stable code ([`ClientError::code`]).

use super::types::ErrorBody;

/// Everything that can go wrong talking to a TAXII 2.1 server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A URL given to the client (or found in a server's response) cannot be used.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },

    /// The client could not be built (TLS backend, invalid header value, ...).
    #[error("cannot build the HTTP client: {0}")]
    Build(String),

    /// The request did not complete: connection refused, TLS failure, timeout, ...
    #[error("{method} {url}: {source}")]
    Transport {
        method: &'static str,
        url: String,
        #[source]
        source: reqwest::Error,
    },

    /// The server answered with an error status. `error` holds the TAXII error
    /// message body when the server sent one.
    #[error("{method} {url}: HTTP {status}{}", describe_error(.error.as_deref(), .body_excerpt))]
    Server {
        method: &'static str,
        url: String,
        status: u16,
        error: Option<Box<ErrorBody>>,
        /// The start of the body when it was not a TAXII error message.
        body_excerpt: String,
    },

    /// The response was not JSON (e.g. an HTML page from a proxy).
    #[error("{url}: unexpected media type {content_type:?} (expected application/taxii+json)")]
    UnexpectedMediaType { url: String, content_type: String },

    /// The response body is not the JSON resource the endpoint promises.
    #[error("{url}: invalid {resource} at line {line} column {column}: {reason}")]
    Decode {
        url: String,
        resource: &'static str,
        line: usize,
        column: usize,
        reason: String,
    },

    /// The response body exceeded the client's size limit.
    #[error("{url}: response body exceeds the limit of {limit} bytes")]
    ResponseTooLarge { url: String, limit: usize },

    /// A response header has a value that cannot be understood.
    #[error("{url}: header {name}: {value:?} is not valid: {reason}")]
    InvalidHeader {
        url: String,
        name: &'static str,
        value: String,
        reason: String,
    },

    /// The discovery resource lists no API root to use.
    #[error("{url}: the discovery resource lists no API root")]
    NoApiRoot { url: String },

    /// The server says more objects remain but gives no way to ask for them, or the
    /// paging position does not advance.
    #[error("{url}: cannot page further: {reason}")]
    Paging { url: String, reason: String },

    /// A status resource was still pending when the wait timed out.
    #[error("status {status_id} still pending after {waited_ms} ms ({pending} object(s) pending)")]
    StatusTimeout {
        status_id: String,
        waited_ms: u128,
        pending: u64,
    },

    /// An argument given to the client is unusable (e.g. an empty envelope).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

fn describe_error(error: Option<&ErrorBody>, excerpt: &str) -> String {
    match error {
        Some(e) => {
            let mut s = format!(" {}", e.title);
            if let Some(d) = &e.description {
                s.push_str(": ");
                s.push_str(d);
            }
            if let Some(c) = &e.error_code {
                s.push_str(&format!(" (error_code {c})"));
            }
            s
        }
        None if excerpt.is_empty() => String::new(),
        None => format!(": {excerpt}"),
    }
}

impl ClientError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ClientError::InvalidUrl { .. } => "taxii.client.invalid_url",
            ClientError::Build(_) => "taxii.client.build",
            ClientError::Transport { .. } => "taxii.client.transport",
            ClientError::Server { .. } => "taxii.client.server_error",
            ClientError::UnexpectedMediaType { .. } => "taxii.client.media_type",
            ClientError::Decode { .. } => "taxii.client.decode",
            ClientError::ResponseTooLarge { .. } => "taxii.client.response_too_large",
            ClientError::InvalidHeader { .. } => "taxii.client.invalid_header",
            ClientError::NoApiRoot { .. } => "taxii.client.no_api_root",
            ClientError::Paging { .. } => "taxii.client.paging",
            ClientError::StatusTimeout { .. } => "taxii.client.status_timeout",
            ClientError::InvalidArgument(_) => "taxii.client.invalid_argument",
        }
    }

    /// The HTTP status when the server answered with an error.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            ClientError::Server { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The TAXII error message the server sent, if any.
    pub fn taxii_error(&self) -> Option<&ErrorBody> {
        match self {
            ClientError::Server { error: Some(e), .. } => Some(e),
            _ => None,
        }
    }
}
