//! The document form of a planned document (SPEC.md "Document form"): what `plan --out`
//! writes, one JSON line per referral, and what `sync` reads back unchanged.

use super::{Document, JsonText, PatchOp};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use std::io::Write;

impl Document {
    /// `{"id": …, "if_match": …, "patch": [...]}`; `if_match` is left out when there is none,
    /// so reading the line back gives the same document.
    pub fn to_document_form(&self) -> Value {
        let mut form = Map::new();
        form.insert("id".into(), Value::String(self.id.clone()));
        if let Some(if_match) = &self.if_match {
            form.insert("if_match".into(), Value::String(if_match.clone()));
        }
        form.insert("patch".into(), self.patch_json());
        Value::Object(form)
    }

    /// Writes the same text as serialising [`Document::to_document_form`], without building
    /// that value: `plan --out` writes every document, and copying each one into a fresh
    /// `Value` first was a tenth of `plan`'s time in a profile.
    pub fn write_document_form(&self, out: impl Write) -> serde_json::Result<()> {
        let form = DocumentForm {
            id: &self.id,
            if_match: self.if_match.as_deref(),
            patch: PatchForm(&self.ops),
        };
        serde_json::to_writer(out, &form)
    }

    /// The JSON Patch body as sent: the same text as serialising [`Document::patch_json`],
    /// written straight from the operations' JSON texts.
    pub fn patch_body(&self) -> Vec<u8> {
        patch_body(&self.ops)
    }
}

/// The JSON Patch body of `ops`, written straight from their JSON texts.
pub fn patch_body(ops: &[PatchOp]) -> Vec<u8> {
    // Writing borrowed strings and raw JSON texts into a `Vec` cannot fail.
    serde_json::to_vec(&PatchForm(ops)).unwrap_or_default()
}

/// The document form, borrowed; members in the order the map of
/// [`Document::to_document_form`] keeps them (by name).
#[derive(Serialize)]
struct DocumentForm<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    if_match: Option<&'a str>,
    patch: PatchForm<'a>,
}

/// The operations of a document form.
struct PatchForm<'a>(&'a [PatchOp]);

impl Serialize for PatchForm<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(OpForm::of))
    }
}

/// One operation of a document form, as [`PatchOp::to_json`] gives it.
#[derive(Serialize)]
struct OpForm<'a> {
    op: &'static str,
    path: &'a str,
    value: &'a JsonText,
}

impl<'a> OpForm<'a> {
    fn of(op: &'a PatchOp) -> Self {
        OpForm {
            op: op.op.as_str(),
            path: &op.path,
            value: &op.value,
        }
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
            doc.write_document_form(&mut written).unwrap();
            assert_eq!(written, doc.to_document_form().to_string().into_bytes());
        }
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
}
