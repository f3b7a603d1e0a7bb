use super::runtime::*;
use super::status::*;
use super::text::*;
use super::*;
use gix::ObjectId;

#[test]
fn status_records() {
    let out = [
        "1 M. N... 100644 100644 100644 a a x.txt",
        "1 .M N... 100644 100644 100644 a a dir/y z",
        "2 R. N... 100644 100644 100644 a a R100 new",
        "old",
        "u UU N... 1 2 3 4 a b c conf",
        "",
    ]
    .join("\0");
    let out = out.as_str();
    let c = parse_status(out);
    assert_eq!(c.len(), 4);
    assert_eq!(
        (c[0].path.as_str(), c[0].staged, c[0].unstaged),
        ("x.txt", true, false)
    );
    assert_eq!(
        (c[1].path.as_str(), c[1].staged, c[1].unstaged),
        ("dir/y z", false, true)
    );
    assert_eq!(c[2].path, "new");
    assert!(c[3].conflicted);
    assert!(parse_status("").is_empty());
}

#[test]
fn readback_accepts_full_or_long_enough_prefixes() {
    let c = ObjectId::from_hex(b"0123456789abcdef0123456789abcdef01234567").unwrap();
    assert!(readback_matches(
        "0123456789abcdef0123456789abcdef01234567\n",
        c
    ));
    assert!(readback_matches("0123456", c));
    assert!(!readback_matches("012345", c));
    assert!(!readback_matches("1123456", c));
    assert!(!readback_matches("", c));
}

#[test]
fn outcomes_round_trip() {
    for b in Blocker::ALL {
        assert_eq!(Outcome::parse(b.as_str()), Some(Outcome::Blocked(b)));
    }
    assert_eq!(Outcome::parse("current"), Some(Outcome::Current));
    assert_eq!(one_line("a\nb\t c"), "a b c");
}
