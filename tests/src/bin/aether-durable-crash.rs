//! Child process of `tests/tests/durable_crash.rs`: stores the records 1, 2, 3, … (each the
//! number as 8 bytes, padded with a pattern to a few hundred bytes) in a `DurableRecord` at
//! the path given, printing each number after its store returned, until it is killed.

use aether_storage::durable::DurableRecord;

/// The payload of record `n`.
fn payload(n: u64) -> Vec<u8> {
    let mut p = n.to_le_bytes().to_vec();
    p.extend((0..300).map(|i| (n as u8).wrapping_add(i as u8)));
    p
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: aether-durable-crash FILE");
    let mut record = match DurableRecord::open(path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let start = match record.load() {
        Ok(Some(p)) => u64::from_le_bytes(p[..8].try_into().expect("8-byte counter")),
        Ok(None) => 0,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    for n in start + 1.. {
        if let Err(e) = record.store(&payload(n)) {
            eprintln!("{e}");
            std::process::exit(2);
        }
        println!("{n}");
    }
}
