use super::*;
use crate::fleet::diff::ChangeType;

fn policy(text: &str) -> Result<Policy> {
    Policy::parse("fleet.toml", text.as_bytes())
}

fn email(e: &str) -> Actor {
    Actor {
        email: Some(e.into()),
        principals: vec![],
        source: "user.email".into(),
        pusher: None,
    }
}

const WEB: &str = "[[policy]]\nname = \"web\"\nactor = \"*@web.example\"\nallow = [\"modules/nginx-*\", \"assignments/app-0*:*\"]\n\n[[policy]]\nprincipal = \"dba\"\nallow = [\"modules/postgres\"]\ndestroy = true\ntargets = [\"prod\"]\n";

#[test]
fn no_policy_allows_everything_without_a_rule() {
    let p = policy("").unwrap();
    let d = p.decide(&email("x@y"), None, "modules/a", ChangeType::Destroy);
    assert!(d.allowed() && d.allowed_by.is_none());
    assert!(d.policy_note().starts_with("none"));
}

#[test]
fn rules_match_actor_resource_destroy_and_target() {
    let p = policy(WEB).unwrap();
    let web = email("Ann@WEB.example");
    let ok = p.decide(&web, Some("prod"), "modules/nginx-a", ChangeType::Update);
    assert_eq!(ok.allowed_by.as_ref().unwrap().label(), "policy 'web'");
    assert!(ok.policy_note().contains("#1: actor = \"*@web.example\""));
    let a = p.decide(&web, None, "assignments/app-01:nginx-a", ChangeType::Create);
    assert!(a.allowed());
    let other_kind = p.decide(&web, None, "templates/nginx-a", ChangeType::Update);
    assert!(other_kind
        .refusal
        .unwrap()
        .contains("update templates/nginx-a by Ann@WEB.example (user.email) refused: policy 'web' does not allow it"));
    let destroy = p.decide(&web, None, "modules/nginx-a", ChangeType::Destroy);
    assert!(destroy
        .refusal
        .unwrap()
        .contains("policy 'web' does not allow destroying it"));
    let stranger = p.decide(
        &email("eve@evil"),
        None,
        "modules/nginx-a",
        ChangeType::Update,
    );
    assert!(stranger
        .refusal
        .unwrap()
        .contains("no policy rule matches this actor (2 rules in fleet.toml)"));

    let dba = Actor {
        email: None,
        principals: vec!["dba".into()],
        source: "verified SSH signer of 0123".into(),
        pusher: None,
    };
    assert!(p
        .decide(&dba, Some("prod"), "modules/postgres", ChangeType::Destroy)
        .allowed());
    let staging = p.decide(
        &dba,
        Some("staging"),
        "modules/postgres",
        ChangeType::Update,
    );
    assert!(staging
        .refusal
        .unwrap()
        .contains("policy #2 is limited to targets prod"));
    let unknown = p.decide(&dba, None, "modules/postgres", ChangeType::Update);
    assert!(
        !unknown.allowed(),
        "a target-limited rule needs a known target"
    );
    // A principal rule never matches an email...
    let by_email = p.decide(
        &email("dba"),
        Some("prod"),
        "modules/postgres",
        ChangeType::Update,
    );
    assert!(!by_email.allowed());
    // ...but an email rule matches a verified principal that is an email.
    let signer = Actor {
        email: None,
        principals: vec!["ann@web.example".into()],
        source: "verified SSH signer of 0123".into(),
        pusher: None,
    };
    assert!(p
        .decide(&signer, None, "modules/nginx-a", ChangeType::Update)
        .allowed());
}

