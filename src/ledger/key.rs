//! Fingerprints: the run key (which runs are "the same run" for `--resume`) and the
//! document hash (which documents are "the same document" for `--skip-unchanged`).

use crate::plan::Document;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// The run key: SHA-256, in hex, of every input's bytes and the planning options. Each
/// input is framed by its length, so moving bytes from one file to the next changes the key.
pub fn run_key(inputs: &[impl AsRef<Path>], planning_options: &str) -> io::Result<String> {
    let mut hasher = Sha256::new();
    for input in inputs {
        hash_file(&mut hasher, input.as_ref())?;
    }
    hasher.update(planning_options.as_bytes());
    Ok(hex(&hasher.finalize()))
}

/// Feeds one file's length and bytes to `hasher`, in chunks: inputs may be large.
fn hash_file(hasher: &mut Sha256, path: &Path) -> io::Result<()> {
    let mut file = File::open(path)?;
    hasher.update(file.metadata()?.len().to_le_bytes());
    let mut buffer = vec![0; 64 * 1024];
    loop {
        match file.read(&mut buffer)? {
            0 => return Ok(()),
            n => hasher.update(&buffer[..n]),
        }
    }
}

/// The document hash: SHA-256, in hex, of the canonical JSON of the document form (ID,
/// If-Match and patch). Canonical: object keys sorted, no spaces, so the hash depends on
/// the document only, never on how a map happened to order its keys.
pub fn document_hash(document: &Document) -> String {
    let mut text = String::new();
    write_canonical(&document.to_document_form(), &mut text);
    hex(&Sha256::digest(text.as_bytes()))
}

/// Writes `value` as JSON with object keys in byte order and no whitespace.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let mut text = String::new();
        write_canonical(&json!({"b": [{"z": 1, "a": "x"}], "a": null}), &mut text);
        assert_eq!(text, r#"{"a":null,"b":[{"a":"x","z":1}]}"#);
    }

    #[test]
    fn the_run_key_changes_with_input_bytes_and_options() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
        std::fs::write(&a, "id,op\n").expect("write");
        std::fs::write(&b, "x").expect("write");
        let key = run_key(&[&a, &b], "on_duplicate=error").expect("key");
        assert_eq!(key.len(), 64);
        assert_eq!(key, run_key(&[&a, &b], "on_duplicate=error").expect("key"));
        assert_ne!(
            key,
            run_key(&[&a, &b], "on_duplicate=last-wins").expect("key")
        );
        std::fs::write(&b, "y").expect("write");
        assert_ne!(key, run_key(&[&a, &b], "on_duplicate=error").expect("key"));
    }

    #[test]
    fn the_run_key_frames_each_input_so_bytes_cannot_move_between_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, "ab").expect("write");
        std::fs::write(&b, "c").expect("write");
        let first = run_key(&[&a, &b], "").expect("key");
        std::fs::write(&a, "a").expect("write");
        std::fs::write(&b, "bc").expect("write");
        assert_ne!(first, run_key(&[&a, &b], "").expect("key"));
    }

    #[test]
    fn the_document_hash_is_stable_and_changes_with_a_value_or_the_if_match() {
        let document = |value: i64, if_match: Option<&str>| crate::plan::Document {
            id: "r1".into(),
            if_match: if_match.map(str::to_owned),
            ops: vec![crate::plan::PatchOp::new(
                crate::plan::OpKind::Replace,
                "/details/dealValue",
                &json!(value),
            )],
            rows: Default::default(),
            merged_duplicates: false,
            by_external_id: false,
        };
        let hash = document_hash(&document(1, None));
        assert_eq!(hash, document_hash(&document(1, None)));
        assert_ne!(hash, document_hash(&document(2, None)));
        assert_ne!(hash, document_hash(&document(1, Some("\"e1\""))));
    }

    #[test]
    fn a_missing_input_is_an_io_error() {
        assert!(run_key(&["/nonexistent/refsync-input.csv"], "").is_err());
    }
}
