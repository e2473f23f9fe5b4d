//! The document form of a planned document (SPEC.md "Document form"): what `plan --out`
//! writes, one JSON line per referral, and what `sync` reads back unchanged.

use super::Document;
use serde_json::{Map, Value};

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
}

#[cfg(test)]
mod tests {
    use crate::plan::{Document, OpKind, PatchOp};
    use serde_json::json;

    fn document(if_match: Option<&str>) -> Document {
        Document {
            id: "r1".into(),
            if_match: if_match.map(str::to_owned),
            ops: vec![PatchOp {
                op: OpKind::Add,
                path: "/team/-".into(),
                value: json!({"email": "a@b.c"}),
            }],
            rows: Vec::new(),
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
    fn a_document_without_if_match_leaves_the_key_out() {
        let form = document(None).to_document_form();
        assert!(form.get("if_match").is_none());
        assert_eq!(
            form.to_string(),
            r#"{"id":"r1","patch":[{"op":"add","path":"/team/-","value":{"email":"a@b.c"}}]}"#
        );
    }
}
