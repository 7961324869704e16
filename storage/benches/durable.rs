//! What a durable safety-record write costs (the latency a vote waits for):
//! `cargo bench -p aether-storage --bench durable`.

use aether_storage::durable::DurableRecord;
use criterion::{Criterion, criterion_group, criterion_main};

fn durable(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut record = DurableRecord::open(dir.path().join("safety")).unwrap();
    let payload = [7u8; 100];
    c.bench_function("durable/store_100_bytes", |b| {
        b.iter(|| record.store(&payload).unwrap())
    });
    c.bench_function("durable/load_100_bytes", |b| {
        b.iter(|| record.load().unwrap().unwrap())
    });
}

criterion_group!(benches, durable);
criterion_main!(benches);
