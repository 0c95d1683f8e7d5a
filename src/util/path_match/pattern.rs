//! Reading one path pattern: its syntax errors with their position, the root it starts from, and its
//! path components, each classified by how a directory walk can follow it.
//!
//! globset compiles and matches the patterns; it tells neither where a pattern is wrong nor how far down
//! it can reach, which a walk that reads only what it must needs to know. This reader follows globset's
//! grammar (`*`, `?`, `[…]` with `!`/`^` and `[:name:]`, nested `{a,b}`, and on Unix `\` escapes) closely
//! enough to agree with it on every pattern globset accepts; where it classifies conservatively (a
//! component it cannot split), the walk reads more, never less, and globset still decides every match.

/// How separators and backslashes are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// `/` separates components; `\` escapes the next character (`\*` is a literal star).
    Unix,
    /// `\` and `/` both separate components (`C:\logs\*.log`, `C:/logs/**/*.log`). A backslash is never
    /// an escape: write `[*]` for a literal star.
    Windows,
}

impl Syntax {
    /// The syntax of the platform logward runs on.
    pub fn native() -> Syntax {
        if cfg!(windows) {
            Syntax::Windows
        } else {
            Syntax::Unix
        }
    }
}

/// Why a pattern is not valid: a sentence and the 1-based character where the mistake is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub position: Option<usize>,
    pub reason: String,
}

impl SyntaxError {
    fn at(char_index: usize, reason: impl Into<String>) -> SyntaxError {
        SyntaxError {
            position: Some(char_index + 1),
            reason: reason.into(),
        }
    }
}

/// Nesting limit of `{…}` groups, globset's own (deeper nesting could exhaust its stack).
const MAX_NESTED_ALTERNATIVES: usize = 100;
/// A component whose `{…}` alternatives expand to more literal names than this is matched against the
/// folder's listing instead of being looked up name by name.
const MAX_LITERAL_EXPANSION: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    /// A character that stands for itself (after unescaping).
    Literal(char),
    Sep,
    Star,
    Any,
    Class,
    Open,
    Comma,
    Close,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    tok: Tok,
    /// Byte range in the pattern (the same in its normalized form, which only swaps `\` for `/`).
    start: usize,
    end: usize,
}

/// One path component of a pattern, as the walk uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Component {
    /// Matches exactly these names (one, or the expansion of `{a,b}` alternatives): looked up directly,
    /// without listing the folder.
    Names(Vec<String>),
    /// Matches names by this single-component glob (normalized text, compiled on its own).
    Glob(String),
    /// `**`: any number of folders, including none.
    AnyDepth,
    /// The rest of the pattern, which cannot be split into components because a `{…}` group holds a
    /// separator or a recursive `**`: it spans at most this many components (`None`: any number).
    Rest(Option<usize>),
}

/// A pattern taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The pattern with every separator written `/`: what globset compiles.
    pub normalized: String,
    /// Where the walk starts, with `/` separators: `""` (relative), `/`, `C:/`, `//server/share/`.
    pub root: String,
    /// The components after the root.
    pub components: Vec<Component>,
    /// The pattern ends with a separator, so it can only name folders.
    pub ends_with_separator: bool,
    /// The pattern has a separator outside `[…]` (`{…}` included): an exclude pattern without one
    /// matches file names, one with a separator whole paths.
    pub has_separator: bool,
}

/// Takes `pattern` apart, or says where it is wrong.
pub fn parse(pattern: &str, syntax: Syntax) -> Result<Parsed, SyntaxError> {
    let tokens = lex(pattern, syntax)?;
    let normalized = match syntax {
        Syntax::Unix => pattern.to_string(),
        Syntax::Windows => pattern.replace('\\', "/"),
    };
    let (root_len, root) = root(&tokens, syntax);
    let rest = &tokens[root_len..];
    let mut components = Vec::new();
    for range in split_components(rest) {
        let piece = &rest[range.clone()];
        if needs_rest(piece) {
            components.push(Component::Rest(depth_bound(&rest[range.start..])));
            break;
        }
        components.push(classify(piece, &normalized));
    }
    Ok(Parsed {
        normalized,
        root,
        components,
        ends_with_separator: tokens.last().is_some_and(|t| t.tok == Tok::Sep),
        has_separator: tokens.iter().any(|t| t.tok == Tok::Sep),
    })
}

