//! `patchbay help link` (and `link help`, as `ip` has it): the words each
//! device type takes, found by asking the parser itself, so the help
//! cannot drift from what is accepted. Every word literal of the command
//! sources is tried after a command's prefix: the parser either calls it
//! unknown (not an option there), says it needs a value (an option; the
//! value's description comes from the error a bogus value gets), or takes
//! it alone (a flag).

use super::parse;

/// Every quoted lower-case word in the command parsers' sources.
fn vocabulary() -> Vec<&'static str> {
    let sources = [
        include_str!("link.rs"),
        include_str!("bond.rs"),
        include_str!("team.rs"),
        include_str!("vxlan.rs"),
        include_str!("bridge.rs"),
    ];
    let mut words: Vec<&'static str> = Vec::new();
    for src in sources {
        for (i, piece) in src.split('"').enumerate() {
            if i % 2 == 1
                && !piece.is_empty()
                && piece
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                && piece.as_bytes()[0].is_ascii_lowercase()
            {
                words.push(piece);
            }
        }
    }
    words.sort_unstable();
    words.dedup();
    words
}

/// How the parser takes `word` after `prefix`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Takes {
    /// A word on its own.
    Flag,
    /// A word and a value (what the value must be, when the parser says).
    Value(Option<String>),
}

