//! What `ctx.meta.getRequestMetadata()` tells a function about the request it runs for.
//!
//! Owns: [`RequestMetadata`], carried from the client's call (HTTP or WebSocket), a scheduled
//! job or a cron to the top-level function, and from there unchanged to every function it
//! calls (nested `runQuery`/`runMutation`, an action's calls): one request, one id.

use serde_json::{Value as Json, json};

use crate::{ClientInfo, UserIdentity, new_request_id};

/// The request a function runs for.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct RequestMetadata {
    pub request_id: String,
    pub client: ClientInfo,
    /// The `_scheduled_functions` id of the job being run (its encoded id), if it is one.
    pub scheduled_function_id: Option<String>,
    /// The signed-in user, while the functions run in the app (see [`crate::CallRequest`]).
    pub identity: Option<UserIdentity>,
    /// Why an HTTP action's `Authorization` header gave no identity (its `getUserIdentity`
    /// throws it); not passed on to what it calls.
    pub identity_error: Option<String>,
}

impl RequestMetadata {
    /// A client's call; a request without an id gets a fresh one.
    pub(crate) fn of_call(request_id: &str, client: &ClientInfo, identity: Option<UserIdentity>) -> RequestMetadata {
        let request_id = if request_id.is_empty() { new_request_id() } else { request_id.to_string() };
        RequestMetadata {
            request_id,
            client: client.clone(),
            scheduled_function_id: None,
            identity,
            identity_error: None,
        }
    }

    /// The same request, as seen by a function of instance `to` called from instance `from`:
    /// the identity does not cross into or out of a component.
    pub(crate) fn crossing(&self, from: &str, to: &str) -> RequestMetadata {
        let identity = if from == to { self.identity.clone() } else { None };
        RequestMetadata { identity, identity_error: None, ..self.clone() }
    }

    /// What `getUserIdentity` answers.
    pub(crate) fn identity_json(&self) -> Json {
        self.identity.as_ref().map_or(Json::Null, UserIdentity::to_json)
    }

    /// A run the deployment starts itself: a cron, a workpool job.
    pub(crate) fn internal() -> RequestMetadata {
        RequestMetadata { request_id: new_request_id(), ..RequestMetadata::default() }
    }

    /// The run of scheduled job `job_id`.
    pub(crate) fn scheduled(job_id: String) -> RequestMetadata {
        RequestMetadata { scheduled_function_id: Some(job_id), ..RequestMetadata::internal() }
    }

    /// The syscall's answer (`authToken` stays null until auth exists).
    pub(crate) fn to_json(&self) -> Json {
        json!({
            "ip": self.client.ip,
            "userAgent": self.client.user_agent,
            "requestId": self.request_id,
            "scheduledFunctionId": self.scheduled_function_id,
            "authToken": null,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_keeps_its_id_and_client_and_a_missing_id_is_made() {
        let client = ClientInfo { ip: Some("127.0.0.1".into()), user_agent: Some("curl/8".into()) };
        let meta = RequestMetadata::of_call("abc", &client, None);
        assert_eq!(
            meta.to_json(),
            json!({"ip": "127.0.0.1", "userAgent": "curl/8", "requestId": "abc", "scheduledFunctionId": null, "authToken": null})
        );
        assert!(!RequestMetadata::of_call("", &client, None).request_id.is_empty());
        let job = RequestMetadata::scheduled("j1".into());
        assert_eq!(job.to_json()["scheduledFunctionId"], "j1");
        assert_eq!(job.to_json()["ip"], Json::Null);
    }
}
