//! The report section: The BG/NBD fit and its diagnostics.

use super::*;

pub(super) async fn model(job: &Job, ctx: &Context) -> Result<(Section, Option<ModelFile>)> {
    let mut s = Section::new("bgnbd", "BG/NBD model");
    let file = match fit_model(job, crate::commands::models::spec_of(ModelKind::BgNbd)?).await {
        Ok(m) => m,
        Err(e) => {
            s.note(&format!("The BG/NBD model could not be fitted: {}", e.line()));
            return Ok((s, None));
        }
    };
    let json = &file.json;
    let model: FittedBgNbd =
        serde_json::from_value(json.clone()).map_err(|e| CliError::internal(format!("fitted model: {e}")))?;
    let options = crate::session::options(&job.ctx);
    let calibration = options
        .btyd_calibration_end
        .or(options.as_of)
        .map(format_date)
        .unwrap_or_else(|| "the last transaction".into());
    s.para(&format!(
        "{}. Fitted on the purchases up to {calibration}, in {}s.",
        describe(json).lines().next().unwrap_or_default(),
        ctx.time_unit
    ));
    let rows: Vec<Vec<String>> = parameters(json)
        .into_iter()
        .map(|(p, v, se)| {
            vec![
                p,
                format!("{v:.4}"),
                se.map(|s| format!("{s:.4}")).unwrap_or_else(|| "–".into()),
            ]
        })
        .collect();
    s.table(
        &format!(
            "{} parameters with standard errors from the Hessian of the log-likelihood.",
            display_name("bg_nbd")
        ),
        &["parameter", "estimate", "std. error"],
        &rows,
    );
    let summary = job
        .sql("BTYD summary", &format!("SELECT * FROM btyd_summary({})", job.source()))
        .await?;
    let (x, t_x, t) = (f64s(&summary, "x")?, f64s(&summary, "t_x")?, f64s(&summary, "t")?);
    let e = |e: clv::ltv::ModelError| CliError::data(format!("BG/NBD prediction: {e}"));
    // Actual vs expected repeat-purchase histogram: E[#customers with k] = Σ_i P(X(t_i) = k).
    let k_max = 7usize;
    let mut actual = vec![0.0; k_max + 1];
    for v in &x {
        actual[(*v as usize).min(k_max)] += 1.0;
    }
    let mut ages: BTreeMap<u64, f64> = BTreeMap::new();
    for v in &t {
        *ages.entry(v.to_bits()).or_default() += 1.0;
    }
    let mut expected = vec![0.0; k_max + 1];
    for (bits, w) in &ages {
        let age = f64::from_bits(*bits);
        let mut below = 0.0;
        for (k, slot) in expected.iter_mut().enumerate().take(k_max) {
            let p = model.prob_purchases(k as u32, age).map_err(e)?;
            *slot += w * p;
            below += p;
        }
        expected[k_max] += w * (1.0 - below).max(0.0);
    }
    let cats: Vec<String> = (0..=k_max)
        .map(|k| if k == k_max { format!("{k}+") } else { k.to_string() })
        .collect();
    s.figure(
        svg::columns(
            "Actual vs expected repeat purchases",
            &cats,
            &[("actual", actual), ("model", expected)],
            "repeat purchases in the calibration period",
            "customers",
        ),
        "Customers by number of repeat purchases in the calibration period, observed (blue) and expected by the fitted model (orange): close bars mean a good fit.",
    );
    if ctx.holdout {
        let (xh, th) = (f64s(&summary, "x_holdout")?, f64s(&summary, "t_holdout")?);
        let groups = k_max;
        let (mut act, mut pred, mut n) = (vec![0.0; groups], vec![0.0; groups], vec![0.0; groups]);
        for i in 0..x.len() {
            let g = (x[i] as usize).min(groups - 1);
            act[g] += xh[i];
            pred[g] += model.expected_purchases(th[i], x[i], t_x[i], t[i]).map_err(e)?;
            n[g] += 1.0;
        }
        let points = |v: &[f64]| -> Vec<(f64, f64)> {
            (0..groups)
                .filter(|g| n[*g] > 0.0)
                .map(|g| (g as f64, v[g] / n[g]))
                .collect()
        };
        s.figure(
            svg::lines(
                "Calibration vs holdout purchases",
                &[("actual holdout", points(&act)), ("model", points(&pred))],
                &format!("purchases in the calibration period ({}+ pooled)", groups - 1),
                "mean purchases in the holdout",
                true,
            ),
            "Mean holdout-period purchases of customers grouped by their calibration-period purchases, observed and predicted by the model: the lines should lie close.",
        );
    } else {
        s.note(
            "No holdout period: pass --calibration-end and --holdout-end to compare predictions with what happened.",
        );
    }
    let t_max = t.iter().copied().fold(0.0, f64::max);
    let x_max = quantile(&x, 0.995).clamp(1.0, 20.0) as usize;
    let cols_n = 12usize;
    let rows: Vec<String> = (0..=x_max).rev().map(|v| v.to_string()).collect();
    // Recency bins end at t_max; a customer with repeat purchases has t_x > 0.
    let recencies: Vec<f64> = (1..=cols_n).map(|c| t_max * c as f64 / cols_n as f64).collect();
    let cols: Vec<String> = recencies.iter().map(|r| format!("{r:.0}")).collect();
    let mut values = vec![vec![None; cols_n]; x_max + 1];
    let mut labels = vec![vec![String::new(); cols_n]; x_max + 1];
    for (ri, xv) in (0..=x_max).rev().enumerate() {
        for (ci, r) in recencies.iter().enumerate() {
            let p = model
                .p_alive(xv as f64, if xv == 0 { 0.0 } else { *r }, t_max)
                .map_err(e)?;
            values[ri][ci] = Some(p);
            labels[ri][ci] = format!("{p:.2}");
        }
    }
    s.figure(
        svg::heatmap(
            "P(alive) matrix",
            &rows,
            &cols,
            &values,
            &labels,
            &format!("recency: age at the last purchase ({}s)", ctx.time_unit),
            "repeat purchases",
        ),
        &format!(
            "Probability that a customer is still active, by repeat purchases and recency, for a customer whose first purchase was {t_max:.0} {}s before the calibration end: frequent buyers who stopped long ago are likely gone (recency does not apply without repeat purchases, so the 0 row is constant).",
            ctx.time_unit
        ),
    );
    Ok((s, Some(file)))
}
