//! Test referrals with known IDs and statuses, and an independent JSON Patch applier to
//! compute the state an update file should leave.

use serde_json::{Map, Value, json};

/// The ID of test referral `n`.
pub fn id(n: usize) -> String {
    format!("7e57{n:04x}-0000-4000-8000-000000000000")
}

/// `count` referrals: even ones New/Pending, odd ones Active/Engaged, the last Closed/Won.
pub fn referrals(count: usize) -> Vec<Value> {
    (0..count)
        .map(|n| {
            let (status, substatus) = match n {
                n if n + 1 == count && count > 2 => ("Closed", "Won"),
                n if n % 2 == 0 => ("New", "Pending"),
                _ => ("Active", "Engaged"),
            };
            json!({
                "id": id(n),
                "name": format!("Deal {n}"),
                "externalReferenceId": format!("OPP-{n}"),
                "status": status,
                "substatus": substatus,
                "eTag": format!("\"seed-{n}\""),
                "createdDateTime": "2026-01-01T00:00:00Z",
                "updatedDateTime": "2026-01-01T00:00:00Z",
                "details": {"dealValue": 1000, "currency": "USD", "notes": "", "closingDateTime": "2026-06-30T00:00:00Z"},
                "team": [{"email": "owner@contoso.com", "firstName": "Owner"}]
            })
        })
        .collect()
}

/// The referrals as a JSONL seed file's text.
pub fn seed_text(referrals: &[Value]) -> String {
    referrals.iter().map(|r| format!("{r}\n")).collect()
}

/// Applies `replace`/`add` operations the way RFC 6902 says, written independently of the
/// `json-patch` crate the emulator uses.
pub fn apply(doc: &mut Value, op: &str, path: &str, value: Value) {
    let tokens: Vec<String> = path[1..]
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    let (last, parents) = tokens.split_last().expect("non-empty path");
    let mut target = doc;
    for token in parents {
        target = match target {
            Value::Array(items) => &mut items[token.parse::<usize>().expect("index")],
            Value::Object(map) => map.get_mut(token).expect("parent exists"),
            _ => panic!("cannot descend into a scalar"),
        };
    }
    match target {
        Value::Array(items) if last == "-" => items.push(value),
        Value::Array(items) => {
            let i: usize = last.parse().expect("index");
            if op == "add" {
                items.insert(i, value);
            } else {
                items[i] = value;
            }
        }
        Value::Object(map) => {
            assert!(
                op == "add" || map.contains_key(last.as_str()),
                "replace needs a target"
            );
            map.insert(last.clone(), value);
        }
        _ => panic!("cannot set a member of a scalar"),
    }
}

/// A referral without the fields every write changes, for comparing states.
pub fn without_write_stamps(referral: &Value) -> Value {
    let mut map: Map<String, Value> = referral.as_object().cloned().unwrap_or_default();
    map.remove("eTag");
    map.remove("updatedDateTime");
    Value::Object(map)
}
