//! `--generate N`: synthetic referrals for load tests and benchmarks, as complete as the
//! built-in sample (every member a documented patch path needs is there).
//!
//! Everything, the GUID IDs included, comes from one generator seeded by N and the fault
//! seed, so a benchmark's input file written against one run's IDs fits the next run. The
//! draws from that generator are fixed in number and order ([`Draw`]): the members added
//! since the IDs were first published take their variety from [`Extras`] instead, so that
//! adding them changed no ID.

use chrono::{DateTime, SecondsFormat};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};
use uuid::Uuid;

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

/// A kind of deal, with the product and solution its requirements name (as in the sample).
struct Project {
    name: &'static str,
    product: &'static str,
    solution_id: &'static str,
    solution_name: &'static str,
}

/// The order matters: a referral's project is drawn by index.
const PROJECTS: &[Project] = &[
    Project {
        name: "Azure migration",
        product: "azure-migration",
        solution_id: "262f416b-855b-42d5-8fb9-85801f76bb70",
        solution_name: "Azure Migrate",
    },
    Project {
        name: "Microsoft 365 rollout",
        product: "microsoft-365",
        solution_id: "05389d1c-b618-42d3-9c51-57eea5d7c044",
        solution_name: "Microsoft 365 E5",
    },
    Project {
        name: "Dynamics 365 Sales",
        product: "dynamics-365",
        solution_id: "36b6f58d-c65e-4f80-ba20-86cbf470aeb9",
        solution_name: "Dynamics 365 Sales",
    },
    Project {
        name: "Fabric analytics",
        product: "data-analytics",
        solution_id: "3f011448-1e93-4479-9529-044b973679a1",
        solution_name: "Microsoft Fabric",
    },
    Project {
        name: "Security assessment",
        product: "security",
        solution_id: "94177f9d-8370-47f5-b9d6-a75a1a753bc5",
        solution_name: "Microsoft Sentinel",
    },
    Project {
        name: "Copilot pilot",
        product: "copilot",
        solution_id: "1d26bf66-72dc-462b-83ba-c5b526f6a5e7",
        solution_name: "Microsoft 365 Copilot",
    },
];
const INDUSTRIES: &[&str] = &[
    "Education",
    "FinancialServices",
    "Government",
    "Healthcare",
    "Manufacturing",
    "Media",
    "ProfessionalServices",
    "Retail",
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
/// The partner organisation every referral belongs to (the sample's).
const ORGANIZATION_ID: &str = "4f1c2b7e-93a5-4d0e-8c61-2a9d7e3b5f10";
const ORGANIZATION_NAME: &str = "Adventure Works Cloud Services";
/// 2026-01-01T00:00:00Z: generated referrals were created in the hours after it.
const EPOCH: i64 = 1_767_225_600;
const DAY: i64 = 86_400;
/// A referral expires this many days after the day it was created.
const EXPIRES_AFTER_DAYS: i64 = 181;

/// `n` referrals whose IDs and contents are fixed by `(n, fault_seed)`.
pub fn referrals(n: usize, fault_seed: u64) -> Vec<Value> {
    draws(n, fault_seed)
        .enumerate()
        .map(|(i, draw)| referral(i, &draw))
        .collect()
}

/// The IDs of [`referrals`]`(n, fault_seed)`, in the same order, without building the
/// referrals: what a benchmark's input generator writes its rows against.
pub fn ids(n: usize, fault_seed: u64) -> impl Iterator<Item = String> {
    draws(n, fault_seed).map(|draw| draw.id.to_string())
}

/// The draws of the referrals of [`referrals`], one referral at a time.
fn draws(n: usize, fault_seed: u64) -> impl Iterator<Item = Draw> {
    let mix = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut rng = StdRng::seed_from_u64(fault_seed ^ mix);
    (0..n).map(move |_| Draw::take(&mut rng))
}

/// What the shared generator decides for one referral. The draws are taken in this order
/// and no other: every later referral's ID depends on it.
struct Draw {
    company: &'static str,
    kind: &'static str,
    project: &'static Project,
    state: (&'static str, &'static str),
    id: Uuid,
    engagement: Uuid,
    deal_value: u32,
    closing_days: i64,
}

impl Draw {
    fn take(rng: &mut StdRng) -> Draw {
        let company = COMPANIES[rng.random_range(0..COMPANIES.len())];
        let kind = KINDS[rng.random_range(0..KINDS.len())];
        let project = &PROJECTS[rng.random_range(0..PROJECTS.len())];
        let state = state(rng);
        let id = guid(rng);
        let engagement = guid(rng);
        let deal_value = rng.random_range(5..500u32) * 1000;
        let closing_days = rng.random_range(30..365i64);
        Draw {
            company,
            kind,
            project,
            state,
            id,
            engagement,
            deal_value,
            closing_days,
        }
    }
}

/// Variety for the members that do not draw from the shared generator: a splitmix64
/// stream seeded from the referral's engagement ID, so it still follows N and the seed.
struct Extras(u64);

impl Extras {
    fn new(seed: Uuid) -> Extras {
        let bits = seed.as_u128();
        Extras((bits >> 64) as u64 ^ bits as u64)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0; the bias of a modulo is of no concern here).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

fn guid(rng: &mut StdRng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
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

fn referral(i: usize, draw: &Draw) -> Value {
    let mut extras = Extras::new(draw.engagement);
    let company = format!("{} {}", draw.company, draw.kind);
    let project = draw.project;
    let (status, substatus) = draw.state;
    let created_at = EPOCH + i as i64 * 60;
    let created = timestamp(created_at);
    let mut referral = json!({
        "id": draw.id.to_string(),
        "engagementId": draw.engagement.to_string(),
        "organizationId": ORGANIZATION_ID,
        "organizationName": ORGANIZATION_NAME,
        "name": format!("{company} - {}", project.name),
        "externalReferenceId": format!("OPP-{}", 100_000 + i),
        "createdDateTime": created,
        "updatedDateTime": created,
        "status": status,
        "substatus": substatus,
        "qualification": "SalesQualified",
        "type": "Shared",
        "expirationDateTime": timestamp((created_at / DAY + EXPIRES_AFTER_DAYS) * DAY),
        "customerProfile": customer_profile(i, &company, &mut extras),
        "consent": {
            "consentToShareInfoWithOthers": extras.below(2) == 0,
            "consentToContact": true,
        },
        "details": details(draw, &mut extras),
        "team": [member("Megan", "Bowen", "megan.bowen@adventure-works.com".into(), "+1 425 555 1000")],
        "inviteContext": {"notes": invite_notes(&mut extras)},
        "target": [],
    });
    add_outcome(&mut referral, draw.state, created_at, &mut extras);
    referral
}

fn customer_profile(i: usize, company: &str, extras: &mut Extras) -> Value {
    let domain = company.to_lowercase().replace(' ', "") + ".example";
    json!({
        "name": company,
        "size": "100-999",
        "address": {
            "addressLine1": format!("{} Main Street", 100 + i % 900),
            "city": "Seattle",
            "state": "WA",
            "postalCode": "98101",
            "country": "US",
        },
        "team": [member("Sam", "Rivera", format!("sam.rivera@{domain}"), "+1 555 0100")],
        "ids": [{
            "duns": format!("{:09}", extras.below(1_000_000_000)),
            "external": format!("ACCT-{}", 5000 + i),
        }],
    })
}

fn member(first: &str, last: &str, email: String, phone: &str) -> Value {
    json!({
        "firstName": first,
        "lastName": last,
        "email": email,
        "phoneNumber": phone,
        "contactPreference": {"locale": "en-US", "disableNotifications": false},
    })
}

fn details(draw: &Draw, extras: &mut Extras) -> Value {
    let project = draw.project;
    json!({
        "notes": project.name,
        "dealValue": draw.deal_value,
        "currency": "USD",
        "closingDateTime": timestamp(EPOCH + draw.closing_days * DAY),
        "requirements": {
            "industries": [{"id": extras.pick(INDUSTRIES)}],
            "products": [{"id": project.product}],
            "services": [],
            "solutions": [{
                "id": project.solution_id,
                "name": project.solution_name,
                "type": "Solution",
            }],
        },
    })
}

fn invite_notes(extras: &mut Extras) -> &'static str {
    match extras.below(4) {
        0 => "Referred by the Microsoft account team",
        _ => "",
    }
}

/// What the sample's referrals carry once they moved on from New: when they were
/// accepted, and for a Closed one, why.
fn add_outcome(
    referral: &mut Value,
    (status, substatus): (&str, &str),
    created_at: i64,
    extras: &mut Extras,
) {
    let Some(fields) = referral.as_object_mut() else {
        return;
    };
    if status == "New" {
        return;
    }
    let accepted = created_at + 3600 + extras.below(14 * DAY as u64) as i64;
    fields.insert("acceptedDateTime".into(), timestamp(accepted).into());
    if status == "Closed" {
        fields.insert("statusReason".into(), status_reason(substatus).into());
    }
}

fn status_reason(substatus: &str) -> &'static str {
    match substatus {
        "Won" => "Customer signed a three-year agreement",
        "Lost" => "Customer chose a competing partner",
        "Declined" => "Outside our delivery regions",
        _ => "No response from the customer before expiry",
    }
}

fn timestamp(seconds: i64) -> String {
    DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashSet};

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

    /// IDs other runs (and benchmark inputs) were written against: they must never move.
    #[test]
    fn ids_and_drawn_fields_are_those_published_before() {
        assert_eq!(
            super::ids(3, 0).collect::<Vec<_>>(),
            [
                "7f44cfdc-4d52-44d1-b552-b3dc908e1619",
                "c568f70b-671f-48a4-93c3-6799b6697384",
                "4b3a3c88-5341-41a5-979c-37e844e5486a"
            ]
        );
        assert_eq!(
            super::ids(3, 42).collect::<Vec<_>>(),
            [
                "d37b6da1-9e62-453d-b6b9-6cd9d037c4c1",
                "0da96e1a-7800-4ec1-b586-c79558b63928",
                "745ae405-c1d1-4a44-bbc7-f11b8560848f"
            ]
        );
        let all = referrals(1000, 7);
        assert_eq!(all[499]["id"], "5de2e5e7-467b-490a-b46e-73b66a516367");
        let last = &all[999];
        assert_eq!(last["id"], "bdc57c62-7d92-4135-bb0d-18b8eb8efa4c");
        assert_eq!(last["engagementId"], "649140dd-a89a-4f3e-9146-c50ceb57d6a6");
        assert_eq!(last["name"], "Wingtip Logistics - Azure migration");
        assert_eq!(last["externalReferenceId"], "OPP-100999");
        assert_eq!(
            (&last["status"], &last["substatus"]),
            (&json!("Active"), &json!("Accepted"))
        );
        assert_eq!(last["details"]["dealValue"], 290000);
        assert_eq!(last["details"]["closingDateTime"], "2026-12-04T00:00:00Z");
        assert_eq!(last["createdDateTime"], "2026-01-01T16:39:00Z");
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

    /// Every member path in `value`, array elements written `*`.
    fn shape(value: &Value, at: String, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(fields) => {
                for (name, child) in fields {
                    let path = format!("{at}/{name}");
                    shape(child, path.clone(), out);
                    out.insert(path);
                }
            }
            Value::Array(items) => {
                for item in items {
                    shape(item, format!("{at}/*"), out);
                }
            }
            _ => {}
        }
    }

    fn shape_of(value: &Value) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        shape(value, String::new(), &mut out);
        out
    }

    /// The store gives every referral its `eTag`; everything else a sample referral has, a
    /// generated one has too.
    #[test]
    fn generated_referrals_have_every_member_each_sample_referral_has() {
        let samples = super::super::seed::parse("sample", super::super::seed::SAMPLE).unwrap();
        let common = samples
            .iter()
            .map(shape_of)
            .reduce(|a, b| a.intersection(&b).cloned().collect())
            .unwrap();
        let common: BTreeSet<String> = common.into_iter().filter(|p| p != "/eTag").collect();
        for path in [
            "/consent/consentToContact",
            "/details/requirements/solutions/*/type",
        ] {
            assert!(common.contains(path), "{path}");
        }
        for referral in referrals(300, 11) {
            let has = shape_of(&referral);
            let missing: Vec<_> = common.difference(&has).collect();
            assert!(missing.is_empty(), "{} lacks {missing:?}", referral["id"]);
        }
    }

    #[test]
    fn closed_ones_say_why_and_only_new_ones_lack_an_acceptance_time() {
        for r in referrals(500, 3) {
            assert_eq!(r.get("acceptedDateTime").is_some(), r["status"] != "New");
            assert_eq!(r.get("statusReason").is_some(), r["status"] == "Closed");
        }
    }

    #[test]
    fn every_documented_patch_path_applies_to_a_generated_referral() {
        use super::super::patch;
        let referral = referrals(20, 5)
            .into_iter()
            .find(|r| r["status"] == "Active")
            .unwrap();
        let member = json!({"email": "x@y.z"});
        let ops = json!([
            {"op": "replace", "path": "/name", "value": "n"},
            {"op": "replace", "path": "/externalReferenceId", "value": "e"},
            {"op": "replace", "path": "/qualification", "value": "Direct"},
            {"op": "replace", "path": "/type", "value": "Independent"},
            {"op": "replace", "path": "/expirationDateTime", "value": "2027-01-01T00:00:00Z"},
            {"op": "replace", "path": "/customerProfile/name", "value": "c"},
            {"op": "replace", "path": "/customerProfile/size", "value": "1-9"},
            {"op": "replace", "path": "/customerProfile/address/addressLine1", "value": "a"},
            {"op": "replace", "path": "/customerProfile/address/state", "value": "s"},
            {"op": "replace", "path": "/customerProfile/address/postalCode", "value": "p"},
            {"op": "add", "path": "/customerProfile/team/-", "value": member},
            {"op": "replace", "path": "/customerProfile/team/0/contactPreference/locale", "value": "en-GB"},
            {"op": "replace", "path": "/customerProfile/ids/0/duns", "value": "1"},
            {"op": "replace", "path": "/consent/consentToShareInfoWithOthers", "value": true},
            {"op": "replace", "path": "/consent/consentToContact", "value": false},
            {"op": "replace", "path": "/details/notes", "value": "n"},
            {"op": "replace", "path": "/details/dealValue", "value": "10000"},
            {"op": "replace", "path": "/details/currency", "value": "EUR"},
            {"op": "replace", "path": "/details/closingDateTime", "value": "2027-01-01T00:00:00Z"},
            {"op": "add", "path": "/details/requirements/industries/-", "value": {"id": "Retail"}},
            {"op": "add", "path": "/details/requirements/products/-", "value": {"id": "copilot"}},
            {"op": "add", "path": "/details/requirements/services/-", "value": {"id": "s"}},
            {"op": "replace", "path": "/details/requirements/solutions/0/name", "value": "x"},
            {"op": "add", "path": "/team/-", "value": member},
            {"op": "replace", "path": "/team/0/phoneNumber", "value": "1"},
            {"op": "replace", "path": "/inviteContext/notes", "value": "n"},
            {"op": "add", "path": "/target/-", "value": {"type": "SolutionProfile", "id": "t"}},
            {"op": "replace", "path": "/status", "value": "Closed"},
            {"op": "replace", "path": "/substatus", "value": "Won"},
            {"op": "add", "path": "/statusReason", "value": "r"},
        ]);
        let document = patch::parse(&serde_json::to_vec(&ops).unwrap()).unwrap();
        let patched = patch::apply(&referral, &document).unwrap();
        assert_eq!(patched["consent"]["consentToContact"], false);
        assert_eq!(patched["target"][0]["id"], "t");
    }
}
