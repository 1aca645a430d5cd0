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
