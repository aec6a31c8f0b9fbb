//! Realistic fixtures shared by the integration tests.
#![allow(dead_code)]

use serde_json::json;

pub const NODE_A: &str = "identity--5f1d2c9e-8a52-4f6e-9a3b-0c7e4d2b1a01";
pub const NODE_B: &str = "identity--5f1d2c9e-8a52-4f6e-9a3b-0c7e4d2b1a02";
pub const NODE_H: &str = "identity--5f1d2c9e-8a52-4f6e-9a3b-0c7e4d2b1a0f";

pub fn obj(v: serde_json::Value) -> stix::Object {
    stix::Object::from_value(v).expect("fixture has type and id")
}

/// An English report about spear-phishing at a Gulf bank, with personal data.
pub fn report_en() -> stix::Object {
    obj(json!({
        "type": "report", "spec_version": "2.1",
        "id": "report--3b1c7e52-6a7d-4f0e-9d3a-1f2e3d4c5b6a",
        "created": "2026-03-12T08:00:00.000Z", "modified": "2026-03-12T08:00:00.000Z",
        "name": "Spear-phishing against payroll staff",
        "description": "On 12 March the SOC of a commercial bank received spear-phishing emails from hr-update@secure-payroll.example impersonating HR. Ms. Mariam Al-Kuwari (mariam.alkuwari@gcb.example, +974 5512 3456) forwarded the message. The lure asked for a transfer to QA58DOHB00001234567890ABCDEFG. Indicators: 203.0.113.7, secure-payroll.example.",
        "published": "2026-03-12T08:00:00Z",
        "report_types": ["campaign"],
        "object_refs": ["indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"],
        "object_marking_refs": ["marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"],
        "external_references": [{"source_name": "case", "description": "Reported by Dr. Omar Haddad, omar.haddad@ncsc.example", "external_id": "CASE-2026-0312"}],
        "x_analyst_comment": "Follow up with Mr. Faisal Al-Nuaimi on 050 987 6543"
    }))
}

/// An Arabic note from a national centre, with personal data.
pub fn note_ar() -> stix::Object {
    obj(json!({
        "type": "note", "spec_version": "2.1",
        "id": "note--0f6a2b3c-4d5e-4f70-8a9b-0c1d2e3f4a5b",
        "created": "2026-03-13T10:00:00.000Z", "modified": "2026-03-13T10:00:00.000Z",
        "abstract": "بلاغ تصيد احتيالي",
        "content": "أبلغ المهندس خالد بن سعيد الغامدي من مركز العمليات عن رسالة تصيد من العنوان support@bank-alerts.example ورقم الهاتف +966 55 987 6543، وطلب المهاجم رقم الهوية 1087654321 وتحويل مبلغ إلى الحساب SA0380000000608010167519. تواصلوا مع السيدة نورة العتيبي للمتابعة.",
        "authors": ["خالد الغامدي"],
        "object_refs": ["report--3b1c7e52-6a7d-4f0e-9d3a-1f2e3d4c5b6a"]
    }))
}

/// An individual's identity.
pub fn person() -> stix::Object {
    obj(json!({
        "type": "identity", "spec_version": "2.1",
        "id": "identity--7d3c2b1a-0f9e-4d8c-8b7a-6e5d4c3b2a19",
        "created": "2026-03-12T08:00:00.000Z", "modified": "2026-03-12T08:00:00.000Z",
        "name": "Nasser Al-Harthy",
        "identity_class": "individual",
        "contact_information": "nasser@ncsc.example, +968 9123 4567"
    }))
}

/// An indicator whose pattern contains an email address (a pattern is never rewritten).
pub fn indicator_with_email() -> stix::Object {
    obj(json!({
        "type": "indicator", "spec_version": "2.1",
        "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "created": "2026-03-12T08:00:00.000Z", "modified": "2026-03-12T08:00:00.000Z",
        "name": "Phishing sender",
        "description": "Sender used in the payroll campaign; victims included ahmed.s@gcb.example.",
        "pattern": "[email-addr:value = 'hr-update@secure-payroll.example']",
        "pattern_type": "stix",
        "valid_from": "2026-03-12T08:00:00Z",
        "indicator_types": ["malicious-activity"]
    }))
}

/// An Egyptian opinion with a national id and a local mobile number.
pub fn opinion_eg() -> stix::Object {
    obj(json!({
        "type": "opinion", "spec_version": "2.1",
        "id": "opinion--2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d",
        "created": "2026-03-14T09:00:00.000Z", "modified": "2026-03-14T09:00:00.000Z",
        "explanation": "الرقم القومي للضحية 29005170101234 ورقم المحمول 010 1234 5678، الحساب EG380019000500000000263180002.",
        "opinion": "agree",
        "object_refs": ["report--3b1c7e52-6a7d-4f0e-9d3a-1f2e3d4c5b6a"]
    }))
}

/// A sighting at B of A's indicator.
pub fn sighting() -> stix::Object {
    obj(json!({
        "type": "sighting", "spec_version": "2.1",
        "id": "sighting--4c5d6e7f-8a9b-4c0d-9e1f-2a3b4c5d6e7f",
        "created": "2026-03-15T11:00:00.000Z", "modified": "2026-03-15T11:00:00.000Z",
        "created_by_ref": NODE_B,
        "first_seen": "2026-03-15T10:58:00Z", "last_seen": "2026-03-15T10:59:30Z",
        "count": 37,
        "sighting_of_ref": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "where_sighted_refs": [NODE_B]
    }))
}
