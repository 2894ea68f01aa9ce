//! The cycle collector's view of a protocol: the Python objects it owns (`traverse_refs`) and how
//! it lets go of them to break a cycle (`clear_refs`).
//!
//! Visited: the loop, the transport, the callbacks, the default record class and everything a
//! request in flight holds (its future, arguments, rows, COPY sink). Not visited: Python objects
//! behind an `Arc` (user codecs' callables, inside statements shared with `StatementState`), since
//! the collector must see each reference exactly once from its one owner; they hold no reference
//! back to the protocol that the driver creates.

use pyo3::{PyTraverseError, PyVisit};

use super::queue::{Args, FutureMaker, Kind, Pending, Then};
use super::PyBaseProtocol;

impl PyBaseProtocol {
    pub(super) fn traverse_refs(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.event_loop)?;
        if let Some(FutureMaker::Direct { class, kwargs }) = self.future_maker.get() {
            visit.call(class)?;
            visit.call(kwargs)?;
        }
        visit.call(&self.transport)?;
        visit.call(&self.record_class)?;
        visit.call(&self.notification_callback)?;
        visit.call(&self.notice_callback)?;
        visit.call(&self.lost_callback)?;
        visit.call(&self.stale_callback)?;
        visit.call(&self.auth.gss_step)?;
        for pending in &self.pending {
            visit_pending(pending, visit)?;
        }
        Ok(())
    }

    /// Drops what may close a cycle back to this protocol; the loop stays (it is needed to
    /// schedule nothing more, and a cycle through it is broken at the transport).
    pub(super) fn clear_refs(&mut self) {
        self.transport = None;
        self.record_class = None;
        self.notification_callback = None;
        self.notice_callback = None;
        self.lost_callback = None;
        self.stale_callback = None;
        self.auth.gss_step = None;
        self.pending.clear();
        self.overrides.clear();
        self.type_cache.clear();
    }
}

fn visit_pending(pending: &Pending, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
    visit.call(&pending.fut)?;
    match &pending.kind {
        Kind::Prepare { then, .. } => visit_then(then.as_ref(), visit),
        Kind::Execute { then, rows, .. } => {
            visit_then(Some(then), visit)?;
            rows.iter().try_for_each(|r| visit.call(r))
        }
        Kind::Portal { rows, record_class, .. } => {
            visit.call(record_class)?;
            rows.iter().try_for_each(|r| visit.call(r))
        }
        Kind::CopyOut { sink } => visit.call(sink),
        Kind::CopyIn { started } => visit.call(started),
        Kind::Introspect { resume, .. } => visit_then(resume.then.as_ref(), visit),
        Kind::Startup | Kind::Simple { .. } | Kind::Background | Kind::Sync => Ok(()),
    }
}

fn visit_then(then: Option<&Then>, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
    let Some(then) = then else { return Ok(()) };
    visit.call(&then.record_class)?;
    match &then.args {
        Args::One(a) => visit.call(a),
        Args::Many(a) => visit.call(a),
    }
}
