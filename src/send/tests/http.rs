//! The real [`HttpTransport`] against a raw TCP server on `127.0.0.1:0`: the headers it
//! writes, what it reads back, and how each way of failing is told apart — the
//! classification the exactly-once rules depend on.

use super::*;
use crate::send::transport::{BODY_LIMIT, HttpTransport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the server does once it has read the request.
enum Then {
    Answer(Vec<u8>),
    Drop,
    Stall,
}

/// Serves one connection; resolves to the request text it read.
async fn serve_once(then: Then) -> (String, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let endpoint = format!("http://{}/v1.0", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut buffer = vec![0; 64 * 1024];
        let read = socket.read(&mut buffer).await.expect("read");
        match then {
            Then::Answer(bytes) => socket.write_all(&bytes).await.expect("write"),
            Then::Drop => drop(socket),
            Then::Stall => tokio::time::sleep(Duration::from_secs(5)).await,
        }
        String::from_utf8_lossy(&buffer[..read]).into_owned()
    });
    (endpoint, server)
}

fn transport(endpoint: &str) -> HttpTransport {
    let options = SendOptions {
        endpoint: endpoint.into(),
        timeout: Duration::from_millis(400),
        ..options()
    };
    HttpTransport::new(&options).expect("client")
}

fn patch(endpoint: &str) -> Request {
    Request {
        method: Method::Patch,
        url: reqwest::Url::parse(&format!("{endpoint}/engagements/referrals/r1")).expect("a URL"),
        token: Secret::new("tok"),
        correlation_id: uuid::Uuid::from_u128(1),
        request_id: uuid::Uuid::from_u128(2),
        if_match: Some("\"e1\"".into()),
        prefer_representation: false,
        body: Some(b"[]".to_vec()),
    }
}

fn get(endpoint: &str) -> Request {
    Request {
        method: Method::Get,
        body: None,
        ..patch(endpoint)
    }
}

#[tokio::test]
async fn the_request_carries_every_header_and_the_answer_is_read() {
    let answer = b"HTTP/1.1 429 Too Many Requests\r\nETag: \"e2\"\r\nRetry-After: 3\r\nContent-Length: 2\r\n\r\n{}";
    let (endpoint, server) = serve_once(Then::Answer(answer.to_vec())).await;
    let response = transport(&endpoint)
        .send(patch(&endpoint))
        .await
        .expect("answer");
    assert_eq!(response.status, 429);
    assert_eq!(response.etag.as_deref(), Some("\"e2\""));
    assert_eq!(response.retry_after.as_deref(), Some("3"));
    assert_eq!(response.body, b"{}");
    let request = server.await.expect("server").to_ascii_lowercase();
    assert!(request.starts_with("patch /v1.0/engagements/referrals/r1 http/1.1"));
    for header in [
        "authorization: bearer tok",
        "content-type: application/json",
        "accept: application/json",
        "if-match: \"e1\"",
        "ms-correlationid: 00000000-0000-0000-0000-000000000001",
        "ms-requestid: 00000000-0000-0000-0000-000000000002",
    ] {
        assert!(request.contains(header), "{header} missing from {request}");
    }
}

#[tokio::test]
async fn a_body_beyond_the_limit_is_cut_at_the_limit() {
    let size = BODY_LIMIT + 4096;
    let mut answer =
        format!("HTTP/1.1 400 Bad Request\r\nContent-Length: {size}\r\n\r\n").into_bytes();
    answer.extend(std::iter::repeat_n(b'x', size));
    let (endpoint, _server) = serve_once(Then::Answer(answer)).await;
    let response = transport(&endpoint)
        .send(patch(&endpoint))
        .await
        .expect("answer");
    assert_eq!(response.body.len(), BODY_LIMIT);
}

#[tokio::test]
async fn a_referral_read_cut_short_is_lost_but_a_patch_answer_keeps_its_status() {
    let cut = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"id\":".to_vec();
    let (endpoint, _server) = serve_once(Then::Answer(cut.clone())).await;
    let error = transport(&endpoint)
        .send(get(&endpoint))
        .await
        .expect_err("cut short");
    assert!(matches!(error, TransportError::Lost(_)), "{error:?}");
    // Without a length, only the JSON shows it was cut.
    let closed = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"id\":\"r1\",".to_vec();
    let (endpoint, _server) = serve_once(Then::Answer(closed)).await;
    let error = transport(&endpoint)
        .send(get(&endpoint))
        .await
        .expect_err("cut short");
    assert!(matches!(error, TransportError::Lost(_)), "{error:?}");
    // A PATCH's 2xx says it applied, whatever became of the body.
    let (endpoint, _server) = serve_once(Then::Answer(cut)).await;
    let response = transport(&endpoint)
        .send(patch(&endpoint))
        .await
        .expect("answer");
    assert_eq!(
        (response.status, response.body),
        (200, b"{\"id\":".to_vec())
    );
}

#[tokio::test]
async fn a_connection_dropped_after_sending_is_lost() {
    let (endpoint, _server) = serve_once(Then::Drop).await;
    let error = transport(&endpoint)
        .send(patch(&endpoint))
        .await
        .expect_err("no answer");
    assert!(matches!(error, TransportError::Lost(_)), "{error:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_timeout() {
    let (endpoint, _server) = serve_once(Then::Stall).await;
    let error = transport(&endpoint)
        .send(patch(&endpoint))
        .await
        .expect_err("no answer");
    assert_eq!(error, TransportError::Timeout);
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let endpoint = format!("http://{}/v1.0", listener.local_addr().expect("addr"));
    drop(listener);
    let error = transport(&endpoint)
        .send(patch(&endpoint))
        .await
        .expect_err("no answer");
    assert!(matches!(error, TransportError::Connect(_)), "{error:?}");
}
