//! `clv fit` and `clv predict`: LTV models as JSON files.
//!
//! `clv fit` runs the library's fit aggregate (`bgnbd_fit`, …) over `btyd_summary` and writes
//! the fitted model's own serialized form (the aggregate's `json` field). `clv predict` loads a
//! file with the library's deserializer (which checks the kind, the format version and the
//! parameters) and scores customers with the SQL prediction functions.

use std::path::{Path, PathBuf};

use clv::ltv::registry::{self, models_with};
use clv::ltv::{KindTag, ModelKind, ModelSpec, Role};
use datafusion::arrow::array::{Array, AsArray};
use serde_json::Value;

use super::{Job, exact, literal};
use crate::cli::{FitArgs, GlobalArgs, PredictArgs};
use crate::error::{CliError, Result};
use crate::output::{self, Emitted};

/// The models of a role (`clv predict --model`: the transaction models; `--spend-model`: the
/// spend models).
pub fn kinds(role: Role) -> Vec<ModelKind> {
    models_with(role).map(|m| m.kind).collect()
}

/// The registry entry of a parametric model.
pub fn spec_of(kind: ModelKind) -> Result<&'static ModelSpec> {
    kind.spec()
        .ok_or_else(|| CliError::internal(format!("{kind} is not a parametric model of the registry")))
}

/// The models `clv fit` fits from a BTYD summary: those with a role in `clv predict`.
pub fn fittable() -> impl Iterator<Item = &'static ModelSpec> {
    clv::ltv::MODELS
        .iter()
        .filter(|m| m.has_role(Role::Transactions) || m.has_role(Role::Spend))
}

/// A model file, checked by the library's deserializer.
#[derive(Debug, Clone)]
pub struct ModelFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its kind.
    pub kind: ModelKind,
    /// Its serialized form.
    pub json: Value,
    /// The library's serialization, indented (fields in the library's order).
    pub pretty: String,
}

impl ModelFile {
    /// Reads `path` and checks that it is one of `accepted`; `flag` names the option in errors.
    pub fn load(path: &Path, accepted: &[ModelKind], flag: &str) -> Result<Self> {
        crate::files::reading_file(path);
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::data(format!("{flag}: cannot read '{}': {e}", path.display())))?;
        Self::parse(&text, path, accepted, flag)
    }

    /// Checks serialized model text read from `path`.
    pub fn parse(text: &str, path: &Path, accepted: &[ModelKind], flag: &str) -> Result<Self> {
        let shown = path.display();
        let fit_hint = format!(
            "write one with: clv fit --model {} --out {}",
            accepted[0],
            path.file_name().map(|f| f.to_string_lossy()).unwrap_or_default()
        );
        let tag: KindTag = serde_json::from_str(text)
            .map_err(|e| CliError::data(format!("{flag}: '{shown}' is not a clv model file ({e}); {fit_hint}")))?;
        if !accepted.contains(&tag.kind) {
            let names: Vec<&str> = accepted.iter().map(|k| k.name()).collect();
            return Err(CliError::data(format!(
                "{flag}: '{shown}' holds a {} model, but {flag} needs {}; {fit_hint}",
                tag.kind,
                names.join(" or ")
            )));
        }
        let spec = tag.kind.spec().ok_or_else(|| {
            CliError::data(format!(
                "{flag}: '{shown}' holds a {} model, which has no parameter file form; {fit_hint}",
                tag.kind
            ))
        })?;
        let checked = spec.from_json(text).and_then(|m| m.to_json_pretty());
        let pretty =
            checked.map_err(|e| CliError::data(format!("{flag}: '{shown}' is not a valid {} model: {e}", tag.kind)))?;
        let json: Value = serde_json::from_str(text).map_err(|e| CliError::data(format!("{flag}: '{shown}': {e}")))?;
        Ok(Self {
            path: path.to_path_buf(),
            kind: tag.kind,
            json,
            pretty,
        })
    }

    /// The time unit the model was fitted in (`week` when it has none).
    pub fn time_unit(&self) -> String {
        self.json["time_unit"].as_str().unwrap_or("week").to_string()
    }

    /// The model as the SQL struct the prediction functions take.
    pub fn sql_struct(&self) -> String {
        let mut fields = vec![format!("'model', {}", literal(self.kind.name()))];
        if let Some(params) = self.json["params"].as_object() {
            for (k, v) in params {
                if let Some(v) = v.as_f64() {
                    fields.push(format!("{}, CAST({v:?} AS DOUBLE)", literal(k)));
                }
            }
        }
        fields.push(format!("'time_unit', {}", literal(&self.time_unit())));
        format!("named_struct({})", fields.join(", "))
    }
}

