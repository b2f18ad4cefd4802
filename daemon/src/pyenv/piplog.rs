//! What a failed pip run was about, read from its output as it streams: the requirement that
//! failed and the one line that says why (a compiler's error, a build backend's exception,
//! pip's own `ERROR:`), so an execution's error explains itself (`lxml==4.2.1`:
//! `src/lxml/etree.c:96:10: fatal error: libxml/xmlversion.h: No such file or directory`).
//!
//! Owns: reading pip's wording (pip 20 to 24: the boxed "[N lines of output]" of pip 22+ and
//! the older "Complete output (N lines):"). Must not: run pip or decide what a failure does
//! (`packmgmt::venv` and `base` do).

use std::collections::VecDeque;
use std::fmt;
use std::sync::OnceLock;

use regex::Regex;

/// Lines kept: the end of a build's output and pip's summary after it.
const KEPT_LINES: usize = 400;

/// pip's own lines that say only that something failed, never what.
const GENERIC: &[&str] = &[
    "error: subprocess-exited-with-error",
    "error: metadata-generation-failed",
    "error: legacy-install-failure",
    "ERROR: Failed building wheel for",
    "ERROR: Could not build wheels for",
    "ERROR: Command errored out",
    "ERROR: Failed to build",
];

/// pip's output, fed line by line (both streams, in order).
#[derive(Debug, Default)]
pub struct PipLog {
    /// The requirement pip collected or processed last.
    current: Option<String>,
    /// The requirement the first failure line named.
    failed: Option<String>,
    recent: VecDeque<String>,
}

/// The requirement that failed and why, as far as pip's output tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub requirement: Option<String>,
    pub reason: String,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.requirement {
            Some(requirement) => write!(f, "requirement \"{requirement}\": {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

impl PipLog {
    pub fn feed(&mut self, line: &str) {
        let text = line.trim();
        let named = |prefix: &str| text.strip_prefix(prefix).map(requirement_text);
        // pip's own lines; a build's output is indented further (and may say "Processing").
        let pips_own = line.len() - line.trim_start().len() < 4;
        if let Some(requirement) = named("Collecting ").or_else(|| named("Processing ")).filter(|_| pips_own) {
            self.current = Some(requirement);
        }
        let failed = named("ERROR: Failed building wheel for ")
            .or_else(|| named("ERROR: No matching distribution found for "))
            .or_else(|| named("ERROR: Could not find a version that satisfies the requirement "))
            .or_else(|| {
                let errored = text.ends_with("error") || text.ends_with("status 'error'");
                let name = named("Building wheel for ").or_else(|| named("Running setup.py install for "));
                name.filter(|_| errored).map(|n| first_word(&n))
            })
            .or_else(|| named("ERROR: Could not build wheels for ").map(|n| first_word(&n)))
            .or_else(|| {
                let metadata = text == "× Encountered error while generating package metadata."
                    || text == "error: metadata-generation-failed"
                    || (text.starts_with("Preparing metadata") && text.ends_with("status 'error'"));
                if metadata { self.current.clone() } else { None }
            });
        if self.failed.is_none() {
            self.failed = failed.filter(|f| !f.is_empty());
        }
        if self.recent.len() == KEPT_LINES {
            self.recent.pop_front();
        }
        self.recent.push_back(line.trim_end().to_string());
    }

    /// Whether pip said it could not reach the package index (no network, no name resolution,
    /// a refused connection).
    pub fn index_unreachable(&self) -> bool {
        self.recent.iter().any(|line| {
            line.contains("Failed to establish a new connection")
                || line.contains("Temporary failure in name resolution")
                || line.contains("Network is unreachable")
                || line.contains("Connection refused")
        })
    }

    /// The failing requirement and the most telling line, if the output has one.
    pub fn explain(&self) -> Option<Explanation> {
        let lines: Vec<&str> = self.recent.iter().map(String::as_str).collect();
        let output = build_output(&lines);
        let reason = output.and_then(telling_line).or_else(|| pip_error(&lines))?;
        // A build's output without a failure line naming it is the requirement in progress.
        let requirement = self.failed.clone().or_else(|| output.and(self.current.clone()));
        Some(Explanation { requirement, reason })
    }
}

/// `lxml==4.2.1 (from -r requirements.txt (line 1))` → `lxml==4.2.1`.
fn requirement_text(rest: &str) -> String {
    rest.split(" (from ").next().unwrap_or(rest).trim().to_string()
}

/// `lxml, which is required...`, `lxml (pyproject.toml) ... error` or `lxml: finished...`
/// → `lxml`.
fn first_word(text: &str) -> String {
    text.split([' ', ',', ':']).next().unwrap_or(text).to_string()
}

/// The last build's own output, as pip frames it.
fn build_output<'a>(lines: &'a [&'a str]) -> Option<&'a [&'a str]> {
    let is_rule = |t: &str| t.len() >= 20 && t.bytes().all(|b| b == b'-');
    let end = lines.iter().rposition(|l| {
        let t = l.trim();
        t == "[end of output]" || is_rule(t)
    })?;
    let start = lines[..end]
        .iter()
        .rposition(|l| l.contains("lines of output]") || l.trim().starts_with("Complete output ("))
        .map_or(0, |i| i + 1);
    Some(&lines[start..end])
}

fn compiler_diagnostic() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| {
        Regex::new(r"^\S+?:\d+(:\d+)?: (fatal error|error): \S").expect("the diagnostic pattern is a valid regex")
    })
}

fn exception() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| {
        Regex::new(r"^([A-Za-z_][\w.]*)?(Error|Exception): \S").expect("the exception pattern is a valid regex")
    })
}

