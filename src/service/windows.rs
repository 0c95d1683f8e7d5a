//! The Windows service: registration with the Service Control Manager and the service entry point.
//!
//! The entry point reports StartPending, then Running (accepting Stop, Shutdown and PreShutdown). On a stop
//! request it raises the pipeline's stop signal and reports StopPending with a growing checkpoint and a wait
//! hint every second while events drain and checkpoints are saved, then Stopped with exit code 0. A start
//! that fails (bad configuration) reports Stopped with a service-specific code and writes the reason to the
//! Application event log and to logward's own log.

use super::ServiceCommand;
use crate::cli::exit;
use crate::pipeline::run::Control;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;
use windows_service::service::{
    ServiceAccess, ServiceAction, ServiceActionType, ServiceControl, ServiceControlAccept,
    ServiceErrorControl, ServiceExitCode, ServiceFailureActions, ServiceFailureResetPeriod,
    ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

/// What the dispatcher's callback needs (it cannot take arguments of ours).
struct RunArgs {
    name: String,
    config: PathBuf,
    data_dir: Option<PathBuf>,
}

static RUN_ARGS: OnceLock<RunArgs> = OnceLock::new();

/// Plain words for the Service Control Manager's errors.
fn explain(e: &windows_service::Error, name: &str) -> String {
    if let windows_service::Error::Winapi(io) = e {
        match io.raw_os_error() {
            Some(5) => {
                return "access denied: run this from an elevated (administrator) prompt".into();
            }
            Some(1073) => {
                return format!(
                    "the service `{name}` is already installed (uninstall it first, or use --name)"
                );
            }
            Some(1072) => {
                return format!(
                    "the service `{name}` is marked for deletion: close the Services console and any `sc` handles, then try again"
                );
            }
            Some(1060) => return format!("there is no service named `{name}`"),
            Some(1056) => return format!("the service `{name}` is already running"),
            Some(1062) => return format!("the service `{name}` is not running"),
            Some(1057) => return "the account name is invalid or does not exist".into(),
            Some(1058) => return format!("the service `{name}` is disabled"),
            _ => {}
        }
    }
    format!("{e}")
}

fn manager(access: ServiceManagerAccess) -> Result<ServiceManager, String> {
    ServiceManager::local_computer(None::<&str>, access).map_err(|e| explain(&e, ""))
}

/// Runs a `service` subcommand; returns the exit code.
pub fn dispatch(cmd: ServiceCommand) -> i32 {
    let result = match cmd {
        ServiceCommand::Install {
            config,
            name,
            account,
            data_dir,
            ..
        } => install(&config, &name, account, data_dir),
        ServiceCommand::Uninstall { name, .. } => uninstall(&name),
        ServiceCommand::Start { name } => control(&name, true),
        ServiceCommand::Stop { name } => control(&name, false),
        ServiceCommand::Reload { name } => reload(&name),
        ServiceCommand::Status { name } => status(&name),
        ServiceCommand::Run {
            name,
            config,
            data_dir,
        } => return run_service(name, config, data_dir),
    };
    match result {
        Ok(message) => {
            println!("{message}");
            exit::OK
        }
        Err(message) => {
            eprintln!("logward service: {message}");
            exit::FAILURE
        }
    }
}

fn install(
    config: &std::path::Path,
    name: &str,
    account: Option<String>,
    data_dir: Option<PathBuf>,
) -> Result<String, String> {
    let config = std::path::absolute(config)
        .map_err(|e| format!("cannot resolve {}: {e}", config.display()))?;
    if let Err(errors) = crate::config::load_file(&config) {
        return Err(format!(
            "the configuration is not valid, so the service would not start:\n{errors}"
        ));
    }
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find logward's own path: {e}"))?;
    let data_dir = data_dir.unwrap_or_else(crate::config::load::default_data_dir);
    let mut args: Vec<OsString> = vec![
        "service".into(),
        "run".into(),
        "--name".into(),
        name.into(),
        "-c".into(),
        config.clone().into(),
    ];
    args.push("--data-dir".into());
    args.push(data_dir.clone().into());
    let account_name = match account.as_deref() {
        Some(a) if a.eq_ignore_ascii_case("localsystem") => None,
        Some(a) => Some(OsString::from(a)),
        None => Some(OsString::from(format!("NT SERVICE\\{name}"))),
    };
    let info = ServiceInfo {
        name: name.into(),
        display_name: OsString::from(format!("logward log collector ({name})")),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: exe,
        launch_arguments: args,
        dependencies: vec![],
        account_name: account_name.clone(),
        account_password: None,
    };
    let manager = manager(ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE)?;
    let service = manager
        .create_service(
            &info,
            ServiceAccess::CHANGE_CONFIG | ServiceAccess::START | ServiceAccess::QUERY_STATUS,
        )
        .map_err(|e| explain(&e, name))?;
    service
        .set_description(
            "Collects logs and Windows events, keeps them safe on disk, ships them (logward).",
        )
        .map_err(|e| explain(&e, name))?;
    // Delayed automatic start and restart-on-failure are refinements: a system that refuses them still
    // has a working service, so say so instead of failing the install.
    let mut notes = Vec::new();
    if let Err(e) = service.set_delayed_auto_start(true) {
        notes.push(format!("delayed start not set: {}", explain(&e, name)));
    }
    let restart = ServiceAction {
        action_type: ServiceActionType::Restart,
        delay: Duration::from_secs(5),
    };
    let actions = ServiceFailureActions {
        reset_period: ServiceFailureResetPeriod::After(Duration::from_secs(86_400)),
        reboot_msg: None,
        command: None,
        actions: Some(vec![restart.clone(), restart.clone(), restart]),
    };
    if let Err(e) = service.update_failure_actions(actions) {
        notes.push(format!("recovery actions not set: {}", explain(&e, name)));
    }
    if let Err(e) = service.set_failure_actions_on_non_crash_failures(true) {
        notes.push(format!(
            "recovery on non-crash failures not set: {}",
            explain(&e, name)
        ));
    }
    let who = account_name
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "LocalSystem".into());
    let mut message = format!(
        "installed service `{name}` (automatic, delayed start; restarts 5 s after a failure) running as {who}\n  config: {}\n  data:   {}",
        config.display(),
        data_dir.display()
    );
    for n in notes {
        message.push_str(&format!("\n  note: {n}"));
    }
    Ok(message)
}