/// A model's name as the papers write it (`model` for an unknown kind).
pub fn display_name(kind: &str) -> &'static str {
    registry::model(kind).map_or("model", |m| m.display_name)
}

/// A model's parameters in the papers' order.
pub fn parameter_names(kind: &str) -> &'static [&'static str] {
    registry::model(kind).map_or(&[], |m| m.params)
}

/// Parameter, estimate and standard error (None when the Hessian was not positive definite).
pub fn parameters(json: &Value) -> Vec<(String, f64, Option<f64>)> {
    let se = &json["fit"]["standard_errors"];
    parameter_names(json["kind"].as_str().unwrap_or_default())
        .iter()
        .filter_map(|k| Some((k.to_string(), json["params"][k].as_f64()?, se[k].as_f64())))
        .collect()
}

/// A fitted model described in a few lines.
pub fn describe(json: &Value) -> String {
    let kind = json["kind"].as_str().unwrap_or("?");
    let fit = &json["fit"];
    let mut lines = vec![format!(
        "{} fit on {} customers{}: {}, log-likelihood {:.3}, {} iterations",
        display_name(kind),
        fit["n_customers"].as_f64().unwrap_or(f64::NAN),
        json["time_unit"]
            .as_str()
            .map(|u| format!(" (time unit {u})"))
            .unwrap_or_default(),
        if fit["converged"].as_bool() == Some(true) {
            "converged"
        } else {
            "NOT CONVERGED (check the data; the estimate may be poor)"
        },
        fit["log_likelihood"].as_f64().unwrap_or(f64::NAN),
        fit["iterations"].as_u64().unwrap_or(0),
    )];
    lines.push(format!("  {:<10} {:>12} {:>12}", "parameter", "estimate", "std. error"));
    for (name, value, se) in parameters(json) {
        let se = se.map(|s| format!("{s:.6}")).unwrap_or_else(|| "-".into());
        lines.push(format!("  {name:<10} {value:>12.6} {se:>12}"));
    }
    lines.join("\n")
}

/// Fits `model` over the job's BTYD summary, on its inputs. A spend model is fitted on the
/// customers with repeat purchases and a positive mean repeat spend (the role's support).
pub async fn fit_model(job: &Job, model: &ModelSpec) -> Result<ModelFile> {
    let src = job.source();
    let inputs: Vec<&str> = model.inputs.iter().map(|i| i.name).collect();
    let support = if model.has_role(Role::Spend) {
        " WHERE x > 0 AND monetary > 0"
    } else {
        ""
    };
    let query = format!(
        "SELECT {}({}) AS f FROM btyd_summary({src}){support}",
        model.fit_function,
        inputs.join(", ")
    );
    let batches = job.sql(&format!("{} fit", model.display_name), &query).await?;
    let text = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .and_then(|b| {
            let s = b.column(0).as_struct_opt()?;
            let json = s.column_by_name("json")?.as_string_opt::<i32>()?;
            json.is_valid(0).then(|| json.value(0).to_string())
        })
        .ok_or_else(|| CliError::internal("the fit returned no model"))?;
    ModelFile::parse(&text, Path::new("the fitted model"), &[model.kind], model.fit_function)
        .map_err(|e| CliError::internal(e.message))
}