/// Within a build's output: the last compiler error, else the last exception, else the last
/// `error:` line, else the last line that is not decoration.
fn telling_line(output: &[&str]) -> Option<String> {
    let lines: Vec<&str> = output.iter().map(|l| l.trim()).filter(|l| !l.is_empty()).collect();
    let last = |keep: &dyn Fn(&str) -> bool| lines.iter().rev().find(|l| keep(l)).map(|l| l.to_string());
    last(&|l| compiler_diagnostic().is_match(l))
        .or_else(|| last(&|l| exception().is_match(l)))
        .or_else(|| last(&|l| l.to_ascii_lowercase().starts_with("error:") && !is_generic(l)))
        .or_else(|| last(&|l| !is_decoration(l)))
}

/// pip's own last `ERROR:` (or `error:`) line that says something, without its prefix.
fn pip_error(lines: &[&str]) -> Option<String> {
    let said = |prefix: &str| {
        lines
            .iter()
            .map(|l| l.trim())
            .rev()
            .find(|l| l.starts_with(prefix) && !is_generic(l))
            .map(|l| l[prefix.len()..].trim().to_string())
    };
    said("ERROR: ").or_else(|| said("error: "))
}

fn is_generic(line: &str) -> bool {
    GENERIC.iter().any(|g| line.starts_with(g))
}

