//! The replicated state's encoding (postcard), streamed into a writer and decoded from
//! a reader, so neither a snapshot, an import nor a restart holds an encoded copy of the
//! whole tree in memory.

use std::io;

use serde::Deserialize;

use super::ZkState;

/// The decoder's read buffer: large enough that refills are rare next to the work of
/// building the znodes, small next to the state.
const READ_BUFFER: usize = 1 << 20;

impl ZkState {
    /// Encodes the whole state into `out` (what [`ZkState`]'s `Deserialize` reads back).
    pub fn encode_into(&self, out: &mut dyn io::Write) -> io::Result<()> {
        let mut kept = KeepWriteError { out, error: None };
        match postcard::to_io(self, &mut kept) {
            Ok(_) => Ok(()),
            // postcard reports a failed write as a full buffer: give the real cause.
            Err(e) => Err(kept
                .error
                .unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidData, e))),
        }
    }
}

impl ZkState {
    /// Decodes a state of `len` bytes from `input` (what [`ZkState::encode_into`] wrote),
    /// reading it in pieces. The caller has checked the bytes' checksum: lengths inside
    /// them are trusted as far as allocating what they announce.
    pub fn decode_from(input: &mut dyn io::Read, len: u64) -> io::Result<ZkState> {
        let flavor = ReadFlavor {
            input,
            buf: vec![0; READ_BUFFER],
            pos: 0,
            filled: 0,
            left: len,
            scratch: Vec::new(),
            error: None,
        };
        let mut decoder = postcard::Deserializer::from_flavor(flavor);
        let decoded = ZkState::deserialize(&mut decoder);
        // `finalize` of this flavor cannot fail.
        let rest = decoder
            .finalize()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let state = decoded.map_err(|e| match rest.error {
            Some(io_error) => io_error,
            None => io::Error::new(io::ErrorKind::InvalidData, e),
        })?;
        if rest.unread != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "bytes left over after the state",
            ));
        }
        Ok(state)
    }
}

/// postcard's input from an `io::Read` of known length: a buffer it borrows slices of,
/// and a scratch area for the rare item longer than the buffer (a large znode's data).
/// postcard's own reader flavor takes a fixed scratch buffer, which would put a limit
/// on the largest item a snapshot may hold.
struct ReadFlavor<'r> {
    input: &'r mut dyn io::Read,
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
    /// Bytes of the state not read into `buf` yet.
    left: u64,
    scratch: Vec<u8>,
    /// The reader's own error, which postcard's would replace.
    error: Option<io::Error>,
}

impl ReadFlavor<'_> {
    fn buffered(&self) -> usize {
        self.filled - self.pos
    }

    /// Moves what is unread to the front and reads until `want` bytes are buffered or
    /// the state ends.
    fn fill(&mut self, want: usize) -> postcard::Result<()> {
        self.buf.copy_within(self.pos..self.filled, 0);
        self.filled -= self.pos;
        self.pos = 0;
        while self.filled < want && self.left > 0 {
            let room = (self.buf.len() - self.filled)
                .min(usize::try_from(self.left).unwrap_or(usize::MAX));
            match self
                .input
                .read(&mut self.buf[self.filled..self.filled + room])
            {
                Ok(0) => {
                    self.error = Some(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the snapshot state ended early",
                    ));
                    return Err(postcard::Error::DeserializeUnexpectedEnd);
                }
                Ok(n) => {
                    self.filled += n;
                    self.left -= n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.error = Some(e);
                    return Err(postcard::Error::DeserializeUnexpectedEnd);
                }
            }
        }
        if self.filled < want {
            return Err(postcard::Error::DeserializeUnexpectedEnd);
        }
        Ok(())
    }
}

/// What is left once decoding stops.
struct Rest {
    /// Bytes of the state not decoded.
    unread: u64,
    error: Option<io::Error>,
}

