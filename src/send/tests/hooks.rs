//! The ledger's hooks (request IDs made durable before each PATCH, reused on a resume,
//! in-flight documents verified first) and appends of members already in the team.

use super::*;
use crate::outcome::{Note, Outcome};
use crate::send::{PatchCall, RunControl, SendHooks};
use uuid::Uuid;

/// A ledger stand-in: a fixed resume state, and every `before_patch` call recorded.
#[derive(Default)]
struct Recording {
    reuse: Option<Uuid>,
    reused_if_match: Option<String>,
    in_flight: bool,
    refuse: bool,
    earlier_before: Option<Value>,
    earlier_sent: u32,
    calls: Mutex<Vec<(usize, Uuid, Option<String>)>>,
    befores: Mutex<Vec<Option<Value>>>,
    sent_before: Mutex<Vec<u32>>,
    not_sent: Mutex<Vec<(usize, Uuid)>>,
}

impl SendHooks for Recording {
    fn request_id(&self, _entry: usize) -> Option<Uuid> {
        self.reuse
    }

    fn earlier_if_match(&self, _entry: usize) -> Option<String> {
        self.reused_if_match.clone()
    }

    fn was_in_flight(&self, _entry: usize) -> bool {
        self.in_flight
    }

    fn earlier_undo_before(&self, _entry: usize) -> Option<Value> {
        self.earlier_before.clone()
    }

    fn earlier_sent(&self, _entry: usize) -> u32 {
        self.earlier_sent
    }

    fn before_patch(&self, entry: usize, call: &PatchCall<'_>) -> Result<(), String> {
        let seen = (entry, call.request_id, call.if_match.map(str::to_string));
        self.calls.lock().expect("lock").push(seen);
        self.befores
            .lock()
            .expect("lock")
            .push(call.undo_before.cloned());
        self.sent_before
            .lock()
            .expect("lock")
            .push(call.sent_before);
        if self.refuse {
            return Err("disk full".into());
        }
        Ok(())
    }

    fn patch_not_sent(&self, entry: usize, request_id: Uuid) -> Result<(), String> {
        self.not_sent
            .lock()
            .expect("lock")
            .push((entry, request_id));
        Ok(())
    }
}

fn control(hooks: Arc<Recording>) -> RunControl {
    RunControl {
        hooks,
        ..RunControl::default()
    }
}

fn team(emails: &[&str]) -> Value {
    let members: Vec<Value> = emails.iter().map(|e| json!({"email": e})).collect();
    json!({"status": "Active", "substatus": "Engaged", "details": {"notes": "old"}, "team": members})
}

#[tokio::test(start_paused = true)]
async fn before_patch_sees_the_request_id_and_if_match_of_every_patch_call() {
    let hooks = Arc::new(Recording::default());
    let stale = with_body(412, json!({"code": "precondition_failed"}));
    let answers = vec![stale, referral("\"e2\"", team(&[])), status(204)];
    let script = Scripted::new(&[("r1", answers)]);
    let mut doc = replace_doc("r1");
    doc.if_match = Some("\"e1\"".into());
    let options = SendOptions {
        on_conflict: ConflictPolicy::Refetch,
        ..options()
    };
    let ran = run_controlled(&options, script.clone(), control(hooks.clone()), vec![doc]).await;
    assert_eq!(ran.one().outcome, Outcome::Updated);
    let calls = hooks.calls.lock().expect("lock").clone();
    let patches = script.patches();
    assert_eq!(calls.len(), 2);
    for (call, seen) in calls.iter().zip(&patches) {
        assert_eq!(call.1.to_string(), seen.header("MS-RequestId").expect("id"));
        assert_eq!(call.2, seen.header("If-Match"));
    }
}

