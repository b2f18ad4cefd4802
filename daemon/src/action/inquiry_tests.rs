//! The inquirer runner's checks of a response, its view and its TTL, with StackStorm's messages.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use super::*;

fn inquiry(status: ExecutionStatus, result: Value) -> Execution {
    Execution {
        result: Some(result),
        context: json!({}),
        ..Execution::sample("000000000000000a", "core.ask", RUNNER, status)
    }
}

fn asked(schema: Value) -> Value {
    json!({"schema": schema, "roles": [], "users": [], "route": "", "ttl": 1440})
}

#[test]
fn only_a_pending_inquiry_takes_a_response() {
    // st2common/st2common/services/inquiry.py: check_inquiry, and the messages of
    // st2common/st2common/exceptions/inquiry.py.
    let open = inquiry(ExecutionStatus::Pending, asked(default_schema()));
    assert_eq!(check_open(&open), Ok(()));
    let answered = inquiry(ExecutionStatus::Succeeded, asked(default_schema()));
    assert_eq!(
        check_open(&answered).map_err(|e| e.to_string()),
        Err("Inquiry \"000000000000000a\" has already been responded to.".to_string())
    );
    let late = inquiry(ExecutionStatus::Timeout, asked(default_schema()));
    assert_eq!(
        check_open(&late).map_err(|e| e.to_string()),
        Err("Inquiry \"000000000000000a\" timed out and cannot be responded to.".to_string())
    );
    let mut other = inquiry(ExecutionStatus::Pending, json!({}));
    other.runner = "local-shell-cmd".to_string();
    assert_eq!(
        check_open(&other).map_err(|e| e.to_string()),
        Err("Action execution \"000000000000000a\" is not an inquiry.".to_string())
    );
}

#[test]
fn users_limit_who_answers() {
    let mut result = asked(default_schema());
    result["users"] = json!(["jack"]);
    let limited = inquiry(ExecutionStatus::Pending, result);
    assert_eq!(check_permission(&limited, "jack"), Ok(()));
    assert_eq!(
        check_permission(&limited, "jill").map_err(|e| e.to_string()),
        Err("User \"jill\" does not have permission to respond to inquiry \"000000000000000a\".".to_string())
    );
    assert_eq!(check_permission(&inquiry(ExecutionStatus::Pending, asked(default_schema())), "anyone"), Ok(()));
}

#[test]
fn responses_are_checked_against_the_schema_with_defaults() {
    let schema = json!({"type": "object", "properties": {
        "approved": {"type": "boolean", "required": true},
        "note": {"type": "string", "default": "none"}
    }});
    let open = inquiry(ExecutionStatus::Pending, asked(schema));
    let mut good = json!({"approved": true});
    assert_eq!(validate(&open, &mut good), Ok(()));
    assert_eq!(good, json!({"approved": true, "note": "none"}));
    let mut wrong = json!({"approved": "yes"});
    assert_eq!(
        validate(&open, &mut wrong).map_err(|e| e.to_string()),
        Err("Response for inquiry \"000000000000000a\" did not pass schema validation. response.approved must be of type boolean".to_string())
    );
    let mut missing = json!({});
    assert!(validate(&open, &mut missing).expect_err("refused").to_string().ends_with("response.approved is required"));
}

#[test]
fn an_inquiry_expires_after_its_ttl_unless_it_has_none() {
    let mut old = inquiry(ExecutionStatus::Pending, json!({"ttl": 1}));
    old.start_timestamp = Utc::now() - Duration::seconds(61);
    assert!(expired(&old, Utc::now()));
    assert!(!expired(&inquiry(ExecutionStatus::Pending, json!({"ttl": 1})), Utc::now()));
    let mut forever = inquiry(ExecutionStatus::Pending, json!({"ttl": 0}));
    forever.start_timestamp = Utc::now() - Duration::days(30);
    assert!(!expired(&forever, Utc::now()));
}

#[test]
fn the_view_is_stackstorms_inquiry() {
    let view = view(&inquiry(ExecutionStatus::Pending, asked(default_schema())));
    assert_eq!(
        view,
        json!({"id": "000000000000000a", "route": "", "ttl": 1440, "users": [], "roles": [], "schema": default_schema()})
    );
}
