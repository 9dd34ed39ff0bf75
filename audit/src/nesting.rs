//! A bound on how deep a file's syntax tree can nest, found without parsing.
//!
//! Parsing with `syn`, visiting the tree and dropping it all recurse once per
//! level of the tree, and a stack overflow aborts the whole process: one
//! machine-made file could stop the scan of every other file. So each file is
//! first read token by token (strings, chars and comments skipped, so that a
//! bracket inside them counts for nothing) and refused when the tree it would
//! make could be deeper than [`MAX_NESTING`].
//!
//! The bound: every open bracket is one level; between two separators (`;`,
//! `,`, `=>`) at the same bracket level, every operator character (`!`, `&`,
//! `*`, `-`, `.`, `<`, `?`, `|`, ...) and every keyword that starts or chains
//! an expression (`else`, `as`, `return`, `break`, ...) may be one more level:
//! a chain of unary operators, a method chain, an `else if` chain, a binary
//! operator chain and nested generics all count. It over-counts (a path's
//! `::` aside, it never under-counts), which only matters for files far past
//! anything written by hand.

/// Deepest nesting parsed. Parsing, visiting and dropping a tree this deep
/// fits the scan threads' stacks (see `STACK_SIZE` in lib.rs) with room to
/// spare, in debug builds too.
pub const MAX_NESTING: usize = 1024;

/// Where the bound was first exceeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooDeep {
    /// 1-based line of the token that went past the bound.
    pub line: usize,
    /// 1-based column (in chars) of that token.
    pub column: usize,
    /// Whether brackets alone went past it (else an operator chain did).
    pub brackets: bool,
}

/// One open bracket level: the weight of its current segment.
#[derive(Default)]
struct Level {
    segment: usize,
    /// A `}` just closed inside this level: the next token decides whether
    /// the segment goes on (`else`, `.`, `?`, an operator) or a new
    /// statement or item starts (anything else).
    after_brace: bool,
}

struct Counter {
    levels: Vec<Level>,
    /// Sum of all segments plus the number of open brackets.
    total: usize,
    line: usize,
    line_start: usize,
}

impl Counter {
    fn top(&mut self) -> &mut Level {
        // The file itself is the bottom level, never popped.
        let last = self.levels.len() - 1;
        &mut self.levels[last]
    }

    /// Ends the current segment of the innermost level.
    fn separate(&mut self) {
        let level = self.top();
        let weight = std::mem::take(&mut level.segment);
        level.after_brace = false;
        self.total -= weight;
    }

    /// A token that does not continue an expression after a `}`.
    fn plain(&mut self) {
        if self.top().after_brace {
            self.separate();
        }
    }

    fn weigh(&mut self, weight: usize) {
        let level = self.top();
        level.after_brace = false;
        level.segment += weight;
        self.total += weight;
    }
}

/// The first point where `text` would nest deeper than [`MAX_NESTING`].
pub fn too_deep(text: &str) -> Option<TooDeep> {
    too_deep_with(text, MAX_NESTING)
}

