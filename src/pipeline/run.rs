//! Builds a running pipeline from a configuration and drives it until stopped.
//!
//! Shutdown order: inputs stop reading and wait for their in-flight batches; when the last input is gone
//! the queue closes, outputs drain what is left and close. If that takes longer than `shutdown_timeout`,
//! the force signal makes outputs abandon their retries and inputs stop waiting: nothing unacknowledged
//! has moved a checkpoint, so it is read again after the restart.

use super::checkpoint::CheckpointStore;
use super::disk::DiskQueue;
use super::queue::{QueueReader, QueueWriter, memory_queue};
use super::sender::EventSender;
use super::shutdown::StopSignal;
use super::supervise::Failures;
use crate::component::{Decoration, InputBuild, InputSpec, OutputBuild};
use crate::config::{Config, QueueKind};
use crate::inputs::{Input, InputContext};
use crate::observe::component::{ComponentMetrics, Kind};
use crate::outputs::Output;
use crate::outputs::runner::run_output;
use crate::processors::config::build_chain;
use anyhow::Context as _;
use std::sync::Arc;

/// Signals that control a running pipeline.
#[derive(Clone, Default)]
pub struct Control {
    /// Raised to ask for a graceful stop.
    pub stop: StopSignal,
    /// Raised when the graceful stop has taken too long.
    pub force: StopSignal,
}

/// An output's metrics (which name it), its workers, and its end of the queue.
type BuiltOutput = (
    ComponentMetrics,
    Vec<Box<dyn Output>>,
    crate::pipeline::queue::QueueReader,
);

/// Everything built from the configuration, before anything runs. Building can fail (a file output folder
/// that cannot be created, a processor that does not compile); then nothing has started.
pub struct Built {
    inputs: Vec<(InputSpec, Box<dyn Input>, EventSender)>,
    outputs: Vec<BuiltOutput>,
    /// The alert rules and outbox, with a queue writer for the alerts that fire on silence.
    alerts: Option<(Arc<crate::alerts::AlertStage>, QueueWriter)>,
    /// The disk queue's file thread, joined after the outputs so cursors are saved.
    queue_thread: Option<std::thread::JoinHandle<()>>,
    /// Raised if the disk queue's file thread dies.
    queue_failed: Option<StopSignal>,
}

/// Builds inputs, processors, queue and outputs.
pub fn build(config: &Config) -> anyhow::Result<Built> {
    build_with(config, &Control::default())
}

