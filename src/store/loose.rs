//! Loose objects written with one zlib compressor for the whole process.
//!
//! gix's loose store builds a new compressor for every object it writes, and
//! zlib-rs allocates and zeroes ~370 KB for each one (window, hash chains,
//! pending buffer): 18% of a note append, which writes five objects
//! (bench/README.md, "Note append, stop 18"). One compressor serves the
//! process, and it is the system's zlib (through flate2), as git's is: it
//! zeroes only its 64 KiB hash table, where zlib-rs zeroes its 128 KiB one and
//! its whole window and chains, each page a fault in a fresh process (77 of
//! the ~290 page faults of a note append; bench/README.md, stop 19). The files
//! are the same as git's and gix's: the object's header and content,
//! zlib-compressed at `core.looseCompression` (else `core.compression`, else
//! 1), written to a `tmp_obj_*` file in the object's directory and renamed
//! into place (a stale temporary file left by a kill is cleaned up by
//! `git gc` as git's own are).

use super::Store;
use crate::error::{GitContext, Result, StoreError};
use flate2::{Compress, Compression, FlushCompress, Status};
use gix::objs::Kind;
use gix::ObjectId;
use std::io::Write;

/// The process's compressor: the system's zlib, through flate2.
pub(super) struct LooseWriter {
    compressor: Compress,
}

impl LooseWriter {
    fn new(level: gix::zlib::Compression) -> LooseWriter {
        let level = Compression::new(level.level().clamp(0, 9) as u32);
        LooseWriter {
            compressor: Compress::new(level, true),
        }
    }

    /// The zlib stream of `header` then `data`, as one object file holds it.
    fn compress(&mut self, header: &[u8], data: &[u8]) -> std::io::Result<Vec<u8>> {
        let zlib = &mut self.compressor;
        zlib.reset();
        let mut out = Vec::with_capacity(64 + header.len() + data.len() / 2);
        for (mut input, flush) in [(header, FlushCompress::None), (data, FlushCompress::Finish)] {
            loop {
                // compress_vec writes only into spare capacity: always leave some
                if out.capacity() - out.len() < 64 {
                    out.reserve(out.capacity().max(256));
                }
                let before = zlib.total_in();
                let status = zlib
                    .compress_vec(input, &mut out, flush)
                    .map_err(std::io::Error::other)?;
                input = &input[(zlib.total_in() - before) as usize..];
                let done = match flush {
                    FlushCompress::Finish => status == Status::StreamEnd,
                    _ => input.is_empty(),
                };
                if done {
                    break;
                }
            }
        }
        Ok(out)
    }
}

impl Store {
    /// Write `data` as an object of `kind`. A blob the object database
    /// already has is not written again (as gix and git do, with no refresh of
    /// the pack list). Trees and commits are written without that lookup: a
    /// record's new tree or commit is new, and the lookup of a missing object
    /// (a search of every pack index and a stat) is ~30% of the cost of
    /// writing it; rewriting one that exists writes the same bytes.
    pub(crate) fn write_object_data(&self, kind: Kind, data: &[u8]) -> Result<ObjectId> {
        let id = gix::objs::compute_hash(self.repo.object_hash(), kind, data)
            .git(|| "cannot hash an object".into())?;
        if kind == Kind::Blob && self.repo.objects.exists_without_refresh(&id) {
            return Ok(id);
        }
        let header = gix::objs::encode::loose_header(kind, data.len() as u64);
        let compressed = {
            let mut writer = self.loose.borrow_mut();
            let level = self.repo.objects.loose_compression;
            writer
                .get_or_insert_with(|| LooseWriter::new(level))
                .compress(&header, data)
                .map_err(|source| StoreError::Io {
                    what: "cannot compress an object",
                    source,
                })?
        };
        let path = gix::odb::loose::Store::at(
            self.repo.objects.store_ref().path(),
            self.repo.object_hash(),
        )
        .object_path(&id);
        let dir = path.parent().expect("an object path has a directory");
        let write_err = |source| crate::error::Error::Write {
            path: path.clone(),
            source,
        };
        match std::fs::create_dir(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(write_err(e)),
            _ => {}
        }
        let mut file = tempfile::Builder::new()
            .prefix("tmp_obj_")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o444))
            .tempfile_in(dir)
            .map_err(write_err)?;
        file.write_all(&compressed).map_err(write_err)?;
        // Another writer may have put the same object there meanwhile: the
        // same bytes, so replacing it is harmless (git keeps either).
        file.persist(&path).map_err(|e| write_err(e.error))?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::LooseWriter;
    use std::io::Read;

    fn inflate(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(data)
            .read_to_end(&mut out)
            .expect("a whole zlib stream");
        out
    }

    /// Empty, small, compressible and incompressible contents through one
    /// compressor: each is a whole zlib stream of header then data, and the
    /// output grows past its first guess (the incompressible 256 KiB).
    #[test]
    fn one_compressor_writes_whole_streams_of_any_size() {
        let mut noise = Vec::with_capacity(256 << 10);
        let mut x: u32 = 0x9e37_79b9;
        while noise.len() < 256 << 10 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            noise.extend_from_slice(&x.to_le_bytes());
        }
        let cases: [&[u8]; 4] = [b"", b"note text\n", &[b'a'; 100_000], &noise];
        for level in [0, 1, 9] {
            let mut writer = LooseWriter::new(gix::zlib::Compression::new(level).unwrap());
            for data in cases {
                let header = format!("blob {}\0", data.len());
                let stream = writer.compress(header.as_bytes(), data).unwrap();
                let mut expected = header.into_bytes();
                expected.extend_from_slice(data);
                assert!(
                    inflate(&stream) == expected,
                    "level {level}, {} bytes",
                    data.len()
                );
            }
        }
    }
}
