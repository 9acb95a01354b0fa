//! Cedar policies over a context shaped as AWS Client VPN's device-posture context
//! (`context.connection`, one identity namespace per authentication type), plus Postern's own
//! `context.postern` (the country of the public address, the local time). Policies are
//! type-checked against [`SCHEMA`] in strict mode before any decision: a policy that does not
//! parse, does not type-check, or names an attribute the context does not have is refused with
//! its line and column.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, EntityUid, PolicyId, PolicySet, Request, Schema,
    ValidationMode, Validator,
};
use miette::Diagnostic;
use postern_policy::line_column;
use serde_json::{Map, Value, json};

/// The schema every handler policy is checked against (`postern-handler schema` prints it).
pub const SCHEMA: &str = include_str!("client_vpn.cedarschema");

/// The action every connection asks for (`Action::"Connect"`).
const ACTION: &str = r#"Action::"Connect""#;

/// One problem in a Cedar policy file, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CedarError {
    #[error(
        "The Cedar policy {path} cannot be read ({source}); check the path in `handler.cedar_policy`."
    )]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("The Cedar policy {path} is not valid; fix these and run `postern-handler validate` again:\n{}", problems.iter().map(|p| format!("{}:{p}", path.display())).collect::<Vec<_>>().join("\n"))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
    #[error("Postern's Cedar schema does not load ({0}); this is a bug in the handler.")]
    Schema(String),
}

/// A type-checked policy set, ready to decide.
pub struct CedarPolicy {
    policies: PolicySet,
    schema: Schema,
    messages: HashMap<PolicyId, String>,
    action: EntityUid,
}

/// The outcome of one evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CedarVerdict {
    pub allow: bool,
    /// The policies that decided: the matching permits (allow) or forbids (deny).
    pub policies: Vec<String>,
    /// The first deciding policy's `@message`, if it has one.
    pub message: Option<String>,
    /// Evaluation errors (each makes the connection a denial: the handler fails closed).
    pub errors: Vec<String>,
}

/// Every located problem of a miette diagnostic (the whole file when it names no place).
fn problems(source: &str, d: &dyn Diagnostic, message: String) -> Vec<Problem> {
    let message = match d.help() {
        Some(help) => format!("{message} ({help})"),
        None => message,
    };
    let offsets: Vec<usize> = d
        .labels()
        .map(|labels| labels.map(|l| l.offset()).collect())
        .unwrap_or_default();
    let offsets = if offsets.is_empty() { vec![0] } else { offsets };
    offsets
        .into_iter()
        .take(1)
        .map(|o| {
            let (line, column) = line_column(source, o);
            Problem {
                line,
                column,
                message: message.clone(),
            }
        })
        .collect()
}

fn schema() -> Result<Schema, CedarError> {
    Schema::from_cedarschema_str(SCHEMA)
        .map(|(s, _warnings)| s)
        .map_err(|e| CedarError::Schema(e.to_string()))
}

impl CedarPolicy {
    pub fn load(path: &Path) -> Result<Self, CedarError> {
        let source = std::fs::read_to_string(path).map_err(|source| CedarError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&source).map_err(|problems| match problems {
            Ok(problems) => CedarError::Invalid {
                path: path.to_path_buf(),
                problems,
            },
            Err(e) => e,
        })
    }

    /// Parses and type-checks `source`; the outer error is the located problems.
    pub fn parse(source: &str) -> Result<Self, Result<Vec<Problem>, CedarError>> {
        let schema = schema().map_err(Err)?;
        let parsed = PolicySet::from_str(source).map_err(|errors| {
            Ok(errors
                .iter()
                .flat_map(|e| problems(source, e, e.to_string()))
                .collect::<Vec<_>>())
        })?;
        // Ids from `@id("...")` where the admin gave one, so statuses name them.
        let mut policies = PolicySet::new();
        let mut messages = HashMap::new();
        let mut located = Vec::new();
        for policy in parsed.policies() {
            let policy = match policy.annotation("id") {
                Some(id) => policy.new_id(PolicyId::new(id)),
                None => policy.clone(),
            };
            if let Some(message) = policy.annotation("message") {
                messages.insert(policy.id().clone(), message.to_string());
            }
            if let Err(e) = policies.add(policy) {
                located.extend(problems(source, &e, e.to_string()));
            }
        }
        if parsed.templates().next().is_some() {
            located.push(Problem {
                line: 1,
                column: 1,
                message: "templates (policies with ?principal or ?resource) are not supported"
                    .into(),
            });
        }
        let validation = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        for e in validation.validation_errors() {
            located.extend(problems(source, e, e.to_string()));
        }
        if !located.is_empty() {
            located.sort_by_key(|p| (p.line, p.column));
            return Err(Ok(located));
        }
        let action =
            EntityUid::from_str(ACTION).map_err(|e| Err(CedarError::Schema(e.to_string())))?;
        Ok(Self {
            policies,
            schema,
            messages,
            action,
        })
    }

    /// Evaluates the policies for one connection. `context` is the JSON of
    /// [`crate::context_json`]; a context the schema refuses is a denial with an error.
    pub fn decide(&self, principal: &str, resource: &str, context: Value) -> CedarVerdict {
        let deny = |error: String| CedarVerdict {
            allow: false,
            policies: Vec::new(),
            message: None,
            errors: vec![error],
        };
        let uid = |kind: &str, id: &str| {
            EntityUid::from_json(json!({"__entity": {"type": kind, "id": id}}))
                .map_err(|e| e.to_string())
        };
        let (principal, resource) = match (uid("User", principal), uid("Endpoint", resource)) {
            (Ok(p), Ok(r)) => (p, r),
            (Err(e), _) | (_, Err(e)) => return deny(e),
        };
        let context = match Context::from_json_value(context, Some((&self.schema, &self.action))) {
            Ok(c) => c,
            Err(e) => return deny(e.to_string()),
        };
        let request = match Request::new(
            principal,
            self.action.clone(),
            resource,
            context,
            Some(&self.schema),
        ) {
            Ok(r) => r,
            Err(e) => return deny(e.to_string()),
        };
        let response =
            Authorizer::new().is_authorized(&request, &self.policies, &Entities::empty());
        let policies: Vec<PolicyId> = response.diagnostics().reason().cloned().collect();
        let errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(|e| e.to_string())
            .collect();
        let message = policies
            .iter()
            .find_map(|id| self.messages.get(id).cloned());
        CedarVerdict {
            // An erroring policy is skipped by Cedar, which could skip a forbid: deny instead.
            allow: response.decision() == Decision::Allow && errors.is_empty(),
            policies: policies.iter().map(|p| p.to_string()).collect(),
            message,
            errors,
        }
    }
}

/// Builds a JSON record from pairs, leaving out the absent (optional) ones.
pub(crate) fn record<const N: usize>(pairs: [(&str, Option<Value>); N]) -> Value {
    let mut map = Map::new();
    for (key, value) in pairs {
        if let Some(v) = value {
            map.insert(key.to_string(), v);
        }
    }
    Value::Object(map)
}

/// A Cedar `ip(...)` value in the JSON context format.
pub(crate) fn ip(address: std::net::IpAddr) -> Value {
    json!({"__extn": {"fn": "ip", "arg": address.to_string()}})
}
