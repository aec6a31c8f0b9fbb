//! Data-driven definitions of every STIX 2.1 type: kind, properties with their
//! value kinds, reference targets, vocabularies and predefined SCO extensions.
//!
//! The validator ([`crate::validate`]) walks these tables; nothing about a type's
//! shape is hard-coded in the validator itself. Cross-property rules (one-of,
//! ordering of timestamps, mutual exclusion) live next to the validator in
//! `validate::rules`, keyed by type name.
//!
//! *Invariant*: every property name in a table is a valid STIX property name and
//! every table is sorted the way the specification lists the properties.

use crate::vocab;

/// What kind of STIX object a type is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// STIX Domain Object.
    Sdo,
    /// STIX Relationship Object (relationship, sighting).
    Sro,
    /// STIX Cyber-observable Object.
    Sco,
    /// STIX Meta Object (marking-definition, language-content, extension-definition).
    Meta,
    /// The bundle wrapper.
    Bundle,
}

/// Which object types a reference property may point to.
#[derive(Debug, Clone, Copy)]
pub enum Targets {
    /// Exactly these types.
    Types(&'static [&'static str]),
    /// Any SDO (including custom types not in the registry).
    AnySdo,
    /// Any SDO or SCO (including custom types).
    SdoOrSco,
    /// Any SCO or SRO (observed-data `object_refs`).
    ScoOrSro,
    /// Any SCO (including custom types).
    AnySco,
    /// Any identifier except a bundle.
    Any,
}

/// A string format with a MUST-level syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// IPv4 address, optionally in CIDR notation.
    Ipv4,
    /// IPv6 address, optionally in CIDR notation.
    Ipv6,
    /// Colon-delimited, lowercase MAC-48 address with leading zeros.
    Mac,
    /// An absolute URL (RFC 3986 scheme followed by ':').
    Url,
    /// Property name rules (a-z, 0-9, `_`; 3..=250 chars).
    PropertyName,
    /// Relationship type (a-z, 0-9, `-`).
    RelationshipType,
}

/// The kind of a property value.
#[derive(Debug)]
pub enum Val {
    /// Any string.
    Str,
    /// A string in a MUST-level format.
    Fmt(Format),
    /// A STIX timestamp.
    Timestamp,
    /// A STIX timestamp with at least millisecond precision (`created`, `modified`).
    TimestampMillis,
    /// An integer within the inclusive range.
    Int { min: i64, max: i64 },
    /// A number within the inclusive range.
    Num { min: f64, max: f64 },
    /// `true` or `false`.
    Bool,
    /// An identifier pointing at one of the target types.
    Ref(Targets),
    /// A non-empty list of values.
    List(&'static Val),
    /// Open vocabulary: any string is allowed; the listed values are suggested.
    Open(&'static [&'static str]),
    /// Closed vocabulary or enumeration: the value MUST be one of these.
    Enum(&'static [&'static str]),
    /// `hashes` dictionary (algorithm -> value).
    Hashes,
    /// A non-empty dictionary with any values.
    Dict,
    /// Base64 binary.
    Binary,
    /// Hex string (pairs of hex digits).
    Hex,
    /// An embedded object with defined properties (other properties are allowed).
    Struct(&'static [Prop]),
    /// An external reference.
    ExternalReference,
    /// A kill chain phase.
    KillChainPhase,
    /// A granular marking.
    GranularMarking,
    /// Any JSON value.
    Any,
}

/// One property of a type or an embedded structure.
#[derive(Debug)]
pub struct Prop {
    pub name: &'static str,
    pub val: Val,
    pub required: bool,
}

const fn req(name: &'static str, val: Val) -> Prop {
    Prop {
        name,
        val,
        required: true,
    }
}
const fn opt(name: &'static str, val: Val) -> Prop {
    Prop {
        name,
        val,
        required: false,
    }
}

/// A predefined extension of an SCO (`extensions.<name>`).
#[derive(Debug)]
pub struct ExtensionDef {
    pub name: &'static str,
    pub props: &'static [Prop],
    /// At least one property MUST be present (e.g. `tcp-ext`).
    pub at_least_one: bool,
}

/// The definition of one STIX type.
#[derive(Debug)]
pub struct TypeDef {
    pub name: &'static str,
    pub kind: Kind,
    /// Properties specific to this type (the common properties of its kind are in
    /// [`common_props`]).
    pub props: &'static [Prop],
    /// Predefined extensions (SCOs only).
    pub extensions: &'static [ExtensionDef],
    /// Property names used to derive a deterministic id (SCOs only), in spec order.
    pub id_contributing: &'static [&'static str],
}

impl TypeDef {
    /// The definition of a property of this type or of its kind's common properties.
    pub fn prop(&self, name: &str) -> Option<&'static Prop> {
        self.props
            .iter()
            .chain(common_props(self.kind).iter())
            .find(|p| p.name == name)
    }
    /// A predefined extension of this type by name.
    pub fn extension(&self, name: &str) -> Option<&'static ExtensionDef> {
        self.extensions.iter().find(|e| e.name == name)
    }
}

