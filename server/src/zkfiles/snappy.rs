//! The snappy-java stream format (`SnappyOutputStream`), which ZooKeeper writes for
//! `zookeeper.snapshot.compression.method=snappy`: a 16-byte header (magic
//! `\x82SNAPPY\0`, version, compatible version), then blocks of a 4-byte big-endian
//! length and a raw snappy block. Concatenated streams repeat the header.

use std::io::{self, Read};

const MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const HEADER_LEN: usize = 16;
/// No block ZooKeeper writes comes near this (snappy-java's default block is 32 KiB).
const MAX_BLOCK: usize = 64 << 20;

pub(crate) struct SnappyJavaReader<R> {
    inner: R,
    block: Vec<u8>,
    at: usize,
    started: bool,
}

impl<R: Read> SnappyJavaReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        SnappyJavaReader {
            inner,
            block: Vec::new(),
            at: 0,
            started: false,
        }
    }

    fn bad(what: impl Into<String>) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, what.into())
    }

    fn read_header_rest(&mut self, first4: [u8; 4]) -> io::Result<()> {
        let mut header = [0u8; HEADER_LEN];
        header[..4].copy_from_slice(&first4);
        self.inner.read_exact(&mut header[4..])?;
        if header[..8] != MAGIC {
            return Err(Self::bad("not a snappy-java stream (bad magic header)"));
        }
        Ok(())
    }

    /// Reads 4 bytes, or `None` at a clean end of the stream.
    fn read4(&mut self) -> io::Result<Option<[u8; 4]>> {
        let mut b = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            match self.inner.read(&mut b[got..])? {
                0 if got == 0 => return Ok(None),
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n => got += n,
            }
        }
        Ok(Some(b))
    }

    /// Loads the next block; false at the end of the stream.
    fn next_block(&mut self) -> io::Result<bool> {
        if !self.started {
            self.started = true;
            let first = self
                .read4()?
                .ok_or_else(|| Self::bad("empty snappy stream"))?;
            self.read_header_rest(first)?;
        }
        loop {
            let Some(len) = self.read4()? else {
                return Ok(false);
            };
            if len[0] == MAGIC[0] {
                // Another stream appended to this one.
                self.read_header_rest(len)?;
                continue;
            }
            let len = u32::from_be_bytes(len) as usize;
            if len > MAX_BLOCK {
                return Err(Self::bad(format!(
                    "snappy block length {len} is implausible"
                )));
            }
            let mut compressed = vec![0u8; len];
            self.inner.read_exact(&mut compressed)?;
            self.block = snap::raw::Decoder::new()
                .decompress_vec(&compressed)
                .map_err(|e| Self::bad(format!("snappy block: {e}")))?;
            self.at = 0;
            if !self.block.is_empty() {
                return Ok(true);
            }
        }
    }
}

impl<R: Read> Read for SnappyJavaReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.at >= self.block.len() && !self.next_block()? {
            return Ok(0);
        }
        let n = buf.len().min(self.block.len() - self.at);
        buf[..n].copy_from_slice(&self.block[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(blocks: &[&[u8]]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&1i32.to_be_bytes());
        out.extend_from_slice(&1i32.to_be_bytes());
        for b in blocks {
            let c = snap::raw::Encoder::new().compress_vec(b).unwrap();
            out.extend_from_slice(&(c.len() as u32).to_be_bytes());
            out.extend_from_slice(&c);
        }
        out
    }

    #[test]
    fn reads_blocks_and_concatenated_streams() {
        let mut bytes = stream(&[b"hello ", b"snappy "]);
        bytes.extend(stream(&[b"world"]));
        let mut out = String::new();
        SnappyJavaReader::new(&bytes[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "hello snappy world");
    }

    #[test]
    fn damage_is_an_error() {
        let good = stream(&[b"some data here"]);
        let mut bad_magic = good.clone();
        bad_magic[1] = b'X';
        assert!(
            SnappyJavaReader::new(&bad_magic[..])
                .read_to_end(&mut Vec::new())
                .is_err()
        );
        let truncated = &good[..good.len() - 2];
        assert!(
            SnappyJavaReader::new(truncated)
                .read_to_end(&mut Vec::new())
                .is_err()
        );
    }
}
