//! URL filter parameters (TAXII 2.1 §3.4 / §3.5), parsed per endpoint.
//!
//! Rules (documented in the README):
//! - each endpoint reads exactly the parameters the spec lists for it; others
//!   (including unknown `match[...]` fields) are ignored, as the spec lets servers do;
//! - comma-separated values inside one `match[...]` are ORed, different fields ANDed;
//!   a repeated `match[field]` adds its values to the same OR-list;
//! - `added_after`, `limit` and `next` may appear once; a repeat is a 400, as is a
//!   malformed value (`added_after` not a STIX timestamp, `limit` not a positive integer,
//!   `match[version]` neither first/last/all nor a timestamp).

use stix::Timestamp;
use store::VersionFilter;

use super::error::ServerError;

/// Which endpoint the parameters are for; decides which parameters are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// GET objects (§5.3).
    Objects,
    /// GET manifest (§5.2).
    Manifest,
    /// GET one object (§5.5).
    Object,
    /// DELETE one object (§5.6).
    Delete,
    /// GET an object's versions (§5.7).
    Versions,
}

impl Endpoint {
    fn tag(self) -> &'static str {
        match self {
            Endpoint::Objects => "objects",
            Endpoint::Manifest => "manifest",
            Endpoint::Object => "object",
            Endpoint::Delete => "delete",
            Endpoint::Versions => "versions",
        }
    }
    fn paged(self) -> bool {
        !matches!(self, Endpoint::Delete)
    }
    fn has_id_type(self) -> bool {
        matches!(self, Endpoint::Objects | Endpoint::Manifest)
    }
    fn has_version(self) -> bool {
        !matches!(self, Endpoint::Versions)
    }
}

/// Parsed filters of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// Unix microseconds.
    pub added_after: Option<i64>,
    pub limit: Option<usize>,
    pub next: Option<String>,
    pub ids: Vec<String>,
    pub types: Vec<String>,
    pub versions: VersionFilter,
    pub spec_versions: Vec<String>,
}

impl Filters {
    /// A canonical text of everything that selects rows (not `limit` nor `next`),
    /// so a `next` token can be bound to the query it continues.
    pub fn normalized(&self, endpoint: Endpoint) -> String {
        let mut ids = self.ids.clone();
        ids.sort();
        let mut types = self.types.clone();
        types.sort();
        let mut exact = self.versions.exact.clone();
        exact.sort();
        let mut specs = self.spec_versions.clone();
        specs.sort();
        format!(
            "{}|aa={:?}|id={}|type={}|v={},{},{},{}|sv={}",
            endpoint.tag(),
            self.added_after,
            ids.join(","),
            types.join(","),
            self.versions.all,
            self.versions.first,
            self.versions.last,
            exact.join(","),
            specs.join(",")
        )
    }
}

