//! Nadhir policy core: who may receive what, and in which form.
//!
//! - [`decide`] is THE policy function: every read path (TAXII, REST, export, SSE,
//!   webhooks, sync, UI) asks it, per requester, object and purpose.
//! - [`marking`]: TLP 1.0 / 2.0 and PAP marking definitions, effective marking.
//! - [`granular`]: granular-marking selectors and safe removal.
//! - [`agreement`]: sharing agreements and [`egress_allowed`].
//! - [`sharing`]: the Nadhir sharing extension (relay permission, provenance).
//! - [`pii`]: detection and redaction / generalisation of personal data.
//! - [`sighting`]: anonymised sightings.
//! - [`stored`]: the stored forms of object metadata and collection sharing defaults.
//! - [`recall`]: what partners must delete after a marking or agreement change.
//!
//! *Boundary*: pure logic. No I/O, no async, no clock; it cannot fail for reasons
//! outside its input.

pub mod agreement;
pub mod decide;
pub mod error;
pub mod granular;
pub mod marking;
pub mod model;
pub mod pii;
pub mod recall;
pub mod sharing;
pub mod sighting;
pub mod stored;

pub use agreement::{egress_allowed, Agreement};
pub use decide::{
    decide, decide_json, decide_owned, in_audience, Decision, JsonDecision, ObjectMeta,
    ReadPurpose, Redacted,
};
pub use error::{DenyReason, ExtensionError, PolicyError};
pub use marking::{effective_marking, EffectiveMarking, Pap, Tlp};
pub use model::{
    Community, CommunityId, Context, NodeId, Org, OrgId, OrgKind, PolicyConfig, Requester, Role,
    UserId,
};
pub use pii::{Minimiser, PiiAction, PiiConfig, PiiFinding, PiiKind, RedactionRules};
pub use recall::{recall_after_agreement_change, recall_after_object_change, Delivery, Recall};
pub use stored::{CollectionSharing, MetaDoc};
