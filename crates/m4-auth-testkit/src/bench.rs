//! The paired bench harness: ratios measured so that load from other jobs on a shared machine
//! hits both sides of a ratio alike, plus the wall-clock timing of operations run on two
//! threads at once and the raw aws-lc-rs signature check that is the floor of every token
//! verification.
//!
//! Two separate criterion benchmarks measured seconds apart cannot promise that a ratio of
//! their medians means anything on a 2-core machine shared with other builds. Here batches of
//! about 2 ms of the two operations alternate (order flipped every pair), each pair gives one
//! ratio, and the median of the pairs is the result. `cargo xtask bench` runs m4-auth's bench
//! in `--paired` mode and reads its `PAIRED <name> <ratio>` lines.
//!
//! An operation is `&(dyn Fn(usize) + Sync)`: it gets the index of the thread running it
//! (0 or 1), so two threads can work on their own inputs, as two users would.
//!
//! ```
//! use m4_auth_testkit::bench;
//!
//! let slow = |_: usize| {
//!     std::hint::black_box((0..2_000u64).sum::<u64>());
//! };
//! let fast = |_: usize| {
//!     std::hint::black_box((0..20u64).sum::<u64>());
//! };
//! let paired = bench::paired_ratio(&slow, &fast, 5);
//! assert!(paired.ratio > 1.0, "{paired:?}");
//! ```

use std::sync::Barrier;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{self, KeyPair as _, ParsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// An operation to time; it gets the index of the thread running it (0 or 1).
pub type Op<'a> = &'a (dyn Fn(usize) + Sync);

/// How many pairs a full measurement takes (the median of 150 is stable to a few percent on
/// a busy 2-core machine; a quick run, such as a bench binary in `--test` mode, takes fewer).
pub const PAIRS: usize = 150;

/// Whether the bench binary was started with `--paired` (as `cargo xtask bench` starts it):
/// measure the goal ratios with this module's harness and print `PAIRED <name> <value>` lines
/// instead of running criterion.
pub fn paired_mode() -> bool {
    std::env::args().any(|a| a == "--paired")
}

/// The `main` of a bench binary (`harness = false`): with `--paired`, `paired` (the goal
/// ratios, see [`paired_mode`]); otherwise criterion, configured from the command line (so
/// `cargo bench`, `--test` mode and criterion's filters work as usual), runs `benches` and
/// prints its summary.
///
/// ```no_run
/// fn benches(c: &mut criterion::Criterion) {
///     c.bench_function("sum", |b| b.iter(|| (0..100u64).sum::<u64>()));
/// }
/// fn paired() {
///     println!("PAIRED nothing 1.0");
/// }
/// m4_auth_testkit::bench::main(paired, benches);
/// ```
pub fn main(paired: impl FnOnce(), benches: impl FnOnce(&mut criterion::Criterion)) {
    if paired_mode() {
        paired();
    } else {
        let mut criterion = criterion::Criterion::default().configure_from_args();
        benches(&mut criterion);
        criterion.final_summary();
    }
}

/// How many pairs a measurement takes in this run: [`PAIRS`], or 5 when the bench binary runs in
/// `--test` mode (`cargo test --benches`, `--all-targets`), which only checks that it works.
pub fn pairs() -> usize {
    if std::env::args().any(|a| a == "--test") {
        5
    } else {
        PAIRS
    }
}

/// Time per batch: long enough that timer resolution and a context switch are noise, short
/// enough that load changes rarely fall inside one pair.
const BATCH: Duration = Duration::from_millis(2);

/// The result of [`paired_ratio`]: the median of the per-pair ratios, and the median time per
/// operation of each side (for context; the ratio is not their quotient).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairedRatio {
    /// Median over the pairs of (time per op of `a`) / (time per op of `b`).
    pub ratio: f64,
    /// Median time per operation of `a`, in nanoseconds.
    pub a_ns: f64,
    /// Median time per operation of `b`, in nanoseconds.
    pub b_ns: f64,
}