/// STIX 2.1 §2.7: unless specified otherwise, integers MUST fit a signed 54-bit
/// value, [-(2^53)+1, (2^53)-1], so that every JSON parser reads them exactly.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;
const INT_ANY: Val = Val::Int {
    min: -MAX_SAFE_INTEGER,
    max: MAX_SAFE_INTEGER,
};
const INT_NONNEG: Val = Val::Int {
    min: 0,
    max: MAX_SAFE_INTEGER,
};
const MARKING_REF: Val = Val::Ref(Targets::Types(&["marking-definition"]));

/// Common properties of SDOs and SROs (STIX 2.1 §3.2).
pub static SDO_COMMON: &[Prop] = &[
    req("type", Val::Str),
    req("spec_version", Val::Enum(&["2.1"])),
    req("id", Val::Str),
    opt("created_by_ref", Val::Ref(Targets::Types(&["identity"]))),
    req("created", Val::TimestampMillis),
    req("modified", Val::TimestampMillis),
    opt("revoked", Val::Bool),
    opt("labels", Val::List(&Val::Str)),
    opt("confidence", Val::Int { min: 0, max: 100 }),
    opt("lang", Val::Str),
    opt("external_references", Val::List(&Val::ExternalReference)),
    opt("object_marking_refs", Val::List(&MARKING_REF)),
    opt("granular_markings", Val::List(&Val::GranularMarking)),
    opt("extensions", Val::Any),
];

/// Common properties of SCOs (STIX 2.1 §6.1).
pub static SCO_COMMON: &[Prop] = &[
    req("type", Val::Str),
    opt("spec_version", Val::Enum(&["2.1"])),
    req("id", Val::Str),
    opt("object_marking_refs", Val::List(&MARKING_REF)),
    opt("granular_markings", Val::List(&Val::GranularMarking)),
    opt("defanged", Val::Bool),
    opt("extensions", Val::Any),
];

/// Common properties of the bundle.
pub static BUNDLE_COMMON: &[Prop] = &[req("type", Val::Str), req("id", Val::Str)];

/// Common properties of a meta object: none beyond what each type lists.
pub static META_COMMON: &[Prop] = &[];

/// The common properties of a kind of object.
pub fn common_props(kind: Kind) -> &'static [Prop] {
    match kind {
        Kind::Sdo | Kind::Sro => SDO_COMMON,
        Kind::Sco => SCO_COMMON,
        Kind::Meta => META_COMMON,
        Kind::Bundle => BUNDLE_COMMON,
    }
}

/// External reference (§2.5).
pub static EXTERNAL_REFERENCE: &[Prop] = &[
    req("source_name", Val::Str),
    opt("description", Val::Str),
    opt("url", Val::Fmt(Format::Url)),
    opt("hashes", Val::Hashes),
    opt("external_id", Val::Str),
];

/// Kill chain phase (§2.8).
pub static KILL_CHAIN_PHASE: &[Prop] = &[
    req("kill_chain_name", Val::Str),
    req("phase_name", Val::Str),
];

/// Granular marking (§7.2.3).
pub static GRANULAR_MARKING: &[Prop] = &[
    opt("lang", Val::Str),
    opt("marking_ref", MARKING_REF),
    req("selectors", Val::List(&Val::Str)),
];

macro_rules! sdo {
    ($name:literal, [$($p:expr),* $(,)?]) => {
        TypeDef { name: $name, kind: Kind::Sdo, props: &[$($p),*], extensions: &[], id_contributing: &[] }
    };
}

const KCP: Val = Val::List(&Val::KillChainPhase);
const STRS: Val = Val::List(&Val::Str);
const ANY_REFS: Val = Val::List(&Val::Ref(Targets::Any));

