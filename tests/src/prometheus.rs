//! st2d's `/metrics` page (the Prometheus text format) read as samples, for the tests and
//! benchmarks that check the daemon's own counts.
//!
//! Owns: reading the page's sample lines. Must not: fetch the page where a real client is the
//! point (the end-to-end tests fetch it with curl; the benchmarks with `http1`).

use std::collections::HashMap;

use tokio::net::TcpStream;

use crate::http1;

/// Each sample of a page (`name{labels}` as written) with its value.
pub type Samples = HashMap<String, f64>;

/// The samples of a page; comments and blank lines are skipped.
pub fn parse(page: &str) -> Samples {
    page.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (name, value) = line.rsplit_once(' ').expect("a sample is `name value`");
            (name.to_string(), value.parse().unwrap_or_else(|_| panic!("a number in {line:?}")))
        })
        .collect()
}

/// The value of one sample; the page must have it.
pub fn sample(samples: &Samples, name: &str) -> f64 {
    *samples.get(name).unwrap_or_else(|| panic!("{name} is not on the metrics page: {samples:#?}"))
}

/// `GET /metrics` on a keep-alive connection (`http1::connect`) to an ingress without
/// credentials; the page must answer 200.
pub async fn scrape(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Samples {
    let (status, page) = http1::exchange(stream, &http1::get("/metrics"), buffer).await;
    let page = String::from_utf8_lossy(&page);
    assert_eq!(status, 200, "the metrics page: {page}");
    parse(&page)
}
