//! One-shot watches: a future that resolves with the event that fired it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ferrokeeper_protocol::{EventType, KeeperState};
use tokio::sync::oneshot;

use crate::conn::Shared;
use crate::error::Result;

/// A watch notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedEvent {
    pub event_type: EventType,
    pub keeper_state: KeeperState,
    pub path: String,
}

/// A one-shot watch left by [`Client::exists_w`](crate::Client::exists_w),
/// [`Client::get_data_w`](crate::Client::get_data_w) or
/// [`Client::get_children_w`](crate::Client::get_children_w). Resolves with the event
/// when the server fires it, or with [`Error::ConnectionLoss`] / [`Error::Closed`] when
/// the connection ends first (this slice does not reconnect, so such a watch cannot fire).
#[derive(Debug)]
#[must_use = "a watch does nothing unless awaited"]
pub struct Watch {
    rx: oneshot::Receiver<WatchedEvent>,
    shared: Arc<Shared>,
}

impl Watch {
    pub(crate) fn new(rx: oneshot::Receiver<WatchedEvent>, shared: Arc<Shared>) -> Watch {
        Watch { rx, shared }
    }
}

impl Future for Watch {
    type Output = Result<WatchedEvent>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.rx).poll(cx) {
            Poll::Ready(Ok(event)) => Poll::Ready(Ok(event)),
            Poll::Ready(Err(_)) => Poll::Ready(Err(self.shared.dead_error())),
            Poll::Pending => Poll::Pending,
        }
    }
}