/// Why `clv fit --model auto` chose its model: the rule and reason of the SQL comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// `holdout_rmse` or `bic`.
    pub rule: String,
    /// One sentence: the chosen value and the runner-up's.
    pub reason: String,
}

/// The model SQL `'model=auto'` chooses over the job's BTYD summary: the `comparison` of
/// `clv_model(source, 'model=auto')` (the library's `ltv_compare` over the candidates and
/// penalizers of the session, by holdout RMSE when the summary has a holdout, else by BIC),
/// with the chosen model's serialized form.
pub async fn choose_model(job: &Job) -> Result<(ModelFile, Choice)> {
    let query = format!(
        "SELECT comparison.json AS json, comparison.rule AS rule, comparison.reason AS reason \
         FROM clv_model({}, 'model={}')",
        job.source(),
        clv::config::AUTO_MODEL
    );
    let batches = job.sql("model comparison", &query).await?;
    let field = |name: &str| crate::columns::first_string(&batches, name, "the model comparison");
    let model = ModelFile::parse(
        &field("json")?,
        Path::new("the chosen model"),
        &kinds(Role::Transactions),
        "--model auto",
    )
    .map_err(|e| CliError::internal(e.message))?;
    Ok((
        model,
        Choice {
            rule: field("rule")?,
            reason: field("reason")?,
        },
    ))
}

/// The model file's text: the library's serialization, and for `--model auto` a `selection`
/// field with the rule and reason of the choice (the library's reader ignores it).
pub fn model_text(model: &ModelFile, choice: Option<&Choice>) -> String {
    let Some(choice) = choice else {
        return model.pretty.clone() + "\n";
    };
    let quoted = |text: &str| serde_json::Value::from(text).to_string();
    let body = model.pretty.trim_end();
    let body = body.strip_suffix('}').unwrap_or(body).trim_end();
    format!(
        "{body},\n  \"selection\": {{\n    \"rule\": {},\n    \"reason\": {}\n  }}\n}}\n",
        quoted(&choice.rule),
        quoted(&choice.reason)
    )
}

/// Runs `clv fit`.
pub async fn fit(global: &GlobalArgs, args: FitArgs) -> Result<()> {
    let auto = args.model == clv::config::AUTO_MODEL;
    let candidates = args.candidates.options();
    if !auto {
        let given = candidates.iter().any(|(_, v)| v.is_some());
        if args.holdout_end.is_some() || given {
            return Err(CliError::usage(
                "--holdout-end, --models and --penalizers choose among candidates: use them with --model auto (or see clv compare)",
            ));
        }
    }
    let mut options = vec![
        ("btyd.calibration_end", args.calibration_end.clone()),
        ("btyd.time_unit", args.time_unit.clone()),
        ("btyd.holdout_end", args.holdout_end.clone()),
    ];
    options.extend(candidates);
    let job = Job::new(global, &args.input, &options).await?;
    if let Some(out) = &args.out {
        crate::files::check_output(out, "--out")?;
    }
    let (spec, model, choice) = if auto {
        let (model, choice) = choose_model(&job).await?;
        (spec_of(model.kind)?, model, Some(choice))
    } else {
        let spec = registry::model(&args.model)
            .ok_or_else(|| CliError::usage(format!("--model: unknown model '{}'", args.model)))?;
        (spec, fit_model(&job, spec).await?, None)
    };
    if let Some(c) = &choice {
        job.note(format!(
            "--model auto chose {} ({}): {}",
            spec.display_name,
            match c.rule.as_str() {
                "holdout_rmse" => "by holdout error",
                _ => "by BIC, no holdout",
            },
            c.reason
        ));
    }
    let (json, text) = (&model.json, model_text(&model, choice.as_ref()));
    match &args.out {
        Some(out) => {
            crate::files::write_atomically(out, "--out", text.as_bytes())?;
            if !job.quiet {
                println!("{}", describe(json));
            }
            job.note(format!("Wrote the {} model to {}", spec.display_name, out.display()));
        }
        None => {
            print!("{text}");
            job.note(describe(json));
        }
    }
    if json["fit"]["converged"].as_bool() != Some(true) {
        job.warn("the fit did not converge; the parameters may be poor");
    }
    if let Some(q) = json["params"]["q"]
        .as_f64()
        .filter(|q| spec.kind == ModelKind::GammaGamma && *q <= 1.0)
    {
        job.warn(format!("q = {q} <= 1: the prior mean spend p·γ/(q − 1) is infinite (the spend is too heavy-tailed for the model), so clv predict cannot give an expected spend to customers without repeat purchases; cap extreme amounts before fitting (a penalizer does not raise q)"));
    }
    Ok(())
}

