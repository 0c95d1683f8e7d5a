use super::*;
use std::fs;
use std::time::Instant;

fn unix(include: &[&str], exclude: &[&str]) -> PathMatcher {
    PathMatcher::with_syntax(include, exclude, Syntax::Unix).unwrap()
}

fn windows(include: &[&str], exclude: &[&str]) -> PathMatcher {
    PathMatcher::with_syntax(include, exclude, Syntax::Windows).unwrap()
}

fn matches(m: &PathMatcher, path: &str) -> bool {
    m.is_match(Path::new(path))
}

#[test]
fn star_question_and_class_stay_within_one_path_component() {
    let m = unix(&["/d/*.log"], &[]);
    assert!(matches(&m, "/d/a.log"));
    assert!(matches(&m, "/d/.hidden.log"));
    assert!(!matches(&m, "/d/x/a.log"));
    assert!(!matches(&m, "/e/a.log"));
    let m = unix(&["/d/a?c.log"], &[]);
    assert!(matches(&m, "/d/abc.log"));
    assert!(!matches(&m, "/d/a/c.log"));
    let m = unix(
        &["/d/[ab].log", "/d/[!ab]x.log", "/d/[0-9][[:alpha:]]"],
        &[],
    );
    assert!(matches(&m, "/d/a.log"));
    assert!(matches(&m, "/d/b.log"));
    assert!(!matches(&m, "/d/c.log"));
    assert!(matches(&m, "/d/cx.log"));
    assert!(!matches(&m, "/d/ax.log"));
    assert!(matches(&m, "/d/7q"));
    assert!(!matches(&m, "/d/77"));
}

#[test]
fn double_star_matches_any_depth_including_none() {
    let m = unix(&["/d/**/*.log"], &[]);
    assert!(matches(&m, "/d/a.log"));
    assert!(matches(&m, "/d/x/a.log"));
    assert!(matches(&m, "/d/x/y/z/a.log"));
    assert!(!matches(&m, "/e/x/a.log"));
    assert!(!matches(&m, "/d/x/a.txt"));
    let m = unix(&["/d/**/current/*.log"], &[]);
    assert!(matches(&m, "/d/current/a.log"));
    assert!(matches(&m, "/d/app/v1/current/a.log"));
    assert!(!matches(&m, "/d/app/current/old/a.log"));
}

#[test]
fn braces_match_either_alternative() {
    let m = unix(&["/d/{nginx,apache}/*.{log,txt}"], &[]);
    assert!(matches(&m, "/d/nginx/a.log"));
    assert!(matches(&m, "/d/apache/a.txt"));
    assert!(!matches(&m, "/d/other/a.log"));
    assert!(!matches(&m, "/d/nginx/a.gz"));
    let m = unix(&["/d/app.log{,.1}"], &[]);
    assert!(matches(&m, "/d/app.log"));
    assert!(matches(&m, "/d/app.log.1"));
    assert!(!matches(&m, "/d/app.log.2"));
    let m = unix(&["/d/{web/access,api/*/err}.log"], &[]);
    assert!(matches(&m, "/d/web/access.log"));
    assert!(matches(&m, "/d/api/v2/err.log"));
    assert!(!matches(&m, "/d/api/v2/x/err.log"));
}

#[test]
fn unix_backslash_escapes_a_wildcard() {
    let m = unix(&[r"/d/a\*b.log"], &[]);
    assert!(matches(&m, "/d/a*b.log"));
    assert!(!matches(&m, "/d/axb.log"));
}

#[test]
fn excludes_without_a_separator_match_the_file_name_others_the_path() {
    let m = unix(
        &["/d/**/*.log"],
        &["*.debug.log", "old*", "/d/archive/*.log"],
    );
    assert!(m.is_excluded(Path::new("/d/x/app.debug.log")));
    assert!(!matches(&m, "/d/x/app.debug.log"));
    // A name pattern looks at the file name only, never at folder names.
    assert!(matches(&m, "/d/old/app.log"));
    assert!(!matches(&m, "/d/old.log"));
    assert!(!matches(&m, "/d/archive/app.log"));
    assert!(matches(&m, "/d/archive/x/app.log"));
    assert!(matches(&m, "/d/app.log"));
}

