//! A tool's progress reports as MCP `notifications/progress`, for a call whose client sent a
//! progress token.

use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::{RequestContext, RoleServer};
use tokio::sync::mpsc;

use crate::progress::{Progress, ProgressSink};

/// How many reports may wait for the client; a tool reporting faster than the client reads
/// loses reports, never time.
const WAITING_REPORTS: usize = 64;

/// A sink for the tool's context, and the reports it receives.
pub(super) fn channel() -> (ProgressSink, mpsc::Receiver<Progress>) {
    let (sender, receiver) = mpsc::channel(WAITING_REPORTS);
    let sink = ProgressSink::new(move |progress| {
        // Full: the client reads slower than the tool reports. The next report says more.
        let _ = sender.try_send(progress);
    });
    (sink, receiver)
}

/// Waits for `call` to end, sending each of its reports to the client as a notification with
/// `token`, in order and only while `done` grows (MCP requires progress to increase); every
/// report made before the call ended is sent before its answer.
pub(super) async fn forwarding<T>(
    call: impl Future<Output = T>,
    mut reports: mpsc::Receiver<Progress>,
    token: ProgressToken,
    context: &RequestContext<RoleServer>,
) -> T {
    let mut call = std::pin::pin!(call);
    let mut last = f64::NEG_INFINITY;
    let mut notify = async |progress: Progress| {
        if progress.done.is_nan() || progress.done <= last {
            return;
        }
        last = progress.done;
        let mut param = ProgressNotificationParam::new(token.clone(), progress.done);
        param.total = progress.total;
        param.message = progress.message;
        // A client that stopped listening is not the tool's failure.
        if let Err(error) = context.peer.notify_progress(param).await {
            tracing::debug!(%error, "a progress notification could not be sent");
        }
    };
    let result = loop {
        tokio::select! {
            biased;
            Some(progress) = reports.recv() => notify(progress).await,
            result = &mut call => break result,
        }
    };
    while let Ok(progress) = reports.try_recv() {
        notify(progress).await;
    }
    result
}