fn split_values(v: &str) -> impl Iterator<Item = String> + '_ {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Parses the query string for `endpoint`.
pub fn parse(query: Option<&str>, endpoint: Endpoint) -> Result<Filters, ServerError> {
    let mut f = Filters::default();
    let mut seen_added_after = false;
    let Some(query) = query else { return Ok(f) };
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "added_after" if endpoint.paged() => {
                if seen_added_after {
                    return Err(ServerError::bad_param(
                        "added_after",
                        "given more than once",
                    ));
                }
                seen_added_after = true;
                let ts = Timestamp::parse(&value)
                    .map_err(|e| ServerError::bad_param("added_after", e.to_string()))?;
                f.added_after = Some(ts.unix_micros());
            }
            "limit" if endpoint.paged() => {
                if f.limit.is_some() {
                    return Err(ServerError::bad_param("limit", "given more than once"));
                }
                let n: usize = value.parse().map_err(|_| {
                    ServerError::bad_param("limit", format!("{value:?} is not a positive integer"))
                })?;
                if n == 0 {
                    return Err(ServerError::bad_param("limit", "must be at least 1"));
                }
                f.limit = Some(n);
            }
            "next" if endpoint.paged() => {
                if f.next.is_some() {
                    return Err(ServerError::bad_param("next", "given more than once"));
                }
                f.next = Some(value.into_owned());
            }
            "match[id]" if endpoint.has_id_type() => f.ids.extend(split_values(&value)),
            "match[type]" if endpoint.has_id_type() => f.types.extend(split_values(&value)),
            "match[spec_version]" => f.spec_versions.extend(split_values(&value)),
            "match[version]" if endpoint.has_version() => {
                for v in split_values(&value) {
                    match v.as_str() {
                        "all" => f.versions.all = true,
                        "first" => f.versions.first = true,
                        "last" => f.versions.last = true,
                        other => {
                            let ts = Timestamp::parse(other).map_err(|e| {
                                ServerError::bad_param(
                                    "match[version]",
                                    format!("expected first, last, all or a timestamp: {e}"),
                                )
                            })?;
                            f.versions.exact.push(ts.sort_key());
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_filter() {
        let f = parse(
            Some("added_after=2020-01-01T00:00:00.000001Z&limit=5&match[id]=a,b&match[type]=indicator&match[type]=malware&match[version]=first,2021-01-01T00:00:00Z&match[spec_version]=2.1&match[unknown]=x&other=1"),
            Endpoint::Objects,
        )
        .unwrap();
        assert_eq!(f.added_after, Some(1_577_836_800_000_001));
        assert_eq!(f.limit, Some(5));
        assert_eq!(f.ids, ["a", "b"]);
        assert_eq!(f.types, ["indicator", "malware"]);
        assert!(f.versions.first && !f.versions.last);
        assert_eq!(f.versions.exact, ["2021-01-01T00:00:00.000000000Z"]);
        assert_eq!(f.spec_versions, ["2.1"]);
    }

    #[test]
    fn percent_encoded_brackets() {
        let f = parse(
            Some("match%5Btype%5D=indicator%2Cmalware"),
            Endpoint::Manifest,
        )
        .unwrap();
        assert_eq!(f.types, ["indicator", "malware"]);
    }

    #[test]
    fn malformed_parameters_are_400() {
        for q in [
            "added_after=garbage",
            "limit=0",
            "limit=-1",
            "limit=ten",
            "added_after=2020-01-01T00:00:00Z&added_after=2020-01-01T00:00:00Z",
            "limit=1&limit=2",
            "next=a&next=b",
            "match[version]=newest",
        ] {
            let e = parse(Some(q), Endpoint::Objects).unwrap_err();
            assert_eq!(e.status(), 400, "{q}");
            assert_eq!(e.code(), "taxii.bad_parameter");
        }
    }

    #[test]
    fn endpoint_specific_parameter_sets() {
        // Versions ignores match[version], match[id], match[type].
        let f = parse(
            Some("match[version]=garbage&match[id]=x&match[type]=y"),
            Endpoint::Versions,
        )
        .unwrap();
        assert_eq!(f, Filters::default());
        // Delete ignores paging parameters.
        let f = parse(
            Some("limit=0&added_after=x&match[version]=all"),
            Endpoint::Delete,
        )
        .unwrap();
        assert!(f.versions.all && f.limit.is_none());
        // One object ignores match[id] / match[type].
        let f = parse(Some("match[id]=x&match[type]=y"), Endpoint::Object).unwrap();
        assert!(f.ids.is_empty() && f.types.is_empty());
    }

    #[test]
    fn normalized_ignores_order_limit_and_next() {
        let a = parse(Some("match[type]=a,b&limit=3"), Endpoint::Objects).unwrap();
        let b = parse(Some("match[type]=b,a&next=zzz"), Endpoint::Objects).unwrap();
        assert_eq!(
            a.normalized(Endpoint::Objects),
            b.normalized(Endpoint::Objects)
        );
        assert_ne!(
            a.normalized(Endpoint::Objects),
            a.normalized(Endpoint::Manifest)
        );
    }
}