#[tokio::test(start_paused = true)]
async fn a_resumed_document_reuses_the_ledgers_request_id() {
    let reuse = Uuid::new_v4();
    let hooks = Arc::new(Recording {
        reuse: Some(reuse),
        ..Recording::default()
    });
    let script = Scripted::new(&[("r1", vec![status(503), status(204)])]);
    let options = options();
    let ran = run_controlled(
        &options,
        script.clone(),
        control(hooks),
        vec![replace_doc("r1")],
    );
    assert_eq!(ran.await.one().request_id, Some(reuse));
    for seen in script.patches() {
        assert_eq!(seen.header("MS-RequestId"), Some(reuse.to_string()));
    }
}

#[tokio::test(start_paused = true)]
async fn an_in_flight_document_already_applied_is_verified_without_a_patch() {
    let hooks = Arc::new(Recording {
        in_flight: true,
        ..Recording::default()
    });
    let script = Scripted::new(&[("r1", vec![referral("\"e9\"", team(&["new@x.com"]))])]);
    let options = options();
    let ran = run_controlled(
        &options,
        script.clone(),
        control(hooks),
        vec![append_doc("r1")],
    );
    let ran = ran.await;
    let result = ran.one();
    assert_eq!(
        (result.outcome, result.note),
        (Outcome::Updated, Some(Note::Verified))
    );
    assert_eq!(result.etag_after.as_deref(), Some("\"e9\""));
    assert!(script.patches().is_empty());
}

#[tokio::test(start_paused = true)]
async fn under_undo_the_referral_read_goes_to_the_ledger_and_comes_back_on_a_resume() {
    let read = team(&[]);
    let hooks = Arc::new(Recording::default());
    let script = Scripted::new(&[("r1", vec![referral("\"e1\"", read.clone()), status(204)])]);
    let undo = RunControl {
        read_before: true,
        ..control(Arc::clone(&hooks))
    };
    run_controlled(&options(), script, undo, vec![append_doc("r1")]).await;
    let befores = hooks.befores.lock().expect("lock").clone();
    let teams: Vec<_> = befores
        .iter()
        .map(|b| b.as_ref().map(|b| &b["team"]))
        .collect();
    assert_eq!(teams, [Some(&read["team"])], "recorded before the PATCH");
    // The resume finds that PATCH applied: its undo line puts back what was read then.
    let resumed = Arc::new(Recording {
        in_flight: true,
        earlier_before: Some(read.clone()),
        ..Recording::default()
    });
    let applied = referral("\"e2\"", team(&["new@x.com"]));
    let script = Scripted::new(&[("r1", vec![applied])]);
    let undo = RunControl {
        read_before: true,
        ..control(resumed)
    };
    let ran = run_controlled(&options(), script, undo, vec![append_doc("r1")]).await;
    let result = ran.one();
    assert_eq!(result.note, Some(Note::Verified));
    assert_eq!(result.before.as_ref(), Some(&read));
}

#[tokio::test(start_paused = true)]
async fn under_undo_an_answer_without_an_etag_is_followed_by_a_read_for_it() {
    let options = options();
    let undo = || RunControl {
        read_before: true,
        ..control(Arc::new(Recording::default()))
    };
    // A bare 204, as the API's own example shows: the referral read after gives the ETag
    // that guards the undo line.
    let after = referral("\"e2\"", team(&["new@x.com"]));
    let script = Scripted::new(&[(
        "r1",
        vec![referral("\"e1\"", team(&[])), status(204), after],
    )]);
    let ran = run_controlled(&options, script, undo(), vec![append_doc("r1")]).await;
    assert_eq!(ran.one().outcome, Outcome::Updated);
    assert_eq!(ran.one().etag_after.as_deref(), Some("\"e2\""));
    // Read after another writer took the change away: its ETag guards nothing of ours.
    let gone = referral("\"e3\"", team(&[]));
    let script = Scripted::new(&[("r1", vec![referral("\"e1\"", team(&[])), status(204), gone])]);
    let ran = run_controlled(&options, script, undo(), vec![append_doc("r1")]).await;
    assert_eq!(ran.one().etag_after, None);
}

