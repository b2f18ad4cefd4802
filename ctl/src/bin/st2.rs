//! The `st2` binary: the same client, for StackStorm's CLI spelling (`st2 action list`). Must
//! not hold logic: all of it is in the library.

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    st2ctl::run("st2").await
}
