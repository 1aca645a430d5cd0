//! Criterion benches of the kernels: RFM quantile and ntile scoring, segment mapping, exact sums;
//! the BG/NBD and Pareto/NBD likelihood with its gradient (one optimiser step's work) and
//! per-customer predictions; the fused `rfm()` operator's per-customer aggregation (the id
//! lookup and the totals update) on unsorted integer and string ids.

use clv::ltv::simulate::{BgNbdSimulator, Observation};
use clv::ltv::{BgNbd, BgNbdParams, ParetoNbd, TimeUnit, TransactionModel, TransactionSummary, bench_hooks};
use clv::rfm::customers::CustomerAggregator;
use clv::rfm::exact_sum::exact_sum;
use clv::rfm::{Direction, SchemeRegistry, ScoreMethod, ScoreSpec, score_population};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use datafusion::arrow::array::AsArray;
use datafusion::arrow::array::{ArrayRef, BooleanArray, Int32Array, Int64Array, StringViewArray};
use datafusion::arrow::datatypes::{DataType, Int32Type, Int64Type};
use rand::{Rng, SeedableRng};
use std::sync::Arc;

fn values(n: usize) -> Vec<Option<f64>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    (0..n)
        .map(|_| Some((rng.r#gen::<f64>() * 1000.0).round() / 100.0))
        .collect()
}

fn scoring(c: &mut Criterion) {
    let mut g = c.benchmark_group("score_population");
    for n in [100_000, 1_000_000] {
        let v = values(n);
        g.throughput(Throughput::Elements(n as u64));
        for method in [ScoreMethod::Quantile, ScoreMethod::Ntile] {
            let spec = ScoreSpec::new(5, Direction::Higher, method);
            g.bench_with_input(BenchmarkId::new(method.as_str(), n), &v, |b, v| {
                b.iter(|| score_population(&spec, v).unwrap())
            });
        }
        let spec = ScoreSpec::new(2, Direction::Higher, ScoreMethod::Mean);
        g.bench_with_input(BenchmarkId::new("mean", n), &v, |b, v| {
            b.iter(|| score_population(&spec, v).unwrap())
        });
    }
    g.finish();
}

fn segments(c: &mut Criterion) {
    let scheme = SchemeRegistry::new().get("rfm11").unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let cells: Vec<(i64, i64, i64)> = (0..1_000_000)
        .map(|_| (rng.gen_range(1..=5), rng.gen_range(1..=5), rng.gen_range(1..=5)))
        .collect();
    let mut g = c.benchmark_group("segment_assign");
    g.throughput(Throughput::Elements(cells.len() as u64));
    g.bench_function("rfm11_1m", |b| {
        b.iter(|| {
            cells
                .iter()
                .map(|&(r, f, m)| scheme.assign(r, f, m).unwrap().len())
                .sum::<usize>()
        })
    });
    g.finish();
}

fn sums(c: &mut Criterion) {
    let v: Vec<f64> = values(1_000_000).into_iter().flatten().collect();
    let mut g = c.benchmark_group("exact_sum");
    g.throughput(Throughput::Elements(v.len() as u64));
    g.bench_function("fsum_1m", |b| b.iter(|| exact_sum(v.iter().copied())));
    g.finish();
}

/// 100k customers simulated from the CDNOW BG/NBD estimates, times on a daily grid (as in
/// `ltv-fit-bench`).
fn summary() -> TransactionSummary {
    let truth = BgNbdParams {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };
    BgNbdSimulator::new(truth, Observation::Uniform { min: 0.0, max: 52.0 }, TimeUnit::Week)
        .unwrap()
        .resolution(1.0 / 7.0)
        .simulate(100_000, 7)
        .unwrap()
}

fn likelihood(c: &mut Criterion) {
    let data = summary();
    let mut g = c.benchmark_group("likelihood_and_gradient");
    g.throughput(Throughput::Elements(data.len() as u64));
    let phi = [0.243f64.ln(), 4.414f64.ln(), 0.793f64.ln(), 2.426f64.ln()];
    let mut bg = bench_hooks::bgnbd_objective(&data);
    g.bench_function("bgnbd_100k", |b| b.iter(|| bg(&phi)));
    let phi = [0.55f64.ln(), 10.58f64.ln(), 0.61f64.ln(), 11.67f64.ln()];
    let mut pnbd = bench_hooks::pareto_nbd_objective(&data);
    g.bench_function("pareto_nbd_100k", |b| b.iter(|| pnbd(&phi)));
    g.finish();
}

fn predictions(c: &mut Criterion) {
    let data = summary();
    let bg = BgNbd::new().fit(&data).unwrap();
    let pnbd = ParetoNbd::new().fit(&data).unwrap();
    let rows: Vec<(f64, f64, f64)> = (0..data.len())
        .map(|i| (data.frequency()[i], data.recency()[i], data.t()[i]))
        .collect();
    let mut g = c.benchmark_group("per_customer_prediction");
    g.throughput(Throughput::Elements(rows.len() as u64));
    g.bench_function("bgnbd_p_alive_100k", |b| {
        b.iter(|| {
            rows.iter()
                .map(|&(x, tx, t)| bg.p_alive(x, tx, t).unwrap())
                .sum::<f64>()
        })
    });
    g.bench_function("bgnbd_expected_purchases_52w_100k", |b| {
        b.iter(|| {
            rows.iter()
                .map(|&(x, tx, t)| bg.expected_purchases(52.0, x, tx, t).unwrap())
                .sum::<f64>()
        })
    });
    g.bench_function("pareto_nbd_p_alive_100k", |b| {
        b.iter(|| {
            rows.iter()
                .map(|&(x, tx, t)| pnbd.p_alive(x, tx, t).unwrap())
                .sum::<f64>()
        })
    });
    g.bench_function("bgnbd_p_alive_batch_100k", |b| {
        b.iter(|| bg.p_alive_batch(&data).unwrap())
    });
    g.finish();
}

/// One input partition's worth of the 10M-row RFM benchmark: 5M unsorted rows of 910k
/// customers, in batches of 8,192, with int and with string (`C000000123`) ids.
fn aggregation(c: &mut Criterion) {
    const ROWS: usize = 5_000_000;
    const CUSTOMERS: u64 = 910_000;
    const BATCH: usize = 8_192;
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    let ids: Vec<u64> = (0..ROWS).map(|_| rng.gen_range(0..CUSTOMERS)).collect();
    let batches = |id: &dyn Fn(&[u64]) -> ArrayRef| -> Vec<[ArrayRef; 5]> {
        ids.chunks(BATCH)
            .map(|chunk| {
                let n = chunk.len();
                let day: ArrayRef = Arc::new(Int32Array::from_iter_values(
                    chunk.iter().map(|c| 19_000 + (*c % 700) as i32),
                ));
                let time: ArrayRef = Arc::new(Int64Array::from_iter_values(
                    chunk.iter().map(|c| 19_000 + (*c % 700) as i64),
                ));
                let amount: ArrayRef =
                    Arc::new(Int64Array::from_iter_values(chunk.iter().map(|c| (*c % 10_000) as i64)));
                [
                    id(chunk),
                    time,
                    day,
                    amount,
                    Arc::new(BooleanArray::from(vec![true; n])),
                ]
            })
            .collect()
    };
    let int_batches = batches(&|chunk| Arc::new(Int64Array::from_iter_values(chunk.iter().map(|c| *c as i64))));
    let str_batches = batches(&|chunk| {
        Arc::new(StringViewArray::from_iter_values(
            chunk.iter().map(|c| format!("C{c:09}")),
        ))
    });
    let mut g = c.benchmark_group("customer_aggregation");
    g.sample_size(10);
    g.throughput(Throughput::Elements(ROWS as u64));
    for (name, id_type, batches) in [
        ("int_unsorted_5m", DataType::Int64, &int_batches),
        ("string_unsorted_5m", DataType::Utf8View, &str_batches),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut agg = CustomerAggregator::new(&id_type).unwrap();
                for [id, time, day, amount, purchase] in batches {
                    let amounts: Vec<i128> = amount
                        .as_primitive::<Int64Type>()
                        .values()
                        .iter()
                        .map(|a| i128::from(*a))
                        .collect();
                    // Every row a purchase (the purchase column is all true).
                    debug_assert_eq!(purchase.as_boolean().true_count(), purchase.len());
                    agg.update(
                        id,
                        time.as_primitive::<Int64Type>().values(),
                        day.as_primitive::<Int32Type>().values(),
                        &amounts,
                        None,
                    )
                    .unwrap();
                }
                agg.keys.len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, scoring, segments, sums, likelihood, predictions, aggregation);
criterion_main!(benches);
