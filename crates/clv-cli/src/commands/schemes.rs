//! `clv schemes [NAME]`: the segment schemes, or one scheme's rules and suggested actions.

use super::rfm::register_schemes;
use super::{Job, literal};
use crate::cli::{GlobalArgs, InputArgs};
use crate::cli_segments::SchemesArgs;
use crate::error::Result;
use crate::output::{self, Emitted};

/// Runs `clv schemes`.
pub async fn run(global: &GlobalArgs, args: SchemesArgs) -> Result<()> {
    let job = Job::new(global, &InputArgs::default(), &[]).await?;
    register_schemes(&job.ctx, &args.scheme_file)?;
    args.output.check()?;
    let query = match &args.name {
        Some(name) => format!(
            "SELECT rule, label, r, f, m, fm, total, weighted, cells, action FROM segment_schemes({}) ORDER BY rule NULLS LAST",
            literal(name)
        ),
        None => "SELECT scheme, levels, method, count(*) AS segments, max(description) AS description
                 FROM segment_schemes() GROUP BY scheme, levels, method ORDER BY scheme"
            .to_string(),
    };
    let result = job.sql("schemes", &query).await?;
    if output::emit(&result, &args.output, job.quiet)? == Emitted::Done {
        return Ok(());
    }
    match &args.name {
        Some(name) => {
            let about = job
                .sql(
                    "scheme",
                    &format!(
                        "SELECT DISTINCT scheme, levels, method, weights, description FROM segment_schemes({})",
                        literal(name)
                    ),
                )
                .await?;
            output::print_table("Scheme", &about)?;
            println!(
                "\nRules (first match wins; ranges inclusive; r, f, m are scores 1..levels with higher = better, fm = (f + m) / 2, total = r + f + m, weighted = the weights' sum):"
            );
            output::write(&result, Some(crate::output::Format::Table), None)?;
            Ok(())
        }
        None => {
            output::print_table("Segment schemes (clv schemes NAME prints one's rules)", &result)?;
            println!(
                "\nBesides these, the evaluation and tuning commands take cell, total, recency (a baseline) and kmeans."
            );
            Ok(())
        }
    }
}
