//! URL parameters of the TAXII 2.1 object endpoints (TAXII 2.1 §3.4).

use stix::Timestamp;

/// A `match[version]` selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionSelector {
    First,
    Last,
    All,
    /// One exact version (the object's `modified`, or `created`).
    At(Timestamp),
}

impl VersionSelector {
    fn as_param(&self) -> String {
        match self {
            VersionSelector::First => "first".to_owned(),
            VersionSelector::Last => "last".to_owned(),
            VersionSelector::All => "all".to_owned(),
            VersionSelector::At(t) => t.to_string(),
        }
    }
}

/// Filters and paging for `GET .../objects/`, `.../manifest/`, `.../objects/{id}/`
/// and `.../versions/`. Values inside one list are ORed (sent comma-separated);
/// different filters are ANDed by the server. Endpoints ignore the filters the
/// spec does not allow for them (the client does not send them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectQuery {
    /// Only objects added strictly after this instant.
    pub added_after: Option<Timestamp>,
    /// Page size requested (the server may return fewer).
    pub limit: Option<u32>,
    /// The opaque paging token of a previous page.
    pub next: Option<String>,
    pub ids: Vec<String>,
    pub types: Vec<String>,
    pub versions: Vec<VersionSelector>,
    pub spec_versions: Vec<String>,
}

/// Which filters an endpoint accepts (TAXII 2.1 §5.3, §5.4, §5.6, §5.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// Get Objects and Get Object Manifests: every filter.
    Objects,
    /// Get An Object: added_after, limit, next, version, spec_version.
    Object,
    /// Get Object Versions: added_after, limit, next, spec_version.
    Versions,
    /// Delete An Object: version, spec_version.
    Delete,
}

impl ObjectQuery {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn added_after(mut self, t: Timestamp) -> Self {
        self.added_after = Some(t);
        self
    }
    pub fn limit(mut self, n: u32) -> Self {
        self.limit = Some(n);
        self
    }
    pub fn next(mut self, token: impl Into<String>) -> Self {
        self.next = Some(token.into());
        self
    }
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.ids.push(id.into());
        self
    }
    pub fn type_name(mut self, t: impl Into<String>) -> Self {
        self.types.push(t.into());
        self
    }
    pub fn version(mut self, v: VersionSelector) -> Self {
        self.versions.push(v);
        self
    }
    pub fn spec_version(mut self, v: impl Into<String>) -> Self {
        self.spec_versions.push(v.into());
        self
    }

    /// The URL query pairs for `endpoint`, in a stable order.
    pub(crate) fn pairs(&self, endpoint: Endpoint) -> Vec<(&'static str, String)> {
        let paged = endpoint != Endpoint::Delete;
        let mut out = Vec::new();
        if paged {
            if let Some(t) = &self.added_after {
                out.push(("added_after", t.to_string()));
            }
            if let Some(n) = self.limit {
                out.push(("limit", n.to_string()));
            }
            if let Some(n) = &self.next {
                out.push(("next", n.clone()));
            }
        }
        if endpoint == Endpoint::Objects {
            if !self.ids.is_empty() {
                out.push(("match[id]", self.ids.join(",")));
            }
            if !self.types.is_empty() {
                out.push(("match[type]", self.types.join(",")));
            }
        }
        if endpoint != Endpoint::Versions && !self.versions.is_empty() {
            let v: Vec<String> = self
                .versions
                .iter()
                .map(VersionSelector::as_param)
                .collect();
            out.push(("match[version]", v.join(",")));
        }
        if !self.spec_versions.is_empty() {
            out.push(("match[spec_version]", self.spec_versions.join(",")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn objects_endpoint_sends_every_filter_comma_joined() {
        let q = ObjectQuery::new()
            .added_after(ts("2024-01-02T03:04:05.123Z"))
            .limit(10)
            .next("abc")
            .id("indicator--1")
            .id("malware--2")
            .type_name("indicator")
            .version(VersionSelector::First)
            .version(VersionSelector::At(ts("2024-01-01T00:00:00Z")))
            .spec_version("2.1");
        let pairs = q.pairs(Endpoint::Objects);
        assert_eq!(
            pairs,
            vec![
                ("added_after", "2024-01-02T03:04:05.123Z".to_owned()),
                ("limit", "10".to_owned()),
                ("next", "abc".to_owned()),
                ("match[id]", "indicator--1,malware--2".to_owned()),
                ("match[type]", "indicator".to_owned()),
                ("match[version]", "first,2024-01-01T00:00:00Z".to_owned()),
                ("match[spec_version]", "2.1".to_owned()),
            ]
        );
    }

    #[test]
    fn per_endpoint_filter_sets_follow_the_spec() {
        let q = ObjectQuery::new()
            .limit(5)
            .id("x--1")
            .type_name("x")
            .version(VersionSelector::All)
            .spec_version("2.1");
        let keys = |e| q.pairs(e).into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        assert_eq!(
            keys(Endpoint::Object),
            ["limit", "match[version]", "match[spec_version]"]
        );
        assert_eq!(keys(Endpoint::Versions), ["limit", "match[spec_version]"]);
        assert_eq!(
            keys(Endpoint::Delete),
            ["match[version]", "match[spec_version]"]
        );
    }
}
