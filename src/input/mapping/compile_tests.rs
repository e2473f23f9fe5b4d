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

#[test]
fn a_pattern_chrono_cannot_read_is_a_mistake_at_its_line_not_a_panic() {
    let text = format!(
        "{HEAD}[[column]]\nname = \"Close Date\"\npath = \"/details/closingDateTime\"\ndate = {{ format = \"%Q/%d\", time_zone = \"UTC\" }}\n"
    );
    let error = one_error(&text);
    assert_eq!(error.line, 5);
    assert!(error.message.contains("\"%Q\""), "{}", error.message);
    for pattern in ["%", "%d.%m.%Y %", "%-", "%:"] {
        let text = format!(
            "{HEAD}[defaults]\ndate = {{ format = {pattern:?} }}\n[[column]]\nname = \"A\"\npath = \"/name\"\n"
        );
        assert_eq!(one_error(&text).line, 3, "{pattern}");
    }
}

#[test]
fn a_column_with_both_a_number_and_a_date_is_a_mistake_at_the_date() {
    let text = format!(
        "{HEAD}[[column]]\nname = \"A\"\npath = \"/details/dealValue\"\nnumber = {{ decimal = \",\" }}\ndate = {{ format = \"%m/%d/%Y\" }}\n"
    );
    let error = one_error(&text);
    assert_eq!(error.line, 6);
    assert!(error.message.contains("not both"), "{}", error.message);
    // The number's own mistake hides neither.
    let text = text.replace("decimal = \",\"", "decimal = \"x\"");
    let found = errors(&text);
    let lines: Vec<usize> = found.iter().map(|e| e.line).collect();
    assert_eq!(lines, [5, 6], "{found:?}");
}

#[test]
fn every_unknown_key_is_listed_not_only_the_first() {
    let text = format!(
        "{HEAD}foo = 1\nnumbr = {{ decimal = \",\" }}\n[defaults]\nemtpy = \"error\"\n[[column]]\nname = \"A\"\npath = \"/name\"\nnmae = \"B\"\n"
    );
    let all = errors(&text);
    assert_eq!(all.iter().map(|e| e.line).collect::<Vec<_>>(), [2, 3, 5, 9]);
    for (error, key) in all.iter().zip(["foo", "numbr", "emtpy", "nmae"]) {
        assert!(
            error.message.contains(&format!("`{key}`")),
            "{}",
            error.message
        );
    }
}

#[test]
fn every_bad_value_of_a_column_is_listed_with_its_line() {
    let text = format!(
        "{HEAD}[[column]]\nname = \"A\"\npath = \"/name\"\nop = \"remove\"\nempty = \"maybe\"\nunmapped = \"drop\"\n"
    );
    let all = errors(&text);
    assert_eq!(all.iter().map(|e| e.line).collect::<Vec<_>>(), [5, 6, 7]);
    assert!(all[0].message.contains("remove"), "{}", all[0].message);
    assert!(all[1].message.contains("maybe"), "{}", all[1].message);
    assert!(all[2].message.contains("drop"), "{}", all[2].message);
}

#[test]
fn every_syntax_error_and_missing_key_is_listed() {
    assert!(
        errors("id = \"X\"\nid = \"Y\"\n[[column]]\nname = \"A\"\npath = \"/name\"\n")[0]
            .message
            .contains("duplicate key")
    );
    let all = errors("[[column]]\npath = \"/name\"\n");
    assert_eq!(all.iter().map(|e| e.line).collect::<Vec<_>>(), [1, 1]);
    assert!(
        all.iter().any(|e| e.message.contains("lacks id")),
        "{all:?}"
    );
    assert!(
        all.iter().any(|e| e.message.contains("lacks name")),
        "{all:?}"
    );
    let all = errors(&format!("{HEAD}column = 3\n"));
    assert!(all[0].message.contains("[[column]]"), "{all:?}");
}

#[test]
fn a_wrong_path_is_listed_once_not_again_for_its_value_map() {
    let text = format!(
        "{HEAD}[[column]]\nname = \"R\"\npath = 5\nvalues = {{ Hot = \"SalesQualified\" }}\nunmapped = \"keep\"\n"
    );
    let error = one_error(&text);
    assert_eq!(error.line, 4);
    let text = format!(
        "{HEAD}[[column]]\nname = \"R\"\npath = \"/qualificaton\"\nvalues = {{ Hot = \"SalesQualified\" }}\n"
    );
    assert!(one_error(&text).message.contains("not a field"));
}

#[test]
fn every_wrong_path_of_one_value_map_entry_is_listed() {
    let text = format!(
        "{HEAD}[[column]]\nname = \"S\"\nvalues = {{ Won = {{ \"/status\" = \"Closd\", \"/substatus\" = \"Wn\" }} }}\n"
    );
    let all = errors(&text);
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(all[0].message.contains("Closd") && all[1].message.contains("Wn"));
}

fn number_errors(number: &str) -> Vec<Located> {
    let text = format!(
        "{HEAD}[[column]]\nname = \"A\"\npath = \"/details/dealValue\"\nnumber = {number}\n"
    );
    match Mapping::parse(Path::new("m.toml"), &text) {
        Ok(_) => Vec::new(),
        Err(MappingError::Invalid { errors, .. }) => errors,
        Err(other) => panic!("{other}"),
    }
}

#[test]
fn thousands_takes_the_documented_separators_or_none() {
    for ok in [
        "{ decimal = \",\", thousands = \".\" }",
        "{ decimal = \".\", thousands = \",\" }",
        "{ decimal = \".\", thousands = \"'\" }",
        "{ decimal = \",\", thousands = \" \" }",
        "{ decimal = \",\", thousands = \"\\u00A0\" }",
        "{ decimal = \",\", thousands = \"\\u202F\" }",
        "{ decimal = \",\", thousands = \"\" }",
        "{ decimal = \",\" }",
    ] {
        assert_eq!(number_errors(ok), [], "{ok}");
    }
    let none = number_errors("{ decimal = \",\", thousands = \"none\" }");
    assert_eq!(none.len(), 1);
    assert!(
        none[0].message.contains("leave thousands out"),
        "{}",
        none[0].message
    );
    assert_eq!(
        number_errors("{ decimal = \",\", thousands = \"x\" }")[0].line,
        5
    );
    let both = number_errors("{ decimal = \";\", thousands = \"x\" }");
    assert!(
        both[0].message.contains("decimal = \";\"") && both[0].message.contains("\"x\""),
        "{}",
        both[0].message
    );
}

#[test]
fn each_rule_keeps_the_line_of_the_settings_that_apply_to_it() {
    let text = format!(
        "{HEAD}[defaults]\nempty = \"error\"\nnumber = {{ decimal = \",\" }}\n[[column]]\nname = \"A\"\npath = \"/details/dealValue\"\n[[column]]\nname = \"B\"\npath = \"/details/closingDateTime\"\nempty = \"error\"\ndate = {{ format = \"%d.%m.%Y\" }}\n[[column]]\nname = \"C\"\npath = \"/name\"\n"
    );
    let mapping = Mapping::parse(Path::new("m.toml"), &text).unwrap();
    let lines: Vec<(usize, usize, usize)> = mapping
        .columns
        .iter()
        .map(|c| (c.line, c.empty_line, c.format_line))
        .collect();
    assert_eq!(lines, [(6, 3, 4), (9, 11, 12), (14, 3, 15)]);
}
