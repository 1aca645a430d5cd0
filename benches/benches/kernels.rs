//! Criterion benches of the RFM kernels: quantile and ntile scoring, segment mapping, exact sums.

use clv::rfm::exact_sum::exact_sum;
use clv::rfm::{Direction, SchemeRegistry, ScoreMethod, ScoreSpec, score_population};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};

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

criterion_group!(benches, scoring, segments, sums);
criterion_main!(benches);
