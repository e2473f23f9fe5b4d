//! The referral resource's fields and types (API.md "The referral resource").

use super::{Node, Object, Scalar};

const STRING: Node = Node::Scalar(Scalar::String);
const BOOLEAN: Node = Node::Scalar(Scalar::Boolean);
const DATE_TIME: Node = Node::Scalar(Scalar::DateTime);
const DECIMAL: Node = Node::Scalar(Scalar::Decimal);

/// `ReferralStatus` names.
pub const STATUSES: &[&str] = &["New", "Active", "Closed"];
/// `ReferralSubstatus` names.
pub const SUBSTATUSES: &[&str] = &[
    "Pending", "Received", "Accepted", "Engaged", "Declined", "Lost", "Won", "Expired",
];
/// `/qualification` names.
pub const QUALIFICATIONS: &[&str] = &["None", "Direct", "MarketingQualified", "SalesQualified"];
/// `/type` names.
pub const REFERRAL_TYPES: &[&str] = &["Independent", "Shared"];
/// `/target/*/type` names.
pub const TARGET_TYPES: &[&str] = &["BusinessProfileLocation", "SolutionProfile"];

static CONTACT_PREFERENCE: Object = Object {
    name: "contactPreference",
    fields: &[("locale", STRING), ("disableNotifications", BOOLEAN)],
    required: &[],
};

static MEMBER: Object = Object {
    name: "Member",
    fields: &[
        ("firstName", STRING),
        ("lastName", STRING),
        ("email", STRING),
        ("phoneNumber", STRING),
        ("contactPreference", Node::Object(&CONTACT_PREFERENCE)),
    ],
    required: &["email"],
};

static MEMBERS: Node = Node::Object(&MEMBER);

static ADDRESS: Object = Object {
    name: "address",
    fields: &[
        ("addressLine1", STRING),
        ("addressLine2", STRING),
        ("city", STRING),
        ("state", STRING),
        ("postalCode", STRING),
        ("country", STRING),
        ("region", STRING),
    ],
    required: &[],
};

static CUSTOMER_IDS: Object = Object {
    name: "customer ids",
    fields: &[("duns", STRING), ("external", STRING)],
    required: &[],
};
static CUSTOMER_ID: Node = Node::Object(&CUSTOMER_IDS);

static CUSTOMER_PROFILE: Object = Object {
    name: "customerProfile",
    fields: &[
        ("name", STRING),
        ("size", STRING),
        ("address", Node::Object(&ADDRESS)),
        ("team", Node::Array(&MEMBERS)),
        ("ids", Node::Array(&CUSTOMER_ID)),
    ],
    required: &[],
};

static CONSENT: Object = Object {
    name: "consent",
    fields: &[
        ("consentToShareInfoWithOthers", BOOLEAN),
        ("consentToContact", BOOLEAN),
    ],
    required: &[],
};

static REQUIREMENT: Object = Object {
    name: "requirement",
    fields: &[("id", STRING)],
    required: &["id"],
};
static REQUIREMENT_NODE: Node = Node::Object(&REQUIREMENT);

static SOLUTION: Object = Object {
    name: "solution",
    fields: &[("id", STRING), ("name", STRING), ("type", STRING)],
    required: &["id"],
};
static SOLUTION_NODE: Node = Node::Object(&SOLUTION);

static REQUIREMENTS: Object = Object {
    name: "requirements",
    fields: &[
        ("industries", Node::Array(&REQUIREMENT_NODE)),
        ("products", Node::Array(&REQUIREMENT_NODE)),
        ("services", Node::Array(&REQUIREMENT_NODE)),
        ("solutions", Node::Array(&SOLUTION_NODE)),
    ],
    required: &[],
};

static DETAILS: Object = Object {
    name: "details",
    fields: &[
        ("notes", STRING),
        ("dealValue", DECIMAL),
        ("currency", STRING),
        ("closingDateTime", DATE_TIME),
        ("requirements", Node::Object(&REQUIREMENTS)),
    ],
    required: &[],
};

static TARGET: Object = Object {
    name: "target",
    fields: &[
        ("type", Node::Scalar(Scalar::Enum(TARGET_TYPES))),
        ("id", STRING),
    ],
    required: &["type", "id"],
};
static TARGET_NODE: Node = Node::Object(&TARGET);

static INVITE_CONTEXT: Object = Object {
    name: "inviteContext",
    fields: &[("notes", STRING)],
    required: &[],
};

static REFERRAL_OBJECT: Object = Object {
    name: "referral",
    fields: &[
        ("id", Node::ReadOnly),
        ("engagementId", Node::ReadOnly),
        ("organizationId", Node::ReadOnly),
        ("organizationName", Node::ReadOnly),
        ("createdDateTime", Node::ReadOnly),
        ("updatedDateTime", Node::ReadOnly),
        ("acceptedDateTime", Node::ReadOnly),
        ("eTag", Node::ReadOnly),
        ("links", Node::ReadOnly),
        ("name", STRING),
        ("externalReferenceId", STRING),
        ("status", Node::Scalar(Scalar::Enum(STATUSES))),
        ("substatus", Node::Scalar(Scalar::Enum(SUBSTATUSES))),
        ("statusReason", STRING),
        ("qualification", Node::Scalar(Scalar::Enum(QUALIFICATIONS))),
        ("type", Node::Scalar(Scalar::Enum(REFERRAL_TYPES))),
        ("expirationDateTime", DATE_TIME),
        ("customerProfile", Node::Object(&CUSTOMER_PROFILE)),
        ("consent", Node::Object(&CONSENT)),
        ("details", Node::Object(&DETAILS)),
        ("team", Node::Array(&MEMBERS)),
        ("inviteContext", Node::Object(&INVITE_CONTEXT)),
        ("target", Node::Array(&TARGET_NODE)),
    ],
    required: &[],
};

/// The root of the referral schema.
pub static REFERRAL: Node = Node::Object(&REFERRAL_OBJECT);