/// STIX Domain Objects (§4).
pub static SDOS: &[TypeDef] = &[
    sdo!(
        "attack-pattern",
        [
            req("name", Val::Str),
            opt("description", Val::Str),
            opt("aliases", STRS),
            opt("kill_chain_phases", KCP),
        ]
    ),
    sdo!(
        "campaign",
        [
            req("name", Val::Str),
            opt("description", Val::Str),
            opt("aliases", STRS),
            opt("first_seen", Val::Timestamp),
            opt("last_seen", Val::Timestamp),
            opt("objective", Val::Str),
        ]
    ),
    sdo!(
        "course-of-action",
        [
            req("name", Val::Str),
            opt("description", Val::Str),
            // Reserved in 2.1 (§4.3): `action` MUST NOT be used; handled as a reserved name.
        ]
    ),
    sdo!(
        "grouping",
        [
            opt("name", Val::Str),
            opt("description", Val::Str),
            req("context", Val::Open(vocab::GROUPING_CONTEXT)),
            req("object_refs", ANY_REFS),
        ]
    ),
    sdo!(
        "identity",
        [
            req("name", Val::Str),
            opt("description", Val::Str),
            opt("roles", STRS),
            opt("identity_class", Val::Open(vocab::IDENTITY_CLASS)),
            opt("sectors", Val::List(&Val::Open(vocab::INDUSTRY_SECTOR))),
            opt("contact_information", Val::Str),
        ]
    ),
    sdo!(
        "incident",
        [req("name", Val::Str), opt("description", Val::Str)]
    ),
    sdo!(
        "indicator",
        [
            opt("name", Val::Str),
            opt("description", Val::Str),
            opt(
                "indicator_types",
                Val::List(&Val::Open(vocab::INDICATOR_TYPE))
            ),
            req("pattern", Val::Str),
            req("pattern_type", Val::Open(vocab::PATTERN_TYPE)),
            opt("pattern_version", Val::Str),
            req("valid_from", Val::Timestamp),
            opt("valid_until", Val::Timestamp),
            opt("kill_chain_phases", KCP),
        ]
    ),
    sdo!(
        "infrastructure",
        [
            req("name", Val::Str),
            opt("description", Val::Str),
            opt(
                "infrastructure_types",
                Val::List(&Val::Open(vocab::INFRASTRUCTURE_TYPE))
            ),
            opt("aliases", STRS),
            opt("kill_chain_phases", KCP),
            opt("first_seen", Val::Timestamp),
            opt("last_seen", Val::Timestamp),
        ]
    ),
    sdo!(
        "intrusion-set",
        [
            req("name", Val::Str),
            opt("description", Val::Str),
            opt("aliases", STRS),
            opt("first_seen", Val::Timestamp),
            opt("last_seen", Val::Timestamp),
            opt("goals", STRS),
            opt("resource_level", Val::Open(vocab::ATTACK_RESOURCE_LEVEL)),
            opt("primary_motivation", Val::Open(vocab::ATTACK_MOTIVATION)),
            opt(
                "secondary_motivations",
                Val::List(&Val::Open(vocab::ATTACK_MOTIVATION))
            ),
        ]
    ),
    sdo!(
        "location",
        [
            opt("name", Val::Str),
            opt("description", Val::Str),
            opt(
                "latitude",
                Val::Num {
                    min: -90.0,
                    max: 90.0
                }
            ),
            opt(
                "longitude",
                Val::Num {
                    min: -180.0,
                    max: 180.0
                }
            ),
            opt(
                "precision",
                Val::Num {
                    min: 0.0,
                    max: f64::MAX
                }
            ),
            opt("region", Val::Open(vocab::REGION)),
            opt("country", Val::Str),
            opt("administrative_area", Val::Str),
            opt("city", Val::Str),
            opt("street_address", Val::Str),
            opt("postal_code", Val::Str),
        ]
    ),
    sdo!(
        "malware",
        [
            opt("name", Val::Str),
            opt("description", Val::Str),
            opt("malware_types", Val::List(&Val::Open(vocab::MALWARE_TYPE))),
            req("is_family", Val::Bool),
            opt("aliases", STRS),
            opt("kill_chain_phases", KCP),
            opt("first_seen", Val::Timestamp),
            opt("last_seen", Val::Timestamp),
            opt(
                "operating_system_refs",
                Val::List(&Val::Ref(Targets::Types(&["software"])))
            ),
            opt(
                "architecture_execution_envs",
                Val::List(&Val::Open(vocab::PROCESSOR_ARCHITECTURE))
            ),
            opt(
                "implementation_languages",
                Val::List(&Val::Open(vocab::IMPLEMENTATION_LANGUAGE))
            ),
            opt(
                "capabilities",
                Val::List(&Val::Open(vocab::MALWARE_CAPABILITIES))
            ),
            opt(
                "sample_refs",
                Val::List(&Val::Ref(Targets::Types(&["file", "artifact"])))
            ),
        ]
    ),
    sdo!(
        "malware-analysis",
        [
            req("product", Val::Str),
            opt("version", Val::Str),
            opt("host_vm_ref", Val::Ref(Targets::Types(&["software"]))),
            opt(
                "operating_system_ref",
                Val::Ref(Targets::Types(&["software"]))
            ),
            opt(
                "installed_software_refs",
                Val::List(&Val::Ref(Targets::Types(&["software"])))
            ),
            opt("configuration_version", Val::Str),
            opt("modules", STRS),
            opt("analysis_engine_version", Val::Str),
            opt("analysis_definition_version", Val::Str),
            opt("submitted", Val::Timestamp),
            opt("analysis_started", Val::Timestamp),
            opt("analysis_ended", Val::Timestamp),
            opt("result_name", Val::Str),
            opt("result", Val::Open(vocab::MALWARE_RESULT)),
            opt("analysis_sco_refs", Val::List(&Val::Ref(Targets::AnySco))),
            opt(
                "sample_ref",
                Val::Ref(Targets::Types(&["file", "network-traffic", "artifact"]))
            ),
        ]
    ),
    sdo!(
        "note",
        [
            opt("abstract", Val::Str),
            req("content", Val::Str),
            opt("authors", STRS),
            req("object_refs", ANY_REFS),
        ]
    ),
    sdo!(
        "observed-data",
        [
            req("first_observed", Val::Timestamp),
            req("last_observed", Val::Timestamp),
            req(
                "number_observed",
                Val::Int {
                    min: 1,
                    max: 999_999_999
                }
            ),
            opt("objects", Val::Dict),
            opt("object_refs", Val::List(&Val::Ref(Targets::ScoOrSro))),
        ]
    ),
    sdo!(
        "opinion",
        [
            opt("explanation", Val::Str),
            opt("authors", STRS),
            req("opinion", Val::Enum(vocab::OPINION)),
            req("object_refs", ANY_REFS),
        ]
    ),
    sdo!(
        "report",
        [
            req("name", Val::Str),
            opt("description", Val::Str),
            opt("report_types", Val::List(&Val::Open(vocab::REPORT_TYPE))),
            req("published", Val::Timestamp),
            req("object_refs", ANY_REFS),
        ]
    ),
    sdo!(
        "threat-actor",
        [
            req("name", Val::Str),
            opt("description", Val::Str),
            opt(
                "threat_actor_types",
                Val::List(&Val::Open(vocab::THREAT_ACTOR_TYPE))
            ),
            opt("aliases", STRS),
            opt("first_seen", Val::Timestamp),
            opt("last_seen", Val::Timestamp),
            opt("roles", Val::List(&Val::Open(vocab::THREAT_ACTOR_ROLE))),
            opt("goals", STRS),
            opt(
                "sophistication",
                Val::Open(vocab::THREAT_ACTOR_SOPHISTICATION)
            ),
            opt("resource_level", Val::Open(vocab::ATTACK_RESOURCE_LEVEL)),
            opt("primary_motivation", Val::Open(vocab::ATTACK_MOTIVATION)),
            opt(
                "secondary_motivations",
                Val::List(&Val::Open(vocab::ATTACK_MOTIVATION))
            ),
            opt(
                "personal_motivations",
                Val::List(&Val::Open(vocab::ATTACK_MOTIVATION))
            ),
        ]
    ),
    sdo!(
        "tool",
        [
            req("name", Val::Str),
            opt("description", Val::Str),
            opt("tool_types", Val::List(&Val::Open(vocab::TOOL_TYPE))),
            opt("aliases", STRS),
            opt("kill_chain_phases", KCP),
            opt("tool_version", Val::Str),
        ]
    ),
    sdo!(
        "vulnerability",
        [req("name", Val::Str), opt("description", Val::Str)]
    ),
];

