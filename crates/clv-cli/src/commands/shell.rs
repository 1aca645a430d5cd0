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

/// The clv functions: name, kind and signature (checked against the registered ones in tests).
pub const FUNCTIONS: &[(&str, &str, &str)] = &[
    (
        "rfm",
        "table",
        "rfm(source [, as_of [, bins [, method [, scheme]]]] [, 'name=value' ...])",
    ),
    (
        "clv_policy_report",
        "table",
        "clv_policy_report(source [, as_of] [, 'name=value' ...])",
    ),
    (
        "btyd_summary",
        "table",
        "btyd_summary(source [, calibration_end [, time_unit [, holdout_end]]] [, 'name=value' ...])",
    ),
    (
        "cohort_retention",
        "table",
        "cohort_retention(source [, period] [, 'name=value' ...])",
    ),
    ("lifecycle", "table", "lifecycle(source [, as_of] [, 'name=value' ...])"),
    (
        "lifecycle_transitions",
        "table",
        "lifecycle_transitions(source, from_date, to_date [, 'name=value' ...])",
    ),
    (
        "churn_labels",
        "table",
        "churn_labels(source [, cutoffs [, window_days]] [, 'name=value' ...])",
    ),
    (
        "churn_evaluate",
        "table",
        "churn_evaluate(source [, cutoffs [, window_days]] [, 'name=value' ...])",
    ),
    (
        "churn_calibration",
        "table",
        "churn_calibration(source [, cutoffs [, window_days]] [, 'name=value' ...])",
    ),
    (
        "churn_features",
        "table",
        "churn_features(source [, cutoffs [, window_days]] [, 'name=value' ...])",
    ),
    (
        "churn_risk",
        "table",
        "churn_risk(source, cutoff [, window_days] [, 'name=value' ...])",
    ),
    (
        "churn_contacts",
        "table",
        "churn_contacts(source, cutoff [, window_days] [, 'name=value' ...])",
    ),
    (
        "churn_model",
        "table",
        "churn_model(source, cutoff [, window_days] [, 'name=value' ...])",
    ),
    (
        "clv_predict",
        "table",
        "clv_predict(source [, calibration_end [, horizon]] [, 'name=value' ...])",
    ),
    (
        "clv_model",
        "table",
        "clv_model(source [, calibration_end] [, 'name=value' ...])",
    ),
    (
        "rfm_score",
        "window",
        "rfm_score(value, bins [, direction [, method [, thresholds]]]) OVER (...)",
    ),
    (
        "bgnbd_fit",
        "aggregate",
        "bgnbd_fit(x, t_x, t [, weight [, time_unit [, penalizer]]])",
    ),
    (
        "pareto_nbd_fit",
        "aggregate",
        "pareto_nbd_fit(x, t_x, t [, weight [, time_unit [, penalizer]]])",
    ),
    (
        "mbgnbd_fit",
        "aggregate",
        "mbgnbd_fit(x, t_x, t [, weight [, time_unit [, penalizer]]])",
    ),
    (
        "gamma_gamma_fit",
        "aggregate",
        "gamma_gamma_fit(x, monetary [, weight [, penalizer]])",
    ),
    ("bgbb_fit", "aggregate", "bgbb_fit(x, t_x, n [, weight [, penalizer]])"),
    ("sbg_fit", "aggregate", "sbg_fit(t, churned [, weight [, penalizer]])"),
    ("churn_auc", "aggregate", "churn_auc(score, churned)"),
    ("churn_metrics", "aggregate", "churn_metrics(score, churned)"),
    (
        "churn_model_fit",
        "aggregate",
        "churn_model_fit(churned, feature1, ... [, 'lambda=0.01'] [, 'max_iterations=100'])",
    ),
    ("churn_model_score", "scalar", "churn_model_score(model, feature1, ...)"),
    ("p_alive", "scalar", "p_alive(model, x, t_x, t)"),
    (
        "churn_probability",
        "scalar",
        "churn_probability(model, window, x, t_x, t)",
    ),
    ("dropout_probability", "scalar", "dropout_probability(model, x, t_x, t)"),
    (
        "expected_purchases",
        "scalar",
        "expected_purchases(model, horizon, x, t_x, t)",
    ),
    ("expected_purchases_new", "scalar", "expected_purchases_new(model, t)"),
    ("prob_purchases", "scalar", "prob_purchases(model, n, t)"),
    ("expected_spend", "scalar", "expected_spend(model, x, monetary)"),
    ("survival", "scalar", "survival(model, t)"),
    ("retention_rate", "scalar", "retention_rate(model, t)"),
    ("derl", "scalar", "derl(model, discount_rate)"),
    (
        "clv",
        "scalar",
        "clv(model, spend_model, x, t_x, t, monetary, horizon [, horizon_unit [, discount_rate [, discounting [, margin]]]])",
    ),
    (
        "historical_clv",
        "scalar",
        "historical_clv(average_order_value, purchases_per_period, lifespan_periods [, margin])",
    ),
    ("rfm_segment", "scalar", "rfm_segment(r, f, m [, scheme])"),
    ("rfm_cell", "scalar", "rfm_cell(r, f, m)"),
    (
        "lifecycle_stage",
        "scalar",
        "lifecycle_stage(days_since_first, days_since_last [, longest_recent_gap_days [, new_days, active_days, churn_days]])",
    ),
    (
        "is_churned",
        "scalar",
        "is_churned(last_purchase, as_of, threshold_days)",
    ),
    (
        "clv_period_index",
        "scalar",
        "clv_period_index(date_or_timestamp, grain)",
    ),
    ("clv_period_start", "scalar", "clv_period_start(index, grain)"),
    (
        "clv_check",
        "scalar",
        "clv_check(violation, message, customer, value)  (internal)",
    ),
    (
        "clv_cutoff_features",
        "scalar",
        "clv_cutoff_features(history, cutoffs, window_days)  (internal)",
    ),
];

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
            for (_, kind, signature) in FUNCTIONS {
                println!("  {kind:<9} {signature}");
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
    fn the_function_list_is_every_registered_clv_function() {
        let mut registered: Vec<String> = clv::table_functions().into_iter().map(|(n, _)| n.to_string()).collect();
        registered.extend(clv::scalar_functions().iter().map(|f| f.name().to_string()));
        registered.extend(clv::aggregate_functions().iter().map(|f| f.name().to_string()));
        registered.extend(clv::window_functions().iter().map(|f| f.name().to_string()));
        registered.sort();
        let mut listed: Vec<String> = FUNCTIONS.iter().map(|(n, _, _)| n.to_string()).collect();
        listed.sort();
        assert_eq!(listed, registered);
        for (name, _, signature) in FUNCTIONS {
            assert!(signature.starts_with(&format!("{name}(")), "{signature}");
        }
    }
}