fn too_deep_with(text: &str, max: usize) -> Option<TooDeep> {
    let b = text.as_bytes();
    let mut c = Counter {
        levels: vec![Level::default()],
        total: 0,
        line: 1,
        line_start: 0,
    };
    let mut i = 0;
    while i < b.len() {
        let start = i;
        let ch = b[i];
        match ch {
            b'\n' => {
                c.line += 1;
                c.line_start = i + 1;
                i += 1;
                continue;
            }
            _ if ch.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(b, i, &mut c);
                continue;
            }
            b'"' => {
                c.plain();
                i = skip_string(b, i + 1, &mut c);
                continue;
            }
            b'\'' => {
                c.plain();
                i = skip_quote(b, i);
                continue;
            }
            b'(' | b'[' | b'{' => {
                if ch != b'{' {
                    c.plain();
                }
                c.top().after_brace = false;
                c.levels.push(Level::default());
                c.total += 1;
            }
            b')' | b']' | b'}' => {
                if c.levels.len() > 1 {
                    let level = c.levels.pop().unwrap_or_default();
                    c.total -= level.segment + 1;
                    if ch == b'}' {
                        c.top().after_brace = true;
                    }
                }
                i += 1;
                continue;
            }
            b';' | b',' => c.separate(),
            b'=' if b.get(i + 1) == Some(&b'>') => {
                c.separate();
                i += 2;
                continue;
            }
            b':' if b.get(i + 1) == Some(&b':') => {
                i += 2;
                continue;
            }
            b'>' | b'#' => {}
            _ if ch.is_ascii_digit() => {
                c.plain();
                i = skip_number(b, i);
                continue;
            }
            _ if is_ident_byte(ch) => {
                let end = ident_end(b, i);
                let word = &text[i..end];
                i = match (word, b.get(end)) {
                    ("r" | "br" | "cr", Some(b'"' | b'#')) if raw_string_at(b, end) => {
                        c.plain();
                        skip_raw_string(b, end, &mut c)
                    }
                    ("b" | "c", Some(b'"')) => {
                        c.plain();
                        skip_string(b, end + 1, &mut c)
                    }
                    ("b", Some(b'\'')) => {
                        c.plain();
                        skip_quote(b, end)
                    }
                    ("r", Some(b'#')) => {
                        // A raw identifier: `r#type`.
                        c.plain();
                        ident_end(b, end + 1)
                    }
                    _ => {
                        match word {
                            "else" | "as" | "return" | "break" | "yield" | "move" | "box"
                            | "become" => c.weigh(1),
                            _ => c.plain(),
                        }
                        end
                    }
                };
                if c.total > max {
                    return Some(c.report(start, text, false));
                }
                continue;
            }
            _ => c.weigh(1),
        }
        i += 1;
        if c.total > max {
            let brackets = (c.levels.len() - 1) * 2 > c.total;
            return Some(c.report(start, text, brackets));
        }
    }
    None
}

impl Counter {
    fn report(&self, at: usize, text: &str, brackets: bool) -> TooDeep {
        let column = text
            .get(self.line_start..at)
            .map_or(1, |s| s.chars().count() + 1);
        TooDeep {
            line: self.line,
            column,
            brackets,
        }
    }

    fn newline(&mut self, at: usize) {
        self.line += 1;
        self.line_start = at + 1;
    }
}

fn is_ident_byte(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphanumeric() || b >= 0x80
}

fn ident_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_ident_byte(b[i]) {
        i += 1;
    }
    i
}

/// `/* .. */`, nested; returns the index after it.
fn skip_block_comment(b: &[u8], mut i: usize, c: &mut Counter) -> usize {
    let mut depth = 0usize;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            if b[i] == b'\n' {
                c.newline(i);
            }
            i += 1;
        }
    }
    i
}

/// The body of a `"..."` string from `i` (after the quote).
fn skip_string(b: &[u8], mut i: usize, c: &mut Counter) -> usize {
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            b'\n' => {
                c.newline(i);
                i += 1;
            }
            _ => i += 1,
        }
    }
    i
}

/// Whether `#`s then `"` start at `i` (a raw string after its `r`).
fn raw_string_at(b: &[u8], i: usize) -> bool {
    let mut j = i;
    while b.get(j) == Some(&b'#') {
        j += 1;
    }
    b.get(j) == Some(&b'"')
}

/// A raw string from its `#`s or quote at `i`.
fn skip_raw_string(b: &[u8], mut i: usize, c: &mut Counter) -> usize {
    let mut hashes = 0;
    while b.get(i) == Some(&b'#') {
        hashes += 1;
        i += 1;
    }
    i += 1; // the opening quote
    while i < b.len() {
        if b[i] == b'"' && (1..=hashes).all(|k| b.get(i + k) == Some(&b'#')) {
            return i + 1 + hashes;
        }
        if b[i] == b'\n' {
            c.newline(i);
        }
        i += 1;
    }
    i
}

