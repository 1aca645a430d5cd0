//! Runs every example in docs/sql-reference.md and compares its output with the text block
//! under it. `UPDATE_DOCS=1 cargo test -p clv-core --test docs` rewrites the text blocks
//! (review the diff before committing).

mod common;

use datafusion::common::Result;

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/sql-reference.md");

/// (start line of the text block's content, end line, sql)
fn examples(doc: &str) -> (String, Vec<(usize, usize, String)>) {
    let lines: Vec<&str> = doc.lines().collect();
    let mut setup = String::new();
    let mut out = vec![];
    let mut i = 0;
    while i < lines.len() {
        let fence = lines[i].trim();
        if fence == "```sql" || fence == "```sql setup" {
            let start = i + 1;
            let mut j = start;
            while lines[j].trim() != "```" {
                j += 1;
            }
            let sql = lines[start..j].join("\n");
            i = j + 1;
            if fence == "```sql setup" {
                setup = sql;
                continue;
            }
            while lines[i].trim().is_empty() {
                i += 1;
            }
            assert_eq!(
                lines[i].trim(),
                "```text",
                "line {}: an sql example needs a text block after it",
                i + 1
            );
            let text_start = i + 1;
            let mut k = text_start;
            while lines[k].trim() != "```" {
                k += 1;
            }
            out.push((text_start, k, sql));
            i = k + 1;
        } else {
            i += 1;
        }
    }
    (setup, out)
}

#[tokio::test(flavor = "multi_thread")]
async fn sql_reference_examples_run_and_match() -> Result<()> {
    let doc = std::fs::read_to_string(DOC).unwrap();
    let (setup, examples) = examples(&doc);
    assert!(examples.len() >= 8, "found only {} examples", examples.len());
    let mut lines: Vec<String> = doc.lines().map(String::from).collect();
    let update = std::env::var("UPDATE_DOCS").is_ok();
    let mut failures = vec![];
    for (start, end, sql) in examples.iter().rev() {
        let ctx = common::context(2)?;
        for statement in setup.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            common::query(&ctx, statement).await?;
        }
        let mut actual = String::new();
        for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            actual = common::text(&ctx, statement).await?;
        }
        let expected = lines[*start..*end].join("\n");
        if actual.trim() != expected.trim() {
            if update {
                lines.splice(*start..*end, actual.trim().lines().map(String::from));
            } else {
                failures.push(format!("{sql}\n--- expected\n{expected}\n--- actual\n{actual}"));
            }
        }
    }
    if update {
        std::fs::write(DOC, lines.join("\n") + "\n").unwrap();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    Ok(())
}

/// The reference between its first function section and the session options.
fn function_sections(doc: &str) -> &str {
    let start = doc
        .find("\n## Table functions")
        .expect("a '## Table functions' section");
    let end = doc
        .find("\n## Session options")
        .expect("a '## Session options' section");
    &doc[start..end]
}

/// The lines of the fenced blocks of `kind` (`text`, `sql`), each with the `## ` heading above it.
fn block_lines<'a>(doc: &'a str, kind: &str) -> Vec<(&'a str, &'a str)> {
    // `fence`: inside a block, and whether it is of `kind`.
    let (mut out, mut heading, mut fence) = (vec![], "", None);
    for line in doc.lines() {
        let trimmed = line.trim();
        match fence {
            None if line.starts_with("## ") => heading = &line[3..],
            None if trimmed.starts_with("```") => fence = Some(trimmed == format!("```{kind}")),
            None => {}
            Some(_) if trimmed == "```" => fence = None,
            Some(true) => out.push((heading, line)),
            Some(false) => {}
        }
    }
    out
}

