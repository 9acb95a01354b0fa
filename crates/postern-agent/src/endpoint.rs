//! The local credentials endpoint, for tools that cannot run `credential_process` (containers,
//! notebooks, SDKs that only read the container endpoint): AWS's container-credentials protocol
//! (`AWS_CONTAINER_CREDENTIALS_FULL_URI` + `AWS_CONTAINER_AUTHORIZATION_TOKEN`) on 127.0.0.1.
//!
//! Each process `postern exec --endpoint` starts gets a random token of its own, valid while the
//! `postern exec` that asked for it runs (its agent connection stays open). A request without a
//! known token gets 403; with one, the credentials while the gate is open and 503 with the
//! session's reason while it is closed. The answer says the credentials expire within
//! [`SERVED_LIFETIME`], so a long-running SDK comes back soon and sees a withdrawal.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use postern_core::Problem;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::orchestrator::Handle;
use postern_ipc::agent_client::AgentClientError;

/// How long ahead an answer says its credentials expire (or their own expiry, if sooner).
/// botocore refreshes within 15 minutes of expiry when it can and must within 10: with 11, a
/// long-running process asks again within a minute, and fails within one after the gate closes.
pub const SERVED_LIFETIME: Duration = Duration::from_secs(11 * 60);

/// Connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 64;
/// A client that has not sent its request head by then is dropped.
const HEADER_DEADLINE: Duration = Duration::from_secs(5);
/// No connection lives longer (an SDK's pooled connection simply reconnects).
const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);

pub const PATH: &str = "/credentials";

#[derive(Clone)]
struct Grant {
    account: String,
    role: String,
}

type Grants = Arc<Mutex<HashMap<String, Grant>>>;

pub(crate) struct Endpoint {
    address: SocketAddr,
    grants: Grants,
    accept: tokio::task::JoinHandle<()>,
}

/// One process's token; revoked when dropped.
pub(crate) struct Lease {
    token: String,
    grants: Grants,
}

impl Lease {
    pub fn token(&self) -> &str {
        &self.token
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Ok(mut grants) = self.grants.lock() {
            grants.remove(&self.token);
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Endpoint {
    /// Listens on a free loopback port.
    pub async fn start(handle: Handle) -> std::io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let address = listener.local_addr()?;
        let grants: Grants = Arc::default();
        let accept = tokio::spawn(accept(listener, handle, grants.clone(), address));
        tracing::info!(%address, "local credentials endpoint started");
        Ok(Self {
            address,
            grants,
            accept,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}{PATH}", self.address)
    }

    pub fn grant(&self, account: String, role: String) -> Lease {
        let token = hex::encode(rand::random::<[u8; 32]>());
        if let Ok(mut grants) = self.grants.lock() {
            grants.insert(token.clone(), Grant { account, role });
        }
        Lease {
            token,
            grants: self.grants.clone(),
        }
    }
}

async fn accept(listener: TcpListener, handle: Handle, grants: Grants, address: SocketAddr) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors, say: wait rather than spin.
                tracing::warn!("local credentials endpoint: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (handle, grants) = (handle.clone(), grants.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let (handle, grants) = (handle.clone(), grants.clone());
                async move {
                    Ok::<_, std::convert::Infallible>(
                        answer(request, &handle, &grants, address).await,
                    )
                }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_DEADLINE)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, connection).await;
            drop(slot);
        });
    }
}

fn reply(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The error shape the SDKs print: a code and a message.
fn refusal(status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    reply(
        status,
        serde_json::json!({"code": code, "message": message}).to_string(),
    )
}

async fn answer(
    request: Request<Incoming>,
    handle: &Handle,
    grants: &Grants,
    address: SocketAddr,
) -> Response<Full<Bytes>> {
    if request.method() != Method::GET {
        return refusal(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "Only GET is served.",
        );
    }
    // A web page that resolves its own name to 127.0.0.1 sends its own Host: refused.
    let host = request.headers().get(HOST).and_then(|h| h.to_str().ok());
    let port = address.port();
    if host != Some(&format!("127.0.0.1:{port}")) && host != Some(&format!("localhost:{port}")) {
        return refusal(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "This endpoint serves only 127.0.0.1.",
        );
    }
    if request.uri().path() != PATH {
        return refusal(
            StatusCode::NOT_FOUND,
            "NotFound",
            "Credentials are served at /credentials.",
        );
    }
    let grant = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|t| t.to_str().ok())
        .and_then(|t| grants.lock().ok()?.get(t).cloned());
    let Some(grant) = grant else {
        return refusal(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "A missing or unknown authorization token: only processes `postern exec --endpoint` started are served.",
        );
    };
    match handle.credentials(grant.account, grant.role).await {
        Some(Ok(c)) => {
            let until = time::OffsetDateTime::now_utc() + SERVED_LIFETIME;
            reply(StatusCode::OK, c.container_json(until))
        }
        Some(Err(e)) => {
            let refused = AgentClientError::Refused(e);
            let message = format!("{refused} {}", refused.next_step());
            refusal(StatusCode::SERVICE_UNAVAILABLE, "GateClosed", &message)
        }
        None => refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "AgentStopping",
            "The Postern agent is stopping.",
        ),
    }
}
