//! The vocabulary every stage shares about how a referral document ended.

use std::fmt;

/// How one referral document (or one ID-less invalid row) ended; the report's `outcome`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// The API accepted the document, or a lost response was verified as applied.
    Updated,
    /// Skipped: already applied (ledger) or the referral already holds every value.
    Unchanged,
    /// 412 Precondition Failed, not resolved by the conflict policy.
    Conflict,
    /// The API refused it, retries ran out, or it was never finished.
    Failed,
    /// Refused by planning; nothing was sent.
    Invalid,
    /// `plan`, and a dry run's "would be updated".
    Planned,
}

impl Outcome {
    /// Every outcome, in the order summaries list them.
    pub const ALL: [Outcome; 6] = [
        Outcome::Updated,
        Outcome::Unchanged,
        Outcome::Planned,
        Outcome::Conflict,
        Outcome::Failed,
        Outcome::Invalid,
    ];

    /// The name used in reports and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
            Outcome::Conflict => "conflict",
            Outcome::Failed => "failed",
            Outcome::Invalid => "invalid",
            Outcome::Planned => "planned",
        }
    }

    /// The outcome whose report name is `name`, if any.
    pub fn named(name: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == name)
    }

    /// Whether the rejects file gets this document's rows.
    pub fn is_rejected(self) -> bool {
        matches!(self, Outcome::Conflict | Outcome::Failed | Outcome::Invalid)
    }
}

impl serde::Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Outcome {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Outcome::named(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown outcome {name:?}")))
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an outcome was reached where that is not plain; the report's `note`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Note {
    /// A lost response was checked against the referral and found applied.
    Verified,
    /// A 412 was resolved by re-reading the referral and retrying with its new ETag.
    Refetched,
    /// A 412 was resolved by retrying without If-Match.
    Overwritten,
    /// Identical duplicate rows were merged into one operation.
    MergedDuplicates,
    /// The ledger shows this exact document already applied.
    SkippedByLedger,
}

impl Note {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Note::Verified => "verified",
            Note::Refetched => "refetched",
            Note::Overwritten => "overwritten",
            Note::MergedDuplicates => "merged-duplicates",
            Note::SkippedByLedger => "skipped-by-ledger",
        }
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