/// The bootstrap settings of `clv predict --intervals` (the session's `ltv.*` options).
#[derive(Debug, Clone, PartialEq)]
pub struct Intervals {
    /// The level.
    pub level: f64,
    /// Replicates.
    pub replicates: usize,
    /// Seed of the replicate weights.
    pub seed: u64,
    /// How the intervals are read.
    pub method: String,
}

/// The per-customer prediction query for a model and an optional spend model; with
/// `intervals`, the customer-bootstrap bounds of the `ltv_intervals` window (which refits the
/// model's kind, and Gamma-Gamma, on the same summary).
pub fn predict_query(
    source: &str,
    model: &ModelFile,
    spend: Option<&ModelFile>,
    horizon: f64,
    discount_rate: f64,
    margin: f64,
    intervals: Option<&Intervals>,
) -> String {
    let h = format!("CAST({horizon:?} AS DOUBLE)");
    let mut columns = vec![
        "customer_id, x, t_x, t, monetary".to_string(),
        "p_alive(m, x, t_x, t) AS p_alive".to_string(),
        format!("expected_purchases(m, {h}, x, t_x, t) AS expected_purchases"),
    ];
    let mut summary = format!("btyd_summary({source})");
    if let Some(iv) = intervals {
        let mut args = ["customer_id", "x", "t_x", "t"].join(", ");
        if spend.is_some() {
            args.push_str(", monetary");
        }
        for option in [
            format!("model={}", model.kind.name()),
            format!("time_unit={}", model.time_unit()),
            format!("horizon={horizon:?}"),
            format!("discount_rate={discount_rate:?}"),
            format!("margin={margin:?}"),
            format!("level={:?}", iv.level),
            format!("replicates={}", iv.replicates),
            format!("seed={}", iv.seed),
            format!("method={}", iv.method),
        ] {
            args.push_str(&format!(", {}", literal(&option)));
        }
        summary = format!("(SELECT *, ltv_intervals({args}) OVER () AS __bounds FROM {summary})");
        let mut bounds = vec!["p_alive", "expected_purchases"];
        if spend.is_some() {
            bounds.push("clv");
        }
        for b in bounds {
            for side in ["lower", "upper"] {
                columns.push(format!("__bounds['{b}_{side}'] AS {b}_{side}"));
            }
        }
    }
    let mut models = vec![format!("{} AS m", model.sql_struct())];
    if let Some(g) = spend {
        models.push(format!("{} AS g", g.sql_struct()));
        // As clv_predict: customers whose repeat purchases were all free (monetary = 0) are
        // outside the Gamma-Gamma fit but scored, their expected spend shrunk towards zero.
        columns.push("expected_spend(g, x, monetary) AS expected_spend".to_string());
        columns.push(format!(
            "clv(m, g, x, t_x, t, monetary, {h}, {}, CAST({discount_rate:?} AS DOUBLE), 'discrete', CAST({margin:?} AS DOUBLE)) AS clv",
            literal(&model.time_unit())
        ));
    }
    format!(
        "SELECT {} FROM {summary} CROSS JOIN (SELECT {}) ORDER BY customer_id",
        columns.join(", "),
        models.join(", ")
    )
}

