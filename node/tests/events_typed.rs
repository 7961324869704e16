//! Typed event queries on a dev chain: `aether events --event Transfer --where to=//bob` and
//! the RPC filter's `event`/`where` select events by name and indexed field values through the
//! contract's ABI and decode them; subscriptions take the same filter; a wrong name or a field
//! that is not indexed is refused naming what the ABI has.

mod common;

use common::{Node, aether, contract_cmd, deploy_golden_token, json_of, rpc};
use jsonrpsee_core::client::SubscriptionClientT;
use jsonrpsee_core::rpc_params;
use serde_json::{Value, json};

const ALICE: &str = "0xd5bf4a3fcce717b0388bcc2749ebc148ad9969b23f45ee1b605fd58778576ac4";
const BOB: &str = "0xecc1b58727f3f12b3194881a9ecb9de0b28ce7b207230d8e930fe1bce75e256c";
const CHARLIE: &str = "0xc8bf2959a96bd99ffde4e7277b41e57331dba7f7918186c359cf7dce149bb567";

fn transfer(node: &Node, token: &str, to: &str, value: u64) {
    let args = format!(r#"["{to}", {value}]"#);
    let sent = json_of(&contract_cmd(
        &node.rpc,
        "call",
        token,
        "transfer",
        &args,
        &["--json"],
    ));
    assert_eq!(sent["status"], "success", "{sent}");
}

fn values(records: &Value) -> Vec<u64> {
    records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["decoded"]["fields"]["value"].as_u64().unwrap())
        .collect()
}

#[test]
fn events_are_selected_by_name_and_indexed_fields_and_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("node"));
    let token = deploy_golden_token(&node.rpc, 1000);
    transfer(&node, &token, BOB, 10);
    transfer(&node, &token, CHARLIE, 20);
    transfer(&node, &token, BOB, 30);

    // The CLI: by event and indexed field, with a dev name for the address.
    let events = |extra: &[&str]| {
        let mut args = vec!["events", "--contract", &token, "--rpc", &node.rpc];
        args.extend(extra);
        aether(&args)
    };
    let to_bob = json_of(&events(&[
        "--event", "Transfer", "--where", "to=//bob", "--json",
    ]));
    assert_eq!(values(&to_bob), [10, 30], "{to_bob:#}");
    assert_eq!(to_bob[0]["decoded"]["name"], "Transfer");
    assert_eq!(to_bob[0]["decoded"]["fields"]["from"], ALICE);
    let from_alice = json_of(&events(&[
        "--event",
        "Transfer",
        "--where",
        &format!("from={ALICE}"),
        "--json",
    ]));
    // The mint at deployment has no sender; the three transfers have alice's.
    assert_eq!(values(&from_alice), [10, 20, 30], "{from_alice:#}");
    // Every event of the contract (the mint too), decoded.
    let all = json_of(&events(&["--json"]));
    assert_eq!(all.as_array().unwrap().len(), 4, "{all:#}");
    let text = String::from_utf8_lossy(
        &events(&["--event", "Transfer", "--where", "to=//charlie"]).stdout,
    )
    .to_string();
    assert!(
        text.contains("Transfer {") && text.contains("value: 20"),
        "{text}"
    );
    // Refusals name what the ABI has.
    let out = events(&["--event", "Transfers"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no event `Transfers`") && err.contains("Approval"),
        "{err}"
    );
    let out = events(&["--event", "Transfer", "--where", "value=10"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("not indexed") && err.contains("from, to"),
        "{err}"
    );
    let out = events(&["--where", "to=//bob"]);
    assert!(!out.status.success());

    // The RPC filter: `event` and `where` through the ABI the code carries.
    let logs = rpc(
        &node.rpc,
        "chain_getLogs",
        vec![json!({ "contract": token, "event": "Transfer", "where": { "to": BOB } })],
    );
    assert_eq!(values(&logs), [10, 30], "{logs:#}");
    let refused = common::try_rpc(
        &node.rpc,
        "chain_getLogs",
        vec![json!({ "event": "Transfer" })],
    )
    .unwrap_err();
    assert!(refused.contains("needs filter.contract"), "{refused}");
    let refused = common::try_rpc(
        &node.rpc,
        "chain_getLogs",
        vec![json!({ "contract": token, "event": "Transfer", "where": { "value": 1 } })],
    )
    .unwrap_err();
    assert!(refused.contains("not indexed"), "{refused}");

    // A subscription with the same filter gets the next matching event, decoded.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ws_url = node.rpc.replace("http://", "ws://");
    let (ws, mut sub) = runtime.block_on(async {
        let ws = jsonrpsee_ws_client::WsClientBuilder::default()
            .build(&ws_url)
            .await
            .expect("websocket");
        let sub = ws
            .subscribe::<Value, _>(
                "chain_subscribeEvents",
                rpc_params![
                    json!({ "contract": token, "event": "Transfer", "where": { "to": CHARLIE } })
                ],
                "chain_unsubscribeEvents",
            )
            .await
            .expect("subscribe");
        (ws, sub)
    });
    transfer(&node, &token, BOB, 1);
    transfer(&node, &token, CHARLIE, 7);
    let got = runtime.block_on(async {
        tokio::time::timeout(std::time::Duration::from_secs(30), sub.next())
            .await
            .expect("an event within 30 s")
            .expect("the subscription is open")
            .expect("a record")
    });
    assert_eq!(got["decoded"]["fields"]["value"], 7, "{got:#}");
    assert_eq!(got["decoded"]["fields"]["to"], CHARLIE);
    drop(ws);
}
