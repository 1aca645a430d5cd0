//! The interactive SQL shell of `clv sql`: line editing and history (rustyline), statements
//! spanning lines until `;`, and backslash commands (`\d`, `\d NAME`, `\q`, `\?`).

use std::io::IsTerminal;

use datafusion::prelude::SessionContext;
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use super::sql::run_statements;
use crate::cli::GlobalArgs;
use crate::error::{CliError, Result};
use crate::output::{self, Format};
use crate::progress::Progress;

const HELP: &str = "Enter SQL ending with ';' (it may span lines). Commands:
  \\d          list tables and the clv functions
  \\d NAME     describe a table
  \\?          this help
  \\q          quit (or Ctrl-D)
The bundled CDNOW sample is table cdnow: try  SELECT segment, count(*) FROM rfm('cdnow') GROUP BY 1;";

fn history_path() -> Option<std::path::PathBuf> {
    std::env::var_os("CLV_HISTORY")
        .map(Into::into)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".clv_history")))
}

/// Runs the shell until `\q` or end of input.
pub async fn run(ctx: &SessionContext, global: &GlobalArgs) -> Result<()> {
    let interactive = std::io::stdin().is_terminal();
    let mut editor = DefaultEditor::new().map_err(|e| CliError::internal(format!("cannot start the shell: {e}")))?;
    let history = history_path();
    if interactive {
        if let Some(h) = &history {
            let _ = editor.load_history(h);
        }
        println!("clv SQL shell. \\? for help, \\q to quit.");
    }
    let progress = Progress::new(global.quiet, None).transient();
    let mut buffer = String::new();
    let mut failed = false;
    loop {
        let prompt = if buffer.is_empty() { "clv> " } else { "  -> " };
        let line = match editor.readline(prompt) {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            // Text that is not UTF-8 (e.g. a Latin-1 script piped in) is the user's input, not a bug.
            Err(ReadlineError::Io(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(CliError::usage(format!(
                    "reading input: {e}; the SQL must be UTF-8 text (convert it first, e.g. iconv -f latin1 -t utf-8)"
                )));
            }
            Err(e) => return Err(CliError::internal(format!("reading input: {e}"))),
        };
        let trimmed = line.trim();
        if buffer.is_empty() && trimmed.starts_with('\\') {
            let _ = editor.add_history_entry(trimmed);
            match backslash(ctx, trimmed).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => {
                    eprintln!("error: {}", e.line());
                    failed = true;
                }
            }
            continue;
        }
        if trimmed.is_empty() && buffer.is_empty() {
            continue;
        }
        buffer.push_str(&line);
        buffer.push('\n');
        if !trimmed.ends_with(';') {
            continue;
        }
        let statement = std::mem::take(&mut buffer);
        let _ = editor.add_history_entry(statement.trim());
        let started = std::time::Instant::now();
        match run_statements(ctx, &statement, &progress).await {
            Ok(batches) => {
                output::write(&batches, Some(Format::Table), None)?;
                if !global.quiet {
                    println!(
                        "{} rows in {:.3}s",
                        output::rows(&batches),
                        started.elapsed().as_secs_f64()
                    );
                }
            }
            Err(e) => {
                eprintln!("error: {}", e.line());
                failed = true;
            }
        }
    }
    if !buffer.trim().is_empty() {
        eprintln!("error: the last statement has no closing ';' and was not run");
        failed = true;
    }
    if interactive && let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    // Piped scripts report failure through the exit code; an interactive session does not.
    if failed && !interactive {
        return Err(CliError::usage("some statements failed (see above)"));
    }
    Ok(())
}

/// The `\d` list of clv functions, from the library's registry: kind and syntax, internal ones
/// marked.
fn function_lines() -> Vec<String> {
    clv::registry::functions()
        .iter()
        .map(|f| {
            let doc = f.documentation();
            let syntax = doc.map_or(f.name(), |d| d.syntax_example.as_str());
            let internal = if doc.is_some_and(|d| !d.doc_section.include) {
                "  (internal)"
            } else {
                ""
            };
            format!("  {:<9} {syntax}{internal}", f.kind().as_str())
        })
        .collect()
}

/// Runs a backslash command; `Ok(true)` quits.
async fn backslash(ctx: &SessionContext, command: &str) -> Result<bool> {
    let mut parts = command.split_whitespace();
    match (parts.next().unwrap_or(""), parts.next()) {
        ("\\q", _) => return Ok(true),
        ("\\?" | "\\h", _) => println!("{HELP}"),
        ("\\d", None) => {
            let tables = run_statements(
                ctx,
                "SELECT table_name, table_type FROM information_schema.tables
                 WHERE table_schema <> 'information_schema' ORDER BY table_name",
                &Progress::hidden(),
            )
            .await?;
            println!("Tables");
            output::write(&tables, Some(Format::Table), None)?;
            println!("clv functions");
            for line in function_lines() {
                println!("{line}");
            }
        }
        ("\\d", Some(table)) => {
            let columns = run_statements(
                ctx,
                &format!(
                    "SELECT column_name, data_type, is_nullable FROM information_schema.columns
                     WHERE table_name = '{}' ORDER BY ordinal_position",
                    table.replace('\'', "''")
                ),
                &Progress::hidden(),
            )
            .await?;
            if output::rows(&columns) == 0 {
                return Err(CliError::usage(format!("no table named '{table}'; \\d lists them")));
            }
            output::write(&columns, Some(Format::Table), None)?;
        }
        (other, _) => {
            return Err(CliError::usage(format!(
                "unknown command {other}; \\? lists the commands"
            )));
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_function_list_shows_every_registered_clv_function() {
        let lines = function_lines();
        let functions = clv::registry::functions();
        assert_eq!(lines.len(), functions.len());
        for (line, f) in lines.iter().zip(&functions) {
            let expected = format!("  {:<9} {}(", f.kind().as_str(), f.name());
            assert!(line.starts_with(&expected), "{line}");
        }
    }
}