/// A char literal or a lifetime, from the quote at `i`.
fn skip_quote(b: &[u8], i: usize) -> usize {
    let next = i + 1;
    match b.get(next) {
        Some(b'\\') => {
            // An escape: up to the closing quote on this line.
            let mut j = next + 2;
            while j < b.len() && b[j] != b'\'' && b[j] != b'\n' {
                j += 1;
            }
            j + 1
        }
        Some(&first) => {
            let len = utf8_len(first);
            if b.get(next + len) == Some(&b'\'') {
                next + len + 1
            } else {
                // A lifetime or label: `'a`, `'static`.
                ident_end(b, next)
            }
        }
        None => next,
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

/// A number literal: digits, suffixes, and a `.` followed by a digit.
fn skip_number(b: &[u8], mut i: usize) -> usize {
    while i < b.len() {
        let ch = b[i];
        if is_ident_byte(ch) {
            i += 1;
        } else if ch == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            i += 2;
        } else {
            break;
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_ok(text: &str, max: usize) -> bool {
        too_deep_with(text, max).is_none()
    }

    #[test]
    fn brackets_and_chains_count() {
        assert!(depth_ok("fn f() { ((((1)))) }", 6));
        assert!(!depth_ok("fn f() { ((((((((1)))))))) }", 6));
        let unary = format!("fn f() {{ let x = {}y; }}", "!".repeat(20));
        assert!(!depth_ok(&unary, 10));
        let refs = format!("fn f() {{ let x = {}y; }}", "&&".repeat(10));
        assert!(!depth_ok(&refs, 10));
        let generics = format!("type T = {}u8{};", "Vec<".repeat(20), ">".repeat(20));
        assert!(!depth_ok(&generics, 10));
        let chain = format!("fn f() {{ x{}; }}", ".a()".repeat(20));
        assert!(!depth_ok(&chain, 10));
        let mut else_if = String::from("fn f() { if a {} ");
        for _ in 0..20 {
            else_if.push_str("else if a {} ");
        }
        else_if.push('}');
        assert!(!depth_ok(&else_if, 10));
    }

    #[test]
    fn separators_and_statements_end_a_segment() {
        let stmts = "fn f() { !a; !b; !c; !d; !e; !f; !g; }\n".repeat(50);
        assert!(depth_ok(&stmts, 6));
        let args = format!("fn f() {{ g({}); }}", "!a, ".repeat(100));
        assert!(depth_ok(&args, 6));
        let items = "fn f() -> u8 { 1 }\n".repeat(100);
        assert!(depth_ok(&items, 6));
        let arms = format!("fn f() {{ match x {{ {} }} }}", "A => {}\n".repeat(100));
        assert!(depth_ok(&arms, 6));
    }

    #[test]
    fn strings_chars_and_comments_hold_nothing() {
        let text = format!(
            "// {0}\n/* {0} /* nested */ {0} */\nconst S: &str = \"{0}\\\"{0}\";\n\
             const R: &str = r#\"{0}\"{0}\"#;\nconst B: &[u8] = b\"{0}\";\n\
             const C: char = '(';\nconst D: char = '\\'';\nfn f<'a>(x: &'a u8) {{}}\n",
            "((((!!!!&&&&<<<<".repeat(100)
        );
        assert!(depth_ok(&text, 8), "{:?}", too_deep_with(&text, 8));
    }

    #[test]
    fn reports_the_line_and_column() {
        let text = format!("fn f() {{\n    let x = {}y;\n}}\n", "!".repeat(30));
        let at = too_deep_with(&text, 10).unwrap();
        assert_eq!((at.line, at.brackets), (2, false));
        assert!(at.column > 13, "{at:?}");
    }
}