/// Runs `op` `n` times on each of `threads` threads released together, and returns the wall
/// time from the first thread's start to the last thread's end. Thread start-up is outside it;
/// a thread that cannot get a core waits inside it, so two threads sharing one core measure as
/// twice the time, not as two separate single-thread runs. For criterion's `iter_custom`.
///
/// ```
/// let took = m4_auth_testkit::bench::wall(&|_| {}, 2, 10);
/// assert!(took < std::time::Duration::from_secs(1));
/// ```
pub fn wall(op: Op<'_>, threads: usize, n: u64) -> Duration {
    let barrier = Barrier::new(threads);
    let spans: Vec<(Instant, Instant)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..n {
                        op(t);
                    }
                    (start, Instant::now())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a benchmarked operation panicked"))
            .collect()
    });
    span(&spans)
}

/// From the earliest start to the latest end.
fn span(spans: &[(Instant, Instant)]) -> Duration {
    let first = spans.iter().map(|(start, _)| *start).min();
    let last = spans.iter().map(|(_, end)| *end).max();
    match (first, last) {
        (Some(first), Some(last)) => last - first,
        _ => Duration::ZERO,
    }
}

/// Nanoseconds for `n` runs of `op` on this thread (as thread 0).
fn run(op: Op<'_>, n: u64) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        op(0);
    }
    start.elapsed().as_nanos() as f64
}

/// Operations per batch so that one batch takes about [`BATCH`]: after a warm-up, the probe
/// doubles until it has run for at least a tenth of a batch, so a 50 ns operation is timed
/// over thousands of runs and a 1 ms one over a few.
fn batch_size(op: Op<'_>) -> u64 {
    run(op, 20);
    let mut n = 16u64;
    let took = loop {
        let took = run(op, n);
        if took >= BATCH.as_nanos() as f64 / 10.0 || n >= 1 << 20 {
            break took;
        }
        n *= 2;
    };
    let per_op = (took / n as f64).max(1.0);
    ((BATCH.as_nanos() as f64 / per_op) as u64).max(5)
}

/// The median (the upper one of an even count); 0 for none.
///
/// ```
/// assert_eq!(m4_auth_testkit::bench::median(vec![3.0, 1.0, 2.0]), 2.0);
/// ```
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// `pairs` pairs of a batch of `a` and a batch of `b` on this thread, in alternating order;
/// the median of the per-pair ratios a/b (time per operation).
pub fn paired_ratio(a: Op<'_>, b: Op<'_>, pairs: usize) -> PairedRatio {
    let (na, nb) = (batch_size(a), batch_size(b));
    let mut ratios = Vec::with_capacity(pairs);
    let mut a_times = Vec::with_capacity(pairs);
    let mut b_times = Vec::with_capacity(pairs);
    for i in 0..pairs {
        let (ta, tb) = if i % 2 == 0 {
            let ta = run(a, na) / na as f64;
            (ta, run(b, nb) / nb as f64)
        } else {
            let tb = run(b, nb) / nb as f64;
            (run(a, na) / na as f64, tb)
        };
        ratios.push(ta / tb);
        a_times.push(ta);
        b_times.push(tb);
    }
    PairedRatio {
        ratio: median(ratios),
        a_ns: median(a_times),
        b_ns: median(b_times),
    }
}

/// A barrier for two threads that never sleeps: a thread woken from a blocking barrier is put
/// on its waker's core by the scheduler, so blocking turns taken every 2 ms would keep both
/// workers on one core. Spinning (with a yield now and then, so a busy machine still gets the
/// core back) keeps each worker runnable where it is.
struct SpinBarrier {
    arrived: AtomicUsize,
    generation: AtomicUsize,
}

impl SpinBarrier {
    fn wait(&self) {
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) == 1 {
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
            return;
        }
        let mut spins = 0u32;
        while self.generation.load(Ordering::Acquire) == generation {
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }
}