/// Source excerpts (`96 | #include ...`, `| ^~~~`), banners and gcc's closing remark.
fn is_decoration(line: &str) -> bool {
    let before_bar = line.split('|').next().unwrap_or(line);
    (line.contains('|') && before_bar.trim().bytes().all(|b| b.is_ascii_digit()))
        || line.bytes().all(|b| matches!(b, b'*' | b'-' | b'=' | b'^' | b'~' | b' '))
        || line == "compilation terminated."
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explain(output: &str) -> Option<Explanation> {
        let mut log = PipLog::default();
        output.lines().for_each(|line| log.feed(line));
        log.explain()
    }

    /// pip 23 building a local project whose compile fails (the shape of an old lxml pin on a
    /// host without libxml2-dev).
    const WHEEL_BUILD: &str = "\
Processing /src/lxmlish
  Preparing metadata (pyproject.toml): finished with status 'done'
Building wheels for collected packages: lxmlish
  Building wheel for lxmlish (pyproject.toml): started
  Building wheel for lxmlish (pyproject.toml): finished with status 'error'
  error: subprocess-exited-with-error

  × Building wheel for lxmlish (pyproject.toml) did not run successfully.
  │ exit code: 1
  ╰─> [7 lines of output]
      Building lxml version 4.2.1.
      gcc -pthread -fPIC -I/usr/include/libxml2 -c src/lxml/etree.c -o build/etree.o
      src/lxml/etree.c:96:10: fatal error: libxml/xmlversion.h: No such file or directory
         96 | #include \"libxml/xmlversion.h\"
            |          ^~~~~~~~~~~~~~~~~~~~~
      compilation terminated.
      error: command '/usr/bin/gcc' failed with exit code 1
      [end of output]

  note: This error originates from a subprocess, and is likely not a problem with pip.
  ERROR: Failed building wheel for lxmlish
Failed to build lxmlish
ERROR: Could not build wheels for lxmlish, which is required to install pyproject.toml-based projects
";

    /// Real lxml 4.2 on a host without libxml2: its own checks print errors, then the last
    /// compile (a probe) fails.
    const LXML_SETUP_PY: &str = "\
Collecting lxml==4.2.1 (from -r requirements.txt (line 1))
  Downloading lxml-4.2.1.tar.gz (4.2 MB)
  Preparing metadata (setup.py): finished with status 'done'
Collecting requests (from -r requirements.txt (line 2))
  Using cached requests-2.31.0-py3-none-any.whl (62 kB)
Building wheels for collected packages: lxml
  Building wheel for lxml (setup.py): finished with status 'error'
  error: subprocess-exited-with-error

  × python setup.py bdist_wheel did not run successfully.
  │ exit code: 1
  ╰─> [40 lines of output]
      Building lxml version 4.2.1.
      ERROR: b'/bin/sh: 1: xslt-config: not found\\n'
      ** make sure the development packages of libxml2 and libxslt are installed **
      running bdist_wheel
      x86_64-linux-gnu-gcc -pthread -c src/lxml/etree.c -o build/temp.linux-x86_64-3.11/src/lxml/etree.o -w
      In file included from src/lxml/etree.c:96:
      src/lxml/includes/etree_defs.h:14:10: fatal error: libxml/xmlversion.h: No such file or directory
         14 | #include \"libxml/xmlversion.h\"
            |          ^~~~~~~~~~~~~~~~~~~~~
      compilation terminated.
      Compile failed: command '/usr/bin/x86_64-linux-gnu-gcc' failed with exit code 1
      cc -I/usr/include/libxml2 -c /tmp/xmlXPathInitwrc8i1ju.c -o tmp/xmlXPathInitwrc8i1ju.o
      /tmp/xmlXPathInitwrc8i1ju.c:1:10: fatal error: libxml/xmlversion.h: No such file or directory
          1 | #include \"libxml/xmlversion.h\"
            |          ^~~~~~~~~~~~~~~~~~~~~
      compilation terminated.
      *********************************************************************************
      Could not find function xmlCheckVersion in library libxml2. Is libxml2 installed?
      *********************************************************************************
      error: command '/usr/bin/x86_64-linux-gnu-gcc' failed with exit code 1
      [end of output]

  note: This error originates from a subprocess, and is likely not a problem with pip.
  ERROR: Failed building wheel for lxml
  Running setup.py clean for lxml
Failed to build lxml
ERROR: Could not build wheels for lxml, which is required to install pyproject.toml-based projects
";

    /// pip 20: `Complete output`, dashes, and `setup.py install` failing.
    const OLD_PIP: &str = "\
Collecting pycrypto==2.6.1
  Downloading pycrypto-2.6.1.tar.gz (446 kB)
Installing collected packages: pycrypto
    Running setup.py install for pycrypto: started
    Running setup.py install for pycrypto: finished with status 'error'
    ERROR: Command errored out with exit status 1:
     command: /venv/bin/python -u -c 'import sys, setuptools' install
         cwd: /tmp/pip-install-x/pycrypto/
    Complete output (12 lines):
    running install
    checking whether we are cross compiling... no
    src/_fastmath.c:36:11: fatal error: gmp.h: No such file or directory
       36 | # include <gmp.h>
          |           ^~~~~~~
    compilation terminated.
    error: command 'x86_64-linux-gnu-gcc' failed with exit status 1
    ----------------------------------------
ERROR: Command errored out with exit status 1: /venv/bin/python -u -c 'import sys' install Check the logs for full command output.
";

    /// A build dependency the backend imports is missing: its metadata step fails.
    const METADATA: &str = "\
Collecting pyyaml==5.4.1
  Using cached PyYAML-5.4.1.tar.gz (175 kB)
  Installing build dependencies: finished with status 'done'
  Getting requirements to build wheel: finished with status 'error'
  error: subprocess-exited-with-error

  × Getting requirements to build wheel did not run successfully.
  │ exit code: 1
  ╰─> [3 lines of output]
      Traceback (most recent call last):
        File \"setup.py\", line 3, in <module>
      ModuleNotFoundError: No module named 'Cython'
      [end of output]

  note: This error originates from a subprocess, and is likely not a problem with pip.
error: subprocess-exited-with-error
";

    const RUST: &str = "\
Collecting cryptography==3.4
  Preparing metadata (pyproject.toml): finished with status 'error'
  error: subprocess-exited-with-error

  × Preparing metadata (pyproject.toml) did not run successfully.
  ╰─> [4 lines of output]
      running dist_info
      =============================DEBUG ASSISTANCE=============================
      error: can't find Rust compiler
      [end of output]

error: metadata-generation-failed

× Encountered error while generating package metadata.
╰─> See above for output.
";

    const NOT_FOUND: &str = "\
Looking in links: /opt/wheels
ERROR: Could not find a version that satisfies the requirement lxml==4.2.1 (from versions: none)
ERROR: No matching distribution found for lxml==4.2.1
";

    const MISSING_FILE: &str = "\
Processing /nonexistent/st2d_missing-1.0-py3-none-any.whl (from -r requirements.txt (line 1))
WARNING: Requirement '/nonexistent/st2d_missing-1.0-py3-none-any.whl' looks like a filename, but the file does not exist
ERROR: Could not install packages due to an OSError: [Errno 2] No such file or directory: '/nonexistent/st2d_missing-1.0-py3-none-any.whl'
";

    #[test]
    fn the_failing_requirement_and_its_telling_line_are_found() {
        let cases: &[(&str, &str, Option<&str>, &str)] = &[
            (
                "a compile fails in a pyproject build",
                WHEEL_BUILD,
                Some("lxmlish"),
                "src/lxml/etree.c:96:10: fatal error: libxml/xmlversion.h: No such file or directory",
            ),
            (
                "lxml's setup.py: the last compiler error, not its banners",
                LXML_SETUP_PY,
                Some("lxml"),
                "/tmp/xmlXPathInitwrc8i1ju.c:1:10: fatal error: libxml/xmlversion.h: No such file or directory",
            ),
            (
                "pip 20's setup.py install",
                OLD_PIP,
                Some("pycrypto"),
                "src/_fastmath.c:36:11: fatal error: gmp.h: No such file or directory",
            ),
            ("a backend's exception", METADATA, Some("pyyaml==5.4.1"), "ModuleNotFoundError: No module named 'Cython'"),
            ("a backend's error line", RUST, Some("cryptography==3.4"), "error: can't find Rust compiler"),
            ("no such version", NOT_FOUND, Some("lxml==4.2.1"), "No matching distribution found for lxml==4.2.1"),
            (
                "a missing file",
                MISSING_FILE,
                None,
                "Could not install packages due to an OSError: [Errno 2] No such file or directory: '/nonexistent/st2d_missing-1.0-py3-none-any.whl'",
            ),
        ];
        for (what, output, requirement, reason) in cases {
            let found = explain(output).unwrap_or_else(|| panic!("{what}: nothing explained"));
            assert_eq!(found.requirement.as_deref(), *requirement, "{what}");
            assert_eq!(found.reason, *reason, "{what}");
        }
    }

    #[test]
    fn output_without_an_error_explains_nothing() {
        assert_eq!(explain("Collecting six\nInstalling collected packages: six\nKilled\n"), None);
        assert_eq!(explain(""), None);
    }

    #[test]
    fn the_explanation_reads_as_one_clause() {
        let found = explain(WHEEL_BUILD).expect("explained");
        assert_eq!(
            found.to_string(),
            "requirement \"lxmlish\": src/lxml/etree.c:96:10: fatal error: libxml/xmlversion.h: No such file or directory"
        );
    }

    #[test]
    fn only_the_last_lines_are_kept() {
        let mut log = PipLog::default();
        for i in 0..(KEPT_LINES * 3) {
            log.feed(&format!("line {i}"));
        }
        assert_eq!(log.recent.len(), KEPT_LINES);
        log.feed("ERROR: out of disk");
        assert_eq!(log.explain().map(|e| e.reason).as_deref(), Some("out of disk"));
    }
}
