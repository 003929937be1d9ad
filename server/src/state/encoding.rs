//! The replicated state's encoding (postcard), streamed into a writer, so a snapshot
//! or an import never holds an encoded copy of the whole tree in memory.

use std::io;

use super::ZkState;

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
    fn a_writers_error_is_reported_as_it_was() {
        let err = ZkState::new(crate::state::StateConfig::default())
            .encode_into(&mut Refuses)
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        assert!(err.to_string().contains("disk full"), "{err}");
    }
}
