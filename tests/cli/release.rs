//! The release build's link step (release/link-hot-first): the functions on
//! its list are placed first in the program's code, and a link without a usable
//! list is a plain link.

use std::path::Path;
use std::process::Command;

const PROGRAM: &str = r#"
#[inline(never)] fn cold_first(x: u64) -> u64 { x.wrapping_mul(3) ^ 7 }
#[inline(never)] fn cold_second(x: u64) -> u64 { x.rotate_left(9) + 1 }
#[inline(never)] fn hot_last(x: u64) -> u64 { x.wrapping_sub(11) | 2 }
fn main() {
    let n = std::env::args().count() as u64;
    println!("{}", hot_last(cold_second(cold_first(n))));
}
"#;

fn rustc() -> String {
    std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into())
}

/// Text symbols of `binary`, demangled, lowest address first.
fn text_symbols(binary: &Path) -> Vec<String> {
    let out = Command::new("nm")
        .args(["-n", "-C", "--defined-only"])
        .arg(binary)
        .output()
        .expect("nm runs");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ' ');
            let (_, kind, name) = (parts.next()?, parts.next()?, parts.next()?);
            matches!(kind, "t" | "T").then(|| name.to_string())
        })
        .collect()
}

fn link(dir: &Path, hot_list: &Path, out: &str) -> std::path::PathBuf {
    let src = dir.join("prog.rs");
    std::fs::write(&src, PROGRAM).unwrap();
    let linker = Path::new(env!("CARGO_MANIFEST_DIR")).join("release/link-hot-first");
    let binary = dir.join(out);
    let status = Command::new(rustc())
        .args(["-O", "-C", "codegen-units=1", "-C"])
        .arg(format!("linker={}", linker.display()))
        .arg(&src)
        .arg("-o")
        .arg(&binary)
        .env("GIT_FLEET_HOT_FUNCTIONS", hot_list)
        .status()
        .expect("rustc runs");
    assert!(status.success(), "link through link-hot-first failed");
    let run = Command::new(&binary).output().unwrap();
    assert!(run.status.success());
    binary
}

#[test]
fn link_hot_first_places_the_listed_functions_first() {
    let dir = tempfile::tempdir().unwrap();
    let probe = dir.path().join("probe.rs");
    std::fs::write(&probe, "fn main() {}").unwrap();
    let link_args = Command::new(rustc())
        .args(["--print", "link-args", "-o"])
        .arg(dir.path().join("probe"))
        .arg(&probe)
        .output()
        .expect("rustc runs");
    assert!(link_args.status.success());
    let uses_lld = String::from_utf8_lossy(&link_args.stdout).contains("-fuse-ld=lld");
    if !uses_lld || Command::new("nm").arg("--version").output().is_err() {
        eprintln!("skipped: rustc does not link with lld here, or no nm");
        return;
    }
    let list = dir.path().join("hot.txt");
    std::fs::write(
        &list,
        "# a comment line matches nothing\nprog::hot_last\nprog::cold_second\n",
    )
    .unwrap();

    let ordered = text_symbols(&link(dir.path(), &list, "ordered"));
    assert_eq!(
        ordered.iter().take(2).collect::<Vec<_>>(),
        ["prog::hot_last", "prog::cold_second"],
        "the listed functions open the code, in the list's order: {:?}",
        &ordered[..ordered.len().min(5)]
    );
    let pos = |name: &str| ordered.iter().position(|s| s == name).unwrap();
    assert!(pos("prog::cold_first") > 1);

    // no list: a plain link (the functions keep the compiler's order)
    let plain = text_symbols(&link(dir.path(), &dir.path().join("missing.txt"), "plain"));
    assert_ne!(plain.first().map(String::as_str), Some("prog::hot_last"));
}

/// With a linker other than lld (no `-fuse-ld=lld` among the arguments), the
/// driver passes its arguments on unchanged: no ordering flag a GNU ld would
/// refuse. The C compiler driver is a recorder here, since the point is what
/// it is handed.
#[test]
fn link_hot_first_is_a_plain_link_without_lld() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let recorder = dir.path().join("cc");
    let record = dir.path().join("args");
    std::fs::write(
        &recorder,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\n",
            record.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&recorder, std::fs::Permissions::from_mode(0o755)).unwrap();
    let list = dir.path().join("hot.txt");
    std::fs::write(&list, "main\n").unwrap();
    let linker = Path::new(env!("CARGO_MANIFEST_DIR")).join("release/link-hot-first");
    for (args, ordered) in [
        (&["-o", "prog", "-fuse-ld=bfd"][..], false),
        (&["-o", "prog", "-fuse-ld=lld"][..], true),
    ] {
        let status = Command::new(&linker)
            .args(args)
            .env("GIT_FLEET_LINK_CC", &recorder)
            .env("GIT_FLEET_HOT_FUNCTIONS", &list)
            .status()
            .unwrap();
        assert!(status.success());
        let handed = std::fs::read_to_string(&record).unwrap();
        assert!(handed.starts_with("-o\nprog\n"), "{handed}");
        assert_eq!(
            handed.contains("--symbol-ordering-file"),
            ordered,
            "{args:?}: {handed}"
        );
    }
}
