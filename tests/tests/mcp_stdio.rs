//! The reference MCP server over stdio (`m4_mcp_server --stdio`) end to end: rmcp's client
//! spawns the real process; the credentials come from its environment (`M4_OAUTH2_TOKEN`).
#![cfg(test)]

mod cli_common;
mod mcp_support;

use m4_auth_cli::dev_issuer::MintRequest;
use mcp_support::{CALL_TIMEOUT, Client, call, command, env, issuer, mint, text, token};
use rmcp::ServiceExt as _;
use rmcp::model::ClientConfig;
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};

/// rmcp's client on a fresh `m4_mcp_server --stdio` with `env`.
async fn stdio(env: &[(String, String)]) -> Client {
    let child = tokio::process::Command::from(command(env, &["--stdio"]));
    let transport = TokioChildProcess::new(child).expect("spawning m4_mcp_server --stdio");
    tokio::time::timeout(CALL_TIMEOUT, ClientConfig::default().serve(transport))
        .await
        .expect("stdio start-up timed out")
        .expect("stdio start-up")
}

/// `tool`'s text reply and whether it is an error.
async fn reply(client: &Client, tool: &str) -> (String, bool) {
    let arguments = match tool {
        "execute_query" => json!({"sql_query": "SELECT 1"}),
        _ => json!({}),
    };
    text(&call(client, tool, arguments).await.expect(tool))
}

#[tokio::test]
async fn a_token_in_the_environment_authenticates_every_call() {
    let issuer = issuer();
    let token = token(&issuer, "stdio-user", &["read:mimic-data"]);
    let client = stdio(&env(
        &issuer,
        &[("M4_OAUTH2_TOKEN", &format!("Bearer {token}"))],
    ))
    .await;
    let (me, is_error) = reply(&client, "whoami").await;
    assert!(!is_error, "{me}");
    let me: Value = serde_json::from_str(&me).unwrap();
    assert_eq!(me["sub"], "stdio-user");
    assert_eq!(me["scopes"], json!(["read:mimic-data"]));
    let (query, is_error) = reply(&client, "execute_query").await;
    assert!(!is_error && query.contains("stdio-user"), "{query}");
    assert!(!reply(&client, "list_datasets").await.1);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn without_a_token_guarded_tools_answer_the_m4_error_and_list_datasets_stays_public() {
    let issuer = issuer();
    let client = stdio(&env(&issuer, &[])).await;
    for tool in ["whoami", "execute_query"] {
        assert_eq!(
            reply(&client, tool).await,
            ("Error: Missing OAuth2 access token".to_owned(), true),
            "{tool}"
        );
    }
    let (datasets, is_error) = reply(&client, "list_datasets").await;
    assert!(!is_error && datasets.contains("mimic-iv"), "{datasets}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn an_expired_token_and_the_rate_limit_answer_the_seed_messages() {
    let issuer = issuer();
    let expired = mint(
        &issuer,
        &MintRequest {
            ttl: -600,
            ..MintRequest::default()
        },
    );
    let client = stdio(&env(&issuer, &[("M4_OAUTH2_TOKEN", &expired)])).await;
    assert_eq!(
        reply(&client, "whoami").await,
        ("Error: Token has expired".to_owned(), true)
    );
    client.cancel().await.unwrap();

    let token = token(&issuer, "busy", &["read:mimic-data"]);
    let limited = env(
        &issuer,
        &[
            ("M4_OAUTH2_TOKEN", &token),
            ("M4_OAUTH2_RATE_LIMIT_REQUESTS", "2"),
        ],
    );
    let client = stdio(&limited).await;
    assert!(
        !reply(&client, "list_datasets").await.1,
        "public: not charged"
    );
    assert!(!reply(&client, "whoami").await.1);
    assert!(!reply(&client, "execute_query").await.1);
    let (limited, is_error) = reply(&client, "whoami").await;
    assert!(is_error, "{limited}");
    assert!(
        limited.starts_with("Error: Rate limit exceeded"),
        "{limited}"
    );
    assert!(!reply(&client, "list_datasets").await.1);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn oauth2_disabled_answers_anonymous() {
    let client = stdio(&[]).await;
    let (me, is_error) = reply(&client, "whoami").await;
    assert!(!is_error, "{me}");
    assert_eq!(
        serde_json::from_str::<Value>(&me).unwrap(),
        json!({"sub": "anonymous", "scopes": [], "anonymous": true})
    );
    client.cancel().await.unwrap();
}
