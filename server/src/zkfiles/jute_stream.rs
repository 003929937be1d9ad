//! Jute values read from and written to a byte stream, with ZooKeeper's running
//! Adler-32 of every byte (its snapshots end with that checksum). The protocol crate's
//! `Jute` decodes from memory; a snapshot of millions of znodes is better streamed.

use std::io::{self, Read, Write};

use bytes::Bytes;
use ferrokeeper_protocol::{Acl, Id, StatPersisted};

/// A length larger than this is damage, not data (ZooKeeper's own `jute.maxbuffer`
/// is 1 MiB by default; operators raise it, but not to gigabytes).
const MAX_LEN: usize = 1 << 30;

/// Why a read stopped: the stream's own error, or bytes that make no sense.
#[derive(Debug)]
pub(crate) enum ReadFail {
    Io(io::Error),
    Eof,
    Bad(String),
}

impl From<io::Error> for ReadFail {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            ReadFail::Eof
        } else {
            ReadFail::Io(e)
        }
    }
}

impl std::fmt::Display for ReadFail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadFail::Io(e) => write!(f, "{e}"),
            ReadFail::Eof => write!(f, "unexpected end of file"),
            ReadFail::Bad(what) => write!(f, "{what}"),
        }
    }
}

pub(crate) type ReadResult<T> = Result<T, ReadFail>;

pub(crate) struct JuteReader<R> {
    inner: R,
    adler: adler2::Adler32,
    offset: u64,
}

impl<R: Read> JuteReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        JuteReader {
            inner,
            adler: adler2::Adler32::new(),
            offset: 0,
        }
    }

    /// Bytes consumed so far.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// The Adler-32 of everything consumed so far, as Java's `Checksum.getValue()`.
    pub(crate) fn checksum(&self) -> i64 {
        i64::from(self.adler.checksum())
    }

    pub(crate) fn read_exact(&mut self, buf: &mut [u8]) -> ReadResult<()> {
        self.inner.read_exact(buf)?;
        self.adler.write_slice(buf);
        self.offset += buf.len() as u64;
        Ok(())
    }

    pub(crate) fn i32(&mut self) -> ReadResult<i32> {
        let mut b = [0u8; 4];
        self.read_exact(&mut b)?;
        Ok(i32::from_be_bytes(b))
    }

    pub(crate) fn i64(&mut self) -> ReadResult<i64> {
        let mut b = [0u8; 8];
        self.read_exact(&mut b)?;
        Ok(i64::from_be_bytes(b))
    }

    fn len(&mut self, what: &str) -> ReadResult<Option<usize>> {
        match self.i32()? {
            -1 => Ok(None),
            n if n < 0 => Err(ReadFail::Bad(format!("negative {what} length {n}"))),
            n => {
                let n = n as usize;
                if n > MAX_LEN {
                    return Err(ReadFail::Bad(format!("{what} length {n} is implausible")));
                }
                Ok(Some(n))
            }
        }
    }

    /// Reads `len` bytes, growing the buffer only as bytes arrive (a damaged length
    /// cannot make us allocate a gigabyte up front).
    fn bytes(&mut self, len: usize) -> ReadResult<Vec<u8>> {
        let mut out = Vec::with_capacity(len.min(64 * 1024));
        let got = (&mut self.inner).take(len as u64).read_to_end(&mut out)?;
        if got < len {
            return Err(ReadFail::Eof);
        }
        self.adler.write_slice(&out);
        self.offset += len as u64;
        Ok(out)
    }

    /// A `buffer`; null stays `None`.
    pub(crate) fn buffer(&mut self) -> ReadResult<Option<Bytes>> {
        match self.len("buffer")? {
            None => Ok(None),
            Some(n) => Ok(Some(Bytes::from(self.bytes(n)?))),
        }
    }

    /// A `ustring`; null reads as empty, as in the protocol crate.
    pub(crate) fn string(&mut self) -> ReadResult<String> {
        match self.len("string")? {
            None => Ok(String::new()),
            Some(n) => String::from_utf8(self.bytes(n)?)
                .map_err(|_| ReadFail::Bad("string is not valid UTF-8".into())),
        }
    }

    pub(crate) fn acl_list(&mut self) -> ReadResult<Vec<Acl>> {
        let Some(count) = self.len("ACL vector")? else {
            return Err(ReadFail::Bad("null ACL vector".into()));
        };
        let mut acl = Vec::with_capacity(count.min(64));
        for _ in 0..count {
            let perms = self.i32()?;
            let scheme = self.string()?;
            let id = self.string()?;
            acl.push(Acl {
                perms,
                id: Id { scheme, id },
            });
        }
        Ok(acl)
    }

    pub(crate) fn stat(&mut self) -> ReadResult<StatPersisted> {
        Ok(StatPersisted {
            czxid: self.i64()?,
            mzxid: self.i64()?,
            ctime: self.i64()?,
            mtime: self.i64()?,
            version: self.i32()?,
            cversion: self.i32()?,
            aversion: self.i32()?,
            ephemeral_owner: self.i64()?,
            pzxid: self.i64()?,
        })
    }

    /// True when the stream has no byte left (without consuming one).
    pub(crate) fn at_end(&mut self) -> ReadResult<bool>
    where
        R: io::BufRead,
    {
        Ok(self.inner.fill_buf()?.is_empty())
    }
}