#[tokio::test(start_paused = true)]
async fn an_in_flight_document_not_applied_is_sent_with_the_same_request_id() {
    let reuse = Uuid::new_v4();
    let hooks = Arc::new(Recording {
        reuse: Some(reuse),
        reused_if_match: Some("\"e1\"".into()),
        in_flight: true,
        ..Recording::default()
    });
    let answers = vec![referral("\"e1\"", team(&[])), status(204)];
    let script = Scripted::new(&[("r1", answers)]);
    let options = options();
    let ran = run_controlled(
        &options,
        script.clone(),
        control(hooks),
        vec![append_doc("r1")],
    );
    let ran = ran.await;
    assert_eq!(
        (ran.one().outcome, ran.one().note),
        (Outcome::Updated, None)
    );
    let patch = &script.patches()[0];
    assert_eq!(patch.header("MS-RequestId"), Some(reuse.to_string()));
    assert_eq!(patch.header("If-Match").as_deref(), Some("\"e1\""));
}

#[tokio::test(start_paused = true)]
async fn a_resumed_documents_attempts_count_the_patches_of_earlier_runs() {
    let in_flight = |earlier_sent| {
        Arc::new(Recording {
            in_flight: true,
            earlier_sent,
            ..Recording::default()
        })
    };
    // Not applied: sent again, after the two that earlier runs sent.
    let hooks = in_flight(2);
    let answers = vec![referral("\"e1\"", team(&[])), status(204)];
    let script = Scripted::new(&[("r1", answers)]);
    let options = options();
    let resumed = control(Arc::clone(&hooks));
    let ran = run_controlled(&options, script, resumed, vec![append_doc("r1")]).await;
    assert_eq!(
        (ran.one().outcome, ran.one().attempts),
        (Outcome::Updated, 3)
    );
    assert_eq!(*hooks.sent_before.lock().expect("lock"), [2]);
    // Found applied: no PATCH now, the earlier one counted.
    let applied = referral("\"e9\"", team(&["new@x.com"]));
    let script = Scripted::new(&[("r1", vec![applied])]);
    let ran = run_controlled(
        &options,
        script,
        control(in_flight(2)),
        vec![append_doc("r1")],
    );
    let ran = ran.await;
    assert_eq!(
        (ran.one().note, ran.one().attempts),
        (Some(Note::Verified), 2)
    );
}

#[tokio::test(start_paused = true)]
async fn an_in_flight_document_sent_with_another_if_match_gets_a_new_request_id() {
    let reuse = Uuid::new_v4();
    let hooks = Arc::new(Recording {
        reuse: Some(reuse),
        reused_if_match: Some("\"e0\"".into()),
        in_flight: true,
        ..Recording::default()
    });
    // Someone else wrote since: the referral's ETag is no longer the one sent before.
    let answers = vec![referral("\"e1\"", team(&[])), status(204)];
    let script = Scripted::new(&[("r1", answers)]);
    let options = options();
    let ran = run_controlled(
        &options,
        script.clone(),
        control(hooks),
        vec![append_doc("r1")],
    );
    assert_eq!(ran.await.one().outcome, Outcome::Updated);
    let patch = &script.patches()[0];
    assert_eq!(patch.header("If-Match").as_deref(), Some("\"e1\""));
    assert_ne!(patch.header("MS-RequestId"), Some(reuse.to_string()));
}