#[test]
fn windows_patterns_take_either_separator_and_backslash_is_no_escape() {
    let m = windows(&[r"C:\logs\*.log"], &[]);
    assert!(matches(&m, r"C:\logs\a.log"));
    assert!(matches(&m, "C:/logs/a.log"));
    assert!(!matches(&m, r"C:\logs\sub\a.log"));
    assert!(!matches(&m, r"D:\logs\a.log"));
    let m = windows(&["C:/logs/**/*.log"], &[]);
    assert!(matches(&m, r"C:\logs\a.log"));
    assert!(matches(&m, r"C:\logs\app\2024\a.log"));
    assert!(!matches(&m, r"C:\other\a.log"));
    let m = windows(&[r"\\fileserver\logs\{web,api}\*.log"], &[]);
    assert!(matches(&m, r"\\fileserver\logs\web\a.log"));
    assert!(!matches(&m, r"\\fileserver\logs\db\a.log"));
    let m = windows(
        &[r"C:\ProgramData\app\**\*.log"],
        &["*.tmp.log", r"C:\ProgramData\app\old\*"],
    );
    assert!(matches(&m, r"C:\ProgramData\app\x\a.log"));
    assert!(!matches(&m, r"C:\ProgramData\app\x\a.tmp.log"));
    assert!(!matches(&m, r"C:\ProgramData\app\old\a.log"));
    assert!(matches(&m, r"C:\ProgramData\app\old\x\a.log"));
}

#[test]
fn invalid_patterns_are_refused_with_the_position() {
    for (pattern, at) in [
        ("/var/log/[a.log", 10),
        ("/var/{a,b.log", 6),
        ("/var/a}.log", 7),
    ] {
        let e = PathMatcher::with_syntax(&[pattern], &[], Syntax::Unix)
            .err()
            .unwrap();
        assert_eq!(e.pattern(), pattern);
        assert_eq!(e.position(), Some(at), "{pattern}");
        assert!(
            e.to_string().ends_with(&format!("(at character {at})")),
            "{e}"
        );
    }
    let e = PathMatcher::with_syntax(&["/d/*.log"], &["[x"], Syntax::Unix)
        .err()
        .unwrap();
    assert_eq!(e.pattern(), "[x");
    assert!(validate("/var/log/*.log").is_ok());
    assert!(validate("/var/log/{a,b}/**/*.log").is_ok());
}

#[test]
fn patterns_that_can_never_match_a_file_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.log");
    fs::write(&file, "x").unwrap();
    assert!(
        never_matches(&format!("{}/*.log", file.display()))
            .unwrap()
            .contains("is a file")
    );
    assert!(
        never_matches(&format!("{}/x/{{a,b}}/*.log", file.display()))
            .unwrap()
            .contains("is a file")
    );
    assert!(
        never_matches("/var/log/[a.log")
            .unwrap()
            .contains("at character 10")
    );
    assert!(never_matches("/var/log/").unwrap().contains("folders"));
    assert!(never_matches("/var/log/**").unwrap().contains("folders"));
    assert!(never_matches(&format!("{}/**/*.log", dir.path().display())).is_none());
    assert!(never_matches(&file.display().to_string()).is_none());
    assert!(never_matches_with(r"C:\logs\", Syntax::Windows).is_some());
    assert!(never_matches_with(r"C:\logs\*.log", Syntax::Windows).is_none());
}

/// A folder tree from `(relative path, content)` pairs; a path ending in `/` is an empty folder.
fn tree(entries: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for e in entries {
        let path = dir.path().join(e);
        if e.ends_with('/') {
            fs::create_dir_all(&path).unwrap();
        } else {
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, e).unwrap();
        }
    }
    dir
}