pub(crate) struct JuteWriter<W> {
    inner: W,
    adler: adler2::Adler32,
}

impl<W: Write> JuteWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        JuteWriter {
            inner,
            adler: adler2::Adler32::new(),
        }
    }

    pub(crate) fn checksum(&self) -> i64 {
        i64::from(self.adler.checksum())
    }

    pub(crate) fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.adler.write_slice(bytes);
        self.inner.write_all(bytes)
    }

    pub(crate) fn i32(&mut self, v: i32) -> io::Result<()> {
        self.raw(&v.to_be_bytes())
    }

    pub(crate) fn i64(&mut self, v: i64) -> io::Result<()> {
        self.raw(&v.to_be_bytes())
    }

    fn len(&mut self, len: usize) -> io::Result<()> {
        let len = i32::try_from(len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "longer than jute allows"))?;
        self.i32(len)
    }

    pub(crate) fn buffer(&mut self, data: Option<&[u8]>) -> io::Result<()> {
        match data {
            None => self.i32(-1),
            Some(d) => {
                self.len(d.len())?;
                self.raw(d)
            }
        }
    }

    pub(crate) fn string(&mut self, s: &str) -> io::Result<()> {
        self.buffer(Some(s.as_bytes()))
    }

    pub(crate) fn acl_list(&mut self, acl: &[Acl]) -> io::Result<()> {
        self.len(acl.len())?;
        for a in acl {
            self.i32(a.perms)?;
            self.string(&a.id.scheme)?;
            self.string(&a.id.id)?;
        }
        Ok(())
    }

    pub(crate) fn stat(&mut self, s: &StatPersisted) -> io::Result<()> {
        self.i64(s.czxid)?;
        self.i64(s.mzxid)?;
        self.i64(s.ctime)?;
        self.i64(s.mtime)?;
        self.i32(s.version)?;
        self.i32(s.cversion)?;
        self.i32(s.aversion)?;
        self.i64(s.ephemeral_owner)?;
        self.i64(s.pzxid)
    }

    pub(crate) fn into_inner(self) -> W {
        self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_with_the_same_checksum() {
        let mut w = JuteWriter::new(Vec::new());
        w.i32(-7).unwrap();
        w.i64(1 << 40).unwrap();
        w.buffer(None).unwrap();
        w.buffer(Some(b"abc")).unwrap();
        w.string("/zookeeper").unwrap();
        let stat = StatPersisted {
            czxid: 1,
            mzxid: 2,
            ctime: 3,
            mtime: 4,
            version: 5,
            cversion: 6,
            aversion: 7,
            ephemeral_owner: 8,
            pzxid: 9,
        };
        w.stat(&stat).unwrap();
        let sum = w.checksum();
        let bytes = w.into_inner();
        let mut r = JuteReader::new(std::io::Cursor::new(bytes.clone()));
        assert_eq!(r.i32().unwrap(), -7);
        assert_eq!(r.i64().unwrap(), 1 << 40);
        assert_eq!(r.buffer().unwrap(), None);
        assert_eq!(r.buffer().unwrap().as_deref(), Some(&b"abc"[..]));
        assert_eq!(r.string().unwrap(), "/zookeeper");
        assert_eq!(r.stat().unwrap(), stat);
        assert_eq!(r.checksum(), sum);
        assert_eq!(r.offset(), bytes.len() as u64);
        assert!(r.at_end().unwrap());
        // Adler-32 of "Wikipedia" is 0x11E60398 (the textbook example).
        let mut a = JuteWriter::new(Vec::new());
        a.raw(b"Wikipedia").unwrap();
        assert_eq!(a.checksum(), 0x11E6_0398);
    }

    #[test]
    fn damaged_lengths_are_refused_without_allocating() {
        let mut r = JuteReader::new(std::io::Cursor::new(vec![0x7f, 0xff, 0xff, 0xff]));
        assert!(matches!(r.buffer(), Err(ReadFail::Bad(_))));
        let mut r = JuteReader::new(std::io::Cursor::new(vec![0, 0x10, 0, 0, 1, 2]));
        assert!(matches!(r.buffer(), Err(ReadFail::Eof)));
        let mut r = JuteReader::new(std::io::Cursor::new(vec![0xff, 0xff, 0xff, 0xfe]));
        assert!(matches!(r.string(), Err(ReadFail::Bad(_))));
    }
}