impl<'de, 'r: 'de> postcard::de_flavors::Flavor<'de> for ReadFlavor<'r> {
    type Remainder = Rest;
    type Source = ();

    fn pop(&mut self) -> postcard::Result<u8> {
        if self.pos == self.filled {
            self.fill(1)?;
        }
        let byte = self.buf[self.pos];
        self.pos += 1;
        Ok(byte)
    }

    fn size_hint(&self) -> Option<usize> {
        usize::try_from(self.left)
            .ok()
            .and_then(|left| left.checked_add(self.buffered()))
    }

    /// Only borrowed (zero-copy) fields ask for this; the state has none.
    fn try_take_n(&mut self, _ct: usize) -> postcard::Result<&'de [u8]> {
        Err(postcard::Error::DeserializeUnexpectedEnd)
    }

    fn try_take_n_temp<'a>(&'a mut self, ct: usize) -> postcard::Result<&'a [u8]>
    where
        'de: 'a,
    {
        if ct <= self.buf.len() {
            if self.buffered() < ct {
                self.fill(ct)?;
            }
            let start = self.pos;
            self.pos += ct;
            return Ok(&self.buf[start..start + ct]);
        }
        // Longer than the buffer: gathered in the scratch area, no larger than what
        // is left of the state.
        let available = self.size_hint().unwrap_or(usize::MAX);
        if ct > available {
            return Err(postcard::Error::DeserializeUnexpectedEnd);
        }
        self.scratch.clear();
        self.scratch.reserve(ct);
        while self.scratch.len() < ct {
            if self.pos == self.filled {
                self.fill(1)?;
            }
            let n = (ct - self.scratch.len()).min(self.buffered());
            self.scratch
                .extend_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
        }
        Ok(&self.scratch)
    }

    fn finalize(self) -> postcard::Result<Rest> {
        Ok(Rest {
            unread: self.left + self.buffered() as u64,
            error: self.error,
        })
    }
}

/// Keeps the writer's own error, which postcard's encoder replaces with its own.
struct KeepWriteError<'a> {
    out: &'a mut dyn io::Write,
    error: Option<io::Error>,
}

impl io::Write for KeepWriteError<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf).map_err(|e| {
            let kind = e.kind();
            self.error = Some(e);
            io::Error::from(kind)
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Refuses;

    impl io::Write for Refuses {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn streamed_encoding_equals_the_whole_encoding_and_decodes() {
        let state = ZkState::new(crate::state::StateConfig::default());
        let mut streamed = Vec::new();
        state.encode_into(&mut streamed).unwrap();
        assert_eq!(streamed, postcard::to_allocvec(&state).unwrap());
        let back: ZkState = postcard::from_bytes(&streamed).unwrap();
        assert_eq!(back.tree().node_count(), state.tree().node_count());
    }

    #[test]
    fn a_state_decodes_from_a_reader_through_small_and_large_items() {
        use bytes::Bytes;
        use ferrokeeper_protocol::perms;
        let mut tree = crate::tree::DataTree::new();
        let mut add = |path: &str, data: Vec<u8>| {
            tree.create(
                path,
                Some(Bytes::from(data)),
                perms::open_acl_unsafe(),
                0,
                5,
                9,
            )
            .unwrap();
        };
        // One znode whose data is larger than the read buffer, others small.
        add("/big", vec![7u8; READ_BUFFER * 2 + 3]);
        for i in 0..100 {
            add(&format!("/n{i}"), format!("data {i}").into_bytes());
        }
        let state = ZkState::from_parts(
            crate::state::StateConfig::default(),
            tree,
            Default::default(),
            5,
        );
        let mut encoded = Vec::new();
        state.encode_into(&mut encoded).unwrap();
        let back = ZkState::decode_from(&mut encoded.as_slice(), encoded.len() as u64).unwrap();
        assert_eq!(back, state);
        // A reader that hands out a few bytes at a time decodes the same.
        let mut trickle = Trickle(&encoded);
        let back = ZkState::decode_from(&mut trickle, encoded.len() as u64).unwrap();
        assert_eq!(back, state);
        // A state cut short, or with bytes after it, is an error, not a smaller tree.
        let short = &encoded[..encoded.len() - 10];
        let err = ZkState::decode_from(&mut &short[..], encoded.len() as u64).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}");
        let err = ZkState::decode_from(&mut &short[..], short.len() as u64).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        let mut longer = encoded.clone();
        longer.push(0);
        let err = ZkState::decode_from(&mut longer.as_slice(), longer.len() as u64).unwrap_err();
        assert!(err.to_string().contains("left over"), "{err}");
    }

    /// Returns at most 7 bytes per read.
    struct Trickle<'a>(&'a [u8]);

    impl io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(7).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_writers_error_is_reported_as_it_was() {
        let err = ZkState::new(crate::state::StateConfig::default())
            .encode_into(&mut Refuses)
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        assert!(err.to_string().contains("disk full"), "{err}");
    }
}
