//! The TLP 1.0 marking-definition ids match the OASIS `stix2` library's (v21 TLP_WHITE,
//! TLP_GREEN, TLP_AMBER, TLP_RED), and they map to the TLP 2.0 levels of the same name.

use policy::Tlp;
use std::path::{Path, PathBuf};
use std::process::Command;

fn python() -> Option<PathBuf> {
    let p = std::env::var_os("NADHIR_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"));
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but the oracle interpreter {} is missing",
        p.display()
    );
    eprintln!(
        "skipping: no Python interpreter with stix2 at {} (set NADHIR_PYTHON)",
        p.display()
    );
    None
}

#[test]
fn tlp1_ids_match_the_oasis_library() {
    let Some(py) = python() else { return };
    let out = Command::new(py)
        .arg("-c")
        .arg(
            "import stix2.v21 as v\n\
             for name in ['WHITE', 'GREEN', 'AMBER', 'RED']:\n\
             \x20   m = getattr(v, 'TLP_' + name)\n\
             \x20   print(name, m.id, m.definition.tlp)",
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut seen = 0;
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [name, id, tlp] = parts[..] else {
            panic!("unexpected line {line}")
        };
        let want = match name {
            "WHITE" => Tlp::Clear,
            "GREEN" => Tlp::Green,
            "AMBER" => Tlp::Amber,
            "RED" => Tlp::Red,
            _ => panic!("{name}"),
        };
        assert_eq!(Tlp::from_marking_id(id), Some(want), "{line}");
        assert_eq!(tlp, name.to_lowercase());
        seen += 1;
    }
    assert_eq!(seen, 4);
}