/// Builds inputs, processors, queue and outputs for a pipeline driven by `control`.
pub fn build_with(config: &Config, control: &Control) -> anyhow::Result<Built> {
    let global = build_chain(&config.processors, "global", &config.base_dir).map_err(|errs| {
        anyhow::anyhow!(
            "the global processors cannot be built:\n{}",
            errs.iter()
                .map(|e| format!("  processors[{}] ({}): {}", e.index, e.processor, e.message))
                .collect::<Vec<_>>()
                .join("\n")
        )
    })?;
    let global = Arc::new(global);
    let names: Vec<String> = config.outputs.iter().map(|o| o.name.clone()).collect();
    let (writer, readers, queue_thread, queue_failed) = match config.queue.kind {
        QueueKind::Memory => {
            let (w, r) = memory_queue(config.outputs.len(), config.queue.max_events);
            (w, r, None, None)
        }
        QueueKind::Disk => {
            let settings = config.queue.disk_settings(&config.data_dir);
            let dir = settings.dir.clone();
            let q = DiskQueue::open(settings, &names, control.force.clone())
                .with_context(|| format!("the disk queue in {}", dir.display()))?;
            let r = &q.recovery;
            tracing::info!(
                dir = %dir.display(),
                segments = r.segments,
                records = r.records,
                pending_events = r.pending_events,
                torn_tails = r.torn_tails,
                damaged = r.damaged,
                took = ?r.took,
                "disk queue opened"
            );
            (
                QueueWriter::Disk(q.writer),
                q.readers.into_iter().map(QueueReader::Disk).collect(),
                Some(q.thread),
                Some(q.failed),
            )
        }
    };
    let mut outputs = Vec::new();
    for (spec, reader) in config.outputs.iter().zip(readers) {
        let workers = spec.config.build(&OutputBuild {
            name: &spec.name,
            data_dir: &config.data_dir,
        })?;
        let metrics = ComponentMetrics::new(Kind::Output, &spec.name, spec.kind);
        outputs.push((metrics, workers, reader));
    }
    let alerts = match &config.alerts {
        Some(a) => Some(Arc::new(
            crate::alerts::AlertStage::build(a, &config.data_dir).context("alerts")?,
        )),
        None => None,
    };
    let mut inputs = Vec::new();
    for spec in &config.inputs {
        let id = &spec.id;
        let chain =
            build_chain(&spec.options.processors, id, &config.base_dir).map_err(|errs| {
                anyhow::anyhow!(
                    "the processors of input `{id}` cannot be built:\n{}",
                    errs.iter()
                        .map(|e| format!(
                            "  processors[{}] ({}): {}",
                            e.index, e.processor, e.message
                        ))
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            })?;
        let input = spec
            .config
            .build(&InputBuild {
                id,
                batch_events: config.queue.batch_events,
                base_dir: &config.base_dir,
            })
            .with_context(|| format!("input `{id}`"))?;
        let metrics = ComponentMetrics::new(Kind::Input, id, spec.kind);
        let sender = EventSender::new(
            &metrics,
            Arc::new(chain),
            Arc::clone(&global),
            writer.clone(),
        )
        .with_alerts(alerts.clone());
        inputs.push((spec.clone(), input, sender));
    }
    Ok(Built {
        inputs,
        outputs,
        alerts: alerts.map(|a| (a, writer.clone())),
        queue_thread,
        queue_failed,
    })
}

/// Builds every processor chain of a configuration without opening anything (for `logward check`).
pub fn build_processors_only(config: &Config) -> anyhow::Result<()> {
    let describe = |scope: &str, errs: Vec<crate::processors::config::BuildError>| {
        anyhow::anyhow!(
            "the processors of {scope} cannot be built:\n{}",
            errs.iter()
                .map(|e| format!("  processors[{}] ({}): {}", e.index, e.processor, e.message))
                .collect::<Vec<_>>()
                .join("\n")
        )
    };
    build_chain(&config.processors, "global", &config.base_dir)
        .map_err(|e| describe("the pipeline", e))?;
    for input in &config.inputs {
        build_chain(&input.options.processors, "check", &config.base_dir)
            .map_err(|e| describe(&format!("input `{}`", input.id), e))?;
    }
    Ok(())
}

/// Runs a built pipeline until `control.stop` is raised and everything has drained (or `control.force`).
/// Blocks the calling thread; the async parts run on their own runtime.
pub fn run(config: &Config, built: Built, control: Control) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.worker_threads.max(1))
        .thread_name("logward-worker")
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let host_name = gethostname::gethostname().to_string_lossy().into_owned();
    crate::util::fs::create_private_dir_all(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data folder {}",
            config.data_dir.display()
        )
    })?;

    let failures = Failures::default();
    crate::observe::health::set_phase(crate::observe::health::Phase::Starting);
    match config.queue.kind {
        QueueKind::Memory => {
            crate::observe::health::set_queue("memory", config.queue.max_events as u64)
        }
        QueueKind::Disk => crate::observe::health::set_queue(
            "disk",
            config.queue.disk_settings(&config.data_dir).max_size,
        ),
    }
    if let Some(http) = &config.http {
        crate::observe::http::start(
            crate::observe::http::Api {
                config: http.clone(),
                config_source: config.source.clone(),
                data_dir: config.data_dir.clone(),
            },
            &runtime,
        )?;
    }

    let mut output_tasks = Vec::new();
    for (i, (name, output, reader)) in built.outputs.into_iter().enumerate() {
        output_tasks.push(runtime.spawn(run_output(
            name,
            output,
            reader,
            i == 0,
            control.force.clone(),
            failures.clone(),
        )));
    }
    let alert_stage = built.alerts.as_ref().map(|(a, _)| Arc::clone(a));
    if let Some((alerts, writer)) = built.alerts {
        runtime.spawn(Arc::clone(&alerts.outbox).run());
        // Alert events are queued from here, and rules that fire on silence are checked every second;
        // the writer is let go at the stop, so the queue can close behind the inputs.
        let stop = control.stop.clone();
        let mut fired = alerts.take_events();
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            // The window state is saved every ten seconds, and once more when the inputs are done.
            let mut saves = 0u64;
            loop {
                // Alert events from the input threads, or a tick: the rules that fire on silence.
                let (mut events, ticked) = tokio::select! {
                    _ = stop.stopped() => break,
                    _ = tick.tick() => (alerts.tick(), true),
                    Some(batch) = async { match fired.as_mut() { Some(rx) => rx.recv().await, None => None } } => (batch, false),
                };
                if let Some(rx) = fired.as_mut() {
                    while let Ok(more) = rx.try_recv() {
                        events.extend(more);
                    }
                }
                saves += u64::from(ticked);
                if ticked && saves.is_multiple_of(10) {
                    let alerts = Arc::clone(&alerts);
                    let _ = tokio::task::spawn_blocking(move || alerts.save_state()).await;
                }
                if !events.is_empty()
                    && writer
                        .push(events, crate::pipeline::ack::AckRef::detached())
                        .await
                        .is_err()
                {
                    break;
                }
            }
        });
    }
    let mut input_threads = Vec::new();
    for (spec, input, sender) in built.inputs {
        let id = spec.id.clone();
        let ctx = InputContext {
            id: id.clone(),
            sender,
            checkpoints: CheckpointStore::new(&config.data_dir, &id, spec.kind),
            decoration: Decoration::new(spec.kind, &spec.options),
            stop: control.stop.clone(),
            force: control.force.clone(),
            host_name: host_name.clone(),
            runtime: runtime.handle().clone(),
        };
        let failures = failures.clone();
        let health = crate::observe::health::component("input", &id, spec.kind);
        let thread = std::thread::Builder::new()
            .name(format!("input-{id}"))
            .spawn(move || {
                let _heartbeat = crate::observe::watchdog::register_thread(&format!("input-{id}"));
                let outcome = failures.guard(&format!("input `{id}`"), || input.run(ctx));
                match outcome {
                    Some(Ok(())) => health.ended(None),
                    Some(Err(e)) => {
                        tracing::error!(input = %id, "the input stopped with an error: {e:#}");
                        health.ended(Some(&format!("{e:#}")));
                    }
                    None => health.ended(Some("the input panicked")),
                }
            })
            .context("cannot start an input thread")?;
        input_threads.push(thread);
    }
    crate::observe::health::set_phase(crate::observe::health::Phase::Running);
    // READY=1, STATUS=, WATCHDOG=1 and STOPPING=1 to systemd, when it gave a NOTIFY_SOCKET.
    let notify = crate::service::notify::start(control.stop.clone(), runtime.handle());
    // The force timer starts when a stop is requested.
    let timeout = config.shutdown_timeout.get();
    let (stop, force) = (control.stop.clone(), control.force.clone());
    runtime.spawn(async move {
        stop.stopped().await;
        crate::observe::health::set_phase(crate::observe::health::Phase::Stopping);
        tracing::info!(timeout = ?timeout, "stopping: draining in-flight events");
        tokio::time::sleep(timeout).await;
        if !force.is_stopped() {
            tracing::warn!("the shutdown timeout passed; abandoning undelivered batches (they will be read again after restart)");
            force.stop();
        }
    });
    // A component that panicked does nothing any more: stop everything rather than live on idle.
    {
        let (failed, stop, force) = (
            failures.signal().clone(),
            control.stop.clone(),
            control.force.clone(),
        );
        runtime.spawn(async move {
            failed.stopped().await;
            stop.stop();
            force.stop();
        });
    }
    // A dead queue cannot take or hand out anything: stop everything at once rather than live on idle.
    if let Some(failed) = built.queue_failed.clone() {
        let (stop, force) = (control.stop.clone(), control.force.clone());
        runtime.spawn(async move {
            failed.stopped().await;
            stop.stop();
            force.stop();
        });
    }
    for t in input_threads {
        let _ = t.join();
    }
    if let Some(t) = notify {
        // Every input has ended (by a stop, or at the end of its data): the stop has begun.
        control.stop.stop();
        let _ = t.join();
    }
    if let Some(alerts) = alert_stage {
        alerts.save_state();
    }
    runtime.block_on(async {
        for t in output_tasks {
            let _ = t.await;
        }
    });
    let queue_died = built.queue_thread.is_some_and(|t| t.join().is_err());
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    if queue_died {
        anyhow::bail!("the disk queue thread failed (see the error above); restart logward");
    }
    if let Some(what) = failures.summary() {
        anyhow::bail!("a component failed (see the error above); restart logward:\n{what}");
    }
    Ok(())
}
