//! Nightly re-sends: an append of a Member to a team that already holds it (its e-mail in
//! any case, and every other field it gives) is dropped before sending, so a file that
//! repeats yesterday's values does not add the same person twice; never where a later
//! operation of the document names a member of that team by index, which the drop would
//! shift.
//!
//! The check needs the referral as it is now, so it is made wherever the send stage reads
//! it anyway: `--if-match auto` and `fetch` read every document that appends, as do
//! `--undo` and a resumed in-flight document. Under `input` and `none` nothing is read
//! (that is what those policies are for) and appends are sent as given; with `input`, an
//! ETag from the input still refuses an append to a team that changed since.

use super::verify::same_element;
use crate::plan::PatchOp;
use serde_json::Value;

/// The team arrays whose appends (and inserts at an index) are checked by e-mail.
const TEAMS: [&str; 2] = ["/team", "/customerProfile/team"];

/// `ops` without the appends of members already in `referral`'s team, every field alike.
/// An append after an operation of the same document that rewrites that team (`replace
/// /team`, say) is kept: the team it lands in is not the one read. So is one followed by
/// an operation that names a member of that team by its index (`replace /team/2/email`,
/// `add /team/0`): without the append, that index would name another member, or none.
pub fn pending_ops(referral: &Value, ops: &[PatchOp]) -> Vec<PatchOp> {
    ops.iter()
        .enumerate()
        .filter(|(index, op)| {
            !member_present(referral, op, &ops[..*index]) || indexed_later(op, &ops[index + 1..])
        })
        .map(|(_, op)| op.clone())
        .collect()
}

/// Whether an operation of `after` names a member of the team `op` inserts into by its
/// index, which dropping `op` would shift.
fn indexed_later(op: &PatchOp, after: &[PatchOp]) -> bool {
    let Some(team) = op.inserted_into() else {
        return false;
    };
    after.iter().any(|later| {
        later
            .path
            .strip_prefix(team)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
    })
}

/// Whether `op` appends a Member that `referral`'s team already holds, with none
/// of the operations `before` it rewriting that team.
fn member_present(referral: &Value, op: &PatchOp, before: &[PatchOp]) -> bool {
    let Some(team) = op.inserted_into().filter(|array| TEAMS.contains(array)) else {
        return false;
    };
    if before.iter().any(|earlier| rewrites(earlier, team)) {
        return false;
    }
    let value = op.value.to_value();
    if email_of(&value).is_none() {
        return false;
    }
    referral
        .pointer(team)
        .and_then(Value::as_array)
        .is_some_and(|members| members.iter().any(|have| same_element(have, &value)))
}

/// Whether `op` changes the array at `team` other than by appending to it: it sets the
/// array, an object holding it, or a member inside it.
fn rewrites(op: &PatchOp, team: &str) -> bool {
    if op.inserted_into() == Some(team) {
        return false;
    }
    let path = &*op.path;
    let holds = |outer: &str, inner: &str| {
        outer == inner
            || inner
                .strip_prefix(outer)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    holds(path, team) || holds(team, path)
}

fn email_of(member: &Value) -> Option<&str> {
    member.get("email").and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::OpKind;
    use serde_json::json;

    fn append(path: &str, email: &str) -> PatchOp {
        PatchOp::new(OpKind::Add, path, &json!({"email": email}))
    }

    fn referral() -> Value {
        json!({"team": [{"email": "Ann@X.com"}],
               "customerProfile": {"team": [{"email": "cust@y.com"}]}})
    }

    #[test]
    fn an_append_of_a_member_already_in_the_team_is_dropped_whatever_the_case() {
        let ops = vec![
            append("/team/-", "ann@x.com"),
            append("/team/-", "bob@x.com"),
            append("/customerProfile/team/-", "CUST@y.com"),
        ];
        let pending = pending_ops(&referral(), &ops);
        assert_eq!(pending, vec![append("/team/-", "bob@x.com")]);
    }

    #[test]
    fn an_append_that_gives_a_field_the_member_lacks_or_holds_otherwise_is_kept() {
        let team =
            json!({"team": [{"email": "ann@x.com", "firstName": "Ann", "phoneNumber": "1"}]});
        let member = |fields: Value| PatchOp::new(OpKind::Add, "/team/-", &fields);
        let same = member(json!({"email": "ANN@x.com", "firstName": "Ann"}));
        let new_phone = member(json!({"email": "ann@x.com", "phoneNumber": "2"}));
        let new_field = member(json!({"email": "ann@x.com", "lastName": "Lee"}));
        let ops = vec![same, new_phone.clone(), new_field.clone()];
        assert_eq!(pending_ops(&team, &ops), vec![new_phone, new_field]);
    }

    #[test]
    fn an_append_after_the_team_is_rewritten_in_the_same_document_is_kept() {
        let ann = append("/team/-", "ann@x.com");
        let cleared = PatchOp::new(OpKind::Replace, "/team", &json!([]));
        let ops = vec![cleared.clone(), ann.clone()];
        assert_eq!(pending_ops(&referral(), &ops), ops);
        let renamed = PatchOp::new(OpKind::Replace, "/team/0/email", &json!("zed@x.com"));
        let ops = vec![renamed, ann.clone()];
        assert_eq!(pending_ops(&referral(), &ops), ops);
        // A rewrite after it, or of another team, does not change what it lands in.
        let notes = PatchOp::new(OpKind::Replace, "/details/notes", &json!("n"));
        let ops = vec![notes.clone(), ann, cleared.clone()];
        assert_eq!(pending_ops(&referral(), &ops), vec![notes, cleared]);
    }

    #[test]
    fn an_append_that_a_later_operation_counts_on_by_index_is_kept() {
        // Ann is member 0: without the insert, /team/1 would be Ann, not the one inserted
        // before her.
        let insert_ann = append("/team/0", "ann@x.com");
        let phone = PatchOp::new(OpKind::Replace, "/team/1/phoneNumber", &json!("+1 425"));
        let ops = vec![insert_ann.clone(), phone.clone()];
        assert_eq!(pending_ops(&referral(), &ops), ops);
        // Appended at 1: /team/1 names the appended member, which must exist.
        let ann = append("/team/-", "ann@x.com");
        let email = PatchOp::new(OpKind::Replace, "/team/1/email", &json!("a@x.com"));
        let ops = vec![ann.clone(), email];
        assert_eq!(pending_ops(&referral(), &ops), ops);
        // An index of the other team changes nothing.
        let customer = PatchOp::new(
            OpKind::Replace,
            "/customerProfile/team/0/email",
            &json!("c@y.com"),
        );
        let ops = vec![ann.clone(), customer.clone()];
        assert_eq!(pending_ops(&referral(), &ops), vec![customer]);
    }

    #[test]
    fn other_arrays_and_replaces_are_never_dropped() {
        let target = PatchOp::new(OpKind::Add, "/target/-", &json!({"email": "ann@x.com"}));
        let replace = PatchOp::new(OpKind::Replace, "/team", &json!([{"email": "ann@x.com"}]));
        let ops = vec![target, replace];
        assert_eq!(pending_ops(&referral(), &ops), ops);
    }

    #[test]
    fn a_referral_without_a_team_keeps_the_append() {
        let ops = vec![append("/team/-", "ann@x.com")];
        assert_eq!(pending_ops(&json!({}), &ops), ops);
    }
}
