//! k-means on the CDNOW master file against scikit-learn (issue 18, item 4).
//!
//! Reference values: `testdata/kmeans_reference.py` wrote `testdata/cdnow_master_rfm.csv`
//! (per-customer recency_days, frequency, monetary at as_of 1998-07-01, computed by pandas and
//! cross-checked in DuckDB SQL, plus scikit-learn's labels) and
//! `testdata/cdnow_master_kmeans_reference.json` (feature means and sds, scikit-learn's best
//! inertia of `KMeans(n_init=10, random_state=0)` for k = 4, 5, 8, a silhouette).

use clv_models::kmeans::{FeatureMatrix, FittedKMeans, KMeans, silhouette_score};
use clv_models::{FittedBgNbd, ModelError, ModelKind};

struct Cdnow {
    recency: Vec<f64>,
    frequency: Vec<f64>,
    monetary: Vec<f64>,
    labels_k5: Vec<u32>,
    reference: serde_json::Value,
}

fn testdata(name: &str) -> String {
    let path = format!("{}/../../testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn cdnow() -> Cdnow {
    let csv = testdata("cdnow_master_rfm.csv");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (r, f, m, l5) = (col("recency_days"), col("frequency"), col("monetary"), col("label_k5"));
    let mut out = Cdnow {
        recency: vec![],
        frequency: vec![],
        monetary: vec![],
        labels_k5: vec![],
        reference: serde_json::from_str(&testdata("cdnow_master_kmeans_reference.json")).unwrap(),
    };
    let mut last_id = 0i64;
    for line in lines {
        let v: Vec<&str> = line.split(',').collect();
        let id: i64 = v[0].parse().unwrap();
        assert!(id > last_id, "rows sorted by customer id");
        last_id = id;
        out.recency.push(v[r].parse().unwrap());
        out.frequency.push(v[f].parse().unwrap());
        out.monetary.push(v[m].parse().unwrap());
        out.labels_k5.push(v[l5].parse().unwrap());
    }
    out
}

impl Cdnow {
    fn features(&self) -> FeatureMatrix {
        FeatureMatrix::rfm(&self.recency, &self.frequency, &self.monetary).unwrap()
    }
    fn reference(&self, path: &[&str]) -> f64 {
        path.iter().fold(&self.reference, |v, p| &v[p]).as_f64().unwrap()
    }
}

#[test]
fn features_and_standardisation_match_numpy_and_duckdb() {
    let c = cdnow();
    assert_eq!(c.recency.len(), c.reference["customers"].as_u64().unwrap() as usize);
    let x = c.features();
    assert_eq!(x.clamped(), &[0, 0, 0], "CDNOW has no negative totals");
    let s = clv_models::kmeans::Standardizer::fit(&x).unwrap();
    for j in 0..3 {
        let mean = c.reference["feature_mean"][j].as_f64().unwrap();
        let sd = c.reference["feature_sd"][j].as_f64().unwrap();
        assert!(
            (s.mean[j] - mean).abs() <= 1e-13 * mean.abs(),
            "mean {j}: {} vs {mean}",
            s.mean[j]
        );
        assert!((s.sd[j] - sd).abs() <= 1e-13 * sd, "sd {j}: {} vs {sd}", s.sd[j]);
    }
}

#[test]
fn inertia_within_half_a_percent_of_scikit_learn() {
    let c = cdnow();
    let x = c.features();
    for k in [4usize, 5, 8] {
        let model = KMeans::new(k).fit(&x).unwrap();
        let report = model.report().unwrap();
        let sklearn = c.reference(&["inertia", &k.to_string()]);
        let ratio = report.inertia / sklearn;
        eprintln!(
            "k={k}: clv inertia {:.6}, scikit-learn {sklearn:.6}, ratio {ratio:.6}, {} iterations, converged {}",
            report.inertia, report.iterations, report.converged
        );
        assert!(ratio <= 1.005, "k={k}: inertia ratio {ratio}");
        // The reported inertia is the sum of squared distances to the nearest centroid,
        // recomputed here from the standardised features.
        let z = model.standardizer().transform(&x);
        let recomputed: f64 = z
            .chunks_exact(3)
            .map(|r| {
                (0..k)
                    .map(|j| {
                        r.iter()
                            .zip(model.centroid(j))
                            .map(|(a, b)| (a - b) * (a - b))
                            .sum::<f64>()
                    })
                    .fold(f64::INFINITY, f64::min)
            })
            .sum();
        assert!(
            (recomputed - report.inertia).abs() < 1e-9 * recomputed,
            "{recomputed} vs {}",
            report.inertia
        );
        assert!(report.converged && report.starts.len() == 10 && report.start_rows == x.rows());
        assert_eq!(model.clusters().iter().map(|c| c.size).sum::<usize>(), x.rows());
    }
}

#[test]
fn exact_silhouette_matches_scikit_learn() {
    let c = cdnow();
    let x = c.features();
    let s = clv_models::kmeans::Standardizer::fit(&x).unwrap();
    let rows = c.reference["silhouette"]["rows"].as_u64().unwrap() as usize;
    let z = s.transform(&x);
    let value = silhouette_score(&z[..rows * 3], 3, &c.labels_k5[..rows]).unwrap();
    // Distances as sqrt(Σ (x_i − x_j)²), as here: equal to rounding.
    let direct = c.reference(&["silhouette", "direct"]);
    assert!((value - direct).abs() < 1e-14, "{value} vs {direct}");
    // scikit-learn's distances (sqrt(|x|² − 2x·y + |y|²)) round differently in the 12th digit.
    let sklearn = c.reference(&["silhouette", "sklearn"]);
    assert!((value - sklearn).abs() < 1e-10, "{value} vs {sklearn}");
}

#[test]
fn same_model_for_any_thread_count_and_labels_equal_assign() {
    let c = cdnow();
    let x = c.features();
    // The default path (starts on all rows) and the sampled path (starts on 5,000 rows,
    // refined on all), each with 1 thread and more.
    for (start_rows, threads) in [(100_000, 2), (5_000, 3)] {
        let fits: Vec<(FittedKMeans, Vec<u32>)> = [1, threads]
            .iter()
            .map(|&t| {
                KMeans::new(5)
                    .n_init(4)
                    .start_rows(start_rows)
                    .threads(t)
                    .fit_predict(&x)
                    .unwrap()
            })
            .collect();
        let json = serde_json::to_string(&fits[0].0).unwrap();
        for f in &fits[1..] {
            assert_eq!(serde_json::to_string(&f.0).unwrap(), json);
            assert_eq!(f.1, fits[0].1);
        }
        let (model, labels) = &fits[0];
        for (i, &label) in labels.iter().enumerate() {
            let raw = [c.recency[i], c.frequency[i], c.monetary[i]];
            assert_eq!(model.assign(&raw).unwrap(), label, "row {i}");
        }
        assert_eq!(&model.assign_matrix(&x).unwrap(), labels);
        let report = model.report().unwrap();
        if start_rows == 5_000 {
            assert_eq!(report.start_rows, 5_000);
            let sklearn = c.reference(&["inertia", "5"]);
            assert!(
                report.inertia / sklearn <= 1.005,
                "sampled starts: {}",
                report.inertia / sklearn
            );
        }
    }
}

#[test]
fn names_centroids_and_json() {
    let c = cdnow();
    let x = c.features();
    let model = KMeans::new(5).fit(&x).unwrap();
    for j in 0..model.k() {
        let raw = model.centroid_in_raw_units(j);
        eprintln!(
            "cluster {j}: {:>5} customers, {:<40} {:<24} recency {:6.1} d, frequency {:5.2}, monetary {:8.2}",
            model.clusters()[j].size,
            model.clusters()[j].name,
            model.clusters()[j].name_zh,
            raw[0],
            raw[1],
            raw[2]
        );
    }
    // Cluster 0 is the most valuable: the shortest recency, the most orders, the most spend.
    let raw: Vec<Vec<f64>> = (0..model.k()).map(|j| model.centroid_in_raw_units(j)).collect();
    for j in 1..model.k() {
        assert!(raw[0][0] <= raw[j][0] && raw[0][1] >= raw[j][1] && raw[0][2] >= raw[j][2]);
    }
    let names: Vec<&str> = model.clusters().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "very recent, very frequent, very high spend",
            "very recent, frequent, high spend",
            "lapsing, frequent, high spend",
            "lapsing, occasional, mid spend",
            "lapsed, rare, low spend"
        ]
    );
    // The centroid in feature units, put back through the standardisation, is the centroid.
    let f = model.centroid_in_feature_units(2);
    let s = model.standardizer();
    for (t, &c) in model.centroid(2).iter().enumerate() {
        assert!(((f[t] - s.mean[t]) / s.sd[t] - c).abs() < 1e-12);
    }

    let json = serde_json::to_string(&model).unwrap();
    assert!(json.starts_with(r#"{"kind":"kmeans","format_version":1,"#), "{json}");
    let back: FittedKMeans = serde_json::from_str(&json).unwrap();
    assert_eq!(back, model);
    let tag: clv_models::KindTag = serde_json::from_str(&json).unwrap();
    assert_eq!(tag.kind, ModelKind::KMeans);
    let err = serde_json::from_str::<FittedBgNbd>(&json).unwrap_err().to_string();
    assert!(err.contains("expected bg_nbd, found kmeans"), "{err}");
    let bgnbd = r#"{"kind":"bg_nbd","format_version":1,"params":{"r":1,"alpha":1,"a":1,"b":1}}"#;
    let err = serde_json::from_str::<FittedKMeans>(bgnbd).unwrap_err().to_string();
    assert!(err.contains("expected kmeans, found bg_nbd"), "{err}");
    let broken = json.replacen("\"centroids\":[[", "\"centroids\":[[1.0,", 1);
    assert!(serde_json::from_str::<FittedKMeans>(&broken).is_err());
}

#[test]
fn elbow_and_silhouette_diagnostics() {
    let c = cdnow();
    let x = c.features();
    let diag = KMeans::new(1).n_init(3).diagnose(&x, &[1, 2, 3, 4, 6], 1_000).unwrap();
    for w in diag.windows(2) {
        assert!(w[1].inertia < w[0].inertia, "inertia falls with k: {diag:?}");
    }
    // k = 1: the inertia is n × (number of features) in standardised units.
    assert!((diag[0].inertia - 3.0 * x.rows() as f64).abs() < 1e-6);
    assert!(diag[0].silhouette.is_none());
    for d in &diag[1..] {
        let s = d.silhouette.unwrap();
        assert_eq!(s.rows, 1_000);
        assert!(s.value > 0.0 && s.value < 1.0, "{d:?}");
        eprintln!("k={}: inertia {:.1}, silhouette {:.4}", d.k, d.inertia, s.value);
    }
    // The same seed, the same sample: the silhouette is reproducible.
    let model = KMeans::new(4).n_init(3).fit(&x).unwrap();
    assert_eq!(model.silhouette(&x, 1_000, 0).unwrap(), diag[3].silhouette.unwrap());
}

#[test]
fn bad_input_is_a_clear_error() {
    let x = FeatureMatrix::rfm(&[1.0, 2.0], &[1.0, 3.0], &[5.0, 8.0]).unwrap();
    let e = KMeans::new(3).fit(&x).unwrap_err();
    assert!(matches!(e, ModelError::InvalidArgument { name: "k", .. }), "{e}");
    let e = KMeans::new(0).fit(&x).unwrap_err();
    assert!(matches!(e, ModelError::InvalidArgument { name: "k", .. }), "{e}");
    let e = KMeans::new(1).tol(f64::NAN).fit(&x).unwrap_err();
    assert!(matches!(e, ModelError::InvalidArgument { name: "tol", .. }), "{e}");
    let dup = FeatureMatrix::rfm(&[1.0, 1.0, 2.0], &[1.0, 1.0, 1.0], &[5.0, 5.0, 5.0]).unwrap();
    let e = KMeans::new(3).fit(&dup).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid argument `k` = 3: more clusters than distinct rows"
    );
    let model = KMeans::new(2).fit(&dup).unwrap();
    assert!(matches!(
        model.assign(&[1.0, 1.0]),
        Err(ModelError::LengthMismatch { .. })
    ));
    let e = model.assign(&[1.0, 0.0, 5.0]).unwrap_err();
    assert_eq!(e.to_string(), "row 1: feature `frequency` = 0: ln needs a value > 0");
    let empty = FeatureMatrix::rfm(&[], &[], &[]).unwrap();
    assert_eq!(KMeans::new(1).fit(&empty).unwrap_err(), ModelError::EmptyInput);
}
