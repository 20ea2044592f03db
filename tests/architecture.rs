//! The house has floors: no source file imports a file that imports it
//! back (directly or through others), and no floor imports one above it.
//!
//! The floors are the rows of the README's "How it is built" table, top
//! floor first: a file may use files of its own row and of rows below it,
//! never of a row above. Circles inside one row (the glue, the soak's
//! parts) are caught by the cycle check. The graph is read from the source
//! text, so it covers the wasm-only glue too, which `cargo test` does not
//! compile: Rust paths (`use crate::…`, `super::…`, a child module's name)
//! and the relative `import`s of the project's JavaScript.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The parts of Rust source that can name a module.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    /// `::`
    Path,
    Punct(char),
}

/// Rust source as tokens, without comments, strings or character literals
/// (a URL in a string is no path, and a comment may name any module).
fn tokens(source: &str) -> Vec<Token> {
    let chars: Vec<char> = source.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && raw_string_at(&chars, i) {
            // r"…", r#"…"#: ends at a quote followed by as many #.
            let mut hashes = 0;
            i += 1;
            while chars[i] == '#' {
                hashes += 1;
                i += 1;
            }
            i += 1;
            while i < chars.len() {
                if chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
                    i += 1 + hashes;
                    break;
                }
                i += 1;
            }
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}'), else a lifetime.
            if next == Some('\\') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
        } else if c == ':' && next == Some(':') {
            out.push(Token::Path);
            i += 2;
        } else {
            if !c.is_whitespace() {
                out.push(Token::Punct(c));
            }
            i += 1;
        }
    }
    out
}

fn raw_string_at(chars: &[char], i: usize) -> bool {
    let before_ok = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    let mut j = i + 1;
    while chars.get(j) == Some(&'#') {
        j += 1;
    }
    before_ok && chars.get(j) == Some(&'"')
}

/// Drops every item marked `#[cfg(test)]`: tests may use anything.
fn without_tests(tokens: Vec<Token>) -> Vec<Token> {
    let marker = [
        Token::Punct('#'),
        Token::Punct('['),
        Token::Ident("cfg".into()),
        Token::Punct('('),
        Token::Ident("test".into()),
        Token::Punct(')'),
        Token::Punct(']'),
    ];
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i..].starts_with(&marker) {
            i += marker.len();
            // The item ends at a `;` outside braces, or at its closing brace.
            let mut depth = 0;
            while i < tokens.len() {
                match tokens[i] {
                    Token::Punct('{') => depth += 1,
                    Token::Punct('}') => {
                        depth -= 1;
                        if depth == 0 {
                            i += 1;
                            break;
                        }
                    }
                    Token::Punct(';') if depth == 0 => {
                        i += 1;
                        break;
                    }
                    _ => {}
                }
                i += 1;
            }
        } else {
            out.push(tokens[i].clone());
            i += 1;
        }
    }
    out
}

/// A Rust file's module path (`schemes::github`; the crate root is empty).
fn module_of(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .with_extension("")
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

fn files_under(dir: &Path, extension: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "node_modules") {
                files_under(&path, extension, out);
            }
        } else if path.extension().is_some_and(|e| e == extension) {
            out.push(path);
        }
    }
}