/// STIX Relationship Objects (§5).
pub static SROS: &[TypeDef] = &[
    TypeDef {
        name: "relationship",
        kind: Kind::Sro,
        props: &[
            req("relationship_type", Val::Fmt(Format::RelationshipType)),
            opt("description", Val::Str),
            req("source_ref", Val::Ref(Targets::SdoOrSco)),
            req("target_ref", Val::Ref(Targets::SdoOrSco)),
            opt("start_time", Val::Timestamp),
            opt("stop_time", Val::Timestamp),
        ],
        extensions: &[],
        id_contributing: &[],
    },
    TypeDef {
        name: "sighting",
        kind: Kind::Sro,
        props: &[
            opt("description", Val::Str),
            opt("first_seen", Val::Timestamp),
            opt("last_seen", Val::Timestamp),
            opt(
                "count",
                Val::Int {
                    min: 0,
                    max: 999_999_999,
                },
            ),
            req("sighting_of_ref", Val::Ref(Targets::AnySdo)),
            opt(
                "observed_data_refs",
                Val::List(&Val::Ref(Targets::Types(&["observed-data"]))),
            ),
            opt(
                "where_sighted_refs",
                Val::List(&Val::Ref(Targets::Types(&["identity", "location"]))),
            ),
            opt("summary", Val::Bool),
        ],
        extensions: &[],
        id_contributing: &[],
    },
];

const ADDR_TARGETS: Targets =
    Targets::Types(&["ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"]);
const FILE_OR_DIR: Targets = Targets::Types(&["file", "directory"]);

static ALTERNATE_DATA_STREAM: &[Prop] = &[
    req("name", Val::Str),
    opt("hashes", Val::Hashes),
    opt("size", INT_NONNEG),
];

static PE_OPTIONAL_HEADER: &[Prop] = &[
    opt("magic_hex", Val::Hex),
    opt("major_linker_version", INT_ANY),
    opt("minor_linker_version", INT_ANY),
    opt("size_of_code", INT_NONNEG),
    opt("size_of_initialized_data", INT_NONNEG),
    opt("size_of_uninitialized_data", INT_NONNEG),
    opt("address_of_entry_point", INT_ANY),
    opt("base_of_code", INT_ANY),
    opt("base_of_data", INT_ANY),
    opt("image_base", INT_ANY),
    opt("section_alignment", INT_ANY),
    opt("file_alignment", INT_ANY),
    opt("major_os_version", INT_ANY),
    opt("minor_os_version", INT_ANY),
    opt("major_image_version", INT_ANY),
    opt("minor_image_version", INT_ANY),
    opt("major_subsystem_version", INT_ANY),
    opt("minor_subsystem_version", INT_ANY),
    opt("win32_version_value_hex", Val::Hex),
    opt("size_of_image", INT_NONNEG),
    opt("size_of_headers", INT_NONNEG),
    opt("checksum_hex", Val::Hex),
    opt("subsystem_hex", Val::Hex),
    opt("dll_characteristics_hex", Val::Hex),
    opt("size_of_stack_reserve", INT_NONNEG),
    opt("size_of_stack_commit", INT_NONNEG),
    opt("size_of_heap_reserve", INT_NONNEG),
    opt("size_of_heap_commit", INT_NONNEG),
    opt("loader_flags_hex", Val::Hex),
    opt("number_of_rva_and_sizes", INT_ANY),
    opt("hashes", Val::Hashes),
];

static PE_SECTION: &[Prop] = &[
    req("name", Val::Str),
    opt("size", INT_NONNEG),
    opt(
        "entropy",
        Val::Num {
            min: f64::MIN,
            max: f64::MAX,
        },
    ),
    opt("hashes", Val::Hashes),
];