/// Runs `clv predict`.
pub async fn predict(global: &GlobalArgs, args: PredictArgs) -> Result<()> {
    let model = ModelFile::load(&args.model, &kinds(Role::Transactions), "--model")?;
    let spend = args
        .spend_model
        .as_deref()
        .map(|p| ModelFile::load(p, &kinds(Role::Spend), "--spend-model"))
        .transpose()?;
    let mut options = vec![
        ("btyd.calibration_end", args.calibration_end.clone()),
        ("btyd.time_unit", Some(model.time_unit())),
    ];
    options.extend(args.intervals.options());
    let job = Job::new(global, &args.input, &options).await?;
    args.view.output.check()?;
    let o = crate::session::options(&job.ctx);
    let horizon = args.horizon.unwrap_or(o.ltv_horizon);
    let discount = args.discount_rate.unwrap_or(o.ltv_discount_rate);
    let margin = args.margin.unwrap_or(o.ltv_margin);
    for (flag, v) in [
        ("--horizon", horizon),
        ("--discount-rate", discount),
        ("--margin", margin),
    ] {
        if !v.is_finite() || v < 0.0 {
            return Err(CliError::usage(format!("{flag} must be a finite number >= 0, got {v}")));
        }
    }
    for m in std::iter::once(&model).chain(spend.as_ref()) {
        let fit = &m.json["fit"];
        let name = display_name(m.kind.name());
        if fit["converged"].as_bool() == Some(false) {
            job.warn(format!(
                "the {name} model in {} did not converge when fitted; its predictions may be poor",
                m.path.display()
            ));
        } else if fit.is_object() && fit["standard_errors"].is_null() {
            job.warn(format!("the {name} model in {} is degenerate (no standard errors: the data did not identify its parameters); its predictions may be poor",
                m.path.display()
            ));
        }
    }
    let intervals = o.ltv_intervals.map(|level| Intervals {
        level,
        replicates: o.ltv_replicates,
        seed: o.seed,
        method: o.ltv_interval_method.to_string(),
    });
    let query = predict_query(
        &job.source(),
        &model,
        spend.as_ref(),
        horizon,
        discount,
        margin,
        intervals.as_ref(),
    );
    let result = job.sql_registered("predictions", &query, "predictions").await?;
    job.warn_if_empty(&result, "prediction table").await?;
    if output::emit(&result, &args.view.output, job.quiet)? == Emitted::Done {
        return Ok(());
    }
    job.note(format!(
        "{} predictions for {} from {}{}: expected purchases over {horizon} {}s",
        display_name(model.kind.name()),
        job.input.label,
        model.path.display(),
        spend
            .as_ref()
            .map(|s| format!(" and {}", s.path.display()))
            .unwrap_or_default(),
        model.time_unit()
    ));
    let spend_cols = if spend.is_some() {
        format!(
            ", round({}, 2) AS mean_expected_spend, round({}, 2) AS total_clv",
            exact("avg", "expected_spend"),
            exact("sum", "clv")
        )
    } else {
        String::new()
    };
    // Every query runs before anything is printed: a failure leaves stdout empty.
    let overview = job
        .sql_results(
            "overview",
            &format!(
                "SELECT count(*) AS customers, round({}, 4) AS mean_p_alive,
                        round({}, 2) AS expected_purchases{spend_cols} FROM predictions",
                exact("avg", "p_alive"),
                exact("sum", "expected_purchases")
            ),
        )
        .await?;
    let order = if spend.is_some() { "clv" } else { "expected_purchases" };
    let top = job
        .sql_results(
            "top customers",
            &format!(
                "SELECT * FROM predictions ORDER BY {order} DESC NULLS LAST, customer_id LIMIT {}",
                args.view.preview
            ),
        )
        .await?;
    if output::rows(&result) > 0 {
        output::print_table("Overview", &overview)?;
    }
    output::print_table(&format!("Top {} customers by {order}", args.view.preview), &top)
}