#[test]
fn pusher_rules_match_only_the_pusher() {
    let p = policy("[[policy]]\npusher = \"web\"\nallow = [\"modules/nginx-*\"]\n\n[[policy]]\npusher = \"ops\"\nactor = \"*@ops.example\"\nallow = [\"modules/*\"]\n").unwrap();
    let mut web = email("web@ops.example");
    assert!(!p
        .decide(&web, None, "modules/nginx-a", ChangeType::Update)
        .allowed());
    web.pusher = Some(Pusher {
        name: "web".into(),
        variable: "GL_USER".into(),
    });
    let d = p.decide(&web, None, "modules/nginx-a", ChangeType::Update);
    assert!(d.allowed() && d.policy_note().contains("pusher = \"web\""));
    // pusher and actor together: both must match.
    let mut ops = email("eve@elsewhere");
    ops.pusher = Some(Pusher {
        name: "ops".into(),
        variable: "GL_USER".into(),
    });
    assert!(!p
        .decide(&ops, None, "modules/postgres", ChangeType::Update)
        .allowed());
    ops.email = Some("ann@ops.example".into());
    assert!(p
        .decide(&ops, None, "modules/postgres", ChangeType::Update)
        .allowed());
    let err = policy("[[policy]]\npusher = \"\"\nallow = [\"modules/*\"]\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("`pusher` is empty"), "{err}");
}

#[test]
fn globs_stay_within_kind_and_name() {
    let p = policy("[[policy]]\nactor = \"*\"\nallow = [\"*/nginx-*\", \"config/*\"]\n").unwrap();
    let a = email("a@b");
    assert!(p
        .decide(&a, None, "modules/nginx-1", ChangeType::Update)
        .allowed());
    assert!(p
        .decide(&a, None, "templates/nginx-1", ChangeType::Update)
        .allowed());
    assert!(p
        .decide(&a, None, CONFIG_RESOURCE, ChangeType::Update)
        .allowed());
    assert!(!p
        .decide(&a, None, "modules/postgres", ChangeType::Update)
        .allowed());
}

#[test]
fn malformed_rules_are_errors_at_file_line_col() {
    let cases = [
        ("[[policy]]\nactor = \"a\"\nallow = [\"modules/*\"]\nbogus = 1\n", "fleet.toml:4:1"),
        ("[[policy]]\nallow = [\"modules/*\"]\n", "needs `actor`"),
        ("[[policy]]\nactor = \"a\"\nprincipal = \"b\"\nallow = [\"modules/*\"]\n", "fleet.toml:3:13: policy #1: set either"),
        ("[[policy]]\nactor = \"a\"\nallow = [\"modules/*\", \"nginx\"]\n", "fleet.toml:3:23: policy #1: allow 'nginx' must be a glob on kind/name"),
        ("[[policy]]\nactor = \"a\"\nallow = [\"widgets/*\"]\n", "must be a glob on kind/name"),
        ("[[policy]]\nactor = \"a\"\nallow = [\"modules/[\"]\n", "not a valid glob"),
        ("[[policy]]\nactor = \"a\"\nallow = []\n", "`allow` is empty"),
        ("[[policy]]\nactor = \"a\"\n", "needs `allow`"),
        ("[[policy]]\nactor = \"a\"\nallow = [\"modules/*\"]\ndestroy = \"yes\"\n", "fleet.toml:4:11"),
        ("[[policy]]\nname = \"x\"\nactor = \"a\"\nallow = [\"modules/*\"]\n[[policy]]\nname = \"x\"\nactor = \"b\"\nallow = [\"modules/*\"]\n", "already used by policy #1"),
        ("[[policy]]\nactor = \"a\"\nallow = [\"modules/*\"]\ntargets = []\n", "`targets` is empty"),
    ];
    for (text, expected) in cases {
        let err = policy(text).expect_err(text).to_string();
        assert!(err.contains(expected), "{text:?}: {err}");
    }
}

#[test]
fn principals_come_from_the_allowed_signers_line_of_the_key() {
    let signers = "# team\nalice,alice@x namespaces=\"git\" ssh-ed25519 AAAAkey1 alice\nbob ssh-ed25519 AAAAkey2\n";
    assert_eq!(
        principals_for(signers, "ssh-ed25519 AAAAkey1 comment"),
        vec!["alice", "alice@x"]
    );
    assert!(principals_for(signers, "ssh-ed25519 AAAAother").is_empty());
}

#[test]
fn desired_files_group_targets_by_path() {
    let config = Config::parse(
        "fleet.toml",
        b"[targets.a]\n[targets.b]\ndesired = \"b.yaml\"\n",
    )
    .unwrap();
    let files = desired_files(&config, &["a".into(), "c".into()]);
    assert_eq!(
        files,
        vec![
            (
                "fleet.yaml".to_string(),
                vec!["a".to_string(), "c".to_string()]
            ),
            ("b.yaml".to_string(), vec!["b".to_string()]),
        ]
    );
    assert_eq!(
        desired_files(&Config::default(), &[]),
        vec![("fleet.yaml".to_string(), vec![])]
    );
}
