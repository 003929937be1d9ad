//! How the server logs: the level (`--log-level`, else ZooKeeper's
//! `zookeeper.root.logger`, which zkServer.sh fills from `ZOO_LOG4J_PROP`) and the line
//! format (`--log-format`, else `FERROKEEPER_LOG_FORMAT`). `RUST_LOG`, when set, still
//! wins over both levels; `main` applies that.
//!
//! `zookeeper.root.logger` is log4j's `LEVEL, APPENDER, ...`. ferrokeeper writes to
//! stderr only. `CONSOLE` is exactly that. ZooKeeper's stock file appenders
//! (`ROLLINGFILE`, `TRACEFILE`) are accepted with a warning, because Debian's packaged
//! environment and older zkServer.sh pass `INFO,ROLLINGFILE` by default and refusing
//! would stop such wrappers from starting the server; zkServer.sh redirects the process's
//! output to a file anyway. Any other appender name, or a level log4j does not know,
//! stops start-up naming the setting.

use super::error::{ConfigError, Origin};
use super::model::Diagnostic;
use super::sysprops::SystemProperties;

/// The system property ZooKeeper's log4j configuration reads.
pub const ROOT_LOGGER: &str = "zookeeper.root.logger";
/// What zkServer.sh turns into `-Dzookeeper.root.logger=...`.
pub const ROOT_LOGGER_ENV: &str = "ZOO_LOG4J_PROP";
/// The log format, when `--log-format` is not given.
pub const FORMAT_ENV: &str = "FERROKEEPER_LOG_FORMAT";

/// ZooKeeper's stock appenders that write to files; stderr is used instead.
const FILE_APPENDERS: [&str; 2] = ["ROLLINGFILE", "TRACEFILE"];

/// One log line per event: human-readable text, or one JSON object per line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The log4j level of `zookeeper.root.logger` as a tracing level, `None` if unknown.
fn tracing_level(log4j: &str) -> Option<&'static str> {
    Some(match log4j.to_ascii_uppercase().as_str() {
        "ALL" | "TRACE" => "trace",
        "DEBUG" => "debug",
        "INFO" => "info",
        "WARN" => "warn",
        "ERROR" | "FATAL" => "error",
        "OFF" => "off",
        _ => return None,
    })
}

/// The tracing level `zookeeper.root.logger` asks for (`None` when it is unset), with
/// a warning for each file appender it names.
pub fn root_logger(
    props: &SystemProperties,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Option<&'static str>, ConfigError> {
    let Some(value) = props.string(ROOT_LOGGER) else {
        return Ok(None);
    };
    let mut parts = value.split(',').map(str::trim);
    let level_text = parts.next().unwrap_or_default();
    let level = tracing_level(level_text).ok_or_else(|| {
        props.refuse(
            ROOT_LOGGER,
            format!(
                "{value:?}: {level_text:?} is not a log4j level (ALL, TRACE, DEBUG, INFO, \
                 WARN, ERROR, FATAL, OFF)"
            ),
        )
    })?;
    for appender in parts.filter(|a| !a.is_empty()) {
        if appender.eq_ignore_ascii_case("CONSOLE") {
            continue;
        }
        if FILE_APPENDERS
            .iter()
            .any(|f| appender.eq_ignore_ascii_case(f))
        {
            let at = props
                .entry(ROOT_LOGGER)
                .map_or(Origin::Default, |p| p.origin.clone());
            warnings.push(Diagnostic {
                level: tracing::Level::WARN,
                message: format!(
                    "{at}: {ROOT_LOGGER} names appender {appender}: ferrokeeper writes its \
                     log to stderr only; redirect stderr to keep a file (zkServer.sh does)"
                ),
            });
            continue;
        }
        return Err(props.refuse(
            ROOT_LOGGER,
            format!(
                "{value:?}: appender {appender:?} is not supported; ferrokeeper logs to \
                 stderr only (CONSOLE; ROLLINGFILE and TRACEFILE are read as stderr)"
            ),
        ));
    }
    Ok(Some(level))
}

/// `--log-format`, else `FERROKEEPER_LOG_FORMAT` (`text` or `json`), else text.
pub fn format(flag: Option<LogFormat>, env: Option<String>) -> Result<LogFormat, ConfigError> {
    if let Some(format) = flag {
        return Ok(format);
    }
    match env.as_deref().map(str::trim) {
        None | Some("") => Ok(LogFormat::Text),
        Some(v) if v.eq_ignore_ascii_case("text") => Ok(LogFormat::Text),
        Some(v) if v.eq_ignore_ascii_case("json") => Ok(LogFormat::Json),
        Some(v) => Err(ConfigError::invalid(
            &Origin::Env(FORMAT_ENV.to_owned()),
            FORMAT_ENV,
            format!("{v:?} is not a log format (text or json)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> (Result<Option<&'static str>, String>, Vec<Diagnostic>) {
        let mut props = SystemProperties::default();
        props.set(
            ROOT_LOGGER,
            value,
            Origin::Env(ROOT_LOGGER_ENV.into()),
            ROOT_LOGGER,
        );
        let mut warnings = Vec::new();
        let level = root_logger(&props, &mut warnings).map_err(|e| e.to_string());
        (level, warnings)
    }

    #[test]
    fn levels_map_to_tracing() {
        assert_eq!(with("INFO,CONSOLE").0, Ok(Some("info")));
        assert_eq!(with("debug").0, Ok(Some("debug")));
        assert_eq!(with(" WARN , CONSOLE ").0, Ok(Some("warn")));
        assert_eq!(with("FATAL").0, Ok(Some("error")));
        assert_eq!(with("ALL").0, Ok(Some("trace")));
        let unset = root_logger(&SystemProperties::default(), &mut Vec::new());
        assert_eq!(unset.ok(), Some(None));
    }

    #[test]
    fn file_appenders_are_stderr_with_a_warning() {
        let (level, warnings) = with("DEBUG,ROLLINGFILE");
        assert_eq!(level, Ok(Some("debug")));
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].message.contains("ROLLINGFILE"));
        assert!(warnings[0].message.contains("environment ZOO_LOG4J_PROP"));
        let (_, warnings) = with("INFO,CONSOLE");
        assert!(warnings.is_empty());
    }

    #[test]
    fn unknown_levels_and_appenders_stop_start_up() {
        let (level, _) = with("LOUD,CONSOLE");
        let e = level.err().unwrap_or_default();
        assert!(
            e.contains("zookeeper.root.logger") && e.contains("LOUD"),
            "{e}"
        );
        let (level, _) = with("INFO,SYSLOG");
        let e = level.err().unwrap_or_default();
        assert!(
            e.contains("zookeeper.root.logger") && e.contains("SYSLOG"),
            "{e}"
        );
    }

    #[test]
    fn format_from_flag_then_environment() {
        assert_eq!(format(None, None).ok(), Some(LogFormat::Text));
        assert_eq!(
            format(None, Some("JSON".into())).ok(),
            Some(LogFormat::Json)
        );
        assert_eq!(
            format(Some(LogFormat::Text), Some("json".into())).ok(),
            Some(LogFormat::Text)
        );
        let e = format(None, Some("xml".into()))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some(
                r#"environment FERROKEEPER_LOG_FORMAT: FERROKEEPER_LOG_FORMAT: "xml" is not a log format (text or json)"#
            )
        );
    }
}