/// Whether `text` calls `name(` (not as the tail of a longer name).
fn calls(text: &str, name: &str) -> bool {
    text.match_indices(&format!("{name}("))
        .any(|(i, _)| !text[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
}

/// Each registered function declares its documentation in code; docs/sql-reference.md shows
/// its syntax in the section of its kind and runs it in a tested example, and names no
/// function that is not registered.
#[test]
fn every_function_has_a_reference_entry_and_a_tested_example() {
    let doc = std::fs::read_to_string(DOC).unwrap();
    let sections = function_sections(&doc);
    let syntax_lines = block_lines(sections, "text");
    let mut examples: Vec<&str> = block_lines(&doc, "sql").into_iter().map(|(_, l)| l).collect();
    examples.extend(block_lines(&doc, "sql setup").into_iter().map(|(_, l)| l));
    let examples = examples.join("\n");
    let functions = clv_core::registry::functions();
    let mut problems = vec![];
    for f in &functions {
        let name = f.name();
        let Some(d) = f.documentation() else {
            problems.push(format!("{name}: no documentation() in code"));
            continue;
        };
        if d.description.trim().is_empty() || !d.syntax_example.starts_with(&format!("{name}(")) {
            problems.push(format!(
                "{name}: the documentation needs a description and a syntax starting '{name}('"
            ));
        }
        match syntax_lines.iter().find(|(_, l)| l.contains(&d.syntax_example)) {
            None => problems.push(format!(
                "{name}: docs/sql-reference.md shows no syntax block with `{}`",
                d.syntax_example
            )),
            Some((heading, _)) if d.doc_section.include && !heading.starts_with(d.doc_section.label) => {
                problems.push(format!(
                    "{name}: documented under '## {heading}', but its section in code is '{}'",
                    d.doc_section.label
                ))
            }
            Some(_) => {}
        }
        if !calls(&examples, name) {
            problems.push(format!(
                "{name}: no tested ```sql example in docs/sql-reference.md calls it"
            ));
        }
    }
    let registered = |name: &str| functions.iter().any(|f| f.name() == name);
    for (_, line) in &syntax_lines {
        let name: String = line
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if line.trim_start()[name.len()..].starts_with('(') && !registered(&name) {
            problems.push(format!(
                "docs/sql-reference.md documents '{name}', which is not registered: {line}"
            ));
        }
    }
    for heading in sections.lines().filter(|l| l.starts_with("### ")) {
        for name in heading.split('`').skip(1).step_by(2) {
            if !registered(name) {
                problems.push(format!(
                    "docs/sql-reference.md heading names '{name}', which is not registered"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The session options table of docs/sql-reference.md, rendered from the one declaration of
/// every option (`clv_core::config::OPTIONS`).
fn options_table() -> Vec<String> {
    let mut out = vec![
        "| option | default | meaning |".to_string(),
        "|---|---|---|".to_string(),
    ];
    for o in clv_core::config::OPTIONS {
        out.push(format!(
            "| `clv.{}` | {} | {} |",
            o.key,
            o.default,
            o.description.trim_end_matches('.')
        ));
    }
    out
}

/// The options table in the reference is the one rendered from code
/// (`UPDATE_DOCS=1` rewrites it).
#[test]
fn the_session_options_table_is_generated_from_the_options() {
    let doc = std::fs::read_to_string(DOC).unwrap();
    let mut lines: Vec<String> = doc.lines().map(String::from).collect();
    let start = lines
        .iter()
        .position(|l| l == "| option | default | meaning |")
        .expect("an options table in docs/sql-reference.md");
    let end = start + lines[start..].iter().take_while(|l| l.starts_with('|')).count();
    let table = options_table();
    if lines[start..end] != table[..] {
        if std::env::var("UPDATE_DOCS").is_ok() {
            lines.splice(start..end, table);
            std::fs::write(DOC, lines.join("\n") + "\n").unwrap();
        } else {
            panic!(
                "the options table in docs/sql-reference.md differs from clv_core::config::OPTIONS; \
                 run UPDATE_DOCS=1 cargo test -p clv-core --test docs\n{}",
                table.join("\n")
            );
        }
    }
}