/// The paths a Rust file names, each as module segments from the crate
/// root: `use` trees in full, and any other path that starts at `crate`,
/// `super`, `self` or one of the file's own child modules.
fn named_paths(module: &[String], tokens: &[Token]) -> Vec<Vec<String>> {
    let children: BTreeSet<String> = tokens
        .windows(3)
        .filter_map(|w| match w {
            [Token::Ident(kw), Token::Ident(name), Token::Punct(';')] if kw == "mod" => {
                Some(name.clone())
            }
            _ => None,
        })
        .collect();
    let absolute = |segments: &[String]| -> Option<Vec<String>> {
        let (first, rest) = segments.split_first()?;
        let mut base: Vec<String> = match first.as_str() {
            "crate" => Vec::new(),
            "self" => module.to_vec(),
            "super" => module[..module.len().saturating_sub(1)].to_vec(),
            name if children.contains(name) => {
                let mut base = module.to_vec();
                base.push(name.to_owned());
                base
            }
            _ => return None,
        };
        let mut rest = rest.iter().peekable();
        while rest.peek().is_some_and(|s| *s == "super") {
            base.pop();
            rest.next();
        }
        base.extend(rest.cloned());
        Some(base)
    };
    let mut found = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i] == Token::Ident("use".into()) {
            let end = (i..tokens.len())
                .find(|&j| tokens[j] == Token::Punct(';'))
                .unwrap_or(tokens.len());
            for tree in use_paths(&tokens[i + 1..end]) {
                found.extend(absolute(&tree));
            }
            i = end;
            continue;
        }
        if let Token::Ident(_) = &tokens[i] {
            let preceded_by_path = i > 0 && tokens[i - 1] == Token::Path;
            if !preceded_by_path && tokens.get(i + 1) == Some(&Token::Path) {
                let mut segments = Vec::new();
                let mut j = i;
                while let Some(Token::Ident(name)) = tokens.get(j) {
                    segments.push(name.clone());
                    if tokens.get(j + 1) != Some(&Token::Path) {
                        break;
                    }
                    j += 2;
                }
                found.extend(absolute(&segments));
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    found
}

/// Every leaf of a `use` tree (`a::{b, c::d as e, self}` gives `a::b`,
/// `a::c::d` and `a`).
fn use_paths(tree: &[Token]) -> Vec<Vec<String>> {
    fn walk(tree: &[Token], prefix: &[String], out: &mut Vec<Vec<String>>) {
        let mut path = prefix.to_vec();
        let mut i = 0;
        while i < tree.len() {
            match &tree[i] {
                Token::Ident(name) if name == "as" => {
                    i += 2;
                    continue;
                }
                Token::Ident(name) if name == "self" && i + 1 >= tree.len() => {}
                Token::Ident(name) if name == "pub" => {}
                Token::Ident(name) => path.push(name.clone()),
                Token::Punct('{') => {
                    let mut depth = 0;
                    let mut start = i + 1;
                    for j in i..tree.len() {
                        match tree[j] {
                            Token::Punct('{') => depth += 1,
                            Token::Punct('}') => {
                                depth -= 1;
                                if depth == 0 {
                                    walk(&tree[start..j], &path, out);
                                    return;
                                }
                            }
                            Token::Punct(',') if depth == 1 => {
                                walk(&tree[start..j], &path, out);
                                start = j + 1;
                            }
                            _ => {}
                        }
                    }
                    return;
                }
                _ => {}
            }
            i += 1;
        }
        if path.len() > prefix.len() || !prefix.is_empty() {
            out.push(path);
        }
    }
    let mut out = Vec::new();
    walk(tree, &[], &mut out);
    out
}

/// The project's own source files and what each imports, by path relative
/// to the repository.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(ROOT);
    let mut rust = Vec::new();
    files_under(&root.join("src"), "rs", &mut rust);
    let mut modules = BTreeMap::new();
    for file in &rust {
        let relative = file.strip_prefix(root.join("src")).unwrap();
        modules.insert(module_of(relative), relative_name(file));
    }
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &rust {
        let name = relative_name(file);
        // Test-only files use whatever they test.
        if name == "src/testing.rs" || name.ends_with("/tests.rs") {
            continue;
        }
        let module = module_of(file.strip_prefix(root.join("src")).unwrap());
        let source = fs::read_to_string(file).unwrap();
        let tokens = without_tests(tokens(&source));
        let edges = graph.entry(name.clone()).or_default();
        for path in named_paths(&module, &tokens) {
            // The longest prefix of the path that is a module with a file.
            let target = (1..=path.len())
                .rev()
                .find_map(|n| modules.get(&path[..n]))
                .filter(|target| **target != name);
            if let Some(target) = target {
                edges.insert(target.clone());
            }
        }
    }

    let mut js = Vec::new();
    for dir in ["src", "scripts", "tests", "bench"] {
        files_under(&root.join(dir), "mjs", &mut js);
        files_under(&root.join(dir), "js", &mut js);
    }
    for file in &js {
        let source = fs::read_to_string(file).unwrap();
        let edges = graph.entry(relative_name(file)).or_default();
        for specifier in relative_imports(&source) {
            let target = file.parent().unwrap().join(specifier);
            if let Ok(target) = target.canonicalize() {
                if let Ok(relative) = target.strip_prefix(root) {
                    edges.insert(relative.to_string_lossy().into_owned());
                }
            }
        }
    }
    graph
}

