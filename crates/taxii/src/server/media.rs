//! TAXII 2.1 media types and content negotiation (§1.6.8).

use axum::http::{header, HeaderMap};

use super::error::ServerError;

/// Media type of every TAXII response body.
pub const TAXII_MEDIA_TYPE: &str = "application/taxii+json;version=2.1";
/// Media type of STIX 2.1 content (as listed in manifests and collections).
pub const STIX_MEDIA_TYPE: &str = "application/stix+json;version=2.1";

/// One parsed media range: `type/subtype` in lower case, its `version` parameter and
/// its quality.
#[derive(Debug, PartialEq)]
struct MediaRange<'a> {
    essence: String,
    version: Option<&'a str>,
    q_zero: bool,
}

fn parse_range(item: &str) -> MediaRange<'_> {
    let mut parts = item.split(';');
    let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let mut version = None;
    let mut q_zero = false;
    for p in parts {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim().trim_matches('"'));
        if k.eq_ignore_ascii_case("version") {
            version = Some(v);
        } else if k.eq_ignore_ascii_case("q") {
            q_zero = v.parse::<f32>().map(|q| q <= 0.0).unwrap_or(false);
        }
    }
    MediaRange {
        essence,
        version,
        q_zero,
    }
}

/// Checks that the request's `Accept` header admits `application/taxii+json;version=2.1`.
/// A missing header admits anything; `*/*` and `application/*` are accepted.
pub fn check_accept(headers: &HeaderMap) -> Result<(), ServerError> {
    let Some(value) = headers.get(header::ACCEPT) else {
        return Ok(());
    };
    let text = value
        .to_str()
        .map_err(|_| ServerError::NotAcceptable("the Accept header is not visible ASCII".into()))?;
    if text.trim().is_empty() {
        return Ok(());
    }
    let ok = text.split(',').map(parse_range).any(|r| {
        !r.q_zero
            && match r.essence.as_str() {
                "*/*" | "application/*" => true,
                "application/taxii+json" => matches!(r.version, None | Some("2.1")),
                _ => false,
            }
    });
    if ok {
        Ok(())
    } else {
        Err(ServerError::NotAcceptable(format!(
            "Accept {text:?} does not admit {TAXII_MEDIA_TYPE}"
        )))
    }
}

/// Checks that a POST body is declared as `application/taxii+json;version=2.1`
/// (the `version` parameter may be omitted).
pub fn check_content_type(headers: &HeaderMap) -> Result<(), ServerError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(ServerError::UnsupportedMediaType(format!(
            "no Content-Type; expected {TAXII_MEDIA_TYPE}"
        )));
    };
    let text = value.to_str().unwrap_or_default();
    let r = parse_range(text);
    if r.essence == "application/taxii+json" && matches!(r.version, None | Some("2.1")) {
        Ok(())
    } else {
        Err(ServerError::UnsupportedMediaType(format!(
            "Content-Type {text:?}; expected {TAXII_MEDIA_TYPE}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(name: header::HeaderName, v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_static(v));
        h
    }

    #[test]
    fn accept_negotiation() {
        assert!(check_accept(&HeaderMap::new()).is_ok());
        for ok in [
            "application/taxii+json;version=2.1",
            "application/taxii+json",
            "*/*",
            "text/html, application/*;q=0.5",
            "application/TAXII+json; version=\"2.1\"",
        ] {
            assert!(check_accept(&with(header::ACCEPT, ok)).is_ok(), "{ok}");
        }
        for bad in [
            "application/taxii+json;version=2.0",
            "application/json",
            "text/html",
            "application/taxii+json;version=2.1;q=0",
        ] {
            let e = check_accept(&with(header::ACCEPT, bad)).unwrap_err();
            assert_eq!(e.status(), 406, "{bad}");
        }
    }

    #[test]
    fn content_type_check() {
        assert!(check_content_type(&with(header::CONTENT_TYPE, TAXII_MEDIA_TYPE)).is_ok());
        assert!(check_content_type(&with(header::CONTENT_TYPE, "application/taxii+json")).is_ok());
        for bad in [
            "application/json",
            "application/stix+json;version=2.1",
            "application/taxii+json;version=2.0",
        ] {
            assert_eq!(
                check_content_type(&with(header::CONTENT_TYPE, bad))
                    .unwrap_err()
                    .status(),
                415
            );
        }
        assert_eq!(
            check_content_type(&HeaderMap::new()).unwrap_err().status(),
            415
        );
    }
}
