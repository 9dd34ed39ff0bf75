//! What the `tracing` and `metrics` features cost once something listens:
//! the same keyed `#[scoped_cancel]` call with a subscriber or recorder
//! installed (ours) vs with none (hand), in one binary built with both
//! features. (Compiled in but nothing installed vs not compiled in needs two
//! builds: `tests/benches/instructions.sh` with
//! `SC_BENCH_CARGO_FLAGS=--no-default-features`, and the `overhead` bench
//! run both ways; see BENCHMARKS.md.)
//!
//! `cargo bench -p scoped-cancel-tests --bench observe [-- FILTER...]`

mod common;

use std::fmt;
use std::hint::black_box;

use common::{paired, print_table, timed, Options, Row};
use metrics_exporter_prometheus::PrometheusBuilder;
use scoped_cancel::{scoped_cancel, Cancelled, Registry};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Instrument, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

static REG: Registry<u64> = Registry::new();

#[scoped_cancel(registry = REG, key = id, name = "bench::plain")]
async fn plain(id: u64) -> Result<u64, Cancelled> {
    Ok(black_box(id))
}

/// The same call under another name: its metric handles are registered
/// while a recorder is current, so its scopes are recorded.
#[scoped_cancel(registry = REG, key = id, name = "bench::recorded")]
async fn recorded(id: u64) -> Result<u64, Cancelled> {
    Ok(black_box(id))
}

/// Formats every field of every event and span into a string, the work a
/// formatting subscriber does before writing.
struct Format;

struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        use fmt::Write;
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Format {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut text = Text(String::new());
        event.record(&mut text);
        black_box(text.0);
    }

    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: Context<'_, S>,
    ) {
        let mut text = Text(String::new());
        attrs.record(&mut text);
        black_box(text.0);
    }
}

fn main() {
    let opts = Options::from_env();
    let rt = common::current_thread();
    let n = opts.scaled(5_000);
    let rounds = opts.rounds(51);
    let warmup = 5;
    let mut rows: Vec<Row> = Vec::new();
    let mut case = |name: &str, ours: &mut dyn FnMut() -> f64, theirs: &mut dyn FnMut() -> f64| {
        if opts.wants(name) {
            rows.push(paired(name, "ns", None, warmup, rounds, ours, theirs));
        }
    };

    let info = || {
        tracing_subscriber::registry()
            .with(Format)
            .with(LevelFilter::INFO)
    };
    let all = || {
        tracing_subscriber::registry()
            .with(Format)
            .with(LevelFilter::TRACE)
    };
    case(
        "tracing: subscriber at INFO (our events off) vs none",
        &mut || tracing::subscriber::with_default(info(), || timed!(rt, n, |i| plain(i))),
        &mut || timed!(rt, n, |i| plain(i)),
    );
    case(
        "tracing: subscriber at TRACE formatting every event (entered + ended per call) vs none",
        &mut || tracing::subscriber::with_default(all(), || timed!(rt, n, |i| plain(i))),
        &mut || timed!(rt, n, |i| plain(i)),
    );
    case(
        "tracing: subscriber at DEBUG formatting every event (none on a normal end) vs none",
        &mut || {
            let debug = tracing_subscriber::registry()
                .with(Format)
                .with(LevelFilter::DEBUG);
            tracing::subscriber::with_default(debug, || timed!(rt, n, |i| plain(i)))
        },
        &mut || timed!(rt, n, |i| plain(i)),
    );
    case(
        "tracing: a span per scope (name, key; entered on every poll) vs events only, both at DEBUG",
        &mut || {
            let debug = tracing_subscriber::registry()
                .with(Format)
                .with(LevelFilter::DEBUG);
            tracing::subscriber::with_default(debug, || {
                timed!(rt, n, |i| plain(i).instrument(tracing::debug_span!(
                    target: "scoped_cancel",
                    "scope",
                    name = "bench::plain",
                    key = i
                )))
            })
        },
        &mut || {
            let debug = tracing_subscriber::registry()
                .with(Format)
                .with(LevelFilter::DEBUG);
            tracing::subscriber::with_default(debug, || timed!(rt, n, |i| plain(i)))
        },
    );

    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    // Registers `bench::recorded`'s handles with the recorder; `plain`'s
    // were registered (no-op) above, with none installed.
    metrics::with_local_recorder(&recorder, || {
        rt.block_on(recorded(u64::MAX)).unwrap();
    });
    case(
        "metrics: Prometheus recorder (gauge, exit counter, histogram) vs none",
        &mut || {
            let ns = timed!(rt, n, |i| recorded(i));
            handle.run_upkeep();
            ns
        },
        &mut || timed!(rt, n, |i| plain(i)),
    );
    assert!(REG.is_empty());
    let scraped = handle.render();
    assert!(scraped.contains("bench::recorded"));
    print_table(
        "Observability: the keyed #[scoped_cancel] call, with a listener installed vs without",
        &rows,
    );
}
