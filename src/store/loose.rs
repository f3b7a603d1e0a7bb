//! Loose objects written with one zlib compressor for the whole process.
//!
//! gix's loose store builds a new compressor for every object it writes, and
//! zlib-rs allocates and zeroes ~370 KB for each one (window, hash chains,
//! pending buffer): 18% of a note append, which writes five objects
//! (bench/README.md, "Note append, stop 18"). The files are the same as git's
//! and gix's: the object's header and content, zlib-compressed at
//! `core.looseCompression` (else `core.compression`, else 1), written to a
//! `tmp_obj_*` file in the object's directory and renamed into place (a stale
//! temporary file left by a kill is cleaned up by `git gc` as git's own are).

use super::Store;
use crate::error::{GitContext, Result, StoreError};
use gix::objs::Kind;
use gix::zlib::stream::deflate;
use gix::ObjectId;
use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

/// The process's compressor and the buffer it compresses into.
pub(super) struct LooseWriter {
    compressor: deflate::Write<Output>,
    output: Output,
}

/// The compressed bytes of the object being written.
#[derive(Clone, Default)]
struct Output(Rc<RefCell<Vec<u8>>>);

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LooseWriter {
    fn new(level: gix::zlib::Compression) -> LooseWriter {
        let output = Output::default();
        LooseWriter {
            compressor: deflate::Write::new(output.clone(), level),
            output,
        }
    }

    /// The zlib stream of `header` then `data`, as one object file holds it.
    fn compress(&mut self, header: &[u8], data: &[u8]) -> std::io::Result<Vec<u8>> {
        self.compressor.reset();
        self.output.0.borrow_mut().clear();
        self.compressor.write_all(header)?;
        self.compressor.write_all(data)?;
        self.compressor.flush()?;
        Ok(std::mem::take(&mut *self.output.0.borrow_mut()))
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
                .get_or_insert_with(|| Box::new(LooseWriter::new(level)))
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
