//! The status/substatus transition table (API.md "Status and substatus"), as data.

/// For each current status: the statuses it may move to.
pub const MOVES: &[(&str, &[&str])] = &[
    ("New", &["New", "Active", "Closed"]),
    ("Active", &["Active", "Closed"]),
    ("Closed", &["Closed"]),
];

/// For each status: the substatuses allowed with it.
pub const SUBSTATUSES_OF: &[(&str, &[&str])] = &[
    ("New", &["Pending", "Received"]),
    ("Active", &["Accepted", "Engaged"]),
    ("Closed", &["Won", "Lost", "Declined", "Expired"]),
];

/// Substatuses after which nothing can be done to a referral (Partner Center's CSV docs).
pub const FINAL_SUBSTATUSES: &[&str] = &["Won", "Lost", "Declined", "Expired"];

fn lookup(table: &'static [(&str, &'static [&'static str])], key: &str) -> &'static [&'static str] {
    table
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| *v)
        .unwrap_or(&[])
}

/// Whether `substatus` goes with `status`.
pub fn pair_allowed(status: &str, substatus: &str) -> bool {
    lookup(SUBSTATUSES_OF, status).contains(&substatus)
}

/// Whether a referral in status `from` may move to status `to`.
pub fn move_allowed(from: &str, to: &str) -> bool {
    lookup(MOVES, from).contains(&to)
}

/// The substatuses allowed with `status`, for messages.
pub fn substatuses_of(status: &str) -> &'static [&'static str] {
    lookup(SUBSTATUSES_OF, status)
}

/// Why a status change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// `/status` set without `/substatus`.
    #[error("sets /status to {status} without a /substatus; set /substatus too ({allowed})")]
    MissingSubstatus {
        /// The new status.
        status: String,
        /// The substatuses that would go with it.
        allowed: String,
    },
    /// The pair is not in the table.
    #[error("substatus {substatus} does not go with status {status} (allowed: {allowed})")]
    BadPair {
        /// The status the pair is checked against.
        status: String,
        /// The substatus.
        substatus: String,
        /// The substatuses that would go with the status.
        allowed: String,
    },
    /// The move from the current status is not allowed.
    #[error("a referral in status {from} cannot move to status {to}")]
    BadMove {
        /// The current status.
        from: String,
        /// The requested status.
        to: String,
    },
}

/// Checks the status and substatus a document sets; `current` is the referral's present
/// status where it is known (online), `None` offline.
pub fn check(
    current: Option<&str>,
    new_status: Option<&str>,
    new_substatus: Option<&str>,
) -> Result<(), TransitionError> {
    let allowed = |s: &str| substatuses_of(s).join(", ");
    if let (Some(from), Some(to)) = (current, new_status)
        && !move_allowed(from, to)
    {
        return Err(TransitionError::BadMove {
            from: from.into(),
            to: to.into(),
        });
    }
    let status = match (new_status, new_substatus) {
        (Some(status), None) => {
            return Err(TransitionError::MissingSubstatus {
                status: status.into(),
                allowed: allowed(status),
            });
        }
        (Some(status), Some(_)) => Some(status),
        (None, Some(_)) => current,
        (None, None) => None,
    };
    match (status, new_substatus) {
        (Some(status), Some(sub)) if !pair_allowed(status, sub) => Err(TransitionError::BadPair {
            status: status.into(),
            substatus: sub.into(),
            allowed: allowed(status),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_may_become_active_engaged() {
        assert_eq!(check(Some("New"), Some("Active"), Some("Engaged")), Ok(()));
    }

    #[test]
    fn closed_cannot_reopen() {
        assert!(matches!(
            check(Some("Closed"), Some("Active"), Some("Engaged")),
            Err(TransitionError::BadMove { .. })
        ));
    }

    #[test]
    fn status_without_substatus_is_refused() {
        assert!(matches!(
            check(None, Some("Closed"), None),
            Err(TransitionError::MissingSubstatus { .. })
        ));
    }

    #[test]
    fn pair_is_checked_offline() {
        assert!(matches!(
            check(None, Some("Closed"), Some("Engaged")),
            Err(TransitionError::BadPair { .. })
        ));
        assert_eq!(check(None, Some("Closed"), Some("Won")), Ok(()));
    }

    #[test]
    fn substatus_alone_must_fit_the_current_status() {
        assert_eq!(check(Some("Active"), None, Some("Accepted")), Ok(()));
        assert!(check(Some("Active"), None, Some("Pending")).is_err());
        assert_eq!(check(None, None, Some("Pending")), Ok(()));
    }
}
