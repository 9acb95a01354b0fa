//! `postern posture`: does this device meet the company's requirements, check by check?

use std::path::Path;

use postern_core::Problem;
use postern_core::policy::{self, PolicyError};
use postern_core::posture::{self, Outcome, Status, UnknownReason};

use crate::output::{Failure, print_json};

pub async fn run(policy_file: Option<&Path>, json: bool) -> Result<(), Failure> {
    let (policy, file) = policy::load(policy_file)?;
    let settings = policy.posture.ok_or(PolicyError::MissingSection {
        path: file.path,
        section: "posture",
    })?;
    let requirements = settings.for_this_os().clone();
    // The probes run OS tools; keep them off the async workers.
    let report = tokio::task::spawn_blocking(move || posture::check(&requirements))
        .await
        .map_err(|e| Failure::internal(&e.to_string()))?;
    if json {
        print_json("posture", &report);
    } else {
        for c in &report.checks {
            let name = match &c.subject {
                Some(s) => format!("{} {s}", c.check.key()),
                None => c.check.key().to_string(),
            };
            match &c.outcome {
                Outcome::Pass { detail } => println!("pass     {name}: {detail}"),
                Outcome::Fail {
                    detail,
                    remediation,
                } => println!("FAIL     {name}: {detail}\n         -> {remediation}"),
                Outcome::Unknown { reason } => {
                    let why = match reason {
                        UnknownReason::NotApplicable => "not applicable here".to_string(),
                        UnknownReason::NeedsElevation => {
                            "needs administrator rights to read".to_string()
                        }
                        UnknownReason::DetectionFailed(d) => format!("could not be read ({d})"),
                    };
                    let blocks = if c.unknown_blocks {
                        " (the policy requires it to be known)"
                    } else {
                        ""
                    };
                    println!("unknown  {name}: {why}{blocks}");
                }
            }
        }
        println!("{report}");
    }
    if matches!(report.status, Status::Compliant) {
        Ok(())
    } else {
        eprintln!("{}", report.next_step());
        Err(Failure::quiet(report.exit_code()))
    }
}