static FILE_EXTENSIONS: &[ExtensionDef] = &[
    ExtensionDef {
        name: "archive-ext",
        props: &[
            req("contains_refs", Val::List(&Val::Ref(FILE_OR_DIR))),
            opt("comment", Val::Str),
        ],
        at_least_one: false,
    },
    ExtensionDef {
        name: "ntfs-ext",
        props: &[
            opt("sid", Val::Str),
            opt(
                "alternate_data_streams",
                Val::List(&Val::Struct(ALTERNATE_DATA_STREAM)),
            ),
        ],
        at_least_one: true,
    },
    ExtensionDef {
        name: "pdf-ext",
        props: &[
            opt("version", Val::Str),
            opt("is_optimized", Val::Bool),
            opt("document_info_dict", Val::Dict),
            opt("pdfid0", Val::Str),
            opt("pdfid1", Val::Str),
        ],
        at_least_one: true,
    },
    ExtensionDef {
        name: "raster-image-ext",
        props: &[
            opt("image_height", INT_ANY),
            opt("image_width", INT_ANY),
            opt("bits_per_pixel", INT_ANY),
            opt("exif_tags", Val::Dict),
        ],
        at_least_one: true,
    },
    ExtensionDef {
        name: "windows-pebinary-ext",
        props: &[
            req("pe_type", Val::Open(vocab::WINDOWS_PEBINARY_TYPE)),
            opt("imphash", Val::Str),
            opt("machine_hex", Val::Hex),
            opt("number_of_sections", INT_NONNEG),
            opt("time_date_stamp", Val::Timestamp),
            opt("pointer_to_symbol_table_hex", Val::Hex),
            opt("number_of_symbols", INT_NONNEG),
            opt("size_of_optional_header", INT_NONNEG),
            opt("characteristics_hex", Val::Hex),
            opt("file_header_hashes", Val::Hashes),
            opt("optional_header", Val::Struct(PE_OPTIONAL_HEADER)),
            opt("sections", Val::List(&Val::Struct(PE_SECTION))),
        ],
        at_least_one: false,
    },
];

static NETWORK_TRAFFIC_EXTENSIONS: &[ExtensionDef] = &[
    ExtensionDef {
        name: "http-request-ext",
        props: &[
            req("request_method", Val::Str),
            req("request_value", Val::Str),
            opt("request_version", Val::Str),
            opt("request_header", Val::Dict),
            opt("message_body_length", INT_ANY),
            opt(
                "message_body_data_ref",
                Val::Ref(Targets::Types(&["artifact"])),
            ),
        ],
        at_least_one: false,
    },
    ExtensionDef {
        name: "icmp-ext",
        props: &[
            req("icmp_type_hex", Val::Hex),
            req("icmp_code_hex", Val::Hex),
        ],
        at_least_one: false,
    },
    ExtensionDef {
        name: "socket-ext",
        props: &[
            req(
                "address_family",
                Val::Enum(vocab::NETWORK_SOCKET_ADDRESS_FAMILY),
            ),
            opt("is_blocking", Val::Bool),
            opt("is_listening", Val::Bool),
            opt("options", Val::Dict),
            opt("socket_type", Val::Enum(vocab::NETWORK_SOCKET_TYPE)),
            opt("socket_descriptor", INT_NONNEG),
            opt("socket_handle", INT_ANY),
        ],
        at_least_one: false,
    },
    ExtensionDef {
        name: "tcp-ext",
        props: &[
            opt("src_flags_hex", Val::Hex),
            opt("dst_flags_hex", Val::Hex),
        ],
        at_least_one: true,
    },
];

static PROCESS_EXTENSIONS: &[ExtensionDef] = &[
    ExtensionDef {
        name: "windows-process-ext",
        props: &[
            opt("aslr_enabled", Val::Bool),
            opt("dep_enabled", Val::Bool),
            opt("priority", Val::Str),
            opt("owner_sid", Val::Str),
            opt("window_title", Val::Str),
            opt("startup_info", Val::Dict),
            opt("integrity_level", Val::Enum(vocab::WINDOWS_INTEGRITY_LEVEL)),
        ],
        at_least_one: true,
    },
    ExtensionDef {
        name: "windows-service-ext",
        props: &[
            opt("service_name", Val::Str),
            opt("descriptions", STRS),
            opt("display_name", Val::Str),
            opt("group_name", Val::Str),
            opt("start_type", Val::Enum(vocab::WINDOWS_SERVICE_START_TYPE)),
            opt(
                "service_dll_refs",
                Val::List(&Val::Ref(Targets::Types(&["file"]))),
            ),
            opt("service_type", Val::Enum(vocab::WINDOWS_SERVICE_TYPE)),
            opt("service_status", Val::Enum(vocab::WINDOWS_SERVICE_STATUS)),
        ],
        at_least_one: true,
    },
];

static USER_ACCOUNT_EXTENSIONS: &[ExtensionDef] = &[ExtensionDef {
    name: "unix-account-ext",
    props: &[
        opt("gid", INT_ANY),
        opt("groups", STRS),
        opt("home_dir", Val::Str),
        opt("shell", Val::Str),
    ],
    at_least_one: true,
}];

static MIME_PART: &[Prop] = &[
    opt("body", Val::Str),
    opt(
        "body_raw_ref",
        Val::Ref(Targets::Types(&["artifact", "file"])),
    ),
    opt("content_type", Val::Str),
    opt("content_disposition", Val::Str),
];

