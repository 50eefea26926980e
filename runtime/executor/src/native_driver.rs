//! Driving native components' background work on the main worker (`emvex-component`'s
//! `drive`/`actions_done`/`recover`): which instances need a drive, when, and what happens with
//! the actions a drive starts.
//!
//! An instance is driven (in a mutation transaction of its own) after any of its mutations ran
//! — a spurious drive after a rolled-back one is harmless —, when the time it asked for comes,
//! at once again when it says it has more to do, and at start after `recover`. The actions a
//! drive returns are started on the JS threads only after its transaction committed; each
//! outcome comes back to the main worker as a [`NativeDone`] message and is recorded by
//! `actions_done` in a transaction of its own.
//!
//! Invariants: native work never polls (it sleeps until a mutation touches the instance or its
//! wake time); a drive that fails is rolled back and retried a second later, and never blocks
//! other instances or calls.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use emvex_component::{ActionOutcome, NativeComponent, NativeContext, Progress};
use emvex_value::Value;
use emvex_value::function::FunctionKind;
use tokio::sync::mpsc::UnboundedSender;

use crate::action_threads::{ActionReply, ActionTask};
use crate::call::ActionRequest;
use crate::components::Implementation;
use crate::native::Bridge;
use crate::path::{FunctionAddress, UdfPath};
use crate::request_metadata::RequestMetadata;
use crate::runner::{Failure, FunctionRunner, NewJob};
use crate::syscalls::TransactionHost;
use crate::worker::Shared;

/// How long a failed drive waits before it is tried again.
const RETRY_MS: f64 = 1000.0;

/// An action a native instance started has ended.
#[derive(Clone)]
pub(crate) struct NativeDone {
    pub instance: String,
    pub token: Value,
    pub outcome: ActionOutcome,
}

/// Which native instances need a drive, and when.
#[derive(Default)]
pub(crate) struct NativeDriver {
    /// Instances to drive as soon as possible.
    dirty: BTreeSet<String>,
    /// Instances to drive at a time (ms since the epoch).
    wake_at: BTreeMap<String, f64>,
    /// Action outcomes that could not be recorded, to try again at the time given.
    unrecorded: Vec<(f64, NativeDone)>,
}

impl NativeDriver {
    /// When the next drive is due (`now` if any instance is dirty).
    pub(crate) fn next_due_ms(&self, runner: &FunctionRunner) -> Option<f64> {
        if !self.dirty.is_empty() || !runner.native_touched.is_empty() {
            return Some(0.0);
        }
        self.wake_at.values().chain(self.unrecorded.iter().map(|(at, _)| at)).copied().reduce(f64::min)
    }

    pub(crate) fn mark(&mut self, instance: &str) {
        self.dirty.insert(instance.to_string());
    }

    /// Takes the instances due now.
    fn take_due(&mut self, runner: &mut FunctionRunner, now: f64) -> BTreeSet<String> {
        let mut due = std::mem::take(&mut self.dirty);
        due.append(&mut runner.native_touched);
        let woken: Vec<String> = self.wake_at.iter().filter(|(_, at)| **at <= now).map(|(i, _)| i.clone()).collect();
        for instance in woken {
            self.wake_at.remove(&instance);
            due.insert(instance);
        }
        due
    }
}

/// The native implementation behind instance `instance`, if it is native.
fn native_of(runner: &FunctionRunner, instance: &str) -> Option<Arc<dyn NativeComponent>> {
    match runner.components.definition_of(instance).map(|d| &d.implementation) {
        Some(Implementation::Native(native)) => Some(native.clone()),
        _ => None,
    }
}

