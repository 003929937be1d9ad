//! Operator commands that need no ZooKeeper session: `admin` (a command of the
//! AdminServer, ZooKeeper's HTTP interface answering JSON at
//! `http://host:8080/commands/<name>`) and `4lw` (a four-letter word on the client port).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::shell::CliError;

/// ZooKeeper's default `admin.serverPort`.
pub const DEFAULT_ADMIN_PORT: u16 = 8080;
/// ZooKeeper's default `admin.commandURL`.
const COMMAND_URL: &str = "/commands";

/// The first `host:port` of a connect string (`h1:2181,h2:2181/chroot`), as host and
/// port (2181 when the entry has none). IPv6 hosts keep their brackets.
pub fn first_server(connect: &str) -> Result<(String, u16), CliError> {
    let hosts = connect.split('/').next().unwrap_or_default();
    let first = hosts
        .split(',')
        .map(str::trim)
        .find(|h| !h.is_empty())
        .ok_or_else(|| CliError::Message(format!("no host in the connect string {connect:?}")))?;
    let (host, port) = match first.rsplit_once(':') {
        // `[::1]:2181` or `host:2181`; a bare IPv6 address has more colons and no port.
        Some((host, port)) if !host.contains(':') || host.ends_with(']') => {
            let port = port.parse::<u16>().map_err(|_| {
                CliError::Message(format!("bad port {port:?} in the connect string"))
            })?;
            (host, port)
        }
        _ => (first, 2181),
    };
    Ok((host.to_owned(), port))
}

/// `http://<first host of the connect string>:8080/commands`.
pub fn default_url(connect: &str) -> Result<String, CliError> {
    let (host, _) = first_server(connect)?;
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host
    };
    Ok(format!("http://{host}:{DEFAULT_ADMIN_PORT}{COMMAND_URL}"))
}

/// Percent-encodes a query string component (RFC 3986 unreserved characters stay).
fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The URL of `command` below `base`, with `params` (`key=value`) as its query.
pub fn command_url(base: &str, command: &str, params: &[String]) -> Result<String, CliError> {
    if command.is_empty()
        || !command
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(CliError::Message(format!(
            "not an admin command name: {command:?}"
        )));
    }
    let mut url = format!("{}/{command}", base.trim_end_matches('/'));
    for (i, param) in params.iter().enumerate() {
        let (key, value) = param.split_once('=').ok_or_else(|| {
            CliError::Message(format!("admin parameters are key=value, not {param:?}"))
        })?;
        url.push(if i == 0 { '?' } else { '&' });
        url.push_str(&encode(key));
        url.push('=');
        url.push_str(&encode(value));
    }
    Ok(url)
}

/// GETs `url` and returns the command's JSON, pretty-printed. Fails when the request
/// fails, the answer is not JSON, or its `error` is set.
pub async fn admin(url: String, within: Duration) -> Result<String, CliError> {
    let fetch_url = url.clone();
    // ureq blocks: keep it off the runtime's worker threads.
    let (status, body) = tokio::task::spawn_blocking(move || get(&fetch_url, within))
        .await
        .map_err(|e| CliError::Message(format!("the admin request failed: {e}")))??;
    let json: serde_json::Value = serde_json::from_str(&body).map_err(|e| {
        CliError::Message(format!(
            "{url} answered HTTP {status} with no JSON ({e}): {}",
            body.trim()
        ))
    })?;
    if let Some(error) = json.get("error").filter(|e| !e.is_null()) {
        let text = error
            .as_str()
            .map_or_else(|| error.to_string(), str::to_owned);
        return Err(CliError::Message(format!("Error: {text}")));
    }
    if !(200..300).contains(&status) {
        return Err(CliError::Message(format!("{url} answered HTTP {status}")));
    }
    serde_json::to_string_pretty(&json)
        .map_err(|e| CliError::Message(format!("cannot print the answer: {e}")))
}

fn get(url: &str, within: Duration) -> Result<(u16, String), CliError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(within))
        // A 4xx/5xx answer may still carry the command's JSON error.
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .get(url)
        .call()
        .map_err(|e| CliError::Message(format!("cannot reach the admin server at {url}: {e}")))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|e| CliError::Message(format!("cannot read the answer from {url}: {e}")))?;
    Ok((status, body))
}

/// Sends the four-letter word `word` to the client port of the connect string's first
/// server and returns the answer (the server closes the connection after it).
pub async fn four_letter(connect: &str, word: &str, within: Duration) -> Result<String, CliError> {
    if word.len() != 4 || !word.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(CliError::Message(format!(
            "not a four-letter word: {word:?} (e.g. ruok, srvr, stat, mntr, conf)"
        )));
    }
    let (host, port) = first_server(connect)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addr = format!("{host}:{port}");
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect((host, port)).await?;
        stream.write_all(word.as_bytes()).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(within, exchange)
        .await
        .map_err(|_| {
            CliError::Message(format!(
                "no answer to {word} from {addr} within {} ms",
                within.as_millis()
            ))
        })?
        .map_err(|e| CliError::Message(format!("{word} to {addr} failed: {e}")))?;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    if answer.is_empty() {
        return Err(CliError::Message(format!(
            "{addr} closed the connection without answering {word}"
        )));
    }
    // ZooKeeper answers a word outside 4lw.commands.whitelist with this sentence.
    if answer.contains("is not executed because it is not in the whitelist") {
        return Err(CliError::Message(answer.trim_end().to_owned()));
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_come_from_the_connect_string() {
        let url = |s: &str| default_url(s).expect("url");
        assert_eq!(url("zk1:2181,zk2:2181/app"), "http://zk1:8080/commands");
        assert_eq!(url("127.0.0.1"), "http://127.0.0.1:8080/commands");
        assert_eq!(url("[::1]:2181"), "http://[::1]:8080/commands");
        assert_eq!(
            first_server("h:2281,x:1").expect("server"),
            ("h".to_owned(), 2281)
        );
        assert!(first_server("h:port").is_err());
        assert_eq!(
            command_url("http://h:1/commands/", "stat", &["a=b c".into()]).expect("url"),
            "http://h:1/commands/stat?a=b%20c"
        );
        assert!(command_url("http://h:1/commands", "../x", &[]).is_err());
        assert!(command_url("http://h:1/commands", "stat", &["novalue".into()]).is_err());
    }
}