static REGISTRY_VALUE: &[Prop] = &[
    opt("name", Val::Str),
    opt("data", Val::Str),
    opt("data_type", Val::Enum(vocab::WINDOWS_REGISTRY_DATATYPE)),
];

static X509_V3_EXTENSIONS: &[Prop] = &[
    opt("basic_constraints", Val::Str),
    opt("name_constraints", Val::Str),
    opt("policy_constraints", Val::Str),
    opt("key_usage", Val::Str),
    opt("extended_key_usage", Val::Str),
    opt("subject_key_identifier", Val::Str),
    opt("authority_key_identifier", Val::Str),
    opt("subject_alternative_name", Val::Str),
    opt("issuer_alternative_name", Val::Str),
    opt("subject_directory_attributes", Val::Str),
    opt("crl_distribution_points", Val::Str),
    opt("inhibit_any_policy", Val::Str),
    opt("private_key_usage_period_not_before", Val::Timestamp),
    opt("private_key_usage_period_not_after", Val::Timestamp),
    opt("certificate_policies", Val::Str),
    opt("policy_mappings", Val::Str),
];

macro_rules! sco {
    ($name:literal, [$($p:expr),* $(,)?], $ext:expr, [$($c:literal),*]) => {
        TypeDef { name: $name, kind: Kind::Sco, props: &[$($p),*], extensions: $ext, id_contributing: &[$($c),*] }
    };
}

