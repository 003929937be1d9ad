//! A connection's queue of frames waiting for its socket, measured in bytes. A client
//! that pipelines requests and never reads the replies, or that watches much and reads
//! slowly, must not grow the server's memory without bound: the connection stops
//! reading requests while its queue is above [`Limits::pause_above`] (TCP then pushes
//! back on the client), and a queue that still grows past [`Limits::close_above`]
//! (watch events, which other clients' writes cause) closes the connection, as a
//! ZooKeeper client then reconnects and re-registers its watches.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bytes::Bytes;
use tokio::sync::{Notify, mpsc};

/// What a connection's writer task sends to the socket.
#[derive(Debug)]
pub enum Outgoing {
    Frame(Bytes),
    /// Flush what came before, then close the connection.
    Close,
}

/// The byte counts at which an outbox pushes back and gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The connection reads no further request while more than this is queued...
    pub pause_above: usize,
    /// ...until the writer has brought the queue down to this.
    pub resume_below: usize,
    /// More than this queued closes the connection.
    pub close_above: usize,
}

impl Limits {
    /// For a server whose largest frame is `max_frame`: a few frames may wait, so a
    /// client reading at any pace is never paused for one large reply; the close mark
    /// leaves room for the replies already in flight when the pause starts.
    pub fn for_max_frame(max_frame: usize) -> Limits {
        let pause_above = (4 * max_frame).max(4 << 20);
        Limits {
            pause_above,
            resume_below: pause_above / 2,
            close_above: 16 * pause_above,
        }
    }
}

struct Queued {
    bytes: AtomicUsize,
    /// Woken whenever the writer takes frames off the queue.
    drained: Notify,
    overflowed: AtomicBool,
    limits: Limits,
}

/// The sending side, shared by the connection task and the core.
#[derive(Clone)]
pub struct Outbox {
    tx: mpsc::UnboundedSender<Outgoing>,
    queued: Arc<Queued>,
}

/// The writer task's side.
pub struct OutboxReceiver {
    rx: mpsc::UnboundedReceiver<Outgoing>,
    queued: Arc<Queued>,
}

/// A new outbox with `limits`.
pub fn outbox(limits: Limits) -> (Outbox, OutboxReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    let queued = Arc::new(Queued {
        bytes: AtomicUsize::new(0),
        drained: Notify::new(),
        overflowed: AtomicBool::new(false),
        limits,
    });
    (
        Outbox {
            tx,
            queued: queued.clone(),
        },
        OutboxReceiver { rx, queued },
    )
}

impl Outbox {
    /// Queues `item`. Past the close mark the frame is dropped and the connection is
    /// told to close instead (once); false when nothing was queued.
    pub fn send(&self, item: Outgoing) -> bool {
        if let Outgoing::Frame(frame) = &item {
            if self.queued.overflowed.load(Ordering::Relaxed) {
                return false;
            }
            let len = frame.len();
            let before = self.queued.bytes.fetch_add(len, Ordering::Relaxed);
            if before + len > self.queued.limits.close_above {
                self.queued.bytes.fetch_sub(len, Ordering::Relaxed);
                if !self.queued.overflowed.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        queued = before,
                        limit = self.queued.limits.close_above,
                        "a client reads too slowly for what it is sent; closing its connection"
                    );
                    let _ = self.tx.send(Outgoing::Close);
                }
                return false;
            }
        }
        self.tx.send(item).is_ok()
    }

    /// Bytes queued and not yet taken by the writer.
    pub fn queued_bytes(&self) -> usize {
        self.queued.bytes.load(Ordering::Relaxed)
    }

    /// Whether a request may be read now (the queue is at most the pause mark).
    pub fn has_room(&self) -> bool {
        self.queued_bytes() <= self.queued.limits.pause_above
    }

    /// Returns once the queue is below the pause mark (at once when it is), waiting for
    /// the writer to bring it down to the resume mark otherwise.
    pub async fn wait_for_room(&self) {
        let limits = self.queued.limits;
        if self.has_room() {
            return;
        }
        tracing::debug!(
            queued = self.queued_bytes(),
            "the client is not reading its replies; pausing its requests"
        );
        loop {
            // Registered before the check, so a drain in between is not missed.
            let drained = self.queued.drained.notified();
            if self.queued_bytes() <= limits.resume_below
                || self.queued.overflowed.load(Ordering::Relaxed)
                || self.tx.is_closed()
            {
                return;
            }
            drained.await;
        }
    }
}

impl OutboxReceiver {
    fn taken(&self, item: &Outgoing) {
        if let Outgoing::Frame(frame) = item {
            self.queued.bytes.fetch_sub(frame.len(), Ordering::Relaxed);
            self.queued.drained.notify_waiters();
        }
    }

    pub async fn recv(&mut self) -> Option<Outgoing> {
        let item = self.rx.recv().await?;
        self.taken(&item);
        Some(item)
    }

    pub fn try_recv(&mut self) -> Option<Outgoing> {
        let item = self.rx.try_recv().ok()?;
        self.taken(&item);
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Limits = Limits {
        pause_above: 100,
        resume_below: 50,
        close_above: 1000,
    };

    fn frame(len: usize) -> Outgoing {
        Outgoing::Frame(Bytes::from(vec![0u8; len]))
    }

    #[tokio::test]
    async fn pauses_above_the_mark_until_drained() {
        let (tx, mut rx) = outbox(SMALL);
        for _ in 0..3 {
            assert!(tx.send(frame(40)));
        }
        assert_eq!(tx.queued_bytes(), 120);
        let waiter = tokio::spawn({
            let tx = tx.clone();
            async move { tx.wait_for_room().await }
        });
        // The waiter runs (single-threaded test runtime) and finds 120 > 100 queued.
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        // One frame out leaves 80: under the pause mark but above the resume mark, so
        // it keeps waiting.
        assert!(rx.recv().await.is_some());
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        assert!(rx.try_recv().is_some());
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("resumed once drained")
            .expect("task");
        assert_eq!(tx.queued_bytes(), 40);
    }

    #[tokio::test]
    async fn past_the_close_mark_the_connection_is_closed_once() {
        let (tx, mut rx) = outbox(SMALL);
        for _ in 0..10 {
            assert!(tx.send(frame(100)));
        }
        assert!(!tx.send(frame(1)), "over the close mark");
        assert!(!tx.send(frame(1)), "and nothing more is queued");
        let mut frames = 0;
        let mut closes = 0;
        while let Some(item) = rx.try_recv() {
            match item {
                Outgoing::Frame(_) => frames += 1,
                Outgoing::Close => closes += 1,
            }
        }
        assert_eq!((frames, closes), (10, 1));
        // A waiting reader is released rather than left waiting for ever.
        tx.wait_for_room().await;
    }

    #[test]
    fn limits_scale_with_the_frame_limit() {
        let l = Limits::for_max_frame(1 << 20);
        assert_eq!(l.pause_above, 4 << 20);
        assert!(l.resume_below < l.pause_above && l.pause_above < l.close_above);
        assert_eq!(Limits::for_max_frame(10).pause_above, 4 << 20);
    }
}
