//! The document form of a planned document (SPEC.md "Document form"): what `plan --out`
//! writes, one JSON line per referral, and what `sync` reads back unchanged.

use super::patch_op::needs_json_escape;
use super::{Document, PatchOp};
use crate::input::EXTERNAL_ID;
use serde_json::{Map, Value};

impl Document {
    /// `{"id": …, "if_match": …, "patch": [...]}`; `if_match` is left out when there is none,
    /// so reading the line back gives the same document. A document whose ID is a CRM ID
    /// names it `externalReferenceId` instead of `id`, so that `sync` looks it up.
    pub fn to_document_form(&self) -> Value {
        let mut form = Map::new();
        form.insert(self.id_key().into(), Value::String(self.id.clone()));
        if let Some(if_match) = &self.if_match {
            form.insert("if_match".into(), Value::String(if_match.clone()));
        }
        form.insert("patch".into(), self.patch_json());
        Value::Object(form)
    }

    /// Appends the same text as serialising [`Document::to_document_form`] to `out`,
    /// without building that value: `plan --out` writes every document, and copying each
    /// one into a fresh `Value` first was a tenth of `plan`'s time in a profile.
    pub fn write_document_form(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"");
        out.extend_from_slice(self.id_key().as_bytes());
        out.extend_from_slice(b"\":");
        push_json_str(out, &self.id);
        if let Some(if_match) = &self.if_match {
            out.extend_from_slice(br#","if_match":"#);
            push_json_str(out, if_match);
        }
        out.extend_from_slice(br#","patch":"#);
        push_patch(out, &self.ops);
        out.push(b'}');
    }

    /// The document form's key for the ID: `externalReferenceId` for a CRM ID.
    fn id_key(&self) -> &'static str {
        match self.by_external_id {
            true => EXTERNAL_ID,
            false => "id",
        }
    }

    /// The JSON Patch body as sent: the same text as serialising [`Document::patch_json`],
    /// written straight from the operations' JSON texts.
    pub fn patch_body(&self) -> Vec<u8> {
        patch_body(&self.ops)
    }
}

/// The JSON Patch body of `ops`, written straight from their JSON texts.
pub fn patch_body(ops: &[PatchOp]) -> Vec<u8> {
    let mut body = Vec::with_capacity(
        ops.iter()
            .map(|op| 32 + op.path.len() + op.value.as_str().len())
            .sum(),
    );
    push_patch(&mut body, ops);
    body
}

/// Appends the operations as serialising their [`PatchOp::to_json`] values in an array
/// writes them: `{"op":…,"path":…,"value":…}` each, keys in that (sorted) order, the value's
/// JSON text as it stands.
///
/// Written piece by piece rather than through `serde_json`'s serializer, which writes every
/// key and string in three small copies and checks each byte against its escape table: a
/// profile of `plan` had three quarters of the thread that writes `--out` in those.
fn push_patch(out: &mut Vec<u8>, ops: &[PatchOp]) {
    out.push(b'[');
    for (index, op) in ops.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.extend_from_slice(br#"{"op":"#);
        push_json_str(out, op.op.as_str());
        out.extend_from_slice(br#","path":"#);
        push_json_str(out, &op.path);
        out.extend_from_slice(br#","value":"#);
        out.extend_from_slice(op.value.as_str().as_bytes());
        out.push(b'}');
    }
    out.push(b']');
}

/// Appends `text` as a JSON string, as `serde_json` writes it: as it stands between quotes
/// when it has nothing to escape, else escaped by `serde_json` itself.
fn push_json_str(out: &mut Vec<u8>, text: &str) {
    if !needs_json_escape(text) {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        // Serialising a string into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::{Document, OpKind, PatchOp};
    use serde_json::json;

    fn document(if_match: Option<&str>) -> Document {
        Document {
            id: "r1".into(),
            if_match: if_match.map(str::to_owned),
            ops: vec![PatchOp::new(
                OpKind::Add,
                "/team/-",
                &json!({"email": "a@b.c"}),
            )],
            rows: Default::default(),
            merged_duplicates: false,
            by_external_id: false,
        }
    }

    #[test]
    fn the_document_form_carries_id_if_match_and_patch() {
        assert_eq!(
            document(Some("\"e1\"")).to_document_form(),
            json!({
                "id": "r1",
                "if_match": "\"e1\"",
                "patch": [{"op": "add", "path": "/team/-", "value": {"email": "a@b.c"}}]
            })
        );
    }

    #[test]
    fn the_written_form_is_the_text_of_the_document_form() {
        for doc in [document(None), document(Some("\"e1\""))] {
            let mut written = Vec::new();
            doc.write_document_form(&mut written);
            assert_eq!(written, doc.to_document_form().to_string().into_bytes());
        }
    }

    #[test]
    fn a_document_of_a_crm_id_names_it_externalreferenceid_in_both_writers() {
        let doc = Document {
            by_external_id: true,
            ..document(Some("\"e1\""))
        };
        let form = doc.to_document_form();
        assert_eq!(
            (form.get("id"), &form["externalReferenceId"]),
            (None, &json!("r1"))
        );
        let mut written = Vec::new();
        doc.write_document_form(&mut written);
        assert_eq!(written, form.to_string().into_bytes());
    }

    #[test]
    fn a_document_without_if_match_leaves_the_key_out() {
        let form = document(None).to_document_form();
        assert!(form.get("if_match").is_none());
        assert_eq!(
            form.to_string(),
            r#"{"id":"r1","patch":[{"op":"add","path":"/team/-","value":{"email":"a@b.c"}}]}"#
        );
    }

    proptest::proptest! {
        /// Any text in the ID, the ETag and the path, escapes and all, and any value: the
        /// line written is what serialising the document form gives, and the body what
        /// serialising the patch gives.
        #[test]
        fn any_document_is_written_as_serde_json_writes_it(
            id in "\\PC*|[\\x00-\\x7f]{0,12}",
            if_match in proptest::option::of("[\\x00-\\x7f\\u{80}-\\u{10ffff}]{0,8}"),
            path in "/[a-z\"\\\\\\x00-\\x1f\\x7f]{0,10}",
            value in "\\PC{0,10}",
        ) {
            let doc = Document {
                id,
                if_match,
                ops: vec![
                    PatchOp::new(OpKind::Replace, path.as_str(), &json!(value)),
                    PatchOp::new(OpKind::Add, "/team/-", &json!({"email": value, "n": 1.5})),
                ],
                rows: Default::default(),
                merged_duplicates: false,
                by_external_id: false,
            };
            let mut written = Vec::new();
            doc.write_document_form(&mut written);
            proptest::prop_assert_eq!(
                String::from_utf8(written).unwrap(),
                doc.to_document_form().to_string()
            );
            proptest::prop_assert_eq!(
                String::from_utf8(doc.patch_body()).unwrap(),
                doc.patch_json().to_string()
            );
        }
    }
}
