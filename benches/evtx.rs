//! Records/s of the evtx input's work (parse a chunk, render JSON, map to ECS) on security.evtx, repeated to
//! a few hundred thousand records, on one core. Prints figures; asserts nothing. `cargo bench --bench evtx`.

use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/evtx/security.evtx");
    if !path.exists() {
        println!("{} is missing; nothing measured", path.display());
        return;
    }
    let rounds = 100;
    let started = Instant::now();
    let mut records = 0usize;
    let mut bytes = 0usize;
    for _ in 0..rounds {
        let mut parser = evtx::EvtxParser::from_path(&path).expect("open evtx");
        for r in parser.records_json_value() {
            let Ok(r) = r else { continue };
            let e =
                logward::inputs::windows_event::ecs::to_event(&r.data, r.event_record_id, "bench");
            let mut out = Vec::with_capacity(2048);
            e.write_json(&mut out);
            bytes += out.len();
            records += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "evtx security.evtx x{rounds}: {records} records in {secs:.2} s -> {:.0} records/s, {:.1} MB/s of NDJSON out (one core)",
        records as f64 / secs,
        bytes as f64 / 1e6 / secs
    );
}