/// STIX Cyber-observable Objects (§6) with their id-contributing properties (§2.9).
pub static SCOS: &[TypeDef] = &[
    sco!(
        "artifact",
        [
            opt("mime_type", Val::Str),
            opt("payload_bin", Val::Binary),
            opt("url", Val::Fmt(Format::Url)),
            opt("hashes", Val::Hashes),
            opt(
                "encryption_algorithm",
                Val::Enum(vocab::ENCRYPTION_ALGORITHM)
            ),
            opt("decryption_key", Val::Str),
        ],
        &[],
        ["hashes", "payload_bin"]
    ),
    sco!(
        "autonomous-system",
        [
            req("number", INT_ANY),
            opt("name", Val::Str),
            opt("rir", Val::Str),
        ],
        &[],
        ["number"]
    ),
    sco!(
        "directory",
        [
            req("path", Val::Str),
            opt("path_enc", Val::Str),
            opt("ctime", Val::Timestamp),
            opt("mtime", Val::Timestamp),
            opt("atime", Val::Timestamp),
            opt("contains_refs", Val::List(&Val::Ref(FILE_OR_DIR))),
        ],
        &[],
        ["path"]
    ),
    sco!(
        "domain-name",
        [
            req("value", Val::Str),
            opt(
                "resolves_to_refs",
                Val::List(&Val::Ref(Targets::Types(&[
                    "ipv4-addr",
                    "ipv6-addr",
                    "domain-name"
                ])))
            ),
        ],
        &[],
        ["value"]
    ),
    sco!(
        "email-addr",
        [
            req("value", Val::Str),
            opt("display_name", Val::Str),
            opt(
                "belongs_to_ref",
                Val::Ref(Targets::Types(&["user-account"]))
            ),
        ],
        &[],
        ["value"]
    ),
    sco!(
        "email-message",
        [
            req("is_multipart", Val::Bool),
            opt("date", Val::Timestamp),
            opt("content_type", Val::Str),
            opt("from_ref", Val::Ref(Targets::Types(&["email-addr"]))),
            opt("sender_ref", Val::Ref(Targets::Types(&["email-addr"]))),
            opt(
                "to_refs",
                Val::List(&Val::Ref(Targets::Types(&["email-addr"])))
            ),
            opt(
                "cc_refs",
                Val::List(&Val::Ref(Targets::Types(&["email-addr"])))
            ),
            opt(
                "bcc_refs",
                Val::List(&Val::Ref(Targets::Types(&["email-addr"])))
            ),
            opt("message_id", Val::Str),
            opt("subject", Val::Str),
            opt("received_lines", STRS),
            opt("additional_header_fields", Val::Dict),
            opt("body", Val::Str),
            opt("body_multipart", Val::List(&Val::Struct(MIME_PART))),
            opt("raw_email_ref", Val::Ref(Targets::Types(&["artifact"]))),
        ],
        &[],
        ["from_ref", "subject", "body"]
    ),
    sco!(
        "file",
        [
            opt("hashes", Val::Hashes),
            opt("size", INT_NONNEG),
            opt("name", Val::Str),
            opt("name_enc", Val::Str),
            opt("magic_number_hex", Val::Hex),
            opt("mime_type", Val::Str),
            opt("ctime", Val::Timestamp),
            opt("mtime", Val::Timestamp),
            opt("atime", Val::Timestamp),
            opt(
                "parent_directory_ref",
                Val::Ref(Targets::Types(&["directory"]))
            ),
            opt("contains_refs", Val::List(&Val::Ref(Targets::AnySco))),
            opt("content_ref", Val::Ref(Targets::Types(&["artifact"]))),
        ],
        FILE_EXTENSIONS,
        ["hashes", "name", "extensions", "parent_directory_ref"]
    ),
    sco!(
        "ipv4-addr",
        [
            req("value", Val::Fmt(Format::Ipv4)),
            opt(
                "resolves_to_refs",
                Val::List(&Val::Ref(Targets::Types(&["mac-addr"])))
            ),
            opt(
                "belongs_to_refs",
                Val::List(&Val::Ref(Targets::Types(&["autonomous-system"])))
            ),
        ],
        &[],
        ["value"]
    ),
    sco!(
        "ipv6-addr",
        [
            req("value", Val::Fmt(Format::Ipv6)),
            opt(
                "resolves_to_refs",
                Val::List(&Val::Ref(Targets::Types(&["mac-addr"])))
            ),
            opt(
                "belongs_to_refs",
                Val::List(&Val::Ref(Targets::Types(&["autonomous-system"])))
            ),
        ],
        &[],
        ["value"]
    ),
    sco!(
        "mac-addr",
        [req("value", Val::Fmt(Format::Mac))],
        &[],
        ["value"]
    ),
    sco!("mutex", [req("name", Val::Str)], &[], ["name"]),
    sco!(
        "network-traffic",
        [
            opt("start", Val::Timestamp),
            opt("end", Val::Timestamp),
            opt("is_active", Val::Bool),
            opt("src_ref", Val::Ref(ADDR_TARGETS)),
            opt("dst_ref", Val::Ref(ADDR_TARGETS)),
            opt("src_port", Val::Int { min: 0, max: 65535 }),
            opt("dst_port", Val::Int { min: 0, max: 65535 }),
            req("protocols", STRS),
            opt("src_byte_count", INT_ANY),
            opt("dst_byte_count", INT_ANY),
            opt("src_packets", INT_ANY),
            opt("dst_packets", INT_ANY),
            opt("ipfix", Val::Dict),
            opt("src_payload_ref", Val::Ref(Targets::Types(&["artifact"]))),
            opt("dst_payload_ref", Val::Ref(Targets::Types(&["artifact"]))),
            opt(
                "encapsulates_refs",
                Val::List(&Val::Ref(Targets::Types(&["network-traffic"])))
            ),
            opt(
                "encapsulated_by_ref",
                Val::Ref(Targets::Types(&["network-traffic"]))
            ),
        ],
        NETWORK_TRAFFIC_EXTENSIONS,
        [
            "start",
            "end",
            "src_ref",
            "dst_ref",
            "src_port",
            "dst_port",
            "protocols",
            "extensions"
        ]
    ),
    sco!(
        "process",
        [
            opt("is_hidden", Val::Bool),
            opt("pid", INT_ANY),
            opt("created_time", Val::Timestamp),
            opt("cwd", Val::Str),
            opt("command_line", Val::Str),
            opt("environment_variables", Val::Dict),
            opt(
                "opened_connection_refs",
                Val::List(&Val::Ref(Targets::Types(&["network-traffic"])))
            ),
            opt(
                "creator_user_ref",
                Val::Ref(Targets::Types(&["user-account"]))
            ),
            opt("image_ref", Val::Ref(Targets::Types(&["file"]))),
            opt("parent_ref", Val::Ref(Targets::Types(&["process"]))),
            opt(
                "child_refs",
                Val::List(&Val::Ref(Targets::Types(&["process"])))
            ),
        ],
        PROCESS_EXTENSIONS,
        []
    ),
    sco!(
        "software",
        [
            req("name", Val::Str),
            opt("cpe", Val::Str),
            opt("swid", Val::Str),
            opt("languages", STRS),
            opt("vendor", Val::Str),
            opt("version", Val::Str),
        ],
        &[],
        ["name", "cpe", "swid", "vendor", "version"]
    ),
    sco!("url", [req("value", Val::Fmt(Format::Url))], &[], ["value"]),
    sco!(
        "user-account",
        [
            opt("user_id", Val::Str),
            opt("credential", Val::Str),
            opt("account_login", Val::Str),
            opt("account_type", Val::Open(vocab::ACCOUNT_TYPE)),
            opt("display_name", Val::Str),
            opt("is_service_account", Val::Bool),
            opt("is_privileged", Val::Bool),
            opt("can_escalate_privs", Val::Bool),
            opt("is_disabled", Val::Bool),
            opt("account_created", Val::Timestamp),
            opt("account_expires", Val::Timestamp),
            opt("credential_last_changed", Val::Timestamp),
            opt("account_first_login", Val::Timestamp),
            opt("account_last_login", Val::Timestamp),
        ],
        USER_ACCOUNT_EXTENSIONS,
        ["account_type", "user_id", "account_login"]
    ),
    sco!(
        "windows-registry-key",
        [
            opt("key", Val::Str),
            opt("values", Val::List(&Val::Struct(REGISTRY_VALUE))),
            opt("modified_time", Val::Timestamp),
            opt(
                "creator_user_ref",
                Val::Ref(Targets::Types(&["user-account"]))
            ),
            opt("number_of_subkeys", INT_ANY),
        ],
        &[],
        ["key", "values"]
    ),
    sco!(
        "x509-certificate",
        [
            opt("is_self_signed", Val::Bool),
            opt("hashes", Val::Hashes),
            opt("version", Val::Str),
            opt("serial_number", Val::Str),
            opt("signature_algorithm", Val::Str),
            opt("issuer", Val::Str),
            opt("validity_not_before", Val::Timestamp),
            opt("validity_not_after", Val::Timestamp),
            opt("subject", Val::Str),
            opt("subject_public_key_algorithm", Val::Str),
            opt("subject_public_key_modulus", Val::Str),
            opt("subject_public_key_exponent", INT_ANY),
            opt("x509_v3_extensions", Val::Struct(X509_V3_EXTENSIONS)),
        ],
        &[],
        ["hashes", "serial_number"]
    ),
];

