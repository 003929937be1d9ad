//! The session's state as callers see it, and the stream that reports every change.

use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::mpsc;

use ferrokeeper_protocol::KeeperState;

use crate::error::Error;

/// Where the session stands. `Expired`, `AuthFailed` and `Closed` are terminal: once
/// reached, the state never changes again and every operation fails with the matching
/// [`Error`] ([`SessionState::error`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionState {
    /// Connected to a read-write server.
    Connected,
    /// Connected to a server in read-only mode (only with
    /// [`ClientBuilder::read_only`](crate::ClientBuilder::read_only)): reads work,
    /// writes fail with [`Error::NotReadOnly`].
    ReadOnly,
    /// The connection was lost; the client is reconnecting. The session may still be
    /// alive: only a server can say it expired.
    Disconnected,
    /// A server refused to resume the session: it expired (or was closed elsewhere).
    Expired,
    /// The server refused an authentication packet (and closed the connection).
    AuthFailed,
    /// [`Client::close`](crate::Client::close) was called, or every handle was dropped.
    Closed,
}

impl SessionState {
    /// True for `Expired`, `AuthFailed` and `Closed`.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            SessionState::Expired | SessionState::AuthFailed | SessionState::Closed
        )
    }

    /// True for `Connected` and `ReadOnly`.
    pub fn is_connected(self) -> bool {
        matches!(self, SessionState::Connected | SessionState::ReadOnly)
    }

    /// The error an operation gets in this state when it cannot be served: the
    /// terminal state's own error, else [`Error::ConnectionLoss`].
    pub fn error(self) -> Error {
        match self {
            SessionState::Expired => Error::SessionExpired,
            SessionState::AuthFailed => Error::AuthFailed,
            SessionState::Closed => Error::Closed,
            _ => Error::ConnectionLoss,
        }
    }

    /// The `KeeperState` ZooKeeper's Java client reports for this state.
    pub fn keeper_state(self) -> KeeperState {
        match self {
            SessionState::Connected => KeeperState::SyncConnected,
            SessionState::ReadOnly => KeeperState::ConnectedReadOnly,
            SessionState::Disconnected => KeeperState::Disconnected,
            SessionState::Expired => KeeperState::Expired,
            SessionState::AuthFailed => KeeperState::AuthFailed,
            SessionState::Closed => KeeperState::Closed,
        }
    }
}

/// Every session state change, starting with the state at the time of
/// [`Client::state_stream`](crate::Client::state_stream). Nothing is coalesced: a
/// disconnect followed by a quick reconnect yields both. Ends after a terminal state.
#[derive(Debug)]
pub struct StateStream {
    rx: mpsc::UnboundedReceiver<SessionState>,
}

impl Stream for StateStream {
    type Item = SessionState;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<SessionState>> {
        self.rx.poll_recv(cx)
    }
}

/// The current state and the subscribers to its changes, under one lock so that a new
/// subscriber sees every change after the state it starts from, none twice.
#[derive(Debug)]
pub(crate) struct StateHub {
    inner: Mutex<HubInner>,
}

#[derive(Debug)]
struct HubInner {
    current: SessionState,
    subscribers: Vec<mpsc::UnboundedSender<SessionState>>,
}

impl StateHub {
    pub(crate) fn new(initial: SessionState) -> StateHub {
        StateHub {
            inner: Mutex::new(HubInner {
                current: initial,
                subscribers: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HubInner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn current(&self) -> SessionState {
        self.lock().current
    }

    /// Moves to `state` and tells every subscriber; no-op when unchanged or when a
    /// terminal state was already reached. Returns whether the state changed.
    pub(crate) fn set(&self, state: SessionState) -> bool {
        let mut inner = self.lock();
        if inner.current == state || inner.current.is_terminal() {
            return false;
        }
        inner.current = state;
        inner.subscribers.retain(|tx| tx.send(state).is_ok());
        if state.is_terminal() {
            // Ends every stream.
            inner.subscribers.clear();
        }
        true
    }

    pub(crate) fn subscribe(&self) -> StateStream {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut inner = self.lock();
        let _ = tx.send(inner.current);
        if !inner.current.is_terminal() {
            inner.subscribers.push(tx);
        }
        StateStream { rx }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn streams_see_every_change_then_end() {
        let hub = StateHub::new(SessionState::Connected);
        let mut early = hub.subscribe();
        assert!(hub.set(SessionState::Disconnected));
        assert!(!hub.set(SessionState::Disconnected));
        let mut late = hub.subscribe();
        assert!(hub.set(SessionState::Connected));
        assert!(hub.set(SessionState::Expired));
        assert!(!hub.set(SessionState::Connected), "terminal states stick");
        let early: Vec<_> = (&mut early).collect().await;
        assert_eq!(
            early,
            [
                SessionState::Connected,
                SessionState::Disconnected,
                SessionState::Connected,
                SessionState::Expired
            ]
        );
        let late: Vec<_> = (&mut late).collect().await;
        assert_eq!(
            late,
            [
                SessionState::Disconnected,
                SessionState::Connected,
                SessionState::Expired
            ]
        );
        let after: Vec<_> = hub.subscribe().collect().await;
        assert_eq!(after, [SessionState::Expired]);
        assert_eq!(hub.current().error(), Error::SessionExpired);
    }
}