fn walk(dir: &Path, include: &[&str], exclude: &[&str]) -> (Vec<String>, Walk) {
    let abs = |p: &&str| format!("{}/{p}", dir.display());
    let include: Vec<String> = include.iter().map(abs).collect();
    let exclude: Vec<String> = exclude.iter().map(|p| p.to_string()).collect();
    let w = PathMatcher::new(&include, &exclude).unwrap().walk();
    let found = w
        .files
        .iter()
        .map(|p| {
            p.strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    (found, w)
}

#[test]
fn a_walk_returns_every_matching_file_once_sorted() {
    let dir = tree(&[
        "b.log",
        "a.log",
        "a.txt",
        "app.debug.log",
        "folder.log/",
        "sub/c.log",
    ]);
    let (found, w) = walk(dir.path(), &["*.log", "a.*"], &["*.debug.log"]);
    assert_eq!(found, ["a.log", "a.txt", "b.log"]);
    assert!(w.unreadable.is_empty());
    // The two patterns share their folder: it is listed once.
    assert_eq!(w.folders_listed, 1);
}

#[test]
fn a_walk_descends_only_as_deep_as_the_pattern_reaches() {
    let dir = tree(&[
        "1.log",
        "sub/2.log",
        "sub/deeper/3.log",
        "sub/deeper/deepest/4.log",
        "other/2.log",
    ]);
    let (found, w) = walk(dir.path(), &["*.log"], &[]);
    assert_eq!(found, ["1.log"]);
    assert_eq!(
        w.folders_listed, 1,
        "subfolders of a `dir/*.log` walk are not read"
    );
    let (found, w) = walk(dir.path(), &["*/*.log"], &[]);
    assert_eq!(found, ["other/2.log", "sub/2.log"]);
    assert_eq!(w.folders_listed, 3);
    let (found, w) = walk(dir.path(), &["sub/*/*.log"], &[]);
    assert_eq!(found, ["sub/deeper/3.log"]);
    assert_eq!(w.folders_listed, 2, "sub and sub/deeper");
    let (found, w) = walk(dir.path(), &["**/*.log"], &[]);
    assert_eq!(
        found,
        [
            "1.log",
            "other/2.log",
            "sub/2.log",
            "sub/deeper/3.log",
            "sub/deeper/deepest/4.log"
        ]
    );
    assert_eq!(w.folders_listed, 5);
    // Exact names are looked up, not listed.
    let (found, w) = walk(dir.path(), &["sub/deeper/3.log", "{sub,nope}/2.log"], &[]);
    assert_eq!(found, ["sub/2.log", "sub/deeper/3.log"]);
    assert_eq!(w.folders_listed, 0);
    // A group holding a separator: bounded by its longest alternative.
    let (found, w) = walk(dir.path(), &["{sub/deeper,other}/*.log"], &[]);
    assert_eq!(found, ["other/2.log", "sub/deeper/3.log"]);
    assert!(w.folders_listed <= 5, "{}", w.folders_listed);
    assert!(!found.iter().any(|f| f.contains("deepest")));
}

#[test]
fn a_missing_folder_is_no_error() {
    let dir = tree(&["a.log"]);
    let (found, w) = walk(
        dir.path(),
        &["missing/*.log", "a.log/*.log", "x/**/*.log"],
        &[],
    );
    assert!(found.is_empty());
    assert!(w.unreadable.is_empty(), "{:?}", w.unreadable);
}

#[cfg(windows)]
#[test]
fn windows_walks_take_backslash_and_slash_patterns_and_return_native_paths() {
    let dir = tree(&["1.log", "sub/2.log", "sub/deeper/3.log", "sub/x.txt"]);
    let d = dir.path().display().to_string();
    assert!(d.contains('\\') && d.as_bytes()[1] == b':', "{d}");
    let found = |patterns: &[String]| {
        PathMatcher::new(patterns, &[])
            .unwrap()
            .walk()
            .files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        found(&[format!(r"{d}\sub\*.log")]),
        [format!(r"{d}\sub\2.log")]
    );
    let slashes = d.replace('\\', "/");
    assert_eq!(
        found(&[format!("{slashes}/**/*.log")]),
        [
            format!(r"{d}\1.log"),
            format!(r"{d}\sub\2.log"),
            format!(r"{d}\sub\deeper\3.log")
        ]
    );
}

#[cfg(unix)]
#[test]
fn links_are_followed_and_link_loops_end() {
    use std::os::unix::fs::symlink;
    let dir = tree(&["a/b.log", "p/1.log", "q/2.log", "real.txt"]);
    let d = dir.path();
    symlink(d, d.join("a/up")).unwrap();
    symlink(d.join("a"), d.join("x")).unwrap();
    symlink("../q", d.join("p/to_q")).unwrap();
    symlink("../p", d.join("q/to_p")).unwrap();
    symlink(d.join("real.txt"), d.join("link.log")).unwrap();
    symlink(d.join("nowhere"), d.join("dangling.log")).unwrap();
    let (found, w) = walk(d, &["**/*.log"], &[]);
    assert_eq!(
        found,
        [
            "a/b.log",
            "link.log",
            "p/1.log",
            "p/to_q/2.log",
            "q/2.log",
            "q/to_p/1.log",
            "x/b.log"
        ]
    );
    assert!(w.unreadable.is_empty(), "{:?}", w.unreadable);
}

#[cfg(unix)]
const UNPRIVILEGED_RUN: &str = "LOGWARD_TEST_UNPRIVILEGED_RUN";

#[cfg(unix)]
#[test]
fn an_unreadable_folder_is_reported_and_the_walk_goes_on() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let probe = tempfile::tempdir().unwrap();
    let closed = probe.path().join("closed");
    fs::create_dir(&closed).unwrap();
    fs::set_permissions(&closed, fs::Permissions::from_mode(0o000)).unwrap();
    let enforced = fs::read_dir(&closed).is_err();
    fs::set_permissions(&closed, fs::Permissions::from_mode(0o755)).unwrap();
    if !enforced {
        // Permissions do not stop a privileged user (root): run this test again as `nobody`.
        assert!(
            std::env::var_os(UNPRIVILEGED_RUN).is_none(),
            "folder permissions are not enforced even for uid 65534"
        );
        let name = format!(
            "{}::an_unreadable_folder_is_reported_and_the_walk_goes_on",
            module_path!().split_once("::").unwrap().1
        );
        // The test binary may sit in a folder `nobody` cannot enter (a checkout in a private home or
        // temporary folder): run a link (or copy) of it from a folder open to everyone.
        fs::set_permissions(probe.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let exe = probe.path().join("path-match-tests");
        let me = std::env::current_exe().unwrap();
        if fs::hard_link(&me, &exe).is_err() {
            fs::copy(&me, &exe).unwrap();
        }
        fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
        let out = std::process::Command::new(&exe)
            .current_dir(probe.path())
            .args(["--exact", &name, "--nocapture", "--test-threads=1"])
            .env(UNPRIVILEGED_RUN, "1")
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "the run as uid 65534 failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let dir = tree(&["open/a.log", "closed/b.log", "closed/sub/c.log", "top.log"]);
    let closed = dir.path().join("closed");
    fs::set_permissions(&closed, fs::Permissions::from_mode(0o000)).unwrap();
    let (found, w) = walk(dir.path(), &["**/*.log"], &[]);
    fs::set_permissions(&closed, fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(found, ["open/a.log", "top.log"]);
    assert_eq!(w.unreadable.len(), 1, "{:?}", w.unreadable);
    assert_eq!(w.unreadable[0].0, closed);
    assert_eq!(
        w.unreadable[0].1.kind(),
        std::io::ErrorKind::PermissionDenied
    );
}

#[test]
fn twenty_thousand_files_in_one_folder() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..20_000 {
        let ext = if i % 2 == 0 { "log" } else { "txt" };
        fs::write(dir.path().join(format!("app-{i:05}.{ext}")), b"").unwrap();
    }
    let matcher = PathMatcher::new(
        &[format!("{}/*.log", dir.path().display())],
        &["app-1*".to_string()],
    )
    .unwrap();
    let started = Instant::now();
    let w = matcher.walk();
    let took = started.elapsed();
    // app-00000 … app-19998 even: 10,000 .log files, of which app-10000 … app-19998 (5,000) excluded.
    assert_eq!(w.files.len(), 5_000);
    assert_eq!(w.folders_listed, 1);
    println!(
        "walked 20,000 files in one folder in {:.1} ms ({:.2} µs a file)",
        took.as_secs_f64() * 1e3,
        took.as_secs_f64() * 1e6 / 20_000.0
    );
}
