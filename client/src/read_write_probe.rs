//! Looking for a read-write server while the session is on a read-only one, as
//! ZooKeeper's Java client does (`ClientCnxn.SendThread.pingRwServer`): connect to
//! another host, send the four-letter word `isro`, and take an answer of `rw` as "this
//! server has a quorum". ZooKeeper enables `isro` whenever read-only mode is on, so the
//! probe works with the default four-letter-word whitelist.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::tls::TlsConfig;

/// The first wait before probing, as the Java client's `minPingRwTimeout`.
pub(crate) const MIN_WAIT: Duration = Duration::from_millis(100);
/// The longest wait between rounds, as the Java client's `maxPingRwTimeout`.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(60);
/// How long a probed server may take to answer `isro` once connected (the Java
/// client's socket read timeout for the probe).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(1);
/// ZooKeeper answers `rw`, `ro` or `null`; anything longer is not an answer to `isro`.
const MAX_ANSWER: u64 = 64;

/// Probes `hosts` in rounds until one says it is read-write, and returns it. Waits
/// [`MIN_WAIT`] before the first round and doubles the wait after every round that
/// found nothing, up to [`MAX_WAIT`]: a quorum that takes minutes to come back costs a
/// probe a minute, not a connection storm. Never returns when `hosts` is empty.
pub(crate) async fn seek(
    hosts: Vec<String>,
    tls: Option<TlsConfig>,
    connect_timeout: Duration,
) -> String {
    if hosts.is_empty() {
        return std::future::pending().await;
    }
    let mut wait = MIN_WAIT;
    loop {
        tokio::time::sleep(wait).await;
        for host in &hosts {
            if is_read_write(host, tls.as_ref(), connect_timeout).await {
                return host.clone();
            }
        }
        tracing::debug!(?wait, "no read-write server among {hosts:?}");
        wait = wait.saturating_mul(2).min(MAX_WAIT);
    }
}

/// Whether `host` answers `isro` with `rw`. Any failure (refused, timed out, TLS, an
/// odd answer) is a no: the next round tries again.
pub(crate) async fn is_read_write(
    host: &str,
    tls: Option<&TlsConfig>,
    connect_timeout: Duration,
) -> bool {
    let connected = tokio::time::timeout(connect_timeout, TcpStream::connect(host)).await;
    let tcp = match connected {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => {
            tracing::trace!(host, "isro probe: connect failed: {e}");
            return false;
        }
        Err(_) => {
            tracing::trace!(host, "isro probe: no connection within {connect_timeout:?}");
            return false;
        }
    };
    let answer = match tls {
        None => ask(tcp).await,
        Some(tls) => match tokio::time::timeout(connect_timeout, tls.connect(host, tcp)).await {
            Ok(Ok(stream)) => ask(stream).await,
            Ok(Err(e)) => Err(format!("TLS: {e}")),
            Err(_) => Err(format!("no TLS handshake within {connect_timeout:?}")),
        },
    };
    match answer {
        Ok(answer) => {
            tracing::debug!(host, answer, "isro probe");
            answer == "rw"
        }
        Err(why) => {
            tracing::debug!(host, "isro probe failed: {why}");
            false
        }
    }
}

/// Sends `isro` and reads the answer (trimmed: ZooKeeper 3.8 sends no newline, other
/// servers may), bounded by [`ANSWER_TIMEOUT`].
async fn ask<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) -> Result<String, String> {
    let exchange = async {
        stream.write_all(b"isro").await?;
        // The server answers and closes; shutting our side down tells it we are done
        // sending, as the Java client's probe does.
        stream.shutdown().await?;
        let mut answer = Vec::new();
        (&mut stream)
            .take(MAX_ANSWER)
            .read_to_end(&mut answer)
            .await?;
        Ok::<_, std::io::Error>(answer)
    };
    match tokio::time::timeout(ANSWER_TIMEOUT, exchange).await {
        Ok(Ok(answer)) => Ok(String::from_utf8_lossy(&answer).trim().to_owned()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {ANSWER_TIMEOUT:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A four-letter-word server that answers `isro` with `answer`, once per connection.
    async fn fake_server(answer: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut word = [0u8; 4];
                    if socket.read_exact(&mut word).await.is_ok() && &word == b"isro" {
                        let _ = socket.write_all(answer.as_bytes()).await;
                    }
                });
            }
        });
        addr
    }

    /// A port with nothing listening: bound, then closed.
    async fn dead_port() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        drop(listener);
        addr
    }

    #[tokio::test]
    async fn answers_are_read_as_zookeeper_sends_them() {
        let timeout = Duration::from_secs(5);
        assert!(is_read_write(&fake_server("rw").await, None, timeout).await);
        assert!(is_read_write(&fake_server("rw\n").await, None, timeout).await);
        assert!(!is_read_write(&fake_server("ro").await, None, timeout).await);
        assert!(!is_read_write(&fake_server("null").await, None, timeout).await);
        assert!(!is_read_write(&dead_port().await, None, timeout).await);
    }

    #[tokio::test]
    async fn seek_skips_read_only_and_dead_hosts() {
        let hosts = vec![
            dead_port().await,
            fake_server("ro").await,
            fake_server("rw").await,
        ];
        let found = tokio::time::timeout(
            Duration::from_secs(10),
            seek(hosts.clone(), None, Duration::from_secs(5)),
        )
        .await
        .expect("a read-write host is found");
        assert_eq!(found, hosts[2]);
    }

    #[tokio::test]
    async fn seek_without_hosts_finds_nothing() {
        // Well past MIN_WAIT, when a first round would have returned.
        let seeking = seek(Vec::new(), None, Duration::from_secs(1));
        assert!(tokio::time::timeout(MIN_WAIT * 5, seeking).await.is_err());
    }
}
