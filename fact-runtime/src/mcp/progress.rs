//! A tool's progress reports as MCP `notifications/progress`, for a call whose client sent a
//! progress token.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::{RequestContext, RoleServer};
use tokio::sync::Notify;

use crate::progress::{Progress, ProgressSink};

/// How many reports may wait for the client. A tool reporting faster than the client reads
/// loses its oldest waiting reports, never time, and never its latest.
const WAITING_REPORTS: usize = 64;

/// The reports waiting to be sent, and the signal that one came.
#[derive(Debug, Default)]
pub(super) struct Reports {
    waiting: Mutex<VecDeque<Progress>>,
    arrived: Notify,
}

impl Reports {
    fn take(&self) -> VecDeque<Progress> {
        std::mem::take(&mut *self.waiting.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// A sink for the tool's context, and the reports it receives.
pub(super) fn channel() -> (ProgressSink, Arc<Reports>) {
    let reports = Arc::new(Reports::default());
    let sink = {
        let reports = Arc::clone(&reports);
        ProgressSink::new(move |progress| {
            // Only a report MCP can carry: a finite amount done (JSON has no infinity).
            if !progress.done.is_finite() {
                return;
            }
            {
                let mut waiting = reports
                    .waiting
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if waiting.len() == WAITING_REPORTS {
                    waiting.pop_front();
                }
                waiting.push_back(progress);
            }
            reports.arrived.notify_one();
        })
    };
    (sink, reports)
}

/// Waits for `call` to end, sending the tool's reports to the client as notifications with
/// `token`, in order and only while `done` grows (MCP requires progress to increase); every
/// report still waiting when the call ends is sent before its answer.
pub(super) async fn forwarding<T>(
    call: impl Future<Output = T>,
    reports: Arc<Reports>,
    token: ProgressToken,
    context: &RequestContext<RoleServer>,
) -> T {
    let mut call = std::pin::pin!(call);
    let mut last = f64::NEG_INFINITY;
    let mut send = async |waiting: VecDeque<Progress>| {
        for progress in waiting {
            if progress.done <= last {
                continue;
            }
            last = progress.done;
            let mut param = ProgressNotificationParam::new(token.clone(), progress.done);
            param.total = progress.total.filter(|total| total.is_finite());
            param.message = progress.message;
            // A client that stopped listening is not the tool's failure.
            if let Err(error) = context.peer.notify_progress(param).await {
                tracing::debug!(%error, "a progress notification could not be sent");
            }
        }
    };
    let result = loop {
        tokio::select! {
            biased;
            () = reports.arrived.notified() => send(reports.take()).await,
            result = &mut call => break result,
        }
    };
    send(reports.take()).await;
    result
}