#[tokio::test(start_paused = true)]
async fn a_hook_that_cannot_record_stops_the_run_before_the_patch() {
    let hooks = Arc::new(Recording {
        refuse: true,
        ..Recording::default()
    });
    let script = Scripted::new(&[("r1", vec![status(204)])]);
    let options = options();
    let ran = run_controlled(
        &options,
        script.clone(),
        control(hooks),
        vec![replace_doc("r1")],
    );
    let ran = ran.await;
    assert!(matches!(ran.stats, Err(SendError::Hook(_))));
    assert!(script.patches().is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_append_of_a_member_already_in_the_team_is_unchanged_and_not_sent() {
    let script = Scripted::new(&[("r1", vec![referral("\"e1\"", team(&["NEW@x.com"]))])]);
    let ran = run(&options(), script.clone(), vec![append_doc("r1")]).await;
    assert_eq!(
        (ran.one().outcome, ran.one().attempts),
        (Outcome::Unchanged, 0)
    );
    assert!(script.patches().is_empty());
}

#[tokio::test(start_paused = true)]
async fn only_the_members_not_yet_in_the_team_and_the_other_ops_are_sent() {
    let doc = doc(
        "r1",
        vec![
            op(OpKind::Add, "/team/-", json!({"email": "old@x.com"})),
            op(OpKind::Add, "/team/-", json!({"email": "fresh@x.com"})),
            op(OpKind::Replace, "/details/notes", json!("new")),
        ],
    );
    let answers = vec![referral("\"e1\"", team(&["Old@X.com"])), status(204)];
    let script = Scripted::new(&[("r1", answers)]);
    let ran = run(&options(), script.clone(), vec![doc]).await;
    assert_eq!(ran.one().outcome, Outcome::Updated);
    let body: Value =
        serde_json::from_slice(script.patches()[0].request.body.as_deref().expect("body"))
            .expect("json");
    assert_eq!(
        body,
        json!([
            {"op": "add", "path": "/team/-", "value": {"email": "fresh@x.com"}},
            {"op": "replace", "path": "/details/notes", "value": "new"}
        ])
    );
}

/// Runs `answers` for r1 and drains the run after `drain_at`, permits 100 ms apart.
async fn drained(hooks: Arc<Recording>, answers: Vec<Answer>, drain_at: u64) -> Arc<Scripted> {
    let stop = crate::send::Stop::new();
    let control = RunControl {
        stop: stop.clone(),
        hooks: hooks.clone(),
        ..RunControl::default()
    };
    let script = Scripted::new(&[("r1", answers), ("r2", vec![status(204)])]);
    let trigger = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(drain_at)).await;
        stop.drain();
    });
    let docs = vec![replace_doc("r1"), replace_doc("r2")];
    let gate = Arc::new(Spaced::default());
    run_gated(&options(), script.clone(), control, gate, docs).await;
    trigger.abort();
    script
}

#[tokio::test(start_paused = true)]
async fn a_patch_waiting_its_turn_when_the_run_drains_is_never_recorded() {
    // r1 goes at once; r2's PATCH waits for the permit at 100 ms when the run drains: it
    // is never recorded in flight, so nothing is taken back either.
    let hooks = Arc::new(Recording::default());
    let script = drained(hooks.clone(), vec![status(204)], 50).await;
    assert_eq!(script.patches().len(), 1);
    let recorded: Vec<usize> = hooks
        .calls
        .lock()
        .expect("lock")
        .iter()
        .map(|call| call.0)
        .collect();
    assert_eq!(recorded, [0]);
    assert!(hooks.not_sent.lock().expect("lock").is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_patch_refused_as_the_run_stops_is_taken_back_unless_an_earlier_run_left_it_in_flight() {
    // r1's PATCH gets 401, and again with a fresh token: the run stops, nothing of r1
    // applied in this run. Taken back from the ledger, unless an earlier run's PATCH of
    // it may have landed.
    for in_flight in [false, true] {
        let hooks = Arc::new(Recording {
            in_flight,
            ..Recording::default()
        });
        let answers = if in_flight {
            vec![referral("\"e1\"", team(&[])), status(401), status(401)]
        } else {
            vec![status(401), status(401)]
        };
        drained(hooks.clone(), answers, 10_000).await;
        let recorded = hooks.calls.lock().expect("lock").clone();
        assert_eq!(recorded.len(), 1, "{recorded:?}");
        let taken_back = hooks.not_sent.lock().expect("lock").clone();
        match in_flight {
            true => assert!(taken_back.is_empty(), "{taken_back:?}"),
            false => assert_eq!(taken_back, [(0, recorded[0].1)]),
        }
    }
}
