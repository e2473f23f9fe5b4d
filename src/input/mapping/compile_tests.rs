//! Tests of checking a mapping file: the shipped examples load, and every kind of mistake
//! names its line.

use super::*;
use crate::input::mapping::{Lookup, Mapping, MappingError};

fn errors(text: &str) -> Vec<Located> {
    match Mapping::parse(Path::new("m.toml"), text) {
        Err(MappingError::Invalid { errors, .. }) => errors,
        other => panic!("expected mistakes, got {other:?}"),
    }
}

fn one_error(text: &str) -> Located {
    let mut all = errors(text);
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

const HEAD: &str = "id = \"Referral\"\n";

#[test]
fn the_shipped_examples_load() {
    let dynamics = include_str!("../../../config/mappings/dynamics365-opportunities.toml");
    let mapping = Mapping::parse(Path::new("d.toml"), dynamics).unwrap();
    assert_eq!(mapping.id.lookup, Some(Lookup::ExternalReferenceId));
    assert_eq!(mapping.columns.len(), 6);
    assert!(matches!(mapping.columns[1].format, CellFormat::Number(_)));
    let salesforce = include_str!("../../../config/mappings/salesforce-opportunities.toml");
    let mapping = Mapping::parse(Path::new("s.toml"), salesforce).unwrap();
    assert_eq!(mapping.id.lookup, None);
    assert!(matches!(mapping.columns[2].format, CellFormat::Date(_)));
}

#[test]
fn an_unknown_key_names_its_line() {
    let text = format!("{HEAD}\n[[column]]\nname = \"A\"\npath = \"/name\"\nemtpy = \"error\"\n");
    let error = one_error(&text);
    assert_eq!(error.line, 6);
    assert!(error.message.contains("emtpy"), "{}", error.message);
}

#[test]
fn a_path_outside_the_schema_names_its_line() {
    let text = format!("{HEAD}[[column]]\nname = \"A\"\npath = \"/details/dealvalue\"\n");
    let error = one_error(&text);
    assert_eq!(error.line, 4);
    assert!(
        error.message.contains("not a field of a referral"),
        "{}",
        error.message
    );
}

#[test]
fn a_value_map_entry_of_the_wrong_type_names_its_line() {
    let text = format!(
        "{HEAD}[[column]]\nname = \"Stage\"\n[column.values]\n\"Won\" = {{ \"/status\" = \"Closed\", \"/substatus\" = \"Won\" }}\n\"Lost\" = {{ \"/status\" = \"Closd\" }}\n"
    );
    let error = one_error(&text);
    assert_eq!(error.line, 6);
    assert!(
        error.message.contains("\"Lost\"") && error.message.contains("Closd"),
        "{}",
        error.message
    );
}

#[test]
fn a_value_map_key_listed_twice_in_other_case_is_refused() {
    let text = format!(
        "{HEAD}[[column]]\nname = \"R\"\npath = \"/qualification\"\nvalues = {{ Hot = \"Direct\", HOT = \"None\" }}\n"
    );
    assert!(one_error(&text).message.contains("listed twice"));
}

#[test]
fn only_external_reference_id_can_be_looked_up() {
    let text =
        "id = { column = \"X\", lookup = \"name\" }\n[[column]]\nname = \"A\"\npath = \"/name\"\n";
    let error = one_error(text);
    assert_eq!(error.line, 1);
    assert!(error.message.contains("externalReferenceId"));
}

#[test]
fn formats_must_fit_their_paths_and_appends_need_add() {
    let text = format!(
        "{HEAD}[[column]]\nname = \"A\"\npath = \"/name\"\nnumber = {{ decimal = \",\" }}\n\n[[column]]\nname = \"B\"\npath = \"/team/-\"\n"
    );
    let all = errors(&text);
    assert_eq!(all.iter().map(|e| e.line).collect::<Vec<_>>(), [5, 9]);
    assert!(
        all[1].message.contains("op = \"add\""),
        "{}",
        all[1].message
    );
}

#[test]
fn a_column_needs_a_path_or_values_and_the_file_a_column() {
    assert!(
        one_error(&format!("{HEAD}[[column]]\nname = \"A\"\n"))
            .message
            .contains("needs a path")
    );
    assert!(one_error(HEAD).message.contains("no [[column]]"));
}

#[test]
fn defaults_apply_by_the_type_of_each_path() {
    let text = format!(
        "{HEAD}[defaults]\nempty = \"error\"\nnumber = {{ decimal = \",\", thousands = \".\" }}\n[[column]]\nname = \"A\"\npath = \"/details/dealValue\"\n[[column]]\nname = \"B\"\npath = \"/name\"\nempty = \"skip\"\n"
    );
    let mapping = Mapping::parse(Path::new("m.toml"), &text).unwrap();
    assert!(matches!(mapping.columns[0].format, CellFormat::Number(_)));
    assert_eq!(mapping.columns[0].empty, Empty::Error);
    assert_eq!(
        (mapping.columns[1].format.clone(), mapping.columns[1].empty),
        (CellFormat::Plain, Empty::Skip)
    );
}
