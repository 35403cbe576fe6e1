//! A batch of calls over every worker thread of the runtime (docs/ARCHITECTURE.md, "Batches").
//!
//! On a multi-thread runtime a batch is run by one runner per worker thread (at most one per
//! call, and per unit of the concurrency bound): the task polling the batch is one of them,
//! the others are spawned. The runners take the calls from one queue
//! in input order, each running its share of the bound at once; the stream the caller polls
//! puts their answers back in input order. A runner takes a call only with a permit of the
//! batch's bound, and a permit is given back when its answer is yielded, so that calls running
//! and answers waiting for an earlier one are never more than the bound together, as with
//! [`StreamExt::buffered`]. Since calls are taken in order, the earliest answer not yet yielded
//! always belongs to a call already running: the bound cannot starve it.
//!
//! On a current-thread runtime, with one worker, or for a single call, the calls run in place
//! on the caller's task, as they always did: spawning would only add hand-offs.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};

use futures::stream::{self, BoxStream};
use futures::{Stream, StreamExt as _};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;

use super::ToolExecutor;
use crate::call::ToolCall;
use crate::result::ToolResult;

/// What a batch's caller turns each result into.
pub(super) type Finish<T> = Arc<dyn Fn(ToolResult) -> T + Send + Sync>;

/// The answers to `calls`, in input order, with at most `bound` of them running or waiting at
/// once: spread over the runtime's worker threads when there are several, in place otherwise.
pub(super) fn answers<T: Send + 'static>(
    executor: ToolExecutor,
    calls: Vec<ToolCall>,
    finish: Finish<T>,
    bound: usize,
) -> BoxStream<'static, T> {
    let runners = runners_for(calls.len(), bound);
    if runners <= 1 {
        return in_place(executor, calls, finish, bound).boxed();
    }
    spread(executor, calls, finish, bound, runners).boxed()
}

/// How many runners a batch of `calls` with `bound` gets: one per worker thread of the current
/// runtime, when it is a multi-thread one, and at most one per call and per unit of the bound.
fn runners_for(calls: usize, bound: usize) -> usize {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return 1;
    };
    if runtime.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
        return 1;
    }
    runtime.metrics().num_workers().min(calls).min(bound)
}

/// The calls on the caller's task, `bound` at once.
fn in_place<T: Send + 'static>(
    executor: ToolExecutor,
    calls: Vec<ToolCall>,
    finish: Finish<T>,
    bound: usize,
) -> impl Stream<Item = T> + Send + 'static {
    stream::iter(calls)
        .map(move |call| {
            let executor = executor.clone();
            let finish = Arc::clone(&finish);
            async move { finish(executor.execute_tool_call(call).await) }
        })
        .buffered(bound)
}

/// One answer from a runner: the call's place in the batch, what `finish` made of its result
/// (or how `finish` panicked), and the permit it holds until it is yielded.
struct Answer<T> {
    index: usize,
    value: std::thread::Result<T>,
    _permit: OwnedSemaphorePermit,
}

/// What the runners share: the calls not yet taken, in input order, and the batch's permits.
struct Queue {
    calls: Mutex<std::iter::Enumerate<std::vec::IntoIter<ToolCall>>>,
    permits: Arc<Semaphore>,
}

impl Queue {
    /// The next call, with a permit; `None` once every call is taken.
    async fn take(&self) -> Option<(usize, ToolCall, OwnedSemaphorePermit)> {
        // Never closed: an error cannot happen, and would end this runner's share.
        let permit = Arc::clone(&self.permits).acquire_owned().await.ok()?;
        // Taking a call leaves the queue whole, so a panic elsewhere poisons nothing.
        let (index, call) = self
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next()?;
        Some((index, call, permit))
    }
}

/// The calls over `runners` spawned tasks, answered in input order.
fn spread<T: Send + 'static>(
    executor: ToolExecutor,
    calls: Vec<ToolCall>,
    finish: Finish<T>,
    bound: usize,
    runners: usize,
) -> impl Stream<Item = T> + Send + 'static {
    let total = calls.len();
    let queue = Arc::new(Queue {
        calls: Mutex::new(calls.into_iter().enumerate()),
        permits: Arc::new(Semaphore::new(bound)),
    });
    // Bounded by the permits: at most `bound` answers exist at once.
    let (sender, received) = mpsc::unbounded_channel();
    let share = |runner: usize| bound / runners + usize::from(runner < bound % runners);
    let runner_answers = |index: usize| {
        runner(
            executor.clone(),
            Arc::clone(&queue),
            Arc::clone(&finish),
            share(index),
        )
    };
    let mut tasks = JoinSet::new();
    // Runner 0 is the caller's own task: it runs calls too, so that it is not woken from
    // sleep for each answer of the others, and needs one thread fewer.
    for runner in 1..runners {
        // The bound shared out: runner `r` runs at most its part of it at once.
        let answers = runner_answers(runner);
        tasks.spawn(run(answers, sender.clone()));
    }
    drop(sender);
    let local = runner_answers(0);
    let state = Reorder {
        received,
        waiting: VecDeque::new(),
        next: 0,
        total,
        local: Some(local),
        others_done: false,
        // Dropped with the stream: the runners are aborted, and with them the calls still
        // running, which are then audited as cancelled, as a dropped call always is.
        tasks,
    };
    stream::unfold(state, Reorder::next_answer)
}