/// The median over `pairs` alternating pairs of two-thread throughput / one-thread throughput
/// of `op` (2.0 is perfect scaling, 1.0 none).
///
/// The two worker threads live for the whole measurement and take turns at a spinning barrier
/// (one thread works, then both, or the reverse), so they stay on their own cores.
///
/// ```
/// let scaling = m4_auth_testkit::bench::paired_scaling(&|_| {
///     std::hint::black_box((0..100u64).sum::<u64>());
/// }, 3);
/// assert!(scaling > 0.0);
/// ```
pub fn paired_scaling(op: Op<'_>, pairs: usize) -> f64 {
    let n = batch_size(op);
    // Phases, in order: for even pairs one thread then two, for odd pairs the reverse.
    let phases: Vec<usize> = (0..pairs)
        .flat_map(|i| if i % 2 == 0 { [1, 2] } else { [2, 1] })
        .collect();
    let barrier = SpinBarrier {
        arrived: AtomicUsize::new(0),
        generation: AtomicUsize::new(0),
    };
    let spans: Vec<Vec<Option<(Instant, Instant)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|t| {
                let (barrier, phases) = (&barrier, &phases);
                s.spawn(move || {
                    let mut spans = Vec::with_capacity(phases.len());
                    for &threads in phases {
                        barrier.wait();
                        if t < threads {
                            let start = Instant::now();
                            for _ in 0..n {
                                op(t);
                            }
                            spans.push(Some((start, Instant::now())));
                        } else {
                            spans.push(None);
                        }
                        barrier.wait();
                    }
                    spans
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a benchmarked operation panicked"))
            .collect()
    });
    let wall = |phase: usize| {
        let ran: Vec<(Instant, Instant)> = spans
            .iter()
            .filter_map(|s| s.get(phase).copied().flatten())
            .collect();
        span(&ran).as_nanos() as f64
    };
    let ratios = (0..pairs)
        .map(|i| {
            let (a, b) = (wall(2 * i), wall(2 * i + 1));
            let (one, two) = if i % 2 == 0 { (a, b) } else { (b, a) };
            2.0 * one / two
        })
        .collect();
    median(ratios)
}

/// The floor of a token verification: aws-lc-rs checking a compact JWS's signature with a key
/// parsed beforehand, nothing else (no base64 of the header, no JSON, no claims).
pub struct RawSignature {
    input: Vec<u8>,
    signature: Vec<u8>,
    key: ParsedPublicKey,
}

impl RawSignature {
    /// For `token` (RS256 signed by an `rsa-*` fixture, or ES256 by `ec-p256`): its signing
    /// input, its decoded signature, and the fixture's public key parsed by aws-lc-rs from the
    /// private PEM (independently of any JWK parser). Checks the signature once.
    ///
    /// ```
    /// use aws_lc_rs::rand::SystemRandom;
    /// use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    /// use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
    /// use m4_auth_testkit::{bench::RawSignature, keys};
    ///
    /// let der = keys::private_der("ec-p256");
    /// let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der).unwrap();
    /// let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256"}"#), URL_SAFE_NO_PAD.encode("{}"));
    /// let signature = pair.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
    /// let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature));
    /// RawSignature::of(&token, "ec-p256").verify();
    /// ```
    #[track_caller]
    pub fn of(token: &str, fixture: &str) -> RawSignature {
        let (input, signature) = token
            .rsplit_once('.')
            .unwrap_or_else(|| panic!("not a compact JWS: {token:?}"));
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .unwrap_or_else(|e| panic!("the signature is not base64url: {e}"));
        let der = crate::keys::private_der(fixture);
        let key = if fixture.starts_with("rsa") {
            let pair = signature::RsaKeyPair::from_pkcs8(&der)
                .unwrap_or_else(|e| panic!("{fixture} is not an RSA PKCS#8 key: {e}"));
            ParsedPublicKey::new(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                pair.public_key().as_ref(),
            )
        } else if fixture == "ec-p256" {
            let pair = signature::EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &der,
            )
            .unwrap_or_else(|e| panic!("{fixture} is not a P-256 PKCS#8 key: {e}"));
            ParsedPublicKey::new(
                &signature::ECDSA_P256_SHA256_FIXED,
                pair.public_key().as_ref(),
            )
        } else {
            panic!("RawSignature handles rsa-* (RS256) and ec-p256 (ES256), not {fixture}")
        }
        .unwrap_or_else(|e| panic!("aws-lc-rs refused the public key of {fixture}: {e}"));
        let raw = RawSignature {
            input: input.as_bytes().to_vec(),
            signature,
            key,
        };
        raw.verify();
        raw
    }

    /// Checks the signature (the timed operation); fails if it does not verify.
    #[track_caller]
    pub fn verify(&self) {
        self.key
            .verify_sig(
                std::hint::black_box(&self.input),
                std::hint::black_box(&self.signature),
            )
            .unwrap_or_else(|e| panic!("the raw signature check failed: {e}"));
    }
}
