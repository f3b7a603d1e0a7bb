//! man/ and completions/ are generated from the clap definitions and committed.
//! This test regenerates them and fails when the committed copies are stale;
//! `UPDATE_GENERATED=1 cargo test --bin git-fleet generated` rewrites them.
//! (A unit test of the binary: the clap definitions live on its side.)

use super::Cli;
use clap::CommandFactory;
use std::collections::BTreeMap;
use std::path::Path;

fn generate() -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Cli::command();
    cmd.build();
    clap_mangen::generate_to(cmd.clone(), dir.path()).unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let entry = entry.unwrap();
        // clap_mangen names pages after `bin_name` words; we want git-fleet*.1.
        let name = entry
            .file_name()
            .to_string_lossy()
            .replace("git fleet", "git-fleet");
        files.insert(format!("man/{name}"), std::fs::read(entry.path()).unwrap());
    }
    for (shell, file) in [
        (clap_complete::Shell::Bash, "completions/git-fleet.bash"),
        (clap_complete::Shell::Zsh, "completions/_git-fleet"),
        (clap_complete::Shell::Fish, "completions/git-fleet.fish"),
    ] {
        let mut buf = Vec::new();
        if shell == clap_complete::Shell::Bash {
            // clap_complete's bash script names a subcommand's case after its
            // bin_name with '-' mangled, but matches it with '-' kept, so a
            // hyphenated name never completes flags: generate under a name
            // without one and register it for `git-fleet`.
            clap_complete::generate(shell, &mut Cli::command(), "gitfleet", &mut buf);
            let text = String::from_utf8(buf).unwrap();
            buf = text.replace(" gitfleet\n", " git-fleet\n").into_bytes();
            buf.extend_from_slice(GIT_SHIM.as_bytes());
        } else {
            clap_complete::generate(shell, &mut Cli::command(), "git-fleet", &mut buf);
        }
        files.insert(file.to_string(), buf);
    }
    files.insert(
        "completions/git-fleet-git.fish".to_string(),
        FISH_GIT_SHIM.as_bytes().to_vec(),
    );
    files
}

/// `git fleet <TAB>` in fish: its git completion (3.6) registers `git-*`
/// commands under their file name (`git-fleet`, never typed after `git`), so it
/// never reaches ours. Installed in `vendor_conf.d` (completion files load only
/// for their own command name): complete `git fleet ...` as `git-fleet ...`,
/// which autoloads completions/git-fleet.fish.
const FISH_GIT_SHIM: &str = r#"# git fleet <TAB>: complete as git-fleet (installed in fish's vendor_conf.d).
function __fish_git_fleet_args
    set -l cmd (commandline -opc)
    set -e cmd[1]
    # git's own options before the subcommand, e.g. `git -C DIR fleet`.
    while set -q cmd[1]
        switch $cmd[1]
            case -C -c --git-dir --work-tree --namespace --exec-path --config-env
                set -e cmd[1..2]
            case '-*'
                set -e cmd[1]
            case '*'
                break
        end
    end
    test "$cmd[1]" = fleet
    or return 1
    set -e cmd[1]
    string escape -- $cmd
    return 0
end

function __fish_git_fleet_from_git
    set -l args (__fish_git_fleet_args) (commandline -ct | string escape)
    complete -C (string join ' ' -- git-fleet $args)
end

complete -c git -f -n '__fish_git_fleet_args >/dev/null' -a '(__fish_git_fleet_from_git)'
"#;

/// `git fleet <TAB>`: git's completion calls `_git_fleet` with `cur`, `words`,
/// `cword` and `__git_cmd_idx` (the index of "fleet") set; hand clap's function
/// the words from "fleet" on, as if `git-fleet` had been typed. git registers
/// its completion with `-o nospace`, so a finished word gets its space here.
const GIT_SHIM: &str = r#"
_git_fleet() {
    local idx=${__git_cmd_idx:-1}
    local COMP_WORDS=(git-fleet "${words[@]:idx+1}")
    local COMP_CWORD=$((cword - idx))
    _gitfleet git-fleet "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    local i
    for i in "${!COMPREPLY[@]}"; do
        [[ -d "${COMPREPLY[i]}" || "${COMPREPLY[i]}" == *= ]] || COMPREPLY[i]+=" "
    done
}
"#;

#[test]
fn man_pages_and_completions_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let expected = generate();
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        for dir in ["man", "completions"] {
            let _ = std::fs::remove_dir_all(root.join(dir));
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        for (path, bytes) in &expected {
            std::fs::write(root.join(path), bytes).unwrap();
        }
        return;
    }
    let mut stale = Vec::new();
    for (path, bytes) in &expected {
        if std::fs::read(root.join(path)).ok().as_deref() != Some(bytes.as_slice()) {
            stale.push(path.clone());
        }
    }
    for dir in ["man", "completions"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = format!("{dir}/{}", entry.unwrap().file_name().to_string_lossy());
            if !expected.contains_key(&path) {
                stale.push(format!("{path} (no longer generated)"));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "generated files are stale: {stale:?}\nrun: UPDATE_GENERATED=1 cargo test --bin git-fleet generated"
    );
}

#[test]
fn clap_definitions_are_consistent() {
    Cli::command().debug_assert();
}
