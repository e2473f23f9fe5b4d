//! `--generate N`: synthetic referrals for load tests and benchmarks.
//!
//! Everything, the GUID IDs included, comes from one generator seeded by N and the fault
//! seed, so a benchmark's input file written against one run's IDs fits the next run.

use chrono::{DateTime, SecondsFormat};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

const COMPANIES: &[&str] = &[
    "Contoso",
    "Fabrikam",
    "Northwind",
    "Tailspin",
    "Woodgrove",
    "Litware",
    "Adatum",
    "Proseware",
    "Wingtip",
    "Relecloud",
    "Lamna",
    "Coho",
    "Humongous",
    "VanArsdel",
];
const KINDS: &[&str] = &[
    "Holdings",
    "Retail",
    "Logistics",
    "Health",
    "Energy",
    "Labs",
];
const PROJECTS: &[&str] = &[
    "Azure migration",
    "Microsoft 365 rollout",
    "Dynamics 365 Sales",
    "Fabric analytics",
    "Security assessment",
    "Copilot pilot",
];
/// (status, substatus) with weights: mostly open referrals, which updates can move.
const STATES: &[(&str, &str, u32)] = &[
    ("New", "Pending", 25),
    ("New", "Received", 20),
    ("Active", "Accepted", 20),
    ("Active", "Engaged", 25),
    ("Closed", "Won", 4),
    ("Closed", "Lost", 3),
    ("Closed", "Declined", 2),
    ("Closed", "Expired", 1),
];
/// 2026-01-01T00:00:00Z: generated referrals were created in the hours after it.
const EPOCH: i64 = 1_767_225_600;

/// `n` referrals whose IDs and contents are fixed by `(n, fault_seed)`.
pub fn referrals(n: usize, fault_seed: u64) -> Vec<Value> {
    stream(n, fault_seed).collect()
}

/// The IDs of [`referrals`]`(n, fault_seed)`, in the same order, without holding the
/// referrals: what a benchmark's input generator writes its rows against.
pub fn ids(n: usize, fault_seed: u64) -> impl Iterator<Item = String> {
    stream(n, fault_seed).map(|mut referral| match referral["id"].take() {
        Value::String(id) => id,
        _ => String::new(),
    })
}

/// The referrals of [`referrals`], built one at a time.
fn stream(n: usize, fault_seed: u64) -> impl Iterator<Item = Value> {
    let mix = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut rng = StdRng::seed_from_u64(fault_seed ^ mix);
    (0..n).map(move |i| referral(i, &mut rng))
}

fn guid(rng: &mut StdRng) -> String {
    uuid::Builder::from_random_bytes(rng.random())
        .into_uuid()
        .to_string()
}

fn state(rng: &mut StdRng) -> (&'static str, &'static str) {
    let total: u32 = STATES.iter().map(|s| s.2).sum();
    let mut pick = rng.random_range(0..total);
    for &(status, substatus, weight) in STATES {
        if pick < weight {
            return (status, substatus);
        }
        pick -= weight;
    }
    ("New", "Pending")
}

fn referral(i: usize, rng: &mut StdRng) -> Value {
    let company = format!(
        "{} {}",
        COMPANIES[rng.random_range(0..COMPANIES.len())],
        KINDS[rng.random_range(0..KINDS.len())]
    );
    let project = PROJECTS[rng.random_range(0..PROJECTS.len())];
    let (status, substatus) = state(rng);
    let created = timestamp(EPOCH + i as i64 * 60);
    let domain = company.to_lowercase().replace(' ', "") + ".example";
    json!({
        "id": guid(rng),
        "engagementId": guid(rng),
        "organizationName": "Adventure Works Cloud Services",
        "name": format!("{company} - {project}"),
        "externalReferenceId": format!("OPP-{}", 100_000 + i),
        "createdDateTime": created,
        "updatedDateTime": created,
        "status": status,
        "substatus": substatus,
        "qualification": "SalesQualified",
        "type": "Shared",
        "customerProfile": {
            "name": company,
            "size": "100-999",
            "address": {"city": "Seattle", "country": "US"},
            "team": [{"firstName": "Sam", "lastName": "Rivera", "email": format!("sam.rivera@{domain}")}],
        },
        "details": details(project, rng),
        "team": [{"firstName": "Megan", "lastName": "Bowen", "email": "megan.bowen@adventure-works.com"}],
    })
}

fn details(project: &str, rng: &mut StdRng) -> Value {
    let deal_value = rng.random_range(5..500u32) * 1000;
    json!({
        "notes": project,
        "dealValue": deal_value,
        "currency": "USD",
        "closingDateTime": timestamp(EPOCH + rng.random_range(30..365i64) * 86_400),
    })
}

fn timestamp(seconds: i64) -> String {
    DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn ids(n: usize, seed: u64) -> Vec<String> {
        referrals(n, seed)
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn ids_are_distinct_guids_fixed_by_n_and_seed() {
        let a = ids(200, 1);
        assert_eq!(a, ids(200, 1));
        assert_ne!(a, ids(200, 2));
        assert_ne!(a[..10], ids(10, 1)[..]);
        assert_eq!(a.iter().collect::<HashSet<_>>().len(), 200);
        assert!(a.iter().all(|id| uuid::Uuid::parse_str(id).is_ok()));
    }

    #[test]
    fn ids_match_the_generated_referrals() {
        assert_eq!(super::ids(300, 4).collect::<Vec<_>>(), ids(300, 4));
    }

    #[test]
    fn generated_referrals_are_mostly_open_and_fit_the_schema_pairs() {
        let all = referrals(500, 9);
        let open = all.iter().filter(|r| r["status"] != "Closed").count();
        assert!(open > 400, "{open}");
        for r in &all {
            let (s, sub) = (
                r["status"].as_str().unwrap(),
                r["substatus"].as_str().unwrap(),
            );
            assert!(crate::schema::transitions::pair_allowed(s, sub));
        }
    }
}