fn uninstall(name: &str) -> Result<String, String> {
    let manager = manager(ServiceManagerAccess::CONNECT)?;
    let service = manager
        .open_service(
            name,
            ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE,
        )
        .map_err(|e| explain(&e, name))?;
    if let Ok(s) = service.query_status()
        && s.current_state != ServiceState::Stopped
    {
        let _ = service.stop();
        for _ in 0..60 {
            std::thread::sleep(Duration::from_millis(500));
            if service
                .query_status()
                .is_ok_and(|s| s.current_state == ServiceState::Stopped)
            {
                break;
            }
        }
    }
    service.delete().map_err(|e| explain(&e, name))?;
    Ok(format!("removed service `{name}`"))
}

fn control(name: &str, start: bool) -> Result<String, String> {
    let manager = manager(ServiceManagerAccess::CONNECT)?;
    let service = manager
        .open_service(
            name,
            ServiceAccess::QUERY_STATUS | ServiceAccess::START | ServiceAccess::STOP,
        )
        .map_err(|e| explain(&e, name))?;
    if start {
        service
            .start(&[] as &[&OsStr])
            .map_err(|e| explain(&e, name))?;
        Ok(format!("started service `{name}`"))
    } else {
        service.stop().map_err(|e| explain(&e, name))?;
        Ok(format!(
            "stop requested for service `{name}`; it drains events and saves checkpoints before it stops"
        ))
    }
}

fn reload(name: &str) -> Result<String, String> {
    let manager = manager(ServiceManagerAccess::CONNECT)?;
    let service = manager
        .open_service(
            name,
            ServiceAccess::QUERY_STATUS | ServiceAccess::USER_DEFINED_CONTROL,
        )
        .map_err(|e| explain(&e, name))?;
    let code = windows_service::service::UserEventCode::from_raw(super::RELOAD_CONTROL_CODE)
        .map_err(|e| format!("the reload control code is not valid: {e}"))?;
    service.notify(code).map_err(|e| explain(&e, name))?;
    Ok(format!(
        "reload requested for service `{name}`; its log says whether the configuration was reloaded or refused"
    ))
}

fn status(name: &str) -> Result<String, String> {
    let manager = manager(ServiceManagerAccess::CONNECT)?;
    let service = manager
        .open_service(name, ServiceAccess::QUERY_STATUS)
        .map_err(|e| explain(&e, name))?;
    let s = service.query_status().map_err(|e| explain(&e, name))?;
    Ok(format!(
        "service `{name}`: {:?} (exit code {:?}, pid {:?})",
        s.current_state, s.exit_code, s.process_id
    ))
}

define_windows_service!(ffi_service_main, service_main);

fn run_service(name: String, config: PathBuf, data_dir: Option<PathBuf>) -> i32 {
    let service_name = name.clone();
    let _ = RUN_ARGS.set(RunArgs {
        name,
        config,
        data_dir,
    });
    match service_dispatcher::start(&service_name, ffi_service_main) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!(
                "logward service run: cannot connect to the Service Control Manager ({e}); to run in a console use `logward run -c FILE`"
            );
            exit::FAILURE
        }
    }
}