fn relative_name(file: &Path) -> String {
    file.strip_prefix(ROOT)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The `./` and `../` specifiers of a JavaScript module's static imports and
/// re-exports.
fn relative_imports(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    for statement in source.split(';') {
        let trimmed = statement.trim_start();
        let is_import = trimmed.starts_with("import ") || trimmed.starts_with("import{");
        let is_export = trimmed.starts_with("export ") && trimmed.contains(" from ");
        if !(is_import || is_export) {
            continue;
        }
        let Some(quote_at) = trimmed.rfind(['\'', '"']) else {
            continue;
        };
        let quote = trimmed.as_bytes()[quote_at] as char;
        let Some(open) = trimmed[..quote_at].rfind(quote) else {
            continue;
        };
        let specifier = &trimmed[open + 1..quote_at];
        if specifier.starts_with("./") || specifier.starts_with("../") {
            found.push(specifier.to_owned());
        }
    }
    found
}

/// The circles of a graph (its strongly connected parts of more than one
/// file), each sorted.
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Two files are in one circle when each reaches the other.
    let reach = |from: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(node) = stack.pop() {
            for next in graph.get(&node).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|node| (node, reach(node))).collect();
    let mut found: Vec<Vec<String>> = Vec::new();
    for node in graph.keys() {
        if !reaches[node].contains(node) || found.iter().any(|c| c.contains(node)) {
            continue;
        }
        let circle: Vec<String> = graph
            .keys()
            .filter(|other| reaches[node].contains(*other) && reaches[*other].contains(node))
            .cloned()
            .collect();
        found.push(circle);
    }
    found
}

/// The README's floors: each row of "How it is built" that names files
/// under `src/`, top floor first, as the path prefixes it names.
fn floors() -> Vec<Vec<String>> {
    let readme = fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let section = readme
        .split("## How it is built")
        .nth(1)
        .expect("README.md has a \"How it is built\" section");
    section
        .lines()
        .take_while(|line| !line.starts_with("## "))
        .filter_map(|line| line.strip_prefix("| "))
        .map(|row| {
            let first = row.split(" | ").next().unwrap_or_default();
            first
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(|name| name.starts_with("src/"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|names| !names.is_empty())
        .collect()
}

fn floor_of(floors: &[Vec<String>], file: &str) -> Option<usize> {
    floors.iter().position(|names| {
        names
            .iter()
            .any(|name| file == name || (name.ends_with('/') && file.starts_with(name.as_str())))
    })
}

#[test]
fn no_file_imports_a_file_that_imports_it_back() {
    let graph = graph();
    assert!(
        graph.contains_key("src/gate.rs") && graph.contains_key("src/glue/edge.rs"),
        "the graph was read from the source"
    );
    let circles = circles(&graph);
    assert!(
        circles.is_empty(),
        "files that import each other, directly or through others: {circles:#?}"
    );
}

#[test]
fn no_floor_imports_one_above_it() {
    let graph = graph();
    let floors = floors();
    let mut problems = Vec::new();
    for (file, targets) in &graph {
        if !file.starts_with("src/") || file == "src/lib.rs" || file.ends_with(".js") {
            continue;
        }
        let Some(floor) = floor_of(&floors, file) else {
            problems.push(format!(
                "{file} is on no floor: name it in a row of README.md's \"How it is built\" table"
            ));
            continue;
        };
        for target in targets.iter().filter(|t| t.ends_with(".rs")) {
            match floor_of(&floors, target) {
                Some(below) if below >= floor => {}
                _ => problems.push(format!(
                    "{file} (row {floor}) imports {target}, which is on a floor above it"
                )),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The reader itself: a circle it cannot see would make the checks above
/// pass for nothing.
#[test]
fn the_reader_sees_every_kind_of_import() {
    let source = r#"
        use crate::a::{b::{self, C}, d as e};
        use super::sibling;
        mod child;
        fn f() { let url = "https://x::y"; crate::g::h(); child::go(); 'x'; }
        // crate::in_a_comment::x
        #[cfg(test)]
        mod tests { use crate::only_tests; }
    "#;
    let module = vec!["top".to_owned(), "me".to_owned()];
    let tokens = without_tests(tokens(source));
    let found: BTreeSet<String> = named_paths(&module, &tokens)
        .into_iter()
        .map(|p| p.join("::"))
        .collect();
    let expected: BTreeSet<String> = [
        "a::b",
        "a::b::C",
        "a::d",
        "top::sibling",
        "g::h",
        "top::me::child::go",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(found, expected);

    let js = "import { a } from './a.mjs';\nimport b from \"../b/c.mjs\";\nimport http from 'node:http';\nexport { x } from './x.mjs';\n";
    assert_eq!(relative_imports(js), ["./a.mjs", "../b/c.mjs", "./x.mjs"]);

    let mut looped = BTreeMap::new();
    looped.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    looped.insert("b".to_owned(), BTreeSet::from(["c".to_owned()]));
    looped.insert("c".to_owned(), BTreeSet::from(["a".to_owned()]));
    looped.insert("d".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert_eq!(circles(&looped), [vec!["a", "b", "c"]]);
}
