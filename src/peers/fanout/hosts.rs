//! One shell per host, opened on first use and shared by that host's peers.
use super::report::{Connector, Owed};
use crate::peers::config::{Location, Peer, PeerSsh};
use crate::peers::shell::{LocalShell, PeerShell, ShellError, SshOptions};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

/// One shell per host: local peers share one, SSH peers one per
/// `transport user@host:port identity`, opened on first use.
pub(super) struct Hosts {
    pub(super) local: Arc<dyn PeerShell>,
    pub(super) ssh: BTreeMap<String, OnceLock<Connection>>,
}

/// An SSH host's shell, or why it could not be reached.
pub(super) type Connection = std::result::Result<Arc<dyn PeerShell>, ShellError>;

pub(super) fn host_key(ssh: &PeerSsh) -> String {
    format!(
        "{} {} {}",
        ssh.transport.as_str(),
        ssh.authority(),
        ssh.identity
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    )
}

impl Hosts {
    pub(super) fn new(peers: &[Peer]) -> Hosts {
        let mut ssh = BTreeMap::new();
        for p in peers {
            if let Location::Ssh(s) = &p.location {
                ssh.entry(host_key(s)).or_insert_with(OnceLock::new);
            }
        }
        Hosts {
            local: Arc::new(LocalShell),
            ssh,
        }
    }

    pub(super) fn shell(
        &self,
        location: &Location,
        opts: &SshOptions,
        connector: &Connector,
    ) -> std::result::Result<Arc<dyn PeerShell>, ShellError> {
        match location {
            Location::Local(_) => Ok(self.local.clone()),
            Location::Ssh(s) => {
                let cell = self
                    .ssh
                    .get(&host_key(s))
                    .ok_or_else(|| ShellError::Other("unknown host".into()))?;
                cell.get_or_init(|| connector(s, opts).map(Arc::from))
                    .clone()
            }
        }
    }
}

/// What [`deliver`] needs besides the peer: shells, whether another fanout
/// holds the peer, and the steps owed from earlier runs.
pub(super) struct PeerCtx<'a> {
    pub(super) hosts: &'a Hosts,
    pub(super) connector: &'a Connector,
    /// Another fanout holds this peer's lock: why it is not touched.
    pub(super) busy: Option<String>,
    pub(super) owed: Owed,
}