/// Writes an error to the Windows Application event log under the source `logward`.
fn report_to_event_log(message: &str) {
    use windows_sys::Win32::System::EventLog::{
        DeregisterEventSource, EVENTLOG_ERROR_TYPE, RegisterEventSourceW, ReportEventW,
    };
    let source: Vec<u16> = "logward".encode_utf16().chain(Some(0)).collect();
    let text: Vec<u16> = message.encode_utf16().chain(Some(0)).collect();
    // SAFETY: both strings are NUL-terminated UTF-16 buffers that outlive the calls; the handle is checked
    // and released.
    unsafe {
        let handle = RegisterEventSourceW(std::ptr::null(), source.as_ptr());
        if handle.is_null() {
            return;
        }
        let strings = [text.as_ptr()];
        ReportEventW(
            handle,
            EVENTLOG_ERROR_TYPE,
            0,
            1,
            std::ptr::null_mut(),
            1,
            0,
            strings.as_ptr(),
            std::ptr::null(),
        );
        DeregisterEventSource(handle);
    }
}

fn service_main(_arguments: Vec<OsString>) {
    let Some(args) = RUN_ARGS.get() else { return };
    let control = Control::default();
    // The parameter-change control (`sc control logward paramchange`) reloads the configuration file
    // as SIGHUP does on Linux; the data folder it may not move is filled in once the file is loaded.
    let target = crate::cli::signals::Target::new(
        control.stop.clone(),
        Some((
            args.config.clone(),
            args.data_dir.clone(),
            args.data_dir
                .clone()
                .unwrap_or_else(crate::config::load::default_data_dir),
        )),
    );
    let handler_target = target.clone();
    let handler = move |event| match event {
        ServiceControl::Stop | ServiceControl::Shutdown | ServiceControl::Preshutdown => {
            handler_target.request_stop();
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::ParamChange => {
            handler_target.request_reload();
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::UserEvent(code) if code.to_raw() == super::RELOAD_CONTROL_CODE => {
            handler_target.request_reload();
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let Ok(handle) = service_control_handler::register(&args.name, handler) else {
        return;
    };
    let report = |state, accept, checkpoint, wait: u64, code| {
        let _ = handle.set_service_status(ServiceStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: state,
            controls_accepted: accept,
            exit_code: code,
            checkpoint,
            wait_hint: Duration::from_secs(wait),
            process_id: None,
        });
    };
    report(
        ServiceState::StartPending,
        ServiceControlAccept::empty(),
        1,
        10,
        ServiceExitCode::Win32(0),
    );
    let config = match crate::cli::run::load(Some(&args.config), args.data_dir.as_ref()) {
        Ok(c) => c,
        Err(errors) => {
            let message =
                format!("logward could not start: the configuration is not valid:\n{errors}");
            let fallback = crate::config::model::LoggingConfig::default();
            let data_dir = args
                .data_dir
                .clone()
                .unwrap_or_else(crate::config::load::default_data_dir);
            let _guard = crate::observe::logging::init(&fallback, Some(&data_dir));
            tracing::error!("{message}");
            report_to_event_log(&message);
            report(
                ServiceState::Stopped,
                ServiceControlAccept::empty(),
                0,
                0,
                ServiceExitCode::ServiceSpecific(exit::BAD_CONFIG as u32),
            );
            return;
        }
    };
    target.set_running_data_dir(config.data_dir.clone());
    let worker_target = target.clone();
    let worker = std::thread::spawn(move || {
        crate::cli::run::run_reloadable(config, control, &worker_target)
    });
    report(
        ServiceState::Running,
        ServiceControlAccept::STOP
            | ServiceControlAccept::SHUTDOWN
            | ServiceControlAccept::PRESHUTDOWN
            | ServiceControlAccept::PARAM_CHANGE,
        0,
        0,
        ServiceExitCode::Win32(0),
    );
    // Wait for a stop request (or the pipeline ending by itself), then report progress while it drains.
    while !target.exit_requested() && !worker.is_finished() {
        std::thread::sleep(Duration::from_millis(500));
    }
    let mut checkpoint = 1;
    while !worker.is_finished() {
        report(
            ServiceState::StopPending,
            ServiceControlAccept::empty(),
            checkpoint,
            5,
            ServiceExitCode::Win32(0),
        );
        checkpoint += 1;
        std::thread::sleep(Duration::from_secs(1));
    }
    let code = worker.join().unwrap_or(exit::FAILURE);
    let exit_code = if code == exit::OK {
        ServiceExitCode::Win32(0)
    } else {
        ServiceExitCode::ServiceSpecific(code as u32)
    };
    report(
        ServiceState::Stopped,
        ServiceControlAccept::empty(),
        0,
        0,
        exit_code,
    );
}
