//! Completions in zsh and fish, driven the way a user meets them: the shell
//! with git's own completion loaded and ours installed where install.sh puts
//! it, then `git fleet di<TAB>`. (bash: `basics::bash_completes_...`.)
//! A test whose shell is not installed is skipped and says so.

use crate::common::TestEnv;
use std::path::{Path, PathBuf};

fn completions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("completions")
}

fn installed(shell: &str) -> bool {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {shell}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        eprintln!(
            "skipped: {shell} is not installed (Debian package `{shell}`; .ci/run installs it)"
        );
    }
    found
}

/// What zsh offers for `line<TAB>`: an interactive `zsh -f` in a pty (zpty)
/// with `compinit` (git's `_git` from zsh's own functions) and our `_git-fleet`
/// on fpath; `compadd` is wrapped to record every candidate it is given.
fn zsh_complete(env: &TestEnv, cwd: &Path, line: &str) -> Vec<String> {
    let site = env.root().join("zsh-site-functions");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::copy(
        completions_dir().join("_git-fleet"),
        site.join("_git-fleet"),
    )
    .unwrap();
    let out = env.root().join("zsh-candidates");
    let _ = std::fs::remove_file(&out);
    let script = r#"
zmodload zsh/zpty
zpty z "zsh -f -i"
zpty -w z "PS1=''; fpath=(${(q)SITE} \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z 'compadd() { local -a __h; builtin compadd -O __h "$@"; (( $#__h )) && print -r -l -- ${^__h} >>'${(q)OUT}'; builtin compadd "$@" }'
zpty -w -n z "$LINE"$'\t'
# Wait for the first candidates, then a little for the rest.
for i in {1..100}; do [[ -s $OUT ]] && break; sleep 0.1; done
sleep 0.5
zpty -d z
"#;
    let status = env
        .command("zsh", cwd)
        .args(["-f", "-c", script])
        .env("SITE", &site)
        .env("OUT", &out)
        .env("LINE", line)
        .status()
        .unwrap();
    assert!(status.success(), "zsh failed completing {line:?}");
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let mut seen: Vec<String> = Vec::new();
    for l in text.lines().filter(|l| !l.is_empty()) {
        if !seen.iter().any(|s| s == l) {
            seen.push(l.to_string());
        }
    }
    seen
}

/// What fish offers for `line` (`complete -C`, as <TAB> does), with our files
/// in the user data dir where install.sh's default prefix puts them
/// (vendor_completions.d and vendor_conf.d) and fish's bundled git completion.
fn fish_complete(env: &TestEnv, cwd: &Path, line: &str) -> Vec<String> {
    let data = env.home().join(".local/share");
    let comp = data.join("fish/vendor_completions.d");
    let conf = data.join("fish/vendor_conf.d");
    std::fs::create_dir_all(&comp).unwrap();
    std::fs::create_dir_all(&conf).unwrap();
    let dir = completions_dir();
    std::fs::copy(dir.join("git-fleet.fish"), comp.join("git-fleet.fish")).unwrap();
    if dir.join("git-fleet-git.fish").exists() {
        std::fs::copy(dir.join("git-fleet-git.fish"), conf.join("git-fleet.fish")).unwrap();
    }
    let out = env
        .command("fish", cwd)
        .args(["-c", &format!("complete -C {}", fish_quote(line))])
        .env("XDG_DATA_HOME", &data)
        .env("XDG_CONFIG_HOME", env.home().join(".config"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.is_empty(),
        "completing {line:?} printed errors: {stderr}"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        // "candidate<TAB>description"
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect()
}

fn fish_quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[test]
fn zsh_completes_subcommands_and_their_flags_under_git() {
    if !installed("zsh") {
        return;
    }
    let env = TestEnv::new();
    let repo = env.repo("work");
    let subcommands = zsh_complete(&env, &repo, "git fleet di");
    assert_eq!(subcommands, ["diff"], "{subcommands:?}");
    let flags = zsh_complete(&env, &repo, "git fleet diff --ex");
    assert_eq!(flags, ["--exit-code"], "{flags:?}");
    let nested = zsh_complete(&env, &repo, "git fleet peers a");
    assert_eq!(nested, ["add"], "{nested:?}");
    let after_c = zsh_complete(&env, &repo, "git -C . fleet rec");
    assert!(after_c.contains(&"reconcile".to_string()), "{after_c:?}");
}

#[test]
fn fish_completes_subcommands_and_their_flags_under_git() {
    if !installed("fish") {
        return;
    }
    let env = TestEnv::new();
    let repo = env.repo("work");
    let subcommands = fish_complete(&env, &repo, "git fleet di");
    assert_eq!(subcommands, ["diff"], "{subcommands:?}");
    let flags = fish_complete(&env, &repo, "git fleet diff --ex");
    assert_eq!(flags, ["--exit-code"], "{flags:?}");
    let nested = fish_complete(&env, &repo, "git fleet peers a");
    assert_eq!(nested, ["add"], "{nested:?}");
    let after_c = fish_complete(&env, &repo, "git -C . fleet rec");
    assert!(after_c.contains(&"reconcile".to_string()), "{after_c:?}");
    // git's own completion still works beside ours.
    let git = fish_complete(&env, &repo, "git stat");
    assert!(git.contains(&"status".to_string()), "{git:?}");
    // And `git-fleet` typed directly.
    let direct = fish_complete(&env, &repo, "git-fleet di");
    assert_eq!(direct, ["diff"], "{direct:?}");
}