/// A runner's answers: it takes calls from `queue` while it has a permit and room among its
/// `share`, runs them, and answers with what `finish` makes of each result. A panic in
/// `finish` is answered too, to be resumed where the batch is polled, as it would be in place.
fn runner<T: Send + 'static>(
    executor: ToolExecutor,
    queue: Arc<Queue>,
    finish: Finish<T>,
    share: usize,
) -> BoxStream<'static, Answer<T>> {
    let taken = stream::unfold(queue, |queue| async move {
        let next = queue.take().await?;
        Some((next, queue))
    });
    taken
        .map(move |(index, call, permit)| {
            let executor = executor.clone();
            let finish = Arc::clone(&finish);
            async move {
                let result = executor.execute_tool_call(call).await;
                let value = std::panic::catch_unwind(AssertUnwindSafe(|| finish(result)));
                Answer {
                    index,
                    value,
                    _permit: permit,
                }
            }
        })
        .buffer_unordered(share)
        .boxed()
}

/// A spawned runner: its answers go to the task polling the batch.
async fn run<T: Send + 'static>(
    answers: BoxStream<'static, Answer<T>>,
    to: mpsc::UnboundedSender<Answer<T>>,
) {
    answers
        .for_each(|answer| {
            // The stream was dropped: the runner is about to be aborted.
            let _ = to.send(answer);
            std::future::ready(())
        })
        .await;
}

/// The answers as they arrive, yielded in input order.
struct Reorder<T> {
    received: mpsc::UnboundedReceiver<Answer<T>>,
    /// Answers arrived ahead of `next`, by their offset from it.
    waiting: VecDeque<Option<Answer<T>>>,
    next: usize,
    total: usize,
    /// The answers of the caller's own runner, until it has no call left to take: each is
    /// put in place as it comes, so that answers in order are yielded (and their permits
    /// given back) between two of its calls.
    local: Option<BoxStream<'static, Answer<T>>>,
    /// Whether every spawned runner has stopped (its sender dropped).
    others_done: bool,
    tasks: JoinSet<()>,
}

/// Where an answer came from; `None` once that side has no more.
enum Next<T> {
    Own(Option<Answer<T>>),
    Other(Option<Answer<T>>),
}

impl<T: Send + 'static> Reorder<T> {
    async fn next_answer(mut self) -> Option<(T, Self)> {
        if self.next == self.total {
            return None;
        }
        loop {
            if let Some(Some(_)) = self.waiting.front() {
                let answer = self.waiting.pop_front().flatten()?;
                self.next += 1;
                return match answer.value {
                    Ok(value) => Some((value, self)),
                    Err(panic) => std::panic::resume_unwind(panic),
                };
            }
            let next = match (&mut self.local, self.others_done) {
                // The others' answers first; then one of the caller's own.
                (Some(local), false) => tokio::select! {
                    biased;
                    answer = self.received.recv() => Next::Other(answer),
                    answer = local.next() => Next::Own(answer),
                },
                (Some(local), true) => Next::Own(local.next().await),
                (None, false) => Next::Other(self.received.recv().await),
                (None, true) => return self.runner_failed().await,
            };
            let answer = match next {
                Next::Own(Some(answer)) | Next::Other(Some(answer)) => answer,
                Next::Own(None) => {
                    self.local = None;
                    continue;
                }
                Next::Other(None) => {
                    self.others_done = true;
                    continue;
                }
            };
            let offset = answer.index - self.next;
            if self.waiting.len() <= offset {
                self.waiting.resize_with(offset + 1, || None);
            }
            self.waiting[offset] = Some(answer);
        }
    }

    /// Every runner has stopped with calls unanswered: one of them panicked outside a call
    /// (a call's own panic is its 500). The panic is resumed here, where the batch is polled.
    async fn runner_failed(mut self) -> Option<(T, Self)> {
        while let Some(joined) = self.tasks.join_next().await {
            if let Err(error) = joined
                && let Ok(panic) = error.try_into_panic()
            {
                std::panic::resume_unwind(panic);
            }
        }
        panic!(
            "a batch's runners stopped with {} of its {} calls unanswered",
            self.total - self.next,
            self.total
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runners_are_one_outside_a_runtime() {
        assert_eq!(runners_for(100, 64), 1);
    }

    #[test]
    fn runners_are_one_per_worker_at_most_one_per_call_and_unit_of_the_bound() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .build()
            .expect("runtime");
        let _entered = runtime.enter();
        assert_eq!(runners_for(100, 64), 4);
        assert_eq!(runners_for(3, 64), 3);
        assert_eq!(runners_for(100, 2), 2);
        assert_eq!(runners_for(1, 64), 1);
    }

    #[test]
    fn runners_are_one_on_a_current_thread_runtime() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let _entered = runtime.enter();
        assert_eq!(runners_for(100, 64), 1);
    }

    #[test]
    fn the_bound_is_shared_out_whole() {
        for (bound, runners) in [(64, 2), (3, 2), (7, 4), (2, 2)] {
            let shares: usize = (0..runners)
                .map(|runner| bound / runners + usize::from(runner < bound % runners))
                .sum();
            assert_eq!(shares, bound, "bound {bound} over {runners} runners");
        }
    }

    #[test]
    fn a_batch_outside_a_multi_thread_runtime_runs_in_place() {
        let executor = ToolExecutor::builder()
            .discover_linked_tools(false)
            .build()
            .expect("builds");
        let calls = (0..5)
            .map(|i| ToolCall::new(format!("No.Tool{i}"), serde_json::json!({})))
            .collect();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let names: Vec<String> = runtime.block_on(
            answers(
                executor,
                calls,
                Arc::new(|result: ToolResult| result.tool_name),
                2,
            )
            .collect(),
        );
        assert_eq!(
            names,
            ["No.Tool0", "No.Tool1", "No.Tool2", "No.Tool3", "No.Tool4"]
        );
    }
}
