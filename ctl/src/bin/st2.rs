//! The `st2` binary: the same client, for StackStorm's CLI spelling (`st2 action list`).

fn main() -> std::process::ExitCode {
    st2ctl::main_with_name("st2")
}