/// Runs `f` with a native context of `instance` in a mutation transaction that commits when
/// `f` succeeds. Returns `f`'s value, the jobs it scheduled and its log lines.
fn in_transaction<T>(
    runner: &mut FunctionRunner,
    instance: &str,
    what: &str,
    f: impl FnOnce(&dyn NativeComponent, NativeContext<'_>) -> Result<T, emvex_component::NativeError>,
) -> Result<(T, Vec<NewJob>, Vec<String>), String> {
    let native = native_of(runner, instance).ok_or_else(|| format!("\"{instance}\" is not a native component"))?;
    let components = runner.components.clone();
    let no_env = BTreeMap::new();
    let env = components.instance(instance).map_or(&no_env, |i| &i.env);
    let mut tx = runner.db.begin_mutation().map_err(|e| e.message)?;
    let now = tx.clock().now_whole_ms();
    let path = UdfPath { module: "emvex".into(), name: what.into() };
    // A drive is a request of its own: the functions it runs (`onComplete` handlers) must not
    // see the request that ran before it on this thread.
    runner.request = RequestMetadata::internal();
    let (result, new_jobs, logs) = {
        let mut host =
            TransactionHost::new(&mut tx, runner, instance.to_string(), FunctionKind::Mutation, path, now, 0);
        let result = {
            let mut bridge = Bridge { host: &mut host };
            f(native.as_ref(), NativeContext { instance, env, now_ms: now, host: &mut bridge })
        };
        (result, std::mem::take(&mut host.new_jobs), std::mem::take(&mut host.nested_logs))
    };
    let value = result.map_err(|e| format!("{e:?}"))?;
    tx.commit().map_err(|e| e.message)?;
    Ok((value, new_jobs, logs))
}

/// At start: lets every native instance recover, then marks it for a first drive.
pub(crate) fn recover_all(shared: &Shared) {
    let instances: Vec<String> = {
        let worker = shared.borrow();
        let components = worker.runner.components.clone();
        components.instances().map(|i| i.path.clone()).filter(|p| native_of(&worker.runner, p).is_some()).collect()
    };
    for instance in instances {
        let mut worker = shared.borrow_mut();
        match in_transaction(&mut worker.runner, &instance, "recover", |n, ctx| n.recover(ctx)) {
            Ok(((), jobs, logs)) => {
                worker.scheduler.add(jobs);
                worker.print(FunctionKind::Mutation, &format!("{instance}:recover"), &logs);
            }
            Err(e) => eprintln!("emvex: native component \"{instance}\" could not recover: {e}"),
        }
        worker.natives.mark(&instance);
    }
}

/// Drives every instance that is due (after retrying outcomes that could not be recorded).
pub(crate) fn drive_due(shared: &Shared) {
    let retry: Vec<NativeDone> = {
        let mut worker = shared.borrow_mut();
        let now = worker.runner.db.clock().now_whole_ms();
        let (due, later): (Vec<_>, Vec<_>) =
            std::mem::take(&mut worker.natives.unrecorded).into_iter().partition(|(at, _)| *at <= now);
        worker.natives.unrecorded = later;
        due.into_iter().map(|(_, done)| done).collect()
    };
    if !retry.is_empty() {
        handle_done(shared, retry);
    }
    let due = {
        let mut worker = shared.borrow_mut();
        let worker = &mut *worker;
        let now = worker.runner.db.clock().now_whole_ms();
        worker.natives.take_due(&mut worker.runner, now)
    };
    for instance in due {
        drive(shared, &instance);
    }
}

fn drive(shared: &Shared, instance: &str) {
    let result = {
        let mut worker = shared.borrow_mut();
        in_transaction(&mut worker.runner, instance, "drive", |n, ctx| n.drive(ctx))
    };
    let progress = match result {
        Ok((progress, jobs, logs)) => {
            let mut worker = shared.borrow_mut();
            worker.scheduler.add(jobs);
            worker.print(FunctionKind::Mutation, &format!("{instance}:drive"), &logs);
            progress
        }
        Err(e) => {
            eprintln!("emvex: native component \"{instance}\" could not make progress, retrying in 1 s: {e}");
            let mut worker = shared.borrow_mut();
            let retry_at = worker.runner.db.clock().now_whole_ms() + RETRY_MS;
            worker.natives.wake_at.insert(instance.to_string(), retry_at);
            return;
        }
    };
    apply_progress(shared, instance, progress);
}

/// Acts on what a committed drive returned: wake times, another drive, actions to start.
fn apply_progress(shared: &Shared, instance: &str, progress: Progress) {
    let Progress { actions, wake_at_ms, again } = progress;
    {
        let mut worker = shared.borrow_mut();
        if again {
            worker.natives.mark(instance);
        }
        if let Some(at) = wake_at_ms {
            let entry = worker.natives.wake_at.entry(instance.to_string()).or_insert(at);
            *entry = entry.min(at);
        }
    }
    for start in actions {
        start_action(shared, instance, start);
    }
}

/// Starts one action a drive asked for; a handle that does not name an action fails the
/// attempt at once.
fn start_action(shared: &Shared, instance: &str, start: emvex_component::ActionStart) {
    let (request, done_tx) = {
        let worker = shared.borrow();
        let components = worker.runner.components.clone();
        let target = components.resolve(instance, &FunctionAddress::Handle(start.handle.clone()));
        let request = match target {
            Err(e) => Err(e.message),
            Ok(target) => match components.function(&target.component, &target.path).map(|f| f.kind) {
                Some(FunctionKind::Action) => Ok(ActionRequest {
                    component: target.component,
                    path: target.path,
                    args: vec![start.args.clone()],
                    meta: RequestMetadata::internal(),
                }),
                Some(other) => Err(format!(
                    "Trying to execute {} as Action, but it is defined as {}.",
                    target.path.canonical(),
                    other.title()
                )),
                None => Err(format!("Could not find function for '{}'", target.path.stripped())),
            },
        };
        (request, worker.native_done.clone())
    };
    match request {
        Ok(request) => {
            let done = Done { instance: instance.to_string(), token: start.token, sender: done_tx };
            let path = request.path.clone();
            let reply: ActionReply = Box::new(move |env, outcome, log_lines| {
                env.print(&path, &log_lines, outcome.as_ref().err());
                done.send(outcome);
            });
            shared.borrow().dispatcher_task(ActionTask::Run { request, reply });
        }
        Err(message) => handle_done(
            shared,
            vec![NativeDone {
                instance: instance.to_string(),
                token: start.token,
                outcome: ActionOutcome::Failed { message, data: None },
            }],
        ),
    }
}

/// Where an action's outcome goes.
struct Done {
    instance: String,
    token: Value,
    sender: UnboundedSender<NativeDone>,
}

impl Done {
    fn send(self, outcome: Result<Value, Failure>) {
        let outcome = match outcome {
            Ok(value) => ActionOutcome::Success(value),
            Err(Failure::Developer { message, data, .. }) => ActionOutcome::Failed { message, data },
            Err(Failure::Internal(message)) => ActionOutcome::Failed { message, data: None },
        };
        let _ = self.sender.send(NativeDone { instance: self.instance, token: self.token, outcome });
    }
}

/// Records the outcomes of ended actions — those of one instance, and the drive that fills the
/// slots they freed, in one transaction. If a batch fails, its outcomes are recorded one by one
/// (and the instance marked for a drive of its own), so one bad outcome cannot hold up the
/// others; one that still fails is tried again a second later (never dropped: its work would
/// stay `running` until a restart).
pub(crate) fn handle_done(shared: &Shared, done: Vec<NativeDone>) {
    let mut by_instance: BTreeMap<String, Vec<(Value, ActionOutcome)>> = BTreeMap::new();
    for NativeDone { instance, token, outcome } in done {
        by_instance.entry(instance).or_default().push((token, outcome));
    }
    let mut progresses = Vec::new();
    let mut worker = shared.borrow_mut();
    for (instance, outcomes) in by_instance {
        let singles: Vec<(Value, ActionOutcome)> = match record(&mut worker, &instance, outcomes.clone(), true) {
            Ok(progress) => {
                progresses.extend(progress.map(|p| (instance.clone(), p)));
                continue;
            }
            Err(_) => outcomes,
        };
        for (token, outcome) in singles {
            if let Err(e) = record(&mut worker, &instance, vec![(token.clone(), outcome.clone())], false) {
                eprintln!(
                    "emvex: native component \"{instance}\" could not record an action's end, retrying in 1 s: {e}"
                );
                let done = NativeDone { instance: instance.clone(), token, outcome };
                let retry_at = worker.runner.db.clock().now_whole_ms() + RETRY_MS;
                worker.natives.unrecorded.push((retry_at, done));
            }
        }
        worker.natives.mark(&instance);
    }
    drop(worker);
    for (instance, progress) in progresses {
        apply_progress(shared, &instance, progress);
    }
}

/// Records `outcomes` in one transaction, followed by a drive when `then_drive`.
fn record(
    worker: &mut crate::worker::Worker,
    instance: &str,
    outcomes: Vec<(Value, ActionOutcome)>,
    then_drive: bool,
) -> Result<Option<Progress>, String> {
    let (progress, jobs, logs) = in_transaction(&mut worker.runner, instance, "complete", |n, ctx| {
        let NativeContext { instance, env, now_ms, host } = ctx;
        n.actions_done(NativeContext { instance, env, now_ms, host: &mut *host }, outcomes)?;
        if !then_drive {
            return Ok(None);
        }
        n.drive(NativeContext { instance, env, now_ms, host }).map(Some)
    })?;
    worker.scheduler.add(jobs);
    worker.print(FunctionKind::Mutation, &format!("{instance}:complete"), &logs);
    Ok(progress)
}
