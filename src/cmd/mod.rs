//! One module per subcommand; each `run` calls the library and reports through `Ui`.

pub mod agent;
pub mod apply;
pub mod demo;
pub mod diff;
pub mod fanout;
pub mod halt;
pub mod hook;
pub mod hooks;
pub mod init;
pub mod mcp;
pub mod notes;
pub mod notify;
pub mod peers;
pub mod policy;
pub mod proof;
pub mod proposals;
pub mod receipts;
pub mod reconcile;
pub mod render;
pub mod rollback;
pub mod runs;
pub mod snapshot;
pub mod status;
pub mod sync;

use git_fleet::config::Config;
use git_fleet::store::Store;
use git_fleet::Result;

/// The repository (found from the current directory) and its fleet.toml.
pub struct Ctx {
    pub store: Store,
    pub config: Config,
}

pub fn context() -> Result<Ctx> {
    let store = open_store()?;
    let config = match store.work_dir() {
        Some(root) => Config::load(root)?,
        // A bare repository (a server) reads fleet.toml from its HEAD commit.
        None => match store.rev_commit("HEAD") {
            Ok(head) => match store.read_path(head, git_fleet::config::CONFIG_FILE)? {
                Some(bytes) => Config::parse("fleet.toml (HEAD)", &bytes)?,
                None => Config::default(),
            },
            Err(_) => Config::default(),
        },
    };
    Ok(Ctx { store, config })
}

/// The repository alone, with an empty config: for the server hooks, which
/// read fleet.toml from HEAD themselves and must report a malformed one in
/// their own words (pre-receive refuses the push; post-receive logs it).
pub fn store_context() -> Result<Ctx> {
    Ok(Ctx {
        store: open_store()?,
        config: Config::default(),
    })
}

/// The repository git would use here (`GIT_DIR`/`GIT_WORK_TREE` first).
/// When `GIT_DIR` chose it, both are exported as absolute paths, so every
/// git process started from another directory acts on the same repository
/// (peer checkouts clear them, as they do for git's own hook environment).
fn open_store() -> Result<Store> {
    let cwd = std::env::current_dir()
        .map_err(|e| git_fleet::Error::Other(format!("cannot read the current directory: {e}")))?;
    let store = Store::discover(&cwd)?;
    if std::env::var_os("GIT_DIR").is_some() {
        // Written only when it changes: the first call, before any thread starts.
        let export = |key: &str, value: std::path::PathBuf| {
            if std::env::var_os(key).as_deref() != Some(value.as_os_str()) {
                std::env::set_var(key, value);
            }
        };
        export("GIT_DIR", cwd.join(store.git_dir()));
        if let Some(root) = store.work_dir() {
            export("GIT_WORK_TREE", cwd.join(root));
        }
    }
    Ok(store)
}

/// The JSON schema version of every `--json` object.
pub const JSON_VERSION: u32 = 1;
