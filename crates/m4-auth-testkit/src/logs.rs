//! A `tracing` subscriber that records every event, for tests that check what a crate logs
//! (one warning per outage, the fields of a failure) and what it never logs (a token, a
//! password). No dependency on tracing-subscriber: install it with
//! `tracing::subscriber::with_default` or `set_default` on the test's thread.
//!
//! ```
//! use m4_auth_testkit::logs::Recorder;
//! use tracing::Level;
//!
//! let recorder = Recorder::default();
//! tracing::subscriber::with_default(recorder.clone(), || {
//!     tracing::warn!(code = "jwks_unavailable", url = %"http://127.0.0.1:1/keys", "fetch failed");
//! });
//! assert_eq!(recorder.count(Level::WARN), 1);
//! let events = recorder.take();
//! assert!(events[0].fields.contains("code=jwks_unavailable"), "{events:?}");
//! assert!(recorder.take().is_empty());
//! ```

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Its level.
    pub level: Level,
    /// The target (the module that logged it, unless set).
    pub target: String,
    /// Its fields as `name=value ` text, the message included: `&str` values as written,
    /// everything else through `Debug`.
    pub fields: String,
}

/// Records every event of the threads it is installed on; clones share one record.
#[derive(Clone, Default)]
pub struct Recorder {
    events: Arc<Mutex<Vec<Recorded>>>,
}

impl Recorder {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Recorded>> {
        self.events.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every event recorded so far, in order.
    pub fn events(&self) -> Vec<Recorded> {
        self.lock().clone()
    }

    /// Every event recorded so far, forgetting them.
    pub fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.lock())
    }

    /// How many events of `level` were recorded.
    pub fn count(&self, level: Level) -> usize {
        self.lock().iter().filter(|e| e.level == level).count()
    }

    /// Every event as `target fields`, one per line (to search for what must never be logged).
    pub fn text(&self) -> String {
        self.lock()
            .iter()
            .map(|e| format!("{} {}", e.target, e.fields))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, "{}={} ", field.name(), value);
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = String::new();
        event.record(&mut Fields(&mut fields));
        self.lock().push(Recorded {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            fields,
        });
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}
