//! The `st2ctl` binary: st2d's control client.

fn main() -> std::process::ExitCode {
    st2ctl::main_with_name("st2ctl")
}