/// Whether `pattern` has no wildcard, class or alternative: it names one path.
pub fn is_literal(pattern: &str, syntax: Syntax) -> bool {
    lex(pattern, syntax).is_ok_and(|tokens| {
        tokens
            .iter()
            .all(|t| matches!(t.tok, Tok::Literal(_) | Tok::Sep))
    })
}

fn lex(pattern: &str, syntax: Syntax) -> Result<Vec<Token>, SyntaxError> {
    let chars: Vec<(usize, char)> = pattern.char_indices().collect();
    let byte_end = |i: usize| chars.get(i + 1).map_or(pattern.len(), |(b, _)| *b);
    let mut out = Vec::with_capacity(chars.len());
    let mut open_braces: Vec<usize> = Vec::new();
    let mut i = 0;
    // A Windows verbatim prefix (`\\?\C:\…`) names a path as written: its `?` is no wildcard.
    if syntax == Syntax::Windows && (pattern.starts_with(r"\\?\") || pattern.starts_with("//?/")) {
        for (j, tok) in [Tok::Sep, Tok::Sep, Tok::Literal('?'), Tok::Sep]
            .into_iter()
            .enumerate()
        {
            out.push(Token {
                tok,
                start: j,
                end: j + 1,
            });
        }
        i = 4;
    }
    while i < chars.len() {
        let (start, c) = chars[i];
        let first = i;
        let tok = match c {
            '/' => Tok::Sep,
            '\\' if syntax == Syntax::Windows => Tok::Sep,
            '\\' => {
                i += 1;
                match chars.get(i) {
                    None => {
                        return Err(SyntaxError::at(
                            first,
                            "a `\\` at the end escapes nothing; write `\\\\` for a literal backslash",
                        ));
                    }
                    // globset reads an escaped `/` as a separator.
                    Some((_, '/')) => Tok::Sep,
                    Some((_, e)) => Tok::Literal(*e),
                }
            }
            '*' => Tok::Star,
            '?' => Tok::Any,
            '[' => {
                i = class_end(&chars, i)?;
                Tok::Class
            }
            '{' => {
                if open_braces.len() >= MAX_NESTED_ALTERNATIVES {
                    return Err(SyntaxError::at(
                        i,
                        format!(
                            "`{{…}}` alternatives are nested more than {MAX_NESTED_ALTERNATIVES} deep"
                        ),
                    ));
                }
                open_braces.push(i);
                Tok::Open
            }
            '}' => {
                if open_braces.pop().is_none() {
                    return Err(SyntaxError::at(
                        i,
                        "this `}` closes no `{`; write `[}]` for a literal `}`",
                    ));
                }
                Tok::Close
            }
            ',' if !open_braces.is_empty() => Tok::Comma,
            c => Tok::Literal(c),
        };
        out.push(Token {
            tok,
            start,
            end: byte_end(i),
        });
        i += 1;
    }
    if let Some(&open) = open_braces.last() {
        return Err(SyntaxError::at(
            open,
            "this `{` is never closed with `}`; write `[{]` for a literal `{`",
        ));
    }
    Ok(out)
}

/// The index of the `]` that closes the class opened at `open`, following globset: a `]` first in the
/// class (after an optional `!` or `^`) is a member, `[:name:]` is a POSIX class, ranges must ascend.
fn class_end(chars: &[(usize, char)], open: usize) -> Result<usize, SyntaxError> {
    let mut i = open + 1;
    if matches!(chars.get(i), Some((_, '!' | '^'))) {
        i += 1;
    }
    let mut first = true;
    let mut in_range = false;
    // The start of the last member, where a following `-x` would make a range.
    let mut last: Option<(usize, char)> = None;
    loop {
        let Some(&(_, c)) = chars.get(i) else {
            return Err(SyntaxError::at(
                open,
                "this `[` opens a character class that is never closed with `]`; write `[[]` for a literal `[`",
            ));
        };
        match c {
            ']' if !first => return Ok(i),
            '-' if !first && in_range => {
                check_range(last, '-')?;
                in_range = false;
            }
            '-' if !first => in_range = true,
            '[' if !in_range && matches!(chars.get(i + 1), Some((_, ':'))) => {
                match posix_class_end(chars, i) {
                    Some(end) => {
                        i = end;
                        last = None;
                    }
                    None => last = Some((i, '[')),
                }
            }
            c => {
                if in_range {
                    check_range(last, c)?;
                    in_range = false;
                } else {
                    last = Some((i, c));
                }
            }
        }
        first = false;
        i += 1;
    }
}

fn check_range(start: Option<(usize, char)>, end: char) -> Result<(), SyntaxError> {
    match start {
        Some((at, s)) if end < s => Err(SyntaxError::at(
            at,
            format!("the range `{s}-{end}` in a character class runs backwards; write `{end}-{s}`"),
        )),
        _ => Ok(()),
    }
}

/// The index of the `]` ending a POSIX class `[:name:]` that starts at `open`, if it is one globset knows.
fn posix_class_end(chars: &[(usize, char)], open: usize) -> Option<usize> {
    const NAMES: [&str; 12] = [
        "alnum", "alpha", "blank", "cntrl", "digit", "graph", "lower", "print", "punct", "space",
        "upper", "xdigit",
    ];
    let mut name = String::new();
    let mut i = open + 2;
    loop {
        match chars.get(i).map(|(_, c)| *c) {
            Some(':') if matches!(chars.get(i + 1), Some((_, ']'))) => {
                return NAMES.contains(&name.as_str()).then_some(i + 1);
            }
            Some(c) if c.is_ascii_lowercase() && name.len() < 8 => name.push(c),
            _ => return None,
        }
        i += 1;
    }
}

/// The number of leading tokens that form the root, and the root's text (`/` separators).
fn root(tokens: &[Token], syntax: Syntax) -> (usize, String) {
    let seps = tokens.iter().take_while(|t| t.tok == Tok::Sep).count();
    let mut text = "/".repeat(seps.min(2));
    let mut len = seps;
    if syntax == Syntax::Windows && seps >= 2 {
        // `//server/share/` or verbatim `//?/C:/`: the two components after the slashes belong to it.
        for _ in 0..2 {
            let name_len = tokens[len..]
                .iter()
                .take_while(|t| matches!(t.tok, Tok::Literal(_)))
                .count();
            let sep_len = tokens[len + name_len..]
                .iter()
                .take_while(|t| t.tok == Tok::Sep)
                .count();
            if name_len == 0 || sep_len == 0 {
                break;
            }
            text.push_str(&literal_text(&tokens[len..len + name_len]));
            text.push('/');
            len += name_len + sep_len;
        }
    } else if syntax == Syntax::Windows && seps == 0 {
        // A drive: `C:` followed by separators is `C:/`; `C:` alone is relative to that drive's folder.
        if let [
            Token {
                tok: Tok::Literal(d),
                ..
            },
            Token {
                tok: Tok::Literal(':'),
                ..
            },
            after @ ..,
        ] = tokens
            && d.is_ascii_alphabetic()
        {
            let sep_len = after.iter().take_while(|t| t.tok == Tok::Sep).count();
            text = format!("{d}:");
            if sep_len > 0 {
                text.push('/');
            }
            len = 2 + sep_len;
        }
    } else if seps > 0 {
        text = "/".into();
    }
    (len, text)
}

fn literal_text(tokens: &[Token]) -> String {
    tokens
        .iter()
        .map(|t| match t.tok {
            Tok::Literal(c) => c,
            _ => '/',
        })
        .collect()
}

/// Splits tokens at separators outside `{…}` into index ranges (runs of separators count as one; empty
/// pieces are dropped).
fn split_components(tokens: &[Token]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        match t.tok {
            Tok::Open => depth += 1,
            Tok::Close => depth = depth.saturating_sub(1),
            Tok::Sep if depth == 0 => {
                if i > start {
                    out.push(start..i);
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < tokens.len() {
        out.push(start..tokens.len());
    }
    out
}

/// A component that cannot be matched one folder name at a time: a `{…}` group in it holds a separator,
/// or a `**` that globset may read as recursive (next to `{` or `,`).
fn needs_rest(piece: &[Token]) -> bool {
    let mut depth = 0usize;
    let mut prev = None;
    for t in piece {
        match t.tok {
            Tok::Open => depth += 1,
            Tok::Close => depth = depth.saturating_sub(1),
            Tok::Sep => return true,
            Tok::Star if depth > 0 && prev == Some(Tok::Star) => return true,
            _ => {}
        }
        prev = Some(t.tok);
    }
    false
}

/// How many components `tokens` can span at most: `None` when a `**` may make it any number.
fn depth_bound(tokens: &[Token]) -> Option<usize> {
    if tokens
        .windows(2)
        .any(|w| w[0].tok == Tok::Star && w[1].tok == Tok::Star)
    {
        return None;
    }
    Some(separators(tokens) + 1)
}

/// The most separators a match of `tokens` can contain: each one outside groups, plus for each `{…}` the
/// most any of its alternatives has.
fn separators(tokens: &[Token]) -> usize {
    let mut count = 0;
    let mut i = 0;
    while i < tokens.len() {
        match tokens[i].tok {
            Tok::Sep => count += 1,
            Tok::Open => {
                let close = matching_close(tokens, i);
                count += alternatives(&tokens[i + 1..close])
                    .into_iter()
                    .map(separators)
                    .max()
                    .unwrap_or(0);
                i = close;
            }
            _ => {}
        }
        i += 1;
    }
    count
}

/// The index of the `}` closing the `{` at `open` (the tokens are balanced: the lexer checked).
fn matching_close(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0usize;
    for (i, t) in tokens.iter().enumerate().skip(open) {
        match t.tok {
            Tok::Open => depth += 1,
            Tok::Close => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    tokens.len().saturating_sub(1)
}

/// The alternatives inside one `{…}` group: split at its own commas, not at nested groups' commas.
fn alternatives(inner: &[Token]) -> Vec<&[Token]> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, t) in inner.iter().enumerate() {
        match t.tok {
            Tok::Open => depth += 1,
            Tok::Close => depth = depth.saturating_sub(1),
            Tok::Comma if depth == 0 => {
                out.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&inner[start..]);
    out
}

fn classify(piece: &[Token], normalized: &str) -> Component {
    if piece.len() == 2 && piece.iter().all(|t| t.tok == Tok::Star) {
        return Component::AnyDepth;
    }
    if let Some(mut names) = expand(piece) {
        // An alternative that expands to nothing (`{,}`) names no file or folder.
        names.retain(|n| !n.is_empty());
        names.sort();
        names.dedup();
        return Component::Names(names);
    }
    let start = piece.first().map_or(0, |t| t.start);
    let end = piece.last().map_or(0, |t| t.end);
    Component::Glob(normalized[start..end].to_string())
}

/// The literal names a component made of literal characters and `{…}` groups stands for, if it has no
/// wildcard and they are few.
fn expand(tokens: &[Token]) -> Option<Vec<String>> {
    let mut names = vec![String::new()];
    let mut i = 0;
    while i < tokens.len() {
        match tokens[i].tok {
            Tok::Literal(c) => names.iter_mut().for_each(|n| n.push(c)),
            Tok::Open => {
                let close = matching_close(tokens, i);
                let mut group = Vec::new();
                for alternative in alternatives(&tokens[i + 1..close]) {
                    group.extend(expand(alternative)?);
                }
                if names.len() * group.len() > MAX_LITERAL_EXPANSION {
                    return None;
                }
                names = names
                    .iter()
                    .flat_map(|n| group.iter().map(move |g| format!("{n}{g}")))
                    .collect();
                i = close;
            }
            _ => return None,
        }
        i += 1;
    }
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Component::*;

    fn unix(p: &str) -> Parsed {
        parse(p, Syntax::Unix).unwrap()
    }

    fn windows(p: &str) -> Parsed {
        parse(p, Syntax::Windows).unwrap()
    }

    fn names(n: &[&str]) -> Component {
        Names(n.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn a_unix_pattern_splits_into_root_and_components() {
        let p = unix("/var/log/app/*.log");
        assert_eq!(p.root, "/");
        assert_eq!(
            p.components,
            vec![
                names(&["var"]),
                names(&["log"]),
                names(&["app"]),
                Glob("*.log".into())
            ]
        );
        assert!(!p.ends_with_separator);
        assert_eq!(unix("logs/a.log").root, "");
        assert_eq!(
            unix("//var//log/x").components,
            vec![names(&["var"]), names(&["log"]), names(&["x"])]
        );
    }

    #[test]
    fn every_wildcard_makes_a_glob_component() {
        for component in ["*.log", "app?.log", "[abc].log", "[!a]x", "a**b", "{a,b}*"] {
            let p = unix(&format!("/d/{component}"));
            assert_eq!(p.components[1], Glob(component.into()), "{component}");
        }
        assert_eq!(unix("/d/**/x.log").components[1], AnyDepth);
    }

    #[test]
    fn literal_alternatives_expand_to_names() {
        assert_eq!(
            unix("/d/{nginx,apache}/x").components[1],
            names(&["apache", "nginx"])
        );
        assert_eq!(
            unix("/d/app.log{,.1}").components[1],
            names(&["app.log", "app.log.1"])
        );
        assert_eq!(
            unix("/d/{a,b{c,d}}.log").components[1],
            names(&["a.log", "bc.log", "bd.log"])
        );
        // Too many names to look up one by one: listed and matched instead.
        let many = "/d/{a,b,c,d}{a,b,c,d}{a,b,c,d}{a,b,c,d}";
        assert!(matches!(unix(many).components[1], Glob(_)));
    }

    #[test]
    fn alternatives_holding_a_separator_bound_the_depth_of_the_rest() {
        assert_eq!(
            unix("/var/log/{nginx/access,apache}.log").components,
            vec![names(&["var"]), names(&["log"]), Rest(Some(2))]
        );
        assert_eq!(
            unix("/d/{a/b/c,x}/*.log").components,
            vec![names(&["d"]), Rest(Some(4))]
        );
        assert_eq!(
            unix("/d/{a/**,b}/x").components,
            vec![names(&["d"]), Rest(None)]
        );
        assert_eq!(unix("/d/{**,x}.log").components[1], Rest(None));
    }

    #[test]
    fn unix_backslash_escapes_and_the_escaped_names_are_literal() {
        let p = unix(r"/d/a\*b/\{x\}.log");
        assert_eq!(p.components[1], names(&["a*b"]));
        assert_eq!(p.components[2], names(&["{x}.log"]));
        assert!(is_literal(r"/d/a\*b", Syntax::Unix));
        assert!(!is_literal("/d/a*b", Syntax::Unix));
    }

    #[test]
    fn windows_paths_use_either_separator_and_no_escape() {
        let p = windows(r"C:\logs\*.log");
        assert_eq!(p.normalized, "C:/logs/*.log");
        assert_eq!(p.root, "C:/");
        assert_eq!(p.components, vec![names(&["logs"]), Glob("*.log".into())]);
        let p = windows("C:/logs/**/*.log");
        assert_eq!(p.root, "C:/");
        assert_eq!(
            p.components,
            vec![names(&["logs"]), AnyDepth, Glob("*.log".into())]
        );
        let p = windows(r"D:\app logs\{web,api}\current.log");
        assert_eq!(p.root, "D:/");
        assert_eq!(
            p.components,
            vec![
                names(&["app logs"]),
                names(&["api", "web"]),
                names(&["current.log"])
            ]
        );
        // `\*` is a separator and a star there, not an escaped star.
        assert_eq!(windows(r"C:\d\*").components[1], Glob("*".into()));
        assert!(is_literal(r"C:\logs\app.log", Syntax::Windows));
    }

    #[test]
    fn windows_roots_unc_verbatim_drive_relative() {
        let p = windows(r"\\fileserver\logs\app\*.log");
        assert_eq!(p.root, "//fileserver/logs/");
        assert_eq!(p.components, vec![names(&["app"]), Glob("*.log".into())]);
        let p = windows(r"\\?\C:\logs\*.log");
        assert_eq!(p.root, "//?/C:/");
        assert_eq!(p.components, vec![names(&["logs"]), Glob("*.log".into())]);
        assert_eq!(windows(r"\logs\*.log").root, "/");
        assert_eq!(windows("C:*.log").root, "C:");
        assert_eq!(windows("logs/*.log").root, "");
    }

    #[test]
    fn a_trailing_separator_is_noticed() {
        assert!(unix("/var/log/").ends_with_separator);
        assert!(windows(r"C:\logs\").ends_with_separator);
        assert!(!unix("/var/log").ends_with_separator);
    }

    #[test]
    fn separators_decide_name_or_path() {
        assert!(!unix("*.debug.log").has_separator);
        assert!(unix("old/*.log").has_separator);
        assert!(unix("{old/x,y}").has_separator);
        assert!(unix(r"a\/b").has_separator);
        assert!(windows(r"old\*.log").has_separator);
        assert!(!windows("*.log").has_separator);
        // A `/` inside a class is no separator (with separators literal, the class cannot match it).
        assert!(!unix("[/]x").has_separator);
    }

    fn error(p: &str, syntax: Syntax) -> SyntaxError {
        parse(p, syntax).unwrap_err()
    }

    #[test]
    fn syntax_errors_say_what_and_where() {
        let e = error("/var/log/[a.log", Syntax::Unix);
        assert_eq!(e.position, Some(10));
        assert!(e.reason.contains("never closed with `]`"), "{e:?}");
        let e = error("/var/{a,b/x.log", Syntax::Unix);
        assert_eq!(e.position, Some(6));
        assert!(e.reason.contains("`{` is never closed"), "{e:?}");
        let e = error("/var/{a,{b,c}/x", Syntax::Unix);
        assert_eq!(e.position, Some(6));
        let e = error("/var/a}.log", Syntax::Unix);
        assert_eq!(e.position, Some(7));
        assert!(e.reason.contains("closes no `{`"), "{e:?}");
        let e = error("/var/[z-a].log", Syntax::Unix);
        assert_eq!(e.position, Some(7));
        assert!(e.reason.contains("`z-a`"), "{e:?}");
        let e = error(r"/var/log\", Syntax::Unix);
        assert_eq!(e.position, Some(9));
        assert!(e.reason.contains("escapes nothing"), "{e:?}");
        let deep = format!("{}{}", "{".repeat(101), "}".repeat(101));
        assert_eq!(error(&deep, Syntax::Unix).position, Some(101));
        // Positions count characters, not bytes.
        assert_eq!(error("/é/[", Syntax::Unix).position, Some(4));
    }

    #[test]
    fn classes_follow_globsets_reading() {
        for ok in [
            "[]]",
            "[!]]",
            "[^a]",
            "[a-]",
            "[-a]",
            "[[:alpha:]]x",
            "[[:nope:]]",
            "[a-c-e]",
        ] {
            assert!(parse(ok, Syntax::Unix).is_ok(), "{ok}");
        }
        assert!(parse("[]", Syntax::Unix).is_err());
        assert!(parse("[!]", Syntax::Unix).is_err());
        // On Windows a backslash ends nothing: `C:\logs\` is a trailing separator, not a dangling escape.
        assert!(parse(r"C:\logs\", Syntax::Windows).is_ok());
    }

    #[test]
    fn globset_agrees_with_this_reader_on_validity() {
        let samples = [
            "*.log",
            "[a.log",
            "a]",
            "{a,b",
            "a}",
            "{a,{b,c}}",
            "[z-a]",
            "[a-z]",
            "[]]",
            "[!]",
            "[[:alpha:]",
            "[[:alpha:]]",
            "x\\",
            "\\*",
            "{,}",
            "{}",
            "**",
            "a/**/b",
            "[a-]",
            "[--a]",
            "[a--]",
            "[b-a-]",
            "{{{{a}}}}",
        ];
        for sample in samples {
            let ours = parse(sample, Syntax::Unix).is_ok();
            let theirs = globset::GlobBuilder::new(sample)
                .literal_separator(true)
                .backslash_escape(true)
                .empty_alternates(true)
                .build()
                .is_ok();
            assert_eq!(ours, theirs, "{sample:?}");
        }
    }
}
