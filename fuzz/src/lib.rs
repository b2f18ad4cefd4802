//! st2d-fuzz: fuzzing of st2d's parsers and evaluators on the stable toolchain. Each target
//! feeds one parser (the pack loader, YAML, Jinja, YAQL, criteria, Orquesta, action-chain,
//! webhook bodies, gRPC requests) inputs made from the project's own fixtures and mutated with
//! the parser's grammar in mind; the engine catches panics, hangs and runaway allocation and
//! saves each distinct failure.
//!
//! Owns: the harness (`engine`), mutation (`mutate`, `rng`), seeds (`seeds`) and targets
//! (`targets`). Must not: be linked by the daemon, or change what a parser accepts (a failure
//! is fixed in the parser, with a regression test beside it).

pub mod engine;
pub mod mutate;
pub mod rng;
pub mod seeds;
pub mod targets;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::engine::{NoMeter, Options, run};
    use super::targets::TARGETS;

    /// Every target's harness runs a fixed number of inputs with a fixed seed and finds
    /// nothing: the seeds and their first mutations pass through every parser. (The run's
    /// speed is not asserted.)
    #[test]
    fn every_target_runs_its_seeds_and_some_mutations_cleanly() {
        let out = tempfile::tempdir().expect("temp dir");
        for target in TARGETS {
            let options = Options {
                seed: 1,
                duration: None,
                inputs: Some(if target.name == "loader" { 20 } else { 40 }),
                out: out.path().to_path_buf(),
                hang: Duration::from_secs(3600),
                abandon: Duration::from_secs(3600),
                alloc_cap: usize::MAX,
                meter: &NoMeter,
                stack: 64 << 20,
            };
            let report = run(target, &options).expect("the harness runs");
            assert!(report.inputs > 0, "{}", target.name);
            assert!(report.failures.is_empty(), "{report}");
        }
    }
}
