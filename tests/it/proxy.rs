//! Proxies from the environment: honoured for the API, never for a loopback endpoint (the
//! emulator), which no proxy could reach.

use crate::fixtures::id;
use crate::support::{self, Workdir, code, read_csv_report, row_of, seeded, stderr};
use refsync::emulator::Faults;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loopback_endpoint_is_reached_without_the_proxy_the_environment_names() {
    let work = Workdir::new();
    let emulator = seeded(&work, 1, Faults::default()).await;
    work.write(
        "u.csv",
        &format!("id,op,path,value\n{},replace,/name,x\n", id(0)),
    );
    let proxy = support::closed_port();
    let base = emulator.base_url();
    let args = ["sync", "u.csv", "--endpoint", &base, "--report", "r.csv"];
    let env = [
        ("PARTNER_CENTER_TOKEN", "t"),
        ("HTTP_PROXY", proxy.as_str()),
        ("http_proxy", proxy.as_str()),
        ("ALL_PROXY", proxy.as_str()),
    ];
    let out = work.refsync_with(&args, &env);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows = read_csv_report(&work.path().join("r.csv"));
    assert_eq!(row_of(&rows, &id(0))["outcome"], "updated");
}

#[test]
fn https_proxy_from_the_environment_carries_requests_to_the_api() {
    let work = Workdir::new();
    work.write(
        "u.csv",
        &format!("id,op,path,value\n{},replace,/name,x\n", id(0)),
    );
    let proxy = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = proxy.local_addr().expect("address");
    let first_line = std::thread::spawn(move || {
        let (stream, _) = proxy.accept().expect("accept");
        let mut line = String::new();
        let _ = BufReader::new(stream).read_line(&mut line);
        line
    });
    let proxy_url = format!("http://{address}");
    let args = [
        "sync",
        "u.csv",
        "--endpoint",
        "https://api.partner.example/v1.0",
        "--max-attempts",
        "1",
        "--report",
        "r.csv",
    ];
    let env = [("PARTNER_CENTER_TOKEN", "t"), ("HTTPS_PROXY", &proxy_url)];
    let out = work.refsync_with(&args, &env);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    // Should refsync never have come, this wakes the listener so the test ends.
    let _ = TcpStream::connect(address);
    let line = first_line.join().expect("proxy thread");
    assert!(
        line.starts_with("CONNECT api.partner.example:443 "),
        "{line:?}"
    );
}