/// STIX Meta Objects (§7) and the bundle (§8).
pub static META: &[TypeDef] = &[
    TypeDef {
        name: "marking-definition",
        kind: Kind::Meta,
        props: &[
            req("type", Val::Str),
            req("spec_version", Val::Enum(&["2.1"])),
            req("id", Val::Str),
            opt("created_by_ref", Val::Ref(Targets::Types(&["identity"]))),
            req("created", Val::TimestampMillis),
            opt("external_references", Val::List(&Val::ExternalReference)),
            opt("object_marking_refs", Val::List(&MARKING_REF)),
            opt("granular_markings", Val::List(&Val::GranularMarking)),
            opt("name", Val::Str),
            opt("definition_type", Val::Open(vocab::MARKING_DEFINITION_TYPE)),
            opt("definition", Val::Any),
            opt("extensions", Val::Any),
        ],
        extensions: &[],
        id_contributing: &[],
    },
    TypeDef {
        name: "language-content",
        kind: Kind::Meta,
        props: &[
            req("type", Val::Str),
            req("spec_version", Val::Enum(&["2.1"])),
            req("id", Val::Str),
            opt("created_by_ref", Val::Ref(Targets::Types(&["identity"]))),
            req("created", Val::TimestampMillis),
            req("modified", Val::TimestampMillis),
            opt("revoked", Val::Bool),
            opt("labels", STRS),
            opt("confidence", Val::Int { min: 0, max: 100 }),
            opt("external_references", Val::List(&Val::ExternalReference)),
            opt("object_marking_refs", Val::List(&MARKING_REF)),
            opt("granular_markings", Val::List(&Val::GranularMarking)),
            opt("extensions", Val::Any),
            req("object_ref", Val::Ref(Targets::Any)),
            opt("object_modified", Val::TimestampMillis),
            req("contents", Val::Dict),
        ],
        extensions: &[],
        id_contributing: &[],
    },
    TypeDef {
        name: "extension-definition",
        kind: Kind::Meta,
        props: &[
            req("type", Val::Str),
            req("spec_version", Val::Enum(&["2.1"])),
            req("id", Val::Str),
            req("created_by_ref", Val::Ref(Targets::Types(&["identity"]))),
            req("created", Val::TimestampMillis),
            req("modified", Val::TimestampMillis),
            opt("revoked", Val::Bool),
            opt("labels", STRS),
            opt("external_references", Val::List(&Val::ExternalReference)),
            opt("object_marking_refs", Val::List(&MARKING_REF)),
            opt("granular_markings", Val::List(&Val::GranularMarking)),
            req("name", Val::Str),
            opt("description", Val::Str),
            req("schema", Val::Str),
            req("version", Val::Str),
            req(
                "extension_types",
                Val::List(&Val::Enum(vocab::EXTENSION_TYPE)),
            ),
            opt("extension_properties", STRS),
        ],
        extensions: &[],
        id_contributing: &[],
    },
    TypeDef {
        name: "bundle",
        kind: Kind::Bundle,
        props: &[opt("objects", Val::List(&Val::Any))],
        extensions: &[],
        id_contributing: &[],
    },
];

/// Looks up a type defined by the STIX 2.1 specification.
pub fn lookup(type_name: &str) -> Option<&'static TypeDef> {
    // 44 entries: a linear scan over short static strings is faster than hashing.
    SDOS.iter()
        .chain(SROS)
        .chain(SCOS)
        .chain(META)
        .find(|t| t.name == type_name)
}

/// All types defined by the specification.
pub fn all() -> impl Iterator<Item = &'static TypeDef> {
    SDOS.iter().chain(SROS).chain(SCOS).chain(META)
}

/// The kind of an object type. Types not in the specification are classified by
/// the conventions of §11 (custom objects): names ending `-ext` are not objects;
/// everything else is treated as a custom SDO unless it is known to be otherwise.
pub fn kind_of(type_name: &str) -> Option<Kind> {
    lookup(type_name).map(|t| t.kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_the_specification() {
        assert_eq!(SDOS.len(), 19);
        assert_eq!(SROS.len(), 2);
        assert_eq!(SCOS.len(), 18);
        assert_eq!(META.len(), 4);
        let ext: usize = SCOS.iter().map(|t| t.extensions.len()).sum();
        assert_eq!(ext, 12);
    }

    #[test]
    fn names_are_unique_and_lookup_finds_each() {
        let mut seen = hashbrown::HashSet::new();
        for t in all() {
            assert!(seen.insert(t.name), "duplicate {}", t.name);
            assert_eq!(lookup(t.name).map(|d| d.name), Some(t.name));
            let mut props = hashbrown::HashSet::new();
            for p in t.props {
                assert!(
                    props.insert(p.name),
                    "{}: duplicate property {}",
                    t.name,
                    p.name
                );
            }
        }
        assert!(lookup("x-custom").is_none());
    }

    #[test]
    fn id_contributing_properties_exist() {
        for t in SCOS {
            for c in t.id_contributing {
                assert!(t.prop(c).is_some(), "{}: {c}", t.name);
            }
        }
    }
}
