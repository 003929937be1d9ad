//! Quorum packets on a learner's connection to ZooKeeper's leader: jute records back
//! to back with no framing, read with a deadline (the socket's read timeout), so a
//! silent leader is noticed as ZooKeeper's learners notice it.

use std::io::{self, BufReader, BufWriter, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::Bytes;
use ferrokeeper_protocol::{Id, Jute, QuorumPacket};

use crate::zkfiles::jute_stream::{JuteReader, ReadFail};

#[derive(Debug, thiserror::Error)]
pub enum ZabError {
    #[error("no ZooKeeper leader answers on the quorum ports of {0}")]
    NoLeader(String),
    #[error("quorum connection: {0}")]
    Io(#[from] io::Error),
    #[error("ZooKeeper's leader sent {0}")]
    Protocol(String),
    /// A committed txn this server cannot apply: its state no longer matches
    /// ZooKeeper's, so following stops rather than serve a diverged tree.
    #[error("a txn that does not apply ({0})")]
    Unapplicable(String),
    #[error("stopped")]
    Stopped,
    /// Promotion was requested and ZooKeeper has had no leader for `initLimit` ticks:
    /// this server takes over.
    #[error("taking over from ZooKeeper: {0}")]
    TakeOver(String),
}

impl From<ReadFail> for ZabError {
    fn from(fail: ReadFail) -> Self {
        match fail {
            ReadFail::Io(e) => ZabError::Io(e),
            ReadFail::Eof => ZabError::Io(io::ErrorKind::UnexpectedEof.into()),
            ReadFail::Bad(what) => ZabError::Protocol(format!("malformed data: {what}")),
        }
    }
}

/// The reading half of a learner connection.
pub struct PacketReader {
    stream: TcpStream,
    reader: JuteReader<BufReader<TcpStream>>,
}

/// The writing half; cheap to share behind a mutex between the packet loop (pings,
/// acks) and the server (forwarded requests).
pub struct PacketWriter {
    writer: BufWriter<TcpStream>,
}

/// Splits a connected stream into its halves.
pub fn split(stream: TcpStream) -> io::Result<(PacketReader, PacketWriter)> {
    stream.set_nodelay(true)?;
    let read_half = stream.try_clone()?;
    let write_half = stream.try_clone()?;
    Ok((
        PacketReader {
            stream,
            reader: JuteReader::new(BufReader::with_capacity(1 << 16, read_half)),
        },
        PacketWriter {
            writer: BufWriter::with_capacity(1 << 16, write_half),
        },
    ))
}

impl PacketReader {
    /// How long a read may wait before the leader counts as gone.
    pub fn set_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.stream
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))
    }

    /// The raw stream, for what a SNAP sync puts between two packets.
    pub fn jute(&mut self) -> &mut JuteReader<BufReader<TcpStream>> {
        &mut self.reader
    }

    pub fn read(&mut self) -> Result<QuorumPacket, ZabError> {
        let r = &mut self.reader;
        let packet_type = r.i32()?;
        let zxid = r.i64()?;
        let data = r.buffer()?;
        let count = r.i32()?;
        let authinfo = if count < 0 {
            None
        } else {
            let mut ids = Vec::with_capacity((count as usize).min(16));
            for _ in 0..count {
                let scheme = r.string()?;
                let id = r.string()?;
                ids.push(Id { scheme, id });
            }
            Some(ids)
        };
        Ok(QuorumPacket {
            packet_type,
            zxid,
            data,
            authinfo,
        })
    }

    /// Closes the connection both ways (the writer's half too).
    pub fn shutdown(&self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

impl PacketWriter {
    pub fn write(&mut self, packet: &QuorumPacket) -> io::Result<()> {
        let mut buf = Vec::with_capacity(32);
        packet.encode(&mut buf);
        self.writer.write_all(&buf)?;
        self.writer.flush()
    }
}

/// A packet with only a type and a zxid.
pub fn bare(packet_type: i32, zxid: i64) -> QuorumPacket {
    QuorumPacket {
        packet_type,
        zxid,
        data: None,
        authinfo: None,
    }
}

/// A packet with data.
pub fn with_data(packet_type: i32, zxid: i64, data: Vec<u8>) -> QuorumPacket {
    QuorumPacket {
        packet_type,
        zxid,
        data: Some(Bytes::from(data)),
        authinfo: None,
    }
}
