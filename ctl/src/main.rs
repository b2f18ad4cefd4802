//! The `st2ctl` binary: st2d's control client. Must not hold logic: all of it is in the library.

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    st2ctl::run("st2ctl").await
}