fn words_of(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

const NONSENSE: &str = "zq\u{2}";

/// What the parser does with `word` after `prefix`; `None`: unknown there.
pub fn probe(prefix: &str, word: &str) -> Option<Takes> {
    let mut w = words_of(prefix);
    w.push(word.to_string());
    // A suggestion ("did you mean") is not a difference.
    let text = |e: super::CmdError| {
        let e = e.to_string();
        e.split("; did you mean")
            .next()
            .unwrap_or_default()
            .to_string()
    };
    let e = match parse(&w) {
        Ok(_) => return Some(Takes::Flag),
        Err(e) => text(e),
    };
    // Refused as any nonsense word would be: not a word of this command.
    w.pop();
    w.push(NONSENSE.into());
    let nonsense = parse(&w).err().map(|e| text(e).replace(NONSENSE, word));
    w.pop();
    w.push(word.to_string());
    if nonsense.as_ref() == Some(&e) {
        return None;
    }
    if !e.contains(&format!("argument \"{word}\" needs a value")) {
        return Some(Takes::Flag);
    }
    w.push("\u{1}".into());
    let what = parse(&w).err().and_then(|e| {
        let e = e.to_string();
        let at = e.find(&format!("argument \"{word}\" expects "))?;
        let rest = &e[at + word.len() + 20..];
        Some(rest.split(", got").next()?.to_string())
    });
    Some(Takes::Value(what))
}

/// The options the parser takes after `prefix` and not after `base`
/// (the generic words a type's options share the command with).
pub fn options(prefix: &str, base: Option<&str>) -> Vec<(&'static str, Takes)> {
    vocabulary()
        .into_iter()
        .filter(|w| base.is_none_or(|b| probe(b, w).is_none()))
        .filter_map(|w| Some((w, probe(prefix, w)?)))
        .collect()
}

/// Each `link add ... type T` and `link set ... type T` the parser knows,
/// with the command prefix its options follow.
const ADD_TYPES: &[(&str, &str)] = &[
    ("bridge", "link add x type bridge"),
    ("bond", "link add x type bond"),
    ("team", "link add x type team"),
    ("vlan", "link add link e name x type vlan id 10"),
    ("vxlan", "link add x type vxlan"),
    ("macvlan", "link add link e name x type macvlan"),
    ("macvtap", "link add link e name x type macvtap"),
    ("ipvlan", "link add link e name x type ipvlan"),
    ("ipvtap", "link add link e name x type ipvtap"),
    ("veth", "link add x type veth"),
    ("dummy", "link add x type dummy"),
    ("nlmon", "link add x type nlmon"),
    ("netdevsim", "link add x type netdevsim"),
];

const SET_TYPES: &[(&str, &str)] = &[
    ("bridge", "link set x type bridge"),
    ("bridge_slave", "link set x type bridge_slave"),
    ("bond", "link set x type bond"),
    ("macvlan", "link set x type macvlan"),
    ("macvtap", "link set x type macvtap"),
    ("netdevsim", "link set x type netdevsim"),
];

fn render(opts: &[(&'static str, Takes)]) -> String {
    let items: Vec<String> = opts
        .iter()
        .map(|(w, t)| match t {
            Takes::Flag => w.to_string(),
            Takes::Value(None) => format!("{w} VALUE"),
            Takes::Value(Some(what)) => format!("{w} <{what}>"),
        })
        .collect();
    // Wrapped at 78 columns, indented under the type.
    let mut out = String::new();
    let mut line = String::from("   ");
    for i in items {
        if line.len() + i.len() + 3 > 78 && !line.trim().is_empty() {
            out += &line;
            out.push('\n');
            line = String::from("   ");
        }
        line += " ";
        line += &i;
        line += " |";
    }
    if !line.trim().is_empty() {
        out += line.trim_end_matches(" |");
        out.push('\n');
    }
    out.replace(" |\n", "\n")
}

/// The text of `patchbay help link`.
pub fn link() -> String {
    let mut s = String::from(
        "usage: patchbay link add [link DEV] [name] NAME [OPTIONS] type TYPE [TYPE OPTIONS]\n       \
         patchbay link set [dev] DEV [OPTIONS] [type TYPE TYPE OPTIONS]\n       \
         patchbay link del [dev] DEV\n       \
         patchbay link show [[dev] DEV] [master DEV] [type TYPE]\n\n",
    );
    s += "link add OPTIONS:\n";
    s += &render(&options("link add x type dummy", None));
    s += "\nlink set OPTIONS:\n";
    s += &render(&options("link set x", None));
    for (t, prefix) in ADD_TYPES {
        let opts = options(prefix, Some("link add x type dummy"));
        s += &format!("\nlink add ... type {t}");
        if opts.is_empty() {
            s += ": no options\n";
        } else {
            s += ":\n";
            s += &render(&opts);
        }
    }
    for (t, prefix) in SET_TYPES {
        s += &format!("\nlink set DEV type {t}:\n");
        s += &render(&options(prefix, Some("link set x")));
    }
    s
}

/// `patchbay help bridge`: `bridge link set`'s port options.
pub fn bridge() -> String {
    let mut s = String::from(
        "usage: patchbay bridge link set dev DEV [OPTIONS]\n       \
         patchbay bridge link show [dev DEV]\n       \
         patchbay bridge fdb add|del|replace|append LLADDR dev DEV [vlan VID] [master|self] [static|dynamic] [dst IP] [port P] [vni N]\n       \
         patchbay bridge fdb show [br BRIDGE] [dev DEV]\n       \
         patchbay bridge vlan add|del dev DEV vid VID[-VID] [pvid] [untagged] [self] [master]\n       \
         patchbay bridge vlan show [dev DEV]\n       \
         patchbay bridge monitor [all|link|fdb]\n\n",
    );
    s += "bridge link set OPTIONS:\n";
    s += &render(&options("bridge link set dev x", None));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The types the help walks are the ones the parser names when it
    /// refuses a type, for `link add` and `link set`.
    #[test]
    fn the_help_covers_every_type_the_parser_takes() {
        for (prefix, table) in [("link add x", ADD_TYPES), ("link set x", SET_TYPES)] {
            let Some(Takes::Value(Some(what))) = probe(prefix, "type") else {
                panic!("{prefix} type: no list of types");
            };
            let listed: Vec<&str> = what
                .split([',', ' '])
                .filter(|w| !w.is_empty() && *w != "or")
                .collect();
            let ours: Vec<&str> = table.iter().map(|(t, _)| *t).collect();
            assert_eq!(listed, ours, "{prefix} type");
        }
    }

    #[test]
    fn link_help_lists_what_each_type_takes() {
        let h = link();
        for want in [
            "id <a VLAN id from 0 to 4094>",
            "ageing_time <centiseconds>",
            "mode <private, vepa, bridge, passthru or source>",
            "name VALUE",
            "macaddr <add, del, set or flush>",
            "type dummy: no options",
        ] {
            assert!(h.contains(want), "{want} missing:\n{h}");
        }
        // No word of another type leaks into one (the VLAN section ends
        // before the next type).
        let vlan = h.split("type vlan:").nth(1).unwrap();
        let vlan = vlan.split("\n\n").next().unwrap();
        assert!(!vlan.contains("ageing_time"), "{vlan}");
        // The words shown are taken: each one parses past "unknown".
        for w in ["nolearning", "udpcsum", "vnifilter"] {
            assert_eq!(
                probe("link add x type vxlan id 1", w),
                Some(Takes::Flag),
                "{w}"
            );
        }
        assert_eq!(probe("link add x type vxlan id 1", "nosuchword"), None);
    }
}
